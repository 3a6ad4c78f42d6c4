"""The cost budget: what one training chunk of a configuration will take, before it compiles.

Settings each within their bounds can together ask for more than the server has: hidden
128,128,128,128 × 64 samples × 5,000 points is ~160 GFLOP and ~2 GB of activations a step.
`chunk_cost` models a chunk's memory and time from the static settings alone (checked against
XLA's own `memory_analysis()` / `cost_analysis()` of the compiled chunk in the tests), and
`check_cost` refuses a run over the budget, naming the setting to lower (from the settings'
declared `cost`), before anything is compiled. The engine's `start_run`, the live run and the
CLI call it.

A map costs too: every frame runs the network on grid² points × the map's posterior draws.
`frame_cost` models it, and `affordable_grid` is the finest grid whose frame stays within
`limits.MAX_FRAME_SECONDS` (the live maps and Compare's draw at it, with a note).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from bnnlab import registry
from bnnlab.core import limits
from bnnlab.core.errors import BudgetError
from bnnlab.training.config import SETTINGS, TrainConfig

# Sustained float32 rate the time model assumes, by JAX backend. CPU: near the low end of what
# training steps reached on the 2-core machine (`bench cost_model` reports model against
# measurement), so that time is over- rather than under-estimated.
ASSUMED_FLOPS_PER_S = {"cpu": 1e10, "gpu": 2e12, "tpu": 2e12}
# A map's forward passes run on thousands of points at once and reach more of the machine than
# a training step: `bench frame_cost` measured 5e10–1.2e11 flop/s on the quiet 2-core machine
# (the model over-estimates 2.6–6×) and 1.9e10–5.9e10 beside a test run. The budget matters when
# the machine is busy, so the model takes the busy machine's low end.
FRAME_FLOPS_PER_S = {"cpu": 2e10, "gpu": 2e12, "tpu": 2e12}
STEP_OVERHEAD_S = 2e-5  # per scan iteration, whatever its size
ACTIVATION_COPIES = 3  # activations kept for the backward pass, with their gradients
FLOPS_PER_UNIT = 30  # activation function and its gradient, per hidden unit and point
FORWARD_FLOPS_PER_UNIT = 10  # the activation alone (a map's forward pass), per unit and point
BACKWARD_FACTOR = 3  # forward + backward ≈ 3 forward passes
NOISE_BYTES_PER_NUMBER = 12  # a random float32 drawn for a whole chunk: bits, value, result
NOISE_FLOPS_PER_NUMBER = 90  # threefry bits and the transform to a normal (XLA's count)
MIN_BUCKET = 64  # the engine pads the data to a power of two, at least this


class ChunkCost(NamedTuple):
    """Modelled cost of one training chunk."""

    bytes: float  # peak memory of the compiled chunk
    step_flops: float  # floating-point operations of one step
    step_seconds: float  # modelled wall time of one step on this backend
    chunk_seconds: float  # steps_per_chunk × step_seconds
    run_seconds: float  # cfg.steps × step_seconds
    noise_flops: float  # of step_flops, the random numbers' share
    predrawn: bool  # the chunk draws all its steps' random numbers before the scan


def data_bucket(num_points: int) -> int:
    """Padded data size: the next power of two ≥ num_points (at least 64), so adding a point or
    changing the dataset size rarely recompiles."""
    return max(MIN_BUCKET, 1 << max(0, math.ceil(math.log2(max(num_points, 1)))))


def _num_params(hidden: tuple[int, ...], num_inputs: int = 2, num_outputs: int = 1) -> int:
    sizes = [num_inputs, *hidden, num_outputs]
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


def data_dims(cfg: TrainConfig) -> tuple[int, int]:
    """(D inputs, network outputs) of `cfg.dataset`: (2, 1) for the toy sets, (64, 10) for the
    digits."""
    shape = registry.data_shape(cfg.dataset, cfg.num_classes)
    return shape.num_inputs, registry.LIKELIHOODS[shape.likelihood].num_outputs(
        shape.num_classes)


def _backend() -> str:
    import jax

    return jax.default_backend()


def chunk_cost(cfg: TrainConfig, num_points: int, steps_per_chunk: int | None = None,
               backend: str | None = None) -> ChunkCost:
    """The cost model of one chunk of `cfg` on `num_points` training points.

    Memory: `ACTIVATION_COPIES` × copies × m × Σ widths float32 (copies = the MC samples, or
    the ensemble's members, behind one step; m = the padded data size), the noise of a chunk
    drawn at once (when under `limits.MAX_PREDRAWN_NOISE_BYTES`), the method state twice
    (argument and result) and the data. Time: copies × m × 2 × Σ fan-in × fan-out ×
    `BACKWARD_FACTOR` (+ `FLOPS_PER_UNIT` per unit) per gradient, times the method's gradients
    per step, at `ASSUMED_FLOPS_PER_S`."""
    spec = registry.method(cfg.method)
    options = spec.options(cfg)
    k = cfg.steps_per_chunk if steps_per_chunk is None else steps_per_chunk
    m = data_bucket(num_points)
    num_inputs, num_outputs = data_dims(cfg)
    d = _num_params(cfg.hidden, num_inputs, num_outputs)
    samples = cfg.num_samples if spec.uses_samples else 1
    copies = samples * spec.cost.parallel_copies(options)
    hidden_units = sum(cfg.hidden)
    units = hidden_units + (num_outputs if num_outputs > 1 else 0)  # + the softmax over K
    sizes = [num_inputs, *cfg.hidden, num_outputs]
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    grads = spec.cost.gradient_evaluations(options)
    noise = spec.cost.noise_floats(options, samples, d, hidden_units)
    flops = (grads * copies * m * (2 * macs * BACKWARD_FACTOR + FLOPS_PER_UNIT * units)
             + NOISE_FLOPS_PER_NUMBER * noise)
    # as `methods.wrappers.chunk_noise`: the chunk's noise at once only while it fits
    predrawn = 4 * noise * k <= limits.MAX_PREDRAWN_NOISE_BYTES
    noise_bytes = NOISE_BYTES_PER_NUMBER * noise * (k if predrawn else 1)
    state_bytes = 4.0 * spec.cost.state_floats(options, d)
    memory = (4.0 * ACTIVATION_COPIES * copies * m * max(units, 1) + noise_bytes
              + 2 * state_bytes + 4.0 * (num_inputs + 2) * m)
    rate = ASSUMED_FLOPS_PER_S.get(backend or _backend(), ASSUMED_FLOPS_PER_S["cpu"])
    step_s = flops / rate + STEP_OVERHEAD_S
    return ChunkCost(memory, flops, step_s, k * step_s, cfg.steps * step_s,
                     NOISE_FLOPS_PER_NUMBER * noise, predrawn)


def max_steps_per_chunk_for(cfg: TrainConfig, num_points: int) -> int:
    """The most steps one chunk of `cfg` may run within `limits.MAX_CHUNK_SECONDS` (at least 1,
    at most `limits.MAX_STEPS_PER_CHUNK`): what a scheduler sizes chunks by."""
    step_s = chunk_cost(cfg, num_points, steps_per_chunk=1).step_seconds
    return int(min(limits.MAX_STEPS_PER_CHUNK, max(1, limits.MAX_CHUNK_SECONDS // step_s)))


def _lowered(setting_name: str, value: float, ratio: float) -> int:
    """What to lower a setting to for a run `ratio` times over a budget: linear settings by
    the ratio, doublings by log2 of it."""
    setting = SETTINGS[setting_name]
    if setting.cost == "doublings":
        return max(int(value - max(1, math.ceil(math.log2(ratio)))), 1)
    return max(1, int(value / ratio))


def advice_for(cfg: TrainConfig, num_points: int, ratio: float) -> tuple[str, int | None]:
    """Which setting to lower, and to what, for a run `ratio` times over a budget: of the
    settings that enter the cost (`Setting.cost`: the MC samples when the method draws them,
    the method's own, the points) and the hidden layers, the one nearest its maximum, as
    (name, value); ("hidden", None) for the layers."""
    spec = registry.method(cfg.method)
    shares: dict[str, tuple[float, float]] = {}  # name -> (share of its maximum, value)
    if spec.uses_samples:
        shares["num_samples"] = (cfg.num_samples / limits.MAX_SAMPLES, cfg.num_samples)
    for setting in spec.settings:
        if setting.cost is not None:
            value = getattr(cfg, setting.name)
            shares[setting.name] = (value / setting.hi, value)
    shares["num_points"] = (num_points / limits.MAX_POINTS, num_points)
    shares["hidden"] = (sum(cfg.hidden) / (limits.MAX_LAYERS * limits.MAX_WIDTH), 0)
    # on a tie the first (a concrete number) wins
    name = max(shares, key=lambda n: shares[n][0])
    if name == "hidden":
        return name, None
    if name == "num_points":  # the cost grows with the padded size: a power of two that fits
        fit = data_bucket(num_points) / ratio
        if fit < MIN_BUCKET:  # even the smallest padded size is over: the network is too big
            return "hidden", None
        return name, 1 << math.floor(math.log2(fit))
    return name, _lowered(name, shares[name][1], ratio)


def advice(cfg: TrainConfig, num_points: int, ratio: float) -> str:
    """`advice_for` in words."""
    name, value = advice_for(cfg, num_points, ratio)
    return "use fewer or narrower hidden layers" if value is None else \
        f"lower {name} to at most {value}"


def check_cost(cfg: TrainConfig, num_points: int) -> tuple[TrainConfig, list[str]]:
    """Bound a run's cost before anything runs: `(cfg, notices)`, with `steps_per_chunk`
    shortened (and a notice) where that suffices to keep a chunk within
    `limits.MAX_CHUNK_SECONDS`. Raises `ConfigError` naming the setting to lower when one step
    is over the time budget, a chunk over `limits.MAX_CHUNK_BYTES`, or the whole run over
    `limits.MAX_RUN_SECONDS`."""
    cost = chunk_cost(cfg, num_points)
    ratio = max(cost.bytes / limits.MAX_CHUNK_BYTES, cost.step_seconds / limits.MAX_CHUNK_SECONDS)
    if ratio > 1:
        raise BudgetError(f"these settings need about {cost.bytes / 2**30:.2g} GB and "
                          f"{cost.step_seconds:.2g} s a step, over the server's budget of "
                          f"{limits.MAX_CHUNK_BYTES / 2**30:g} GB and "
                          f"{limits.MAX_CHUNK_SECONDS:g} s: {advice(cfg, num_points, ratio)}",
                          *advice_for(cfg, num_points, ratio))
    if cost.run_seconds > limits.MAX_RUN_SECONDS:
        ratio = cost.run_seconds / limits.MAX_RUN_SECONDS
        steps = int(limits.MAX_RUN_SECONDS / cost.step_seconds)
        raise BudgetError(f"{cfg.steps:,} steps of these settings take about "
                          f"{cost.run_seconds / 60:.0f} min, over the "
                          f"{limits.MAX_RUN_SECONDS // 60} min a run may take: lower steps to at "
                          f"most {steps:,}, or {advice(cfg, num_points, ratio)}", "steps", steps)
    notices: list[str] = []
    limit = max_steps_per_chunk_for(cfg, num_points)
    if cfg.steps_per_chunk > limit:
        notices.append(f"steps_per_chunk {cfg.steps_per_chunk} shortened to {limit}, so that a "
                       f"chunk takes at most {limits.MAX_CHUNK_SECONDS:g} s")
        cfg = cfg.replace(steps_per_chunk=limit)
    return cfg, notices


def forward_flops(cfg: TrainConfig) -> float:
    """Floating-point operations of one forward pass of `cfg`'s network on one point."""
    num_inputs, num_outputs = data_dims(cfg)
    sizes = [num_inputs, *cfg.hidden, num_outputs]
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
    return 2.0 * macs + FORWARD_FLOPS_PER_UNIT * (sum(cfg.hidden) + num_outputs)


def frame_cost(cfg: TrainConfig, grid_size: int, draws: int, extra_points: int = 0,
               backend: str | None = None) -> float:
    """Modelled seconds of one map: `grid_size`² points through `draws` posterior draws of the
    network, plus `extra_points` point-draws (e.g. the decision boundaries' grid), at
    `FRAME_FLOPS_PER_S` (`bench frame_cost` holds it against measured frames)."""
    rate = FRAME_FLOPS_PER_S.get(backend or _backend(), FRAME_FLOPS_PER_S["cpu"])
    return (grid_size ** 2 * draws + extra_points) * forward_flops(cfg) / rate


def affordable_grid(cfg: TrainConfig, grid_size: int, draws: int, extra_points: int = 0,
                    budget_s: float = limits.MAX_FRAME_SECONDS,
                    backend: str | None = None) -> int:
    """The finest grid, at most `grid_size` and at least `limits.MIN_GRID`, whose map
    (`frame_cost`) takes at most `budget_s`: a bigger network gets a coarser map rather than
    frames that hold the server for seconds."""
    per_point = frame_cost(cfg, 1, draws, 0, backend)
    fixed = frame_cost(cfg, 0, draws, extra_points, backend)
    fits = math.isqrt(max(0, int((budget_s - fixed) / per_point))) if per_point > 0 else grid_size
    return int(min(grid_size, max(limits.MIN_GRID, fits)))
