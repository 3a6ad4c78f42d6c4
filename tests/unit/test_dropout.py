"""MC dropout (bnnlab.dropout) and its engine: masks on weight rows, predictive spread."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bnnlab.core import models
from bnnlab.methods import dropout
from bnnlab.training import engine
from bnnlab.training.config import TrainConfig


def _params(hidden=(3, 2)):
    model = models.make_mlp(hidden)
    return model, model.init(jax.random.key(0), jnp.zeros((1, 2)))["params"]


@pytest.mark.slow
def test_unit_index_marks_the_rows_leaving_each_hidden_unit():
    """Kernel rows of layers after a hidden layer carry that layer's unit ids; the rest −1."""
    _, params = _params((3, 2))
    index, num_units = dropout.unit_index(params)
    assert num_units == 5
    expected = {
        "Dense_0": {"bias": -np.ones(3), "kernel": -np.ones((2, 3))},
        "Dense_1": {"bias": -np.ones(2), "kernel": np.repeat(np.arange(3)[:, None], 2, 1)},
        "Dense_2": {"bias": -np.ones(1), "kernel": np.array([[3.0], [4.0]])},
    }
    flat, _ = jax.flatten_util.ravel_pytree(jax.tree.map(jnp.asarray, expected))
    np.testing.assert_array_equal(index, np.asarray(flat, np.int32))
    # Shapes alone give the same index: the engine builds it without running Flax's init.
    model, _ = _params((3, 2))
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 2)))["params"]
    from_shapes, units = dropout.unit_index(shapes)
    np.testing.assert_array_equal(from_shapes, index)
    assert units == num_units


@pytest.mark.slow
def test_masked_parameters_equal_dropping_hidden_units():
    """θ ⊙ m gives the same logits as zeroing (and rescaling) hidden activations."""
    model, params = _params((4,))
    logits_fn, theta = models.make_logits_fn(model, jax.random.key(0))
    index, num_units = dropout.unit_index(params)
    uniform = jnp.array([[0.9, 0.05, 0.5, 0.01]])
    rate = 0.1
    masked = theta * dropout.masks_from_noise(uniform, jnp.asarray(index), rate)[0]
    x = jnp.array([[0.3, -1.2], [1.0, 0.5]])
    hidden = jnp.tanh(x @ params["Dense_0"]["kernel"] + params["Dense_0"]["bias"])
    keep = jnp.array([1.0, 0.0, 1.0, 0.0]) / (1 - rate)
    manual = (hidden * keep) @ params["Dense_1"]["kernel"][:, 0] + params["Dense_1"]["bias"][0]
    np.testing.assert_allclose(logits_fn(masked, x), manual, rtol=1e-5, atol=1e-6)


def _engine(rate: float):
    cfg = TrainConfig(method="dropout", hidden=(8,), num_samples=2, steps_per_chunk=10,
                      dropout_rate=rate)
    x = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    eng = engine.compiled(engine.StaticConfig.from_config(cfg, len(x)))
    state = eng.init(jax.random.key(0), jnp.float32(0.1))
    state, info = eng.run_chunk(state, engine.make_batch(x, y), engine.make_hyper(cfg))
    assert np.all(np.isfinite(np.asarray(info.objective)))
    return eng, state, x


@pytest.mark.slow
def test_predictive_varies_across_dropout_samples():
    """With rate 0.3 the S forward passes disagree, so epistemic uncertainty is positive."""
    eng, state, x = _engine(0.3)
    probs = np.asarray(eng.sample_probs(jax.random.key(1), state, x, num_samples=16))
    assert probs.shape == (16, 64)
    assert probs.std(axis=0).mean() > 1e-3
    summary = eng.predictive_summary(jax.random.key(1), state, x, num_samples=16)
    assert summary[3].mean() > 0


@pytest.mark.slow
def test_rate_zero_is_deterministic():
    """With rate 0 every mask is 1: every sample is the same network (and the key is moot)."""
    eng, state, x = _engine(0.0)
    a = np.asarray(eng.sample_probs(jax.random.key(1), state, x, num_samples=8))
    b = np.asarray(eng.sample_probs(jax.random.key(2), state, x, num_samples=8))
    np.testing.assert_array_equal(a, np.broadcast_to(a[0], a.shape))
    np.testing.assert_array_equal(a, b)
