"""The network only: a Flax MLP for binary classification of 2-D points.

Training code treats the parameters as one flat vector (`jax.flatten_util.ravel_pytree`), so a
mean-field posterior is two vectors and one random draw covers every weight. `make_logits_fn`
returns the forward pass as a function of that flat vector.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "tanh": jnp.tanh,
    "relu": nn.relu,
    "gelu": nn.gelu,
}


class MLP(nn.Module):
    """Fully connected network `2 -> hidden[0] -> ... -> 1` returning one logit per point.

    Attributes:
      hidden: widths of the hidden layers, e.g. (32, 32).
      activation: a key of `ACTIVATIONS`.
    """

    hidden: Sequence[int] = (32, 32)
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """x: float32[..., 2] -> logits float32[...]."""
        act = ACTIVATIONS[self.activation]
        for width in self.hidden:
            x = act(nn.Dense(width)(x))
        return nn.Dense(1)(x)[..., 0]


def make_mlp(hidden: Sequence[int], activation: str = "tanh") -> MLP:
    """An `MLP`, with its activation name checked against the registry."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
    return MLP(hidden=tuple(int(w) for w in hidden), activation=activation)


LogitsFn = Callable[[jax.Array, jax.Array], jax.Array]


def make_logits_fn(model: MLP, rng_key: jax.Array) -> tuple[LogitsFn, jax.Array]:
    """Flatten `model`'s parameters.

    Returns `(logits_fn, theta0)`: `logits_fn(theta float32[d], x float32[n, 2]) -> float32[n]`
    and Flax's default initialisation `theta0: float32[d]` drawn with `rng_key`.
    """
    params = model.init(rng_key, jnp.zeros((1, 2), jnp.float32))["params"]
    theta0, unravel = ravel_pytree(params)

    def logits_fn(theta: jax.Array, x: jax.Array) -> jax.Array:
        return model.apply({"params": unravel(theta)}, x)

    return logits_fn, theta0


def num_params(hidden: Sequence[int]) -> int:
    """Number of weights and biases of the MLP `2 -> hidden -> 1`."""
    sizes = [2, *hidden, 1]
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))
