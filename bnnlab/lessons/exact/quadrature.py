"""The exact (tempered) posterior of chapter 3 by quadrature on a product grid (numpy float64).

With two parameters θ = (θ₁, θ₂) the evidence log P(D) = log ∫ P(Y | X, θ) P(θ) dθ is a 2-D
integral that a product rule gives to many digits. The grid adapts its box to the posterior's
mass; for the one-hidden-unit model the θ₁ axis is warped (θ₁ = a·sinh(u), u uniform), because
for large |θ₂| the likelihood is a near-step in θ₁ at 0 whose width 1/(|θ₂|·max|x|) no uniform
grid of sane size resolves. The grid also gives the posterior's modes, moments and predictive,
and the conjugate linear model's closed forms check it.

The Gaussian Q and its own rule live in `gaussian`, the terms of the ELBO identity in
`decomposition`, and the JAX fit of Q in `fitting`: the grid and Q's rule are, on purpose,
independent quadratures.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from bnnlab.lessons.exact.data import ToyData, check_model
from bnnlab.lessons.exact.model import (
    BLOCK_ELEMENTS,
    LOG_2PI,
    WARP_SCALE_LIMITS,
    WARPED_MODELS,
    log_likelihood_terms,
    log_prior,
    predict,
)

GRID_SIZE = 201  # nodes per axis of the posterior grid
SEARCH_SIZE = 81  # nodes per axis of the coarse grids on which the box is searched for
PRIOR_BOX_STDS = 5.0  # the first box is ±5 prior σ: the prior's mass beyond is < 1e-6
TAIL_MASS = 1e-9  # the adapted box holds all but this much of each posterior marginal
NUM_REFINEMENTS = 4  # box adaptations at most
BOX_PAD = 0.1  # the adapted box is widened by this fraction of its width on each side
PREDICTIVE_MASS_FLOOR = 1e-14  # grid nodes with less posterior mass are skipped


class PosteriorGrid(NamedTuple):
    """The (tempered) exact posterior on a product grid, numpy float64.

    Row j, column i of every [G2, G1] array is the node (theta1[i], theta2[j]); the quadrature
    weight of that node is weight2[j]·weight1[i] (cell sizes; uneven on a warped axis).
    With temperature T the posterior is P_T(θ | D) ∝ (P(Y|X,θ)·P(θ))^{1/T} (Wenzel et al.
    2020); T = 1 is Bayes' rule.
    """

    theta1: np.ndarray  # float64[G1]: grid axis of θ₁ (plot x-axis)
    theta2: np.ndarray  # float64[G2]: grid axis of θ₂ (plot y-axis)
    weight1: np.ndarray  # float64[G1]: quadrature weights along θ₁
    weight2: np.ndarray  # float64[G2]
    log_likelihood: np.ndarray  # float64[G2, G1]: log P(Y | X, θ)
    log_joint: np.ndarray  # float64[G2, G1]: (log P(Y|X,θ) + log P(θ)) / T
    log_evidence: float  # log ∫ exp(log_joint) dθ: log P(D) at T = 1
    temperature: float

    @property
    def weights(self) -> np.ndarray:
        """Quadrature weight of each node, float64[G2, G1]."""
        return np.outer(self.weight2, self.weight1)

    @property
    def density(self) -> np.ndarray:
        """P_T(θ | D) at the nodes, float64[G2, G1]."""
        return np.exp(self.log_joint - self.log_evidence)

    @property
    def mass(self) -> np.ndarray:
        """Posterior probability of each node's cell, float64[G2, G1]; sums to 1."""
        return self.density * self.weights

    @property
    def cell_area(self) -> float:
        """The cell area of an even grid (ValueError on a warped one: use `weights`)."""
        if np.ptp(self.weight1) > 1e-12 * self.weight1.max():
            raise ValueError("the grid is warped along θ₁: cells differ, use `weights`")
        return float(self.weight1[0] * self.weight2[0])


def even_axis(lo: float, hi: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """`size` evenly spaced nodes on [lo, hi] with the rectangle rule's weights."""
    nodes = np.linspace(lo, hi, size)
    return nodes, np.full(size, nodes[1] - nodes[0])


def warped_axis(lo: float, hi: float, size: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes θ = scale·sinh(u) for u evenly spaced: cells of about scale·du near 0, growing like
    |θ|·du away from it. Weights du·scale·cosh(u) (the change of variables), so the rule is
    the rectangle rule in u, spectrally accurate when the box's edges carry no mass
    (Trefethen & Weideman 2014)."""
    u = np.linspace(math.asinh(lo / scale), math.asinh(hi / scale), size)
    return scale * np.sinh(u), (u[1] - u[0]) * scale * np.cosh(u)


def log_likelihood_on_grid(data: ToyData, model: str, noise: float, theta1: np.ndarray,
                           theta2: np.ndarray) -> np.ndarray:
    """log P(Y | X, θ) at every node: theta1 float64[G1], theta2 float64[G2] → float64[G2, G1];
    a block of rows at a time to bound memory."""
    out = np.empty((theta2.size, theta1.size))
    t1 = theta1[None, :, None]
    rows = max(1, BLOCK_ELEMENTS // max(1, theta1.size * data.x.size))
    for start in range(0, theta2.size, rows):
        t2 = theta2[start:start + rows, None, None]
        out[start:start + rows] = log_likelihood_terms(np, model, t1, t2, data.x, data.y,
                                                       noise).sum(-1)
    return out


def _logsumexp(a: np.ndarray) -> float:
    peak = float(np.max(a))
    return peak + math.log(float(np.sum(np.exp(a - peak))))


def _warp_scale(data: ToyData, box: tuple[float, float, float, float]) -> float:
    """a in θ₁ = a·sinh(u): the width 1/(max|θ₂|·max|x|) of the likelihood's step at θ₁ = 0."""
    reach = max(abs(box[2]), abs(box[3])) * max(float(np.max(np.abs(data.x))), 1e-3)
    return float(np.clip(1.0 / reach, *WARP_SCALE_LIMITS))


def _grid(data: ToyData, model: str, prior_std: float, noise: float,
          box: tuple[float, float, float, float], size: int, temperature: float,
          warp: bool) -> PosteriorGrid:
    if warp and box[0] < 0.0 < box[1]:
        theta1, weight1 = warped_axis(box[0], box[1], size, _warp_scale(data, box))
    else:
        theta1, weight1 = even_axis(box[0], box[1], size)
    theta2, weight2 = even_axis(box[2], box[3], size)
    log_lik = log_likelihood_on_grid(data, model, noise, theta1, theta2)
    t1, t2 = np.meshgrid(theta1, theta2)
    log_joint = (log_lik + log_prior(np, t1, t2, prior_std)) / temperature
    log_z = _logsumexp(log_joint + np.log(np.outer(weight2, weight1)))
    return PosteriorGrid(theta1, theta2, weight1, weight2, log_lik, log_joint, log_z,
                         float(temperature))


def _check_positive(temperature: float) -> None:
    # Any T > 0 defines a posterior; the table's narrower range is `target.check_temperature`.
    if not (math.isfinite(temperature) and temperature > 0.0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")


def exact_posterior(data: ToyData, model: str, prior_std: float, noise: float = 1.0,
                    size: int = GRID_SIZE, num_refinements: int = NUM_REFINEMENTS,
                    tail_mass: float = TAIL_MASS,
                    box: tuple[float, float, float, float] | None = None,
                    temperature: float = 1.0) -> PosteriorGrid:
    """P_T(θ | D) and its normaliser by quadrature on a `size`×`size` grid.

    With `box=(lo1, hi1, lo2, hi2)` the grid is exactly that box, evenly spaced. Otherwise the
    box adapts: it starts at ±5 prior_std and is moved, up to `num_refinements` times, to the
    box holding all but `tail_mass` of each marginal (plus 10%); for the one-hidden-unit
    model the θ₁ axis is warped so that the likelihood's step at θ₁ = 0 is resolved.
    """
    check_model(model)
    _check_positive(temperature)
    if box is not None:
        return _grid(data, model, prior_std, noise, box, size, temperature, warp=False)
    warp = model in WARPED_MODELS
    # Tempering by T widens the posterior by about √T: the first box follows.
    half = PRIOR_BOX_STDS * prior_std * math.sqrt(max(temperature, 1.0))
    if model == "linear":  # the data can pull a Gaussian posterior outside the prior's box
        design = np.stack([data.x, np.ones_like(data.x)], 1)
        fit = np.linalg.lstsq(design, data.y, rcond=None)[0]
        half = max(half, 1.5 * float(np.max(np.abs(fit))))
    current = (-half, half, -half, half)
    # The box is searched for on a coarse grid, and the fine grid computed once on it.
    search_size = min(size, SEARCH_SIZE)
    grid = _grid(data, model, prior_std, noise, current, search_size, temperature, warp)
    for _ in range(num_refinements):
        new_box = mass_box(grid, tail_mass)
        if np.allclose(new_box, current, rtol=0.02, atol=1e-9):
            break
        current = new_box
        grid = _grid(data, model, prior_std, noise, current, search_size, temperature, warp)
    if search_size == size:
        return grid
    grid = _grid(data, model, prior_std, noise, current, size, temperature, warp)
    final_box = mass_box(grid, tail_mass)
    if not _box_within(final_box, current):  # the coarse grid missed mass: widen once more
        current = (min(final_box[0], current[0]), max(final_box[1], current[1]),
                   min(final_box[2], current[2]), max(final_box[3], current[3]))
        grid = _grid(data, model, prior_std, noise, current, size, temperature, warp)
    return grid


def _box_within(inner: tuple[float, ...], outer: tuple[float, ...]) -> bool:
    return (inner[0] >= outer[0] and inner[1] <= outer[1] and inner[2] >= outer[2]
            and inner[3] <= outer[3])


def mass_box(grid: PosteriorGrid, tail_mass: float,
             pad: float = BOX_PAD) -> tuple[float, float, float, float]:
    """(lo1, hi1, lo2, hi2): the box holding all but `tail_mass` of each posterior marginal,
    widened by `pad` of its width on each side; an edge of the grid that still carries more
    than `tail_mass` moves outwards by half the grid instead."""
    mass = grid.mass
    box: list[float] = []
    for axis, marginal in ((grid.theta1, mass.sum(0)), (grid.theta2, mass.sum(1))):
        cdf = np.cumsum(marginal)
        lo = axis[max(int(np.searchsorted(cdf, tail_mass)) - 1, 0)]
        hi = axis[min(int(np.searchsorted(cdf, 1.0 - tail_mass)) + 1, axis.size - 1)]
        width = max(hi - lo, 4.0 * float(np.min(np.diff(axis))))
        lo, hi = lo - pad * width, hi + pad * width
        span = axis[-1] - axis[0]
        if marginal[0] > tail_mass:
            lo = axis[0] - 0.5 * span
        if marginal[-1] > tail_mass:
            hi = axis[-1] + 0.5 * span
        box += [float(lo), float(hi)]
    return box[0], box[1], box[2], box[3]


def linear_regression_log_evidence(data: ToyData, prior_std: float, noise: float) -> float:
    """Closed-form log P(D) for y = θ₁x + θ₂ + ε, ε ~ N(0, noise²), θ ~ N(0, prior_std² I):
    y ~ N(0, prior_std²·ΦΦᵀ + noise²·I) with Φ = [x, 1] (Bishop 2006, eq. 3.86)."""
    design = np.stack([data.x, np.ones_like(data.x)], 1)
    cov = prior_std**2 * design @ design.T + noise**2 * np.eye(data.x.size)
    chol = np.linalg.cholesky(cov)
    alpha = np.linalg.solve(chol, data.y)
    return float(-0.5 * alpha @ alpha - np.sum(np.log(np.diag(chol)))
                 - 0.5 * data.x.size * LOG_2PI)


def linear_regression_posterior(data: ToyData, prior_std: float,
                                noise: float) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form posterior mean float64[2] and covariance float64[2, 2] of (θ₁, θ₂)."""
    design = np.stack([data.x, np.ones_like(data.x)], 1)
    precision = design.T @ design / noise**2 + np.eye(2) / prior_std**2
    cov = np.linalg.inv(precision)
    return cov @ design.T @ data.y / noise**2, cov


def posterior_modes(grid: PosteriorGrid) -> np.ndarray:
    """The grid's local maxima of the posterior that hold ≥ 1% of the peak density, highest
    first, as float64[k, 2] (θ₁, θ₂)."""
    lj = grid.log_joint
    padded = np.pad(lj, 1, constant_values=-np.inf)
    centre = padded[1:-1, 1:-1]
    is_max = np.ones_like(lj, dtype=bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                neighbour = padded[1 + di:padded.shape[0] - 1 + di, 1 + dj:padded.shape[1] - 1 + dj]
                is_max &= centre >= neighbour
    is_max &= lj >= lj.max() + math.log(0.01)
    rows, cols = np.nonzero(is_max)
    order = np.argsort(-lj[rows, cols])
    return np.stack([grid.theta1[cols[order]], grid.theta2[rows[order]]], 1)


def posterior_moments(grid: PosteriorGrid) -> tuple[np.ndarray, np.ndarray]:
    """Mean float64[2] and covariance float64[2, 2] of P_T(θ | D), by quadrature."""
    mass = grid.mass
    t1, t2 = np.meshgrid(grid.theta1, grid.theta2)
    mean = np.array([np.sum(mass * t1), np.sum(mass * t2)])
    d1, d2 = t1 - mean[0], t2 - mean[1]
    c12 = np.sum(mass * d1 * d2)
    return mean, np.array([[np.sum(mass * d1**2), c12], [c12, np.sum(mass * d2**2)]])


def posterior_predictive(grid: PosteriorGrid, model: str, x: np.ndarray) -> np.ndarray:
    """E_{P_T(θ|D)}[predict(θ, x)] by quadrature: x float64[m] → float64[m]."""
    weights = grid.mass.ravel()
    t1, t2 = np.meshgrid(grid.theta1, grid.theta2)
    # Nodes below 1e-14 of the mass hold < 1e-9 together (≤ 10⁵ nodes): they cannot show.
    keep = weights > PREDICTIVE_MASS_FLOOR
    values = predict(np, model, t1.ravel()[keep][:, None], t2.ravel()[keep][:, None], x)
    return weights[keep] @ values / weights[keep].sum()
