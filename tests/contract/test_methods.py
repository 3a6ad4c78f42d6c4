"""bnnlab.registry: the one table of names, and the contract every registered method keeps."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bnnlab import registry
from bnnlab.data import toy
from bnnlab.methods.base import Algorithm, Hyper, MethodSpec, Trace
from bnnlab.training import config, engine

SMALL = config.TrainConfig(hidden=(6,), num_samples=3, steps_per_chunk=4, hmc_warmup=2,
                           hmc_max_doublings=3, ensemble_size=2, dropout_rate=0.2)


@pytest.fixture(scope="module")
def data():
    x, y = toy.make("moons", 60, 0.1, 0)
    return x, y


def test_every_method_has_one_label_and_a_spec():
    """Each method's label is unique, non-empty and its spec names itself."""
    labels = [registry.method_label(m) for m in registry.METHODS]
    assert len(set(labels)) == len(labels) and all(labels)
    for name, spec in registry.METHODS.items():
        assert isinstance(spec, MethodSpec) and spec.name == name
        assert set(spec.static_fields) <= set(config.SETTINGS)


def test_unknown_method_is_a_key_error_naming_the_choices():
    """registry.method of an unknown name says which names exist."""
    with pytest.raises(KeyError, match="vi"):
        registry.method("sgld")


@pytest.mark.parametrize("name", list(registry.METHODS))
def test_method_contract(name, data):
    """Every registered method: init, step and predictive_samples under jit give finite
    values of the documented shapes, step returns the method's Info and a Trace of scalars."""
    cfg = SMALL.replace(method=name)
    static = engine.StaticConfig.from_config(cfg, len(data[0]))
    problem = engine.make_problem(static)
    algorithm = registry.method(name).build(problem)
    assert isinstance(algorithm, Algorithm)
    batch = engine.make_batch(*data, static.data_bucket)
    hyper = engine.make_hyper(cfg)
    state = jax.jit(algorithm.init)(jax.random.key(0), jnp.float32(0.1))
    # a method with a fitted posterior in its state (Laplace) trains only part of it
    part, rest = algorithm.split(state)
    step = jax.jit(algorithm.step)
    for i in range(3):
        part, info = step(jax.random.key(i + 1), part, batch, hyper)
    state = algorithm.join(rest, part, jnp.bool_(True))
    trace = algorithm.trace(info)
    assert isinstance(trace, Trace)
    for value in trace:
        assert np.shape(value) == () and np.isfinite(value)
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in algorithm.checked(part))
    if algorithm.fit is not None:  # the post-training fit keeps the state's structure
        fitted = jax.jit(algorithm.fit)(state, batch, hyper)
        assert jax.tree.structure(fitted) == jax.tree.structure(state)
        state = fitted
    draws = jax.jit(algorithm.predictive_samples, static_argnums=2)(jax.random.key(9), state, 5)
    assert draws.shape == (5, problem.num_params) and np.isfinite(np.asarray(draws)).all()
    # the chunk-wise noise path is the same step
    noise = algorithm.draw_noise(jax.random.key(4), 2)
    assert all(np.shape(leaf)[0] == 2 for leaf in jax.tree.leaves(noise))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(registry.METHODS))
def test_no_retrace_when_hyperparameters_change(name, data):
    """Changing lr, β and prior σ between chunks reuses every method's compiled chunk."""
    cfg = SMALL.replace(method=name, seed=11)
    static = engine.StaticConfig.from_config(cfg, len(data[0]))
    eng = engine.compiled(static)
    batch = engine.make_batch(*data, static.data_bucket)
    state = eng.init(jax.random.key(0), jnp.float32(0.1))
    before = engine.TRACE_COUNTS[("run_chunk", static)]
    for lr, beta, sigma in [(1e-2, 1.0, 1.0), (3e-3, 1e-3, 0.3), (0.1, 0.0, 5.0)]:
        state, info = eng.run_chunk(state, batch, Hyper(jnp.float32(lr), jnp.float32(beta),
                                                        jnp.float32(sigma)))
        assert np.isfinite(np.asarray(info.objective)).all()
    assert engine.TRACE_COUNTS[("run_chunk", static)] - before <= 1
    assert int(state.step) == 3 * SMALL.steps_per_chunk


@pytest.mark.slow
def test_hmc_info_is_a_transition_not_an_elbo(data):
    """HMC's Info reports acceptance, divergence and leapfrog steps; MAP's a penalty; the
    engine's trace for HMC is the log density with −log prior as its regulariser."""
    cfg = SMALL.replace(method="hmc")
    static = engine.StaticConfig.from_config(cfg, len(data[0]))
    eng = engine.compiled(static)
    batch = engine.make_batch(*data, static.data_bucket)
    state, info = eng.run_chunk(eng.init(jax.random.key(0), jnp.float32(0.1)), batch,
                                engine.make_hyper(cfg))
    assert {"acceptance_rate", "is_divergent", "num_integration_steps"} <= set(
        info.method._fields)
    np.testing.assert_allclose(info.objective, info.log_likelihood - info.regulariser,
                               rtol=1e-5, atol=1e-3)
    map_cfg = SMALL.replace(method="map")
    map_static = engine.StaticConfig.from_config(map_cfg, len(data[0]))
    algorithm = registry.method("map").build(engine.make_problem(map_static))
    _, map_info = algorithm.step(jax.random.key(0),
                                 algorithm.init(jax.random.key(0), jnp.float32(0.1)),
                                 engine.make_batch(*data, map_static.data_bucket),
                                 engine.make_hyper(map_cfg))
    assert "penalty" in map_info._fields and "kl" not in map_info._fields


def test_method_settings_of_other_methods_do_not_recompile():
    """The dropout rate is compiled into dropout's engine only: VI's static config ignores it,
    and methods that draw no samples ignore num_samples."""
    a = engine.StaticConfig.from_config(SMALL.replace(dropout_rate=0.1), 60)
    b = engine.StaticConfig.from_config(SMALL.replace(dropout_rate=0.5), 60)
    assert a == b
    m1 = engine.StaticConfig.from_config(SMALL.replace(method="map", num_samples=2), 60)
    m2 = engine.StaticConfig.from_config(SMALL.replace(method="map", num_samples=9), 60)
    assert m1 == m2
    d = engine.StaticConfig.from_config(SMALL.replace(method="dropout", dropout_rate=0.5), 60)
    assert d.options == {"dropout_rate": 0.5}


def test_chapters_have_unique_paths_and_existing_pages():
    """Every chapter's page file exists and url paths are unique."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    paths = [c.url_path for c in registry.CHAPTERS]
    assert len(set(paths)) == len(paths)
    assert all((root / c.page).exists() for c in registry.CHAPTERS)
