"""Deep ensembles (Lakshminarayanan, Pritzel & Blundell 2017, "Simple and Scalable Predictive
Uncertainty Estimation using Deep Ensembles").

M networks, each a MAP estimate (`bnnlab.map_estimate`) from its own random initialisation,
trained at once: the state holds M stacked parameter vectors and one `step` advances every
member with `vmap`, so an engine compiles one chunk for the whole ensemble rather than running
M loops. The predictive is the uniform mixture of the members: P(y|x) = (1/M) Σ_m P(y|x, θ_m).

Shape of the API (as `bnnlab.vi`): `init`, `step`, `sample`; nothing here calls `jit`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from bnnlab.core.settings import Setting
from bnnlab.methods import map_estimate
from bnnlab.methods.base import (
    Algorithm,
    Batch,
    CostModel,
    Hyper,
    LogLikelihoodFn,
    MethodSpec,
    Problem,
    keyed_step,
    no_noise,
)
from bnnlab.methods.map_estimate import MAPInfo

SIZE = Setting("ensemble_size", int, 5, 1, 16, "Ensemble members",
               help="Deep ensemble: the number of members M, trained at once with vmap",
               widget="slider", cost="linear")


class EnsembleState(NamedTuple):
    """M MAP states stacked on a leading axis."""

    positions: jax.Array  # float32[M, d]
    opt_state: optax.OptState  # each leaf with a leading axis M


def init(positions: jax.Array, optimizer: optax.GradientTransformation) -> EnsembleState:
    """Members start at `positions: float32[M, d]` (e.g. M independent initialisations)."""
    positions = jnp.asarray(positions, jnp.float32)
    members = jax.vmap(lambda p: map_estimate.init(p, optimizer))(positions)
    return EnsembleState(members.position, members.opt_state)


def size(state: EnsembleState) -> int:
    """Number of members M."""
    return state.positions.shape[0]


def step(
    state: EnsembleState,
    log_likelihood_fn: LogLikelihoodFn,
    *,
    optimizer: optax.GradientTransformation,
    learning_rate: float | jax.Array,
    prior_std: float | jax.Array,
    kl_weight: float | jax.Array,
) -> tuple[EnsembleState, MAPInfo]:
    """One MAP step for every member at once (`vmap`); the `VIInfo` fields are the members'
    mean MAP objective, log-likelihood and penalty (float32[] each)."""

    def member_step(position, opt_state):
        new, info = map_estimate.step(
            map_estimate.MAPState(position, opt_state), log_likelihood_fn, optimizer=optimizer,
            learning_rate=learning_rate, prior_std=prior_std, kl_weight=kl_weight)
        return new.position, new.opt_state, info

    positions, opt_state, info = jax.vmap(member_step)(state.positions, state.opt_state)
    return EnsembleState(positions, opt_state), jax.tree.map(jnp.mean, info)


def sample(rng_key: jax.Array, state: EnsembleState, num_samples: int) -> jax.Array:
    """Members in turn, float32[num_samples, d]: member s mod M. With `num_samples = M` each
    member appears once and the mean of the draws' predictions is the ensemble's predictive."""
    del rng_key
    return state.positions[jnp.arange(num_samples) % size(state)]


# ------------------------------------------------------------------ the registry's algorithm

def make_algorithm(problem: Problem) -> Algorithm:
    """M = `problem.options["ensemble_size"]` MAP members in one state, stepped with vmap."""
    optimizer, members = problem.optimizer, problem.options[SIZE.name]

    def init_fn(rng_key: jax.Array, init_std: jax.Array) -> EnsembleState:
        del init_std
        # Each member from its own initialisation (Lakshminarayanan et al. 2017).
        positions = jax.vmap(problem.initial_position)(jax.random.split(rng_key, members))
        return init(positions, optimizer)

    def step_noise(noise, state: EnsembleState, batch: Batch, hyper: Hyper):
        del noise
        return step(state, problem.log_likelihood_fn(batch), optimizer=optimizer,
                    learning_rate=hyper.learning_rate, prior_std=hyper.prior_std,
                    kl_weight=hyper.kl_weight)

    return Algorithm(
        init=init_fn, step=keyed_step(no_noise, step_noise), predictive_samples=sample,
        draw_noise=no_noise, step_from_noise=step_noise, trace=map_estimate.trace,
        checked=lambda state: [state.positions])


SPEC = MethodSpec(
    name="ensemble", label="Deep ensemble",
    description="M MAP networks from different initialisations (Lakshminarayanan et al. 2017)",
    build=make_algorithm, settings=(SIZE,), uses_samples=False,
    num_draws=lambda options, num_samples: options[SIZE.name],
    trace_labels=("mean of members' log-likelihood − β·penalty", "mean log-likelihood",
                  "mean ‖θ‖²/(2σ²)"),
    cost=CostModel(parallel_copies=lambda options: options[SIZE.name],
                   state_floats=lambda options, num_params: 3 * options[SIZE.name] * num_params))
