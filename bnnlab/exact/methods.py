"""Every approximation against one exact posterior (chapter 3, issue 16).

On a 2-parameter model the (tempered) posterior P_T(θ | D) ∝ (P(Y|X,θ)·P(θ))^{1/T} is known
by quadrature (`bnnlab.exact.quadrature`), so each inference method can be scored exactly:

- reverse KL, VI: the Gaussian Q maximising the (tempered) ELBO, mean-field or full covariance
  (Blei et al. 2017); it seeks a mode;
- forward KL, moment matching: the Gaussian with P_T's own mean and covariance, which
  minimises KL(P_T ‖ Q) (Minka 2001, "Expectation propagation"); it covers the mass;
- Laplace at the MAP: Q = N(θ*, H⁻¹) with H = −∇² log P_T(D, θ) at θ*, and the evidence
  log Z ≈ log P_T(D, θ*) + log 2π − ½ log det H (MacKay 1992; d = 2);
- HMC with the No-U-Turn sampler: blackjax's NUTS kernel (Hoffman & Gelman 2014) with its
  dual-averaging step-size warm-up, every trajectory recorded so that a learner can watch it
  grow until it turns back on itself (Neal 2011, "MCMC using Hamiltonian dynamics"). A
  fixed-length leapfrog HMC chain (`run_hmc`) is kept for comparison and tests.

Temperature T (Wenzel et al. 2020, "How good is the Bayes posterior in deep neural networks
really?"; Izmailov et al. 2021 find T = 1 fine for HMC on clean data): T < 1 sharpens the
posterior, T > 1 flattens it. T enters every method the same way, through log P_T.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from blackjax.adaptation.step_size import dual_averaging_adaptation
from blackjax.mcmc import integrators, metrics

from bnnlab.exact import fitting
from bnnlab.exact.data import ToyData
from bnnlab.exact.model import LOG_2PI, log_likelihood_terms, log_prior, predict
from bnnlab.exact.quadrature import (
    GaussianQ,
    PosteriorGrid,
    as_q64,
    expected_log_likelihood_converged,
    kl_to_prior,
    nodes_to_theta,
    posterior_moments,
    posterior_predictive,
    q_covariance,
    q_fits_grid,
    q_from_moments,
    q_log_density,
    q_predictive,
    q_rule,
)

METHODS: tuple[str, ...] = ("vi_mean_field", "vi_full", "forward_kl", "laplace", "hmc")
METHOD_LABELS: dict[str, str] = {
    "vi_mean_field": "VI, mean-field (reverse KL)",
    "vi_full": "VI, full covariance (reverse KL)",
    "forward_kl": "Moment matching (forward KL)",
    "laplace": "Laplace at the MAP",
    "hmc": "HMC with NUTS (blackjax)",
}
TEMPERATURE_RANGE = (0.1, 10.0)
VI_STEPS = 2000  # the table's VI fits: this many Adam steps …
VI_CHUNK = 500  # … in compiled chunks of this many
VI_LEARNING_RATE = 0.02
VI_NODES = 8  # Gauss–Hermite nodes per axis in the fit's gradient
NEWTON_STEPS = 50
NEWTON_TOLERANCE = 1e-10  # stop when the Newton step is this small
HMC_WARMUP = 100  # dual-averaging transitions (drawn, marked as warm-up)
HMC_SAMPLES = 400  # transitions kept as samples
HMC_LEAPFROG = 16  # leapfrog steps per trajectory
HMC_INITIAL_STEP_SIZE = 0.1
HMC_TARGET_ACCEPTANCE = 0.8
HMC_DIVERGENCE = 1000.0  # an energy error above this (nats) counts as a divergence


def check_temperature(temperature: float) -> float:
    """`temperature` as a float inside TEMPERATURE_RANGE, or ValueError with a message."""
    t = float(temperature)
    if not (math.isfinite(t) and TEMPERATURE_RANGE[0] <= t <= TEMPERATURE_RANGE[1]):
        raise ValueError(f"temperature must lie in [{TEMPERATURE_RANGE[0]:g}, "
                         f"{TEMPERATURE_RANGE[1]:g}], got {temperature!r}")
    return t


# ------------------------------------------------------------- the tempered target


def log_target(theta1: np.ndarray, theta2: np.ndarray, data: ToyData, model: str,
               prior_std: float, noise: float, temperature: float) -> np.ndarray:
    """(log P(Y|X,θ) + log P(θ)) / T at θ float64[...] (numpy, float64)."""
    ll = log_likelihood_terms(np, model, theta1[..., None], theta2[..., None], data.x, data.y,
                              noise).sum(-1)
    return (ll + log_prior(np, theta1, theta2, prior_std)) / temperature


def log_target_derivatives(theta: np.ndarray, data: ToyData, model: str, prior_std: float,
                           noise: float, temperature: float
                           ) -> tuple[float, np.ndarray, np.ndarray]:
    """Value, gradient float64[2] and Hessian float64[2, 2] of the tempered log joint at
    θ float64[2], analytic (the logit z is linear in θ for "logistic"/"linear"; for
    "tanh_unit" z = θ₂·tanh(θ₁x))."""
    t1, t2 = float(theta[0]), float(theta[1])
    x, y = data.x, data.y
    if model == "linear":
        z = t1 * x + t2
        d1, d2 = (y - z) / noise**2, np.full_like(x, -1.0 / noise**2)
        dz = np.stack([x, np.ones_like(x)])
        d2z = np.zeros((2, 2, x.size))
    else:
        sign = 2.0 * y - 1.0
        if model == "logistic":
            z = t1 * x + t2
            dz = np.stack([x, np.ones_like(x)])
            d2z = np.zeros((2, 2, x.size))
        else:
            th = np.tanh(t1 * x)
            sech2 = 1.0 - th**2
            z = t2 * th
            dz = np.stack([t2 * x * sech2, th])
            d2z = np.stack([np.stack([-2.0 * t2 * x**2 * th * sech2, x * sech2]),
                            np.stack([x * sech2, np.zeros_like(x)])])
        p = 0.5 * (1.0 + np.tanh(0.5 * sign * z))  # σ(s·z), overflow-free
        d1 = sign * (1.0 - p)
        d2 = -p * (1.0 - p)
    value = float(np.sum(log_likelihood_terms(np, model, t1, t2, x, y, noise))
                  + log_prior(np, t1, t2, prior_std))
    grad = dz @ d1 - theta / prior_std**2
    hess = (dz * d2) @ dz.T + np.einsum("abn,n->ab", d2z, d1) - np.eye(2) / prior_std**2
    return value / temperature, grad / temperature, hess / temperature


# -------------------------------------------------------------- Gaussian methods


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
    fit starts at the mean-field ELBO and climbs. (Releasing the correlation on the live
    fit's gradient criterion instead let the one-hidden-unit fit at T = 3 pass near the
    symmetric saddle at mean 0, release there, and settle on an ellipse straddling both
    modes: tempered ELBO −5.41 against mean-field's −5.21.)"""
    from bnnlab.exact.lab import compiled_chunk  # lab imports this module's neighbours

    padded = fitting.pad_data(data)

    def run(state: fitting.FitState, full: bool, offset: int) -> fitting.FitState:
        fn = compiled_chunk(model, full, "gauss_hermite", VI_NODES, VI_CHUNK)
        for i in range(VI_STEPS // VI_CHUNK):
            state, _ = fn(jax.random.PRNGKey(seed + offset + i), state, padded, prior_std,
                          noise, VI_LEARNING_RATE, temperature)
        return state

    mean_field = as_q64(run(fitting.init(q0), False, 0).q)
    if not full_covariance:
        return mean_field
    full = as_q64(run(fitting.init(mean_field, correlation_free=True), True,
                      VI_STEPS // VI_CHUNK).q)
    if not all(np.isfinite(a).all() for a in full):
        return mean_field
    return full


def gaussian_entropy(q: GaussianQ) -> float:
    """H(Q) = 1 + log 2π + log|L| for a 2-D Gaussian."""
    return float(1.0 + LOG_2PI + np.sum(np.asarray(q.log_scale, np.float64)))


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


# ----------------------------------------------------------------------------- HMC


class HMCTrace(NamedTuple):
    """Every transition of one HMC chain (float32, from JAX); T = warm-up + samples."""

    trajectories: np.ndarray  # float32[T, L + 1, 2]: leapfrog positions, start to proposal
    positions: np.ndarray  # float32[T, 2]: the chain's state after each transition
    accepted: np.ndarray  # bool[T]: the proposal was accepted
    acceptance: np.ndarray  # float32[T]: min(1, exp(−ΔH))
    step_size: np.ndarray  # float32[T]: the leapfrog step size used
    warmup: np.ndarray  # bool[T]: a warm-up (step-size adaptation) transition
    divergent: np.ndarray  # bool[T]: energy error above HMC_DIVERGENCE

    @property
    def samples(self) -> np.ndarray:
        """float64[S, 2]: the states after warm-up."""
        return np.asarray(self.positions[~self.warmup], np.float64)


def tempered_logdensity(model: str, data: Any, prior_std: Any, noise: Any,
                        temperature: Any) -> Callable:
    """θ float32[2] → (log P(D|θ) + log P(θ)) / T: the tempered posterior's log density (up to
    log P(D)) that the HMC and NUTS chains sample."""
    def logdensity(theta):  # noqa: ANN001, ANN202
        ll = log_likelihood_terms(jnp, model, theta[0], theta[1], data.x, data.y, noise)
        return (jnp.sum(ll * data.mask) + log_prior(jnp, theta[0], theta[1], prior_std)
                ) / temperature
    return logdensity


def make_hmc_chain(model: str, num_warmup: int, num_samples: int,
                   num_leapfrog: int) -> Callable:
    """fn(rng_key, padded data, prior_std, noise, temperature, init_position float32[2]) →
    HMCTrace leaves (jax); jit it where used."""
    total = num_warmup + num_samples
    metric = metrics.default_metric(jnp.ones(2))
    da_init, da_update, da_final = dual_averaging_adaptation(target=HMC_TARGET_ACCEPTANCE)

    def chain(rng_key, data, prior_std, noise, temperature, init_position):  # noqa: ANN001, ANN202
        logdensity = tempered_logdensity(model, data, prior_std, noise, temperature)

        leapfrog = integrators.velocity_verlet(logdensity, metric.kinetic_energy)

        def transition(carry, inputs):  # noqa: ANN001, ANN202
            position, da_state = carry
            key, index = inputs
            warm = index < num_warmup
            step_size = jnp.where(warm, jnp.exp(da_state.log_step_size), da_final(da_state))
            key_momentum, key_accept = jax.random.split(key)
            momentum = metric.sample_momentum(key_momentum, position)
            value, grad = jax.value_and_grad(logdensity)(position)
            start = integrators.IntegratorState(position, momentum, value, grad)

            def one(state, _):  # noqa: ANN001, ANN202
                new = leapfrog(state, step_size)
                return new, new.position

            end, path = jax.lax.scan(one, start, None, length=num_leapfrog)
            energy_start = -value + metric.kinetic_energy(momentum)
            energy_end = -end.logdensity + metric.kinetic_energy(end.momentum)
            delta = jnp.where(jnp.isfinite(energy_end), energy_end - energy_start, jnp.inf)
            accept_prob = jnp.minimum(1.0, jnp.exp(-delta))
            accepted = jax.random.uniform(key_accept) < accept_prob
            new_position = jnp.where(accepted, end.position, position)
            da_state = jax.lax.cond(warm, lambda s: da_update(s, accept_prob), lambda s: s,
                                    da_state)
            trajectory = jnp.concatenate([position[None], path], 0)
            return (new_position, da_state), (trajectory, new_position, accepted, accept_prob,
                                              step_size, warm, delta > HMC_DIVERGENCE)

        keys = jax.random.split(rng_key, total)
        _, out = jax.lax.scan(transition, (init_position, da_init(HMC_INITIAL_STEP_SIZE)),
                              (keys, jnp.arange(total)))
        return out

    return chain


@functools.lru_cache(maxsize=16)
def compiled_hmc_chain(model: str, num_warmup: int = HMC_WARMUP, num_samples: int = HMC_SAMPLES,
                       num_leapfrog: int = HMC_LEAPFROG) -> Callable:
    """`make_hmc_chain` jitted once per static configuration (shared by every session)."""
    return jax.jit(make_hmc_chain(model, num_warmup, num_samples, num_leapfrog))


def run_hmc(data: ToyData, model: str, prior_std: float, noise: float, temperature: float,
            init_position: tuple[float, float], seed: int = 0, num_warmup: int = HMC_WARMUP,
            num_samples: int = HMC_SAMPLES, num_leapfrog: int = HMC_LEAPFROG) -> HMCTrace:
    """One HMC chain on P_T(θ | D) from `init_position`, every transition recorded."""
    fn = compiled_hmc_chain(model, num_warmup, num_samples, num_leapfrog)
    out = fn(jax.random.PRNGKey(seed), fitting.pad_data(data), prior_std, noise, temperature,
             jnp.asarray(init_position, jnp.float32))
    return HMCTrace(*(np.asarray(a) for a in out))


# ---------------------------------------------------------------------------- NUTS

NUTS_MAX_DOUBLINGS = 6  # a trajectory holds at most 2^6 = 64 leapfrog steps
NUTS_WARMUP = 100
NUTS_SAMPLES = 400
NUTS_TARGET_ACCEPTANCE = 0.9  # 0.8 left 13 divergences in 2000 transitions on tanh_unit


class NUTSTrace(NamedTuple):
    """Every transition of one NUTS chain (float32; T = warm-up + samples, M = 2^d + 1).

    NUTS (Hoffman & Gelman 2014; blackjax's iterative multinomial version, Betancourt 2017)
    doubles the trajectory forwards or backwards in time until its two ends turn back towards
    each other (the U-turn: p₋·(θ₊ − θ₋) < 0 or p₊·(θ₊ − θ₋) < 0), then draws the next state
    from the whole trajectory. blackjax reports the trajectory's two ends (position and
    momentum); the states between them are recomputed here by leapfrog from the leftmost end
    with the same step size (the integrator is deterministic and reversible)."""

    trajectories: np.ndarray  # float32[T, M, 2]: the kept trajectory, leftmost to rightmost
    lengths: np.ndarray  # int32[T]: states on it (≤ M; the rest is padding)
    momenta: np.ndarray  # float32[T, 2, 2]: momentum at the leftmost and rightmost end
    positions: np.ndarray  # float32[T, 2]: the chain's state after each transition
    accepted: np.ndarray  # bool[T]: the chain moved (NUTS draws from the trajectory)
    acceptance: np.ndarray  # float32[T]: blackjax's mean Metropolis probability on it
    step_size: np.ndarray  # float32[T]
    warmup: np.ndarray  # bool[T]
    divergent: np.ndarray  # bool[T]
    turning: np.ndarray  # bool[T]: stopped by a U-turn (else: the depth limit or divergence)
    doublings: np.ndarray  # int32[T]: trajectory expansions
    integration_steps: np.ndarray  # int32[T]: leapfrog steps computed (kept or not)

    @property
    def samples(self) -> np.ndarray:
        """float64[S, 2]: the states after warm-up."""
        return np.asarray(self.positions[~self.warmup], np.float64)


def make_nuts_chain(model: str, num_warmup: int, num_samples: int,
                    max_doublings: int = NUTS_MAX_DOUBLINGS) -> Callable:
    """fn(rng_key, padded data, prior_std, noise, temperature, init_position float32[2]) →
    NUTSTrace leaves (jax): blackjax's NUTS kernel with an identity metric and dual-averaging
    step-size warm-up (target acceptance NUTS_TARGET_ACCEPTANCE); jit it where used."""
    import blackjax

    total = num_warmup + num_samples
    max_steps = 2 ** max_doublings
    inverse_mass = jnp.ones(2)
    metric = metrics.default_metric(inverse_mass)
    kernel = blackjax.nuts.build_kernel(divergence_threshold=int(HMC_DIVERGENCE))
    da_init, da_update, da_final = dual_averaging_adaptation(target=NUTS_TARGET_ACCEPTANCE)

    def chain(rng_key, data, prior_std, noise, temperature, init_position):  # noqa: ANN001, ANN202
        logdensity = tempered_logdensity(model, data, prior_std, noise, temperature)

        leapfrog = integrators.velocity_verlet(logdensity, metric.kinetic_energy)

        def transition(carry, inputs):  # noqa: ANN001, ANN202
            state, da_state = carry
            key, index = inputs
            warm = index < num_warmup
            step_size = jnp.where(warm, jnp.exp(da_state.log_step_size), da_final(da_state))
            new, info = kernel(key, state, logdensity, step_size, inverse_mass, max_doublings)
            da_state = jax.lax.cond(warm, lambda s: da_update(s, info.acceptance_rate),
                                    lambda s: s, da_state)
            left, right = info.trajectory_leftmost_state, info.trajectory_rightmost_state

            def one(s, _):  # noqa: ANN001, ANN202
                s = leapfrog(s, step_size)
                return s, s.position

            _, path = jax.lax.scan(one, left, None, length=max_steps)
            path = jnp.concatenate([left.position[None], path], 0)
            # The kept trajectory ends at the rightmost state: the path's closest point to it.
            length = jnp.argmin(jnp.sum((path - right.position) ** 2, -1)) + 1
            moved = jnp.any(new.position != state.position)
            out = (path, length.astype(jnp.int32), jnp.stack([left.momentum, right.momentum]),
                   new.position, moved, info.acceptance_rate, step_size, warm,
                   info.is_divergent, info.is_turning,
                   info.num_trajectory_expansions.astype(jnp.int32),
                   info.num_integration_steps.astype(jnp.int32))
            return (new, da_state), out

        keys = jax.random.split(rng_key, total)
        state = blackjax.mcmc.hmc.init(init_position, logdensity)
        _, out = jax.lax.scan(transition, (state, da_init(HMC_INITIAL_STEP_SIZE)),
                              (keys, jnp.arange(total)))
        return out

    return chain


@functools.lru_cache(maxsize=16)
def compiled_nuts_chain(model: str, num_warmup: int = NUTS_WARMUP,
                        num_samples: int = NUTS_SAMPLES,
                        max_doublings: int = NUTS_MAX_DOUBLINGS) -> Callable:
    """`make_nuts_chain` jitted once per static configuration (shared by every session)."""
    return jax.jit(make_nuts_chain(model, num_warmup, num_samples, max_doublings))


def run_nuts(data: ToyData, model: str, prior_std: float, noise: float, temperature: float,
             init_position: tuple[float, float], seed: int = 0, num_warmup: int = NUTS_WARMUP,
             num_samples: int = NUTS_SAMPLES,
             max_doublings: int = NUTS_MAX_DOUBLINGS) -> NUTSTrace:
    """One NUTS chain on P_T(θ | D) from `init_position`, every trajectory recorded."""
    fn = compiled_nuts_chain(model, num_warmup, num_samples, max_doublings)
    out = fn(jax.random.PRNGKey(seed), fitting.pad_data(data), prior_std, noise, temperature,
             jnp.asarray(init_position, jnp.float32))
    return NUTSTrace(*(np.asarray(a) for a in out))


# ----------------------------------------------------------------------- the table


class MethodResult(NamedTuple):
    """One row of the comparison: what a method says about P_T(θ | D), scored exactly."""

    method: str
    q: GaussianQ | None  # the Gaussian (None for HMC)
    samples: np.ndarray | None  # float64[S, 2] (HMC)
    kl_reverse: float  # KL(Q ‖ P_T(θ|D)), NaN for samples
    kl_forward: float  # KL(P_T(θ|D) ‖ Q), NaN for samples
    evidence: float  # the method's estimate of log Z_T (NaN when it has none)
    evidence_kind: str  # "ELBO (a lower bound)", "Laplace", "—"
    predictive: float  # P(y=1 | x*, ·) (regression: E[y | x*, ·])
    wall_s: float
    trace: NUTSTrace | None = None


def run_method(method: str, grid: PosteriorGrid, data: ToyData, model: str, prior_std: float,
               noise: float, x_star: float, q0: GaussianQ, seed: int = 0) -> MethodResult:
    """Run one method on the grid's (tempered) posterior and score it against the grid."""
    temperature = grid.temperature
    start = time.perf_counter()
    trace = None
    if method in ("vi_mean_field", "vi_full"):
        q = fit_vi(data, model, prior_std, noise, temperature, method == "vi_full", q0, seed)
    elif method == "forward_kl":
        q = moment_matched_q(grid)
    elif method == "laplace":
        fit = laplace(grid, data, model, prior_std, noise)
        q = fit.q
    elif method == "hmc":
        q = None
        trace = run_nuts(data, model, prior_std, noise, temperature,
                         tuple(np.asarray(q0.mean, np.float64)), seed)
    else:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    wall = time.perf_counter() - start
    x = np.array([x_star], np.float64)
    if method == "laplace" and q is None:
        return MethodResult(method, None, None, math.nan, math.nan, math.nan,
                            "undefined: the curvature at the mode is not negative definite",
                            math.nan, wall)
    if q is None:
        samples = trace.samples
        pred = float(np.mean(predict(np, model, samples[:, :1], samples[:, 1:], x)))
        return MethodResult(method, None, samples, math.nan, math.nan, math.nan, "—", pred,
                            wall, trace)
    if method == "laplace":
        evidence, kind = fit.log_evidence, "Laplace"
    else:
        evidence = tempered_elbo(q, data, model, prior_std, noise, temperature)
        kind = "ELBO (lower bound)"
    return MethodResult(method, q, None,
                        kl_q_to_posterior(q, grid, data, model, prior_std, noise),
                        kl_posterior_to_q(grid, q), evidence, kind,
                        float(q_predictive(q, model, x)[0]), wall)


def exact_predictive_at(grid: PosteriorGrid, model: str, x_star: float) -> float:
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


def predictive_at(row: MethodResult, model: str, x_star: float) -> float:
    """The row's predictive at x* (P(y=1|x*) or E[y|x*]): Q's rule, or the HMC sample mean."""
    x = np.array([x_star], np.float64)
    if row.q is not None:
        return float(q_predictive(row.q, model, x)[0])
    if row.samples is None:
        return math.nan
    samples = row.samples
    return float(np.mean(predict(np, model, samples[:, :1], samples[:, 1:], x)))


def line_predictive(row: MethodResult, model: str, x: np.ndarray) -> np.ndarray:
    """The row's predictive along x float64[m] → float64[m]."""
    if row.q is not None:
        return q_predictive(row.q, model, x)
    if row.samples is None:
        return np.full(x.shape, np.nan)
    samples = row.samples
    return predict(np, model, samples[:, :1], samples[:, 1:], x).mean(0)


# ------------------------------------------------------------ far from the data
FAR_MARGIN = 5.0  # "far": this far beyond the farthest data point (and beyond |x| = 3)


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


def far_entropy(row: MethodResult, data: ToyData, model: str, noise: float) -> float:
    """Mean predictive entropy at `far_points` under the row's Q or samples (NaN without)."""
    x = far_points(data)
    if row.q is None and row.samples is None:
        return math.nan
    var = None
    if model == "linear":
        cov = (q_covariance(row.q) if row.q is not None else np.cov(row.samples.T))
        var = _linear_variance(cov, x)
    return float(np.mean(predictive_entropy(model, line_predictive(row, model, x), var, noise)))

