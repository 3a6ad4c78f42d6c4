"""`TrainConfig`: everything that defines a training run, frozen, hashable and validated.

Its fields are the choices below (dataset, hidden widths, activation, method), the common
settings below and every method's own settings (`MethodSpec.settings`, declared in the method's
file): a new method's setting becomes a field here, with its bound, without an edit to this
file. A widget, a URL (`bnnlab.training.links`) and the CLI all end up in `TrainConfig(...)`,
which rejects anything out of bounds with a `ConfigError` naming the setting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

from bnnlab import registry
from bnnlab.core import limits
from bnnlab.core.errors import ConfigError, DataError
from bnnlab.core.settings import Setting
from bnnlab.data import toy

__all__ = ["ConfigError", "Setting", "TrainConfig"]

# ------------------------------------------------------------------ the common settings

NUM_POINTS = Setting("num_points", int, 512, 8, limits.MAX_POINTS, "Number of points",
                     widget="slider", cost="linear")
NOISE = Setting("noise", float, 0.15, 0.0, limits.MAX_NOISE, "Noise",
                help="label noise, relative to the dataset's class gap (default: the "
                     "dataset's own)", widget="slider", step=0.01)
NUM_CLASSES = Setting("num_classes", int, 2, 2, limits.MAX_CLASSES, "Classes",
                      help="K classes: 2 trains a Bernoulli network (one logit), 3–5 a "
                           "categorical softmax over K logits. Spiral and Gaussian blobs take "
                           f"up to {limits.MAX_CLASSES}; an uploaded CSV sets K by its labels.")
TEST_FRACTION = Setting("test_fraction", float, 0.25, 0.05, 0.9, "Test fraction",
                        widget="slider", step=0.05)
SEED = Setting("seed", int, 0, 0, limits.MAX_SEED, "Seed", step=1)
NUM_SAMPLES = Setting("num_samples", int, 8, 1, limits.MAX_SAMPLES, "MC samples per step",
                      help="posterior draws behind each training step (VI, dropout)",
                      widget="slider", cost="linear")
PRIOR_STD = Setting("prior_std", float, 3.0, 1e-3, 100.0, "Prior σ",
                    help="σ of the Gaussian prior N(0, σ²) on every weight", step=0.5,
                    format="%.3f", live=True)
INIT_STD = Setting("init_std", float, 0.1, 1e-5, 10.0, "Initial posterior σ",
                   help="VI: every weight's σ at the start", step=0.01, format="%.5f")
KL_WEIGHT = Setting("kl_weight", float, 1.0, 0.0, 10.0, "KL weight β",
                    help="β: weight of the KL (VI) or of the prior penalty (MAP family). 1 is "
                         "full Bayes; the talk used 0.001 with an initial posterior σ of 1e-3 to "
                         "let the network start learning", step=0.001, format="%.4f", live=True)
LR = Setting("lr", float, 1e-2, limits.MIN_LR, limits.MAX_LR, "Learning rate (Adam)",
             step=0.001, format="%.5f", live=True)
STEPS = Setting("steps", int, 2_000, 1, limits.MAX_STEPS, "Training steps",
                help="training steps (a sampler's transitions, warm-up included); Train stops "
                     "after this many, and on the playground Continue trains this many more",
                step=500, live=True)
# Steps per redraw: the playground redraws after each chunk (docs/BENCHMARKS.md: 15 gave the
# most redraws a second at about 600 steps/s on the 2-core machine).
STEPS_PER_CHUNK = Setting("steps_per_chunk", int, 15, 1, limits.MAX_STEPS_PER_CHUNK,
                          "Steps per redraw", help="steps fused into one compiled chunk",
                          widget="slider", live=True)
GRID_SIZE = Setting("grid_size", int, 64, limits.MIN_GRID, limits.MAX_GRID, "Grid resolution",
                    widget="slider", live=True)

# The fields that are not numbers, with their defaults; choices from the registry.
CHOICE_DEFAULTS: MappingProxyType[str, Any] = MappingProxyType({
    "dataset": "moons", "hidden": (32, 32), "activation": "tanh", "method": "vi"})
# The order of the fields (a link's and the CLI's order): the method's own settings follow.
LAYOUT: tuple[str | Setting, ...] = (
    "dataset", NUM_POINTS, NOISE, NUM_CLASSES, TEST_FRACTION, SEED, "hidden", "activation",
    "method", NUM_SAMPLES, PRIOR_STD, INIT_STD, KL_WEIGHT, LR, STEPS, STEPS_PER_CHUNK, GRID_SIZE)
COMMON: tuple[Setting, ...] = tuple(item for item in LAYOUT if isinstance(item, Setting))


def _method_settings() -> tuple[Setting, ...]:
    """Every method's own settings, in registry order; a name two methods share must be the
    same declaration."""
    found: dict[str, Setting] = {s.name: s for s in COMMON}
    for spec in registry.METHODS.values():
        for setting in spec.settings:
            if setting.name in CHOICE_DEFAULTS or found.get(setting.name, setting) != setting:
                raise TypeError(f"method {spec.name}: setting {setting.name!r} is declared "
                                "differently elsewhere")
            found[setting.name] = setting
    return tuple(found.values())[len(COMMON):]


METHOD_SETTINGS: tuple[Setting, ...] = _method_settings()
SETTINGS: MappingProxyType[str, Setting] = MappingProxyType(
    {s.name: s for s in (*COMMON, *METHOD_SETTINGS)})
# Settings a running run takes without starting over (traced, or only its stop point).
LIVE_FIELDS: tuple[str, ...] = tuple(name for name, s in SETTINGS.items() if s.live)


def choices() -> dict[str, tuple[str, ...]]:
    """The allowed values of the choice fields: every dataset `TrainConfig` accepts (the maps'
    toy sets and the image sets), activation and method."""
    return {"dataset": tuple(registry.DATASETS), "activation": registry.ACTIVATIONS,
            "method": tuple(registry.METHODS)}


def parse_hidden(text: str) -> tuple[int, ...]:
    """'32,32' -> (32, 32); raises ConfigError with the reason."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise ConfigError("hidden must list layer widths, e.g. 32,32")
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(f"hidden must be comma-separated whole numbers, e.g. 32,32; "
                          f"got {text!r}") from None


def check_hidden(hidden: Any) -> tuple[int, ...]:
    """Hidden widths as a tuple: 1 to MAX_LAYERS layers of width 1 to MAX_WIDTH."""
    hidden = tuple(hidden)
    if not 1 <= len(hidden) <= limits.MAX_LAYERS:
        raise ConfigError(f"hidden must have 1 to {limits.MAX_LAYERS} layers; got {len(hidden)}")
    for width in hidden:
        if isinstance(width, bool) or not isinstance(width, int) \
                or not 1 <= width <= limits.MAX_WIDTH:
            raise ConfigError(f"each hidden width must be a whole number from 1 to "
                              f"{limits.MAX_WIDTH}; got {width!r}")
    return hidden


class _Validated:
    """`TrainConfig`'s behaviour; its fields are generated below."""

    def __post_init__(self) -> None:
        for name, allowed in choices().items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
        for name, setting in SETTINGS.items():
            object.__setattr__(self, name, setting.check(getattr(self, name)))
        object.__setattr__(self, "hidden", check_hidden(self.hidden))

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with `changes` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def method_values(self) -> tuple[tuple[str, Any], ...]:
        """The chosen method's own settings as (field, value) pairs: what its engine compiles
        in (`StaticConfig.method_options`)."""
        spec = registry.method(self.method)
        return tuple((name, getattr(self, name)) for name in spec.static_fields)


def _fields() -> Iterator[tuple[str, type, dataclasses.Field]]:
    for item in (*LAYOUT, *METHOD_SETTINGS):
        if isinstance(item, Setting):
            yield item.name, item.kind, dataclasses.field(default=item.default)
        else:
            default = CHOICE_DEFAULTS[item]
            yield item, type(default), dataclasses.field(default=default)


TrainConfig = dataclasses.make_dataclass(
    "TrainConfig", list(_fields()), bases=(_Validated,), frozen=True)
TrainConfig.__module__ = __name__  # as if defined here (pickling, reprs)
TrainConfig.__doc__ = (
    "Everything that defines a training run; frozen and hashable, validated on creation. "
    "Fields: " + ", ".join(f.name for f in dataclasses.fields(TrainConfig)) + ".")


def validate(cfg: TrainConfig) -> None:
    """Raise `ConfigError` for a run that cannot do what it says though every field is in
    bounds: a number of classes its dataset cannot draw, or what its method refuses (e.g. HMC
    with no draw kept after warm-up)."""
    if cfg.dataset in registry.MAP_DATASETS:
        try:
            toy.check_num_classes(cfg.dataset, cfg.num_classes)
        except DataError as err:
            raise ConfigError(str(err)) from None
    registry.method(cfg.method).validate(cfg)
