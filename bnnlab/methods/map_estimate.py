"""MAP baseline: the same network, a point estimate, the Gaussian prior as an L2 penalty.

Same shape as `bnnlab.vi`: `init / step / sample`, and `SPEC` for the registry. `MAPInfo` says
what a point estimate has: the objective log P(Y|X,θ) − kl_weight · ‖θ‖² / (2 prior_std²), its
log-likelihood and its L2 penalty (the negative log prior without its constant).
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
    Hyper,
    LogLikelihoodFn,
    MethodSpec,
    Problem,
    Trace,
    keyed_step,
    no_noise,
)


class MAPState(NamedTuple):
    position: jax.Array  # float32[d]
    opt_state: optax.OptState


class MAPInfo(NamedTuple):
    """Diagnostics of one step, at the parameters before the update (float32[] each)."""

    objective: jax.Array  # log_likelihood − kl_weight · penalty
    log_likelihood: jax.Array  # log P(Y|X,θ)
    penalty: jax.Array  # ‖θ‖² / (2 prior_std²)


def init(position: jax.Array, optimizer: optax.GradientTransformation) -> MAPState:
    """Start at `position: float32[d]`."""
    position = jnp.asarray(position, jnp.float32)
    return MAPState(position, optimizer.init(position))


def l2_penalty(position: jax.Array, prior_std: float | jax.Array) -> jax.Array:
    """−log N(θ; 0, prior_std² I) without its constant: ‖θ‖² / (2 prior_std²)."""
    return 0.5 * jnp.sum(jnp.square(position / prior_std))


def step(
    state: MAPState,
    log_likelihood_fn: LogLikelihoodFn,
    *,
    optimizer: optax.GradientTransformation,
    learning_rate: float | jax.Array,
    prior_std: float | jax.Array,
    kl_weight: float | jax.Array,
) -> tuple[MAPState, MAPInfo]:
    """One gradient-ascent step on log P(Y|X,θ) − kl_weight · ‖θ‖² / (2 prior_std²)."""

    def loss_fn(position):
        log_likelihood = log_likelihood_fn(position)
        penalty = l2_penalty(position, prior_std)
        objective = log_likelihood - kl_weight * penalty
        return -objective, MAPInfo(objective, log_likelihood, penalty)

    grads, info = jax.grad(loss_fn, has_aux=True)(state.position)
    direction, opt_state = optimizer.update(grads, state.opt_state, state.position)
    return MAPState(state.position - learning_rate * direction, opt_state), info


def sample(rng_key: jax.Array, state: MAPState, num_samples: int) -> jax.Array:
    """The point estimate repeated: float32[num_samples, d] (a point mass has no spread)."""
    del rng_key
    return jnp.broadcast_to(state.position, (num_samples, state.position.shape[-1]))


# ------------------------------------------------------------------ the registry's algorithm

def trace(info: MAPInfo) -> Trace:
    return Trace(info.objective, info.log_likelihood, info.penalty)


def make_algorithm(problem: Problem) -> Algorithm:
    """Adam on the MAP objective; deterministic, so it draws no noise."""
    optimizer = problem.optimizer

    def step_noise(noise, state: MAPState, batch: Batch, hyper: Hyper):
        del noise
        return step(state, problem.log_likelihood_fn(batch), optimizer=optimizer,
                    learning_rate=hyper.learning_rate, prior_std=hyper.prior_std,
                    kl_weight=hyper.kl_weight)

    return Algorithm(
        init=lambda rng_key, init_std: init(problem.initial_position(rng_key), optimizer),
        step=keyed_step(no_noise, step_noise), predictive_samples=sample,
        draw_noise=no_noise, step_from_noise=step_noise, trace=trace,
        checked=lambda state: [state.position])


TRACE_LABELS = ("log-likelihood − β·penalty", "log-likelihood", "‖θ‖²/(2σ²)")
SPEC = MethodSpec(
    name="map", label="MAP",
    description="one network, the Gaussian prior as an L2 penalty: no posterior spread",
    build=make_algorithm, uses_samples=False, num_draws=lambda options, num_samples: 1,
    trace_labels=TRACE_LABELS,
    weight_marginals=lambda state: (np.asarray(state.position, np.float64),
                                    np.zeros(state.position.shape, np.float64)))
