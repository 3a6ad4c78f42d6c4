"""Chapter 3's models as functions of θ = (θ₁, θ₂): per-point log-likelihood, the Gaussian prior
and the prediction, written once for numpy (float64 references) and jax.numpy (fitting).

- ``"logistic"``: y ~ Bernoulli(σ(θ₁·x + θ₂)).
- ``"tanh_unit"``: y ~ Bernoulli(σ(θ₂·tanh(θ₁·x))), a one-hidden-unit network; θ and −θ give the
  same likelihood, so the posterior has two mirror modes.
- ``"linear"``: y ~ N(θ₁·x + θ₂, noise²), conjugate.
Prior for all three: P(θ) = N(0, prior_std² I).
"""

from __future__ import annotations

import math
from typing import Any

Array = Any  # np.ndarray or jax.Array; shapes are given in the docstrings
LOG_2PI = math.log(2.0 * math.pi)
# The one-hidden-unit likelihood is a near-step in θ₁ at 0, of width 1/(|θ₂|·max|x|), that no
# even rule of sane size resolves: every rule over θ warps θ₁ = a·sinh(u) there, a within these
# bounds.
WARPED_MODELS = frozenset({"tanh_unit"})
WARP_SCALE_LIMITS = (1e-3, 0.1)
BLOCK_ELEMENTS = 2_000_000  # evaluate the likelihood in blocks of this many (θ, point) pairs


def _log_sigmoid(xp: Any, z: Array) -> Array:
    return -xp.logaddexp(0.0, -z)


def log_likelihood_terms(xp: Any, model: str, theta1: Array, theta2: Array, x: Array,
                         y: Array, noise: float | Array) -> Array:
    """Per-point log P(y | x, θ), broadcasting θ against the data.

    `xp` is `numpy` (float64 references) or `jax.numpy` (float32 fitting).
    theta1, theta2: float[..., 1]; x, y: float[n]. Returns float[..., n].
    """
    if model == "linear":
        resid = (y - (theta1 * x + theta2)) / noise
        return -0.5 * resid**2 - xp.log(noise) - 0.5 * LOG_2PI
    logits = theta1 * x + theta2 if model == "logistic" else theta2 * xp.tanh(theta1 * x)
    # y·log σ(z) + (1 − y)·log σ(−z) = log σ((2y − 1)·z) for y ∈ {0, 1}: one softplus, not two.
    return _log_sigmoid(xp, (2.0 * y - 1.0) * logits)


def log_prior(xp: Any, theta1: Array, theta2: Array, prior_std: float | Array) -> Array:
    """log N(θ; 0, prior_std² I) for θ ∈ R². Shapes broadcast; returns float[...]."""
    return -(theta1**2 + theta2**2) / (2.0 * prior_std**2) - LOG_2PI - 2.0 * xp.log(prior_std)


def predict(xp: Any, model: str, theta1: Array, theta2: Array, x: Array) -> Array:
    """P(y = 1 | x, θ) for the classifiers, the regression mean for "linear".
    theta: float[..., 1], x: float[m] → float[..., m]."""
    if model == "linear":
        return theta1 * x + theta2
    logits = theta1 * x + theta2 if model == "logistic" else theta2 * xp.tanh(theta1 * x)
    return 1.0 / (1.0 + xp.exp(-logits))
