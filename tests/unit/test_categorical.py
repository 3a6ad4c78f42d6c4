"""The categorical (softmax) likelihood through the engine: K = 2 equals the Bernoulli path,
and every method keeps its contract on 8×8 digits (D = 64, K = 10)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from bnnlab import registry
from bnnlab.core import likelihoods, models, predict
from bnnlab.methods import vi
from bnnlab.methods.base import Algorithm, Batch, Trace
from bnnlab.training import config, cost, engine, links

SMALL = config.TrainConfig(dataset="digits", hidden=(6,), num_samples=3, steps_per_chunk=4,
                           hmc_warmup=2, hmc_max_doublings=3, ensemble_size=2,
                           dropout_rate=0.2)


@pytest.fixture(scope="module")
def digits_like():
    rng = np.random.default_rng(0)
    return rng.random((40, 64)).astype(np.float32), rng.integers(0, 10, 40).astype(np.int32)


@pytest.mark.slow
def test_categorical_k2_equals_bernoulli_per_batch():
    """log softmax((0, f))[y] summed with the mask equals the Bernoulli log-likelihood at f."""
    rng = np.random.default_rng(1)
    f = jnp.asarray(rng.normal(0, 3, 50), jnp.float32)
    y = jnp.asarray(rng.integers(0, 2, 50), jnp.float32)
    mask = jnp.asarray(rng.random(50) > 0.2, jnp.float32)
    batch = Batch(jnp.zeros((50, 2)), y, mask)
    two = jnp.stack([jnp.zeros_like(f), f], axis=-1)
    np.testing.assert_allclose(likelihoods.categorical_log_likelihood(two, batch),
                               likelihoods.bernoulli_log_likelihood(f, batch), rtol=1e-6)


def _embed(theta_binary: np.ndarray, hidden: tuple[int, ...]) -> np.ndarray:
    """A binary MLP's θ as a 2-output MLP's θ whose first output is 0: logits (0, f)."""
    zeros = jnp.zeros((1, 2))
    _, unravel = ravel_pytree(models.make_mlp(hidden).init(jax.random.key(0), zeros)["params"])
    params = dict(unravel(jnp.asarray(theta_binary)))
    last = f"Dense_{len(hidden)}"
    kernel, bias = params[last]["kernel"], params[last]["bias"]
    params[last] = {"bias": jnp.concatenate([jnp.zeros_like(bias), bias]),
                    "kernel": jnp.concatenate([jnp.zeros_like(kernel), kernel], axis=1)}
    return np.array(ravel_pytree(params)[0])


@pytest.mark.slow
def test_categorical_k2_elbo_equals_bernoulli_elbo():
    """With K = 2, the network's first logit fixed at 0 (its weights at 0 with q equal to the
    prior there, so they add nothing to the KL) and the same noise on the shared weights, the
    categorical ELBO, its expected log-likelihood and KL equal the Bernoulli path's."""
    hidden, prior_std = (5,), 1.5
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.normal(size=(30, 2)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 2, 30), jnp.float32)
    batch = Batch(x, y, jnp.ones(30, jnp.float32))
    bern = models.make_flat_mlp(models.make_mlp(hidden))
    cat = models.make_flat_mlp(models.make_mlp(hidden, num_outputs=2))
    d = bern.num_params
    mean = rng.normal(0, 0.5, d).astype(np.float32)
    std = rng.uniform(0.05, 0.3, d).astype(np.float32)
    noise = rng.normal(size=(4, d)).astype(np.float32)
    # the extra parameters: mean 0, std = prior σ (KL term 0), noise 0 (θ = 0 there)
    mean_c = _embed(mean, hidden)
    extra = np.flatnonzero(_embed(np.ones(d, np.float32), hidden) == 0)
    std_c = _embed(std, hidden)
    std_c[extra] = prior_std
    noise_c = np.stack([_embed(n, hidden) for n in noise])
    assert cat.num_params == d + len(extra)

    def elbo(flat, like, m, s, eps):
        fn = lambda theta: like(flat.logits_fn(theta, x), batch)  # noqa: E731
        return vi.elbo_from_noise(jnp.asarray(m), vi.rho_from_std(s), jnp.asarray(eps), fn,
                                  prior_std, 1.0)[1]

    b = elbo(bern, likelihoods.bernoulli_log_likelihood, mean, std, noise)
    c = elbo(cat, likelihoods.categorical_log_likelihood, mean_c, std_c, noise_c)
    for ours, ref in zip(c, b, strict=True):
        np.testing.assert_allclose(ours, ref, rtol=2e-5, atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(registry.METHODS))
def test_method_contract_on_digits(name, digits_like):
    """Every method with D = 64 inputs and K = 10 classes: a compiled chunk gives finite
    traces; the predictive is float32[S, n, 10] rows summing to 1; the summary is [13, n]."""
    x, y = digits_like
    cfg = SMALL.replace(method=name)
    static = engine.StaticConfig.from_config(cfg, len(x))
    assert (static.num_inputs, static.num_classes, static.likelihood) == (64, 10,
                                                                          "categorical")
    eng = engine.compiled(static)
    problem = engine.make_problem(static)
    assert isinstance(registry.method(name).build(problem), Algorithm)
    assert eng.num_params == models.num_params((6,), 64, 10)
    batch = engine.make_batch(x, y, static.data_bucket)
    state = eng.init(jax.random.key(0), jnp.float32(0.1))
    state, info = eng.run_chunk(state, batch, engine.make_hyper(cfg))
    assert all(np.isfinite(np.asarray(v)).all() for v in Trace(*info[:3]))
    assert int(state.step) == SMALL.steps_per_chunk
    probs = np.asarray(eng.sample_probs(jax.random.key(1), state, x[:7], num_samples=4))
    assert probs.shape == (static.num_draws(4), 7, 10)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    summary = eng.predictive_summary(jax.random.key(1), state, x[:7], 4)
    assert summary.shape == (13, 7)
    mean, total, alea, epi = predict.categorical_split(probs.astype(np.float64))
    np.testing.assert_allclose(summary[:10].T, mean, atol=1e-5)
    np.testing.assert_allclose(summary[10:], np.stack([total, alea, epi]), atol=1e-4)


def test_binary_default_is_unchanged():
    """A toy config still compiles a 2-input, 1-output Bernoulli engine with the fast path."""
    static = engine.StaticConfig.from_config(config.TrainConfig(), 100)
    assert (static.num_inputs, static.num_outputs, static.likelihood) == (2, 1, "bernoulli")
    assert models.FAST_PATH_MAX_INPUTS >= 2


def test_categorical_split_k2_equals_binary_split():
    """The K-class uncertainty split at K = 2 equals the binary one at p = P(y = 1)."""
    p1 = np.random.default_rng(3).random((6, 20))
    two = np.stack([1 - p1, p1], axis=-1)
    for ours, ref in zip(predict.categorical_split(two)[1:], predict.uncertainty_split(p1)[1:],
                         strict=True):
        np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_cost_model_counts_inputs_and_classes():
    """The cost budget sees D and K: digits cost more than moons at the same settings, by the
    first layer's and the output layer's multiply-adds."""
    toy = cost.chunk_cost(config.TrainConfig(hidden=(64,)), 1347, backend="cpu")
    digits = cost.chunk_cost(config.TrainConfig(dataset="digits", hidden=(64,)), 1347,
                               backend="cpu")
    assert digits.step_flops > 10 * toy.step_flops - 1
    assert cost._num_params((64,), 64, 10) == 65 * 64 + 65 * 10


def test_query_params_keep_digits_out_of_toy_pages():
    """A link can choose digits only where a page allows it (the digits page passes it)."""
    cfg, notices = links.from_query_params({"dataset": "digits"})
    assert cfg.dataset == "moons" and notices
    cfg, notices = links.from_query_params({"dataset": "digits"}, datasets=("digits",))
    assert cfg.dataset == "digits" and not notices
