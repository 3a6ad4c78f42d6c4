"""The Gaussian Q of chapter 3 and expectations under it by Q's own rules.

Q(θ) = N(mean, L Lᵀ) with L lower triangular. Expectations E_Q[f(θ)] are sums over a rule for
N(0, I₂) in Q's whitened coordinates z, θ = mean + L z:

- `gauss_hermite_rule`: the tensor Gauss–Hermite rule, cheap and deterministic, used in the
  gradient of the fit (`bnnlab.lessons.exact.fitting`);
- `whitened_rule` / `q_rule`: the trapezoid rule on [−Z, Z]², refined by doubling until two
  levels agree (`expected_log_likelihood_converged`), for the reported numbers. A Gauss–Hermite
  rule, exact for polynomials, converges only slowly on tanh(θ₁x)'s near-step; the trapezoid
  rule (warped around the step for the one-hidden-unit model) does converge.

`nodes_to_theta`, `kl_to_prior` and `expected_log_likelihood` take `xp` (numpy or jax.numpy), so
the fit and the float64 references share one formula.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from bnnlab.lessons.exact.data import ToyData
from bnnlab.lessons.exact.model import (
    BLOCK_ELEMENTS,
    LOG_2PI,
    WARP_SCALE_LIMITS,
    WARPED_MODELS,
    Array,
    log_likelihood_terms,
    predict,
)

WHITENED_HALF_WIDTH = 6.5  # Q's rule spans ±6.5 σ per axis: outside, Q has < 1e-10 of its mass
ELL_START_NODES = 33  # Q's rule starts at 33 nodes per axis and doubles (33, 65, 129, …)
ELL_MAX_NODES = 513
ELL_TOLERANCE = 1e-5  # two successive levels agreeing to this (nats) count as converged
PREDICTIVE_NODES = 65  # nodes per axis of Q's (warped) rule for the predictive


class GaussianQ(NamedTuple):
    """Q(θ) = N(mean, L Lᵀ) with L = [[exp(s₁), 0], [c, exp(s₂)]].

    Leaves may carry leading batch axes (a trajectory of Q's), shown here as [...].
    """

    mean: Array  # float[..., 2]
    log_scale: Array  # float[..., 2]: log of L's diagonal
    off_diagonal: Array  # float[...]: c = L[1, 0]; held at 0 for a mean-field Q


def make_q(mean: tuple[float, float], std: tuple[float, float],
           correlation: float = 0.0) -> GaussianQ:
    """A Q from means, standard deviations and a correlation in (−1, 1), as numpy float64."""
    if not -1.0 < correlation < 1.0:
        raise ValueError("correlation must lie in (-1, 1)")
    s1, s2 = std
    log_scale = np.log([s1, s2 * math.sqrt(1.0 - correlation**2)])
    return GaussianQ(np.asarray(mean, np.float64), log_scale,
                     np.asarray(correlation * s2, np.float64))


def q_from_moments(mean: np.ndarray, cov: np.ndarray) -> GaussianQ:
    """The Q with this mean float[2] and covariance float[2, 2] (its Cholesky factor)."""
    chol = np.linalg.cholesky(np.asarray(cov, np.float64))
    return GaussianQ(np.asarray(mean, np.float64), np.log(np.diag(chol)),
                     np.asarray(chol[1, 0], np.float64))


def as_q64(q: GaussianQ) -> GaussianQ:
    """`q` with numpy float64 leaves."""
    return GaussianQ(*(np.asarray(a, np.float64) for a in q))


def is_finite(q: GaussianQ) -> bool:
    """Every leaf of `q` is finite (a diverged fit is not)."""
    return all(np.isfinite(np.asarray(a)).all() for a in q)


def q_covariance(q: GaussianQ) -> np.ndarray:
    """L Lᵀ as float64[..., 2, 2] (numpy)."""
    mean, log_scale, off = as_q64(q)
    l11, l22 = np.exp(log_scale[..., 0]), np.exp(log_scale[..., 1])
    cov = np.empty(mean.shape[:-1] + (2, 2))
    cov[..., 0, 0] = l11**2
    cov[..., 0, 1] = cov[..., 1, 0] = l11 * off
    cov[..., 1, 1] = off**2 + l22**2
    return cov


def q_log_density(q: GaussianQ, theta1: np.ndarray, theta2: np.ndarray) -> np.ndarray:
    """log Q(θ) for a single (unbatched) Q at broadcast points; numpy float64."""
    mean, log_scale, off = as_q64(q)
    l11, l22 = math.exp(log_scale[0]), math.exp(log_scale[1])
    z1 = (theta1 - mean[0]) / l11
    z2 = (theta2 - mean[1] - off * z1) / l22
    return -0.5 * (z1**2 + z2**2) - LOG_2PI - log_scale[0] - log_scale[1]


def gaussian_entropy(q: GaussianQ) -> float:
    """H(Q) = 1 + log 2π + log|L| for a 2-D Gaussian."""
    return float(1.0 + LOG_2PI + np.sum(np.asarray(q.log_scale, np.float64)))


# ------------------------------------------------------------------- rules for N(0, I₂)


def gauss_hermite_rule(num_per_axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor Gauss–Hermite rule for E_{z ~ N(0, I₂)}[f(z)].

    Returns nodes float64[num_per_axis², 2] and weights float64[num_per_axis²] summing to 1;
    exact for polynomials of degree < 2·num_per_axis in each coordinate.
    """
    z, w = np.polynomial.hermite_e.hermegauss(num_per_axis)
    w = w / w.sum()
    z1, z2 = np.meshgrid(z, z)
    return np.stack([z1.ravel(), z2.ravel()], 1), np.outer(w, w).ravel()


def _axis_rule(num: int, midpoint: bool, half_width: float, centre: float | None,
               scale: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Nodes z on [−half_width, half_width] and weights ∝ N(z; 0, 1)·dz: even in z, or, with a
    `centre` inside, warped as z = centre + scale·sinh(u) (u even) to resolve a step there."""
    warp = centre is not None and scale is not None and abs(centre) < half_width
    if warp:
        lo, hi = (math.asinh((-half_width - centre) / scale),
                  math.asinh((half_width - centre) / scale))
    else:
        lo, hi = -half_width, half_width
    if midpoint:
        edges = np.linspace(lo, hi, num + 1)
        u = 0.5 * (edges[1:] + edges[:-1])
    else:
        u = np.linspace(lo, hi, num)
    if warp:
        z, jacobian = centre + scale * np.sinh(u), scale * np.cosh(u)
    else:
        z, jacobian = u, np.ones_like(u)
    w = np.exp(-0.5 * z**2) * jacobian
    return z, w / w.sum()


def whitened_rule(num_per_axis: int, midpoint: bool = False,
                  half_width: float = WHITENED_HALF_WIDTH, warp_centre: float | None = None,
                  warp_scale: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Tensor trapezoid (or, with `midpoint`, midpoint) rule for E_{z ~ N(0, I₂)}[f(z)] on
    [−half_width, half_width]²: nodes float64[K, 2], weights float64[K] summing to 1.
    The two variants share no node, so they are independent estimates of the same integral.
    With `warp_centre` and `warp_scale` the z₁ axis is warped around z₁ = warp_centre
    (`_axis_rule`)."""
    z1, w1 = _axis_rule(num_per_axis, midpoint, half_width, warp_centre, warp_scale)
    z2, w2 = _axis_rule(num_per_axis, midpoint, half_width, None, None)
    g1, g2 = np.meshgrid(z1, z2)
    return np.stack([g1.ravel(), g2.ravel()], 1), np.outer(w2, w1).ravel()


def q_rule(q: GaussianQ, model: str, data: ToyData, num_per_axis: int,
           midpoint: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Q's whitened rule for this model: for the one-hidden-unit model z₁ is warped around
    θ₁ = 0, where the likelihood has a step of width 1/(max|θ₂|·max|x|)."""
    if model not in WARPED_MODELS:
        return whitened_rule(num_per_axis, midpoint)
    mean, log_scale, off = as_q64(q)
    std1 = math.exp(float(log_scale[0]))
    std2 = math.sqrt(float(off) ** 2 + math.exp(2.0 * float(log_scale[1])))
    reach = ((abs(float(mean[1])) + WHITENED_HALF_WIDTH * std2)
             * max(float(np.max(np.abs(data.x))), 1e-3))
    scale = float(np.clip(1.0 / reach, *WARP_SCALE_LIMITS)) / std1
    return whitened_rule(num_per_axis, midpoint, warp_centre=-float(mean[0]) / std1,
                         warp_scale=scale)


# ------------------------------------------------------------- expectations under Q


def nodes_to_theta(xp, q: GaussianQ, z: Array) -> tuple[Array, Array]:  # noqa: ANN001
    """θ = mean + L z for nodes z float[K, 2] → θ₁, θ₂ float[..., K, 1] (reparameterised)."""
    mean, log_scale, off = q
    l11, l22 = xp.exp(log_scale[..., 0:1]), xp.exp(log_scale[..., 1:2])
    theta1 = mean[..., 0:1] + l11 * z[:, 0]
    theta2 = mean[..., 1:2] + off[..., None] * z[:, 0] + l22 * z[:, 1]
    return theta1[..., None], theta2[..., None]


def kl_to_prior(xp, q: GaussianQ, prior_std: float | Array) -> Array:  # noqa: ANN001
    """Closed-form KL(Q ‖ N(0, prior_std² I)) in 2-D; float[...]."""
    mean, log_scale, off = q
    trace = xp.exp(2 * log_scale[..., 0]) + xp.exp(2 * log_scale[..., 1]) + off**2
    sq = mean[..., 0] ** 2 + mean[..., 1] ** 2
    log_det_ratio = 4.0 * xp.log(prior_std) - 2.0 * (log_scale[..., 0] + log_scale[..., 1])
    return 0.5 * ((trace + sq) / prior_std**2 - 2.0 + log_det_ratio)


def expected_log_likelihood(xp, q: GaussianQ, model: str, x: Array, y: Array,  # noqa: ANN001
                            mask: Array, noise: float | Array, nodes: Array,
                            weights: Array) -> Array:
    """E_Q[log P(Y | X, θ)] ≈ Σ_k weights[k]·log P(Y | X, mean + L nodes[k]).

    nodes float[K, 2], weights float[K] (a rule for N(0, I), or draws with weights 1/K);
    x, y, mask float[n] (mask 0 drops a padding point). Returns float[...].
    """
    theta1, theta2 = nodes_to_theta(xp, q, nodes)
    per_point = log_likelihood_terms(xp, model, theta1, theta2, x, y, noise)
    return (per_point * mask).sum(-1) @ weights


def q_rule_sum(q: GaussianQ, data: ToyData, model: str, noise: float, nodes: np.ndarray,
               weights: np.ndarray, extra: np.ndarray | None = None) -> float:
    """Σ_k weights[k]·(log P(Y|X, θ_k) + extra[k]) for one Q, in blocks of nodes (float64)."""
    q = as_q64(q)
    block = max(1, BLOCK_ELEMENTS // max(1, data.x.size))
    total = 0.0
    for start in range(0, len(weights), block):
        theta1, theta2 = nodes_to_theta(np, q, nodes[start:start + block])
        values = log_likelihood_terms(np, model, theta1, theta2, data.x, data.y, noise).sum(-1)
        if extra is not None:
            values = values + extra[start:start + block]
        total += float(values @ weights[start:start + block])
    return total


class RuleResult(NamedTuple):
    value: float
    num_per_axis: int  # nodes per axis of the finest level used
    converged: bool  # the last two levels agreed to ELL_TOLERANCE


def expected_log_likelihood_converged(q: GaussianQ, model: str, data: ToyData,
                                      noise: float = 1.0,
                                      tolerance: float = ELL_TOLERANCE) -> RuleResult:
    """E_Q[log P(Y | X, θ)] for one Q by the whitened trapezoid rule, 33, 65, 129, … nodes per
    axis until two levels agree to `tolerance` (at most ELL_MAX_NODES)."""
    num = ELL_START_NODES
    previous = q_rule_sum(q, data, model, noise, *q_rule(q, model, data, num))
    while num < ELL_MAX_NODES:
        num = 2 * num - 1
        value = q_rule_sum(q, data, model, noise, *q_rule(q, model, data, num))
        if abs(value - previous) < tolerance:
            return RuleResult(value, num, True)
        previous = value
    return RuleResult(previous, num, False)


def q_predictive(q: GaussianQ, model: str, x: np.ndarray,
                 num_per_axis: int = PREDICTIVE_NODES) -> np.ndarray:
    """E_Q[predict(θ, x)] by Q's whitened trapezoid rule for a single Q: x float64[m] →
    float64[m]."""
    nodes, weights = q_rule(q, model, ToyData(x, np.zeros_like(x)), num_per_axis)
    theta1, theta2 = nodes_to_theta(np, as_q64(q), nodes)
    return weights @ predict(np, model, theta1, theta2, x)
