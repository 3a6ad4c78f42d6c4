"""Predictive distribution, its uncertainty decomposition, and metrics.

For posterior draws θ_s (s = 1..S) with p_s(x) = P(y=1 | x, θ_s):

* mean probability  p̄ = (1/S) Σ_s p_s
* total uncertainty      H[p̄]                  (entropy of the mean, nats)
* aleatoric uncertainty  (1/S) Σ_s H[p_s]       (expected entropy)
* epistemic uncertainty  H[p̄] − (1/S) Σ_s H[p_s] (mutual information between y and θ, ≥ 0)

(Depeweg et al. 2018; Smith & Gal 2018.) A point estimate (MAP, S = 1) has epistemic exactly 0.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

EPS = 1e-7


class Predictive(NamedTuple):
    """Per-point predictive summaries: float32[n] each (or [rows, cols] on a grid)."""

    mean: np.ndarray
    total: np.ndarray
    aleatoric: np.ndarray
    epistemic: np.ndarray


def binary_entropy(p, xp=np):
    """H[Bernoulli(p)] in nats, exactly 0 at p ∈ {0, 1}. `xp` is `numpy` (float64) or
    `jax.numpy` (the engine's on-device summary): one definition for both."""
    if xp is np:
        p = np.asarray(p, np.float64)
    # log of a safe value where the branch is not taken: no NaN or warning, even under jit.
    log_p = xp.log(xp.where(p > 0, p, 1.0))
    log_q = xp.log1p(-xp.where(p < 1, p, 0.0))
    return -(xp.where(p > 0, p * log_p, 0.0) + xp.where(p < 1, (1 - p) * log_q, 0.0))


def uncertainty_split(probs, xp=np):
    """`probs: float[S, ...]` sample-wise P(y=1) -> (mean, total, aleatoric, epistemic) over the
    trailing shape, in `xp` (numpy or jax.numpy). One draw (S = 1) has epistemic exactly 0."""
    return _entropy_split(probs, binary_entropy, xp)


def _entropy_split(probs, entropy, xp):
    """(mean, H[mean], mean of H, their difference ≥ 0) over the sample axis 0."""
    mean = probs.mean(axis=0)
    total = entropy(mean, xp)
    aleatoric = entropy(probs, xp).mean(axis=0)
    if probs.shape[0] == 1:
        epistemic = xp.zeros_like(total)
    else:
        epistemic = xp.maximum(total - aleatoric, 0.0)
    return mean, total, aleatoric, epistemic


def categorical_entropy(p, xp=np):
    """H[Categorical(p)] = −Σ_k p_k log p_k in nats over the last axis, 0 log 0 = 0."""
    if xp is np:
        p = np.asarray(p, np.float64)
    log_p = xp.log(xp.where(p > 0, p, 1.0))
    return -xp.sum(xp.where(p > 0, p * log_p, 0.0), axis=-1)


def categorical_split(probs, xp=np):
    """`probs: float[S, ..., K]` sample-wise class probabilities -> (mean float[..., K], total,
    aleatoric, epistemic float[...]) in nats: the same split as `uncertainty_split`, over K
    classes (with K = 2 it equals the binary one at p = probs[..., 1]). One draw: epistemic 0."""
    return _entropy_split(probs, categorical_entropy, xp)


class CategoricalMetrics(NamedTuple):
    """Test metrics of a K-class predictive."""

    test_acc: float  # share of argmax_k p̄_k == y
    test_nll: float  # mean −log p̄_y (nats)
    ece: float  # top-label ECE, 15 bins (`ood_metrics.expected_calibration_error`)
    entropy_near: float  # mean predictive entropy on the test inputs (nats)


def categorical_metrics(probs: np.ndarray, y: np.ndarray) -> CategoricalMetrics:
    """`probs: float[S, n, K]`, `y: int[n]` -> `CategoricalMetrics` of the mean predictive."""
    from bnnlab import ood_metrics

    mean, total, _, _ = categorical_split(np.asarray(probs, np.float64))
    y = np.asarray(y).reshape(-1)
    p_true = np.clip(mean[np.arange(len(y)), y], EPS, 1.0)
    return CategoricalMetrics(
        test_acc=float(np.mean(mean.argmax(axis=-1) == y)),
        test_nll=float(-np.mean(np.log(p_true))),
        ece=ood_metrics.expected_calibration_error(mean, y),
        entropy_near=float(np.mean(total)))


def decompose(probs: np.ndarray) -> Predictive:
    """`probs: float[S, ...]` sample-wise P(y=1) -> `Predictive` over the trailing shape."""
    parts = uncertainty_split(np.asarray(probs, np.float64), np)
    return Predictive(*(a.astype(np.float32) for a in parts))


def accuracy(mean_prob: np.ndarray, y: np.ndarray) -> float:
    """Share of points whose thresholded mean probability (0.5) equals the label."""
    return float(np.mean((np.asarray(mean_prob) > 0.5) == (np.asarray(y) == 1)))


def nll(mean_prob: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log predictive probability of the labels (nats per point)."""
    p = np.clip(np.asarray(mean_prob, np.float64), EPS, 1 - EPS)
    y = np.asarray(y)
    return float(-np.mean(np.where(y == 1, np.log(p), np.log1p(-p))))


def ece(mean_prob: np.ndarray, y: np.ndarray, num_bins: int = 10) -> float:
    """Expected calibration error (Guo et al. 2017): confidence max(p, 1−p) in equal-width
    bins over [0.5, 1], Σ_b (n_b / n) |accuracy_b − confidence_b|."""
    p = np.asarray(mean_prob, np.float64)
    y = np.asarray(y)
    confidence = np.maximum(p, 1 - p)
    correct = (p > 0.5) == (y == 1)
    return _binned_calibration_error(confidence, correct, 0.5, num_bins)


def multiclass_ece(mean_probs: np.ndarray, y: np.ndarray, num_bins: int = 10) -> float:
    """Top-label expected calibration error of K-class predictions `mean_probs: float[n, K]`:
    confidence max_k p̄_k in `num_bins` equal-width bins over [1/K, 1], Σ_b (n_b / n)
    |accuracy_b − confidence_b| (Guo et al. 2017). With K = 2 it equals `ece` at p = p̄_1."""
    p = np.asarray(mean_probs, np.float64)
    y = np.asarray(y).reshape(-1)
    k = p.shape[-1]
    confidence = p.max(axis=-1)
    # argmax, ties to the higher class: as `ece`'s p > 0.5 threshold for K = 2
    predicted = k - 1 - np.argmax(p[:, ::-1], axis=-1)
    correct = predicted == y
    return _binned_calibration_error(confidence, correct, 1.0 / k, num_bins)


def _binned_calibration_error(confidence: np.ndarray, correct: np.ndarray, lowest: float,
                              num_bins: int) -> float:
    """Σ_b (n_b / n) |accuracy_b − confidence_b| over `num_bins` equal-width confidence bins on
    [`lowest`, 1] (`lowest`: 1/K, the least a top-label confidence can be)."""
    edges = np.linspace(lowest, 1.0, num_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, num_bins - 1)
    total = 0.0
    for b in range(num_bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(total)


def class_metrics(mean_probs: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(accuracy, NLL, ECE) of K-class mean predictions `mean_probs: float[n, K]` against
    `y: int[n]`: argmax accuracy (ties to the higher class), mean −log p̄_y (nats) and
    `multiclass_ece`. With K = 2 these equal `accuracy`, `nll` and `ece` at p = p̄_1."""
    p = np.asarray(mean_probs, np.float64)
    y = np.asarray(y).reshape(-1)
    k = p.shape[-1]
    predicted = k - 1 - np.argmax(p[:, ::-1], axis=-1)
    p_true = np.clip(p[np.arange(len(y)), y], EPS, 1 - EPS)
    return (float(np.mean(predicted == y)), float(-np.mean(np.log(p_true))),
            multiclass_ece(p, y))


def make_grid(x: np.ndarray, size: int, margin: float = 0.5,
              zoom: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A square grid around the points `x: float[n, 2]`.

    The box is the data's bounding box plus `margin` on each side, scaled by `zoom` about its
    centre (zoom > 1 shows far from the data). Returns `(xs float32[size], ys float32[size],
    points float32[size*size, 2])`, points row-major over (ys, xs). Non-finite points are left
    out of the box (with none left, the box is [−1, 1]² plus the margin).
    """
    x = np.asarray(x, np.float64).reshape(-1, 2)
    x = x[np.isfinite(x).all(axis=1)]
    if len(x) == 0:
        x = np.array([[-1.0, -1.0], [1.0, 1.0]])
    lo = x.min(axis=0) - margin
    hi = x.max(axis=0) + margin
    centre, half = (lo + hi) / 2, (hi - lo) / 2 * zoom
    xs = np.linspace(centre[0] - half[0], centre[0] + half[0], size, dtype=np.float32)
    ys = np.linspace(centre[1] - half[1], centre[1] + half[1], size, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)


# Near and far, one definition for the CLI and every page. Near: the held-out test points. Far:
# the nodes of a FAR_PROBE_GRID² grid over [−FAR_EXTENT, FAR_EXTENT]² (standardised units) at
# distance ≥ FAR_MIN_DISTANCE from every training point.
FAR_MIN_DISTANCE = 2.0
FAR_EXTENT = 6.0
FAR_PROBE_GRID = 41
EVAL_SAMPLES = 64  # posterior draws behind every metric (an ensemble uses its M members)


def far_probe_points(x_train: np.ndarray, min_distance: float = FAR_MIN_DISTANCE,
                     extent: float = FAR_EXTENT, size: int = FAR_PROBE_GRID) -> np.ndarray:
    """Probe points at distance ≥ `min_distance` from every training point: the nodes of a
    `size`² grid over [−extent, extent]² (standardised units) that qualify. float32[m, 2].
    Leave the defaults alone to get the definition every metric uses."""
    axis = np.linspace(-extent, extent, size, dtype=np.float32)
    gx, gy = np.meshgrid(axis, axis)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    x_train = np.asarray(x_train, np.float32).reshape(-1, 2)
    if len(x_train) == 0:
        return grid
    # In blocks of probes: a 1681 × 5000 × 2 difference array at once is 67 MB.
    d2 = np.concatenate([((block[:, None, :] - x_train[None, :, :]) ** 2).sum(-1).min(axis=1)
                         for block in np.array_split(grid, max(1, len(grid) // 256))])
    return grid[d2 >= min_distance**2]


class Metrics(NamedTuple):
    train_acc: float
    test_acc: float
    test_nll: float
    ece: float
    entropy_near: float  # mean total entropy on held-out test points
    entropy_far: float  # mean total entropy on `far_probe_points` (NaN when there are none)


def metrics_from_probs(probs_train: np.ndarray, y_train: np.ndarray, probs_test: np.ndarray,
                       y_test: np.ndarray, probs_far: np.ndarray) -> Metrics:
    """Metrics from sample-wise probabilities on train, test and far points: `float[S, n]`
    (binary, P(y = 1)) or `float[S, n, K]` (K classes: argmax accuracy, NLL, top-label ECE
    `multiclass_ece`, entropies over K classes; K = 2 gives the binary numbers)."""
    if np.ndim(probs_train) == 3:
        return _class_metrics_from_probs(probs_train, y_train, probs_test, y_test, probs_far)
    train = decompose(probs_train)
    test = decompose(probs_test)
    far = decompose(probs_far)
    return Metrics(
        train_acc=accuracy(train.mean, y_train),
        test_acc=accuracy(test.mean, y_test),
        test_nll=nll(test.mean, y_test),
        ece=ece(test.mean, y_test),
        entropy_near=float(np.mean(test.total)) if test.total.size else float("nan"),
        entropy_far=float(np.mean(far.total)) if far.total.size else float("nan"),
    )


def _class_metrics_from_probs(probs_train, y_train, probs_test, y_test, probs_far) -> Metrics:
    train = categorical_split(np.asarray(probs_train, np.float64))
    test = categorical_split(np.asarray(probs_test, np.float64))
    far = categorical_split(np.asarray(probs_far, np.float64))
    train_acc = class_metrics(train[0], y_train)[0] if len(y_train) else float("nan")
    test_acc, test_nll, test_ece = (class_metrics(test[0], y_test) if len(y_test)
                                    else (float("nan"),) * 3)
    return Metrics(
        train_acc=train_acc, test_acc=test_acc, test_nll=test_nll, ece=test_ece,
        entropy_near=float(np.mean(test[1])) if test[1].size else float("nan"),
        entropy_far=float(np.mean(far[1])) if far[1].size else float("nan"),
    )


def summary_parts(summary: np.ndarray, num_classes: int) -> tuple[Predictive, np.ndarray | None]:
    """Split an engine's `predictive_summary` (float32[4, n] binary, [K + 3, n] categorical)
    into a `Predictive` and the K class probabilities float32[K, n] (None when binary). For K
    classes the Predictive's `mean` is the probability of the predicted class, max_k p̄_k."""
    summary = np.asarray(summary)
    if summary.shape[0] == 4 and num_classes <= 2:
        return Predictive(*summary), None
    probs = summary[:-3]
    return Predictive(probs.max(axis=0), *summary[-3:]), probs


def evaluate(engine, state, data, rng_key, num_samples: int = EVAL_SAMPLES,
             far_points: np.ndarray | None = None) -> Metrics:
    """The metrics of a run, one definition for the CLI and the pages.

    `engine`: a `bnnlab.engine.Engine`; `state`: its `TrainState`; `data`: a
    `datasets.Dataset` (standardised `x_train`, `y_train`, `x_test`, `y_test`); `rng_key`: the
    key of the posterior draws, shared by every point (one `sample_probs` call).
    `far_points` defaults to `far_probe_points(data.x_train)`; pass it to reuse a cached copy.
    """
    far = far_probe_points(data.x_train) if far_points is None else far_points
    parts = [np.asarray(data.x_train, np.float32).reshape(-1, 2),
             np.asarray(data.x_test, np.float32).reshape(-1, 2),
             np.asarray(far, np.float32).reshape(-1, 2)]
    probs = np.asarray(engine.sample_probs(rng_key, state, np.concatenate(parts),
                                           num_samples=num_samples))
    ends = np.cumsum([len(p) for p in parts])
    return metrics_from_probs(probs[:, :ends[0]], data.y_train, probs[:, ends[0]:ends[1]],
                              data.y_test, probs[:, ends[1]:])


# Far entropy under this many nats is a confident prediction whatever the ratio says (p ≈ 0.98
# for the likelier class): the VI talk recipe measured 0.005 near and 0.020 far, 4× but sure.
CONFIDENT_ENTROPY = 0.1
SAYS_I_DONT_KNOW = 2.0  # far/near at least this: the playground's "Say I don't know" criterion


def far_near_reading(entropy_near: float, entropy_far: float) -> str:
    """One line that reads the two entropies (nats) honestly: the ratio far/near, and whether
    the far predictions are actually uncertain (a coin flip is ln 2 ≈ 0.69 nats)."""
    if not (np.isfinite(entropy_near) and np.isfinite(entropy_far)):
        return "No probe points lie far from the data here, so far/near cannot be measured."
    ratio = entropy_far / max(entropy_near, 1e-12)
    text = f"far/near = {ratio:.1f}×"
    if ratio >= SAYS_I_DONT_KNOW and entropy_far >= CONFIDENT_ENTROPY:
        return f"{text}: it knows where it has no data."
    if ratio >= SAYS_I_DONT_KNOW:
        return (f"{text}, but far from the data it is still sure ({entropy_far:.2f} nats; a coin "
                "flip is 0.69): less confident there, not \"I don't know\".")
    if ratio >= 1.2:
        return (f"{text}: a little less sure far from the data, not enough to say "
                "\"I don't know\".")
    return (f"{text}: as confident far from the data as near it — it does not say "
            "\"I don't know\".")
