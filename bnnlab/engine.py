"""The training engine: jitted chunks of K steps fused with `lax.scan`, cached per static config.

What is static (compiled in) and what is an argument:

* `StaticConfig` — architecture, method, MC sample count, chunk length K and the data-size
  bucket — selects a compiled `Engine`, built once per process (`compiled`, an LRU cache).
* Data values, the number of real points inside the bucket (a mask), learning rate, kl_weight,
  prior_std and init_std are traced arguments: changing them never recompiles. `TRACE_COUNTS`
  counts traces so tests can prove it.

An engine can also run B independent runs at once (`init_batched`, `run_chunk_batched`: `vmap`
over seeds and per-run hyperparameters; on a CPU `lax.map` over small vmapped groups, see
`CPU_RUN_GROUP`), the basis for sweeps and comparisons.

The method (`StaticConfig.method`) is a name in `bnnlab.registry.METHODS`; the engine knows
no method beyond its `Algorithm` (`bnnlab.methods.base`): it scans the method's step K times,
keeps the last finite state, and records the method's `Trace` and `Info` per step.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bnnlab import config, contour, models, predict, registry, runtime
from bnnlab.config import TrainConfig
from bnnlab.methods.base import Batch, Hyper, Problem
from bnnlab.registry import bernoulli_log_likelihood

__all__ = [
    "Batch", "ChunkInfo", "CPU_RUN_GROUP", "Engine", "History", "Hyper", "RunResult",
    "RunStart", "StaticConfig", "TRACE_COUNTS", "TrainState", "advance",
    "bernoulli_log_likelihood", "binary_entropy", "boundary_fields", "compiled", "data_bucket",
    "direction_transform", "fit", "make_batch", "make_engine", "make_hyper", "start_run",
]

# (function name, StaticConfig) -> number of times JAX traced it. Diagnostics only.
TRACE_COUNTS: collections.Counter = collections.Counter()

MIN_BUCKET = 64
PREDICT_CHUNK = 512  # points per chunk in `predictive_summary` and `sample_probs`
# B runs on a CPU go through `lax.map` in vmapped groups of this many: one vmap over all B
# spills the [B, S, n, width] activations and the [B, K, S, d] noise out of cache and measured
# slower than B runs one after another. With XLA's default options groups of 4 measured 1.4×
# faster than one after another; with `runtime.CPU_COMPILER_OPTIONS` one run alone got faster
# and groups of 2–4 run at ~0.9–1.0× of it (64 runs, 2-core EPYC; 8 and 16 slower). Accelerators
# vmap over all B.
CPU_RUN_GROUP = 4
# `init` runs once per run, so its compile time is all that counts: without LLVM's optimisations
# it compiles in half the time (0.99 → 0.48 CPU-s on the 2-core EPYC) and runs in under 1 ms.
ONE_OFF_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def data_bucket(num_points: int) -> int:
    """Padded data size: the next power of two ≥ num_points (at least 64), so adding a point
    or changing the dataset size rarely recompiles."""
    return max(MIN_BUCKET, 1 << max(0, math.ceil(math.log2(max(num_points, 1)))))


@dataclasses.dataclass(frozen=True)
class StaticConfig:
    """The part of a configuration that is compiled in."""

    hidden: tuple[int, ...] = (32, 32)
    activation: str = "tanh"
    method: str = "vi"
    num_samples: int = 8
    steps_per_chunk: int = 50
    data_bucket: int = 512
    # The method's own compiled-in settings: (TrainConfig field, value) pairs from its spec's
    # `static_fields`, e.g. (("dropout_rate", 0.1),). Other methods' settings are left out, so
    # changing, say, the dropout rate never builds another VI engine.
    method_options: tuple[tuple[str, Any], ...] = ()
    likelihood: str = registry.DEFAULT_LIKELIHOOD
    # D inputs per point and K classes (the dataset's `registry.DataShape`): 2 and 2 for the toy
    # sets, 64 and 10 for 8×8 digits. Binary data has one output (a Bernoulli logit).
    num_inputs: int = 2
    num_classes: int = 2

    @classmethod
    def from_config(cls, cfg: TrainConfig, num_train: int) -> StaticConfig:
        spec = registry.method(cfg.method)
        # A method whose step draws no samples is built with 1: the slider never recompiles it.
        num_samples = cfg.num_samples if spec.uses_samples else 1
        shape = registry.data_shape(cfg.dataset, cfg.num_classes)
        return cls(cfg.hidden, cfg.activation, cfg.method, num_samples, cfg.steps_per_chunk,
                   data_bucket(num_train), registry.method_options(cfg), shape.likelihood,
                   shape.num_inputs, shape.num_classes)

    @property
    def num_outputs(self) -> int:
        """Network outputs: 1 for a Bernoulli logit, K for a categorical softmax."""
        return registry.LIKELIHOODS[self.likelihood].num_outputs(self.num_classes)

    @property
    def categorical(self) -> bool:
        """Whether predictions are K-class probabilities float32[..., K] (else P(y = 1))."""
        return self.num_outputs > 1

    @property
    def options(self) -> dict[str, Any]:
        """The method's compiled-in settings, e.g. {"ensemble_size": 5}."""
        return dict(self.method_options)

    def num_draws(self, num_samples: int) -> int:
        """Posterior draws behind a predictive of `num_samples` requested samples: 1 for MAP
        (a point mass), M for an ensemble (each member once), else `num_samples`."""
        return registry.method(self.method).num_draws(self.options, num_samples)


def make_batch(x: np.ndarray, y: np.ndarray, bucket: int | None = None) -> Batch:
    """Pad `x: float32[n, D]`, `y: int[n]` to `bucket` rows (default `data_bucket(n)`)."""
    x = np.asarray(x, np.float32)
    x = x.reshape(len(x), -1) if x.ndim != 2 else x
    n = len(x)
    bucket = bucket or data_bucket(n)
    if n > bucket:
        raise ValueError(f"{n} points do not fit a bucket of {bucket}")
    xb = np.zeros((bucket, x.shape[1]), np.float32)
    yb = np.zeros(bucket, np.float32)
    mb = np.zeros(bucket, np.float32)
    xb[:n], yb[:n], mb[:n] = x, y, 1.0
    return Batch(jnp.asarray(xb), jnp.asarray(yb), jnp.asarray(mb))


def make_hyper(cfg: TrainConfig) -> Hyper:
    return Hyper(jnp.float32(cfg.lr), jnp.float32(cfg.kl_weight), jnp.float32(cfg.prior_std))


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
    term; `registry.METHODS[m].trace_labels` names them), `method` is the method's own `Info`
    with a leading axis K (e.g. `hmc.TransitionInfo`: acceptance, divergence, leapfrog steps).
    """

    objective: jax.Array
    log_likelihood: jax.Array
    regulariser: jax.Array
    method: Any


def binary_entropy(p: jax.Array) -> jax.Array:
    """H[Bernoulli(p)] in nats on device: `predict.binary_entropy` with jax.numpy."""
    return predict.binary_entropy(p, jnp)


def direction_transform() -> optax.GradientTransformation:
    """Adam's direction; the engine scales it by the (traced) learning rate."""
    return optax.scale_by_adam()


class Engine(NamedTuple):
    """Jitted functions for one `StaticConfig`. Shapes: d = number of parameters.

    On a CPU the chunk and predictive functions carry `runtime.compiler_options()`, and JAX
    accepts compiler options only on a top-level `jit`: call them directly (or under `vmap`),
    not from inside another `jax.jit`; `jax.jit(engine.run_chunk.__wrapped__)` gives the plain
    function to compose."""

    static: StaticConfig
    num_params: int
    logits_fn: models.LogitsFn
    # (rng_key, init_std float32[]) -> TrainState
    init: Callable[..., TrainState]
    # (state, batch, hyper, num_steps int32[] ≤ K) -> (state, ChunkInfo[K])
    run_chunk: Callable[..., tuple[TrainState, ChunkInfo]]
    # vmapped over rng keys / init stds: (rng_keys[B], init_stds[B]) -> TrainState[B]
    init_batched: Callable[..., TrainState]
    # over states and hypers, batch shared: -> (TrainState[B], ChunkInfo[B, K])
    run_chunk_batched: Callable[..., tuple[TrainState, ChunkInfo]]
    # (rng_key, state, x float32[n, D], num_samples static) -> probs float32[S, n] (binary:
    # P(y = 1)) or float32[S, n, K] (categorical: softmax)
    sample_probs: Callable[..., jax.Array]
    # (rng_key, state, num_samples static) -> theta float32[S, d]
    sample_params: Callable[..., jax.Array]
    # (rng_key, state, x float32[n, D], num_samples) -> float32[4, n] numpy: mean probability,
    # total, aleatoric and epistemic uncertainty (nats), computed on device in point chunks;
    # categorical: float32[K + 3, n], the K mean class probabilities first
    predictive_summary: Callable[..., np.ndarray]
    # (state, batch, hyper) -> TrainState: the method's post-training fit (`Algorithm.fit`,
    # e.g. Laplace around the MAP network), or None when the method has none
    fit_posterior: Callable[..., TrainState] | None = None
    # (state, trained part of another method's state) -> TrainState: start from a network
    # trained by a method whose state is this one's `trained_part` (MAP -> Laplace); None when
    # the method trains all of its state
    adopt: Callable[..., TrainState] | None = None
    # One live frame in one compiled call (`frame_fields`): (map_key, boundary_key, state,
    # grid float32[C, chunk, D], boundary grid float32[ny, nx, D], num_samples, num_boundary
    # static) -> (summary float32[R, C·chunk] as `predictive_summary`, candidate segments
    # uint16[m, 4] over the boundary grid's box, used bool[m]: the segments are quads[used])
    frame: Callable[..., tuple[jax.Array, jax.Array, jax.Array]] | None = None


def boundary_fields(probs, xp=np):
    """Fields whose 0.5 level is each sampled network's decision boundary, from its
    probabilities at grid points: binary P(y=1) float[S, n] (itself), or float[S, n, K] (for
    each class k, 0.5 + (p_k − max_{j≠k} p_j)/2, which crosses 0.5 where k stops being the
    argmax): float[S·F, n], sample-major (F = 1 binary, K categorical). In `xp` (numpy or
    jax.numpy)."""
    if probs.ndim == 2:
        return probs
    k = probs.shape[-1]
    others = xp.where(xp.eye(k, dtype=bool), -xp.inf, probs[..., None, :]).max(axis=-1)
    fields = 0.5 + 0.5 * (probs - others)  # [S, n, K]
    return xp.moveaxis(fields, -1, 1).reshape(-1, probs.shape[1])


def _tree_select(pred: jax.Array, on_true, on_false):
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def make_problem(static: StaticConfig) -> Problem:
    """What the method builds on: the network, the likelihood and its compiled-in settings."""
    model = models.make_mlp(static.hidden, static.activation, static.num_inputs,
                            static.num_outputs)
    # Shapes only: building an engine runs no computation (Flax's eager init took seconds).
    return Problem(model=model, flat=models.make_flat_mlp(model),
                   log_likelihood=registry.LIKELIHOODS[static.likelihood].log_likelihood,
                   num_samples=static.num_samples, options=static.options,
                   optimizer=direction_transform())


def predraws_noise(static: StaticConfig, algorithm, num_params: int) -> bool:
    """Whether a chunk draws its random numbers in one go before the scan (cheaper than K draws
    inside it) or one step at a time: only while the whole chunk's noise stays under
    `config.MAX_PREDRAWN_NOISE_BYTES`, or K·S·d floats would dominate the chunk's memory."""
    del num_params
    one = jax.eval_shape(lambda key: algorithm.draw_noise(key, 1), jax.random.key(0))
    per_step = sum(math.prod(leaf.shape) * leaf.dtype.itemsize
                   for leaf in jax.tree.leaves(one))
    return per_step * static.steps_per_chunk <= config.MAX_PREDRAWN_NOISE_BYTES


def make_engine(static: StaticConfig) -> Engine:
    """Build (trace lazily, compile on first call) the engine for `static`."""
    problem = make_problem(static)
    flat, dim = problem.flat, problem.num_params
    logits_fn = flat.logits_fn
    link = registry.LIKELIHOODS[static.likelihood].link
    num_inputs = static.num_inputs
    algorithm = registry.method(static.method).build(problem)
    predraw = predraws_noise(static, algorithm, dim)

    def init(rng_key: jax.Array, init_std: jax.Array) -> TrainState:
        TRACE_COUNTS[("init", static)] += 1
        init_key, run_key = jax.random.split(rng_key)
        method_state = algorithm.init(init_key, init_std)
        return TrainState(method_state, run_key, jnp.int32(0), jnp.bool_(False))

    def run_chunk(state: TrainState, batch: Batch, hyper: Hyper,
                  num_steps: jax.Array | int = static.steps_per_chunk):
        TRACE_COUNTS[("run_chunk", static)] += 1
        num_steps = jnp.minimum(jnp.asarray(num_steps, jnp.int32), static.steps_per_chunk)
        rng_key, noise_key = jax.random.split(state.rng_key)
        if predraw:  # one random draw for the whole chunk
            noise, method_step = (algorithm.draw_noise(noise_key, static.steps_per_chunk),
                                  algorithm.step_from_noise)
        else:  # one key a step: the chunk's noise would not fit the budget
            noise, method_step = (jax.random.split(noise_key, static.steps_per_chunk),
                                  algorithm.step)

        # Each of the K iterations runs the step under `lax.cond(index < num_steps, …)`: a chunk
        # asked for n < K steps costs n steps plus K cheap skips (and the chunk's noise draw),
        # not K masked steps, so a scheduler can size chunks by time without recompiling
        # (`bench chunk_time`). A while loop of n iterations measured ~10–40% slower on full
        # chunks than this scan on the 2-core CPU. `num_steps` is not batched in
        # `run_chunk_batched`, so under vmap the cond stays a cond.
        # A method whose state holds a fitted posterior (Laplace) trains only part of it: only
        # that part is the scan's carry, so the fit's big arrays are not copied every step.
        whole = state.method_state
        trained = whole if algorithm.trained_part is None else algorithm.trained_part(whole)
        step_shape = jax.eval_shape(
            lambda: method_step(jax.tree.map(lambda a: a[0], noise), trained,
                                batch, hyper))[1]

        def body(carry, xs):
            method_state, diverged = carry
            index, step_noise = xs

            def run(method_state, diverged):
                new_state, info = method_step(step_noise, method_state, batch, hyper)
                trace = algorithm.trace(info)
                finite = jnp.isfinite(trace.objective) & jnp.all(jnp.stack(
                    [jnp.all(jnp.isfinite(leaf)) for leaf in algorithm.checked(new_state)]))
                keep = ~diverged & finite
                method_state = _tree_select(keep, new_state, method_state)
                shown = jax.tree.map(lambda v: jnp.where(~diverged, v, jnp.nan), trace)
                return (method_state, diverged | ~finite), (ChunkInfo(*shown, info), keep)

            def skip(method_state, diverged):
                info = jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), step_shape)
                nan = jnp.float32(jnp.nan)
                return (method_state, diverged), (ChunkInfo(nan, nan, nan, info),
                                                  jnp.bool_(False))

            return jax.lax.cond(index < num_steps, run, skip, method_state, diverged)

        (method_state, diverged), (info, taken) = jax.lax.scan(
            body, (trained, state.diverged),
            (jnp.arange(static.steps_per_chunk), noise))
        if algorithm.join_part is not None:
            method_state = algorithm.join_part(whole, method_state, jnp.any(taken))
        new_state = TrainState(method_state, rng_key,
                               state.step + jnp.sum(taken).astype(jnp.int32), diverged)
        return new_state, info

    def sample_params(rng_key: jax.Array, state: TrainState, num_samples: int) -> jax.Array:
        return algorithm.predictive_samples(rng_key, state.method_state, num_samples)

    def run_chunk_batched(states: TrainState, batch: Batch, hypers: Hyper,
                          num_steps: jax.Array | int = static.steps_per_chunk):
        if jax.default_backend() == "cpu":
            return jax.lax.map(lambda args: run_chunk(args[0], batch, args[1], num_steps),
                               (states, hypers), batch_size=CPU_RUN_GROUP)
        return jax.vmap(run_chunk, in_axes=(0, None, 0, None))(states, batch, hypers, num_steps)

    def fit_posterior(state: TrainState, batch: Batch, hyper: Hyper) -> TrainState:
        TRACE_COUNTS[("fit_posterior", static)] += 1
        return state._replace(method_state=algorithm.fit(state.method_state, batch, hyper))

    hot = runtime.compiler_options()  # see `runtime.CPU_COMPILER_OPTIONS`
    jitted_sample_params = jax.jit(sample_params, static_argnames="num_samples",
                                   compiler_options=hot)

    # The predictive runs in two compiled calls on purpose: posterior draws θ float32[S, d]
    # first, then the network on them. In one call XLA:CPU fuses the sampling (softplus,
    # erf_inv) into every element of the [S, n, width] activations; materialised θ lets the
    # first layer be a cheap multiply-add (`models.FlatMLP.batched_logits`).
    def probs_from_params(thetas: jax.Array, x: jax.Array) -> jax.Array:
        """thetas float32[S, d], x float32[n, D] -> probs float32[S, n] (binary: P(y = 1)) or
        float32[S, n, K] (categorical), in chunks of points so that each chunk's activations
        stay in cache."""
        TRACE_COUNTS[("sample_probs", static)] += 1
        n = x.shape[0]
        chunk = min(PREDICT_CHUNK, n)
        num_chunks = -(-n // chunk)
        padded = jnp.zeros((num_chunks * chunk, num_inputs), x.dtype).at[:n].set(x)
        probs = jax.lax.map(lambda xc: link(flat.batched_logits(thetas, xc)),
                            padded.reshape(num_chunks, chunk, num_inputs))  # [chunks, S, chunk…]
        probs = jnp.moveaxis(probs, 0, 1)
        return probs.reshape(thetas.shape[0], -1, *probs.shape[3:])[:, :n]

    jitted_probs = jax.jit(probs_from_params, compiler_options=hot)
    own_predictive = algorithm.predictive_logits  # e.g. Laplace's linearised network

    def own_probs(rng_key: jax.Array, state: TrainState, x: jax.Array,
                  num_samples: int) -> jax.Array:
        """The method's own predictive, in chunks of points (the same draws for every chunk:
        the key is shared): probs float32[S, n(, K)]."""
        TRACE_COUNTS[("own_probs", static)] += 1
        n = x.shape[0]
        chunk = min(PREDICT_CHUNK, n)
        num_chunks = -(-n // chunk)
        padded = jnp.zeros((num_chunks * chunk, num_inputs), x.dtype).at[:n].set(x)
        probs = jax.lax.map(
            lambda xc: link(own_predictive(rng_key, state.method_state, xc, num_samples)),
            padded.reshape(num_chunks, chunk, num_inputs))
        probs = jnp.moveaxis(probs, 0, 1)
        return probs.reshape(probs.shape[0], -1, *probs.shape[3:])[:, :n]

    # XLA's defaults, not `hot`: with runtime.CPU_COMPILER_OPTIONS (the experimental YNN dot
    # fusion) the linearised Laplace predictive of a 2-128-128-1 network came out garbled and
    # NaN on the 2-core CPU (measured; the same function under a plain jit matched eager JAX).
    jitted_own_probs = jax.jit(own_probs, static_argnames="num_samples")

    def sample_probs(rng_key: jax.Array, state: TrainState, x: jax.Array,
                     num_samples: int) -> jax.Array:
        # Padded here to a power of two (whole chunks of points above PREDICT_CHUNK), so that
        # the compiled functions see few shapes: a point clicked onto the map changes the
        # metrics' n by one, and each new n compiled again (~0.14 s on 2 cores, measured;
        # issue 18).
        x = np.asarray(x, np.float32).reshape(-1, num_inputs)
        n = x.shape[0]
        size = 1 << max(0, n - 1).bit_length()
        if n > PREDICT_CHUNK:
            size = -(-n // PREDICT_CHUNK) * PREDICT_CHUNK
        padded = np.zeros((size, num_inputs), np.float32)
        padded[:n] = x
        if own_predictive is not None:
            probs = jitted_own_probs(rng_key, state, padded,
                                     num_samples=static.num_draws(num_samples))
        else:
            thetas = jitted_sample_params(rng_key, state, static.num_draws(num_samples))
            probs = jitted_probs(thetas, padded)
        return np.asarray(probs)[:, :n]  # on the host: a device slice compiles per n

    def summary_rows(probs: jax.Array) -> jax.Array:
        """Sample-wise probabilities -> `predictive_summary`'s rows for their points."""
        if static.categorical:  # K mean probabilities, then total, aleatoric, epistemic
            mean, *split = predict.categorical_split(probs, jnp)
            return jnp.concatenate([mean.T, jnp.stack(split)])
        return jnp.stack(predict.uncertainty_split(probs, jnp))

    def predictive_chunk(thetas: jax.Array, x_chunk: jax.Array) -> jax.Array:
        TRACE_COUNTS[("predictive_chunk", static)] += 1
        return summary_rows(link(flat.batched_logits(thetas, x_chunk)))

    jitted_chunk = jax.jit(predictive_chunk, compiler_options=hot)

    def own_predictive_chunk(rng_key: jax.Array, state: TrainState, x_chunk: jax.Array,
                             num_samples: int) -> jax.Array:
        TRACE_COUNTS[("predictive_chunk", static)] += 1
        return summary_rows(link(own_predictive(rng_key, state.method_state, x_chunk,
                                                num_samples)))

    jitted_own_chunk = jax.jit(own_predictive_chunk, static_argnames="num_samples")

    def predictive_summary(rng_key: jax.Array, state: TrainState, x: np.ndarray | jax.Array,
                           num_samples: int) -> np.ndarray:
        # Fixed-size chunks of points: one compilation serves every number of points, and each
        # chunk's activations stay in cache (measured several times faster than one
        # [S, n, width] pass for a 100×100 grid × 64 samples on CPU). The draws are made once,
        # so every point sees the same posterior samples.
        x = np.asarray(x, np.float32).reshape(-1, num_inputs)
        n = len(x)
        padded = np.zeros((-(-n // PREDICT_CHUNK) * PREDICT_CHUNK, num_inputs), np.float32)
        padded[:n] = x
        draws = static.num_draws(num_samples)
        if own_predictive is not None:
            parts = [jitted_own_chunk(rng_key, state, padded[i:i + PREDICT_CHUNK],
                                      num_samples=draws)
                     for i in range(0, len(padded), PREDICT_CHUNK)]
            return np.concatenate([np.asarray(p) for p in parts], axis=1)[:, :n]
        thetas = jitted_sample_params(rng_key, state, draws)
        parts = [jitted_chunk(thetas, padded[i:i + PREDICT_CHUNK])
                 for i in range(0, len(padded), PREDICT_CHUNK)]
        return np.concatenate([np.asarray(p) for p in parts], axis=1)[:, :n]

    def frame_fields(map_key: jax.Array, boundary_key: jax.Array, state: TrainState,
                     grid: jax.Array, boundary_grid: jax.Array, num_samples: int,
                     num_boundary: int):
        """Everything a live frame computes, in one compiled call (issue 18): the predictive
        summary of `grid` (chunks of points, the same draws for all, as `predictive_summary`)
        and the decision boundaries of `num_boundary` draws of `boundary_key` on
        `boundary_grid`, traced by marching squares (`contour.cell_segments`): every cell's
        candidate segments quantised to uint16 over the boundary grid's box (the wire format,
        `wire.encode_segments`) and whether the cell has each."""
        TRACE_COUNTS[("frame", static)] += 1
        if own_predictive is None:
            # materialised draws: see `probs_from_params` (the barrier keeps XLA from fusing
            # the sampling into every activation)
            thetas = jax.lax.optimization_barrier(sample_params(map_key, state, num_samples))
            rows = jax.lax.map(lambda xc: summary_rows(link(flat.batched_logits(thetas, xc))),
                               grid)
        else:
            rows = jax.lax.map(lambda xc: summary_rows(link(own_predictive(
                map_key, state.method_state, xc, num_samples))), grid)
        summary = jnp.moveaxis(rows, 0, 1).reshape(rows.shape[1], -1)
        if num_boundary <= 1:  # MAP: one network, no spread of boundaries to draw
            return summary, jnp.zeros((0, 4), jnp.uint16), jnp.zeros((0,), bool)
        ny, nx = boundary_grid.shape[:2]
        points = boundary_grid.reshape(-1, num_inputs)
        if own_predictive is None:
            drawn = jax.lax.optimization_barrier(sample_params(boundary_key, state,
                                                               num_boundary))
            probs = link(flat.batched_logits(drawn, points))
        else:
            probs = link(own_predictive(boundary_key, state.method_state, points,
                                        num_boundary))
        # materialised fields: fused into marching squares, each network would be evaluated
        # again for every corner of every cell
        fields = jax.lax.optimization_barrier(boundary_fields(probs, jnp).reshape(-1, ny, nx))
        quads, used = contour.cell_segments(fields, 0.5, jnp)
        box = jnp.array([nx - 1, ny - 1, nx - 1, ny - 1], quads.dtype)
        quantised = jnp.round(jnp.clip(quads / box, 0.0, 1.0) * 65535).astype(jnp.uint16)
        # compacted on the host (`quads[used]`, ~0.1 ms): `jnp.nonzero` here cost ~2 ms a frame
        return summary, quantised.reshape(-1, 4), used.reshape(-1)

    frame_static = ("num_samples", "num_boundary")
    return Engine(
        static=static,
        num_params=dim,
        logits_fn=logits_fn,
        init=jax.jit(init, compiler_options=ONE_OFF_COMPILER_OPTIONS),
        run_chunk=jax.jit(run_chunk, compiler_options=hot),
        init_batched=jax.jit(jax.vmap(init), compiler_options=ONE_OFF_COMPILER_OPTIONS),
        run_chunk_batched=jax.jit(run_chunk_batched, compiler_options=hot),
        sample_probs=sample_probs,
        sample_params=jitted_sample_params,
        predictive_summary=predictive_summary,
        fit_posterior=None if algorithm.fit is None else jax.jit(fit_posterior),
        adopt=None if algorithm.join_part is None else jax.jit(
            lambda state, part: state._replace(method_state=algorithm.join_part(
                state.method_state, part, jnp.bool_(True)))),
        # XLA's defaults for a method's own predictive (see `jitted_own_probs`)
        frame=jax.jit(frame_fields, static_argnames=frame_static,
                      **({} if own_predictive is not None else {"compiler_options": hot})),
    )


@functools.lru_cache(maxsize=32)
def compiled(static: StaticConfig) -> Engine:
    """The process-wide engine for `static` (shared by every session; jitted functions are
    thread-safe and hold no per-user state)."""
    return make_engine(static)


class History(NamedTuple):
    """Per-step `Trace` of a whole run: float32[steps] each."""

    objective: np.ndarray
    log_likelihood: np.ndarray
    regulariser: np.ndarray


class ChunkResult(NamedTuple):
    """One chunk, read back to the host."""

    state: TrainState
    trace: np.ndarray  # float32[3, taken]: objective, log-likelihood, regulariser
    info: Any  # the method's Info, numpy arrays with a leading axis `taken`
    step: int
    diverged: bool
    taken: int
    seconds: float


def advance(engine: Engine, state: TrainState, batch: Batch, hyper: Hyper,
            num_steps: int) -> ChunkResult:
    """The one chunk loop body: run min(num_steps, K) steps, read the diagnostics back in one
    transfer (each separate read of a device array costs a round trip) and time it."""
    todo = int(min(num_steps, engine.static.steps_per_chunk))
    before = int(state.step)
    start = time.perf_counter()
    state, info = engine.run_chunk(state, batch, hyper, jnp.int32(todo))
    info, step, diverged = jax.device_get((info, state.step, state.diverged))
    seconds = time.perf_counter() - start
    taken = int(step) - before
    trace = np.stack([np.asarray(v)[:taken] for v in info[:3]])
    method_info = jax.tree.map(lambda v: np.asarray(v)[:taken], info.method)
    return ChunkResult(state, trace, method_info, int(step), bool(diverged), taken, seconds)


class RunResult(NamedTuple):
    engine: Engine
    state: TrainState
    history: History
    compile_s: float  # first chunk (compile + run) minus the median chunk time
    train_s: float  # wall time of every chunk after the first


class RunStart(NamedTuple):
    """Everything a run needs before its first chunk."""

    engine: Engine
    batch: Batch
    hyper: Hyper
    state: TrainState


def start_run(cfg: TrainConfig, x_train: np.ndarray, y_train: np.ndarray) -> RunStart:
    """The cached engine for `cfg` and this data size, the padded batch, the traced
    hyperparameters and the initial state (seeded by `cfg.seed`).

    The cost budget is applied first (`config.check_cost`): settings over it raise
    `config.ConfigError` naming the setting to lower before anything compiles, and a chunk too
    long for `config.MAX_CHUNK_SECONDS` is shortened (`engine.static.steps_per_chunk` says by
    how much)."""
    cfg, _ = config.check_cost(cfg, len(x_train))
    engine = compiled(StaticConfig.from_config(cfg, len(x_train)))
    batch = make_batch(x_train, y_train, engine.static.data_bucket)
    state = engine.init(jax.random.key(cfg.seed), jnp.float32(cfg.init_std))
    return RunStart(engine, batch, make_hyper(cfg), state)


def fit(cfg: TrainConfig, x_train: np.ndarray, y_train: np.ndarray,
        steps: int | None = None) -> RunResult:
    """Train from scratch for `steps` (default `cfg.steps`) steps; the history is exact in
    length even when `steps` is not a multiple of the chunk length."""
    steps = cfg.steps if steps is None else steps
    engine, batch, hyper, state = start_run(cfg, x_train, y_train)
    parts: list[np.ndarray] = []
    times: list[float] = []
    done = 0
    while done < steps:
        chunk = advance(engine, state, batch, hyper, steps - done)
        state, done = chunk.state, chunk.step
        times.append(chunk.seconds)
        parts.append(chunk.trace)
        if chunk.diverged:
            break
    if engine.fit_posterior is not None:  # e.g. Laplace: the posterior around the trained θ
        state = engine.fit_posterior(state, batch, hyper)
    history = History(*np.concatenate(parts, axis=1)) if parts else History(
        *np.zeros((3, 0), np.float32))
    steady = float(np.median(times[1:])) if len(times) > 1 else 0.0
    return RunResult(engine, state, history, max(times[0] - steady, 0.0) if times else 0.0,
                     float(sum(times[1:])))
