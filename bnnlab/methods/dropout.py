"""MC dropout (Gal & Ghahramani 2016, "Dropout as a Bayesian Approximation").

Dropout is kept on at prediction: each forward pass with a fresh dropout mask is one draw from
an approximate posterior, and averaging the passes gives the predictive. Dropping hidden unit j
of layer l multiplies its activation by 0; keeping it scales it by 1 / (1 − rate) (inverted
dropout). Both are the same as multiplying *row j of the next layer's kernel* by that factor,
so a dropout pass is the MLP evaluated at masked parameters θ ⊙ m — Gal & Ghahramani's
Bernoulli variational distribution over weight rows. That makes the method fit the engine as
it is: `sample` returns float32[S, d] parameter vectors, like `vi.sample`.

Training is MAP on the expected log-likelihood under the masks (a Monte Carlo average over
`num_samples` masks per step) minus the Gaussian prior's L2 penalty, as in `map_estimate`.
At `rate = 0` every mask is 1 and the method is exactly MAP.

Shape of the API (as `bnnlab.vi`): `init`, `step(rng_key, state, ...)`, `sample(rng_key, state,
num_samples, ...)`; nothing here calls `jit`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

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
)
from bnnlab.methods.map_estimate import MAPInfo

RATE = Setting("dropout_rate", float, 0.1, 0.0, 0.9, "Dropout rate",
               help="MC dropout: the probability of dropping a hidden unit, in training and at "
                    "prediction", widget="slider", step=0.05)


class DropoutState(NamedTuple):
    """What the next step needs (the same fields as `map_estimate.MAPState`)."""

    position: jax.Array  # float32[d]: the weights without masks
    opt_state: optax.OptState


def unit_index(params: Mapping[str, Any]) -> tuple[np.ndarray, int]:
    """For Flax `Dense_0 … Dense_L` params, which hidden unit each flat parameter leaves from.

    Returns `(index int32[d], num_units)`: `index[i] = u` when parameter i is in the kernel row
    of hidden unit u (0 ≤ u < num_units, all hidden layers numbered in turn), and −1 for
    parameters no dropout touches (biases, the first layer's kernel). The order matches
    `ravel_pytree(params)`, which the engine uses to flatten.
    """
    names = sorted(params, key=lambda n: int(n.rsplit("_", 1)[1]))
    marks: dict[str, dict[str, np.ndarray]] = {}
    offset = 0
    for layer, name in enumerate(names):
        shape = tuple(params[name]["kernel"].shape)  # arrays or `jax.eval_shape` structs
        rows = np.full(shape, -1, np.int32)
        if layer > 0:  # rows of this kernel are the previous hidden layer's units
            rows = np.broadcast_to(offset + np.arange(shape[0], dtype=np.int32)[:, None],
                                   shape).copy()
            offset += shape[0]
        marks[name] = {"bias": np.full(tuple(params[name]["bias"].shape), -1, np.int32),
                       "kernel": rows}
    flat, _ = ravel_pytree(jax.tree.map(jnp.asarray, marks))
    return np.asarray(flat, np.int32), offset


def init(position: jax.Array, optimizer: optax.GradientTransformation) -> DropoutState:
    """Start at `position: float32[d]`."""
    position = jnp.asarray(position, jnp.float32)
    return DropoutState(position, optimizer.init(position))


def masks_from_noise(uniform: jax.Array, index: jax.Array, rate: float | jax.Array) -> jax.Array:
    """Parameter masks from `uniform: float32[S, num_units]` in [0, 1): float32[S, d].

    Unit u is kept when uniform[u] ≥ rate, and then scaled by 1 / (1 − rate); parameters with
    `index` −1 get 1. At `rate = 0` every mask is exactly 1.
    """
    keep = (uniform >= rate).astype(jnp.float32) / (1.0 - rate)  # float32[S, U]
    padded = jnp.concatenate([keep, jnp.ones((keep.shape[0], 1), jnp.float32)], axis=1)
    return padded[:, index]  # index −1 picks the trailing column of ones


def draw_noise(rng_key: jax.Array, num_samples: int, num_units: int) -> jax.Array:
    """Uniform float32[num_samples, num_units]: one random draw for every mask of a step."""
    return jax.random.uniform(rng_key, (num_samples, num_units), jnp.float32)


def step_from_noise(
    uniform: jax.Array,
    state: DropoutState,
    log_likelihood_fn: LogLikelihoodFn,
    *,
    index: jax.Array,
    rate: float | jax.Array,
    optimizer: optax.GradientTransformation,
    learning_rate: float | jax.Array,
    prior_std: float | jax.Array,
    kl_weight: float | jax.Array,
) -> tuple[DropoutState, MAPInfo]:
    """One step on (1/S) Σ_s log P(Y|X, θ ⊙ m_s) − kl_weight · ‖θ‖² / (2 prior_std²) with the
    masks m_s from pre-drawn `uniform: float32[S, num_units]`. `MAPInfo`'s log-likelihood is the
average over the masks."""
    masks = masks_from_noise(uniform, index, rate)

    def loss_fn(position):
        log_likelihood = jnp.mean(jax.vmap(log_likelihood_fn)(position * masks))
        penalty = map_estimate.l2_penalty(position, prior_std)
        objective = log_likelihood - kl_weight * penalty
        return -objective, MAPInfo(objective, log_likelihood, penalty)

    grads, info = jax.grad(loss_fn, has_aux=True)(state.position)
    direction, opt_state = optimizer.update(grads, state.opt_state, state.position)
    return DropoutState(state.position - learning_rate * direction, opt_state), info


def step(
    rng_key: jax.Array,
    state: DropoutState,
    log_likelihood_fn: LogLikelihoodFn,
    *,
    index: jax.Array,
    num_units: int,
    rate: float | jax.Array,
    num_samples: int,
    optimizer: optax.GradientTransformation,
    learning_rate: float | jax.Array,
    prior_std: float | jax.Array,
    kl_weight: float | jax.Array,
) -> tuple[DropoutState, MAPInfo]:
    """One dropout-training step with `num_samples` fresh masks."""
    uniform = draw_noise(rng_key, num_samples, num_units)
    return step_from_noise(uniform, state, log_likelihood_fn, index=index, rate=rate,
                           optimizer=optimizer, learning_rate=learning_rate,
                           prior_std=prior_std, kl_weight=kl_weight)


def sample(rng_key: jax.Array, state: DropoutState, num_samples: int, *, index: jax.Array,
           num_units: int, rate: float | jax.Array) -> jax.Array:
    """Dropout kept on at prediction: θ ⊙ m_s for `num_samples` masks, float32[S, d]."""
    uniform = draw_noise(rng_key, num_samples, num_units)
    return state.position * masks_from_noise(uniform, index, rate)


# ------------------------------------------------------------------ the registry's algorithm

def make_algorithm(problem: Problem) -> Algorithm:
    """MC dropout at rate `problem.options["dropout_rate"]`: a chunk's masks drawn at once."""
    optimizer, num_samples = problem.optimizer, problem.num_samples
    rate = problem.options[RATE.name]
    # Shapes only: no eager Flax init when the engine is built.
    template = jax.eval_shape(problem.model.init, jax.random.key(0),
                              jnp.zeros((1, problem.model.num_inputs), jnp.float32))["params"]
    index_np, num_units = unit_index(template)
    index = jnp.asarray(index_np)

    def draw(rng_key: jax.Array, num_steps: int) -> jax.Array:
        return jax.random.uniform(rng_key, (num_steps, num_samples, num_units), jnp.float32)

    def step_noise(uniform, state: DropoutState, batch: Batch, hyper: Hyper):
        return step_from_noise(uniform, state, problem.log_likelihood_fn(batch), index=index,
                               rate=rate, optimizer=optimizer, learning_rate=hyper.learning_rate,
                               prior_std=hyper.prior_std, kl_weight=hyper.kl_weight)

    return Algorithm(
        init=lambda rng_key, init_std: init(problem.initial_position(rng_key), optimizer),
        step=keyed_step(draw, step_noise),
        predictive_samples=lambda rng_key, state, n: sample(
            rng_key, state, n, index=index, num_units=num_units, rate=rate),
        draw_noise=draw, step_from_noise=step_noise, trace=map_estimate.trace,
        checked=lambda state: [state.position])


SPEC = MethodSpec(
    name="dropout", label="MC dropout",
    description="dropout kept on at prediction (Gal & Ghahramani 2016)",
    build=make_algorithm, settings=(RATE,),
    cost=CostModel(noise_floats=lambda options, num_samples, num_params, num_units:
                   num_samples * num_units),
    trace_labels=("E_mask[log-likelihood] − β·penalty", "E_mask[log-likelihood]", "‖θ‖²/(2σ²)"))
