"""The network only: a Flax MLP classifying D-dimensional inputs (2-D points by default, 8×8
digits with D = 64), one logit per point (binary) or K logits (categorical).

Training code treats the parameters as one flat vector (`jax.flatten_util.ravel_pytree`), so a
mean-field posterior is two vectors and one random draw covers every weight. `make_logits_fn`
returns the forward pass as a function of that flat vector.

`make_flat_mlp` gives the same network without running Flax's initialisation eagerly (shapes
come from `jax.eval_shape`, so building an engine costs no computation), and `batched_logits`,
the forward pass for S parameter vectors at once, written for XLA:CPU: the first layer
(2 inputs) as a broadcast multiply-add instead of a dot with contraction 2, which XLA:CPU runs
several times slower. Give it materialised θ (the output of another compiled call): inside one
computation XLA fuses the sampling of θ into every element of the multiply-add and loses more
than it gains (a slower training step).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

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
    """Fully connected network `D -> hidden[0] -> ... -> outputs`.

    With `num_outputs = 1` (binary, the default) it returns one logit per point, float32[...];
    with `num_outputs = K > 1` (categorical) K logits, float32[..., K].

    Attributes:
      hidden: widths of the hidden layers, e.g. (32, 32).
      activation: a key of `ACTIVATIONS`.
      num_inputs: D, the input dimension (2 for the toy data, 64 for 8×8 digits).
      num_outputs: 1 (one Bernoulli logit) or K (softmax logits).
    """

    hidden: Sequence[int] = (32, 32)
    activation: str = "tanh"
    num_inputs: int = 2
    num_outputs: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """x: float32[..., D] -> logits float32[...] (one output) or float32[..., K]."""
        act = ACTIVATIONS[self.activation]
        for width in self.hidden:
            x = act(nn.Dense(width)(x))
        out = nn.Dense(self.num_outputs)(x)
        return out[..., 0] if self.num_outputs == 1 else out


def make_mlp(hidden: Sequence[int], activation: str = "tanh", num_inputs: int = 2,
             num_outputs: int = 1) -> MLP:
    """An `MLP`, with its activation name checked against the registry."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
    return MLP(hidden=tuple(int(w) for w in hidden), activation=activation,
               num_inputs=int(num_inputs), num_outputs=int(num_outputs))


LogitsFn = Callable[[jax.Array, jax.Array], jax.Array]


def make_logits_fn(model: MLP, rng_key: jax.Array) -> tuple[LogitsFn, jax.Array]:
    """Flatten `model`'s parameters.

    Returns `(logits_fn, theta0)`: `logits_fn(theta float32[d], x float32[n, 2]) -> float32[n]`
    and Flax's default initialisation `theta0: float32[d]` drawn with `rng_key`.
    """
    params = model.init(rng_key, jnp.zeros((1, model.num_inputs), jnp.float32))["params"]
    theta0, unravel = ravel_pytree(params)

    def logits_fn(theta: jax.Array, x: jax.Array) -> jax.Array:
        return model.apply({"params": unravel(theta)}, x)

    return logits_fn, theta0


def initial_position(model: MLP, rng_key: jax.Array) -> jax.Array:
    """Flax's default initialisation of `model`, flattened in `ravel_pytree` order: float32[d]."""
    params = model.init(rng_key, jnp.zeros((1, model.num_inputs), jnp.float32))["params"]
    return ravel_pytree(params)[0]


def num_params(hidden: Sequence[int], num_inputs: int = 2, num_outputs: int = 1) -> int:
    """Number of weights and biases of the MLP `num_inputs -> hidden -> num_outputs`."""
    sizes = [num_inputs, *hidden, num_outputs]
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=False))


# ------------------------------------------------------------------ flat parameter vector

# Up to this many input features the first layer is a broadcast multiply-add (the 2-D toy data);
# beyond, a dot (8×8 digits: D = 64).
FAST_PATH_MAX_INPUTS = 4

BatchedLogitsFn = Callable[[jax.Array, jax.Array], jax.Array]


class FlatMLP(NamedTuple):
    """An `MLP` seen through its flat parameter vector θ: float32[d] (Flax's ravel order)."""

    num_params: int  # d
    # (theta float32[d], x float32[n, D]) -> logits float32[n] (or [n, K]), through `MLP.apply`
    logits_fn: LogitsFn
    # (thetas float32[S, d], x float32[n, D]) -> logits float32[S, n] (or [S, n, K]); same values
    batched_logits: BatchedLogitsFn


def _unravel_fn(shapes) -> tuple[int, Callable[[jax.Array], dict]]:
    """`ravel_pytree`'s layout for the pytree of `shapes`, as a function of θ[..., d] that keeps
    leading batch dimensions: returns (d, unravel)."""
    leaves, treedef = jax.tree.flatten(shapes)
    sizes = [math.prod(leaf.shape) for leaf in leaves]
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]

    def unravel(theta: jax.Array):
        batch = theta.shape[:-1]
        return jax.tree.unflatten(treedef, [
            theta[..., o:o + n].reshape(batch + leaf.shape)
            for leaf, o, n in zip(leaves, offsets, sizes, strict=True)])

    return sum(sizes), unravel


def make_flat_mlp(model: MLP) -> FlatMLP:
    """The flat-vector view of `model`, built from shapes only (no eager computation)."""
    shapes = jax.eval_shape(model.init, jax.random.key(0),
                            jnp.zeros((1, model.num_inputs), jnp.float32))
    shapes = shapes["params"]
    dim, unravel = _unravel_fn(shapes)
    act = ACTIVATIONS[model.activation]
    layer_names = [f"Dense_{i}" for i in range(len(model.hidden) + 1)]

    def logits_fn(theta: jax.Array, x: jax.Array) -> jax.Array:
        return model.apply({"params": unravel(theta)}, x)

    def batched_logits(thetas: jax.Array, x: jax.Array) -> jax.Array:
        params = unravel(thetas)
        first = params[layer_names[0]]
        kernel, bias = first["kernel"], first["bias"]  # float32[S, D, h], float32[S, h]
        if x.shape[-1] <= FAST_PATH_MAX_INPUTS:
            # x @ W for a few input features as a multiply-add: float32[S, n, h]
            h = bias[:, None, :]
            for i in range(x.shape[-1]):
                h = h + x[None, :, i, None] * kernel[:, None, i, :]
        else:  # images: an ordinary contraction over D
            h = jnp.einsum("nd,sdh->snh", x, kernel) + bias[:, None, :]
        for name in layer_names[1:]:
            layer = params[name]
            h = jnp.einsum("snh,shk->snk", act(h), layer["kernel"]) + layer["bias"][:, None, :]
        return h[..., 0] if model.num_outputs == 1 else h

    return FlatMLP(dim, logits_fn, batched_logits)
