"""Tests for bnnlab.lessons.prior: the pieces of a BNN and the cost of the evidence."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bnnlab import registry
from bnnlab.core import models
from bnnlab.lessons import prior as pp


def test_parameter_count_matches_the_network():
    """count_parameters equals the flat θ's length of bnnlab.models' MLP, for 2 and 3 classes."""
    assert pp.layer_sizes(2, (4,), 2) == (2, 4, 1)
    assert pp.make_network((4,), "tanh", 2).num_params == pp.count_parameters((2, 4, 1)) == 17
    assert pp.make_network((16, 8), "relu", 3).num_params == 3 * 16 + 17 * 8 + 9 * 3
    assert pp.count_parameters((2, 16, 8, 3)) == 3 * 16 + 17 * 8 + 9 * 3


def test_binary_output_uses_one_logit():
    """Two classes use a single Bernoulli logit, more classes one logit each."""
    assert pp.layer_sizes(2, (4,), 2)[-1] == 1
    assert pp.layer_sizes(2, (4,), 5)[-1] == 5


def test_activations_are_the_configs():
    """The chapter offers exactly the activations of the registry (gelu included) and models."""
    assert tuple(pp.ACTIVATIONS) == registry.ACTIVATIONS == tuple(models.ACTIVATIONS)


def test_prior_draws_have_the_prior_standard_deviation():
    """Every weight and bias is N(0, σ²): a large draw has mean ≈ 0 and std ≈ σ."""
    draw = pp.compiled_draw_logits((256, 256), "tanh", 2, 1)
    thetas, _ = draw(jax.random.key(1), np.float32(0.7), np.zeros((3, 2), np.float32))
    theta = np.asarray(thetas[0])
    assert theta.size == pp.count_parameters((2, 256, 256, 1))
    assert abs(theta.mean()) < 0.01
    assert abs(theta.std() / 0.7 - 1) < 0.01


@pytest.mark.slow
@pytest.mark.parametrize("activation, num_classes", [("relu", 2), ("gelu", 3)])
def test_drawn_logits_are_the_flax_mlp_of_the_drawn_theta(activation, num_classes):
    """Each draw's logits equal bnnlab.models.MLP applied (through Flax) to its θ."""
    x = np.asarray(jax.random.normal(jax.random.key(0), (7, 2)), np.float32)
    draw = pp.compiled_draw_logits((8, 5), activation, num_classes, 4)
    thetas, logits = draw(jax.random.key(2), np.float32(1.3), x)
    network = pp.make_network((8, 5), activation, num_classes)
    ref = network.logits_fn(thetas[2], jnp.asarray(x))
    assert logits.shape == (4, 7, 1 if num_classes == 2 else num_classes)
    np.testing.assert_allclose(logits[2], ref.reshape(7, -1), rtol=1e-5, atol=1e-5)


def test_prior_std_scales_the_drawn_functions():
    """With the same key, prior draws scale with σ: exactly without hidden layers, and in
    spread (more than linearly) with one."""
    x = np.asarray(np.linspace(-3, 3, 14).reshape(7, 2), np.float32)
    key = jax.random.key(3)
    linear = pp.compiled_draw_logits((), "relu", 2, 4)
    small, big = (np.asarray(linear(key, np.float32(s), x)[1]) for s in (0.5, 2.0))
    np.testing.assert_allclose(small, 0.25 * big, rtol=1e-5, atol=1e-6)
    hidden = pp.compiled_draw_logits((8,), "relu", 2, 4)
    spread = [np.std(hidden(key, np.float32(s), x)[1]) for s in (0.5, 2.0)]
    assert spread[0] < 0.25 * spread[1]


@pytest.mark.slow
def test_picture_splits_plane_line_and_data_points():
    """draw_prior_picture's plane, line and data logits are the networks at those points,
    and the number of data points never recompiles (they are padded)."""
    kwargs = dict(num_draws=3, plane_extent=2.0, plane_res=5, line_points=4, max_points=10)
    data = pp.make_blobs(6, 2, 0.5, seed=0)
    pic = pp.draw_prior_picture(jax.random.key(4), (4,), "tanh", 2, 0.8, data.x, **kwargs)
    network = pp.make_network((4,), "tanh", 2)
    theta = jnp.asarray(pic.thetas[1])
    g1, g2 = np.meshgrid(pic.axis, pic.axis)
    plane = np.stack([g1.ravel(), g2.ravel()], 1)
    line = np.stack([pic.line_x, np.zeros(4, np.float32)], 1)
    for logits, points in ((pic.plane_logits, plane), (pic.line_logits, line),
                           (pic.data_logits, data.x)):
        np.testing.assert_allclose(logits[1, :, 0], network.logits_fn(theta, points),
                                   rtol=1e-5, atol=1e-5)
    fn = pp.compiled_draw_logits((4,), "tanh", 2, 3)
    before = fn._cache_size()
    pp.draw_prior_picture(jax.random.key(4), (4,), "tanh", 2, 2.5, data.x[:3], **kwargs)
    assert fn._cache_size() == before


def test_drawn_network_view_and_boundaries_come_from_the_picture():
    """view_drawn_network is view_network of that draw's plane and data logits, and
    boundary_probabilities is P(class 1) of the first k draws on the G×G plane."""
    kwargs = dict(num_draws=3, plane_extent=2.0, plane_res=5, line_points=4, max_points=10)
    data = pp.make_blobs(6, 2, 0.5, seed=0)
    pic = pp.draw_prior_picture(jax.random.key(4), (4,), "tanh", 2, 0.8, data.x, **kwargs)
    view = pp.view_drawn_network(pic, 2, data.y, 0.8)
    np.testing.assert_array_equal(view.theta, pic.thetas[2])
    np.testing.assert_allclose(view.point_log_lik,
                               pp.log_likelihood_per_point(pic.data_logits[2], data.y))
    probs = pp.boundary_probabilities(pic, 2)
    assert probs.shape == (2, 5, 5)
    second = pp.view_drawn_network(pic, 1, data.y, 0.8)
    np.testing.assert_allclose(probs[1].ravel(), second.plane_probs[:, 1])


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


def test_grid_time_sentence_switches_from_seconds_to_years():
    """Below a year the grid's time is in seconds; above, in years as a power of ten."""
    assert pp.grid_time_sentence(pp.grid_cost(2, 10)).endswith("takes 1e-07 s.")
    sentence = pp.grid_time_sentence(pp.grid_cost(337, 10))
    assert "**3.2 × 10³²⁰ years**" in sentence and "1.4 × 10¹⁰ years old" in sentence


def test_likelihood_is_named_by_the_number_of_classes():
    """Two classes: a Bernoulli on one logit; more: a categorical on the softmax."""
    assert pp.likelihood_name(2) == "Bernoulli on σ(f(x))"
    assert pp.likelihood_name(3) == "categorical on softmax(f(x))"


def test_evidence_on_grids_converges_and_the_table_shows_every_row():
    """The 2-parameter log evidence stops changing on finer grids, and the table has one row
    per grid with its size, value and milliseconds."""
    rows = pp.evidence_on_grids((50, 100, 200))
    assert [g for g, _, _ in rows] == [50, 100, 200]
    assert abs(rows[1][1] - rows[2][1]) < 1e-4 and all(s >= 0 for _, _, s in rows)
    table = pp.evidence_table_markdown(rows)
    assert "over [−7.5, 7.5]² (prior σ = 1.5, 40 points)" in table
    assert f"| 100 × 100 = 10,000 | {rows[1][1]:.8f} | {rows[1][2] * 1000:.1f} ms |" in table


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
    """view_network's log P(θ), class probabilities and log-likelihoods equal the pieces
    computed one by one, and the data's padding is ignored."""
    theta = np.array([0.3, -1.0, 2.0])
    logits = np.array([[0.5], [-2.0], [1.0], [3.0], [99.0]])  # 2 plane points, 2 data, 1 pad
    y = np.array([1, 0])
    view = pp.view_network(theta, logits, 2, y, 0.9)
    assert view.log_prior == pytest.approx(float(pp.log_prior(theta, 0.9)))
    np.testing.assert_allclose(view.plane_probs[:, 1], 1 / (1 + np.exp([-0.5, 2.0])))
    np.testing.assert_allclose(view.point_log_lik,
                               [np.log(1 / (1 + np.exp(-1.0))), np.log(1 / (1 + np.exp(3.0)))])


def test_time_warm_reports_the_median_after_a_first_call():
    """time_warm returns fn's result and a median of the timed calls, not the first one's."""
    calls = []
    result, seconds = pp.time_warm(lambda: calls.append(1) or len(calls), repeats=3)
    assert result == 4 and len(calls) == 4 and seconds >= 0


def test_in_background_hands_back_the_result_or_the_exception():
    """in_background's future holds fn's result, or raises fn's exception when read."""
    assert pp.in_background(lambda: 41 + 1).result(timeout=10) == 42
    with pytest.raises(ZeroDivisionError):
        pp.in_background(lambda: 1 / 0).result(timeout=10)
