"""Behaviour that cuts across methods, written once as wrappers around an `Algorithm` (as optax
wraps a gradient transformation in `apply_if_finite` or `masked`):

* `apply_if_finite`: a step that produced NaN or infinity is not applied; the run keeps its last
  finite state and says it diverged.
* `trained_part`: training steps of one algorithm on a part of a bigger state (Laplace trains
  MAP's state and keeps its fitted posterior beside it, out of the scan's carry).
* `chunk_noise`: a chunk's random numbers drawn in one go before its steps, or one key a step
  when they would not fit a memory budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from bnnlab.methods.base import Algorithm, Trace


class Guarded(NamedTuple):
    """What a step guarded by `apply_if_finite` returns beside the state."""

    trace: Trace  # the step's Trace; NaN once the run has diverged
    info: Any  # the method's own Info
    applied: jax.Array  # bool[]: the step was finite and its state kept


def tree_select(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    """Leaf-wise `where(pred, on_true, on_false)` over two pytrees of one structure."""
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def apply_if_finite(algorithm: Algorithm, step: Callable[..., tuple[Any, Any]]):
    """`step(noise, trained, batch, hyper) -> (trained, Info)` guarded against divergence:
    `(noise, (trained, diverged bool[]), batch, hyper) -> ((trained, diverged), Guarded)`.

    A step whose objective or any of `algorithm.checked(trained)` is not finite is not applied,
    and from then on (`diverged`) no step is: the state stays the last finite one."""

    def guarded(noise: Any, carry: tuple[Any, jax.Array], batch: Any, hyper: Any):
        trained, diverged = carry
        new, info = step(noise, trained, batch, hyper)
        trace = algorithm.trace(info)
        finite = jnp.isfinite(trace.objective) & jnp.all(jnp.stack(
            [jnp.all(jnp.isfinite(leaf)) for leaf in algorithm.checked(new)]))
        applied = ~diverged & finite
        shown = jax.tree.map(lambda v: jnp.where(~diverged, v, jnp.nan), trace)
        return (tree_select(applied, new, trained), diverged | ~finite), Guarded(
            Trace(*shown), info, applied)

    return guarded


def trained_part(inner: Algorithm, *, init: Callable[..., Any], part: Callable[[Any], Any],
                 join: Callable[[Any, Any, jax.Array], Any], **overrides: Any) -> Algorithm:
    """`inner`'s training steps on `part(state)` of a bigger state built by `init`;
    `join(state, trained part, moved bool[])` puts the part back after a chunk (`moved`: at
    least one step was applied). `overrides` replace the other functions (e.g. the
    predictive, which reads the whole state)."""
    return inner._replace(init=init, split=lambda state: (part(state), state),
                          join=lambda state, trained, moved: join(state, trained, moved),
                          **overrides)


def chunk_noise(algorithm: Algorithm, num_steps: int, max_bytes: int):
    """`(draw(rng_key) -> noise with a leading axis num_steps, step)` for a chunk of `num_steps`
    steps: the method's own noise for all steps at once (one random draw, cheaper than K inside
    the scan) while it takes at most `max_bytes`, else one PRNG key a step and the method's
    keyed `step` (K·S·d normals would dominate the chunk's memory)."""
    one = jax.eval_shape(lambda key: algorithm.draw_noise(key, 1), jax.random.key(0))
    per_step = sum(math.prod(leaf.shape) * leaf.dtype.itemsize for leaf in jax.tree.leaves(one))
    if per_step * num_steps <= max_bytes:
        return (lambda rng_key: algorithm.draw_noise(rng_key, num_steps)), \
            algorithm.step_from_noise
    return (lambda rng_key: jax.random.split(rng_key, num_steps)), algorithm.step
