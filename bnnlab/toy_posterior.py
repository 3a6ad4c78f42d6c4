"""Two-parameter models whose posterior is computed exactly, and a Gaussian Q fitted to it.

Chapter 3's mathematics. With only two parameters θ = (θ₁, θ₂) the evidence

    log P(D) = log ∫ P(Y | X, θ) P(θ) dθ

is a 2-D integral, so a fine grid gives it to many digits. That turns every term of the
variational identity (Blei et al. 2017, "Variational Inference: A Review for Statisticians")

    log P(D) = ELBO(Q) + KL(Q ‖ P(θ | D)),
    ELBO(Q)  = E_Q[log P(Y | X, θ)] − KL(Q ‖ P(θ))

into numbers that can be checked against each other.

Models (prior P(θ) = N(0, prior_std² I) for all three):

- ``"logistic"``: y ~ Bernoulli(σ(θ₁·x + θ₂)), logistic regression with weight and bias.
- ``"tanh_unit"``: y ~ Bernoulli(σ(θ₂·tanh(θ₁·x))), a one-hidden-unit network. Flipping the
  sign of both weights leaves it unchanged, so the exact posterior has two mirror modes.
- ``"linear"``: y ~ N(θ₁·x + θ₂, noise²), Bayesian linear regression; conjugate, so its
  evidence has a closed form (`linear_regression_log_evidence`) to test the quadrature.

Two numerical paths, on purpose:

- numpy float64 for the reference numbers (grid posterior, evidence, the decomposition);
- JAX float32 for fitting Q (`init` / `step` / `run_chunk`, house style: the caller jits).
  Expectations under Q are taken either with a tensor Gauss–Hermite rule (deterministic,
  "exact" to quadrature accuracy) or by reparameterised Monte Carlo (Kingma & Welling 2014).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

Array = Any  # np.ndarray or jax.Array; shapes are given in the docstrings

MODELS: tuple[str, ...] = ("tanh_unit", "logistic", "linear")
MODEL_LABELS: dict[str, str] = {
    "tanh_unit": "One hidden unit: y = σ(w₂·tanh(w₁x))  (bimodal)",
    "logistic": "Logistic regression: y = σ(w·x + b)",
    "linear": "Linear regression: y = w·x + b + noise  (conjugate)",
}
PARAM_NAMES: dict[str, tuple[str, str]] = {
    "tanh_unit": ("w₁", "w₂"),
    "logistic": ("w", "b"),
    "linear": ("w", "b"),
}
CLASSIFICATION: frozenset[str] = frozenset({"tanh_unit", "logistic"})
TRUE_PARAMS: dict[str, tuple[float, float]] = {
    "tanh_unit": (1.2, 3.0),
    "logistic": (1.5, 0.5),
    "linear": (0.8, -0.3),
}
ESTIMATORS: tuple[str, ...] = ("gauss_hermite", "monte_carlo")
MAX_POINTS = 200  # data are padded to this size so the jitted step never recompiles
X_LIMIT = 10.0  # |x| bound for user-entered points
Y_LIMIT = 50.0  # |y| bound for user-entered regression targets
_LOG_2PI = math.log(2.0 * math.pi)


# --------------------------------------------------------------------------- data


class ToyData(NamedTuple):
    """A 1-D dataset D = (X, Y)."""

    x: np.ndarray  # float64[n]
    y: np.ndarray  # float64[n]: labels in {0, 1} for classification, reals for "linear"


def make_data(model: str, num_points: int, noise: float, seed: int) -> ToyData:
    """Draw a dataset from the model at `TRUE_PARAMS[model]`.

    For the classifiers `noise` is a label-flip probability in [0, 0.5]; for "linear" it is
    the observation noise standard deviation (the same one the likelihood uses).
    Returns `ToyData` with x, y float64[num_points].
    """
    _check_model(model)
    rng = np.random.default_rng(seed)
    t1, t2 = TRUE_PARAMS[model]
    if model == "linear":
        x = rng.uniform(-2.0, 2.0, num_points)
        y = t1 * x + t2 + noise * rng.standard_normal(num_points)
        return ToyData(x, y)
    x = rng.uniform(-3.0, 3.0, num_points)
    logits = t1 * x + t2 if model == "logistic" else t2 * np.tanh(t1 * x)
    y = (rng.uniform(size=num_points) < 1.0 / (1.0 + np.exp(-logits))).astype(np.float64)
    flip = rng.uniform(size=num_points) < noise
    y = np.where(flip, 1.0 - y, y)
    return ToyData(x, y)


def parse_points(text: str, model: str, max_points: int = MAX_POINTS) -> ToyData:
    """Parse user text, one "x, y" pair a line, into `ToyData`; raise ValueError with a
    message fit to show the user when anything is off (never returns NaN or inf)."""
    _check_model(model)
    xs: list[float] = []
    ys: list[float] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p for p in line.replace(";", ",").replace("\t", ",").replace(" ", ",")
                 .split(",") if p]
        if len(parts) != 2:
            raise ValueError(f"line {line_no}: expected two numbers 'x, y', got {len(parts)}")
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(f"line {line_no}: not a number") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"line {line_no}: numbers must be finite")
        if abs(x) > X_LIMIT:
            raise ValueError(f"line {line_no}: x must lie in [-{X_LIMIT:g}, {X_LIMIT:g}]")
        if model in CLASSIFICATION and y not in (0.0, 1.0):
            raise ValueError(f"line {line_no}: y must be 0 or 1 for a classifier")
        if model == "linear" and abs(y) > Y_LIMIT:
            raise ValueError(f"line {line_no}: y must lie in [-{Y_LIMIT:g}, {Y_LIMIT:g}]")
        xs.append(x)
        ys.append(y)
        if len(xs) > max_points:
            raise ValueError(f"too many points: at most {max_points}")
    if not xs:
        raise ValueError("no points: enter at least one line 'x, y'")
    return ToyData(np.asarray(xs, np.float64), np.asarray(ys, np.float64))


def format_points(data: ToyData) -> str:
    """The inverse of `parse_points`: one "x, y" line per point."""
    return "\n".join(f"{x:.3f}, {y:.3f}" if y % 1 else f"{x:.3f}, {int(y)}"
                     for x, y in zip(data.x, data.y, strict=True))


def _check_model(model: str) -> None:
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {MODELS}")


# --------------------------------------------------------------------- the model


def _log_sigmoid(xp: Any, z: Array) -> Array:
    return -xp.logaddexp(0.0, -z)


def log_likelihood_terms(xp: Any, model: str, theta1: Array, theta2: Array, x: Array,
                         y: Array, noise: float | Array) -> Array:
    """Per-point log P(y | x, θ), broadcasting θ against the data.

    `xp` is `numpy` (float64 references) or `jax.numpy` (float32 fitting).
    theta1, theta2: float[..., 1]; x, y: float[n]. Returns float[..., n].
    """
    if model == "linear":
        resid = (y - (theta1 * x + theta2)) / noise
        return -0.5 * resid**2 - xp.log(noise) - 0.5 * _LOG_2PI
    logits = theta1 * x + theta2 if model == "logistic" else theta2 * xp.tanh(theta1 * x)
    # y·log σ(z) + (1 − y)·log σ(−z), in the overflow-free form.
    return y * _log_sigmoid(xp, logits) + (1.0 - y) * _log_sigmoid(xp, -logits)


def log_prior(xp: Any, theta1: Array, theta2: Array, prior_std: float | Array) -> Array:
    """log N(θ; 0, prior_std² I) for θ ∈ R². Shapes broadcast; returns float[...]."""
    return -(theta1**2 + theta2**2) / (2.0 * prior_std**2) - _LOG_2PI - 2.0 * xp.log(prior_std)


def predict(xp: Any, model: str, theta1: Array, theta2: Array, x: Array) -> Array:
    """P(y = 1 | x, θ) for the classifiers, the regression mean for "linear".
    theta: float[..., 1], x: float[m] → float[..., m]."""
    if model == "linear":
        return theta1 * x + theta2
    logits = theta1 * x + theta2 if model == "logistic" else theta2 * xp.tanh(theta1 * x)
    return 1.0 / (1.0 + xp.exp(-logits))


# ---------------------------------------------------------------- exact posterior


class PosteriorGrid(NamedTuple):
    """The exact posterior on a regular grid (numpy float64)."""

    theta1: np.ndarray  # float64[G1]: grid axis of θ₁ (plot x-axis)
    theta2: np.ndarray  # float64[G2]: grid axis of θ₂ (plot y-axis)
    log_joint: np.ndarray  # float64[G2, G1]: log P(Y|X,θ) + log P(θ); row j is θ₂[j]
    log_evidence: float  # log P(D) by the rectangle rule over the grid

    @property
    def cell_area(self) -> float:
        return float((self.theta1[1] - self.theta1[0]) * (self.theta2[1] - self.theta2[0]))

    @property
    def density(self) -> np.ndarray:
        """P(θ | D) at the grid nodes, float64[G2, G1]; Σ density · cell_area = 1."""
        return np.exp(self.log_joint - self.log_evidence)


def log_joint_on_grid(data: ToyData, model: str, prior_std: float, noise: float,
                      theta1: np.ndarray, theta2: np.ndarray) -> np.ndarray:
    """log P(Y | X, θ) + log P(θ) at every node; theta1 float64[G1], theta2 float64[G2]
    → float64[G2, G1]. Evaluated a block of rows at a time to bound memory."""
    out = np.empty((theta2.size, theta1.size))
    t1 = theta1[None, :, None]
    rows = max(1, 2_000_000 // max(1, theta1.size * data.x.size))
    for start in range(0, theta2.size, rows):
        t2 = theta2[start:start + rows, None, None]
        ll = log_likelihood_terms(np, model, t1, t2, data.x, data.y, noise).sum(-1)
        out[start:start + rows] = ll + log_prior(np, t1[..., 0], t2[..., 0], prior_std)
    return out


def _logsumexp(a: np.ndarray) -> float:
    peak = float(np.max(a))
    return peak + math.log(float(np.sum(np.exp(a - peak))))


def _grid(data: ToyData, model: str, prior_std: float, noise: float,
          box: tuple[float, float, float, float], size: int) -> PosteriorGrid:
    theta1 = np.linspace(box[0], box[1], size)
    theta2 = np.linspace(box[2], box[3], size)
    log_joint = log_joint_on_grid(data, model, prior_std, noise, theta1, theta2)
    cell = (theta1[1] - theta1[0]) * (theta2[1] - theta2[0])
    return PosteriorGrid(theta1, theta2, log_joint, _logsumexp(log_joint) + math.log(cell))


def exact_posterior(data: ToyData, model: str, prior_std: float, noise: float = 1.0,
                    size: int = 151, num_refinements: int = 4, tail_mass: float = 1e-9,
                    box: tuple[float, float, float, float] | None = None) -> PosteriorGrid:
    """The posterior P(θ | D) and log P(D) by quadrature on a `size`×`size` grid.

    With `box=(lo1, hi1, lo2, hi2)` the grid is exactly that box. Otherwise the box adapts:
    it starts at ±5 prior_std (the prior's mass beyond is < 1e-6) and is then moved, up to
    `num_refinements` times, to the box that holds all but `tail_mass` of each posterior
    marginal (plus 10%), so that a narrow posterior is still resolved. The rectangle rule
    on a box whose edges carry no mass is spectrally accurate for smooth integrands
    (Trefethen & Weideman 2014).
    """
    _check_model(model)
    if box is not None:
        return _grid(data, model, prior_std, noise, box, size)
    half = 5.0 * prior_std
    if model == "linear":  # the data can pull a Gaussian posterior outside the prior's box
        design = np.stack([data.x, np.ones_like(data.x)], 1)
        fit = np.linalg.lstsq(design, data.y, rcond=None)[0]
        half = max(half, 1.5 * float(np.max(np.abs(fit))))
    current = (-half, half, -half, half)
    grid = _grid(data, model, prior_std, noise, current, size)
    for _ in range(num_refinements):
        new_box = mass_box(grid, tail_mass)
        if np.allclose(new_box, current, rtol=0.02, atol=1e-9):
            break
        current = new_box
        grid = _grid(data, model, prior_std, noise, current, size)
    return grid


def mass_box(grid: PosteriorGrid, tail_mass: float,
             pad: float = 0.1) -> tuple[float, float, float, float]:
    """(lo1, hi1, lo2, hi2): the box holding all but `tail_mass` of each posterior marginal,
    widened by `pad` of its width on each side; an edge of the grid that still carries more
    than `tail_mass` moves outwards by half the grid instead."""
    dens = grid.density * grid.cell_area
    box: list[float] = []
    for axis, marginal in ((grid.theta1, dens.sum(0)), (grid.theta2, dens.sum(1))):
        cdf = np.cumsum(marginal)
        lo = axis[max(int(np.searchsorted(cdf, tail_mass)) - 1, 0)]
        hi = axis[min(int(np.searchsorted(cdf, 1.0 - tail_mass)) + 1, axis.size - 1)]
        width = max(hi - lo, 4.0 * (axis[1] - axis[0]))
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
                 - 0.5 * data.x.size * _LOG_2PI)


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


def posterior_predictive(grid: PosteriorGrid, model: str, x: np.ndarray) -> np.ndarray:
    """E_{P(θ|D)}[predict(θ, x)] by quadrature: x float64[m] → float64[m]."""
    weights = (grid.density * grid.cell_area).ravel()
    t1, t2 = np.meshgrid(grid.theta1, grid.theta2)
    keep = weights > 1e-12 * weights.max()  # skip nodes that cannot change the sum
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


def q_covariance(q: GaussianQ) -> np.ndarray:
    """L Lᵀ as float64[..., 2, 2] (numpy)."""
    mean, log_scale, off = (np.asarray(a, np.float64) for a in q)
    l11, l22 = np.exp(log_scale[..., 0]), np.exp(log_scale[..., 1])
    cov = np.empty(mean.shape[:-1] + (2, 2))
    cov[..., 0, 0] = l11**2
    cov[..., 0, 1] = cov[..., 1, 0] = l11 * off
    cov[..., 1, 1] = off**2 + l22**2
    return cov


def q_log_density(q: GaussianQ, theta1: np.ndarray, theta2: np.ndarray) -> np.ndarray:
    """log Q(θ) for a single (unbatched) Q at broadcast points; numpy float64."""
    mean, log_scale, off = (np.asarray(a, np.float64) for a in q)
    l11, l22 = math.exp(log_scale[0]), math.exp(log_scale[1])
    z1 = (theta1 - mean[0]) / l11
    z2 = (theta2 - mean[1] - off * z1) / l22
    return -0.5 * (z1**2 + z2**2) - _LOG_2PI - log_scale[0] - log_scale[1]


def gauss_hermite_rule(num_per_axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor Gauss–Hermite rule for E_{z ~ N(0, I₂)}[f(z)].

    Returns nodes float64[num_per_axis², 2] and weights float64[num_per_axis²] summing to 1;
    exact for polynomials of degree < 2·num_per_axis in each coordinate.
    """
    z, w = np.polynomial.hermite_e.hermegauss(num_per_axis)
    w = w / w.sum()
    z1, z2 = np.meshgrid(z, z)
    return np.stack([z1.ravel(), z2.ravel()], 1), np.outer(w, w).ravel()


def _nodes_to_theta(xp: Any, q: GaussianQ, z: Array) -> tuple[Array, Array]:
    """θ = mean + L z for nodes z float[K, 2] → θ₁, θ₂ float[..., K, 1] (reparameterised)."""
    mean, log_scale, off = q
    l11, l22 = xp.exp(log_scale[..., 0:1]), xp.exp(log_scale[..., 1:2])
    theta1 = mean[..., 0:1] + l11 * z[:, 0]
    theta2 = mean[..., 1:2] + off[..., None] * z[:, 0] + l22 * z[:, 1]
    return theta1[..., None], theta2[..., None]


def kl_to_prior(xp: Any, q: GaussianQ, prior_std: float | Array) -> Array:
    """Closed-form KL(Q ‖ N(0, prior_std² I)) in 2-D; float[...]."""
    mean, log_scale, off = q
    trace = xp.exp(2 * log_scale[..., 0]) + xp.exp(2 * log_scale[..., 1]) + off**2
    sq = mean[..., 0] ** 2 + mean[..., 1] ** 2
    log_det_ratio = 4.0 * xp.log(prior_std) - 2.0 * (log_scale[..., 0] + log_scale[..., 1])
    return 0.5 * ((trace + sq) / prior_std**2 - 2.0 + log_det_ratio)


def expected_log_likelihood(xp: Any, q: GaussianQ, model: str, x: Array, y: Array,
                            mask: Array, noise: float | Array, nodes: Array,
                            weights: Array) -> Array:
    """E_Q[log P(Y | X, θ)] ≈ Σ_k weights[k]·log P(Y | X, mean + L nodes[k]).

    nodes float[K, 2], weights float[K] (Gauss–Hermite, or N(0, I) draws with weights 1/K);
    x, y, mask float[n] (mask 0 drops a padding point). Returns float[...].
    """
    theta1, theta2 = _nodes_to_theta(xp, q, nodes)
    per_point = log_likelihood_terms(xp, model, theta1, theta2, x, y, noise)
    return (per_point * mask).sum(-1) @ weights


# -------------------------------------------------------- the exact decomposition


class Decomposition(NamedTuple):
    """Every term of log P(D) = ELBO + KL(Q‖P(θ|D)), numpy float64, one entry per Q."""

    log_evidence: np.ndarray  # float64[T]: log P(D), the same at every step
    elbo: np.ndarray  # float64[T]: E_Q[log P(Y|X,θ)] − KL(Q‖P(θ))
    expected_log_likelihood: np.ndarray  # float64[T]: E_Q[log P(Y|X,θ)]
    kl_prior: np.ndarray  # float64[T]: KL(Q ‖ P(θ)), closed form
    kl_posterior: np.ndarray  # float64[T]: KL(Q ‖ P(θ|D))
    on_grid: np.ndarray  # bool[T]: True where the expectations were summed over the grid


GRID_MASS_TOLERANCE = 1e-9  # |Σ Q ΔA − 1| below this: Q is inside the grid and resolved by it


def decompose(q: GaussianQ, grid: PosteriorGrid, model: str, data: ToyData,
              prior_std: float, noise: float = 1.0, num_nodes: int = 32) -> Decomposition:
    """All terms for a batch of Q's (leaves with a leading axis T, or a single Q), float64.

    KL(Q‖P(θ)) is always the closed form and log P(D) the grid's. Where Q lies inside the
    grid and is resolved by it (|Σ Q ΔA − 1| < GRID_MASS_TOLERANCE) the other terms are sums
    over the grid, each by its definition:
        E_Q[log P(Y|X,θ)] = Σ Q(θ)·log P(Y|X,θ)·ΔA,
        KL(Q‖P(θ|D))      = Σ Q(θ)·(log Q(θ) − log P(θ|D))·ΔA,
    so ELBO + KL(Q‖P(θ|D)) = log P(D) is a genuine numerical check. Elsewhere (Q too narrow
    for the grid, or partly outside it) E_Q[log P(Y|X,θ)] uses a `num_nodes`² Gauss–Hermite
    rule on Q and KL(Q‖P(θ|D)) = KL(Q‖P(θ)) − E_Q[log P(Y|X,θ)] + log P(D), which holds
    wherever Q is but makes the identity hold by construction.
    """
    q = GaussianQ(*(np.asarray(a, np.float64) for a in q))
    if q.mean.ndim == 1:
        q = GaussianQ(q.mean[None], q.log_scale[None], q.off_diagonal.reshape(1))
    num_q = q.mean.shape[0]
    t1, t2 = np.meshgrid(grid.theta1, grid.theta2)
    log_lik = grid.log_joint - log_prior(np, t1, t2, prior_std)
    log_post = grid.log_joint - grid.log_evidence
    kl_p = kl_to_prior(np, q, prior_std)
    ell = np.empty(num_q)
    kl_post = np.empty(num_q)
    on_grid = np.zeros(num_q, bool)
    for i in range(num_q):
        qi = GaussianQ(q.mean[i], q.log_scale[i], q.off_diagonal[i])
        log_q = q_log_density(qi, t1, t2)
        weight = np.exp(log_q) * grid.cell_area
        if abs(weight.sum() - 1.0) < GRID_MASS_TOLERANCE:
            on_grid[i] = True
            ell[i] = np.sum(weight * log_lik)
            kl_post[i] = np.sum(weight * (log_q - log_post))
    off = ~on_grid
    if off.any():
        nodes, weights = gauss_hermite_rule(num_nodes)
        q_off = GaussianQ(q.mean[off], q.log_scale[off], q.off_diagonal[off])
        ell[off] = expected_log_likelihood(np, q_off, model, data.x, data.y,
                                           np.ones_like(data.x), noise, nodes, weights)
        kl_post[off] = kl_p[off] - ell[off] + grid.log_evidence
    return Decomposition(np.full(num_q, grid.log_evidence), ell - kl_p, ell, kl_p, kl_post,
                         on_grid)


def kl_on_grid(q: GaussianQ, grid: PosteriorGrid) -> float:
    """KL(Q ‖ P(θ|D)) = Σ Q(θ)·(log Q(θ) − log P(θ|D))·ΔA over the grid (single Q).

    Independent of the Gauss–Hermite path; accurate when Q's mass lies inside the grid and
    Q's standard deviations span a few cells.
    """
    t1, t2 = np.meshgrid(grid.theta1, grid.theta2)
    log_q = q_log_density(q, t1, t2)
    log_post = grid.log_joint - grid.log_evidence
    return float(np.sum(np.exp(log_q) * (log_q - log_post)) * grid.cell_area)


def q_mass_on_grid(q: GaussianQ, grid: PosteriorGrid) -> float:
    """Σ Q(θ)·ΔA over the grid: ≈ 1 when `kl_on_grid` can be trusted."""
    t1, t2 = np.meshgrid(grid.theta1, grid.theta2)
    return float(np.sum(np.exp(q_log_density(q, t1, t2))) * grid.cell_area)


def q_predictive(q: GaussianQ, model: str, x: np.ndarray, num_nodes: int = 24) -> np.ndarray:
    """E_Q[predict(θ, x)] by Gauss–Hermite for a single Q: x float64[m] → float64[m]."""
    nodes, weights = gauss_hermite_rule(num_nodes)
    q = GaussianQ(*(np.asarray(a, np.float64) for a in q))
    theta1, theta2 = _nodes_to_theta(np, q, nodes)
    return weights @ predict(np, model, theta1, theta2, x)


# --------------------------------------------------------------- fitting Q (JAX)


class PaddedData(NamedTuple):
    """Data padded to a fixed length so one compiled step serves every dataset."""

    x: Array  # float32[MAX_POINTS]
    y: Array  # float32[MAX_POINTS]
    mask: Array  # float32[MAX_POINTS]: 1 for a real point, 0 for padding


def pad_data(data: ToyData, max_points: int = MAX_POINTS) -> PaddedData:
    """`ToyData` → `PaddedData` of float32[max_points]."""
    n = data.x.size
    if n > max_points:
        raise ValueError(f"at most {max_points} points, got {n}")
    x = np.zeros(max_points, np.float32)
    y = np.zeros(max_points, np.float32)
    mask = np.zeros(max_points, np.float32)
    x[:n], y[:n], mask[:n] = data.x, data.y, 1.0
    return PaddedData(jnp.asarray(x), jnp.asarray(y), jnp.asarray(mask))


class FitState(NamedTuple):
    """What the next ELBO step needs."""

    q: GaussianQ  # float32 leaves: mean [2], log_scale [2], off_diagonal []
    opt_state: optax.OptState  # Adam moments of q
    step: Array  # int32[]


class FitInfo(NamedTuple):
    """Diagnostics of one step, for the Q that the gradient was taken at."""

    q: GaussianQ  # the Q after the step (stacked over steps by `run_chunk`)
    elbo: Array  # float32[]: the estimator's ELBO before the step
    expected_log_likelihood: Array  # float32[]
    kl_prior: Array  # float32[]


def _optimizer() -> optax.GradientTransformation:
    # The learning rate is applied in `step` so that it can change without recompiling.
    return optax.scale_by_adam()


def init(q: GaussianQ) -> FitState:
    """Start fitting from `q` (any float dtype; stored as float32)."""
    q32 = GaussianQ(*(jnp.asarray(a, jnp.float32) for a in q))
    return FitState(q32, _optimizer().init(q32), jnp.zeros((), jnp.int32))


def negative_elbo(q: GaussianQ, data: PaddedData, nodes: Array, weights: Array, *,
                  model: str, prior_std: float | Array,
                  noise: float | Array) -> tuple[Array, tuple[Array, Array]]:
    """−ELBO(Q) and its parts (E_Q[log lik], KL(Q‖P(θ))) in JAX, for `jax.value_and_grad`."""
    ell = expected_log_likelihood(jnp, q, model, data.x, data.y, data.mask, noise, nodes,
                                  weights)
    kl = kl_to_prior(jnp, q, prior_std)
    return kl - ell, (ell, kl)


def step(rng_key: jax.Array, state: FitState, data: PaddedData, *, model: str,
         full_covariance: bool, estimator: str, num_samples: int,
         prior_std: float | Array, noise: float | Array,
         learning_rate: float | Array) -> tuple[FitState, FitInfo]:
    """One Adam step on −ELBO(Q).

    estimator "gauss_hermite": deterministic tensor rule with `num_samples` nodes per axis;
    "monte_carlo": `num_samples` reparameterised draws θ = mean + L ε, ε ~ N(0, I).
    A mean-field Q (full_covariance False) keeps off_diagonal at 0.
    Static (bind with functools.partial before jit): model, full_covariance, estimator,
    num_samples. Dynamic: data, prior_std, noise, learning_rate.
    """
    if estimator == "gauss_hermite":
        nodes_np, weights_np = gauss_hermite_rule(num_samples)
        nodes, weights = jnp.asarray(nodes_np, jnp.float32), jnp.asarray(weights_np, jnp.float32)
    elif estimator == "monte_carlo":
        nodes = jax.random.normal(rng_key, (num_samples, 2))
        weights = jnp.full((num_samples,), 1.0 / num_samples)
    else:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {ESTIMATORS}")
    loss_fn = lambda q: negative_elbo(q, data, nodes, weights, model=model,  # noqa: E731
                                      prior_std=prior_std, noise=noise)
    (loss, (ell, kl)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.q)
    if not full_covariance:
        grads = grads._replace(off_diagonal=jnp.zeros_like(grads.off_diagonal))
    updates, opt_state = _optimizer().update(grads, state.opt_state, state.q)
    q = jax.tree_util.tree_map(lambda p, u: p - learning_rate * u, state.q, updates)
    return FitState(q, opt_state, state.step + 1), FitInfo(q, -loss, ell, kl)


def run_chunk(rng_key: jax.Array, state: FitState, data: PaddedData, *, num_steps: int,
              **step_kwargs: Any) -> tuple[FitState, FitInfo]:
    """`num_steps` steps in one `lax.scan`; FitInfo leaves gain a leading axis [num_steps].
    `num_steps` and the static `step` arguments must be bound before jit."""

    def body(carry: FitState, key: jax.Array) -> tuple[FitState, FitInfo]:
        return step(key, carry, data, **step_kwargs)

    return jax.lax.scan(body, state, jax.random.split(rng_key, num_steps))


def make_chunk_fn(*, model: str, full_covariance: bool, estimator: str, num_samples: int,
                  num_steps: int) -> Callable[..., tuple[FitState, FitInfo]]:
    """`run_chunk` with its static arguments bound: call as
    fn(rng_key, state, data, prior_std=…, noise=…, learning_rate=…); jit it where used."""

    def chunk(rng_key: jax.Array, state: FitState, data: PaddedData, prior_std: Array,
              noise: Array, learning_rate: Array) -> tuple[FitState, FitInfo]:
        return run_chunk(rng_key, state, data, num_steps=num_steps, model=model,
                         full_covariance=full_covariance, estimator=estimator,
                         num_samples=num_samples, prior_std=prior_std, noise=noise,
                         learning_rate=learning_rate)

    return chunk
