"""Likelihoods p(y | f) on a network's outputs f, one definition each for training (the masked
log-likelihood of a batch), prediction (the link to probabilities) and the Laplace
approximation (the curvature Λ = −∂² log p(y | f)/∂f² in function space)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class Likelihood(NamedTuple):
    """p(y | f) for outputs f: float32[n] (one output a point) or float32[n, K].

    log_prob(f, y) -> float32[n]: log p(y_i | f_i) for each point.
    link(f) -> probabilities: P(y = 1) float32[n] (one logit) or softmax float32[n, K].
    curvature(f) -> Λ: float32[n] for one output a point, float32[n, K, K] for K outputs.
    num_outputs(K) -> the network's outputs for K classes (Bernoulli: one logit for two).
    """

    name: str
    label: str
    log_prob: Callable[[jax.Array, jax.Array], jax.Array]
    link: Callable[[jax.Array], jax.Array]
    curvature: Callable[[jax.Array], jax.Array]
    num_outputs: Callable[[int], int]

    def log_likelihood(self, logits: jax.Array, batch: Any) -> jax.Array:
        """Σ_i mask_i · log p(y_i | logits_i) over a padded batch (`x`, `y`, `mask`): float32[]."""
        return jnp.sum(batch.mask * self.log_prob(logits, batch.y))


def _bernoulli_log_prob(f: jax.Array, y: jax.Array) -> jax.Array:
    return y * jax.nn.log_sigmoid(f) + (1.0 - y) * jax.nn.log_sigmoid(-f)


def _bernoulli_curvature(f: jax.Array) -> jax.Array:
    p = jax.nn.sigmoid(f)
    return p * (1 - p)


def _categorical_log_prob(f: jax.Array, y: jax.Array) -> jax.Array:
    labels = y.astype(jnp.int32)
    return jnp.take_along_axis(jax.nn.log_softmax(f, axis=-1), labels[:, None], axis=-1)[:, 0]


def _categorical_curvature(f: jax.Array) -> jax.Array:
    p = jax.nn.softmax(f)
    return jax.vmap(jnp.diag)(p) - p[:, :, None] * p[:, None, :]


BERNOULLI = Likelihood(
    "bernoulli", "Bernoulli (two classes, sigmoid of one logit)", _bernoulli_log_prob,
    jax.nn.sigmoid, _bernoulli_curvature, lambda num_classes: 1)
# The talk's "categorical softmax distribution on logits". With K = 2 and logits (0, f) it equals
# the Bernoulli likelihood at f.
CATEGORICAL = Likelihood(
    "categorical", "categorical (K classes, softmax of K logits)", _categorical_log_prob,
    lambda logits: jax.nn.softmax(logits, axis=-1), _categorical_curvature,
    lambda num_classes: num_classes)


def gaussian(noise_std: float) -> Likelihood:
    """y ∈ ℝ, y ~ N(f, noise_std²): Λ = 1 / noise_std² (the GGN is then the exact Hessian)."""
    variance = noise_std**2

    def log_prob(f, y):
        return -0.5 * (jnp.square(y - f) / variance + jnp.log(2 * jnp.pi * variance))

    def curvature(f):
        return jnp.full(f.shape, 1.0 / variance, f.dtype)

    return Likelihood(f"gaussian({noise_std:g})", f"Gaussian noise σ = {noise_std:g}", log_prob,
                      lambda f: f, curvature, lambda num_classes: 1)


def bernoulli_log_likelihood(logits: jax.Array, batch: Any) -> jax.Array:
    """Σ_i mask_i · log Bernoulli(y_i | sigmoid(logit_i)): float32[]."""
    return BERNOULLI.log_likelihood(logits, batch)


def categorical_log_likelihood(logits: jax.Array, batch: Any) -> jax.Array:
    """Σ_i mask_i · log softmax(logits_i)[y_i] for `logits: float32[m, K]` and labels
    `batch.y` in 0..K−1 (stored as float32)."""
    return CATEGORICAL.log_likelihood(logits, batch)
