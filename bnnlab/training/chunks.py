"""A training chunk: K steps of a method fused with `lax.scan` into one compiled call.

`make_run_chunk` scans the method's step (guarded by `wrappers.apply_if_finite`, drawing its noise
through `wrappers.chunk_noise`) over K iterations, of which the first `num_steps` (a traced
argument) run and the rest are skipped; `make_run_chunk_batched` runs B chunks at once. Nothing
here jits: `bnnlab.training.engine` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from bnnlab.core import limits
from bnnlab.methods import wrappers
from bnnlab.methods.base import Algorithm, Batch, Hyper

# B runs on a CPU go through `lax.map` in vmapped groups of this many: one vmap over all B spills
# the [B, S, n, width] activations and the [B, K, S, d] noise out of cache and measured slower
# than B runs one after another (docs/BENCHMARKS.md, "Batched runs"). Accelerators vmap over B.
CPU_RUN_GROUP = 4


class TrainState(NamedTuple):
    """Everything the next chunk needs. `method_state` is the method's state (`vi.VIState`,
    `hmc.HMCState`, …)."""

    method_state: Any
    rng_key: jax.Array  # PRNG key
    step: jax.Array  # int32[]: steps taken
    diverged: jax.Array  # bool[]: a step produced NaN/inf; the state is the last finite one


class ChunkInfo(NamedTuple):
    """Per-step diagnostics of one chunk, float32[K] each (NaN for steps not taken).

    The first three are the method's `Trace` (what it ascends, its data term and its prior
    term; `MethodSpec.trace_labels` names them), `method` is the method's own `Info` with a
    leading axis K (e.g. `hmc.TransitionInfo`: acceptance, divergence, leapfrog steps).
    """

    objective: jax.Array
    log_likelihood: jax.Array
    regulariser: jax.Array
    method: Any


def make_init(algorithm: Algorithm, count: Callable[[str], None]):
    """(rng_key, init_std float32[]) -> TrainState at step 0."""

    def init(rng_key: jax.Array, init_std: jax.Array) -> TrainState:
        count("init")
        init_key, run_key = jax.random.split(rng_key)
        return TrainState(algorithm.init(init_key, init_std), run_key, jnp.int32(0),
                          jnp.bool_(False))

    return init


def make_run_chunk(algorithm: Algorithm, steps_per_chunk: int, count: Callable[[str], None]):
    """(state, batch, hyper, num_steps int32[] ≤ K) -> (state, ChunkInfo[K]) for K =
    `steps_per_chunk`.

    Each of the K iterations runs the step under `lax.cond(index < num_steps, …)`: a chunk asked
    for n < K steps costs n steps plus K cheap skips (and the chunk's noise draw), not K masked
    steps, so a scheduler can size chunks by time without recompiling (`bench chunk_time`; a
    while loop of n iterations measured slower on full chunks). Only the method's trained part
    is the scan's carry (`Algorithm.split`), so a fitted posterior is not copied every step."""
    draw, method_step = wrappers.chunk_noise(algorithm, steps_per_chunk,
                                             limits.MAX_PREDRAWN_NOISE_BYTES)
    guarded = wrappers.apply_if_finite(algorithm, method_step)

    def run_chunk(state: TrainState, batch: Batch, hyper: Hyper,
                  num_steps: jax.Array | int = steps_per_chunk):
        count("run_chunk")
        num_steps = jnp.minimum(jnp.asarray(num_steps, jnp.int32), steps_per_chunk)
        rng_key, noise_key = jax.random.split(state.rng_key)
        noise = draw(noise_key)
        trained, rest = algorithm.split(state.method_state)
        first = jax.tree.map(lambda a: a[0], noise)
        shape = jax.eval_shape(lambda: guarded(first, (trained, state.diverged), batch,
                                               hyper)[1])

        def body(carry, xs):
            index, step_noise = xs

            def run(carry):
                carry, out = guarded(step_noise, carry, batch, hyper)
                return carry, (ChunkInfo(*out.trace, out.info), out.applied)

            def skip(carry):
                info = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), shape.info)
                nan = jnp.float32(jnp.nan)
                return carry, (ChunkInfo(nan, nan, nan, info), jnp.bool_(False))

            return jax.lax.cond(index < num_steps, run, skip, carry)

        (trained, diverged), (info, applied) = jax.lax.scan(
            body, (trained, state.diverged), (jnp.arange(steps_per_chunk), noise))
        method_state = algorithm.join(rest, trained, jnp.any(applied))
        return TrainState(method_state, rng_key,
                          state.step + jnp.sum(applied).astype(jnp.int32), diverged), info

    return run_chunk


def make_run_chunk_batched(run_chunk, steps_per_chunk: int):
    """(states[B], batch, hypers[B], num_steps) -> (TrainState[B], ChunkInfo[B, K]): B runs on
    one batch of data. `num_steps` is not batched, so under vmap the step's cond stays a cond."""

    def run_chunk_batched(states: TrainState, batch: Batch, hypers: Hyper,
                          num_steps: jax.Array | int = steps_per_chunk):
        if jax.default_backend() == "cpu":
            return jax.lax.map(lambda args: run_chunk(args[0], batch, args[1], num_steps),
                               (states, hypers), batch_size=CPU_RUN_GROUP)
        return jax.vmap(run_chunk, in_axes=(0, None, 0, None))(states, batch, hypers, num_steps)

    return run_chunk_batched
