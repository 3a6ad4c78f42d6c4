"""The weight posterior itself: per-weight mean ± σ against the prior, signal-to-noise, and how
many weights the data never moved ("at the prior").

Every method ends in some description of a distribution over the flat parameter vector θ ∈ R^d
(Flax's `ravel_pytree` order, see `layer_slices`):

* a mean-field Gaussian (VI: std = softplus(rho), `bnnlab.vi`)           → `from_gaussian`
* posterior samples θ⁽¹⁾…θ⁽ˢ⁾ (HMC, a deep ensemble)                    → `from_samples`
* a Gaussian with a covariance (Laplace), as a full matrix or through an
  eigendecomposition of the covariance or of the precision               → `from_covariance`,
                                                                           `from_eigh`

Each gives a `WeightSummary` of the marginals N(μᵢ, σᵢ²) against the prior N(0, σₚ²).

"At the prior" is measured by each weight's own KL divergence from the prior,

    KLᵢ = KL(N(μᵢ, σᵢ²) ‖ N(0, σₚ²)) = ½ (σᵢ²/σₚ² + μᵢ²/σₚ² − 1 − log(σᵢ²/σₚ²))   [nats],

and a weight is at the prior when KLᵢ < `KL_AT_PRIOR` = 0.01 nats. Why this and not a rule on
|μ|/σ alone: KLᵢ is exactly the weight's term in VI's complexity cost (the sum of the KLᵢ is the
KL in the ELBO), and in the minimum-description-length reading of that cost (Hinton & van Camp
1993; Graves 2011) it is the information about the data the weight carries. A low |μ|/σ alone
does not say "uninformed": a weight pinned near 0 with σ ≪ σₚ has SNR ≈ 0 but the data did move
it. 0.01 nats keeps only marginals that are close to the prior in both moments: with μ = 0 it
allows σ/σₚ ∈ (0.902, 1.102); with σ = σₚ it allows |μ| < 0.141 σₚ
(so such a weight has |μ|/σ ≤ 0.142, `snr_bound_at_prior`).

Marginals estimated from S samples carry Monte Carlo error of their own: for draws of the prior
itself the sample mean and std give KLᵢ ≈ χ²₂ / (2S), an exponential with mean 1/S, so a fixed
0.01-nat cut would call most prior weights "informed" when S ≲ 100. `from_samples` therefore uses
max(0.01, 3/S) by default, the cut that 95% of exactly-prior weights fall under (P(KL > 3/S) =
e⁻³). For autocorrelated chains pass the effective sample size.

Pure numpy; never imports streamlit (or jax).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

KL_AT_PRIOR = 0.01  # nats: a weight with KL(q_i ‖ prior) below this sits at the prior
MAX_DISPLAY = 400  # weights drawn in the error-bar figure


# ------------------------------------------------------------------ the flat parameter layout


class LayerSlice(NamedTuple):
    """Where one Dense layer lives in the flat parameter vector."""

    name: str  # Flax's module name, "Dense_0", "Dense_1", …
    bias: slice  # fan_out entries
    kernel: slice  # fan_in · fan_out entries, row-major over (fan_in, fan_out)
    fan_in: int
    fan_out: int

    @property
    def whole(self) -> slice:
        """The layer's bias and kernel together (they are adjacent)."""
        return slice(self.bias.start, self.kernel.stop)


def layer_slices(hidden: Sequence[int], input_dim: int = 2,
                 num_outputs: int = 1) -> tuple[LayerSlice, ...]:
    """The layout of `ravel_pytree(MLP(hidden).init(...)["params"])`.

    `ravel_pytree` flattens the params dict in sorted key order: layers by name ("Dense_0",
    "Dense_1", … — string order, which is numeric order below ten layers), inside each layer
    "bias" before "kernel", each leaf row-major. Returned in layer order (input first).
    """
    sizes = [int(input_dim), *(int(w) for w in hidden), int(num_outputs)]
    names = [f"Dense_{i}" for i in range(len(sizes) - 1)]
    by_name = {}
    offset = 0
    for name in sorted(names):
        i = names.index(name)
        fan_in, fan_out = sizes[i], sizes[i + 1]
        bias = slice(offset, offset + fan_out)
        kernel = slice(bias.stop, bias.stop + fan_in * fan_out)
        offset = kernel.stop
        by_name[name] = LayerSlice(name, bias, kernel, fan_in, fan_out)
    return tuple(by_name[name] for name in names)


def layer_index(hidden: Sequence[int], input_dim: int = 2, num_outputs: int = 1) -> np.ndarray:
    """Layer of every entry of θ: int32[d], 0 for the first Dense layer."""
    slices = layer_slices(hidden, input_dim, num_outputs)
    layer = np.empty(max(s.kernel.stop for s in slices), np.int32)
    for i, s in enumerate(slices):
        layer[s.whole] = i
    return layer


def is_bias(hidden: Sequence[int], input_dim: int = 2, num_outputs: int = 1) -> np.ndarray:
    """Whether each entry of θ is a bias: bool[d]."""
    slices = layer_slices(hidden, input_dim, num_outputs)
    out = np.zeros(max(s.kernel.stop for s in slices), bool)
    for s in slices:
        out[s.bias] = True
    return out


# ------------------------------------------------------------------ the summary


class WeightSummary(NamedTuple):
    """Per-weight marginals N(mean, std²) of a posterior over θ, against the prior N(0, σₚ²)."""

    mean: np.ndarray  # float64[d]: μᵢ
    std: np.ndarray  # float64[d]: σᵢ ≥ 0
    prior_std: float  # σₚ
    snr: np.ndarray  # float64[d]: |μᵢ| / σᵢ (inf where σᵢ = 0 and μᵢ ≠ 0, 0 where both are 0)
    kl: np.ndarray  # float64[d]: KL(N(μᵢ, σᵢ²) ‖ N(0, σₚ²)) in nats (inf where σᵢ = 0)
    at_prior: np.ndarray  # bool[d]: kl < kl_threshold
    kl_threshold: float  # nats
    share_at_prior: float  # mean of at_prior, in [0, 1]
    layer: np.ndarray  # int32[d]: layer of each weight (0 = first Dense layer)

    @property
    def num_weights(self) -> int:
        return int(self.mean.shape[0])

    @property
    def median_snr(self) -> float:
        return float(np.median(self.snr))


def kl_per_weight(mean: np.ndarray, std: np.ndarray, prior_std: float) -> np.ndarray:
    """KL(N(mean, std²) ‖ N(0, prior_std²)) elementwise, in nats: float64[d]; inf where std = 0."""
    mean = np.asarray(mean, np.float64)
    std = np.asarray(std, np.float64)
    ratio = np.square(std / prior_std)
    with np.errstate(divide="ignore"):
        log_ratio = np.where(ratio > 0, np.log(np.where(ratio > 0, ratio, 1.0)), -np.inf)
    return 0.5 * (ratio + np.square(mean / prior_std) - 1.0 - log_ratio)


def signal_to_noise(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """|mean| / std elementwise: float64[d]; inf for a point mass off zero, 0 for one at zero."""
    mean = np.abs(np.asarray(mean, np.float64))
    std = np.asarray(std, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = mean / std
    return np.where(std > 0, snr, np.where(mean > 0, np.inf, 0.0))


def snr_bound_at_prior(kl_threshold: float = KL_AT_PRIOR) -> float:
    """The largest |μ|/σ a weight with KL < `kl_threshold` can have (the line in the SNR plot).

    With m = |μ|/σₚ and r = σ/σₚ, KL < t means m² < 2t − (r² − 1 − 2 log r), so
    SNR = m / r ≤ max over r of sqrt(2t − (r² − 1 − 2 log r)) / r, found on a fine grid of r.
    """
    t = float(kl_threshold)
    r = np.linspace(0.5, 2.0, 200_001)
    slack = 2.0 * t - (r * r - 1.0 - 2.0 * np.log(r))
    return float(np.max(np.sqrt(np.maximum(slack, 0.0)) / r))


def _check_prior_std(prior_std: float) -> float:
    prior_std = float(prior_std)
    if not (np.isfinite(prior_std) and prior_std > 0):
        raise ValueError(f"prior_std must be a positive number; got {prior_std!r}")
    return prior_std


def _layer_for(d: int, layer: np.ndarray | None) -> np.ndarray:
    if layer is None:
        return np.zeros(d, np.int32)
    layer = np.asarray(layer, np.int32)
    if layer.shape != (d,):
        raise ValueError(f"layer must have shape ({d},); got {layer.shape}")
    return layer


def from_gaussian(mean: np.ndarray, std: np.ndarray, prior_std: float, *,
                  layer: np.ndarray | None = None,
                  kl_threshold: float = KL_AT_PRIOR) -> WeightSummary:
    """Summary of the mean-field Gaussian N(mean, diag std²): mean, std float[d].

    For VI pass `std = bnnlab.vi.std_from_rho(state.rho)` (softplus). `layer: int[d]` groups the
    weights (see `layer_index`); without it every weight is in layer 0.
    """
    prior_std = _check_prior_std(prior_std)
    mean = np.asarray(mean, np.float64).reshape(-1)
    std = np.asarray(std, np.float64).reshape(-1)
    if mean.shape != std.shape:
        raise ValueError(f"mean and std must have the same shape; got {mean.shape}, {std.shape}")
    if mean.size == 0:
        raise ValueError("no weights to summarise")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std >= 0)):
        raise ValueError("mean must be finite and std finite and ≥ 0")
    kl = kl_per_weight(mean, std, prior_std)
    at_prior = kl < kl_threshold
    return WeightSummary(
        mean=mean, std=std, prior_std=prior_std, snr=signal_to_noise(mean, std), kl=kl,
        at_prior=at_prior, kl_threshold=float(kl_threshold),
        share_at_prior=float(np.mean(at_prior)), layer=_layer_for(mean.size, layer))


def sample_kl_threshold(num_samples: float) -> float:
    """`from_samples`' default cut: max(0.01, 3/S) nats (see the module docstring)."""
    return max(KL_AT_PRIOR, 3.0 / float(num_samples))


def from_samples(samples: np.ndarray, prior_std: float, *, layer: np.ndarray | None = None,
                 effective_samples: float | None = None,
                 kl_threshold: float | None = None) -> WeightSummary:
    """Summary of posterior draws `samples: float[S, d]` (HMC, an ensemble's members).

    Marginal mean and std over the S draws (std with ddof = 1, unbiased variance; 0 for S = 1).
    The default cut is `sample_kl_threshold(effective_samples or S)`.
    """
    samples = np.asarray(samples, np.float64)
    if samples.ndim != 2 or samples.shape[0] < 1:
        raise ValueError(f"samples must be float[S, d] with S ≥ 1; got shape {samples.shape}")
    num = samples.shape[0]
    std = samples.std(axis=0, ddof=1) if num > 1 else np.zeros(samples.shape[1])
    if kl_threshold is None:
        kl_threshold = sample_kl_threshold(effective_samples or num)
    return from_gaussian(samples.mean(axis=0), std, prior_std, layer=layer,
                         kl_threshold=kl_threshold)


def from_covariance(mean: np.ndarray, covariance: np.ndarray, prior_std: float, *,
                    layer: np.ndarray | None = None,
                    kl_threshold: float = KL_AT_PRIOR) -> WeightSummary:
    """Summary of N(mean, Σ) from the full `covariance: float[d, d]`; marginal σᵢ = sqrt(Σᵢᵢ)."""
    covariance = np.asarray(covariance, np.float64)
    d = np.asarray(mean).reshape(-1).shape[0]
    if covariance.shape != (d, d):
        raise ValueError(f"covariance must have shape ({d}, {d}); got {covariance.shape}")
    # Round-off can leave a tiny negative diagonal in a PSD matrix; clip it to 0.
    return from_gaussian(mean, np.sqrt(np.maximum(np.diag(covariance), 0.0)), prior_std,
                         layer=layer, kl_threshold=kl_threshold)


def from_eigh(mean: np.ndarray, eigenvalues: np.ndarray, eigenvectors: np.ndarray,
              prior_std: float, *, of: str = "covariance", shift: float = 0.0,
              layer: np.ndarray | None = None,
              kl_threshold: float = KL_AT_PRIOR) -> WeightSummary:
    """Summary of N(mean, Σ) given an eigendecomposition, without forming Σ.

    `eigenvectors: float[d, d]` (columns), `eigenvalues: float[d]`.
    * of="covariance": Σ = V diag(λ) Vᵀ, so Σᵢᵢ = Σₖ Vᵢₖ² λₖ.
    * of="precision": Σ⁻¹ = V diag(λ + shift) Vᵀ, so Σᵢᵢ = Σₖ Vᵢₖ² / (λₖ + shift). For linearised
      Laplace (`bnnlab.laplace.LaplaceFit`) pass the GGN's eigenpairs and shift = the prior
      precision α = 1/σₚ².
    """
    values = np.asarray(eigenvalues, np.float64)
    vectors = np.asarray(eigenvectors, np.float64)
    d = np.asarray(mean).reshape(-1).shape[0]
    if vectors.shape != (d, values.shape[0]) or values.ndim != 1:
        raise ValueError(f"eigenvectors must be float[{d}, k] and eigenvalues float[k]; got "
                         f"{vectors.shape} and {values.shape}")
    if of == "covariance":
        scale = np.maximum(values, 0.0)
    elif of == "precision":
        precision = values + float(shift)
        if np.any(precision <= 0):
            raise ValueError("precision eigenvalues (plus shift) must be positive")
        scale = 1.0 / precision
    else:
        raise ValueError(f"of must be 'covariance' or 'precision'; got {of!r}")
    variance = np.square(vectors) @ scale
    return from_gaussian(mean, np.sqrt(variance), prior_std, layer=layer,
                         kl_threshold=kl_threshold)


# ------------------------------------------------------------------ tables and display


class LayerRow(NamedTuple):
    """One row of the per-layer table."""

    layer: int  # 0 = first Dense layer
    num_weights: int
    share_at_prior: float
    median_std: float
    median_snr: float


def layer_table(summary: WeightSummary) -> list[LayerRow]:
    """Per-layer counts and medians, in layer order (layers with no weights left out)."""
    rows = []
    for i in np.unique(summary.layer):
        sel = summary.layer == i
        rows.append(LayerRow(int(i), int(sel.sum()), float(summary.at_prior[sel].mean()),
                             float(np.median(summary.std[sel])),
                             float(np.median(summary.snr[sel]))))
    return rows


def display_indices(layer: np.ndarray, max_points: int = MAX_DISPLAY) -> np.ndarray:
    """At most `max_points` weight indices to draw: int64[k], sorted by (layer, index).

    Deterministic and stratified by layer. Each layer first gets up to max_points / (4 · layers)
    weights (so a small layer, such as the output's 33, stays visible next to a hidden layer of
    1,056), and the rest of the budget is shared in proportion to the weights not yet drawn
    (largest remainders first). Inside a layer the picks are evenly spaced through θ. With
    d ≤ max_points every weight is kept. The display is therefore not a uniform sample: shares
    and medians come from the whole `WeightSummary`, never from the displayed weights.
    """
    layer = np.asarray(layer)
    max_points = int(max_points)
    if max_points < 1:
        raise ValueError(f"max_points must be ≥ 1; got {max_points}")
    order = np.argsort(layer, kind="stable")  # by layer, then by position in θ
    if layer.size <= max_points:
        return order.astype(np.int64)
    groups = [order[layer[order] == i] for i in np.unique(layer)]
    sizes = np.array([len(g) for g in groups])
    quota = np.minimum(sizes, max(1, max_points // (4 * len(groups))))
    while quota.sum() > max_points:  # more layers than points: trim the largest quotas
        quota[np.argmax(quota)] -= 1
    budget = max_points - quota.sum()
    rest = sizes - quota
    if budget > 0 and rest.sum() > 0:
        share = budget * rest / rest.sum()
        extra = np.floor(share).astype(int)
        for j in np.argsort(-(share - extra), kind="stable")[: budget - extra.sum()]:
            extra[j] += 1
        quota = quota + np.minimum(extra, rest)
    picks = []
    for group, k in zip(groups, quota, strict=True):
        if k > 0:
            positions = np.floor((np.arange(k) + 0.5) * len(group) / k).astype(int)
            picks.append(group[positions])
    return np.concatenate(picks).astype(np.int64)
