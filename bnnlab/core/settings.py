"""A setting: one number a training run depends on, declared once.

Each `Setting` carries its bound, default, label and help. The common ones are declared in
`bnnlab.training.config`, a method's own in its file (`bnnlab.methods`); from these
declarations come `TrainConfig`'s fields and their validation, the CLI's flags, the URL's keys,
the pages' widgets (`ui/forms.py`) and the cost advice (`bnnlab.training.cost`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

from bnnlab.core.errors import ConfigError

Number = int | float


@dataclasses.dataclass(frozen=True)
class Setting:
    """One numeric setting.

    name: the `TrainConfig` field, the URL key and the CLI flag (`--name-with-dashes`).
    kind: `int` or `float`; lo, hi: the inclusive bound; default: the value a run starts from.
    label, help: the widget's label and help text (help also for the CLI).
    widget: "slider" or "number" (a number input); step, format: the widget's.
    cost: how the setting scales a chunk's cost, for the advice when settings are over budget:
      "linear" (half the value, half the cost: samples, ensemble members) or "doublings" (one
      less halves it: NUTS tree doublings); None when it does not enter the cost.
    live: a running run takes a new value without starting over (traced, never compiled in).
    pages: the pages that show it as a widget ("playground", "compare"); a setting shown on
      neither is still a CLI flag and a URL key.
    """

    name: str
    kind: type
    default: Number
    lo: Number
    hi: Number
    label: str
    help: str = ""
    widget: Literal["slider", "number"] = "number"
    step: Number | None = None
    format: str | None = None
    cost: Literal["linear", "doublings"] | None = None
    live: bool = False
    pages: tuple[str, ...] = ("playground", "compare")

    def __post_init__(self) -> None:
        if self.kind not in (int, float):
            raise TypeError(f"setting {self.name}: kind must be int or float")
        if not self.lo <= self.default <= self.hi:
            raise ValueError(f"setting {self.name}: default {self.default} outside "
                             f"[{self.lo}, {self.hi}]")

    @property
    def flag(self) -> str:
        """The CLI flag, e.g. `--hmc-warmup`."""
        return "--" + self.name.replace("_", "-")

    @property
    def range_text(self) -> str:
        """'0 to 5000' or '1e-05 to 1'."""
        spec = "d" if self.kind is int else "g"
        return f"{self.kind(self.lo):{spec}} to {self.kind(self.hi):{spec}}"

    def check(self, value: object) -> Number:
        """`value` as this setting's kind; ConfigError naming the setting when it is not a
        finite number of that kind within the bound."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{self.name} must be a number; got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{self.name} must be a finite number; got {value!r}")
        if self.kind is int and int(value) != value:
            raise ConfigError(f"{self.name} must be a whole number; got {value!r}")
        if not self.lo <= value <= self.hi:
            raise ConfigError(f"{self.name} must be between {self.lo:g} and {self.hi:g}; "
                              f"got {value!r}")
        return self.kind(value)

    def parse(self, text: str) -> tuple[Number | None, str | None]:
        """A URL's value: `(value, notice)`. Unparsable text gives `(None, why)`; a number out of
        bounds is clamped to the nearest bound, with a notice saying so."""
        shown = str(text)[:40]
        try:
            value = float(str(text)[:200])
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or (self.kind is int and value != int(value)):
            what = "whole number" if self.kind is int else "number"
            return None, f"Ignored {self.name}={shown!r}: not a valid {what}."
        clamped = min(max(value, self.lo), self.hi)
        notice = None
        if clamped != value:
            notice = (f"{self.name}={shown} is out of range; clamped to {clamped:g} "
                      f"(allowed {self.lo:g} to {self.hi:g}).")
        return self.kind(clamped), notice

    def shown(self, value: Number) -> str:
        """The value as a URL or CLI writes it."""
        return f"{value:g}" if isinstance(value, float) else str(value)
