"""Chapter 2's mathematics: the pieces of a BNN and why its evidence is intractable.

A Bayesian neural network has three pieces:

- data D = (X, Y);
- a likelihood P(Y | X, θ): Bernoulli (two classes, one logit) or categorical (softmax over
  K logits) on the network's outputs;
- a prior P(θ) = N(0, prior_std² I) over every weight and bias.

Drawing θ from the prior and plotting the network's output is the prior predictive: it shows
which functions the model believes in before seeing any data (Neal 1996, ch. 2; Wilson &
Izmailov 2020). The network here is a plain-JAX MLP, kept self-contained on purpose.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu}
LOG10_ATOMS_IN_UNIVERSE = 80.0
EVALUATIONS_PER_SECOND = 1e9  # a generous machine: one likelihood evaluation per ns
SECONDS_PER_YEAR = 365.25 * 24 * 3600
LOG10_AGE_OF_UNIVERSE_YEARS = math.log10(1.38e10)

Params = list[tuple[jax.Array, jax.Array]]  # [(W float32[d_in, d_out], b float32[d_out]), …]


def layer_sizes(input_dim: int, hidden: tuple[int, ...], num_classes: int) -> tuple[int, ...]:
    """Widths from input to output; two classes use one logit (Bernoulli), K > 2 use K."""
    return (input_dim, *hidden, 1 if num_classes == 2 else num_classes)


def count_parameters(sizes: tuple[int, ...]) -> int:
    """Number of weights and biases d = Σ (d_in + 1)·d_out."""
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def sample_prior_params(rng_key: jax.Array, sizes: tuple[int, ...],
                        prior_std: float | jax.Array) -> Params:
    """θ ~ N(0, prior_std² I): every weight and bias drawn independently."""
    keys = jax.random.split(rng_key, 2 * (len(sizes) - 1))
    return [(prior_std * jax.random.normal(keys[2 * i], (a, b)),
             prior_std * jax.random.normal(keys[2 * i + 1], (b,)))
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))]


def flatten_params(params: Params) -> jax.Array:
    """All weights and biases as one vector float32[d]."""
    return jnp.concatenate([jnp.concatenate([w.ravel(), b]) for w, b in params])


def mlp_logits(params: Params, x: jax.Array, activation: str = "tanh") -> jax.Array:
    """The network's logits: x float32[n, d_in] → float32[n, d_out]."""
    act = ACTIVATIONS[activation]
    h = x
    for w, b in params[:-1]:
        h = act(h @ w + b)
    w, b = params[-1]
    return h @ w + b


def sample_prior_functions(rng_key: jax.Array, sizes: tuple[int, ...],
                           prior_std: float | jax.Array, x: jax.Array, num_functions: int,
                           activation: str = "tanh") -> jax.Array:
    """Logits of `num_functions` networks drawn from the prior, evaluated at x float32[n, d_in]
    → float32[num_functions, n, d_out]. Jit with sizes, num_functions, activation static."""
    keys = jax.random.split(rng_key, num_functions)
    return jax.vmap(lambda k: mlp_logits(sample_prior_params(k, sizes, prior_std), x,
                                         activation))(keys)


def class_probabilities(logits: jax.Array) -> jax.Array:
    """P(y = k | x, θ) for every class: logits float[..., 1] (Bernoulli) or float[..., K]
    → float[..., K]."""
    if logits.shape[-1] == 1:
        p1 = jax.nn.sigmoid(logits)
        return jnp.concatenate([1.0 - p1, p1], -1)
    return jax.nn.softmax(logits, -1)


def log_likelihood_per_point(logits: jax.Array, y: jax.Array) -> jax.Array:
    """log P(y_i | x_i, θ): Bernoulli on one logit or categorical (log-softmax) on K.
    logits float[n, 1 | K], y int[n] → float[n]."""
    if logits.shape[-1] == 1:
        z = logits[:, 0]
        return y * jax.nn.log_sigmoid(z) + (1 - y) * jax.nn.log_sigmoid(-z)
    return jnp.take_along_axis(jax.nn.log_softmax(logits, -1), y[:, None], -1)[:, 0]


def log_prior(theta: jax.Array, prior_std: float | jax.Array) -> jax.Array:
    """log N(θ; 0, prior_std² I) of a flat parameter vector float[d] → float[]."""
    d = theta.size
    return (-0.5 * jnp.sum(theta**2) / prior_std**2 - d * jnp.log(prior_std)
            - 0.5 * d * math.log(2 * math.pi))


class NetworkView(NamedTuple):
    """One network drawn from the prior, seen through the three pieces of a BNN."""

    theta: jax.Array  # float32[d]: all its weights and biases
    log_prior: jax.Array  # float32[]: log P(θ)
    plane_probs: jax.Array  # float32[m, K]: P(class | x, θ) at the plane points
    point_log_lik: jax.Array  # float32[n]: log P(y_i | x_i, θ)


def view_network(rng_key: jax.Array, sizes: tuple[int, ...], prior_std: float | jax.Array,
                 plane: jax.Array, x: jax.Array, y: jax.Array,
                 activation: str = "tanh") -> NetworkView:
    """Draw θ ~ P(θ) and evaluate its prior density, its class probabilities at plane
    float32[m, 2] and its per-point log-likelihood on data x float32[n, 2], y int32[n].
    Jit with sizes and activation static."""
    params = sample_prior_params(rng_key, sizes, prior_std)
    theta = flatten_params(params)
    return NetworkView(theta, log_prior(theta, prior_std),
                       class_probabilities(mlp_logits(params, plane, activation)),
                       log_likelihood_per_point(mlp_logits(params, x, activation), y))


class ToyClassification(NamedTuple):
    """A small 2-D dataset for the chapter's pictures."""

    x: np.ndarray  # float32[n, 2]
    y: np.ndarray  # int32[n]


def make_blobs(num_points: int, num_classes: int, spread: float, seed: int) -> ToyClassification:
    """`num_classes` Gaussian blobs of std `spread` with centres on a circle of radius 1.5."""
    rng = np.random.default_rng(seed)
    y = np.arange(num_points) % num_classes
    angle = 2 * np.pi * y / num_classes + 0.3
    centres = 1.5 * np.stack([np.cos(angle), np.sin(angle)], 1)
    x = centres + spread * rng.standard_normal((num_points, 2))
    return ToyClassification(x.astype(np.float32), y.astype(np.int32))


class Intractability(NamedTuple):
    """What integrating the evidence on a grid would cost."""

    num_params: int  # d
    points_per_axis: int  # G
    log10_grid_points: float  # log10(G^d) = d·log10(G)
    log10_years: float  # log10 of the years at EVALUATIONS_PER_SECOND
    times_atoms: float  # log10(G^d / 10^80): how many universes' worth of atoms, as a power


def grid_cost(num_params: int, points_per_axis: int) -> Intractability:
    """The cost of the evidence ∫ P(D|θ)P(θ)dθ on a grid of G points per axis in d dims,
    in log10 so that it never overflows."""
    if num_params < 1 or points_per_axis < 2:
        raise ValueError("need num_params ≥ 1 and points_per_axis ≥ 2")
    log10_points = num_params * math.log10(points_per_axis)
    log10_years = log10_points - math.log10(EVALUATIONS_PER_SECOND * SECONDS_PER_YEAR)
    return Intractability(num_params, points_per_axis, log10_points, log10_years,
                          log10_points - LOG10_ATOMS_IN_UNIVERSE)


def format_power_of_ten(log10_value: float) -> str:
    """A human number for 10^log10_value: '12,345' when small, '10^123' (as 10¹²³) when not."""
    if log10_value < 6:
        return f"{10 ** log10_value:,.0f}" if log10_value >= 0 else f"{10 ** log10_value:.2g}"
    exponent = math.floor(log10_value)
    mantissa = 10 ** (log10_value - exponent)
    sup = str(exponent).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{mantissa:.1f} × 10{sup}"
