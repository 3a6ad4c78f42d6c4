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

Methods (`StaticConfig.method`): "vi" (`bnnlab.vi`), "map" (`bnnlab.map_estimate`), "dropout"
(`bnnlab.dropout`), "ensemble" (`bnnlab.ensemble`: M members in one state, one vmapped chunk)
and "hmc" (`bnnlab.hmc`: one NUTS transition per step, the reference posterior).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from bnnlab import dropout, ensemble, hmc, map_estimate, models, runtime, vi
from bnnlab.config import TrainConfig

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
    # Method settings; left at these defaults by the methods that do not use them, so that
    # changing, say, the dropout rate never builds another VI engine.
    dropout_rate: float = 0.0
    ensemble_size: int = 1
    hmc_warmup: int = 0
    hmc_max_doublings: int = 6

    @classmethod
    def from_config(cls, cfg: TrainConfig, num_train: int) -> StaticConfig:
        extra: dict = {}
        if cfg.method == "dropout":
            extra["dropout_rate"] = cfg.dropout_rate
        elif cfg.method == "ensemble":
            extra["ensemble_size"] = cfg.ensemble_size
        elif cfg.method == "hmc":
            extra.update(hmc_warmup=cfg.hmc_warmup, hmc_max_doublings=cfg.hmc_max_doublings)
        return cls(cfg.hidden, cfg.activation, cfg.method, cfg.num_samples,
                   cfg.steps_per_chunk, data_bucket(num_train), **extra)

    def num_draws(self, num_samples: int) -> int:
        """Posterior draws behind a predictive of `num_samples` requested samples: 1 for MAP
        (a point mass), M for an ensemble (each member once), else `num_samples`."""
        if self.method == "map":
            return 1
        if self.method == "ensemble":
            return self.ensemble_size
        return num_samples


class Batch(NamedTuple):
    """Training data padded to the bucket size; padded rows have mask 0."""

    x: jax.Array  # float32[m, 2]
    y: jax.Array  # float32[m], labels in {0, 1}
    mask: jax.Array  # float32[m]


def make_batch(x: np.ndarray, y: np.ndarray, bucket: int | None = None) -> Batch:
    """Pad `x: float32[n, 2]`, `y: int[n]` to `bucket` rows (default `data_bucket(n)`)."""
    n = len(x)
    bucket = bucket or data_bucket(n)
    if n > bucket:
        raise ValueError(f"{n} points do not fit a bucket of {bucket}")
    xb = np.zeros((bucket, 2), np.float32)
    yb = np.zeros(bucket, np.float32)
    mb = np.zeros(bucket, np.float32)
    xb[:n], yb[:n], mb[:n] = x, y, 1.0
    return Batch(jnp.asarray(xb), jnp.asarray(yb), jnp.asarray(mb))


class Hyper(NamedTuple):
    """Per-run hyperparameters, traced (float32[] each, or float32[B] batched)."""

    learning_rate: jax.Array
    kl_weight: jax.Array
    prior_std: jax.Array


def make_hyper(cfg: TrainConfig) -> Hyper:
    return Hyper(jnp.float32(cfg.lr), jnp.float32(cfg.kl_weight), jnp.float32(cfg.prior_std))


class TrainState(NamedTuple):
    """Everything the next chunk needs. `method_state` is the method's state: `vi.VIState`,
    `map_estimate.MAPState`, `dropout.DropoutState`, `ensemble.EnsembleState` or
    `hmc.HMCState`."""

    method_state: (vi.VIState | map_estimate.MAPState | dropout.DropoutState
                   | ensemble.EnsembleState | hmc.HMCState)
    rng_key: jax.Array  # PRNG key
    step: jax.Array  # int32[]: steps taken
    diverged: jax.Array  # bool[]: a step produced NaN/inf; the state is the last finite one


class ChunkInfo(NamedTuple):
    """Per-step diagnostics of one chunk: float32[K] each (NaN for steps not taken).

    For MAP, dropout and ensembles `elbo` is the MAP objective and `kl` the L2 penalty (see
    `map_estimate`); for HMC `elbo` is the log target density log P(Y|X,θ) + log P(θ) + const
    at the new position, `expected_log_likelihood` its log-likelihood and `kl` −log P(θ)."""

    elbo: jax.Array
    expected_log_likelihood: jax.Array
    kl: jax.Array


def bernoulli_log_likelihood(logits: jax.Array, batch: Batch) -> jax.Array:
    """Σ_i mask_i · log Bernoulli(y_i | sigmoid(logit_i)): float32[]."""
    per_point = batch.y * jax.nn.log_sigmoid(logits) + (1.0 - batch.y) * jax.nn.log_sigmoid(-logits)
    return jnp.sum(batch.mask * per_point)


def binary_entropy(p: jax.Array) -> jax.Array:
    """H[Bernoulli(p)] in nats (float32); 0 at p ∈ {0, 1} up to float rounding."""
    p = jnp.clip(p, 1e-7, 1 - 1e-7)
    return -(p * jnp.log(p) + (1 - p) * jnp.log1p(-p))


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
    # (rng_key, state, x float32[n, 2], num_samples static) -> probs float32[S, n]
    sample_probs: Callable[..., jax.Array]
    # (rng_key, state, num_samples static) -> theta float32[S, d]
    sample_params: Callable[..., jax.Array]
    # (rng_key, state, x float32[n, 2], num_samples) -> float32[4, n] numpy: mean probability,
    # total, aleatoric and epistemic uncertainty (nats), computed on device in point chunks
    predictive_summary: Callable[..., np.ndarray]


def _tree_select(pred: jax.Array, on_true, on_false):
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


def make_engine(static: StaticConfig) -> Engine:
    """Build (trace lazily, compile on first call) the engine for `static`."""
    model = models.make_mlp(static.hidden, static.activation)
    # Shapes only: building an engine runs no computation (Flax's eager init took seconds).
    flat = models.make_flat_mlp(model)
    logits_fn, dim = flat.logits_fn, flat.num_params
    optimizer = direction_transform()
    method = static.method
    is_vi = method == "vi"
    if method == "dropout":
        # Shapes only, like `make_flat_mlp`: no eager Flax init when the engine is built.
        template_params = jax.eval_shape(model.init, jax.random.key(0),
                                         jnp.zeros((1, 2), jnp.float32))["params"]
        unit_index_np, num_units = dropout.unit_index(template_params)
        unit_index = jnp.asarray(unit_index_np)
    if method == "hmc":
        schedule = hmc.make_schedule(static.hmc_warmup)
        num_buffer = hmc.buffer_size(dim)

    def initial_position(rng_key: jax.Array) -> jax.Array:
        params = model.init(rng_key, jnp.zeros((1, 2), jnp.float32))["params"]
        return ravel_pytree(params)[0]

    def init(rng_key: jax.Array, init_std: jax.Array) -> TrainState:
        TRACE_COUNTS[("init", static)] += 1
        init_key, run_key = jax.random.split(rng_key)
        if method == "ensemble":
            # Each member from its own initialisation (Lakshminarayanan et al. 2017).
            positions = jax.vmap(initial_position)(
                jax.random.split(init_key, static.ensemble_size))
            method_state = ensemble.init(positions, optimizer)
        else:
            position = initial_position(init_key)
            if is_vi:
                method_state = vi.init(position, init_std, optimizer)
            elif method == "dropout":
                method_state = dropout.init(position, optimizer)
            elif method == "hmc":
                method_state = hmc.init(position, num_buffer)
            else:
                method_state = map_estimate.init(position, optimizer)
        return TrainState(method_state, run_key, jnp.int32(0), jnp.bool_(False))

    def checked_leaves(method_state) -> list[jax.Array]:
        """The parameters a non-finite step would spoil."""
        if is_vi:
            return [method_state.mean, method_state.rho]
        if method == "ensemble":
            return [method_state.positions]
        return [method_state.position]

    def run_chunk(state: TrainState, batch: Batch, hyper: Hyper,
                  num_steps: jax.Array | int = static.steps_per_chunk):
        TRACE_COUNTS[("run_chunk", static)] += 1
        num_steps = jnp.minimum(jnp.asarray(num_steps, jnp.int32), static.steps_per_chunk)

        def log_likelihood_fn(theta):
            return bernoulli_log_likelihood(logits_fn(theta, batch.x), batch)

        def log_prior_fn(theta):
            return -map_estimate.l2_penalty(theta, hyper.prior_std) - dim * jnp.log(
                hyper.prior_std * jnp.sqrt(2 * jnp.pi))

        def logdensity_fn(theta):
            return log_likelihood_fn(theta) + log_prior_fn(theta)

        rng_key, noise_key = jax.random.split(state.rng_key)
        if is_vi:
            # One random draw for the whole chunk: cheaper than K draws inside the scan.
            noise = jax.random.normal(
                noise_key, (static.steps_per_chunk, static.num_samples, dim), jnp.float32)
        elif method == "dropout":
            noise = jax.random.uniform(
                noise_key, (static.steps_per_chunk, static.num_samples, num_units), jnp.float32)
        elif method == "hmc":
            noise = jax.random.split(noise_key, static.steps_per_chunk)  # one key a transition
        else:
            noise = jnp.zeros((static.steps_per_chunk, 0), jnp.float32)

        def method_step(method_state, step_noise):
            common = dict(optimizer=optimizer, learning_rate=hyper.learning_rate,
                          prior_std=hyper.prior_std, kl_weight=hyper.kl_weight)
            if is_vi:
                return vi.step_from_noise(step_noise, method_state, log_likelihood_fn, **common)
            if method == "dropout":
                return dropout.step_from_noise(step_noise, method_state, log_likelihood_fn,
                                               index=unit_index, rate=static.dropout_rate,
                                               **common)
            if method == "ensemble":
                return ensemble.step(method_state, log_likelihood_fn, **common)
            if method == "hmc":
                new_state, hmc_info = hmc.step(
                    step_noise, method_state, logdensity_fn, num_warmup=static.hmc_warmup,
                    schedule=schedule, max_num_doublings=static.hmc_max_doublings)
                log_prior = log_prior_fn(new_state.position)
                return new_state, vi.VIInfo(hmc_info.logdensity,
                                            hmc_info.logdensity - log_prior, -log_prior)
            return map_estimate.step(method_state, log_likelihood_fn, **common)

        def body(carry, xs):
            method_state, diverged = carry
            index, step_noise = xs
            new_state, info = method_step(method_state, step_noise)
            finite = jnp.isfinite(info.elbo) & jnp.all(
                jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in checked_leaves(new_state)]))
            active = (index < num_steps) & ~diverged
            keep = active & finite
            method_state = _tree_select(keep, new_state, method_state)
            diverged = diverged | (active & ~finite)
            shown = jax.tree.map(lambda v: jnp.where(active, v, jnp.nan), info)
            return (method_state, diverged), (ChunkInfo(*shown), keep)

        (method_state, diverged), (info, taken) = jax.lax.scan(
            body, (state.method_state, state.diverged),
            (jnp.arange(static.steps_per_chunk), noise))
        new_state = TrainState(method_state, rng_key,
                               state.step + jnp.sum(taken).astype(jnp.int32), diverged)
        return new_state, info

    def sample_params(rng_key: jax.Array, state: TrainState, num_samples: int) -> jax.Array:
        if is_vi:
            return vi.sample(rng_key, state.method_state, num_samples)
        if method == "dropout":
            return dropout.sample(rng_key, state.method_state, num_samples, index=unit_index,
                                  num_units=num_units, rate=static.dropout_rate)
        if method == "ensemble":
            return ensemble.sample(rng_key, state.method_state, num_samples)
        if method == "hmc":
            return hmc.sample(rng_key, state.method_state, num_samples)
        return map_estimate.sample(rng_key, state.method_state, num_samples)

    def run_chunk_batched(states: TrainState, batch: Batch, hypers: Hyper,
                          num_steps: jax.Array | int = static.steps_per_chunk):
        if jax.default_backend() == "cpu":
            return jax.lax.map(lambda args: run_chunk(args[0], batch, args[1], num_steps),
                               (states, hypers), batch_size=CPU_RUN_GROUP)
        return jax.vmap(run_chunk, in_axes=(0, None, 0, None))(states, batch, hypers, num_steps)

    hot = runtime.compiler_options()  # see `runtime.CPU_COMPILER_OPTIONS`
    jitted_sample_params = jax.jit(sample_params, static_argnames="num_samples",
                                   compiler_options=hot)

    # The predictive runs in two compiled calls on purpose: posterior draws θ float32[S, d]
    # first, then the network on them. In one call XLA:CPU fuses the sampling (softplus,
    # erf_inv) into every element of the [S, n, width] activations; materialised θ lets the
    # first layer be a cheap multiply-add (`models.FlatMLP.batched_logits`).
    def probs_from_params(thetas: jax.Array, x: jax.Array) -> jax.Array:
        """thetas float32[S, d], x float32[n, 2] -> probs float32[S, n], in chunks of points so
        that each chunk's activations stay in cache."""
        TRACE_COUNTS[("sample_probs", static)] += 1
        n = x.shape[0]
        chunk = min(PREDICT_CHUNK, n)
        num_chunks = -(-n // chunk)
        padded = jnp.zeros((num_chunks * chunk, 2), x.dtype).at[:n].set(x)
        probs = jax.lax.map(lambda xc: jax.nn.sigmoid(flat.batched_logits(thetas, xc)),
                            padded.reshape(num_chunks, chunk, 2))  # [chunks, S, chunk]
        return jnp.moveaxis(probs, 0, 1).reshape(thetas.shape[0], -1)[:, :n]

    jitted_probs = jax.jit(probs_from_params, compiler_options=hot)

    def sample_probs(rng_key: jax.Array, state: TrainState, x: jax.Array,
                     num_samples: int) -> jax.Array:
        thetas = jitted_sample_params(rng_key, state, static.num_draws(num_samples))
        return jitted_probs(thetas, jnp.asarray(x, jnp.float32))

    def predictive_chunk(thetas: jax.Array, x_chunk: jax.Array) -> jax.Array:
        TRACE_COUNTS[("predictive_chunk", static)] += 1
        probs = jax.nn.sigmoid(flat.batched_logits(thetas, x_chunk))
        mean = probs.mean(axis=0)
        total = binary_entropy(mean)
        aleatoric = binary_entropy(probs).mean(axis=0)
        epistemic = (jnp.maximum(total - aleatoric, 0.0) if thetas.shape[0] > 1
                     else jnp.zeros_like(total))
        return jnp.stack([mean, total, aleatoric, epistemic])

    jitted_chunk = jax.jit(predictive_chunk, compiler_options=hot)

    def predictive_summary(rng_key: jax.Array, state: TrainState, x: np.ndarray | jax.Array,
                           num_samples: int) -> np.ndarray:
        # Fixed-size chunks of points: one compilation serves every number of points, and each
        # chunk's activations stay in cache (measured several times faster than one
        # [S, n, width] pass for a 100×100 grid × 64 samples on CPU). The draws are made once,
        # so every point sees the same posterior samples.
        thetas = jitted_sample_params(rng_key, state, static.num_draws(num_samples))
        x = np.asarray(x, np.float32)
        n = len(x)
        padded = np.zeros((-(-n // PREDICT_CHUNK) * PREDICT_CHUNK, 2), np.float32)
        padded[:n] = x
        parts = [jitted_chunk(thetas, padded[i:i + PREDICT_CHUNK])
                 for i in range(0, len(padded), PREDICT_CHUNK)]
        return np.concatenate([np.asarray(p) for p in parts], axis=1)[:, :n]

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
    )


@functools.lru_cache(maxsize=32)
def compiled(static: StaticConfig) -> Engine:
    """The process-wide engine for `static` (shared by every session; jitted functions are
    thread-safe and hold no per-user state)."""
    return make_engine(static)


class History(NamedTuple):
    """Per-step diagnostics of a whole run: float32[steps] each."""

    elbo: np.ndarray
    expected_log_likelihood: np.ndarray
    kl: np.ndarray


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
    hyperparameters and the initial state (seeded by `cfg.seed`)."""
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
    chunk = engine.static.steps_per_chunk
    parts: list[ChunkInfo] = []
    times: list[float] = []
    done = 0
    while done < steps:
        todo = min(chunk, steps - done)
        start = time.perf_counter()
        state, info = engine.run_chunk(state, batch, hyper, jnp.int32(todo))
        jax.block_until_ready(state)
        times.append(time.perf_counter() - start)
        parts.append(jax.tree.map(lambda v, n=todo: np.asarray(v)[:n], info))
        done += todo
        if bool(state.diverged):
            break
    history = History(*(np.concatenate([getattr(p, f) for p in parts]) for f in ChunkInfo._fields))
    steady = float(np.median(times[1:])) if len(times) > 1 else 0.0
    return RunResult(engine, state, history, max(times[0] - steady, 0.0), float(sum(times[1:])))
