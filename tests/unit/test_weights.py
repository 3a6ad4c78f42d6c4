"""Tests for bnnlab.weights (the weight-posterior summary) and bnnlab.figures.weights."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from bnnlab.core import models, weights
from bnnlab.figures import weights as weight_figures
from bnnlab.methods import vi


def _kl(m: float, s: float, sp: float) -> float:
    return 0.5 * (s * s / sp / sp + m * m / sp / sp - 1 - math.log(s * s / sp / sp))


def test_from_gaussian_matches_hand_computed_values():
    """Mean, std, SNR, per-weight KL, at-prior flags and share equal values worked by hand."""
    mean = np.array([0.0, 1.0, -2.0, 0.1, 0.0])
    std = np.array([2.0, 0.5, 1.0, 2.0, 1.9])
    s = weights.from_gaussian(mean, std, 2.0)
    np.testing.assert_allclose(s.snr, [0.0, 2.0, 2.0, 0.05, 0.0])
    # ½(r² + m² − 1 − log r²) with r = σ/σₚ, m = μ/σₚ, worked by hand:
    # ½(1/16 + 1/4 − 1 + log 16), ½(1/4 + 1 − 1 + log 4), ½(1/400), ½(0.9025 − 1 − log 0.9025)
    np.testing.assert_allclose(s.kl, [0.0, 1.042544, 0.818147, 0.00125, 0.002543], atol=2e-6)
    expected_kl = [_kl(m, sd, 2.0) for m, sd in zip(mean, std, strict=True)]
    np.testing.assert_allclose(s.kl, expected_kl, rtol=1e-12)
    assert s.at_prior.tolist() == [True, False, False, True, True]
    assert s.share_at_prior == pytest.approx(0.6)
    assert s.median_snr == pytest.approx(0.05)
    assert s.num_weights == 5


def test_kl_per_weight_sums_to_vi_kl():
    """The per-weight KLs add up to `vi.kl_to_prior`, the KL in the ELBO."""
    rng = np.random.default_rng(0)
    mean, std = rng.normal(size=50), rng.uniform(0.1, 3.0, size=50)
    total = float(vi.kl_to_prior(jnp.asarray(mean), jnp.asarray(std), 1.5))
    assert weights.kl_per_weight(mean, std, 1.5).sum() == pytest.approx(total, rel=1e-5)


def test_vi_at_init_is_all_at_prior_and_point_mass_none():
    """q = prior (mean 0, std = prior std, through softplus) counts 100%; std → 0 counts 0%."""
    d, sp = 300, 3.0
    std = np.asarray(vi.std_from_rho(jnp.full(d, vi.rho_from_std(sp))))
    at_init = weights.from_gaussian(np.zeros(d), std, sp)
    assert at_init.share_at_prior == 1.0
    near_point = weights.from_gaussian(np.zeros(d), np.full(d, 1e-6), sp)
    assert near_point.share_at_prior == 0.0
    point = weights.from_gaussian(np.ones(d), np.zeros(d), sp)
    assert point.share_at_prior == 0.0 and np.all(np.isinf(point.snr))


def test_at_prior_threshold_edges():
    """With σ = σₚ, a weight is at the prior iff |μ| < sqrt(2·0.01)·σₚ; with μ = 0 iff σ/σₚ is
    inside the roots of ½(r² − 1 − log r²) = 0.01."""
    sp = 2.0
    edge = math.sqrt(2 * weights.KL_AT_PRIOR) * sp
    s = weights.from_gaussian(np.array([0.99 * edge, 1.01 * edge]), np.full(2, sp), sp)
    assert s.at_prior.tolist() == [True, False]
    assert weights.snr_bound_at_prior() == pytest.approx(math.sqrt(0.02), rel=0.01)
    r = np.array([0.9007, 0.9027, 1.1006, 1.1026])  # roots 0.90172, 1.10161
    s = weights.from_gaussian(np.zeros(4), r * sp, sp)
    assert s.at_prior.tolist() == [False, True, True, False]


def test_from_samples_recovers_known_gaussian():
    """Samples of N(μ, diag σ²) give back μ and σ within Monte Carlo error (5 standard errors)."""
    rng = np.random.default_rng(1)
    num, mu, sigma = 4000, np.array([0.0, 1.0, -3.0, 0.2]), np.array([3.0, 0.5, 1.0, 0.01])
    s = weights.from_samples(mu + sigma * rng.normal(size=(num, 4)), 3.0)
    assert np.all(np.abs(s.mean - mu) < 5 * sigma / math.sqrt(num))
    assert np.all(np.abs(s.std - sigma) < 5 * sigma / math.sqrt(2 * num))
    assert s.kl_threshold == weights.KL_AT_PRIOR  # 3/4000 < 0.01


def test_from_samples_of_the_prior_counts_95_percent():
    """Draws of the prior itself: with the max(0.01, 3/S) cut, 1 − e⁻³ ≈ 95% count as at the
    prior (binomial error over 5,000 weights is < 0.5%; the χ²₂/(2S) law is approximate)."""
    rng = np.random.default_rng(2)
    num, d = 50, 5000
    s = weights.from_samples(2.0 * rng.normal(size=(num, d)), 2.0)
    assert s.kl_threshold == pytest.approx(3.0 / num)
    assert s.share_at_prior == pytest.approx(1 - math.exp(-3), abs=0.03)


def test_from_samples_single_draw_is_a_point_mass():
    """One draw (a MAP network) has std 0 and no weight at the prior."""
    s = weights.from_samples(np.ones((1, 7)), 1.0)
    assert np.all(s.std == 0) and s.share_at_prior == 0.0


def test_full_covariance_and_eigh_give_sqrt_diag():
    """A full covariance, its eigendecomposition, and a precision's, all give σᵢ = sqrt(Σᵢᵢ)."""
    rng = np.random.default_rng(3)
    a = rng.normal(size=(6, 6))
    cov = a @ a.T + 0.1 * np.eye(6)
    mean = rng.normal(size=6)
    expected = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(weights.from_covariance(mean, cov, 1.0).std, expected, rtol=1e-12)
    values, vectors = np.linalg.eigh(cov)
    np.testing.assert_allclose(weights.from_eigh(mean, values, vectors, 1.0).std, expected,
                               rtol=1e-10)
    # Laplace's form: Σ = (GGN + α I)⁻¹ from the GGN's eigenpairs and α.
    ggn, alpha = a.T @ a, 0.25
    laplace_cov = np.linalg.inv(ggn + alpha * np.eye(6))
    g_values, g_vectors = np.linalg.eigh(ggn)
    s = weights.from_eigh(mean, g_values, g_vectors, 2.0, of="precision", shift=alpha)
    np.testing.assert_allclose(s.std, np.sqrt(np.diag(laplace_cov)), rtol=1e-8)
    np.testing.assert_array_equal(s.mean, mean)


def test_invalid_inputs_raise_clear_errors():
    """Bad shapes, negative std and a non-positive prior σ are rejected with ValueError."""
    with pytest.raises(ValueError, match="prior_std"):
        weights.from_gaussian(np.zeros(3), np.ones(3), 0.0)
    with pytest.raises(ValueError, match="same shape"):
        weights.from_gaussian(np.zeros(3), np.ones(4), 1.0)
    with pytest.raises(ValueError, match="std"):
        weights.from_gaussian(np.zeros(3), -np.ones(3), 1.0)
    with pytest.raises(ValueError, match="covariance"):
        weights.from_covariance(np.zeros(3), np.eye(4), 1.0)
    with pytest.raises(ValueError, match="samples"):
        weights.from_samples(np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="layer"):
        weights.from_gaussian(np.zeros(3), np.ones(3), 1.0, layer=np.zeros(2))


@pytest.mark.slow
@pytest.mark.parametrize("hidden", [(32, 32), (5, 3, 7)])
def test_layer_slices_match_ravel_pytree(hidden):
    """`layer_slices` gives the position of every bias and kernel in Flax's raveled params."""
    params = models.make_mlp(hidden).init(jax.random.key(0), jnp.zeros((1, 2)))["params"]
    # Give every leaf distinct values, so a wrong slice cannot match by accident.
    counter = iter(range(10_000))
    params = jax.tree.map(
        lambda leaf: jnp.arange(leaf.size, dtype=jnp.float32).reshape(leaf.shape)
        + 1000 * next(counter), params)
    flat, _ = ravel_pytree(params)
    flat = np.asarray(flat)
    slices = weights.layer_slices(hidden)
    assert len(slices) == len(hidden) + 1
    assert max(s.kernel.stop for s in slices) == flat.size == models.num_params(hidden)
    for s in slices:
        np.testing.assert_array_equal(flat[s.bias], np.asarray(params[s.name]["bias"]).ravel())
        np.testing.assert_array_equal(flat[s.kernel],
                                      np.asarray(params[s.name]["kernel"]).ravel())
        assert params[s.name]["kernel"].shape == (s.fan_in, s.fan_out)
    layer = weights.layer_index(hidden)
    bias = weights.is_bias(hidden)
    for i, s in enumerate(slices):
        assert np.all(layer[s.whole] == i) and np.all(bias[s.bias]) and not np.any(bias[s.kernel])


def test_layer_slices_sort_names_as_flax_does():
    """With ten or more layers Flax's string order puts Dense_10 before Dense_2; so do we."""
    slices = weights.layer_slices((1,) * 10)  # 11 Dense layers
    assert slices[10].bias.start < slices[2].bias.start
    assert sorted(range(11), key=lambda i: slices[i].bias.start) == sorted(
        range(11), key=lambda i: f"Dense_{i}")


def test_layer_table_counts_and_medians():
    """Per-layer rows: counts, share at the prior and medians of σ and SNR, by hand."""
    mean = np.array([0.0, 0.0, 1.0, 2.0, 0.0])
    std = np.array([1.0, 1.0, 0.5, 1.0, 0.1])
    s = weights.from_gaussian(mean, std, 1.0, layer=np.array([0, 0, 1, 1, 1]))
    rows = weights.layer_table(s)
    assert [r.num_weights for r in rows] == [2, 3]
    assert rows[0].share_at_prior == 1.0 and rows[1].share_at_prior == 0.0
    assert rows[1].median_std == 0.5 and rows[1].median_snr == 2.0


def test_display_indices_stratified_and_deterministic():
    """Every layer is represented, the total is capped, indices are unique and sorted by layer,
    and the same call gives the same answer."""
    layer = weights.layer_index((32, 32))  # 96, 1056, 33 weights
    idx = weights.display_indices(layer, 400)
    assert len(idx) == 400 and len(np.unique(idx)) == 400
    assert np.all(np.diff(layer[idx]) >= 0)
    counts = np.bincount(layer[idx])
    assert counts[2] == 33  # the small output layer is drawn whole
    assert counts[0] >= 30 and counts[1] >= 300
    np.testing.assert_array_equal(idx, weights.display_indices(layer, 400))
    small = weights.layer_index((3,))
    np.testing.assert_array_equal(weights.display_indices(small, 400), np.arange(small.size))


def _summary() -> weights.WeightSummary:
    hidden = (32, 32)
    rng = np.random.default_rng(4)
    d = models.num_params(hidden)
    at = rng.random(d) < 0.4
    mean = np.where(at, 0.0, rng.normal(0, 2, d))
    std = np.where(at, 3.0, rng.uniform(0.05, 1.0, d))
    return weights.from_gaussian(mean, std, 3.0, layer=weights.layer_index(hidden))


def test_posterior_bars_figure_shows_displayed_weights_and_prior_band():
    """The error-bar figure draws each displayed weight once, with its σ, over a ±σₚ band."""
    s = _summary()
    idx = weights.display_indices(s.layer)
    fig = weight_figures.posterior_bars(s, idx)
    band = fig.data[0]
    assert "prior" in band.name and max(band.y) == 3.0 and min(band.y) == -3.0
    drawn = np.concatenate([np.asarray(t.customdata)[:, 0] for t in fig.data[1:]])
    assert sorted(drawn.astype(int).tolist()) == sorted(idx.tolist())
    for t in fig.data[1:]:
        np.testing.assert_allclose(t.error_y.array, s.std[np.asarray(t.customdata)[:, 0]
                                                          .astype(int)])
    assert list(fig.layout.xaxis.ticktext) == ["layer 1", "layer 2", "output"]
    assert f"{len(idx)} of {s.num_weights:,}" in fig.layout.title.text


def test_posterior_bars_legend_rounds_the_prior_sigma():
    """A tuned prior σ (Laplace's evidence maximiser, e.g. 2.818381) reads "±2.82" in the
    legend, not "±2.81838"."""
    s = weights.from_gaussian(np.zeros(4), np.ones(4), 2.818381, layer=np.zeros(4, np.int32))
    band = weight_figures.posterior_bars(s).data[0]
    assert band.name == "prior N(0, σₚ²): ±σₚ = ±2.82"


def test_snr_histogram_counts_every_weight_and_prints_share():
    """The histogram's stacked traces hold every weight once; the title prints the share."""
    s = _summary()
    fig = weight_figures.snr_histogram(s)
    assert sum(len(t.x) for t in fig.data) == s.num_weights
    assert f"{100 * s.share_at_prior:.0f}% of {s.num_weights:,}" in fig.layout.title.text
    assert fig.data[1].name.startswith("at the prior") and len(fig.data[1].x) == s.at_prior.sum()


def test_snr_histogram_handles_point_masses():
    """A MAP network (σ = 0, SNR = ∞) is drawn at the right edge, not dropped."""
    s = weights.from_samples(np.full((1, 10), 0.5), 1.0)
    fig = weight_figures.snr_histogram(s)
    assert len(fig.data[0].x) == 10 and np.all(np.isfinite(fig.data[0].x))
    assert "10 off the axis" in fig.layout.title.text
