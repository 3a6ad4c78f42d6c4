"""MAP baseline: the same network, a point estimate, the Gaussian prior as an L2 penalty.

Same shape as `bnnlab.vi` so the engine can swap them: `init / step / sample`. Its `Info` reuses
`vi.VIInfo`'s fields with the meaning they have for a point mass: `expected_log_likelihood` is
log P(Y|X,θ) at θ, `kl` is the negative log prior up to its constant, ‖θ‖² / (2 prior_std²), and
`elbo` is the MAP objective log P(Y|X,θ) − kl_weight · ‖θ‖² / (2 prior_std²).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from bnnlab.vi import LogLikelihoodFn, VIInfo


class MAPState(NamedTuple):
    position: jax.Array  # float32[d]
    opt_state: optax.OptState


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
) -> tuple[MAPState, VIInfo]:
    """One gradient-ascent step on log P(Y|X,θ) − kl_weight · ‖θ‖² / (2 prior_std²)."""

    def loss_fn(position):
        log_likelihood = log_likelihood_fn(position)
        penalty = l2_penalty(position, prior_std)
        objective = log_likelihood - kl_weight * penalty
        return -objective, VIInfo(objective, log_likelihood, penalty)

    grads, info = jax.grad(loss_fn, has_aux=True)(state.position)
    direction, opt_state = optimizer.update(grads, state.opt_state, state.position)
    return MAPState(state.position - learning_rate * direction, opt_state), info


def sample(rng_key: jax.Array, state: MAPState, num_samples: int) -> jax.Array:
    """The point estimate repeated: float32[num_samples, d] (a point mass has no spread)."""
    del rng_key
    return jnp.broadcast_to(state.position, (num_samples, state.position.shape[-1]))
