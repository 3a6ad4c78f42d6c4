"""Linearised Laplace approximation around a trained (MAP) network.

After MAP training, θ* maximises log P(D|θ) + log N(θ; 0, α⁻¹ I). The Laplace approximation
replaces the posterior by the Gaussian N(θ*, (GGN + α I)⁻¹), with the generalised Gauss–Newton
matrix GGN = Σₙ Jₙᵀ Λₙ Jₙ (Jₙ = ∂f(xₙ; θ)/∂θ at θ*, Λₙ = −∂² log p(yₙ | f)/∂f², the likelihood's
curvature in function space; MacKay 1992, Martens 2014). Predictions use the network linearised
at θ*, f(x; θ) ≈ f(x; θ*) + J(x)(θ − θ*), the "GLM predictive" that Immer et al. (2021) showed to
fix the underfitting of sampling the nonlinear network (Lawrence 2001). The prior precision α is
tuned after training by maximising the Laplace evidence (MacKay 1992; Immer et al. 2021;
Daxberger et al. 2021, "Laplace Redux", section 2):

    log P(D | α) ≈ log P(D|θ*) − α/2 ‖θ*‖² + d/2 log α − 1/2 Σᵢ log(λᵢ + α),

λᵢ the GGN's eigenvalues, so the whole curve over α costs one eigendecomposition.

Full covariance up to `MAX_FULL_PARAMS` parameters; beyond it only the last layer's weights are
Bayesian ("last-layer Laplace", Kristiadi et al. 2020) and the rest stay at θ*.

Written on `jax.jacrev`/`jax.jacfwd` (whichever needs fewer passes) and `jax.linearize`
directly: laplax (the JAX Laplace library) is at version 0.0.2
with three more dependencies (jaxtyping, loguru, tqdm), while what is needed here — one GGN of a
network with ≤ a few thousand parameters, its eigendecomposition and a linearised predictive —
is a few lines of JAX.

Like the other methods the module never calls `jit`; callers jit where they use it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bnnlab.core.likelihoods import BERNOULLI, CATEGORICAL, Likelihood
from bnnlab.methods import map_estimate, wrappers
from bnnlab.methods.base import Algorithm, CostModel, Curve, Fit, MethodSpec, Problem

# Full-covariance Laplace up to this many parameters (a d×d GGN and its eigendecomposition:
# 3,000² float32 is 36 MB and ~1 s on 2 cores); last-layer Laplace beyond.
MAX_FULL_PARAMS = 3_000
# Points per Jacobian block when the GGN is accumulated: the vmapped forward-mode pass holds
# [d, block, width] activations, kept to tens of MB.
GGN_BLOCK = 128
# log10 α grid for the evidence curve (α = 1 / prior σ²): prior σ from 1e-2.5 to 1e2.5.
LOG10_PRIOR_PRECISION_GRID = tuple(-5.0 + 0.1 * i for i in range(101))

# f(θ float32[k]) -> function values float32[n] (one output) or float32[n, K]
FunctionOfParams = Callable[[jax.Array], jax.Array]


class LaplaceFit(NamedTuple):
    """The Gaussian N(mean, (GGN + α I)⁻¹) for every α at once, through GGN = V diag(λ) Vᵀ.

    Only the last `num_bayesian` entries of the flat parameter vector are Bayesian (all of them
    for full Laplace); `theta` is the whole MAP vector.
    """

    theta: jax.Array  # float32[d], the MAP parameters
    mean: jax.Array  # float32[k], the Bayesian part of theta (its last k entries)
    eigenvalues: jax.Array  # float32[k], the GGN's, clipped at 0
    eigenvectors: jax.Array  # float32[k, k], columns
    log_likelihood: jax.Array  # float32[], log P(D|θ*) (masked points left out)

    @property
    def num_bayesian(self) -> int:
        return self.mean.shape[0]


def num_bayesian_params(num_params: int, last_layer_size: int) -> int:
    """How many parameters the Laplace posterior covers: all of them up to `MAX_FULL_PARAMS`,
    else the last layer's `last_layer_size` weights and biases."""
    return num_params if num_params <= MAX_FULL_PARAMS else last_layer_size


def _split(theta: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    return theta[: theta.shape[0] - k], theta[theta.shape[0] - k:]


def ggn(f_of_params: FunctionOfParams, params: jax.Array, likelihood: Likelihood,
        num_points: int, mask: jax.Array | None = None) -> jax.Array:
    """Σₙ maskₙ Jₙᵀ Λₙ Jₙ: float32[k, k], with Jₙ the Jacobian of `f_of_params` at `params`
    (float32[k]) for point n. `f_of_params` must take an extra point range: it is called as
    `f_of_params(params, start, size)` for blocks of `GGN_BLOCK` points out of `num_points`."""
    k = params.shape[0]
    mask = jnp.ones(num_points, params.dtype) if mask is None else mask
    num_blocks = -(-num_points // GGN_BLOCK)

    def block(acc, index):
        start = index * GGN_BLOCK
        f = f_of_params(params, start, GGN_BLOCK)
        # Forward mode costs one pass per parameter, reverse mode one per output: take the
        # cheaper (a 2-32-32-1 network: 128 outputs a block against 1,185 parameters).
        jacobian = jax.jacrev if f.size < k else jax.jacfwd
        jac = jacobian(lambda p: f_of_params(p, start, GGN_BLOCK))(params)  # [b, (K,) k]
        rows = start + jnp.arange(GGN_BLOCK)
        weight = jnp.where(rows < num_points, jnp.take(mask, rows, mode="fill", fill_value=0), 0)
        lam = likelihood.curvature(f)
        if jac.ndim == 2:  # one output per point
            contribution = (jac * (weight * lam)[:, None]).T @ jac
        else:  # [b, K, k] with Λ [b, K, K]
            weighted = jnp.einsum("bij,bjk->bik", lam * weight[:, None, None], jac)
            contribution = jnp.einsum("bik,bil->kl", jac, weighted)
        return acc + contribution, None

    total, _ = jax.lax.scan(block, jnp.zeros((k, k), params.dtype), jnp.arange(num_blocks))
    return 0.5 * (total + total.T)


def fit(logits_fn: Callable[[jax.Array, jax.Array], jax.Array], theta: jax.Array,
        x: jax.Array, y: jax.Array, likelihood: Likelihood, num_bayesian: int,
        mask: jax.Array | None = None) -> LaplaceFit:
    """The Laplace fit at the MAP `theta: float32[d]` of `logits_fn(theta, x) -> f` on data
    `x: float32[n, D]`, `y: [n]`, padded rows having `mask` 0. The last `num_bayesian` entries
    of theta are Bayesian (see `num_bayesian_params`)."""
    n = x.shape[0]
    fixed, bayesian = _split(theta, num_bayesian)
    padded = jnp.concatenate([x, jnp.zeros((GGN_BLOCK,) + x.shape[1:], x.dtype)])

    def f_of_params(params, start, size):
        rows = jax.lax.dynamic_slice_in_dim(padded, start, size)
        return logits_fn(jnp.concatenate([fixed, params]), rows)

    matrix = ggn(f_of_params, bayesian, likelihood, n, mask)
    eigenvalues, eigenvectors = jnp.linalg.eigh(matrix)
    weights = jnp.ones(n, theta.dtype) if mask is None else mask
    log_likelihood = jnp.sum(weights * likelihood.log_prob(logits_fn(theta, x), y))
    return LaplaceFit(theta, bayesian, jnp.maximum(eigenvalues, 0.0), eigenvectors,
                      log_likelihood)


def log_evidence(laplace: LaplaceFit, prior_precision: jax.Array) -> jax.Array:
    """The Laplace approximation of log P(D | α) for α = `prior_precision` (any shape),
    at fixed θ* (the post-hoc tuning of Immer et al. 2021)."""
    alpha = jnp.asarray(prior_precision, laplace.mean.dtype)[..., None]
    k = laplace.num_bayesian
    sq_norm = jnp.sum(jnp.square(laplace.mean))
    return (laplace.log_likelihood - 0.5 * alpha[..., 0] * sq_norm
            + 0.5 * k * jnp.log(alpha[..., 0])
            - 0.5 * jnp.sum(jnp.log(laplace.eigenvalues + alpha), axis=-1))


class EvidenceCurve(NamedTuple):
    prior_std: jax.Array  # float32[g], increasing
    log_evidence: jax.Array  # float32[g]
    best_prior_std: jax.Array  # float32[], the curve's maximiser


def evidence_curve(laplace: LaplaceFit,
                   log10_precisions: tuple[float, ...] = LOG10_PRIOR_PRECISION_GRID
                   ) -> EvidenceCurve:
    """log P(D | prior σ) over a grid of prior σ = α^{-1/2}, and its maximiser."""
    alphas = 10.0 ** jnp.asarray(log10_precisions, jnp.float32)[::-1]  # σ increasing
    values = log_evidence(laplace, alphas)
    best = alphas[jnp.argmax(values)]
    return EvidenceCurve(alphas**-0.5, values, best**-0.5)


def covariance(laplace: LaplaceFit, prior_precision: jax.Array) -> jax.Array:
    """(GGN + α I)⁻¹: float32[k, k]."""
    v = laplace.eigenvectors
    return (v / (laplace.eigenvalues + prior_precision)) @ v.T


def sample_deltas(rng_key: jax.Array, laplace: LaplaceFit, prior_precision: jax.Array,
                  num_samples: int) -> jax.Array:
    """Draws of θ − θ* for the Bayesian part: float32[num_samples, k]."""
    z = jax.random.normal(rng_key, (num_samples, laplace.num_bayesian), laplace.mean.dtype)
    return (z / jnp.sqrt(laplace.eigenvalues + prior_precision)) @ laplace.eigenvectors.T


def sample_params(rng_key: jax.Array, laplace: LaplaceFit, prior_precision: jax.Array,
                  num_samples: int) -> jax.Array:
    """θ ~ N(θ*, Σ) for the Bayesian part, the rest at θ*: float32[num_samples, d]. These
    evaluated through the nonlinear network are the "NN predictive"; prefer
    `linearised_logits`."""
    deltas = sample_deltas(rng_key, laplace, prior_precision, num_samples)
    fixed = laplace.theta.shape[0] - laplace.num_bayesian
    return laplace.theta + jnp.pad(deltas, ((0, 0), (fixed, 0)))


def linearised_logits(rng_key: jax.Array, laplace: LaplaceFit, prior_precision: jax.Array,
                      logits_fn: Callable[[jax.Array, jax.Array], jax.Array], x: jax.Array,
                      num_samples: int) -> jax.Array:
    """Samples of the linearised network's outputs f(x; θ*) + J(x)(θ − θ*):
    float32[num_samples, n(, K)], one forward pass plus one Jacobian-vector product a sample."""
    deltas = sample_deltas(rng_key, laplace, prior_precision, num_samples)
    fixed, bayesian = _split(laplace.theta, laplace.num_bayesian)

    def f(params):
        return logits_fn(jnp.concatenate([fixed, params]), x)

    mean, linear = jax.linearize(f, bayesian)
    return mean + jax.vmap(linear)(deltas)


# ------------------------------------------------------------------ the registry's algorithm

class LaplaceState(NamedTuple):
    """MAP training's state and, once `fit` ran, the Laplace posterior around it.

    Every training step clears `fitted` (the network moved): the predictive is the MAP network's
    until the next fit."""

    map_state: Any  # map_estimate.MAPState: position θ float32[d] and Adam's moments
    fitted: jax.Array  # bool[]
    prior_precision: jax.Array  # float32[]: α tuned by the evidence (1 / prior σ²)
    eigenvalues: jax.Array  # float32[k]: the GGN's (the evidence curve needs only these)
    cholesky: jax.Array  # float32[k, k]: lower L with L Lᵀ = GGN + α I (the posterior precision)
    log_likelihood: jax.Array  # float32[]: log P(D | θ*) at the fit
    # The Gaussian is centred at θ* as if θ* were a mode. g = the gradient of MAP's objective
    # log P(D|θ) − β‖θ‖²/(2σ²) over the Bayesian parameters at θ*: one Newton step from θ*
    # moves (GGN + α I)⁻¹ g, which is ‖L⁻¹ g‖ posterior standard deviations (Mahalanobis).
    map_grad_norm: jax.Array  # float32[]: ‖g‖ (0 at a mode)
    mode_offset: jax.Array  # float32[]: ‖L⁻¹ g‖, in posterior σ (≪ 1: θ* is as good as a mode)


def as_fit(state: LaplaceState) -> LaplaceFit:
    """The `LaplaceFit` of a `LaplaceState` for the evidence (θ* its MAP position). Its
    eigenvectors are not kept (the state holds a Cholesky factor instead): the identity."""
    theta = state.map_state.position
    k = state.eigenvalues.shape[0]
    return LaplaceFit(theta, theta[theta.shape[0] - k:], state.eigenvalues,
                      jnp.eye(k, dtype=theta.dtype), state.log_likelihood)


def posterior_deltas(rng_key: jax.Array, state: LaplaceState, num_samples: int) -> jax.Array:
    """Draws of θ − θ* ~ N(0, (GGN + α I)⁻¹) for the Bayesian part: L⁻ᵀ z with z ~ N(0, I),
    one triangular solve (cov L⁻ᵀ L⁻¹ = (L Lᵀ)⁻¹). float32[num_samples, k]."""
    k = state.eigenvalues.shape[0]
    z = jax.random.normal(rng_key, (k, num_samples), jnp.float32)
    return jax.scipy.linalg.solve_triangular(state.cholesky, z, lower=True, trans="T").T


def linearised_at(logits_fn: Callable[[jax.Array, jax.Array], jax.Array], theta: jax.Array,
                  deltas: jax.Array, x: jax.Array) -> jax.Array:
    """f(x; θ*) + J(x) δ for each δ of `deltas: float32[S, k]` (the last k entries of θ
    move): float32[S, n(, K)]."""
    fixed, bayesian = _split(theta, deltas.shape[-1])

    def f(params):
        return logits_fn(jnp.concatenate([fixed, params]), x)

    mean, linear = jax.linearize(f, bayesian)
    return mean + jax.vmap(linear)(deltas)


def last_layer_size(problem: Problem) -> int:
    """Weights and biases of the output layer (the last entries of θ, `weights.layer_slices`)."""
    return (problem.model.hidden[-1] + 1) * problem.model.num_outputs


def make_algorithm(problem: Problem) -> Algorithm:
    """MAP training steps (`map_estimate`), then `fit`: the GGN at θ*, its eigendecomposition and
    α maximising the Laplace evidence; the predictive is the linearised network."""
    point = map_estimate.make_algorithm(problem)
    num_params = problem.num_params
    k = num_bayesian_params(num_params, last_layer_size(problem))
    likelihood = BERNOULLI if problem.model.num_outputs == 1 else CATEGORICAL
    logits_fn = problem.flat.logits_fn

    def init(rng_key, init_std):
        return LaplaceState(point.init(rng_key, init_std), jnp.bool_(False), jnp.float32(1.0),
                            jnp.zeros(k, jnp.float32), jnp.eye(k, dtype=jnp.float32),
                            jnp.float32(0.0), jnp.float32(0.0), jnp.float32(0.0))

    def ggn_at(theta, batch):
        fixed, bayesian = _split(theta, k)
        padded = jnp.concatenate([batch.x, jnp.zeros((GGN_BLOCK,) + batch.x.shape[1:],
                                                     batch.x.dtype)])

        def f_of_params(params, start, size):
            rows = jax.lax.dynamic_slice_in_dim(padded, start, size)
            return logits_fn(jnp.concatenate([fixed, params]), rows)

        return ggn(f_of_params, bayesian, likelihood, batch.x.shape[0], batch.mask)

    def ggn_and_eigenvalues(theta, batch):
        """The GGN (float32[k, k]) and its eigenvalues (float32[k], ascending, ≥ 0). With one
        output per point and fewer points m than parameters k, GGN = AᵀA for the scaled
        Jacobian A = diag(√(mask·Λ)) J (float32[m, k]), whose nonzero eigenvalues are those of
        the m×m kernel A Aᵀ: an eigendecomposition of m², not k² (the k×k one was the bulk of
        the fit)."""
        m = batch.x.shape[0]
        if problem.model.num_outputs != 1 or m >= k:
            matrix = ggn_at(theta, batch)
            return matrix, jnp.maximum(jnp.linalg.eigvalsh(matrix), 0.0)
        fixed, bayesian = _split(theta, k)

        def f(params):
            return logits_fn(jnp.concatenate([fixed, params]), batch.x)

        jac = jax.jacrev(f)(bayesian)  # [m, k]
        scaled = jac * jnp.sqrt(batch.mask * likelihood.curvature(f(bayesian)))[:, None]
        matrix = scaled.T @ scaled
        kernel = scaled @ scaled.T
        small = jnp.maximum(jnp.linalg.eigvalsh(0.5 * (kernel + kernel.T)), 0.0)
        return 0.5 * (matrix + matrix.T), jnp.concatenate([jnp.zeros(k - m, small.dtype), small])

    def join_part(state: LaplaceState, map_state, moved):
        # the network moved: the fit no longer belongs to it
        return state._replace(map_state=map_state, fitted=state.fitted & ~moved)

    def fit_posterior(state: LaplaceState, batch, hyper) -> LaplaceState:
        """The GGN's eigenvalues give the whole evidence curve (no eigenvectors needed); one
        Cholesky factor of GGN + α* I then serves the draws."""
        # α is tuned by the evidence, not taken from the training prior; the training prior
        # and β say how far θ* is from MAP's mode (the gradient of MAP's objective there).
        theta = state.map_state.position
        matrix, eigenvalues = ggn_and_eigenvalues(theta, batch)

        def log_likelihood_at(position):
            return jnp.sum(batch.mask * likelihood.log_prob(logits_fn(position, batch.x),
                                                            batch.y))

        log_likelihood, data_gradient = jax.value_and_grad(log_likelihood_at)(theta)
        _, gradient = _split(data_gradient - hyper.kl_weight * jax.grad(
            map_estimate.l2_penalty)(theta, hyper.prior_std), k)
        laplace = LaplaceFit(theta, _split(theta, k)[1], eigenvalues,
                             jnp.eye(k, dtype=theta.dtype), log_likelihood)
        alpha = (evidence_curve(laplace).best_prior_std ** -2).astype(jnp.float32)
        cholesky = jnp.linalg.cholesky(matrix + alpha * jnp.eye(k, dtype=matrix.dtype))
        offset = jax.scipy.linalg.solve_triangular(cholesky, gradient, lower=True)
        return LaplaceState(state.map_state, jnp.bool_(True), alpha, eigenvalues, cholesky,
                            log_likelihood, jnp.linalg.norm(gradient), jnp.linalg.norm(offset))

    def predictive_logits(rng_key, state: LaplaceState, x, num_samples):
        deltas = posterior_deltas(rng_key, state, num_samples)
        samples = linearised_at(logits_fn, state.map_state.position, deltas, x)
        at_map = jnp.broadcast_to(logits_fn(state.map_state.position, x), samples.shape)
        return jnp.where(state.fitted, samples, at_map)

    def predictive_samples(rng_key, state: LaplaceState, num_samples):
        deltas = posterior_deltas(rng_key, state, num_samples)
        drawn = state.map_state.position + jnp.pad(deltas, ((0, 0), (num_params - k, 0)))
        at_map = jnp.broadcast_to(state.map_state.position, drawn.shape)
        return jnp.where(state.fitted, drawn, at_map)

    # Training steps are MAP's, on the MAP part of the state: the scan never carries the fit.
    return wrappers.trained_part(
        point, init=init, part=lambda state: state.map_state, join=join_part,
        predictive_samples=predictive_samples, fit=fit_posterior,
        predictive_logits=predictive_logits)


def fit_details(state: LaplaceState) -> dict:
    """For the page: whether fitted and, once fitted, the evidence curve over prior σ (numpy),
    its maximiser and how many parameters are Bayesian (all, or the last layer's)."""
    if not bool(state.fitted):  # nothing to draw yet (and no curve to compute while training)
        return {"fitted": False}
    curve = evidence_curve(as_fit(state))
    return {"fitted": True, "prior_std": np.asarray(curve.prior_std),
            "log_evidence": np.asarray(curve.log_evidence),
            "best_prior_std": float(state.prior_precision) ** -0.5,
            "num_bayesian": int(state.eigenvalues.shape[0]),
            "num_params": int(state.map_state.position.shape[0]),
            "map_grad_norm": float(state.map_grad_norm),
            "mode_offset": float(state.mode_offset)}


def weight_marginals(state: LaplaceState) -> tuple[np.ndarray, np.ndarray]:
    """Per-weight mean θ* and marginal σ = sqrt(diag (GGN + α I)⁻¹) (0 for the non-Bayesian part
    and before a fit): float64[d] each."""
    theta = np.asarray(state.map_state.position, np.float64)
    std = np.zeros_like(theta)
    if bool(state.fitted):
        cholesky = np.asarray(state.cholesky, np.float64)
        # Σ = L⁻ᵀ L⁻¹, so Σᵢᵢ is the squared norm of column i of L⁻¹
        inverse = np.linalg.inv(cholesky)
        std[theta.shape[0] - len(cholesky):] = np.sqrt(np.sum(np.square(inverse), axis=0))
    return theta, std


def report(cfg, state) -> dict:
    """The fit for the CLI's JSON: the tuned prior σ and how many parameters are Bayesian."""
    del cfg
    chain = state.method_state
    return {"laplace_fitted": bool(chain.fitted),
            "laplace_prior_std": float(chain.prior_precision) ** -0.5,
            "laplace_num_bayesian": int(chain.eigenvalues.shape[0]),
            "laplace_map_grad_norm": float(chain.map_grad_norm),
            "laplace_mode_offset": float(chain.mode_offset)}


# θ* further than this many posterior standard deviations from the mode (`mode_offset`): the
# Gaussian sits off its own width from where it should be, and the page says to train longer.
# Measured (moons, seed 0, `python -m bnnlab train --json --method laplace`): 0.14 at the
# defaults, 0.28 for the last layer of 2-128-128-1 (its whole-network gradient norm is ~11: the
# layers below are not at a mode, which a last-layer fit does not need), 4.3 after 100 steps.
MODE_OFFSET_WARN = 1.0


def fitted_text(details: dict) -> str:
    """What the page says of a fit (after "fitted in … ms: ")."""
    scope = "all" if details["num_bayesian"] == details["num_params"] else "the last layer's"
    offset = details["mode_offset"]
    where = (f"The MAP network is {offset:.2g} posterior σ from the mode the Gaussian assumes: "
             "train it longer, then fit again." if offset > MODE_OFFSET_WARN else
             f"The MAP network is within {offset:.2g} posterior σ of the mode the Gaussian "
             "assumes.")
    return (f"{scope} {details['num_bayesian']:,} of {details['num_params']:,} parameters get a "
            f"Gaussian from the GGN at the MAP network; prior σ = "
            f"{details['best_prior_std']:.3g} maximises the evidence. {where}")


def evidence(details: dict) -> Curve:
    """The evidence curve a fit drew."""
    return Curve(details["prior_std"], details["log_evidence"], details["best_prior_std"],
                 "prior σ", "log evidence (nats)", "Laplace evidence over prior σ",
                 "log P(D | σ) at the MAP network; the maximiser is the prior the predictive "
                 "uses")


SPEC = MethodSpec(
    name="laplace", label="Laplace (linearised)",
    description="MAP, then a Gaussian around it from the GGN, prior σ tuned by the evidence "
                "(Immer et al. 2021)",
    build=make_algorithm, uses_samples=False,
    trace_labels=("log-likelihood − β·penalty", "log-likelihood", "‖θ‖²/(2σ²)"),
    report=report, weight_marginals=weight_marginals,
    # Adam's state, the Cholesky factor (k ≤ MAX_FULL_PARAMS squared) and eigenvalues
    cost=CostModel(state_floats=lambda options, num_params: (
        3 * num_params + min(num_params, MAX_FULL_PARAMS) ** 2 + num_params)),
    fit=Fit(
        label="Make this network Bayesian", takes_over=("map",), details=fit_details,
        before="The map shows one network (the MAP point). **Make this network Bayesian** fits "
               "a Gaussian around it (linearised Laplace) and draws its predictive. A MAP run "
               "waits for this button; with *Inference* set to Laplace the fit also runs by "
               "itself when training ends.",
        after=fitted_text,
        prior_std=lambda details: details["best_prior_std"] if details.get("fitted") else None,
        curve=lambda details: evidence(details) if details.get("fitted") else None,
        caption="Written on `jax.jacrev` and `jax.linearize` directly "
                "(`bnnlab/methods/laplace.py`): laplax, the JAX Laplace library, is at version "
                "0.0.2. Immer et al. 2021; Daxberger et al. 2021, \"Laplace Redux\"."))
