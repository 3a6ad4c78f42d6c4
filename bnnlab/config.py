"""Validated, hashable configuration and every server-side bound, in one place.

A widget, a URL query string and the CLI all end up here: `TrainConfig(...)` rejects anything out
of bounds with a `ConfigError` naming the setting; `from_query_params` is the lenient door for URLs
(clamps or ignores, and says so in `notices`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

# Bounds (DESIGN.md section 5). Server-side, whatever a URL or widget says.
MAX_POINTS = 5_000
MAX_NOISE = 1.0
MAX_CLASSES = 5  # K-class toy data (spiral, Gaussian blobs, CSV uploads): 2…5 classes
MAX_LAYERS = 4
MAX_WIDTH = 128
MAX_SAMPLES = 64
MIN_GRID, MAX_GRID = 10, 150
MAX_STEPS = 100_000
MAX_STEPS_PER_CHUNK = 1_000
MIN_LR, MAX_LR = 1e-5, 1.0
MAX_UPLOAD_BYTES = 5_000_000
MAX_SEED = 2**31 - 1
# Heavy work (training chunks, frames) running at once, server-wide: one slot per CPU core, 2 to 4
# (XLA's CPU kernels already use every core: four chunks on two cores made a default session
# beside four heavy ones train 4 steps/s, against 59 with two slots; loadtest/fair_share.py).
# BNNLAB_MAX_CONCURRENT_RUNS overrides it (e.g. on a GPU server).
MAX_CONCURRENT_RUNS = int(os.environ.get("BNNLAB_MAX_CONCURRENT_RUNS", "0")) or max(
    2, min(4, os.cpu_count() or 2))
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
# The playground's clicked points: at most this many, and (clicks and links alike) within this
# many standardised units of the data's centre, one bound for both so that every accepted click
# survives the link.
MAX_ADDED_POINTS = 500
MAX_ABS_COORD = 50.0
# The live session (bnnlab.session). A chunk aims at CHUNK_SECONDS of wall time (at most
# MAX_CHUNK_SECONDS below), so Pause, a closed tab and the idle timeout act within about that.
CHUNK_SECONDS = 0.5
SLOT_WAIT_S = 0.25  # a compile waits this long for an accelerator slot at a time
COMPILE_WAIT_S = 600.0  # a compile waits this long for a slot before it gives up
IDLE_TIMEOUT_S = 15.0  # a session not seen for this long (tab closed) stops training
# A point clicked onto the map of a run that has started trains it on for at least this many
# steps (paused or finished runs too), so the boundary visibly reacts at any time.
CLICK_TRAIN_STEPS = 500

# The methods the chapter 4 playground trains (all of METHODS; the comparison page too).
PLAYGROUND_METHODS = ("vi", "map", "laplace", "hmc", "ensemble", "dropout")
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
    "num_classes": Bound(int, 2, MAX_CLASSES),
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
    "temperature": Bound(float, 0.1, 10.0),
}


def _choices() -> dict[str, tuple[str, ...]]:
    from bnnlab import registry

    return {"dataset": registry.all_dataset_names(), "activation": registry.activation_names(),
            "method": tuple(registry.METHODS)}


def __getattr__(name: str) -> Any:
    if name in _REGISTRY_NAMES:
        if name == "DATASETS":  # the 2-D toy sets the maps draw; CHOICES adds the image sets
            from bnnlab import registry

            return registry.dataset_names()
        choices = _choices()
        return choices if name == "CHOICES" else choices[name[:-1].lower()]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; frozen and hashable, validated on creation."""

    dataset: str = "moons"
    num_points: int = 512
    noise: float = 0.15
    # K classes of a toy set that allows them (`datasets.DatasetSpec.max_classes`); 2 is the
    # binary, Bernoulli path. Image sets (digits) have their own K and ignore it.
    num_classes: int = 2
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
    # Steps per redraw in the playground: redraws follow chunks, so on the 2-core machine with
    # frames pushed (`bnnlab.bench_browser --push`, quiet) 25 redrew 28 times a second at 720
    # steps/s and 15 redrew 36 times at 605 steps/s (cutting 25-step chunks to ~25 ms instead
    # gave 31-34 at 540-580: a chunk of fewer steps than its engine's K still pays for K).
    steps_per_chunk: int = 15
    grid_size: int = 64
    # Method settings, used only by their method (see bnnlab.dropout, .ensemble, .hmc).
    dropout_rate: float = 0.1  # MC dropout: probability of dropping a hidden unit
    ensemble_size: int = 5  # deep ensemble: number of members M
    hmc_warmup: int = 500  # HMC/NUTS: adaptation transitions before samples are kept
    hmc_max_doublings: int = 6  # HMC/NUTS: trajectory length ≤ 2**hmc_max_doublings steps
    # Posterior temperature T (Wenzel et al. 2020): HMC samples p(θ|D)^{1/T}, its log density
    # scaled by 1/T (bnnlab.hmc); the Compare page gives VI T as its KL weight. 1 = Bayes.
    temperature: float = 1.0

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
        if field.name == "temperature" and value == 1.0:
            continue  # links made before the temperature existed stay as they were
        out[field.name] = ",".join(map(str, value)) if field.name == "hidden" else f"{value:g}" \
            if isinstance(value, float) else str(value)
    return out


MAX_UNKNOWN_NOTICES = 5


def _shorten(text: str, limit: int = 40) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "…"


def from_query_params(
    params: Mapping[str, str], base: TrainConfig | None = None,
    fields: Collection[str] | None = None, datasets: Collection[str] | None = None,
) -> tuple[TrainConfig, list[str]]:
    """Lenient parsing of URL settings: `(config, notices)`.

    Unknown keys (not a `TrainConfig` field, or not in `fields` when given) are ignored,
    unparsable values keep `base`'s value, out-of-range numbers are clamped to the nearest bound;
    each such case adds a short, human-readable notice (unknown keys: at most
    `MAX_UNKNOWN_NOTICES`, then one summary, so a crafted link cannot flood the page).
    `datasets` limits the datasets a link may choose (default: the 2-D toy sets, `DATASETS`;
    the digits page passes its own).
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
    from bnnlab import registry

    choices["dataset"] = tuple(datasets) if datasets is not None else registry.dataset_names()
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
    cfg = base.replace(**changes)
    most = registry.max_classes(cfg.dataset)
    if cfg.num_classes > most:
        if "num_classes" in params:
            notices.append(f"num_classes={cfg.num_classes}: {cfg.dataset} has "
                           f"{'2 classes' if most == 2 else f'at most {most} classes'}; "
                           f"using {most}.")
        cfg = cfg.replace(num_classes=most)
    return cfg, notices


# ------------------------------------------------------------------ the cost budget
#
# Settings each within their bounds can together ask for more than the server has: hidden
# 128,128,128,128 × 64 samples × 5,000 points is ~160 GFLOP and ~2 GB of activations a step (6–13 s
# a step on the 2-core server, and an OOM when K steps' noise was drawn at once). `chunk_cost`
# models a chunk's memory and time from the static settings alone (checked against XLA's
# `memory_analysis()` / `cost_analysis()` of the compiled chunk in tests/test_config.py), and
# `check_cost` refuses a run over the budget, naming the setting to lower, before anything is
# compiled. `engine.start_run` and the CLI call it.

MAX_CHUNK_BYTES = 1 * 2**30  # memory of one compiled training chunk (XLA temp + arguments + out)
MAX_CHUNK_SECONDS = 0.5  # a chunk ends within this, so Pause and a closed tab act within a second
MAX_RUN_SECONDS = 1_800  # a whole run (HMC: warm-up included) at the modelled speed
# Sustained float32 rate the time model assumes, by JAX backend. CPU: training steps on the
# shared 2-core EPYC ran at 8–24 GFLOP/s (2-32-32-1 × 8 samples fastest, 2-128-128-1 × 32 samples
# on 2,000 points slowest; bench `cost_model` reports model against measurement); near the
# low end, so that time is over- rather than under-estimated.
ASSUMED_FLOPS_PER_S = {"cpu": 1e10, "gpu": 2e12, "tpu": 2e12}
STEP_OVERHEAD_S = 2e-5  # per scan iteration, whatever its size
ACTIVATION_COPIES = 3  # activations kept for the backward pass, with their gradients
FLOPS_PER_UNIT = 30  # activation function and its gradient, per hidden unit and point
BACKWARD_FACTOR = 3  # forward + backward ≈ 3 forward passes
NOISE_BYTES_PER_NUMBER = 12  # a random float32 drawn for a whole chunk: bits, value, result
NOISE_FLOPS_PER_NUMBER = 90  # threefry bits and the transform to a normal (XLA's count)


class ChunkCost(NamedTuple):
    """Modelled cost of one training chunk."""

    bytes: float  # peak memory of the compiled chunk
    step_flops: float  # floating-point operations of one step
    step_seconds: float  # modelled wall time of one step on this backend
    chunk_seconds: float  # steps_per_chunk × step_seconds
    run_seconds: float  # cfg.steps × step_seconds
    noise_flops: float  # of step_flops, the random numbers' share
    predrawn: bool  # the chunk draws all its steps' random numbers before the scan


def _bucket(num_points: int) -> int:
    # as engine.data_bucket (kept here so config stays free of JAX)
    return max(64, 1 << max(0, math.ceil(math.log2(max(num_points, 1)))))


def _num_params(hidden: tuple[int, ...], num_inputs: int = 2, num_outputs: int = 1) -> int:
    sizes = [num_inputs, *hidden, num_outputs]
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def data_dims(cfg: TrainConfig) -> tuple[int, int]:
    """(D inputs, network outputs) of `cfg.dataset`: (2, 1) for the toy sets, (64, 10) for
    the digits."""
    from bnnlab import registry

    shape = registry.data_shape(cfg.dataset, cfg.num_classes)
    return shape.num_inputs, registry.LIKELIHOODS[shape.likelihood].num_outputs(
        shape.num_classes)


def _backend() -> str:
    import jax

    return jax.default_backend()


def chunk_cost(cfg: TrainConfig, num_points: int, steps_per_chunk: int | None = None,
               backend: str | None = None) -> ChunkCost:
    """The cost model of one chunk of `cfg` on `num_points` training points.

    D inputs and K outputs come from the dataset (`data_dims`): the digits' 64 inputs and 10
    logits enter the parameter count, the multiply-adds and the data's memory.

    Memory: `ACTIVATION_COPIES` × copies × m × Σ widths float32 (copies = the MC samples, or
    the ensemble's members, behind one step; m = the padded data size), the noise of a chunk
    drawn at once (when under `MAX_PREDRAWN_NOISE_BYTES`), the method state twice (argument and
    result; HMC's kept-draw buffer included) and the data. Time: copies × m × 2 × Σ fan-in ×
    fan-out × `BACKWARD_FACTOR` (+ `FLOPS_PER_UNIT` per unit) per gradient, times the method's
    gradients per step (HMC: 2**max_doublings + 1), at `ASSUMED_FLOPS_PER_S`."""
    from bnnlab import registry

    spec = registry.method(cfg.method)
    options = dict(registry.method_options(cfg))
    k = cfg.steps_per_chunk if steps_per_chunk is None else steps_per_chunk
    m = _bucket(num_points)
    num_inputs, num_outputs = data_dims(cfg)
    d = _num_params(cfg.hidden, num_inputs, num_outputs)
    samples = cfg.num_samples if spec.uses_samples else 1
    copies = samples * spec.parallel_copies(options)
    hidden_units = sum(cfg.hidden)
    units = hidden_units + (num_outputs if num_outputs > 1 else 0)  # + the softmax over K
    sizes = [num_inputs, *cfg.hidden, num_outputs]
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    grads = spec.gradient_evaluations(options)
    noise = spec.noise_floats(options, samples, d, hidden_units)
    flops = (grads * copies * m * (2 * macs * BACKWARD_FACTOR + FLOPS_PER_UNIT * units)
             + NOISE_FLOPS_PER_NUMBER * noise)
    # as engine.predraws_noise: the chunk's noise at once only while it fits that budget
    predrawn = 4 * noise * k <= MAX_PREDRAWN_NOISE_BYTES
    noise_bytes = NOISE_BYTES_PER_NUMBER * noise * (k if predrawn else 1)
    state_bytes = 4.0 * spec.state_floats(options, d)
    memory = (4.0 * ACTIVATION_COPIES * copies * m * max(units, 1) + noise_bytes
              + 2 * state_bytes + 4.0 * (num_inputs + 2) * m)
    rate = ASSUMED_FLOPS_PER_S.get(backend or _backend(), ASSUMED_FLOPS_PER_S["cpu"])
    step_s = flops / rate + STEP_OVERHEAD_S
    return ChunkCost(memory, flops, step_s, k * step_s, cfg.steps * step_s,
                     NOISE_FLOPS_PER_NUMBER * noise, predrawn)


def max_steps_per_chunk_for(cfg: TrainConfig, num_points: int) -> int:
    """The most steps one chunk of `cfg` may run within `MAX_CHUNK_SECONDS` (at least 1, at
    most `MAX_STEPS_PER_CHUNK`): what a scheduler sizes chunks by."""
    step_s = chunk_cost(cfg, num_points, steps_per_chunk=1).step_seconds
    return int(min(MAX_STEPS_PER_CHUNK, max(1, MAX_CHUNK_SECONDS // step_s)))


def _biggest_contributor(cfg: TrainConfig, num_points: int, ratio: float) -> str:
    """Which setting to lower, and to what, for a run `ratio` times over a budget."""
    from bnnlab import registry

    spec = registry.method(cfg.method)
    options = dict(registry.method_options(cfg))
    # Each setting's share of its own maximum; on a tie the first (a concrete number) wins.
    shares: dict[str, float] = {}
    if spec.uses_samples:
        shares["num_samples"] = cfg.num_samples / MAX_SAMPLES
    if "ensemble_size" in options:
        shares["ensemble_size"] = options["ensemble_size"] / MAX_ENSEMBLE
    if "hmc_max_doublings" in options:
        shares["hmc_max_doublings"] = options["hmc_max_doublings"] / MAX_HMC_DOUBLINGS
    shares["num_points"] = num_points / MAX_POINTS
    shares["hidden"] = sum(cfg.hidden) / (MAX_LAYERS * MAX_WIDTH)
    name = max(shares, key=shares.get)
    if name == "hidden":
        return "use fewer or narrower hidden layers"
    if name == "hmc_max_doublings":
        fit = options[name] - max(1, math.ceil(math.log2(ratio)))
        return f"lower hmc_max_doublings to at most {max(fit, 1)}"
    value = num_points if name == "num_points" else getattr(cfg, name)
    return f"lower {name} to at most {max(1, int(value / ratio))}"


def check_cost(cfg: TrainConfig, num_points: int) -> tuple[TrainConfig, list[str]]:
    """Bound a run's cost before anything runs: `(cfg, notices)`, with `steps_per_chunk`
    shortened (and a notice) where that suffices to keep a chunk within `MAX_CHUNK_SECONDS`.
    Raises `ConfigError` naming the setting to lower when one step is over the time budget,
    a chunk over `MAX_CHUNK_BYTES`, or the whole run over `MAX_RUN_SECONDS`."""
    cost = chunk_cost(cfg, num_points)
    ratio = max(cost.bytes / MAX_CHUNK_BYTES, cost.step_seconds / MAX_CHUNK_SECONDS)
    if ratio > 1:
        fix = _biggest_contributor(cfg, num_points, ratio)
        raise ConfigError(f"these settings need about {cost.bytes / 2**30:.2g} GB and "
                          f"{cost.step_seconds:.2g} s a step, over the server's budget of "
                          f"{MAX_CHUNK_BYTES / 2**30:g} GB and {MAX_CHUNK_SECONDS:g} s: {fix}")
    if cost.run_seconds > MAX_RUN_SECONDS:
        fix = _biggest_contributor(cfg, num_points, cost.run_seconds / MAX_RUN_SECONDS)
        raise ConfigError(f"{cfg.steps:,} steps of these settings take about "
                          f"{cost.run_seconds / 60:.0f} min, over the {MAX_RUN_SECONDS // 60} min "
                          f"a run may take: lower steps to at most "
                          f"{int(MAX_RUN_SECONDS / cost.step_seconds):,}, or {fix}")
    notices: list[str] = []
    limit = max_steps_per_chunk_for(cfg, num_points)
    if cfg.steps_per_chunk > limit:
        notices.append(f"steps_per_chunk {cfg.steps_per_chunk} shortened to {limit}, so that a "
                       f"chunk takes at most {MAX_CHUNK_SECONDS:g} s")
        cfg = cfg.replace(steps_per_chunk=limit)
    return cfg, notices
