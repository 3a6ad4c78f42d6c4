"""Widgets generated from settings: widgets <-> `TrainConfig`, for every page that trains.

A setting (`bnnlab.core.settings.Setting`, common or a method's own) draws its own widget
(`setting`), the widgets read back into a `TrainConfig` (`config_from_widgets`) and a
configuration or a preset writes into them (`write`). Every widget is keyed `prefix + field`
and keeps its value across page switches (`persist_state="session"`), the one way widget state
is kept here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import streamlit as st

from bnnlab import registry
from bnnlab.core import limits
from bnnlab.core.settings import Setting
from bnnlab.training import config
from bnnlab.training.config import TrainConfig

PERSIST = "session"
CHOICE_LABELS = {"dataset": "Dataset", "hidden": "Hidden layers (widths)",
                 "activation": "Activation", "method": "Inference"}
HIDDEN_HELP = (f"Comma-separated, e.g. 32,32; at most {limits.MAX_LAYERS} layers of width ≤ "
               f"{limits.MAX_WIDTH}")


def page_fields(page: str) -> tuple[str, ...]:
    """The `TrainConfig` fields a training page shows and puts in its links: every common field
    and each method's settings that name `page` (`Setting.pages`)."""
    own = {s.name: s for s in config.METHOD_SETTINGS}
    return tuple(name for name in TrainConfig.__dataclass_fields__
                 if name not in own or page in own[name].pages)


def setting(container: Any, item: Setting, prefix: str, *, label: str | None = None,
            lo: float | None = None, hi: float | None = None, disabled: bool = False,
            on_change: Callable[[], None] | None = None) -> Any:
    """`item`'s widget (a slider or a number input) in `container`, keyed `prefix + name`;
    `lo`/`hi` narrow its range on a page that offers less than the bound."""
    kind = item.kind
    lo = kind(item.lo if lo is None else lo)
    hi = kind(item.hi if hi is None else hi)
    common = dict(key=prefix + item.name, disabled=disabled, help=item.help or None,
                  on_change=on_change, persist_state=PERSIST)
    step = kind(item.step) if item.step is not None else None
    if item.widget == "slider":
        return container.slider(label or item.label, lo, hi, step=step, **common)
    return container.number_input(label or item.label, lo, hi, step=step, format=item.format,
                                  **common)


def method_settings(container: Any, method: str, prefix: str, page: str) -> None:
    """The widgets of `method`'s own settings shown on `page` (e.g. HMC's warm-up)."""
    for item in registry.method(method).settings:
        if page in item.pages:
            setting(container, item, prefix)


def hidden(container: Any, prefix: str, help: str = HIDDEN_HELP) -> None:
    container.text_input(CHOICE_LABELS["hidden"], key=prefix + "hidden", help=help,
                         persist_state=PERSIST)


def widget_value(field: str, value: Any) -> Any:
    """A configuration's value as its widget holds it (hidden widths as "32,32")."""
    return ",".join(map(str, value)) if field == "hidden" else value


def write(prefix: str, values: Mapping[str, Any], missing_only: bool = False) -> None:
    """Put `values` (a configuration's, or a preset's) into the widgets `prefix + field`; with
    `missing_only`, only into widgets that have no value yet."""
    for field, value in values.items():
        if not (missing_only and prefix + field in st.session_state):
            st.session_state[prefix + field] = widget_value(field, value)


def write_config(prefix: str, cfg: TrainConfig, fields: Iterable[str],
                 missing_only: bool = False) -> None:
    """Put `cfg`'s `fields` into their widgets."""
    write(prefix, {f: getattr(cfg, f) for f in fields}, missing_only)


def config_from_widgets(prefix: str, base: TrainConfig, fields: Iterable[str]) -> TrainConfig:
    """`base` with the values the widgets `prefix + field` show for `fields` (a field without a
    widget keeps `base`'s value). Raises `ConfigError` (or `ValueError`) on bad input."""
    state = st.session_state
    changes: dict[str, Any] = {}
    for field in fields:
        if prefix + field not in state:
            continue
        value = state[prefix + field]
        if field == "hidden":
            changes[field] = config.parse_hidden(value)
        elif field in config.SETTINGS:
            changes[field] = config.SETTINGS[field].kind(value)
        else:
            changes[field] = value
    return base.replace(**changes)
