"""bnnlab.ood_metrics against exact references: brute-force pair counts, hand-computed
entropies and bins, brute-force nearest neighbours."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bnnlab.core import ood_metrics as om


def _pairwise_auroc(s_in, s_out) -> float:
    wins = sum(1.0 if o > i else 0.5 if o == i else 0.0
               for i, o in itertools.product(s_in, s_out))
    return wins / (len(s_in) * len(s_out))


def test_auroc_equals_brute_force_pair_count_with_ties():
    """AUROC = #(out > in) + ½ #(out = in) over all pairs, on integer scores full of ties."""
    rng = np.random.default_rng(0)
    for _ in range(30):
        s_in = rng.integers(0, 6, size=rng.integers(1, 40)).astype(float)
        s_out = rng.integers(0, 6, size=rng.integers(1, 40)).astype(float)
        assert om.auroc(s_in, s_out) == pytest.approx(_pairwise_auroc(s_in, s_out), abs=1e-12)


def test_auroc_extremes_and_symmetry():
    """Perfect separation gives 1, reversed 0, identical constant scores ½."""
    assert om.auroc([0.1, 0.2], [0.3, 0.9]) == 1.0
    assert om.auroc([0.3, 0.9], [0.1, 0.2]) == 0.0
    assert om.auroc([1.0, 1.0, 1.0], [1.0, 1.0]) == 0.5
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=50), rng.normal(size=70)
    assert om.auroc(a, b) + om.auroc(b, a) == pytest.approx(1.0)


def test_auroc_rejects_empty_and_nan():
    """An empty side or a NaN score is a ValueError, not a silent number."""
    with pytest.raises(ValueError):
        om.auroc([], [1.0])
    with pytest.raises(ValueError):
        om.auroc([np.nan], [1.0])


def test_selective_accuracy_matches_hand_computed_curve():
    """Keeping u ≤ t for each distinct t: tied inputs enter together."""
    u = np.array([0.5, 0.1, 0.5, 0.9, 0.1])
    correct = np.array([False, True, True, False, True])
    curve = om.selective_accuracy(u, correct)
    np.testing.assert_allclose(curve.threshold, [0.1, 0.5, 0.9])
    np.testing.assert_allclose(curve.coverage, [0.4, 0.8, 1.0])
    np.testing.assert_allclose(curve.rejected, [0.6, 0.2, 0.0], atol=1e-15)
    np.testing.assert_allclose(curve.accuracy, [1.0, 0.75, 0.6])
    assert om.accuracy_at_rejection(curve, 0.0) == pytest.approx(0.6)
    assert om.accuracy_at_rejection(curve, 0.2) == pytest.approx(0.75)
    assert om.accuracy_at_rejection(curve, 0.5) == pytest.approx(1.0)
    assert np.isnan(om.accuracy_at_rejection(curve, 0.7))


def test_selective_accuracy_brute_force_random():
    """Each point equals the accuracy of the inputs at or below its threshold."""
    rng = np.random.default_rng(2)
    u = rng.integers(0, 10, size=200) / 10.0
    correct = rng.random(200) < 0.7
    curve = om.selective_accuracy(u, correct)
    for t, cov, acc in zip(curve.threshold, curve.coverage, curve.accuracy, strict=True):
        kept = u <= t
        assert cov == pytest.approx(kept.mean())
        assert acc == pytest.approx(correct[kept].mean())


def test_uncertainty_scores_exact_values_and_decomposition():
    """Two samples that disagree with certainty: total = log 2, aleatoric 0, epistemic log 2;
    two identical uniform samples: all aleatoric."""
    probs = np.array([[[1.0, 0.0], [0.5, 0.5]],
                      [[0.0, 1.0], [0.5, 0.5]]], dtype=np.float32)
    u = om.uncertainty_scores(probs)
    np.testing.assert_allclose(u.total, [np.log(2), np.log(2)])
    np.testing.assert_allclose(u.aleatoric, [0.0, np.log(2)])
    np.testing.assert_allclose(u.epistemic, [np.log(2), 0.0], atol=1e-12)
    np.testing.assert_allclose(u.max_prob, [0.5, 0.5])


def test_total_is_aleatoric_plus_epistemic_on_random_probabilities():
    """total = aleatoric + epistemic, epistemic ≥ 0, entropies ≤ log K, on random Dirichlet
    samples with S = 7, K = 10."""
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.full(10, 0.3), size=(7, 40)).astype(np.float32)
    u = om.uncertainty_scores(probs)
    np.testing.assert_allclose(u.total, u.aleatoric + u.epistemic, atol=1e-12)
    assert np.all(u.epistemic >= 0) and np.all(u.total <= np.log(10) + 1e-9)
    p = probs.astype(np.float64)
    ref_total = -np.sum(p.mean(0) * np.log(p.mean(0)), axis=1)
    np.testing.assert_allclose(u.total, ref_total, rtol=1e-10)


def test_nearest_distance_matches_brute_force():
    """Distances equal a brute-force minimum over all pairs (integer pixels: exact)."""
    rng = np.random.default_rng(4)
    x_train = rng.integers(0, 17, size=(300, 64)).astype(np.float32)
    x_query = rng.integers(0, 17, size=(1100, 64)).astype(np.float32)
    x_query[:5] = x_train[:5]
    got = om.nearest_distance(x_query, x_train, chunk=256)
    ref = np.array([np.sqrt(((x_train - q) ** 2).sum(1).min()) for q in x_query.astype(float)])
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    np.testing.assert_array_equal(got[:5], 0.0)
