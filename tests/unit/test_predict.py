"""bnnlab.predict: the uncertainty decomposition and metrics against hand-computed values."""

import numpy as np
import pytest

from bnnlab.core import predict


def test_decomposition_of_disagreeing_confident_samples():
    """Samples p=0 and p=1: mean 0.5, total ln 2, aleatoric 0, epistemic ln 2."""
    pred = predict.decompose(np.array([[0.0], [1.0]]))
    np.testing.assert_allclose([pred.mean[0], pred.total[0], pred.aleatoric[0],
                                pred.epistemic[0]], [0.5, np.log(2), 0.0, np.log(2)], atol=1e-7)


def test_identical_samples_have_no_epistemic_uncertainty():
    """When every sample agrees, total = aleatoric and epistemic = 0."""
    pred = predict.decompose(np.tile([[0.2, 0.7, 0.5]], (16, 1)))
    np.testing.assert_allclose(pred.total, pred.aleatoric, atol=1e-6)
    np.testing.assert_allclose(pred.epistemic, 0, atol=1e-6)


def test_single_sample_epistemic_is_exactly_zero():
    """A point estimate (S = 1) has epistemic uncertainty exactly 0."""
    assert np.all(predict.decompose(np.array([[0.3, 0.9]])).epistemic == 0)


def test_total_is_aleatoric_plus_epistemic():
    """H[mean] = E[H] + MI for random sample probabilities."""
    probs = np.random.default_rng(0).uniform(size=(8, 100))
    pred = predict.decompose(probs)
    np.testing.assert_allclose(pred.total, pred.aleatoric + pred.epistemic, atol=1e-6)


def test_binary_entropy_values():
    """H(0) = H(1) = 0, H(0.5) = ln 2."""
    np.testing.assert_allclose(predict.binary_entropy(np.array([0, 1, 0.5])), [0, 0, np.log(2)])


def test_metrics_on_a_hand_example():
    """Accuracy, NLL and ECE equal their hand-computed values."""
    p = np.array([0.9, 0.8, 0.3, 0.6])
    y = np.array([1, 0, 0, 1])
    assert predict.accuracy(p, y) == 0.75
    expected_nll = -np.mean(np.log([0.9, 0.2, 0.7, 0.6]))
    assert abs(predict.nll(p, y) - expected_nll) < 1e-12
    # confidences 0.9, 0.8, 0.7, 0.6 land in 4 bins of one point each; correct: 1, 0, 1, 1
    expected_ece = (abs(1 - 0.9) + abs(0 - 0.8) + abs(1 - 0.7) + abs(1 - 0.6)) / 4
    assert abs(predict.ece(p, y) - expected_ece) < 1e-12


def test_far_probe_points_are_far():
    """Every far probe point is at distance ≥ 2 from every training point, and some exist."""
    x = np.random.default_rng(1).normal(size=(200, 2)).astype(np.float32)
    far = predict.far_probe_points(x)
    assert len(far) > 100
    assert np.sqrt(((far[:, None] - x[None]) ** 2).sum(-1)).min() >= 2.0


def test_grid_covers_the_data_and_zooms_out():
    """The grid spans the data plus margin; zoom 3 spans three times as wide."""
    x = np.array([[0.0, 0.0], [1.0, 2.0]], np.float32)
    xs, ys, points = predict.make_grid(x, 11, margin=0.5)
    assert xs[0] == -0.5 and xs[-1] == 1.5 and ys[0] == -0.5 and ys[-1] == 2.5
    assert points.shape == (121, 2)
    xs3, _, _ = predict.make_grid(x, 11, margin=0.5, zoom=3.0)
    np.testing.assert_allclose(xs3[-1] - xs3[0], 3 * (xs[-1] - xs[0]), rtol=1e-6)


def test_make_grid_ignores_non_finite_points():
    """A non-finite point (only tests can inject one: CSV loading refuses them) does not turn
    the grid into NaN; with no finite point the box is [-1, 1]² plus the margin."""
    x = np.array([[0.0, 0.0], [1.0, 2.0], [np.inf, 0.0], [np.nan, 1.0]])
    xs, ys, grid = predict.make_grid(x, 5, margin=0.5)
    np.testing.assert_allclose([xs[0], xs[-1], ys[0], ys[-1]], [-0.5, 1.5, -0.5, 2.5])
    assert np.isfinite(grid).all()
    xs, _, _ = predict.make_grid(np.full((3, 2), np.nan), 3, margin=0.5)
    np.testing.assert_allclose([xs[0], xs[-1]], [-1.5, 1.5])


def test_ece_against_hand_binning():
    """The one top-label ECE (10 bins over [1/K, 1]): confidences 0.95, 0.95, 0.55, 0.55 of two
    classes fall in bins (0.9, 0.95] and (0.5, 0.55]; ECE = ½|1 − 0.95| + ½|0.5 − 0.55| = 0.05."""
    mean_prob = np.array([[0.95, 0.05], [0.05, 0.95], [0.55, 0.45], [0.45, 0.55]])
    y = np.array([0, 1, 0, 0])
    assert predict.multiclass_ece(mean_prob, y) == pytest.approx(0.05)
    # One bin: |accuracy − mean confidence| over everything.
    assert predict.multiclass_ece(mean_prob, y, num_bins=1) == pytest.approx(
        abs(0.75 - 0.75))


def test_ece_bin_edges_are_right_closed():
    """A confidence exactly at an edge (0.6 with 5 bins over [0.5, 1]) belongs to the bin ending
    there."""
    mean_prob = np.array([[0.6, 0.4], [0.8, 0.2]])
    y = np.array([1, 0])
    # bins: (0.5, 0.6] holds 0.6 (wrong), (0.7, 0.8] holds 0.8 (right).
    assert predict.multiclass_ece(mean_prob, y, num_bins=5) == pytest.approx(
        0.5 * 0.6 + 0.5 * 0.2)


@pytest.mark.parametrize("draws", [1, 2, 3, 9, 32])
@pytest.mark.parametrize("classes", [0, 3])
def test_uncertainty_means_equal_the_generic_jackknife(draws, classes):
    """The metrics' uncertainty means and their SEs, computed from block sums, equal
    `jackknife_se` of the split's means over the draws left in (binary and K classes; one
    draw left in a block has epistemic 0, as a single draw does)."""
    rng = np.random.default_rng(draws + classes)
    if classes:
        probs = rng.dirichlet(np.ones(classes), size=(draws, 40))
        split, entropy = predict.categorical_split, predict.categorical_entropy
    else:
        probs = rng.uniform(0, 1, (draws, 40))
        probs[:, :3] = [0.0, 1.0, 0.5]  # the entropies' edges
        split, entropy = predict.uncertainty_split, predict.binary_entropy

    def means(p):
        _, total, _, epistemic = split(p, np)
        return np.array([np.mean(total), np.mean(epistemic)])

    got = predict._uncertainty_means(probs, entropy)
    expected, se = means(probs), predict.jackknife_se(probs, means)
    assert [got["entropy"], got["epistemic"]] == pytest.approx(expected, abs=1e-12)
    assert [got["entropy_se"], got["epistemic_se"]] == pytest.approx(se, abs=1e-12)
