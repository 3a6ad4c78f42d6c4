"""The exact posterior by quadrature, a Gaussian Q, and every term of the variational identity.

With two parameters θ = (θ₁, θ₂) the evidence log P(D) = log ∫ P(Y | X, θ) P(θ) dθ is a 2-D
integral that a product rule gives to many digits. That turns every term of the identity
(Blei et al. 2017, "Variational Inference: A Review for Statisticians")

    log P(D) = ELBO(Q) + KL(Q ‖ P(θ | D)),   ELBO(Q) = E_Q[log P(Y | X, θ)] − KL(Q ‖ P(θ))

into numbers that are computed each on its own and then checked against each other. numpy
float64 throughout; the JAX fit of Q lives in `bnnlab.exact.fitting`.

Two rules, on purpose independent:

- the **posterior grid** (`exact_posterior`): a product rule over a box that adapts to the
  posterior's mass; for the one-hidden-unit model the θ₁ axis is warped (θ₁ = a·sinh(u), u
  uniform), because for large |θ₂| the likelihood is a near-step in θ₁ at 0 whose width
  1/(|θ₂|·max|x|) no uniform grid of sane size resolves;
- **Q's own rule** (`q_rule`): the trapezoid rule in Q's whitened coordinates z, θ = μ + L z,
  on [−Z, Z]², refined by doubling until two levels agree (`expected_log_likelihood_converged`).
  A Gauss–Hermite rule does not converge on tanh(θ₁x)'s near-step (24 nodes: −45.88 where
  the truth is −45.39; 256 nodes still off by 0.01), the trapezoid rule does.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from bnnlab.exact.data import ToyData, check_model
from bnnlab.exact.model import LOG_2PI, Array, log_likelihood_terms, log_prior, predict

GRID_SIZE = 201  # nodes per axis of the posterior grid
SEARCH_SIZE = 81  # nodes per axis of the coarse grids on which the box is searched for
PRIOR_BOX_STDS = 5.0  # the first box is ±5 prior σ: the prior's mass beyond is < 1e-6
TAIL_MASS = 1e-9  # the adapted box holds all but this much of each posterior marginal
NUM_REFINEMENTS = 4  # box adaptations at most
BOX_PAD = 0.1  # the adapted box is widened by this fraction of its width on each side
WARP_SCALE_LIMITS = (1e-3, 0.1)  # bounds on a in θ₁ = a·sinh(u) (the one-hidden-unit model)
WARPED_MODELS = frozenset({"tanh_unit"})
WHITENED_HALF_WIDTH = 6.5  # Q's rule spans ±6.5 σ per axis: outside, Q has < 1e-10 of its mass
ELL_START_NODES = 33  # Q's rule starts at 33 nodes per axis and doubles (33, 65, 129, …)
ELL_MAX_NODES = 513
ELL_TOLERANCE = 1e-5  # two successive levels agreeing to this (nats) count as converged
GRID_MASS_TOLERANCE = 1e-9  # |Σ Q w − 1| below this: Q lies inside the grid
MOMENT_TOLERANCE = 1e-7  # ... and its variances to this relative error: resolved by it
PREDICTIVE_NODES = 65  # nodes per axis of Q's (warped) rule for the predictive
PREDICTIVE_MASS_FLOOR = 1e-14  # grid nodes with less posterior mass are skipped
_BLOCK_ELEMENTS = 2_000_000  # evaluate the likelihood in blocks of this many (θ, point) pairs


# ----------------------------------------------------------------- the posterior grid


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
    rows = max(1, _BLOCK_ELEMENTS // max(1, theta1.size * data.x.size))
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


def check_temperature(temperature: float) -> None:
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
    check_temperature(temperature)
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


# ----------------------------------------------------------------- the Gaussian Q


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


def _q_rule_sum(q: GaussianQ, data: ToyData, model: str, noise: float, nodes: np.ndarray,
                weights: np.ndarray, extra: np.ndarray | None = None) -> float:
    """Σ_k weights[k]·(log P(Y|X, θ_k) + extra[k]) for one Q, in blocks of nodes."""
    q = as_q64(q)
    block = max(1, _BLOCK_ELEMENTS // max(1, data.x.size))
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
    previous = _q_rule_sum(q, data, model, noise, *q_rule(q, model, data, num))
    while num < ELL_MAX_NODES:
        num = 2 * num - 1
        value = _q_rule_sum(q, data, model, noise, *q_rule(q, model, data, num))
        if abs(value - previous) < tolerance:
            return RuleResult(value, num, True)
        previous = value
    return RuleResult(previous, num, False)


# -------------------------------------------------------- the exact decomposition


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
    return -_q_rule_sum(q, data, model, noise, nodes, weights, -extra) + grid.log_evidence


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


def kl_on_grid(q: GaussianQ, grid: PosteriorGrid) -> float:
    """KL(Q ‖ P_T(θ|D)) = Σ Q(θ)·(log Q(θ) − log P_T(θ|D))·w over the grid (single Q);
    accurate when Q lies inside the grid and is resolved by it (`q_fits_grid`)."""
    _, log_q, weight = q_fits_grid(q, grid)
    return float(np.sum(weight * (log_q - (grid.log_joint - grid.log_evidence))))


def q_mass_on_grid(q: GaussianQ, grid: PosteriorGrid) -> float:
    """Σ Q(θ)·w over the grid: ≈ 1 when `kl_on_grid` can be trusted."""
    return float(q_fits_grid(q, grid)[2].sum())


def q_predictive(q: GaussianQ, model: str, x: np.ndarray,
                 num_per_axis: int = PREDICTIVE_NODES) -> np.ndarray:
    """E_Q[predict(θ, x)] by Q's whitened trapezoid rule for a single Q: x float64[m] →
    float64[m]."""
    nodes, weights = q_rule(q, model, ToyData(x, np.zeros_like(x)), num_per_axis)
    theta1, theta2 = nodes_to_theta(np, as_q64(q), nodes)
    return weights @ predict(np, model, theta1, theta2, x)
