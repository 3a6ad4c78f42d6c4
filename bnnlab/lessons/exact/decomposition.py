"""Every term of the variational identity, each computed on its own (numpy float64):

    log P(D) = ELBO(Q) + KL(Q ‖ P(θ | D)),   ELBO(Q) = E_Q[log P(Y | X, θ)] − KL(Q ‖ P(θ))

(Blei et al. 2017, "Variational Inference: A Review for Statisticians"). log P(D) comes from the
posterior grid (`quadrature`), E_Q[log lik] from Q's own trapezoid rule (`gaussian`), KL(Q‖P(θ))
in closed form and KL(Q‖P(θ|D)) by its definition, so that ELBO + KL − log P(D) measures how
far independent quadratures disagree: a genuine check, not an identity by construction.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnnlab.lessons.exact.data import ToyData
from bnnlab.lessons.exact.gaussian import (
    GaussianQ,
    as_q64,
    expected_log_likelihood_converged,
    kl_to_prior,
    nodes_to_theta,
    q_covariance,
    q_log_density,
    q_rule,
    q_rule_sum,
)
from bnnlab.lessons.exact.model import log_prior
from bnnlab.lessons.exact.quadrature import PosteriorGrid

GRID_MASS_TOLERANCE = 1e-9  # |Σ Q w − 1| below this: Q lies inside the grid
MOMENT_TOLERANCE = 1e-7  # ... and its variances to this relative error: resolved by it


class Decomposition(NamedTuple):
    """Every term of log P(D) = ELBO + KL(Q‖P(θ|D)), numpy float64, one entry per Q."""

    log_evidence: np.ndarray  # float64[T]: log P(D) from the posterior grid
    elbo: np.ndarray  # float64[T]: E_Q[log P(Y|X,θ)] − KL(Q‖P(θ))
    expected_log_likelihood: np.ndarray  # float64[T]: E_Q[log P(Y|X,θ)], Q's trapezoid rule
    kl_prior: np.ndarray  # float64[T]: KL(Q ‖ P(θ)), closed form
    kl_posterior: np.ndarray  # float64[T]: KL(Q ‖ P(θ|D)) by its definition
    on_grid: np.ndarray  # bool[T]: KL(Q‖P(θ|D)) summed over the posterior grid (else Q's
    #                      midpoint rule)
    num_nodes: np.ndarray  # int[T]: nodes per axis of Q's rule
    converged: np.ndarray  # bool[T]: Q's rule converged


def q_fits_grid(q: GaussianQ, grid: PosteriorGrid) -> tuple[bool, np.ndarray, np.ndarray]:
    """Whether one Q lies inside the grid and is resolved by it, with log Q and Q's weights
    on the grid (float64[G2, G1]). The test: the grid integrates Q's mass and its second
    moments to GRID_MASS_TOLERANCE (a Q narrower than the cells or spilling out fails it)."""
    t1, t2 = np.meshgrid(grid.theta1, grid.theta2)
    log_q = q_log_density(q, t1, t2)
    weight = np.exp(log_q) * grid.weights
    mean = np.asarray(q.mean, np.float64)
    d1, d2 = t1 - mean[0], t2 - mean[1]
    cov = q_covariance(q)
    moments = np.array([np.sum(weight * d1**2) / cov[0, 0], np.sum(weight * d2**2) / cov[1, 1]])
    fits = (abs(weight.sum() - 1.0) < GRID_MASS_TOLERANCE
            and bool(np.all(np.abs(moments - 1.0) < MOMENT_TOLERANCE)))
    return fits, log_q, weight


def kl_posterior_by_q_rule(q: GaussianQ, grid: PosteriorGrid, model: str, data: ToyData,
                           prior_std: float, noise: float, num_per_axis: int) -> float:
    """KL(Q ‖ P(θ|D)) = E_Q[log Q − log P(Y|X,θ) − log P(θ)] + log P(D) on Q's midpoint rule
    (nodes disjoint from the trapezoid rule that gives E_Q[log lik])."""
    q = as_q64(q)
    nodes, weights = q_rule(q, model, data, num_per_axis, midpoint=True)
    theta1, theta2 = nodes_to_theta(np, q, nodes)
    extra = (q_log_density(q, theta1[:, 0], theta2[:, 0])
             - log_prior(np, theta1[:, 0], theta2[:, 0], prior_std))
    return -q_rule_sum(q, data, model, noise, nodes, weights, -extra) + grid.log_evidence


def decompose(q: GaussianQ, grid: PosteriorGrid, model: str, data: ToyData,
              prior_std: float, noise: float = 1.0) -> Decomposition:
    """All terms for a batch of Q's (leaves with a leading axis T, or a single Q), float64.

    Each term by its own rule: log P(D) from the posterior grid; KL(Q‖P(θ)) in closed form;
    E_Q[log P(Y|X,θ)] by Q's whitened trapezoid rule, refined until converged;
    KL(Q‖P(θ|D)) = Σ Q(θ)·(log Q(θ) − log P(θ|D))·w over the posterior grid where Q lies
    inside it and is resolved, else on Q's midpoint rule. ELBO + KL(Q‖P(θ|D)) − log P(D) is
    then the disagreement of independent quadratures, a genuine check.
    """
    if grid.temperature != 1.0:
        raise ValueError("the decomposition needs the untempered posterior (temperature 1)")
    q = as_q64(q)
    if q.mean.ndim == 1:
        q = GaussianQ(q.mean[None], q.log_scale[None], q.off_diagonal.reshape(1))
    num_q = q.mean.shape[0]
    log_post = grid.log_joint - grid.log_evidence
    kl_p = kl_to_prior(np, q, prior_std)
    ell, kl_post = np.empty(num_q), np.empty(num_q)
    on_grid, converged = np.zeros(num_q, bool), np.zeros(num_q, bool)
    num_nodes = np.zeros(num_q, int)
    for i in range(num_q):
        qi = GaussianQ(q.mean[i], q.log_scale[i], q.off_diagonal[i])
        rule = expected_log_likelihood_converged(qi, model, data, noise)
        ell[i], num_nodes[i], converged[i] = rule
        fits, log_q, weight = q_fits_grid(qi, grid)
        on_grid[i] = fits
        kl_post[i] = (float(np.sum(weight * (log_q - log_post))) if fits else
                      kl_posterior_by_q_rule(qi, grid, model, data, prior_std, noise,
                                             rule.num_per_axis))
    return Decomposition(np.full(num_q, grid.log_evidence), ell - kl_p, ell, kl_p, kl_post,
                         on_grid, num_nodes, converged)
