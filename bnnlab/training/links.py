"""A run in a URL and back: `to_query_params` writes a configuration's settings as strings,
`from_query_params` is the lenient door for links (it clamps or ignores, and says so in
notices), and clicked points have their own compact format (`encode_added`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from bnnlab import registry
from bnnlab.core import limits
from bnnlab.training.config import SETTINGS, ConfigError, TrainConfig, choices, parse_hidden

MAX_UNKNOWN_NOTICES = 5
MAX_VALUE_CHARS = 200  # a longer value is cut before it is parsed


def _shorten(text: str, limit: int = 40) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "…"


def to_query_params(cfg: TrainConfig, fields: Collection[str] | None = None) -> dict[str, str]:
    """`cfg`'s settings as URL query parameters (strings), in field order; only `fields` when
    given. The inverse of `from_query_params`."""
    out: dict[str, str] = {}
    for field in dataclasses.fields(cfg):
        if fields is not None and field.name not in fields:
            continue
        value = getattr(cfg, field.name)
        if field.name == "hidden":
            out[field.name] = ",".join(map(str, value))
        elif field.name in SETTINGS:
            out[field.name] = SETTINGS[field.name].shown(value)
        else:
            out[field.name] = str(value)
    return out


def _parse_hidden(raw: str) -> tuple[tuple[int, ...] | None, str | None]:
    shown = raw[:40]
    try:
        widths = parse_hidden(raw)
    except ConfigError as err:
        return None, f"Ignored hidden={shown!r}: {err}."
    clamped = tuple(min(max(w, 1), limits.MAX_WIDTH) for w in widths[:limits.MAX_LAYERS])
    notice = None
    if clamped != widths:
        notice = (f"hidden={shown!r} was clamped to {','.join(map(str, clamped))} (at most "
                  f"{limits.MAX_LAYERS} layers of width 1 to {limits.MAX_WIDTH}).")
    return clamped, notice


def from_query_params(
    params: Mapping[str, str], base: TrainConfig | None = None,
    fields: Collection[str] | None = None, datasets: Collection[str] | None = None,
) -> tuple[TrainConfig, list[str]]:
    """Lenient parsing of URL settings: `(config, notices)`.

    Unknown keys (not a `TrainConfig` field, or not in `fields` when given) are ignored,
    unparsable values keep `base`'s value, out-of-range numbers are clamped to the nearest
    bound; each such case adds a short, human-readable notice (unknown keys: at most
    `MAX_UNKNOWN_NOTICES`, then one summary, so a crafted link cannot flood the page).
    `datasets` limits the datasets a link may choose (default: the toy sets the maps draw; the
    digits page passes its own).
    """
    base = base or TrainConfig()
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    if fields is not None:
        known &= set(fields)
    notices: list[str] = []
    unknown = [key for key in params if key not in known]
    for key in unknown[:MAX_UNKNOWN_NOTICES]:
        notices.append(f"Ignored unknown setting {_shorten(key)!r}.")
    if len(unknown) > MAX_UNKNOWN_NOTICES:
        notices.append(f"Ignored {len(unknown) - MAX_UNKNOWN_NOTICES} more unknown settings.")
    allowed = choices()
    allowed["dataset"] = tuple(datasets) if datasets is not None else registry.MAP_DATASETS
    changes: dict[str, Any] = {}
    for key, raw in params.items():
        if key not in known:
            continue
        raw = str(raw)[:MAX_VALUE_CHARS]
        if key in allowed:
            if raw in allowed[key]:
                changes[key] = raw
            else:
                notices.append(f"Ignored {key}={raw[:40]!r}: choose from "
                               f"{', '.join(allowed[key])}.")
            continue
        value, notice = _parse_hidden(raw) if key == "hidden" else SETTINGS[key].parse(raw)
        notices += [notice] if notice else []
        if value is not None:
            changes[key] = value
    cfg = base.replace(**changes)
    most = registry.max_classes(cfg.dataset)
    if cfg.num_classes > most:
        if "num_classes" in params:
            notices.append(f"num_classes={cfg.num_classes}: {cfg.dataset} has "
                           f"{'2 classes' if most == 2 else f'at most {most} classes'}; "
                           f"using {most}.")
        cfg = cfg.replace(num_classes=most)
    return cfg, notices


# ------------------------------------------------------------------ clicked points

AddedPoint = tuple[float, float, int]  # (x, y) in standardised units, class k


def in_bounds(x: float, y: float) -> bool:
    """Whether a clicked point may join the data: finite and within ±MAX_ABS_COORD."""
    return bool(np.isfinite(x) and np.isfinite(y)
                and abs(x) <= limits.MAX_ABS_COORD and abs(y) <= limits.MAX_ABS_COORD)


def encode_added(points: list[AddedPoint]) -> str:
    """Clicked points for the URL: 'x:y:c;x:y:c' with 3 decimals."""
    return ";".join(f"{x:.3f}:{y:.3f}:{c}" for x, y, c in points)


def decode_added(text: str) -> tuple[list[AddedPoint], str | None]:
    """Parse `encode_added`'s format; returns (points, notice or None). Malformed or
    out-of-range entries are dropped with a notice; at most MAX_ADDED_POINTS are kept."""
    points: list[AddedPoint] = []
    bad = 0
    for part in str(text).split(";")[: limits.MAX_ADDED_POINTS + 1]:
        if not part:
            continue
        fields = part.split(":")
        try:
            x, y, c = float(fields[0]), float(fields[1]), int(fields[2])
            ok = len(fields) == 3 and 0 <= c < limits.MAX_CLASSES and in_bounds(x, y)
        except (ValueError, IndexError):
            ok = False
        if ok:
            points.append((x, y, c))
        else:
            bad += 1
    notice = None
    if len(points) > limits.MAX_ADDED_POINTS:
        points = points[:limits.MAX_ADDED_POINTS]
        notice = f"Kept the first {limits.MAX_ADDED_POINTS} added points."
    if bad:
        notice = f"Ignored {bad} malformed added point(s) in the link."
    return points, notice
