"""Scoring an approximation of chapter 3's tempered posterior P_T(θ | D) against the exact one.

An approximation is a Gaussian Q or a set of samples. Against the posterior grid it gets: both
KL divergences (reverse KL(Q ‖ P_T), which VI minimises, and forward KL(P_T ‖ Q), which moment
matching minimises; Minka 2001), its tempered ELBO, its predictive at any x, and its predictive
entropy far from the data, where no data constrain the answer. numpy float64 throughout.
"""

from __future__ import annotations

import math

import numpy as np

from bnnlab.lessons.exact.data import ToyData
from bnnlab.lessons.exact.decomposition import q_fits_grid
from bnnlab.lessons.exact.gaussian import (
    GaussianQ,
    as_q64,
    expected_log_likelihood_converged,
    gaussian_entropy,
    kl_to_prior,
    nodes_to_theta,
    q_covariance,
    q_log_density,
    q_predictive,
    q_rule,
)
from bnnlab.lessons.exact.model import predict
from bnnlab.lessons.exact.quadrature import (
    PosteriorGrid,
    posterior_moments,
    posterior_predictive,
)
from bnnlab.lessons.exact.target import log_target

FAR_MARGIN = 5.0  # "far": this far beyond the farthest data point (and beyond |x| = 3)


# ------------------------------------------------------------------ divergences, evidence


def tempered_elbo(q: GaussianQ, data: ToyData, model: str, prior_std: float, noise: float,
                  temperature: float) -> float:
    """E_Q[log P_T(D, θ)] + H(Q) = (E_Q[log lik] − KL(Q‖P(θ)))/T + (1 − 1/T)·H(Q): a lower
    bound on log ∫ P_T(D, θ) dθ (the ELBO at T = 1)."""
    ell = expected_log_likelihood_converged(q, model, data, noise).value
    kl_p = float(kl_to_prior(np, as_q64(q), prior_std))
    return (ell - kl_p) / temperature + (1.0 - 1.0 / temperature) * gaussian_entropy(q)


def kl_q_to_posterior(q: GaussianQ, grid: PosteriorGrid, data: ToyData, model: str,
                      prior_std: float, noise: float) -> float:
    """KL(Q ‖ P_T(θ|D)) (reverse): on the posterior grid where Q fits it, else on Q's own
    converged rule with the target evaluated at Q's nodes."""
    fits, log_q, weight = q_fits_grid(q, grid)
    if fits:
        return float(np.sum(weight * (log_q - (grid.log_joint - grid.log_evidence))))
    num = expected_log_likelihood_converged(q, model, data, noise).num_per_axis
    nodes, weights = q_rule(q, model, data, num)
    theta1, theta2 = nodes_to_theta(np, as_q64(q), nodes)
    t1, t2 = theta1[:, 0], theta2[:, 0]
    log_p = log_target(t1, t2, data, model, prior_std, noise, grid.temperature)
    return float(weights @ (q_log_density(q, t1, t2) - log_p)) + grid.log_evidence


def kl_posterior_to_q(grid: PosteriorGrid, q: GaussianQ) -> float:
    """KL(P_T(θ|D) ‖ Q) (forward) = Σ P_T·(log P_T − log Q)·w over the posterior grid."""
    t1, t2 = np.meshgrid(grid.theta1, grid.theta2)
    log_p = grid.log_joint - grid.log_evidence
    mass = grid.mass
    keep = mass > 0.0
    return float(np.sum(mass[keep] * (log_p[keep] - q_log_density(q, t1, t2)[keep])))


# ------------------------------------------------------------------------- predictives


def line_predictive(q: GaussianQ | None, samples: np.ndarray | None, model: str,
                    x: np.ndarray) -> np.ndarray:
    """The predictive (P(y=1|x) or E[y|x]) of a Gaussian Q, by its rule, or of samples
    float64[S, 2], their mean, along x float64[m] → float64[m]; NaN with neither."""
    if q is not None:
        return q_predictive(q, model, x)
    if samples is None:
        return np.full(x.shape, np.nan)
    return predict(np, model, samples[:, :1], samples[:, 1:], x).mean(0)


def predictive_at(q: GaussianQ | None, samples: np.ndarray | None, model: str,
                  x_star: float) -> float:
    """`line_predictive` at the one point x*."""
    return float(line_predictive(q, samples, model, np.array([x_star], np.float64))[0])


def exact_predictive_at(grid: PosteriorGrid, model: str, x_star: float) -> float:
    """The exact (tempered) predictive at the one point x*."""
    return float(posterior_predictive(grid, model, np.array([x_star]))[0])


def display_density(grid: PosteriorGrid, data: ToyData, model: str, prior_std: float,
                    noise: float, box: tuple[float, float, float, float],
                    size: int = 96) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P_T(θ|D) on an even size×size grid over `box` (for drawing; the warped quadrature grid
    is uneven): axes float64[size] ×2 and density float32[size, size] (row = θ₂)."""
    a1, a2 = np.linspace(box[0], box[1], size), np.linspace(box[2], box[3], size)
    t1, t2 = np.meshgrid(a1, a2)
    log_p = log_target(t1, t2, data, model, prior_std, noise, grid.temperature)
    return a1, a2, np.exp(log_p - grid.log_evidence).astype(np.float32)


# --------------------------------------------------------------------- far from the data


def far_points(data: ToyData) -> np.ndarray:
    """float64[2]: x = ±(max(|x_i|, 3) + FAR_MARGIN), where no data constrain the answer."""
    reach = max(float(np.max(np.abs(data.x))) if data.x.size else 0.0, 3.0) + FAR_MARGIN
    return np.array([-reach, reach])


def predictive_entropy(model: str, mean: np.ndarray, variance_f: np.ndarray | None,
                       noise: float) -> np.ndarray:
    """Entropy (nats) of the predictive at each x: classifiers, the Bernoulli of P(y=1|x)
    `mean`; "linear", the Gaussian N(E f, σ_y² + Var f): ½ log(2πe(σ_y² + Var f))."""
    if model == "linear":
        return 0.5 * np.log(2.0 * np.pi * np.e * (noise**2 + variance_f))
    p = np.clip(mean, 1e-15, 1.0 - 1e-15)
    return -(p * np.log(p) + (1.0 - p) * np.log1p(-p))


def _linear_variance(cov: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Var[w x + b] for (w, b) with covariance float64[2, 2], at x float64[m]."""
    return cov[0, 0] * x**2 + 2.0 * cov[0, 1] * x + cov[1, 1]


def far_entropy_exact(grid: PosteriorGrid, data: ToyData, model: str, noise: float) -> float:
    """Mean predictive entropy at `far_points` under the exact P_T(θ | D)."""
    x = far_points(data)
    var = _linear_variance(posterior_moments(grid)[1], x) if model == "linear" else None
    mean = posterior_predictive(grid, model, x)
    return float(np.mean(predictive_entropy(model, mean, var, noise)))


def far_entropy(q: GaussianQ | None, samples: np.ndarray | None, data: ToyData, model: str,
                noise: float) -> float:
    """Mean predictive entropy at `far_points` under a Gaussian Q or samples (NaN without)."""
    x = far_points(data)
    if q is None and samples is None:
        return math.nan
    var = None
    if model == "linear":
        cov = q_covariance(q) if q is not None else np.cov(samples.T)
        var = _linear_variance(cov, x)
    mean = line_predictive(q, samples, model, x)
    return float(np.mean(predictive_entropy(model, mean, var, noise)))
