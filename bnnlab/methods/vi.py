"""Mean-field Gaussian variational inference: Bayes by Backprop (Blundell et al. 2015).

The posterior over the flat parameter vector θ ∈ R^d is approximated by
q(θ) = N(mean, diag(std²)) with std = softplus(rho). The objective is the (β-weighted) ELBO

    ELBO = E_q[log P(Y | X, θ)] − kl_weight · KL(q ‖ N(0, prior_std² I)),

with the expectation estimated from `num_samples` reparameterised draws θ = mean + std ⊙ ε
(vectorised with `vmap`) and the KL in closed form. `kl_weight = 1` is full Bayes; the talk's
β = 0.001 lets a BNN start learning before the prior pulls it back.

Shape of the API (as blackjax's `meanfield_vi`): `init(...) -> VIState`,
`step(rng_key, state, ...) -> (VIState, VIInfo)`, `sample(rng_key, state, num_samples)`.
Nothing here calls `jit`: the caller jits where it uses it (see `bnnlab.training.engine`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bnnlab.methods.base import (
    Algorithm,
    Batch,
    CostModel,
    Hyper,
    LogLikelihoodFn,
    MethodSpec,
    Problem,
    Temper,
    Trace,
    keyed_step,
)


class VIState(NamedTuple):
    """What the next step needs."""

    mean: jax.Array  # float32[d]
    rho: jax.Array  # float32[d]; std = softplus(rho)
    opt_state: optax.OptState  # state of the direction transform (Adam moments) over (mean, rho)


class VIInfo(NamedTuple):
    """Diagnostics of one step, evaluated at the parameters before the update."""

    elbo: jax.Array  # float32[]: expected_log_likelihood − kl_weight · kl
    expected_log_likelihood: jax.Array  # float32[]: MC estimate of E_q[log P(Y|X,θ)]
    kl: jax.Array  # float32[]: KL(q ‖ prior), exact


def std_from_rho(rho: jax.Array) -> jax.Array:
    """std = softplus(rho) > 0 (Blundell et al. 2015, section 3.2)."""
    return jax.nn.softplus(rho)


def rho_from_std(std: jax.Array | float) -> jax.Array:
    """Inverse of `std_from_rho`: rho = log(exp(std) − 1), stable for small std."""
    std = jnp.asarray(std, jnp.float32)
    return std + jnp.log(-jnp.expm1(-std))


def init(
    position: jax.Array, init_std: float | jax.Array, optimizer: optax.GradientTransformation
) -> VIState:
    """q centred on `position: float32[d]` with every std equal to `init_std`."""
    mean = jnp.asarray(position, jnp.float32)
    rho = jnp.full_like(mean, rho_from_std(init_std))
    return VIState(mean, rho, optimizer.init((mean, rho)))


def kl_to_prior(mean: jax.Array, std: jax.Array, prior_std: float | jax.Array) -> jax.Array:
    """KL(N(mean, diag std²) ‖ N(0, prior_std² I)) in closed form, summed over dimensions."""
    var_ratio = jnp.square(std / prior_std)
    return 0.5 * jnp.sum(var_ratio + jnp.square(mean / prior_std) - 1.0 - jnp.log(var_ratio))


def draw_noise(rng_key: jax.Array, num_samples: int, dim: int) -> jax.Array:
    """Standard normal ε: float32[num_samples, dim]; one random draw for all weights."""
    return jax.random.normal(rng_key, (num_samples, dim), jnp.float32)


def elbo_from_noise(
    mean: jax.Array,
    rho: jax.Array,
    noise: jax.Array,
    log_likelihood_fn: LogLikelihoodFn,
    prior_std: float | jax.Array,
    kl_weight: float | jax.Array,
) -> tuple[jax.Array, VIInfo]:
    """ELBO estimate from given standard-normal `noise: float32[S, d]` (reparameterisation)."""
    std = std_from_rho(rho)
    thetas = mean + std * noise  # float32[S, d]
    expected_log_likelihood = jnp.mean(jax.vmap(log_likelihood_fn)(thetas))
    kl = kl_to_prior(mean, std, prior_std)
    elbo = expected_log_likelihood - kl_weight * kl
    return elbo, VIInfo(elbo, expected_log_likelihood, kl)


def step_from_noise(
    noise: jax.Array,
    state: VIState,
    log_likelihood_fn: LogLikelihoodFn,
    *,
    optimizer: optax.GradientTransformation,
    learning_rate: float | jax.Array,
    prior_std: float | jax.Array,
    kl_weight: float | jax.Array,
) -> tuple[VIState, VIInfo]:
    """One gradient-ascent step on the ELBO with pre-drawn `noise: float32[S, d]`.

    `optimizer` gives a direction (e.g. `optax.scale_by_adam()`); the step is scaled by
    `learning_rate` here, so the learning rate is an argument, not a compiled-in constant.
    """

    def loss_fn(mean_rho):
        elbo, info = elbo_from_noise(*mean_rho, noise, log_likelihood_fn, prior_std, kl_weight)
        return -elbo, info

    grads, info = jax.grad(loss_fn, has_aux=True)((state.mean, state.rho))
    direction, opt_state = optimizer.update(grads, state.opt_state, (state.mean, state.rho))
    mean = state.mean - learning_rate * direction[0]
    rho = state.rho - learning_rate * direction[1]
    return VIState(mean, rho, opt_state), info


def step(
    rng_key: jax.Array,
    state: VIState,
    log_likelihood_fn: LogLikelihoodFn,
    *,
    optimizer: optax.GradientTransformation,
    learning_rate: float | jax.Array,
    num_samples: int,
    prior_std: float | jax.Array,
    kl_weight: float | jax.Array,
) -> tuple[VIState, VIInfo]:
    """One Bayes-by-Backprop step: draw `num_samples` weight samples, ascend the ELBO."""
    noise = draw_noise(rng_key, num_samples, state.mean.shape[-1])
    return step_from_noise(
        noise, state, log_likelihood_fn, optimizer=optimizer, learning_rate=learning_rate,
        prior_std=prior_std, kl_weight=kl_weight,
    )


def sample(rng_key: jax.Array, state: VIState, num_samples: int) -> jax.Array:
    """Posterior draws θ ~ q: float32[num_samples, d]."""
    noise = draw_noise(rng_key, num_samples, state.mean.shape[-1])
    return state.mean + std_from_rho(state.rho) * noise


# ------------------------------------------------------------------ the registry's algorithm

def make_algorithm(problem: Problem) -> Algorithm:
    """Bayes by Backprop for `problem`: the ELBO's noise for a whole chunk drawn at once."""
    dim, num_samples, optimizer = problem.num_params, problem.num_samples, problem.optimizer

    def init_fn(rng_key: jax.Array, init_std: jax.Array) -> VIState:
        return init(problem.initial_position(rng_key), init_std, optimizer)

    def draw(rng_key: jax.Array, num_steps: int) -> jax.Array:
        return jax.random.normal(rng_key, (num_steps, num_samples, dim), jnp.float32)

    def step_noise(noise: jax.Array, state: VIState, batch: Batch, hyper: Hyper):
        return step_from_noise(noise, state, problem.log_likelihood_fn(batch),
                               optimizer=optimizer, learning_rate=hyper.learning_rate,
                               prior_std=hyper.prior_std, kl_weight=hyper.kl_weight)

    return Algorithm(
        init=init_fn, step=keyed_step(draw, step_noise),
        predictive_samples=lambda rng_key, state, n: sample(rng_key, state, n),
        draw_noise=draw, step_from_noise=step_noise,
        trace=lambda info: Trace(info.elbo, info.expected_log_likelihood, info.kl),
        checked=lambda state: [state.mean, state.rho])


def tempered(cfg, temperature: float):
    """VI at posterior temperature T: the KL weighted by T·β, E_q[log p(D|θ)] − T·β·KL(q‖p),
    whose optimum tempers the likelihood alone (q ∝ p(θ) p(D|θ)^(1/T) at β = 1)."""
    return cfg.replace(kl_weight=cfg.kl_weight * temperature) if temperature != 1.0 else cfg


SPEC = MethodSpec(
    name="vi", label="Mean-field VI",
    description="mean-field Gaussian variational inference (Blundell et al. 2015)",
    build=make_algorithm, uses_init_std=True,
    trace_labels=("ELBO", "E_q[log-likelihood]", "KL(q ‖ prior)"),
    cost=CostModel(
        noise_floats=lambda options, num_samples, num_params, num_units: num_samples * num_params,
        state_floats=lambda options, num_params: 6 * num_params),  # mean, rho, Adam's moments
    weight_marginals=lambda state: (np.asarray(state.mean, np.float64),
                                    np.asarray(std_from_rho(state.rho), np.float64)),
    temper=Temper(tempered, "weighs its KL by T"))
