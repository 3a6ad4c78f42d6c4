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
    ece: float  # top-label ECE, 10 bins over [1/K, 1] (`multiclass_ece`)
    entropy_near: float  # mean predictive entropy on the test inputs (nats)


def categorical_metrics(probs: np.ndarray, y: np.ndarray) -> CategoricalMetrics:
    """`probs: float[S, n, K]`, `y: int[n]` -> `CategoricalMetrics` of the mean predictive."""
    mean, total, _, _ = categorical_split(np.asarray(probs, np.float64))
    accuracy_, nll_, ece_ = class_metrics(mean, y)
    return CategoricalMetrics(test_acc=accuracy_, test_nll=nll_, ece=ece_,
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
    correct = predicted_class(p) == y
    return _binned_calibration_error(confidence, correct, 1.0 / k, num_bins)


def predicted_class(mean_probs: np.ndarray) -> np.ndarray:
    """argmax_k p̄_k over the last axis, an exact tie going to the lower class: for K = 2 the
    same as `accuracy`'s threshold p̄_1 > 0.5 (at p̄ = 0.5 exactly, class 0)."""
    return np.argmax(np.asarray(mean_probs), axis=-1)


class Reliability(NamedTuple):
    """A reliability diagram's bins (equal width over [1/K, 1] of top-label confidence): each
    bin's mean confidence, accuracy and number of points (empty bins: None, None, 0)."""

    lowest: float
    confidence: list[float | None]
    accuracy: list[float | None]
    count: list[int]


def reliability(mean_probs: np.ndarray, y: np.ndarray, num_bins: int = 10) -> Reliability:
    """The bins behind `ece` / `multiclass_ece` (a point on the diagonal is calibrated;
    ECE is the count-weighted mean distance from it). `mean_probs`: float[n] P(y = 1), or
    float[n, K]."""
    p = np.asarray(mean_probs, np.float64)
    if p.ndim == 1:
        p = np.stack([1 - p, p], axis=-1)
    y = np.asarray(y).reshape(-1)
    lowest = 1.0 / p.shape[-1]
    confidence = p.max(axis=-1)
    correct = predicted_class(p) == y
    which = _bin_of(confidence, lowest, num_bins)
    conf, acc, count = [], [], []
    for b in range(num_bins):
        in_bin = which == b
        count.append(int(in_bin.sum()))
        conf.append(float(confidence[in_bin].mean()) if in_bin.any() else None)
        acc.append(float(correct[in_bin].mean()) if in_bin.any() else None)
    return Reliability(lowest, conf, acc, count)


def _bin_of(confidence: np.ndarray, lowest: float, num_bins: int) -> np.ndarray:
    edges = np.linspace(lowest, 1.0, num_bins + 1)
    return np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, num_bins - 1)


def _binned_calibration_error(confidence: np.ndarray, correct: np.ndarray, lowest: float,
                              num_bins: int) -> float:
    """Σ_b (n_b / n) |accuracy_b − confidence_b| over `num_bins` equal-width confidence bins on
    [`lowest`, 1] (`lowest`: 1/K, the least a top-label confidence can be)."""
    which = _bin_of(confidence, lowest, num_bins)
    total = 0.0
    for b in range(num_bins):
        in_bin = which == b
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(total)


def class_metrics(mean_probs: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(accuracy, NLL, ECE) of K-class mean predictions `mean_probs: float[n, K]` against
    `y: int[n]`: argmax accuracy (`predicted_class`: ties to the lower class), mean −log p̄_y
    (nats) and `multiclass_ece`. With K = 2 these equal `accuracy`, `nll` and `ece` at
    p = p̄_1, ties included."""
    p = np.asarray(mean_probs, np.float64)
    y = np.asarray(y).reshape(-1)
    predicted = predicted_class(p)
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
MAP_SAMPLES = 32  # posterior draws behind every map (the live maps, Compare's maps)


def far_probe_points(x_train: np.ndarray, min_distance: float = FAR_MIN_DISTANCE,
                     extent: float = FAR_EXTENT, size: int = FAR_PROBE_GRID) -> np.ndarray:
    """Probe points at distance ≥ `min_distance` from every training point: the nodes of a
    `size`² grid over [−extent, extent]² (standardised units) that qualify. float32[m, 2].
    Leave the defaults alone to get the definition every metric uses."""
    grid = _probe_grid(extent, size)
    return grid[far_probe_mask(x_train, min_distance, extent, size)]


def _probe_grid(extent: float, size: int) -> np.ndarray:
    """The probe grid's nodes, row-major over (y, x): float32[size², 2]."""
    axis = np.linspace(-extent, extent, size, dtype=np.float32)
    gx, gy = np.meshgrid(axis, axis)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def far_probe_mask(x_train: np.ndarray, min_distance: float = FAR_MIN_DISTANCE,
                   extent: float = FAR_EXTENT, size: int = FAR_PROBE_GRID) -> np.ndarray:
    """Which nodes of the probe grid (`_probe_grid`, row-major over (y, x)) are far probe
    points: bool[size²]. The live map draws them from this mask."""
    grid = _probe_grid(extent, size)
    x_train = np.asarray(x_train, np.float32).reshape(-1, 2)
    if len(x_train) == 0:
        return np.ones(len(grid), bool)
    # In blocks of probes: a 1681 × 5000 × 2 difference array at once is 67 MB.
    d2 = np.concatenate([((block[:, None, :] - x_train[None, :, :]) ** 2).sum(-1).min(axis=1)
                         for block in np.array_split(grid, max(1, len(grid) // 256))])
    return d2 >= min_distance**2


NAN = float("nan")


class Metrics(NamedTuple):
    train_acc: float
    test_acc: float
    test_nll: float
    ece: float
    entropy_near: float  # mean total entropy on held-out test points
    entropy_far: float  # mean total entropy on `far_probe_points` (NaN when there are none)
    # Mean epistemic uncertainty (mutual information between y and θ) on the same points: the
    # posterior's networks disagreeing, what "I don't know" is about (`bnnlab.core.verdict`).
    epistemic_near: float = NAN
    epistemic_far: float = NAN
    # Monte Carlo standard errors of the four means above (`jackknife_se`): the posterior
    # draws are a sample, so each figure is an estimate. 0 for one network (MAP).
    entropy_near_se: float = NAN
    entropy_far_se: float = NAN
    epistemic_near_se: float = NAN
    epistemic_far_se: float = NAN


SE_BLOCKS = 8  # blocks of consecutive draws in the jackknife (a chain's draws are correlated)


def jackknife_se(probs: np.ndarray, statistic) -> np.ndarray:
    """Monte Carlo standard error of `statistic(probs)` (an array of numbers computed from the
    draws `probs: float[S, ...]`) by the delete-a-block jackknife: `SE_BLOCKS` blocks of
    consecutive draws, each left out in turn, SE² = (B − 1)/B · Σ_b (θ_(b) − θ̄)². Blocks of
    consecutive draws keep most of a Markov chain's autocorrelation inside a block; what mixes
    slower than that (a chain stuck in one mode) no error bar from one chain can show. One
    draw, or identical draws (MAP), give 0."""
    n = probs.shape[0]
    blocks = min(SE_BLOCKS, n)
    if blocks < 2:
        return np.zeros_like(np.asarray(statistic(probs), np.float64))
    parts = np.array_split(np.arange(n), blocks)
    leave_out = np.stack([np.asarray(statistic(np.delete(probs, idx, axis=0)), np.float64)
                          for idx in parts])
    return np.sqrt((blocks - 1) / blocks
                   * ((leave_out - leave_out.mean(axis=0)) ** 2).sum(axis=0))


def _uncertainty_means(probs: np.ndarray, entropy) -> dict[str, float]:
    """Mean total entropy and mean epistemic over the points of `probs: float[S, n(, K)]`
    (`_entropy_split` with `entropy`), with their jackknife SEs; NaN where there are no points.

    The jackknife of `jackknife_se`, computed from block sums: each draw's entropy is computed
    once, and a block left out changes only the mean probabilities (whose entropy is the total)
    and the mean of the draws' entropies (the aleatoric part), not the draws' own entropies. The
    same numbers as `jackknife_se` of the split's means, a fraction of the work (the metrics are
    refreshed for every training learner a few times a second)."""
    if probs.shape[1] == 0:
        return {"entropy": NAN, "epistemic": NAN, "entropy_se": NAN, "epistemic_se": NAN}
    draws = probs.shape[0]
    per_draw = entropy(probs)  # float[S, n]
    prob_sum, entropy_sum = probs.sum(axis=0), per_draw.sum(axis=0)

    def means(left_out: np.ndarray) -> np.ndarray:
        kept = draws - len(left_out)
        total = entropy((prob_sum - probs[left_out].sum(axis=0)) / kept)
        aleatoric = (entropy_sum - per_draw[left_out].sum(axis=0)) / kept
        epistemic = np.maximum(total - aleatoric, 0.0) if kept > 1 else np.zeros_like(total)
        return np.array([np.mean(total), np.mean(epistemic)])

    total, epistemic = means(np.arange(0))
    blocks = min(SE_BLOCKS, draws)
    if blocks < 2:
        total_se = epistemic_se = 0.0
    else:
        leave_out = np.stack([means(idx) for idx in np.array_split(np.arange(draws), blocks)])
        total_se, epistemic_se = np.sqrt((blocks - 1) / blocks * (
            (leave_out - leave_out.mean(axis=0)) ** 2).sum(axis=0))
    return {"entropy": float(total), "epistemic": float(epistemic),
            "entropy_se": float(total_se), "epistemic_se": float(epistemic_se)}


def _near_far(probs_test: np.ndarray, probs_far: np.ndarray, entropy) -> dict[str, float]:
    """The uncertainty fields of `Metrics`, near (test points) and far (probe points)."""
    out = {}
    for where, probs in (("near", probs_test), ("far", probs_far)):
        for name, value in _uncertainty_means(np.asarray(probs, np.float64), entropy).items():
            quantity, _, se = name.partition("_")
            out[f"{quantity}_{where}" + ("_se" if se else "")] = value
    return out


def metrics_from_probs(probs_train: np.ndarray, y_train: np.ndarray, probs_test: np.ndarray,
                       y_test: np.ndarray, probs_far: np.ndarray) -> Metrics:
    """Metrics from sample-wise probabilities on train, test and far points: `float[S, n]`
    (binary, P(y = 1)) or `float[S, n, K]` (K classes: argmax accuracy, NLL, top-label ECE
    `multiclass_ece`, entropies over K classes; K = 2 gives the binary numbers)."""
    if np.ndim(probs_train) == 3:
        return _class_metrics_from_probs(probs_train, y_train, probs_test, y_test, probs_far)
    train_mean = np.asarray(probs_train, np.float64).mean(axis=0)
    test_mean = np.asarray(probs_test, np.float64).mean(axis=0)
    return Metrics(
        train_acc=accuracy(train_mean, y_train),
        test_acc=accuracy(test_mean, y_test),
        test_nll=nll(test_mean, y_test),
        ece=ece(test_mean, y_test),
        **_near_far(probs_test, probs_far, binary_entropy),
    )


def _class_metrics_from_probs(probs_train, y_train, probs_test, y_test, probs_far) -> Metrics:
    train_mean = np.asarray(probs_train, np.float64).mean(axis=0)
    test_mean = np.asarray(probs_test, np.float64).mean(axis=0)
    train_acc = class_metrics(train_mean, y_train)[0] if len(y_train) else NAN
    test_acc, test_nll, test_ece = (class_metrics(test_mean, y_test) if len(y_test)
                                    else (NAN,) * 3)
    return Metrics(
        train_acc=train_acc, test_acc=test_acc, test_nll=test_nll, ece=test_ece,
        **_near_far(probs_test, probs_far, categorical_entropy),
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
    train, test, far = draws_near_far(engine, state, data, rng_key, num_samples, far_points)
    return metrics_from_probs(train, data.y_train, test, data.y_test, far)


def draws_near_far(engine, state, data, rng_key, num_samples: int = EVAL_SAMPLES,
                   far_points: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The posterior draws' probabilities behind `evaluate`, on the training points, the test
    points and the far probe points (one `sample_probs` call, one key)."""
    far = far_probe_points(data.x_train) if far_points is None else far_points
    parts = [np.asarray(data.x_train, np.float32).reshape(-1, 2),
             np.asarray(data.x_test, np.float32).reshape(-1, 2),
             np.asarray(far, np.float32).reshape(-1, 2)]
    probs = np.asarray(engine.sample_probs(rng_key, state, np.concatenate(parts),
                                           num_samples=num_samples))
    ends = np.cumsum([len(p) for p in parts])
    return probs[:, :ends[0]], probs[:, ends[0]:ends[1]], probs[:, ends[1]:]
