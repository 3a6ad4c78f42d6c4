"""Every approximation of chapter 3's table, run on one exact (tempered) posterior and scored.

On a 2-parameter model P_T(θ | D) ∝ (P(Y|X,θ)·P(θ))^{1/T} is known by quadrature
(`quadrature`), so each inference method can be scored exactly (`scoring`):

- reverse KL, VI: the Gaussian Q maximising the (tempered) ELBO, mean-field or full covariance
  (Blei et al. 2017); it seeks a mode;
- forward KL, moment matching: the Gaussian with P_T's own mean and covariance, which
  minimises KL(P_T ‖ Q) (Minka 2001, "Expectation propagation"); it covers the mass;
- Laplace at the MAP: Q = N(θ*, H⁻¹) with H = −∇² log P_T(D, θ) at θ*, and the evidence
  log Z ≈ log P_T(D, θ*) + log 2π − ½ log det H (MacKay 1992; d = 2);
- HMC with the No-U-Turn sampler (`chains`), every trajectory recorded.

`APPROXIMATIONS` maps each name to its label and runner; a runner returns an `Approximation` (a
Gaussian or a chain, with the method's own evidence where it has one) and `run_method` scores
it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np

from bnnlab.lessons.exact import fitting, scoring
from bnnlab.lessons.exact.chains import NUTSTrace, run_nuts
from bnnlab.lessons.exact.data import ExactProblem, ToyData
from bnnlab.lessons.exact.gaussian import GaussianQ, as_q64, is_finite, q_from_moments
from bnnlab.lessons.exact.model import LOG_2PI
from bnnlab.lessons.exact.quadrature import PosteriorGrid, posterior_moments
from bnnlab.lessons.exact.target import log_target_derivatives

VI_STEPS = 2000  # the table's VI fits: this many Adam steps …
VI_CHUNK = 500  # … in compiled chunks of this many
VI_LEARNING_RATE = 0.02
VI_NODES = 8  # Gauss–Hermite nodes per axis in the fit's gradient
NEWTON_STEPS = 50
NEWTON_TOLERANCE = 1e-10  # stop when the Newton step is this small
ELBO_KIND = "ELBO (lower bound)"
NO_CURVATURE = "undefined: the curvature at the mode is not negative definite"


# -------------------------------------------------------------- Gaussian approximations


def moment_matched_q(grid: PosteriorGrid) -> GaussianQ:
    """The Gaussian minimising KL(P_T ‖ Q): P_T's mean and covariance, by quadrature."""
    return q_from_moments(*posterior_moments(grid))


class LaplaceResult(NamedTuple):
    q: GaussianQ | None  # N(θ*, H⁻¹), float64; None when H is not positive definite
    log_evidence: float  # log P_T(D, θ*) + log 2π − ½ log det H (NaN without q)
    mode: np.ndarray  # float64[2]: θ*


def laplace(grid: PosteriorGrid, data: ToyData, model: str, prior_std: float,
            noise: float) -> LaplaceResult:
    """Newton's method on the tempered log joint from the grid's highest node (damped where
    the Hessian is not negative definite, with backtracking), then the Laplace approximation
    there. Exact for the conjugate linear model. If the curvature at the end is not
    negative definite (a flat ridge), there is no Laplace Gaussian: q None, evidence NaN."""
    temperature = grid.temperature
    row, col = np.unravel_index(int(np.argmax(grid.log_joint)), grid.log_joint.shape)
    theta = np.array([grid.theta1[col], grid.theta2[row]])
    value, grad, hess = log_target_derivatives(theta, data, model, prior_std, noise, temperature)
    for _ in range(NEWTON_STEPS):
        top = float(np.max(np.linalg.eigvalsh(hess)))
        damping = max(0.0, top + 1e-6 * max(1.0, abs(top)))  # make −(H − λI) positive
        step = -np.linalg.solve(hess - damping * np.eye(2), grad)
        scale = 1.0
        while scale > 1e-6:  # backtracking: Newton must not go downhill
            candidate = theta + scale * step
            new = log_target_derivatives(candidate, data, model, prior_std, noise, temperature)
            if new[0] >= value - 1e-12:
                break
            scale *= 0.5
        theta, (value, grad, hess) = candidate, new
        if np.linalg.norm(scale * step) < NEWTON_TOLERANCE:
            break
    precision = -hess
    if np.min(np.linalg.eigvalsh(precision)) <= 0.0:
        return LaplaceResult(None, math.nan, theta)
    log_z = value + LOG_2PI - 0.5 * math.log(np.linalg.det(precision))
    return LaplaceResult(q_from_moments(theta, np.linalg.inv(precision)), float(log_z), theta)


def fit_vi(data: ToyData, model: str, prior_std: float, noise: float, temperature: float,
           full_covariance: bool, q0: GaussianQ, seed: int = 0) -> GaussianQ:
    """The reverse-KL Gaussian: VI_STEPS Adam steps on the tempered ELBO from q0 (float64).

    Full covariance: the mean-field fit first (VI_STEPS steps), then VI_STEPS more with the
    correlation free from that optimum. Mean-field is the family's c = 0 slice, so the full
    fit starts at the mean-field ELBO and climbs. (The live fit's release on a gradient
    criterion would not do here: at high T a fit can pass near the symmetric saddle at mean 0,
    release there, and settle on an ellipse straddling both modes, below mean-field.)"""
    padded = fitting.pad_data(data)

    def run(state: fitting.FitState, full: bool, offset: int) -> fitting.FitState:
        fn = fitting.compiled_chunk(model, full, "gauss_hermite", VI_NODES, VI_CHUNK)
        for i in range(VI_STEPS // VI_CHUNK):
            state, _ = fn(jax.random.PRNGKey(seed + offset + i), state, padded, prior_std,
                          noise, VI_LEARNING_RATE, temperature)
        return state

    mean_field = as_q64(run(fitting.init(q0), False, 0).q)
    if not full_covariance:
        return mean_field
    full = as_q64(run(fitting.init(mean_field, correlation_free=True), True,
                      VI_STEPS // VI_CHUNK).q)
    return full if is_finite(full) else mean_field


# ------------------------------------------------------------------------- the runners


class Approximation(NamedTuple):
    """What one approximation says about P_T(θ | D), before it is scored."""

    q: GaussianQ | None = None  # a Gaussian approximation (float64)
    trace: NUTSTrace | None = None  # a chain, when the method samples
    evidence: float | None = None  # its own estimate of log Z_T; None: its tempered ELBO
    evidence_kind: str = ELBO_KIND


# runner(problem, grid, q0, seed): one approximation of the grid's (tempered) posterior, from q0
# where it needs a start.
Runner = Callable[[ExactProblem, PosteriorGrid, GaussianQ, int], Approximation]


def _vi(full_covariance: bool) -> Runner:
    """Reverse KL: `fit_vi`, mean-field or full covariance."""

    def run(problem: ExactProblem, grid: PosteriorGrid, q0: GaussianQ,
            seed: int) -> Approximation:
        p = problem
        return Approximation(fit_vi(p.data, p.model, p.prior_std, p.noise, grid.temperature,
                                    full_covariance, q0, seed))
    return run


def _forward_kl(problem: ExactProblem, grid: PosteriorGrid, q0: GaussianQ,
                seed: int) -> Approximation:
    """Forward KL: the Gaussian with the posterior's moments (no start, no randomness)."""
    return Approximation(moment_matched_q(grid))


def _laplace(problem: ExactProblem, grid: PosteriorGrid, q0: GaussianQ,
             seed: int) -> Approximation:
    """Laplace at the MAP, with its own evidence; none where the curvature is not negative."""
    fit = laplace(grid, problem.data, problem.model, problem.prior_std, problem.noise)
    if fit.q is None:
        return Approximation(evidence=math.nan, evidence_kind=NO_CURVATURE)
    return Approximation(fit.q, evidence=fit.log_evidence, evidence_kind="Laplace")


def _nuts(problem: ExactProblem, grid: PosteriorGrid, q0: GaussianQ,
          seed: int) -> Approximation:
    """A NUTS chain from Q₀'s mean: samples, no evidence."""
    p = problem
    trace = run_nuts(p.data, p.model, p.prior_std, p.noise, grid.temperature,
                     tuple(np.asarray(q0.mean, np.float64)), seed)
    return Approximation(trace=trace, evidence=math.nan, evidence_kind="—")


class ApproximationSpec(NamedTuple):
    """One row of the table: how a learner reads it and how it is computed."""

    label: str  # the name a learner reads
    run: Runner
    view_legend: str = ""  # what the posterior view draws beyond a Gaussian's ellipses


APPROXIMATIONS: dict[str, ApproximationSpec] = {
    "vi_mean_field": ApproximationSpec("VI, mean-field (reverse KL)", _vi(False)),
    "vi_full": ApproximationSpec("VI, full covariance (reverse KL)", _vi(True)),
    "forward_kl": ApproximationSpec("Moment matching (forward KL)", _forward_kl),
    "laplace": ApproximationSpec("Laplace at the MAP", _laplace),
    "hmc": ApproximationSpec("HMC with NUTS (blackjax)", _nuts,
                             " Black ring: where the transition started; orange: the kept "
                             "trajectory; grey dots: warm-up states; red dots: samples."),
}
METHODS: tuple[str, ...] = tuple(APPROXIMATIONS)
METHOD_LABELS: dict[str, str] = {name: a.label for name, a in APPROXIMATIONS.items()}


# ---------------------------------------------------------------------------- the table


class MethodResult(NamedTuple):
    """One row of the comparison: what a method says about P_T(θ | D), scored exactly."""

    method: str
    q: GaussianQ | None  # the Gaussian (None for HMC)
    samples: np.ndarray | None  # float64[S, 2] (HMC)
    kl_reverse: float  # KL(Q ‖ P_T(θ|D)), NaN for samples
    kl_forward: float  # KL(P_T(θ|D) ‖ Q), NaN for samples
    evidence: float  # the method's estimate of log Z_T (NaN when it has none)
    evidence_kind: str  # "ELBO (lower bound)", "Laplace", "—", or why there is none
    predictive: float  # P(y=1 | x*, ·) (regression: E[y | x*, ·])
    wall_s: float  # the method's own run, scoring excluded
    trace: NUTSTrace | None = None


def run_method(method: str, problem: ExactProblem, grid: PosteriorGrid, q0: GaussianQ,
               x_star: float = 0.0, seed: int = 0) -> MethodResult:
    """Run one method of `APPROXIMATIONS` on the grid's (tempered) posterior, from `q0` where
    it needs a start, and score it against the grid."""
    if method not in APPROXIMATIONS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    p = problem
    start = time.perf_counter()
    fit = APPROXIMATIONS[method].run(p, grid, q0, seed)
    wall = time.perf_counter() - start
    if fit.q is None:
        samples = fit.trace.samples if fit.trace is not None else None
        evidence = math.nan if fit.evidence is None else fit.evidence  # no Q, no ELBO
        return MethodResult(method, None, samples, math.nan, math.nan, evidence,
                            fit.evidence_kind,
                            scoring.predictive_at(None, samples, p.model, x_star), wall,
                            fit.trace)
    evidence = fit.evidence
    if evidence is None:
        evidence = scoring.tempered_elbo(fit.q, p.data, p.model, p.prior_std, p.noise,
                                         grid.temperature)
    return MethodResult(method, fit.q, None,
                        scoring.kl_q_to_posterior(fit.q, grid, p.data, p.model, p.prior_std,
                                                  p.noise),
                        scoring.kl_posterior_to_q(grid, fit.q), evidence, fit.evidence_kind,
                        scoring.predictive_at(fit.q, None, p.model, x_star), wall)
