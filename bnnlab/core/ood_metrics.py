"""Out-of-distribution and selective-classification metrics, pure numpy.

Scores follow one convention: larger means "more likely out of distribution" (more
uncertain). Probabilities come as sampled class probabilities float[S, n, K] (S posterior
samples or ensemble members, n inputs, K classes); MAP is S = 1. Logarithms are natural (nats)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def auroc(scores_in: np.ndarray, scores_out: np.ndarray) -> float:
    """Area under the ROC curve of telling OOD inputs (positives) from in-distribution ones by
    a score: P(score_out > score_in) + ½ P(score_out = score_in) over all pairs, i.e. the
    Mann–Whitney U statistic of the OOD scores divided by n_in · n_out (ties count one half).
    Computed from average ranks in O(n log n). Raises ValueError on an empty side or a
    non-finite score."""
    scores_in = np.asarray(scores_in, dtype=np.float64).reshape(-1)
    scores_out = np.asarray(scores_out, dtype=np.float64).reshape(-1)
    if scores_in.size == 0 or scores_out.size == 0:
        raise ValueError("auroc needs at least one in-distribution and one OOD score")
    if not (np.all(np.isfinite(scores_in)) and np.all(np.isfinite(scores_out))):
        raise ValueError("auroc needs finite scores")
    both = np.concatenate([scores_in, scores_out])
    ranks = _average_ranks(both)
    n_in, n_out = scores_in.size, scores_out.size
    u_out = ranks[n_in:].sum() - n_out * (n_out + 1) / 2.0
    return float(u_out / (n_in * n_out))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """float[n] -> float[n]: 1-based ranks, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], values.size]  # exclusive
    mean_rank = (starts + 1 + ends) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(values.size)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


class SelectiveCurve(NamedTuple):
    """The accuracy-vs-rejection curve: keep inputs whose uncertainty is ≤ a threshold."""
    threshold: np.ndarray  # float64[m], the distinct uncertainties, increasing
    coverage: np.ndarray  # float64[m], fraction of inputs kept (increasing, last = 1)
    rejected: np.ndarray  # float64[m], 1 − coverage
    accuracy: np.ndarray  # float64[m], accuracy on the kept inputs


def selective_accuracy(uncertainty: np.ndarray, correct: np.ndarray) -> SelectiveCurve:
    """Selective classification (El-Yaniv & Wiener 2010): for every distinct uncertainty t,
    the fraction of inputs with uncertainty ≤ t and the accuracy on them. Thresholding at
    the distinct values treats ties exactly (tied inputs are kept or rejected together), so
    the curve has one point per distinct value, not per input. float[n], bool[n] -> curve."""
    uncertainty = np.asarray(uncertainty, dtype=np.float64).reshape(-1)
    correct = np.asarray(correct, dtype=bool).reshape(-1)
    if uncertainty.size == 0 or uncertainty.size != correct.size:
        raise ValueError("selective_accuracy needs matching, non-empty uncertainty and correct")
    if not np.all(np.isfinite(uncertainty)):
        raise ValueError("selective_accuracy needs finite uncertainties")
    order = np.argsort(uncertainty, kind="mergesort")
    u, c = uncertainty[order], correct[order]
    last_of_group = np.flatnonzero(np.r_[u[1:] != u[:-1], True])
    kept = last_of_group + 1
    coverage = kept / u.size
    accuracy = np.cumsum(c)[last_of_group] / kept
    return SelectiveCurve(u[last_of_group], coverage, 1.0 - coverage, accuracy)


def accuracy_at_rejection(curve: SelectiveCurve, rejected: float) -> float:
    """Accuracy of the largest kept set that rejects at least `rejected` of the inputs
    (the curve's point with the highest coverage ≤ 1 − rejected); NaN if there is none."""
    ok = curve.coverage <= 1.0 - rejected + 1e-12
    return float(curve.accuracy[ok][-1]) if ok.any() else float("nan")


class Uncertainty(NamedTuple):
    """Per-input scores from sampled class probabilities (all float64[n], nats)."""
    mean_prob: np.ndarray  # float64[n, K], the predictive p̄ = mean over samples
    total: np.ndarray  # H[p̄], the predictive entropy
    aleatoric: np.ndarray  # E_s H[p_s], the expected entropy
    epistemic: np.ndarray  # total − aleatoric = mutual information I(y; θ) ≥ 0
    max_prob: np.ndarray  # max_k p̄_k (confidence; 1 − max_prob is its OOD score)


def _entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """−Σ p log p along `axis`, with 0 log 0 = 0."""
    safe = np.where(p > 0, p, 1.0)
    return -np.sum(np.where(p > 0, p * np.log(safe), 0.0), axis=axis)


def uncertainty_scores(probs: np.ndarray) -> Uncertainty:
    """float[S, n, K] sampled class probabilities -> `Uncertainty`. The split total =
    aleatoric + epistemic is the standard one for Bayesian deep learning (Houlsby et al. 2011,
    BALD; Depeweg et al. 2018); the epistemic part is clipped at 0 against rounding."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 3:
        raise ValueError(f"probs must be [samples, inputs, classes], got shape {probs.shape}")
    mean_prob = probs.mean(axis=0)
    total = _entropy(mean_prob)
    aleatoric = _entropy(probs).mean(axis=0)
    epistemic = np.maximum(total - aleatoric, 0.0)
    return Uncertainty(mean_prob, total, aleatoric, epistemic, mean_prob.max(axis=-1))


def nearest_distance(x_query: np.ndarray, x_train: np.ndarray, chunk: int = 512) -> np.ndarray:
    """float[m, d], float[n, d] -> float64[m]: Euclidean distance from each query to its
    nearest training input, a model-free OOD score (in the inputs' own units: 0..16 pixels
    for the digits). Computed in chunks of `chunk` queries (memory chunk × n)."""
    x_query = np.asarray(x_query, dtype=np.float64)
    x_train = np.asarray(x_train, dtype=np.float64)
    if x_query.ndim != 2 or x_train.ndim != 2 or x_query.shape[1] != x_train.shape[1]:
        raise ValueError("nearest_distance needs [m, d] queries and [n, d] training inputs")
    if len(x_train) == 0:
        raise ValueError("nearest_distance needs at least one training input")
    train_sq = np.sum(x_train ** 2, axis=1)
    out = np.empty(len(x_query))
    for lo in range(0, len(x_query), chunk):
        q = x_query[lo:lo + chunk]
        d2 = np.sum(q ** 2, axis=1)[:, None] - 2.0 * q @ x_train.T + train_sq[None, :]
        out[lo:lo + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out
