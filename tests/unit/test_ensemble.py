"""Deep ensembles (bnnlab.ensemble): M members trained at once, the mixture as predictive."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from bnnlab.core import predict
from bnnlab.methods import ensemble
from bnnlab.training import engine
from bnnlab.training.config import TrainConfig

X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
Y = (X[:, 0] * X[:, 1] > 0).astype(np.int32)


def _trained(size: int = 4):
    cfg = TrainConfig(method="ensemble", hidden=(8,), steps_per_chunk=50, ensemble_size=size,
                      lr=0.02)
    eng = engine.compiled(engine.StaticConfig.from_config(cfg, len(X)))
    state = eng.init(jax.random.key(0), jnp.float32(0.1))
    state, info = eng.run_chunk(state, engine.make_batch(X, Y), engine.make_hyper(cfg))
    return eng, state, info


@pytest.mark.slow
def test_members_differ_and_each_improves():
    """Members start from different seeds and stay different after training."""
    eng, state, info = _trained()
    positions = np.asarray(state.method_state.positions)
    assert positions.shape == (4, eng.num_params)
    assert np.min([np.abs(positions[i] - positions[j]).max()
                   for i in range(4) for j in range(i + 1, 4)]) > 1e-3
    elbo = np.asarray(info.objective)
    assert elbo[-1] > elbo[0]


@pytest.mark.slow
def test_ensemble_predictive_is_the_mean_of_its_members():
    """The engine's mean probability equals the average of the M members' probabilities."""
    eng, state, _ = _trained()
    positions = state.method_state.positions
    members = np.stack([np.asarray(jax.nn.sigmoid(eng.logits_fn(p, X))) for p in positions])
    summary = eng.predictive_summary(jax.random.key(5), state, X, num_samples=64)
    np.testing.assert_allclose(summary[0], members.mean(axis=0), rtol=1e-5, atol=1e-6)
    expected = predict.decompose(members)
    np.testing.assert_allclose(summary[3], expected.epistemic, atol=1e-4)
    assert np.asarray(eng.sample_probs(jax.random.key(0), state, X, num_samples=64)).shape \
        == (4, 64)


@pytest.mark.slow
def test_step_is_one_vmapped_map_step_per_member():
    """ensemble.step moves each member exactly as map_estimate.step would alone."""
    from bnnlab.methods import map_estimate

    optimizer = optax.scale_by_adam()
    positions = jax.random.normal(jax.random.key(0), (3, 5))
    state = ensemble.init(positions, optimizer)

    def ll(theta):
        return -jnp.sum((theta - 1.0) ** 2)

    kwargs = dict(optimizer=optimizer, learning_rate=0.1, prior_std=2.0, kl_weight=1.0)
    new, info = ensemble.step(state, ll, **kwargs)
    for m in range(3):
        alone, _ = map_estimate.step(map_estimate.init(positions[m], optimizer), ll, **kwargs)
        np.testing.assert_allclose(new.positions[m], alone.position, rtol=1e-6)
    assert np.shape(info.objective) == ()
