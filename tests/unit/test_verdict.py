"""The one verdict (bnnlab.core.verdict) on crafted numbers, and the Monte Carlo errors and
epistemic means behind it (bnnlab.core.predict) against closed forms."""

import math

import numpy as np
import pytest

from bnnlab.core import predict, verdict

LN2 = math.log(2)


@pytest.mark.parametrize("near, far, acc, k, kind", [
    (0.028, 0.245, 0.99, 2, verdict.KNOWS),  # HMC on moons at the defaults (CLI, seed 0)
    (0.115, 0.109, 0.98, 2, verdict.UNSURE),  # VI at β = 1: as unsure near as far
    (0.000, 0.000, 0.99, 2, verdict.CONFIDENT),  # MAP: one network, epistemic exactly 0
    (0.011, 0.007, 0.99, 2, verdict.CONFIDENT),  # dropout
    (0.02, 0.06, 0.99, 2, verdict.CONFIDENT),  # 3× more far, but 0.06 < 0.069: no doubt
    (0.30, 0.05, 0.95, 2, verdict.UNSURE),  # doubt near the data, none far: not "confident"
    (0.01, 0.10, 0.40, 3, verdict.NOT_LEARNT),  # 3-arm spiral, accuracy near chance 1/3
    (0.05, 0.15, 0.70, 2, verdict.KNOWS),  # 0.70 is 0.4 of the way from 0.5 to 1: learnt
    (0.05, 0.15, 0.66, 2, verdict.NOT_LEARNT),  # 0.66 is not a third of the way
    (0.02, 0.09, 0.99, 3, verdict.CONFIDENT),  # the doubt threshold scales with ln K: 0.11
    (0.02, 0.12, 0.99, 3, verdict.KNOWS),
])
def test_four_outcomes_on_crafted_numbers(near, far, acc, k, kind):
    said = verdict.judge(near, far, acc, k)
    assert said.kind == kind and said.headline == verdict.HEADLINES[kind]
    assert said.sentence


def test_an_untrained_model_has_not_learnt_whatever_its_numbers():
    """An untrained network may read 0.68 / 0.66 nats of total entropy: no verdict on that."""
    said = verdict.judge(0.01, 0.30, 0.99, 2, trained=False)
    assert said.kind == verdict.NOT_LEARNT and "Not trained" in said.sentence


def test_the_thresholds_sit_where_the_docstring_says():
    doubt = verdict.FAR_DOUBT * LN2
    assert verdict.judge(0.0, doubt, 1.0, 2).kind == verdict.KNOWS
    assert verdict.judge(0.0, doubt * 0.999, 1.0, 2).kind == verdict.CONFIDENT
    assert verdict.judge(0.1, 0.2, 1.0, 2).kind == verdict.KNOWS  # exactly 2×
    assert verdict.judge(0.1, 0.1999, 1.0, 2).kind == verdict.UNSURE


def test_chance_is_the_largest_class_share():
    assert verdict.chance_accuracy(2) == 0.5 and verdict.chance_accuracy(4) == 0.25
    assert verdict.chance_accuracy(2, [0, 0, 0, 1]) == 0.75
    # 90% of one class: 0.9 accuracy is chance, not learning
    assert verdict.judge(0.0, 0.3, 0.9, 2, chance=0.9).kind == verdict.NOT_LEARNT


def test_without_far_points_only_near_is_read():
    said = verdict.judge(0.01, float("nan"), 0.95, 2)
    assert said.kind == verdict.CONFIDENT and "No probe point" in said.sentence


def test_judge_metrics_falls_back_to_train_accuracy():
    m = predict.Metrics(0.95, float("nan"), float("nan"), float("nan"), 0.1, 0.5,
                        epistemic_near=0.01, epistemic_far=0.2)
    assert verdict.judge_metrics(m, 2).kind == verdict.KNOWS
    assert verdict.judge_metrics(m._asdict(), 2).kind == verdict.KNOWS


def test_jackknife_of_a_mean_is_the_standard_error_of_the_block_means():
    """For a linear statistic the delete-a-block jackknife is exact: the SE of the mean of B
    equal blocks' means, sqrt(Σ (m_b − m̄)² / (B (B − 1)))."""
    x = np.random.default_rng(0).normal(size=64)
    se = predict.jackknife_se(x, lambda d: np.mean(d))
    blocks = x.reshape(predict.SE_BLOCKS, -1).mean(axis=1)
    b = predict.SE_BLOCKS
    expected = math.sqrt(((blocks - blocks.mean()) ** 2).sum() / (b * (b - 1)))
    assert float(se) == pytest.approx(expected, rel=1e-12)


def test_identical_draws_have_no_monte_carlo_error_and_no_epistemic():
    """MAP: its draws are one network repeated, so epistemic is 0 and so are the errors."""
    p = np.tile(np.array([[0.1, 0.5, 0.97]]), (32, 1))
    far = np.tile(np.array([[0.3, 0.6]]), (32, 1))
    m = predict.metrics_from_probs(p, np.array([0, 1, 1]), p, np.array([0, 1, 1]), far)
    assert m.epistemic_near == pytest.approx(0, abs=1e-12) and m.epistemic_far < 1e-12
    assert max(m.entropy_near_se, m.entropy_far_se, m.epistemic_far_se) < 1e-12
    assert m.entropy_near == pytest.approx(np.mean(predict.binary_entropy(p[0])))


def test_epistemic_is_the_mutual_information_of_the_draws():
    """Two draws that disagree completely at one point (0 and 1): the mean is 0.5, total ln 2,
    aleatoric 0, so the mutual information is ln 2; the K-class path gives the same."""
    p = np.array([[0.0], [1.0]])
    m = predict.metrics_from_probs(p, np.array([1]), p, np.array([1]), p)
    assert m.epistemic_near == pytest.approx(LN2) and m.epistemic_far == pytest.approx(LN2)
    two = np.stack([1 - p, p], axis=-1)
    k = predict.metrics_from_probs(two, np.array([1]), two, np.array([1]), two)
    assert k.epistemic_far == pytest.approx(LN2) and k.entropy_far == pytest.approx(LN2)


def test_monte_carlo_errors_shrink_with_more_draws():
    """Independent draws: the SE of the mean entropy falls about as 1/sqrt(S)."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0.05, 0.95, size=(4096, 50))
    few = predict.metrics_from_probs(x[:64], np.ones(50), x[:64], np.ones(50), x[:64])
    many = predict.metrics_from_probs(x, np.ones(50), x, np.ones(50), x)
    assert few.epistemic_far_se > 0 and many.epistemic_far_se < few.epistemic_far_se / 4


def test_an_exact_two_class_tie_is_class_0_on_both_paths():
    """p̄ = 0.5 exactly: the Bernoulli path (p̄ > 0.5 is class 1) and the categorical path
    (argmax, ties to the lower class) both say class 0, so their accuracies agree."""
    p = np.array([0.5, 0.5, 0.9])
    y = np.array([0, 1, 1])
    two = np.stack([1 - p, p], axis=-1)
    assert list(predict.predicted_class(two)) == [0, 0, 1]
    assert predict.accuracy(p, y) == predict.class_metrics(two, y)[0] == pytest.approx(2 / 3)
    assert predict.ece(p, y) == pytest.approx(predict.multiclass_ece(two, y))
