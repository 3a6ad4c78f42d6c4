"""bnnlab.train: learning on moons, MAP vs VI uncertainty, no recompiles, batched runs,
exact step counts and divergence handling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bnnlab.core import likelihoods, predict
from bnnlab.data import toy
from bnnlab.methods.base import Hyper
from bnnlab.training import engine
from bnnlab.training.config import TrainConfig

SMALL = TrainConfig(hidden=(8,), num_samples=2, steps_per_chunk=10, num_points=100)


@pytest.fixture(scope="module")
def moons():
    x, y = toy.make("moons", 512, 0.15, 0)
    return toy.prepare(x, y, 0.25, 0)


@pytest.fixture(scope="module")
def vi_run(moons):
    return engine.fit(TrainConfig(method="vi", steps=3000, steps_per_chunk=100),
                     moons.x_train, moons.y_train)


def _test_predictive(run, moons, num_samples=64):
    probs = run.engine.sample_probs(jax.random.key(5), run.state, moons.x_test,
                                    num_samples=num_samples)
    return predict.decompose(np.asarray(probs))


@pytest.mark.slow
def test_vi_learns_moons(vi_run, moons):
    """VI (full Bayes, β = 1, prior σ = 3) on moons (512 points, noise 0.15) reaches test
    accuracy ≥ 0.95."""
    assert predict.accuracy(_test_predictive(vi_run, moons).mean, moons.y_test) >= 0.95


@pytest.mark.slow
def test_vi_elbo_improves_and_reports_consistent_terms(vi_run):
    """The ELBO rises over training and every step's elbo = ell − β·kl."""
    h = vi_run.history
    assert len(h.objective) == 3000
    assert h.objective[-100:].mean() > h.objective[:100].mean()
    np.testing.assert_allclose(h.objective, h.log_likelihood - 1.0 * h.regulariser, rtol=1e-5,
                               atol=1e-3)


@pytest.mark.slow
def test_map_has_zero_epistemic_and_vi_positive(vi_run, moons):
    """MAP's epistemic uncertainty is exactly 0 everywhere; VI's is > 0."""
    map_run = engine.fit(TrainConfig(method="map", steps=500, steps_per_chunk=100),
                        moons.x_train, moons.y_train)
    assert np.all(_test_predictive(map_run, moons).epistemic == 0.0)
    assert _test_predictive(vi_run, moons).epistemic.mean() > 0.0
    assert predict.accuracy(_test_predictive(map_run, moons).mean, moons.y_test) >= 0.9


@pytest.mark.slow
def test_talk_setting_small_init_and_small_beta_learns(moons):
    """The talk's recipe (init_std 1e-3, β = 0.001) is reproducible and learns."""
    run = engine.fit(TrainConfig(init_std=1e-3, kl_weight=1e-3, steps=1000, steps_per_chunk=100),
                    moons.x_train, moons.y_train)
    assert predict.accuracy(_test_predictive(run, moons).mean, moons.y_test) >= 0.9


def test_no_recompilation_when_values_change():
    """Changing lr, kl_weight, prior_std, init_std, data values or the number of points within
    the bucket reuses the compiled chunk: the trace count stays at one."""
    static = engine.StaticConfig(hidden=(8,), num_samples=2, steps_per_chunk=10, data_bucket=128)
    eng = engine.make_engine(static)  # its own: the shared cache may have traced it before
    key, init_key = ("run_chunk", static), ("init", static)
    traced, inits = engine.TRACE_COUNTS[key], engine.TRACE_COUNTS[init_key]
    rng = np.random.default_rng(0)
    for i, (n, lr, klw, pstd, istd) in enumerate([(100, 1e-2, 1.0, 1.0, 0.1),
                                                  (120, 3e-3, 1e-3, 0.3, 0.01),
                                                  (70, 0.5, 0.0, 5.0, 1.0)]):
        x = rng.normal(size=(n, 2)).astype(np.float32)
        y = rng.integers(0, 2, n)
        state = eng.init(jax.random.key(i), jnp.float32(istd))
        hyper = Hyper(jnp.float32(lr), jnp.float32(klw), jnp.float32(pstd))
        state, _ = eng.run_chunk(state, engine.make_batch(x, y, 128), hyper, jnp.int32(10))
        jax.block_until_ready(state)
        assert engine.TRACE_COUNTS[key] == traced + 1
    assert engine.TRACE_COUNTS[init_key] == inits + 1


def test_fit_runs_exactly_the_requested_steps():
    """25 steps with chunks of 10 run 25 steps, not 30."""
    x, y = toy.make("moons", 100, 0.1, 0)
    run = engine.fit(SMALL.replace(steps=25), x, y)
    assert int(run.state.step) == 25 and len(run.history.objective) == 25


@pytest.mark.slow
def test_batched_runs_equal_individual_runs():
    """B runs vmapped in one chunk give the same states as each run alone."""
    x, y = toy.make("moons", 100, 0.1, 0)
    eng = engine.compiled(engine.StaticConfig.from_config(SMALL, len(x)))
    batch = engine.make_batch(x, y, eng.static.data_bucket)
    keys = jax.random.split(jax.random.key(0), 3)
    stds = jnp.array([0.1, 0.01, 0.5], jnp.float32)
    hypers = Hyper(jnp.array([1e-2, 3e-2, 1e-3], jnp.float32),
                         jnp.array([1.0, 1e-3, 0.1], jnp.float32),
                         jnp.array([1.0, 0.5, 2.0], jnp.float32))
    states, infos = eng.run_chunk_batched(eng.init_batched(keys, stds), batch, hypers,
                                             jnp.int32(10))
    for i in range(3):
        one, info = eng.run_chunk(eng.init(keys[i], stds[i]), batch,
                                     jax.tree.map(lambda v, i=i: v[i], hypers), jnp.int32(10))
        np.testing.assert_allclose(states.method_state.mean[i], one.method_state.mean,
                                   rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(infos.objective[i], info.objective, rtol=1e-4)
    assert not np.allclose(states.method_state.mean[0], states.method_state.mean[1])


@pytest.mark.slow
def test_divergence_stops_and_keeps_the_last_finite_state():
    """A step that produces NaN/inf sets `diverged`, stops counting steps and keeps the
    previous finite parameters."""
    x = np.array([[np.inf, 1.0], [-1.0, 1.0]] * 10, np.float32)
    y = np.array([0, 1] * 10)
    eng = engine.compiled(engine.StaticConfig.from_config(SMALL, len(x)))
    state0 = eng.init(jax.random.key(0), jnp.float32(0.1))
    state, info = eng.run_chunk(state0, engine.make_batch(x, y, eng.static.data_bucket),
                                   engine.make_hyper(SMALL.replace(lr=1.0)), jnp.int32(10))
    assert bool(state.diverged)
    assert np.all(np.isfinite(state.method_state.mean))
    np.testing.assert_array_equal(state.method_state.mean, state0.method_state.mean)
    assert int(state.step) == 0


@pytest.mark.slow
def test_padding_does_not_change_the_likelihood():
    """Padded rows (mask 0) contribute nothing: the log-likelihood is the same in any bucket."""
    x, y = toy.make("circles", 50, 0.1, 0)
    logits = jnp.linspace(-3, 3, 64)
    small = engine.make_batch(x, y, 64)
    big = engine.make_batch(x, y, 128)
    a = likelihoods.bernoulli_log_likelihood(logits, small)
    b = likelihoods.bernoulli_log_likelihood(jnp.concatenate([logits, jnp.ones(64) * 7]), big)
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_predictive_summary_matches_numpy_decomposition():
    """The on-device summary (mean, total, aleatoric, epistemic) equals predict.decompose of the
    same samples, across chunk boundaries (n not a multiple of the chunk)."""
    x, y = toy.make("moons", 100, 0.1, 0)
    run = engine.fit(SMALL.replace(steps=20), x, y)
    points = np.random.default_rng(0).normal(size=(1300, 2)).astype(np.float32)
    key = jax.random.key(3)
    summary = np.asarray(run.engine.predictive_summary(key, run.state, points, num_samples=16))
    reference = predict.decompose(np.asarray(
        run.engine.sample_probs(key, run.state, points, num_samples=16)))
    for row, expected in zip(summary, reference, strict=True):
        np.testing.assert_allclose(row, expected, atol=2e-5)


def test_compiler_options_fall_back_to_xla_defaults_when_unknown(monkeypatch):
    """The CPU options are XLA debug options that come and go between versions: one this jaxlib
    does not know gives XLA's defaults instead of an error."""
    from bnnlab.core import runtime

    runtime._supported_cpu_options.cache_clear()
    try:
        monkeypatch.setitem(runtime.CPU_COMPILER_OPTIONS, "xla_no_such_option_in_any_jaxlib", 1)
        assert runtime.compiler_options() == {}
        monkeypatch.undo()
        runtime._supported_cpu_options.cache_clear()
        expected = runtime.CPU_COMPILER_OPTIONS if jax.default_backend() == "cpu" else {}
        assert runtime.compiler_options() == expected
    finally:
        runtime._supported_cpu_options.cache_clear()
