"""Tests for bnnlab.prior_predictive: the pieces of a BNN and the cost of the evidence."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bnnlab import prior_predictive as pp

# Jitted as a caller would (house style: the library never jits), which also keeps tests fast.
sample_params = jax.jit(pp.sample_prior_params, static_argnums=(1,))
sample_functions = jax.jit(pp.sample_prior_functions, static_argnums=(1, 4, 5))


def test_parameter_count_matches_sampled_parameters():
    """count_parameters equals the length of a sampled, flattened θ."""
    sizes = pp.layer_sizes(2, (4,), 2)
    theta = pp.flatten_params(sample_params(jax.random.PRNGKey(0), sizes, 1.0))
    assert sizes == (2, 4, 1)
    assert theta.size == pp.count_parameters(sizes) == 3 * 4 + 5 * 1
    assert pp.count_parameters((2, 16, 8, 3)) == 3 * 16 + 17 * 8 + 9 * 3


def test_binary_output_uses_one_logit():
    """Two classes use a single Bernoulli logit, more classes one logit each."""
    assert pp.layer_sizes(2, (4,), 2)[-1] == 1
    assert pp.layer_sizes(2, (4,), 5)[-1] == 5


def test_prior_draws_have_the_prior_standard_deviation():
    """Every weight and bias is N(0, σ²): a large draw has mean ≈ 0 and std ≈ σ."""
    theta = np.asarray(pp.flatten_params(
        sample_params(jax.random.PRNGKey(1), (2, 256, 256, 1), 0.7)))
    assert abs(theta.mean()) < 0.01
    assert abs(theta.std() / 0.7 - 1) < 0.01


def test_prior_functions_are_the_networks_of_the_drawn_params():
    """sample_prior_functions returns exactly mlp_logits of each network drawn with its key."""
    sizes, x = (1, 8, 1), jnp.linspace(-3, 3, 7)[:, None]
    key = jax.random.PRNGKey(2)
    fs = sample_functions(key, sizes, 1.3, x, 4, "relu")
    keys = jax.random.split(key, 4)
    ref = pp.mlp_logits(sample_params(keys[2], sizes, 1.3), x, "relu")
    assert fs.shape == (4, 7, 1)
    np.testing.assert_allclose(fs[2], ref, rtol=1e-6)


def test_prior_std_scales_the_drawn_functions():
    """With the same key, prior draws scale with σ: exactly without hidden layers, and in
    spread (more than linearly) with one."""
    x = jnp.linspace(-3, 3, 7)[:, None]
    key = jax.random.PRNGKey(3)
    linear = [sample_functions(key, (1, 1), s, x, 4, "relu") for s in (0.5, 2.0)]
    np.testing.assert_allclose(linear[0], 0.25 * linear[1], rtol=1e-5, atol=1e-6)
    hidden = [np.std(sample_functions(key, (1, 8, 1), s, x, 4, "relu")) for s in (0.5, 2.0)]
    assert hidden[0] < 0.25 * hidden[1]


def test_bernoulli_log_likelihood_matches_hand_formula():
    """Bernoulli log-likelihood is y·log σ(z) + (1−y)·log(1−σ(z)) per point."""
    z = np.array([-2.0, 0.0, 3.0], np.float32)
    y = np.array([1, 0, 1])
    p = 1 / (1 + np.exp(-z))
    ref = np.where(y == 1, np.log(p), np.log(1 - p))
    got = pp.log_likelihood_per_point(jnp.asarray(z[:, None]), jnp.asarray(y))
    np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_categorical_with_two_logits_equals_bernoulli():
    """Softmax over logits (0, z) gives the same log-likelihood as a Bernoulli on z."""
    z = jnp.array([-1.5, 0.2, 4.0])
    y = jnp.array([0, 1, 1])
    two = pp.log_likelihood_per_point(jnp.stack([jnp.zeros(3), z], 1), y)
    one = pp.log_likelihood_per_point(z[:, None], y)
    np.testing.assert_allclose(two, one, rtol=1e-5)


def test_class_probabilities_sum_to_one():
    """Class probabilities sum to 1 for one logit and for K logits."""
    for logits in (jnp.array([[0.3], [-5.0]]), jnp.array([[1.0, 2.0, -1.0]])):
        np.testing.assert_allclose(pp.class_probabilities(logits).sum(-1), 1.0, rtol=1e-6)


def test_log_prior_is_a_sum_of_normal_log_densities():
    """log P(θ) equals Σ log N(θ_i; 0, σ²)."""
    theta = np.array([0.1, -1.2, 2.0, 0.0])
    ref = np.sum(-0.5 * (theta / 0.8) ** 2 - math.log(0.8) - 0.5 * math.log(2 * math.pi))
    assert abs(float(pp.log_prior(jnp.asarray(theta), 0.8)) - ref) < 1e-5


def test_grid_cost_is_d_log10_g_without_overflow():
    """log10(G^d) = d·log10(G), exact for small d and finite for a million parameters."""
    assert pp.grid_cost(2, 100).log10_grid_points == pytest.approx(4.0)
    big = pp.grid_cost(1_000_000, 10)
    assert big.log10_grid_points == pytest.approx(1e6)
    assert big.times_atoms == pytest.approx(1e6 - 80)
    assert pp.grid_cost(3, 10).log10_years == pytest.approx(
        3 - math.log10(pp.EVALUATIONS_PER_SECOND * pp.SECONDS_PER_YEAR))


def test_grid_cost_rejects_meaningless_sizes():
    """A grid needs d ≥ 1 and G ≥ 2."""
    with pytest.raises(ValueError):
        pp.grid_cost(0, 10)
    with pytest.raises(ValueError):
        pp.grid_cost(5, 1)


def test_format_power_of_ten():
    """Small numbers print in full, large ones as mantissa × 10 to a superscript power."""
    assert pp.format_power_of_ten(4.0) == "10,000"
    assert pp.format_power_of_ten(337.0) == "1.0 × 10³³⁷"
    assert pp.format_power_of_ten(math.log10(3.2e220)) == "3.2 × 10²²⁰"


def test_blobs_have_requested_shape_and_classes():
    """make_blobs returns n points in R² and labels 0..K−1."""
    data = pp.make_blobs(30, 3, 0.5, seed=0)
    assert data.x.shape == (30, 2) and data.x.dtype == np.float32
    assert set(np.unique(data.y)) == {0, 1, 2}


def test_view_network_matches_its_pieces():
    """view_network's θ, log P(θ) and log-likelihoods equal the pieces computed one by one."""
    sizes, key = (2, 4, 1), jax.random.PRNGKey(5)
    data = pp.make_blobs(10, 2, 0.5, seed=1)
    x, y = jnp.asarray(data.x), jnp.asarray(data.y)
    view = jax.jit(pp.view_network, static_argnames=("sizes", "activation"))(
        key, sizes, 0.9, x, x, y, activation="tanh")
    params = sample_params(key, sizes, 0.9)
    np.testing.assert_allclose(view.theta, pp.flatten_params(params), rtol=1e-6)
    np.testing.assert_allclose(view.log_prior, pp.log_prior(view.theta, 0.9), rtol=1e-5)
    ll = pp.log_likelihood_per_point(pp.mlp_logits(params, x), y)
    np.testing.assert_allclose(view.point_log_lik, ll, rtol=1e-5, atol=1e-6)
    assert view.plane_probs.shape == (10, 2)
