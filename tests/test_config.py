"""bnnlab.config: strict validation and the lenient URL door."""

import pytest

from bnnlab import config
from bnnlab.config import ConfigError, TrainConfig


def test_defaults_are_valid_and_hashable():
    """The default config validates and can key a cache."""
    assert hash(TrainConfig()) == hash(TrainConfig())


@pytest.mark.parametrize(("field", "value"), [
    ("num_points", config.MAX_POINTS + 1), ("num_samples", 0), ("num_samples", 65),
    ("lr", 2.0), ("lr", float("nan")), ("grid_size", 151), ("steps", 100_001),
    ("dataset", "banana"), ("method", "sgld"), ("hidden", (32,) * 5), ("hidden", (129,)),
    ("hidden", ()), ("seed", -1), ("num_points", 10.5), ("noise", "x"),
])
def test_out_of_bounds_values_are_rejected(field, value):
    """Every bound in config is enforced on construction, naming the setting."""
    with pytest.raises(ConfigError, match=field if field != "hidden" else "hidden"):
        TrainConfig(**{field: value})


def test_query_params_round_trip():
    """to_query_params then from_query_params reproduces the config with no notices."""
    cfg = TrainConfig(dataset="spiral", hidden=(16, 8, 4), lr=0.003, kl_weight=0.001, seed=7)
    back, notices = config.from_query_params(config.to_query_params(cfg))
    assert back == cfg and notices == []


def test_query_params_clamp_ignore_and_explain():
    """Out-of-range values are clamped, garbage and unknown keys ignored, each with a notice."""
    cfg, notices = config.from_query_params({
        "num_points": "999999", "lr": "banana", "dataset": "<script>", "foo": "1",
        "hidden": "500,500,500,500,500", "num_samples": "2.5",
    })
    assert cfg.num_points == config.MAX_POINTS
    assert cfg.lr == TrainConfig().lr and cfg.dataset == "moons"
    assert cfg.hidden == (128,) * 4
    assert cfg.num_samples == TrainConfig().num_samples
    assert len(notices) == 6
    assert any("num_points" in n and "clamped" in n for n in notices)
    assert any("foo" in n for n in notices)


# ---------------------------------------------------------------- the cost budget
def _xla_chunk(cfg: TrainConfig, num_points: int) -> tuple[float, float]:
    """(bytes, flops) of the compiled chunk by XLA: temp + argument + output bytes, and
    cost_analysis's flops (which count a loop body once: one step)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from bnnlab import engine

    static = engine.StaticConfig.from_config(cfg, num_points)
    eng = engine.make_engine(static)
    batch = engine.make_batch(np.zeros((num_points, 2), np.float32),
                              np.zeros(num_points, np.int32), static.data_bucket)
    state = jax.eval_shape(eng.init, jax.random.key(0), jnp.float32(0.1))
    compiled = eng.run_chunk.lower(state, batch, engine.make_hyper(cfg),
                                   jnp.int32(cfg.steps_per_chunk)).compile()
    memory = compiled.memory_analysis()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return (memory.temp_size_in_bytes + memory.argument_size_in_bytes
            + memory.output_size_in_bytes, cost["flops"])


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


@pytest.mark.parametrize("name", list(COST_CASES))
def test_cost_model_matches_xla(name):
    """config.chunk_cost's memory is within 2× of XLA's memory_analysis of the compiled chunk,
    and its flops per step within 1.5× of XLA's cost_analysis (measured: 0.5–1.6 and
    0.97–1.25)."""
    cfg, num_points = COST_CASES[name]
    xla_bytes, xla_flops = _xla_chunk(cfg, num_points)
    cost = config.chunk_cost(cfg, num_points)
    # XLA counts the loop body once, and a chunk's noise drawn before the loop K times
    counted = cost.step_flops + (cfg.steps_per_chunk - 1) * cost.noise_flops * cost.predrawn
    assert 1 / MEMORY_FACTOR <= cost.bytes / xla_bytes <= MEMORY_FACTOR
    assert 1 / FLOPS_FACTOR <= counted / xla_flops <= FLOPS_FACTOR


def test_hmc_cost_counts_the_whole_trajectory():
    """XLA counts NUTS's loop body once; the model counts 2**doublings + 1 gradients, so it lies
    between XLA's figure and that many times it."""
    cfg = TrainConfig(method="hmc", hidden=(16, 16), steps_per_chunk=10, hmc_max_doublings=3)
    xla_bytes, xla_flops = _xla_chunk(cfg, 300)
    cost = config.chunk_cost(cfg, 300)
    assert 1 / MEMORY_FACTOR <= cost.bytes / xla_bytes <= MEMORY_FACTOR
    assert xla_flops <= cost.step_flops <= (2**3 + 1) * xla_flops
    deeper = config.chunk_cost(cfg.replace(hmc_max_doublings=6), 300)
    assert deeper.step_flops > 7 * cost.step_flops


def test_check_cost_refuses_naming_the_setting_to_lower():
    """The issue's settings (4×128, 64 samples, 5,000 points, 1,000 steps a redraw) are refused
    with a message naming num_samples and a value that fits."""
    cfg = TrainConfig(hidden=(128,) * 4, num_samples=64, num_points=5000, steps_per_chunk=1000,
                      test_fraction=0.05)
    with pytest.raises(ConfigError, match=r"lower num_samples to at most (\d+)") as err:
        config.check_cost(cfg, 4750)
    fit = int(err.value.args[0].rsplit(" ", 1)[1])
    fixed, _ = config.check_cost(cfg.replace(num_samples=fit), 4750)
    assert fixed.steps_per_chunk <= config.max_steps_per_chunk_for(fixed, 4750)


def test_check_cost_shortens_a_long_chunk():
    """A chunk whose steps would take over MAX_CHUNK_SECONDS is shortened, with a notice;
    default settings pass unchanged."""
    assert config.check_cost(TrainConfig(), 384) == (TrainConfig(), [])
    cfg = TrainConfig(hidden=(64, 64), num_samples=32, num_points=2000, steps_per_chunk=1000)
    fixed, notices = config.check_cost(cfg, 1500)
    limit = config.max_steps_per_chunk_for(cfg, 1500)
    assert fixed.steps_per_chunk == limit < 1000 and "steps_per_chunk" in notices[0]
    assert config.chunk_cost(fixed, 1500).chunk_seconds <= config.MAX_CHUNK_SECONDS


def test_hmc_run_time_counts_warmup_and_trajectory():
    """A long HMC run of deep trajectories on many points is refused as a whole run."""
    cfg = TrainConfig(method="hmc", hidden=(32, 32), num_points=5000, hmc_max_doublings=10,
                      steps=20_000, hmc_warmup=5_000)
    with pytest.raises(ConfigError, match="hmc_max_doublings|steps"):
        config.check_cost(cfg, 3750)
