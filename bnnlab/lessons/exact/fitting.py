"""Fitting a Gaussian Q to chapter 3's posterior by gradient ascent on the ELBO, in JAX float32.

House style (blackjax, optax): `init` / `step(rng_key, state, …) -> (FitState, FitInfo)` /
`run_chunk`, pure functions; `make_chunk_fn` binds a chunk's static arguments, and
`compiled_chunk` is the one place that jits it: a process-wide cache that the live fit
(`lab`) and the table's VI rows (`approximations`) share. Expectations under Q in the gradient
are a tensor Gauss–Hermite rule (deterministic) or reparameterised Monte Carlo draws
(Kingma & Welling 2014); the reported numbers are recomputed in float64 by
`bnnlab.lessons.exact.decomposition.decompose`.

A full-covariance Q starts as a mean-field Q and frees its correlation only once the mean-field
fit has settled (the running mean of the gradient's norm falls below
`RELEASE_GRADIENT_NORM`). Fitted from scratch, a full-covariance Q on the one-hidden-unit
model's two mirror modes is drawn to a centred ellipse straddling both (mean 0 is a stationary
point by symmetry), whose ELBO is below mean-field's. Mean-field is the special case c = 0, so
starting from its optimum the full-covariance fit can only climb from there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bnnlab.lessons.exact.data import MAX_POINTS, ToyData
from bnnlab.lessons.exact.gaussian import (
    GaussianQ,
    expected_log_likelihood,
    gauss_hermite_rule,
    kl_to_prior,
)
from bnnlab.lessons.exact.model import LOG_2PI as _LOG_2PI
from bnnlab.lessons.exact.model import Array

ESTIMATORS: tuple[str, ...] = ("gauss_hermite", "monte_carlo")
RELEASE_GRADIENT_NORM = 0.5  # free the correlation once the mean-field gradient's running
#                              norm is below this (nats per unit of the parameters)
GRADIENT_DECAY = 0.98  # the running mean of the gradient: about 50 steps (smooths MC noise)
MIN_MEAN_FIELD_STEPS = 50  # ... and not before this many mean-field steps


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
    gradient_ema: Array  # float32[4]: running mean of the gradient of (mean, log_scale)
    correlation_free: Array  # bool[]: the off-diagonal c is being fitted


class FitInfo(NamedTuple):
    """Diagnostics of one step, for the Q that the gradient was taken at."""

    q: GaussianQ  # the Q after the step (stacked over steps by `run_chunk`)
    elbo: Array  # float32[]: the estimator's ELBO before the step
    expected_log_likelihood: Array  # float32[]
    kl_prior: Array  # float32[]
    correlation_free: Array  # bool[]: the step fitted the off-diagonal too


def _optimizer() -> optax.GradientTransformation:
    # The learning rate is applied in `step` so that it can change without recompiling.
    return optax.scale_by_adam()


def init(q: GaussianQ, correlation_free: bool = False) -> FitState:
    """Start fitting from `q` (any float dtype; stored as float32). `correlation_free` True
    fits the off-diagonal from the first step (a full-covariance fit that starts from an
    already converged mean-field Q)."""
    q32 = GaussianQ(*(jnp.asarray(a, jnp.float32) for a in q))
    return FitState(q32, _optimizer().init(q32), jnp.zeros((), jnp.int32),
                    jnp.zeros(4, jnp.float32), jnp.asarray(correlation_free, bool))


def negative_elbo(q: GaussianQ, data: PaddedData, nodes: Array, weights: Array, *,
                  model: str, prior_std: float | Array, noise: float | Array,
                  temperature: float | Array = 1.0) -> tuple[Array, tuple[Array, Array]]:
    """−ELBO(Q) and its parts (E_Q[log lik], KL(Q‖P(θ))) in JAX, for `jax.value_and_grad`.

    With temperature T the objective is the tempered ELBO E_Q[log P(D, θ)]/T + H(Q)
    = (E_Q[log lik] − KL(Q‖P(θ)))/T + (1 − 1/T)·H(Q), whose maximiser minimises
    KL(Q ‖ P_T(θ|D)) (Wenzel et al. 2020); T = 1 is the ELBO."""
    ell = expected_log_likelihood(jnp, q, model, data.x, data.y, data.mask, noise, nodes,
                                  weights)
    kl = kl_to_prior(jnp, q, prior_std)
    entropy = 1.0 + _LOG_2PI + q.log_scale[..., 0] + q.log_scale[..., 1]
    return (kl - ell) / temperature - (1.0 - 1.0 / temperature) * entropy, (ell, kl)


def step(rng_key: jax.Array, state: FitState, data: PaddedData, *, model: str,
         full_covariance: bool, estimator: str, num_samples: int,
         prior_std: float | Array, noise: float | Array,
         learning_rate: float | Array,
         temperature: float | Array = 1.0) -> tuple[FitState, FitInfo]:
    """One Adam step on −ELBO(Q).

    estimator "gauss_hermite": deterministic tensor rule with `num_samples` nodes per axis;
    "monte_carlo": `num_samples` reparameterised draws θ = mean + L ε, ε ~ N(0, I).
    A mean-field Q (full_covariance False) keeps off_diagonal at 0; a full-covariance Q too,
    until the mean-field fit has settled (module docstring).
    Static (bind with functools.partial before jit): model, full_covariance, estimator,
    num_samples. Dynamic: data, prior_std, noise, learning_rate, temperature.
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
                                      prior_std=prior_std, noise=noise,
                                      temperature=temperature)
    (loss, (ell, kl)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.q)
    flat = jnp.concatenate([grads.mean, grads.log_scale])
    ema = GRADIENT_DECAY * state.gradient_ema + (1.0 - GRADIENT_DECAY) * flat
    # Bias-corrected like Adam's first moment, so that the first steps are not read as settled.
    # × T: the tempered objective's gradient is about 1/T of the ELBO's.
    settled = (jnp.linalg.norm(ema / (1.0 - GRADIENT_DECAY ** (state.step + 1.0))) * temperature
               < RELEASE_GRADIENT_NORM) & (state.step >= MIN_MEAN_FIELD_STEPS)
    free = state.correlation_free | (settled & full_covariance)
    grads = grads._replace(off_diagonal=jnp.where(free, grads.off_diagonal, 0.0))
    updates, opt_state = _optimizer().update(grads, state.opt_state, state.q)
    q = jax.tree_util.tree_map(lambda p, u: p - learning_rate * u, state.q, updates)
    return (FitState(q, opt_state, state.step + 1, ema, free),
            FitInfo(q, -loss, ell, kl, state.correlation_free))


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
    fn(rng_key, state, data, prior_std, noise, learning_rate[, temperature]); jit it where used."""

    def chunk(rng_key: jax.Array, state: FitState, data: PaddedData, prior_std: Array,
              noise: Array, learning_rate: Array,
              temperature: Array = 1.0) -> tuple[FitState, FitInfo]:
        return run_chunk(rng_key, state, data, num_steps=num_steps, model=model,
                         full_covariance=full_covariance, estimator=estimator,
                         num_samples=num_samples, prior_std=prior_std, noise=noise,
                         learning_rate=learning_rate, temperature=temperature)

    return chunk


@functools.lru_cache(maxsize=64)
def compiled_chunk(model: str, full_covariance: bool, estimator: str, num_samples: int,
                   num_steps: int) -> Callable[..., tuple[FitState, FitInfo]]:
    """`make_chunk_fn` jitted once per static configuration and shared by every session (lr,
    prior σ, noise, temperature and data are arguments, so they never recompile)."""
    return jax.jit(make_chunk_fn(model=model, full_covariance=full_covariance,
                                 estimator=estimator, num_samples=num_samples,
                                 num_steps=num_steps))
