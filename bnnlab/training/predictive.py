"""A trained state's predictive, compiled: posterior draws, their probabilities at points, the
summary a map draws, and a live frame in one call. `make_predictor` builds them for one
compiled configuration; `bnnlab.training.engine` puts them into its `Engine`.

The predictive runs in two compiled calls on purpose: posterior draws θ float32[S, d] first, then
the network on them. In one call XLA:CPU fuses the sampling (softplus, erf_inv) into every
element of the [S, n, width] activations; materialised θ lets the first layer be a cheap
multiply-add (`models.FlatMLP.batched_logits`). Points go in fixed-size chunks, so that one
compilation serves every number of points and each chunk's activations stay in cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bnnlab.core import contour, predict, runtime
from bnnlab.methods.base import Algorithm, Problem

PREDICT_CHUNK = 512  # points per chunk in `predictive_summary` and `sample_probs`


class Predictor(NamedTuple):
    """The compiled predictive of one configuration (see `bnnlab.training.engine.Engine`)."""

    sample_params: Callable[..., jax.Array]
    sample_probs: Callable[..., np.ndarray]
    predictive_summary: Callable[..., np.ndarray]
    frame: Callable[..., tuple[jax.Array, jax.Array, jax.Array]]


def _in_chunks(x: jax.Array, num_inputs: int, fn: Callable[[jax.Array], jax.Array]):
    """`fn` over chunks of at most PREDICT_CHUNK points of `x: float32[n, D]`, its results
    (probabilities float32[S, chunk(, K)]) put back together: float32[S, n(, K)]."""
    n = x.shape[0]
    chunk = min(PREDICT_CHUNK, n)
    num_chunks = -(-n // chunk)
    padded = jnp.zeros((num_chunks * chunk, num_inputs), x.dtype).at[:n].set(x)
    probs = jax.lax.map(fn, padded.reshape(num_chunks, chunk, num_inputs))
    probs = jnp.moveaxis(probs, 0, 1)
    return probs.reshape(probs.shape[0], -1, *probs.shape[3:])[:, :n]


def make_predictor(problem: Problem, algorithm: Algorithm, link: Callable, num_draws: Callable,
                   categorical: bool, count: Callable[[str], None]) -> Predictor:
    """The predictive functions of `algorithm` on `problem`'s network: `link` maps logits to
    probabilities, `num_draws(n)` says how many distinct draws stand behind n requested
    (MAP: 1), `categorical` whether predictions are K-class probabilities."""
    flat = problem.flat
    num_inputs = problem.model.num_inputs
    hot = runtime.compiler_options()
    own = algorithm.predictive_logits  # e.g. Laplace's linearised network

    def sample_params(rng_key, state, num_samples: int) -> jax.Array:
        return algorithm.predictive_samples(rng_key, state.method_state, num_samples)

    jitted_sample_params = jax.jit(sample_params, static_argnames="num_samples",
                                   compiler_options=hot)

    def probs_from_params(thetas: jax.Array, x: jax.Array) -> jax.Array:
        """thetas float32[S, d], x float32[n, D] -> probs float32[S, n] (binary: P(y = 1)) or
        float32[S, n, K] (categorical)."""
        count("sample_probs")
        return _in_chunks(x, num_inputs, lambda xc: link(flat.batched_logits(thetas, xc)))

    def own_probs(rng_key, state, x: jax.Array, num_samples: int) -> jax.Array:
        """The method's own predictive, the same draws for every chunk (the key is shared)."""
        count("own_probs")
        return _in_chunks(x, num_inputs,
                          lambda xc: link(own(rng_key, state.method_state, xc, num_samples)))

    jitted_probs = jax.jit(probs_from_params, compiler_options=hot)
    # XLA's defaults, not `hot`, for a method's own predictive: with the CPU options the
    # linearised Laplace predictive of a 2-128-128-1 network came out garbled (measured; the
    # same function under a plain jit matched eager JAX).
    jitted_own_probs = jax.jit(own_probs, static_argnames="num_samples")

    def sample_probs(rng_key, state, x, num_samples: int) -> np.ndarray:
        """Sample-wise probabilities at `x: float32[n, D]`: float32[S, n(, K)] on the host. The
        points are padded to a power of two (whole chunks above PREDICT_CHUNK), so the compiled
        functions see few shapes: a clicked point does not compile them again."""
        x = np.asarray(x, np.float32).reshape(-1, num_inputs)
        n = x.shape[0]
        size = 1 << max(0, n - 1).bit_length()
        if n > PREDICT_CHUNK:
            size = -(-n // PREDICT_CHUNK) * PREDICT_CHUNK
        padded = np.zeros((size, num_inputs), np.float32)
        padded[:n] = x
        if own is not None:
            probs = jitted_own_probs(rng_key, state, padded, num_samples=num_draws(num_samples))
        else:
            thetas = jitted_sample_params(rng_key, state, num_draws(num_samples))
            probs = jitted_probs(thetas, padded)
        return np.asarray(probs)[:, :n]  # on the host: a device slice compiles per n

    def summary_rows(probs: jax.Array) -> jax.Array:
        """Sample-wise probabilities -> `predictive_summary`'s rows for their points."""
        if categorical:  # K mean probabilities, then total, aleatoric, epistemic
            mean, *split = predict.categorical_split(probs, jnp)
            return jnp.concatenate([mean.T, jnp.stack(split)])
        return jnp.stack(predict.uncertainty_split(probs, jnp))

    def drawn_probs(key, state, points, num_samples: int) -> jax.Array:
        """Probabilities at `points` under `num_samples` draws of `key`, inside a compiled call
        (materialised draws behind a barrier, see the module's docstring)."""
        if own is not None:
            return link(own(key, state.method_state, points, num_samples))
        thetas = jax.lax.optimization_barrier(sample_params(key, state, num_samples))
        return link(flat.batched_logits(thetas, points))

    def predictive_chunk(thetas: jax.Array, x_chunk: jax.Array) -> jax.Array:
        count("predictive_chunk")
        return summary_rows(link(flat.batched_logits(thetas, x_chunk)))

    def own_predictive_chunk(rng_key, state, x_chunk, num_samples: int) -> jax.Array:
        count("predictive_chunk")
        return summary_rows(link(own(rng_key, state.method_state, x_chunk, num_samples)))

    jitted_chunk = jax.jit(predictive_chunk, compiler_options=hot)
    jitted_own_chunk = jax.jit(own_predictive_chunk, static_argnames="num_samples")

    def predictive_summary(rng_key, state, x, num_samples: int) -> np.ndarray:
        """float32[4, n] numpy (mean probability, total, aleatoric and epistemic uncertainty in
        nats) or, categorical, float32[K + 3, n] (the K mean class probabilities first), in
        fixed-size chunks of points that all see the same posterior draws."""
        x = np.asarray(x, np.float32).reshape(-1, num_inputs)
        n = len(x)
        padded = np.zeros((-(-n // PREDICT_CHUNK) * PREDICT_CHUNK, num_inputs), np.float32)
        padded[:n] = x
        draws = num_draws(num_samples)
        if own is not None:
            parts = [jitted_own_chunk(rng_key, state, padded[i:i + PREDICT_CHUNK],
                                      num_samples=draws)
                     for i in range(0, len(padded), PREDICT_CHUNK)]
        else:
            thetas = jitted_sample_params(rng_key, state, draws)
            parts = [jitted_chunk(thetas, padded[i:i + PREDICT_CHUNK])
                     for i in range(0, len(padded), PREDICT_CHUNK)]
        return np.concatenate([np.asarray(p) for p in parts], axis=1)[:, :n]

    def frame_fields(map_key, boundary_key, state, grid: jax.Array, boundary_grid: jax.Array,
                     num_samples: int, num_boundary: int):
        """Everything a live frame computes, in one compiled call: the predictive summary of
        `grid: float32[C, chunk, D]` (as `predictive_summary`) and the decision boundaries of
        `num_boundary` draws on `boundary_grid: float32[ny, nx, D]`, traced by marching squares
        (`contour.cell_segments`): every cell's candidate segments quantised to uint16 over the
        boundary grid's box (the wire format) and whether the cell has each. The host keeps
        `quads[used]` (a `jnp.nonzero` here cost more than the rest of the frame)."""
        count("frame")
        if own is None:
            thetas = jax.lax.optimization_barrier(sample_params(map_key, state, num_samples))
            rows = jax.lax.map(lambda xc: summary_rows(link(flat.batched_logits(thetas, xc))),
                               grid)
        else:
            rows = jax.lax.map(lambda xc: summary_rows(link(own(
                map_key, state.method_state, xc, num_samples))), grid)
        summary = jnp.moveaxis(rows, 0, 1).reshape(rows.shape[1], -1)
        if num_boundary <= 1:  # one network (MAP): no spread of boundaries to draw
            return summary, jnp.zeros((0, 4), jnp.uint16), jnp.zeros((0,), bool)
        ny, nx = boundary_grid.shape[:2]
        probs = drawn_probs(boundary_key, state, boundary_grid.reshape(-1, num_inputs),
                            num_boundary)
        # materialised fields: fused into marching squares, each network would be evaluated
        # again for every corner of every cell
        fields = jax.lax.optimization_barrier(
            contour.boundary_fields(probs, jnp).reshape(-1, ny, nx))
        quads, used = contour.cell_segments(fields, 0.5, jnp)
        box = jnp.array([nx - 1, ny - 1, nx - 1, ny - 1], quads.dtype)
        quantised = jnp.round(jnp.clip(quads / box, 0.0, 1.0) * 65535).astype(jnp.uint16)
        return summary, quantised.reshape(-1, 4), used.reshape(-1)

    frame_static = ("num_samples", "num_boundary")
    frame = jax.jit(frame_fields, static_argnames=frame_static,
                    **({} if own is not None else {"compiler_options": hot}))
    return Predictor(jitted_sample_params, sample_probs, predictive_summary, frame)
