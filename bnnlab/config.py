"""Validated, hashable configuration and every server-side bound, in one place.

A widget, a URL query string and the CLI all end up here: `TrainConfig(...)` rejects anything out
of bounds with a `ConfigError` naming the setting; `from_query_params` is the lenient door for URLs
(clamps or ignores, and says so in `notices`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

# Bounds (DESIGN.md section 5). Server-side, whatever a URL or widget says.
MAX_POINTS = 5_000
MAX_NOISE = 1.0
MAX_LAYERS = 4
MAX_WIDTH = 128
MAX_SAMPLES = 64
MIN_GRID, MAX_GRID = 10, 150
MAX_STEPS = 100_000
MAX_STEPS_PER_CHUNK = 1_000
MIN_LR, MAX_LR = 1e-5, 1.0
MAX_UPLOAD_BYTES = 5_000_000
MAX_SEED = 2**31 - 1
MAX_CONCURRENT_RUNS = 4
MAX_DROPOUT_RATE = 0.9
MAX_ENSEMBLE = 16
MAX_HMC_WARMUP = 5_000
MAX_HMC_DOUBLINGS = 10  # NUTS trajectories of at most 2**10 leapfrog steps
MAX_HMC_SAMPLES = 20_000  # draws kept after warm-up on the comparison page
MAX_COMPARE_GRID = 80  # the comparison page draws up to five maps per tick
# A chunk draws its random numbers for all K steps before the scan while they take at most this
# many bytes, else one step at a time: K·S·d normals for 1,000 steps × 64 samples × 50k weights
# were 12.8 GB.
MAX_PREDRAWN_NOISE_BYTES = 64 * 2**20

# The chapter 4 playground trains these two; the comparison page (pages/compare.py) all of METHODS.
PLAYGROUND_METHODS = ("vi", "map")
# The names of datasets, activations and methods live in `bnnlab.registry` (the one table the
# widgets, URLs, CLI and engine read); `config.DATASETS`, `.ACTIVATIONS`, `.METHODS` and
# `.CHOICES` are read from it on first use (`__getattr__` below), because the registry imports
# this module.
_REGISTRY_NAMES = ("DATASETS", "ACTIVATIONS", "METHODS", "CHOICES")


class ConfigError(ValueError):
    """A setting out of bounds or of the wrong kind; the message names the setting."""


class Bound(NamedTuple):
    """Numeric range (inclusive) and kind of one setting."""

    kind: type
    lo: float
    hi: float


BOUNDS: dict[str, Bound] = {
    "num_points": Bound(int, 8, MAX_POINTS),
    "noise": Bound(float, 0.0, MAX_NOISE),
    "test_fraction": Bound(float, 0.05, 0.9),
    "seed": Bound(int, 0, MAX_SEED),
    "num_samples": Bound(int, 1, MAX_SAMPLES),
    "prior_std": Bound(float, 1e-3, 100.0),
    "init_std": Bound(float, 1e-5, 10.0),
    "kl_weight": Bound(float, 0.0, 10.0),
    "lr": Bound(float, MIN_LR, MAX_LR),
    "steps": Bound(int, 1, MAX_STEPS),
    "steps_per_chunk": Bound(int, 1, MAX_STEPS_PER_CHUNK),
    "grid_size": Bound(int, MIN_GRID, MAX_GRID),
    "dropout_rate": Bound(float, 0.0, MAX_DROPOUT_RATE),
    "ensemble_size": Bound(int, 1, MAX_ENSEMBLE),
    "hmc_warmup": Bound(int, 0, MAX_HMC_WARMUP),
    "hmc_max_doublings": Bound(int, 1, MAX_HMC_DOUBLINGS),
}


def _choices() -> dict[str, tuple[str, ...]]:
    from bnnlab import registry

    return {"dataset": registry.dataset_names(), "activation": registry.activation_names(),
            "method": tuple(registry.METHODS)}


def __getattr__(name: str) -> Any:
    if name in _REGISTRY_NAMES:
        choices = _choices()
        return choices if name == "CHOICES" else choices[name[:-1].lower()]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; frozen and hashable, validated on creation."""

    dataset: str = "moons"
    num_points: int = 512
    noise: float = 0.15
    test_fraction: float = 0.25
    seed: int = 0
    hidden: tuple[int, ...] = (32, 32)
    activation: str = "tanh"
    method: str = "vi"
    num_samples: int = 8
    prior_std: float = 3.0
    init_std: float = 0.1
    kl_weight: float = 1.0
    lr: float = 1e-2
    steps: int = 2_000
    # Steps per redraw in the playground: 25 measured the smoothest on the 2-core machine that
    # still trains ≥ 500 steps/s while drawing (`bench --browser`: 50 gave 7–8 new frames/s).
    steps_per_chunk: int = 25
    grid_size: int = 64
    # Method settings, used only by their method (see bnnlab.dropout, .ensemble, .hmc).
    dropout_rate: float = 0.1  # MC dropout: probability of dropping a hidden unit
    ensemble_size: int = 5  # deep ensemble: number of members M
    hmc_warmup: int = 500  # HMC/NUTS: adaptation transitions before samples are kept
    hmc_max_doublings: int = 6  # HMC/NUTS: trajectory length ≤ 2**hmc_max_doublings steps

    def __post_init__(self) -> None:
        for name, choices in _choices().items():
            value = getattr(self, name)
            if value not in choices:
                raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
        for name, bound in BOUNDS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{name} must be a number; got {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number; got {value!r}")
            if bound.kind is int and int(value) != value:
                raise ConfigError(f"{name} must be a whole number; got {value!r}")
            if not (math.isfinite(value) and bound.lo <= value <= bound.hi):
                raise ConfigError(f"{name} must be between {bound.lo:g} and {bound.hi:g}; "
                                  f"got {value!r}")
            object.__setattr__(self, name, bound.kind(value))
        hidden = tuple(self.hidden)
        if not 1 <= len(hidden) <= MAX_LAYERS:
            raise ConfigError(f"hidden must have 1 to {MAX_LAYERS} layers; got {len(hidden)}")
        for width in hidden:
            if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= MAX_WIDTH:
                raise ConfigError(f"each hidden width must be a whole number from 1 to "
                                  f"{MAX_WIDTH}; got {width!r}")
        object.__setattr__(self, "hidden", hidden)

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with `changes` applied (validated)."""
        return dataclasses.replace(self, **changes)


def parse_hidden(text: str) -> tuple[int, ...]:
    """'32,32' -> (32, 32); raises ConfigError with the reason."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise ConfigError("hidden must list layer widths, e.g. 32,32")
    try:
        widths = tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"hidden must be comma-separated whole numbers, e.g. 32,32; "
                          f"got {text!r}") from None
    return widths


def to_query_params(cfg: TrainConfig) -> dict[str, str]:
    """The settings as URL query parameters (strings), the inverse of `from_query_params`."""
    out: dict[str, str] = {}
    for field in dataclasses.fields(cfg):
        value = getattr(cfg, field.name)
        out[field.name] = ",".join(map(str, value)) if field.name == "hidden" else f"{value:g}" \
            if isinstance(value, float) else str(value)
    return out


MAX_UNKNOWN_NOTICES = 5


def _shorten(text: str, limit: int = 40) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "…"


def from_query_params(
    params: Mapping[str, str], base: TrainConfig | None = None,
    fields: Collection[str] | None = None,
) -> tuple[TrainConfig, list[str]]:
    """Lenient parsing of URL settings: `(config, notices)`.

    Unknown keys (not a `TrainConfig` field, or not in `fields` when given) are ignored,
    unparsable values keep `base`'s value, out-of-range numbers are clamped to the nearest bound;
    each such case adds a short, human-readable notice (unknown keys: at most
    `MAX_UNKNOWN_NOTICES`, then one summary, so a crafted link cannot flood the page).
    """
    base = base or TrainConfig()
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    if fields is not None:
        known &= set(fields)
    changes: dict[str, Any] = {}
    notices: list[str] = []
    unknown = [key for key in params if key not in known]
    for key in unknown[:MAX_UNKNOWN_NOTICES]:
        notices.append(f"Ignored unknown setting {_shorten(key)!r}.")
    if len(unknown) > MAX_UNKNOWN_NOTICES:
        notices.append(f"Ignored {len(unknown) - MAX_UNKNOWN_NOTICES} more unknown settings.")
    choices = _choices()
    for key, raw in params.items():
        raw = str(raw)[:200]
        shown = raw[:40]
        if key not in known:
            continue
        if key in choices:
            if raw in choices[key]:
                changes[key] = raw
            else:
                notices.append(f"Ignored {key}={shown!r}: choose from {', '.join(choices[key])}.")
        elif key == "hidden":
            try:
                widths = parse_hidden(raw)
            except ConfigError as err:
                notices.append(f"Ignored hidden={shown!r}: {err}.")
                continue
            clamped = tuple(min(max(w, 1), MAX_WIDTH) for w in widths[:MAX_LAYERS])
            if clamped != widths:
                notices.append(f"hidden={shown!r} was clamped to {','.join(map(str, clamped))} "
                               f"(at most {MAX_LAYERS} layers of width 1 to {MAX_WIDTH}).")
            changes[key] = clamped
        else:
            bound = BOUNDS[key]
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not math.isfinite(value) or (bound.kind is int and value != int(value)):
                notices.append(f"Ignored {key}={shown!r}: not a valid "
                               f"{'whole number' if bound.kind is int else 'number'}.")
                continue
            clamped = min(max(value, bound.lo), bound.hi)
            if clamped != value:
                notices.append(f"{key}={shown} is out of range; clamped to {clamped:g} "
                               f"(allowed {bound.lo:g} to {bound.hi:g}).")
            changes[key] = bound.kind(clamped)
    return base.replace(**changes), notices
