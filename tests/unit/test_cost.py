"""bnnlab.training.cost: the modelled memory and time of a chunk against XLA's own analysis of
the compiled chunk, and the budget that refuses or shortens before anything compiles."""

import pytest

from bnnlab.core import limits
from bnnlab.training import cost
from bnnlab.training.config import ConfigError, TrainConfig


def _xla_chunk(cfg: TrainConfig, num_points: int) -> tuple[float, float]:
    """(bytes, flops) of the compiled chunk by XLA: temp + argument + output bytes, and
    cost_analysis's flops (which count a loop body once: one step)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from bnnlab.training import engine

    static = engine.StaticConfig.from_config(cfg, num_points)
    eng = engine.make_engine(static)
    batch = engine.make_batch(np.zeros((num_points, 2), np.float32),
                              np.zeros(num_points, np.int32), static.data_bucket)
    state = jax.eval_shape(eng.init, jax.random.key(0), jnp.float32(0.1))
    compiled = eng.run_chunk.lower(state, batch, engine.make_hyper(cfg),
                                   jnp.int32(cfg.steps_per_chunk)).compile()
    memory = compiled.memory_analysis()
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, list) else analysis
    return (memory.temp_size_in_bytes + memory.argument_size_in_bytes
            + memory.output_size_in_bytes, analysis["flops"])


COST_CASES = {
    "default VI": (TrainConfig(steps_per_chunk=25), 384),
    "VI, chunk noise drawn at once": (TrainConfig(steps_per_chunk=100), 384),
    "VI 2-128-128-1 × 32 samples": (TrainConfig(hidden=(128, 128), num_samples=32,
                                                steps_per_chunk=50), 2000),
    "VI at every maximum": (TrainConfig(hidden=(128,) * 4, num_samples=64,
                                        steps_per_chunk=1000), 4750),
    "MAP": (TrainConfig(method="map", hidden=(64, 64), steps_per_chunk=10), 1000),
    "ensemble of 16": (TrainConfig(method="ensemble", hidden=(128, 128), ensemble_size=16,
                                   steps_per_chunk=10), 4000),
    "dropout": (TrainConfig(method="dropout", hidden=(128,) * 3, num_samples=32,
                            steps_per_chunk=100), 3000),
}
MEMORY_FACTOR = 2.0  # the model is within this factor of XLA's memory_analysis
FLOPS_FACTOR = 1.5  # and of XLA's cost_analysis per step


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COST_CASES))
def test_cost_model_matches_xla(name):
    """cost.chunk_cost's memory is within 2× of XLA's memory_analysis of the compiled chunk,
    and its flops per step within 1.5× of XLA's cost_analysis (measured: 0.5–1.6 and
    0.97–1.25)."""
    cfg, num_points = COST_CASES[name]
    xla_bytes, xla_flops = _xla_chunk(cfg, num_points)
    modelled = cost.chunk_cost(cfg, num_points)
    # XLA counts the loop body once, and a chunk's noise drawn before the loop K times
    counted = (modelled.step_flops
               + (cfg.steps_per_chunk - 1) * modelled.noise_flops * modelled.predrawn)
    assert 1 / MEMORY_FACTOR <= modelled.bytes / xla_bytes <= MEMORY_FACTOR
    assert 1 / FLOPS_FACTOR <= counted / xla_flops <= FLOPS_FACTOR


@pytest.mark.slow
def test_hmc_cost_counts_the_whole_trajectory():
    """XLA counts NUTS's loop body once; the model counts 2**doublings + 1 gradients, so it lies
    between XLA's figure and that many times it."""
    cfg = TrainConfig(method="hmc", hidden=(16, 16), steps_per_chunk=10, hmc_max_doublings=3)
    xla_bytes, xla_flops = _xla_chunk(cfg, 300)
    modelled = cost.chunk_cost(cfg, 300)
    assert 1 / MEMORY_FACTOR <= modelled.bytes / xla_bytes <= MEMORY_FACTOR
    assert xla_flops <= modelled.step_flops <= (2**3 + 1) * xla_flops
    deeper = cost.chunk_cost(cfg.replace(hmc_max_doublings=6), 300)
    assert deeper.step_flops > 7 * modelled.step_flops


def test_check_cost_refuses_naming_the_setting_to_lower():
    """The issue's settings (4×128, 64 samples, 5,000 points, 1,000 steps a redraw) are refused
    with a message naming num_samples and a value that fits."""
    cfg = TrainConfig(hidden=(128,) * 4, num_samples=64, num_points=5000, steps_per_chunk=1000,
                      test_fraction=0.05)
    with pytest.raises(ConfigError, match=r"lower num_samples to at most (\d+)") as err:
        cost.check_cost(cfg, 4750)
    fit = int(err.value.args[0].rsplit(" ", 1)[1])
    fixed, _ = cost.check_cost(cfg.replace(num_samples=fit), 4750)
    assert fixed.steps_per_chunk <= cost.max_steps_per_chunk_for(fixed, 4750)


def test_check_cost_shortens_a_long_chunk():
    """A chunk whose steps would take over MAX_CHUNK_SECONDS is shortened, with a notice;
    default settings pass unchanged."""
    assert cost.check_cost(TrainConfig(), 384) == (TrainConfig(), [])
    cfg = TrainConfig(hidden=(64, 64), num_samples=32, num_points=2000, steps_per_chunk=1000)
    fixed, notices = cost.check_cost(cfg, 1500)
    limit = cost.max_steps_per_chunk_for(cfg, 1500)
    assert fixed.steps_per_chunk == limit < 1000 and "steps_per_chunk" in notices[0]
    assert cost.chunk_cost(fixed, 1500).chunk_seconds <= limits.MAX_CHUNK_SECONDS


def test_hmc_run_time_counts_warmup_and_trajectory():
    """A long HMC run of deep trajectories on many points is refused as a whole run."""
    cfg = TrainConfig(method="hmc", hidden=(32, 32), num_points=5000, hmc_max_doublings=10,
                      steps=20_000, hmc_warmup=5_000)
    with pytest.raises(ConfigError, match="hmc_max_doublings|steps"):
        cost.check_cost(cfg, 3750)


# ---------------------------------------------------------------------------- the frame budget
def test_frame_cost_counts_every_point_through_every_draw():
    """A frame's model: grid² points × draws (+ the extra point-draws) × one forward pass,
    2·Σ fan-in·fan-out + FORWARD_FLOPS_PER_UNIT per unit, at the frame rate."""
    cfg = TrainConfig(hidden=(4,))
    per_point = 2 * (2 * 4 + 4 * 1) + cost.FORWARD_FLOPS_PER_UNIT * (4 + 1)
    assert cost.forward_flops(cfg) == per_point
    seconds = cost.frame_cost(cfg, 10, 3, extra_points=7, backend="cpu")
    assert seconds == pytest.approx((100 * 3 + 7) * per_point / cost.FRAME_FLOPS_PER_S["cpu"])


def test_affordable_grid_keeps_a_light_map_and_coarsens_a_heavy_one():
    """The defaults keep their grid (even the largest); the issue's heavy network (hidden
    128×4, grid 150: ~70 GFLOP a frame) gets the finest grid within the frame budget."""
    light = TrainConfig()
    assert cost.affordable_grid(light, limits.MAX_GRID, 32, 16_000, backend="cpu") \
        == limits.MAX_GRID
    heavy = TrainConfig(hidden=(128,) * 4, grid_size=150)
    assert cost.frame_cost(heavy, 150, 32, 16_000, backend="cpu") > 3.0
    grid = cost.affordable_grid(heavy, 150, 32, 16_000, backend="cpu")
    assert limits.MIN_GRID <= grid < 150
    budget = limits.MAX_FRAME_SECONDS
    assert cost.frame_cost(heavy, grid, 32, 16_000, backend="cpu") <= budget
    assert cost.frame_cost(heavy, grid + 1, 32, 16_000, backend="cpu") > budget
    # never below the smallest grid, whatever the network; a GPU draws the whole grid
    assert cost.affordable_grid(heavy, 150, 10_000, backend="cpu") == limits.MIN_GRID
    assert cost.affordable_grid(heavy, 150, 32, 16_000, backend="gpu") == 150
