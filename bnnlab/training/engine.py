"""The training engine: jitted chunks of K steps fused with `lax.scan`, cached per static config.

What is static (compiled in) and what is an argument:

* `StaticConfig` (architecture, method and its settings, MC sample count, chunk length K and the
  data-size bucket) selects a compiled `Engine`, built once per process (`compiled`, an LRU
  cache bounded by the engines' estimated bytes, `limits.MAX_ENGINE_CACHE_BYTES`).
* Data values, the number of real points inside the bucket (a mask), learning rate, kl_weight,
  prior_std and init_std are traced arguments: changing them never recompiles. `TRACE_COUNTS`
  counts traces so tests can prove it.

An engine can also run B independent runs at once (`init_batched`, `run_chunk_batched`), the
basis for sweeps and comparisons. It knows no method beyond its `Algorithm`
(`bnnlab.methods.base`): the chunk (`training.chunks`) scans the method's step K times and keeps
the last finite state; the predictive (`training.predictive`) evaluates its draws.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bnnlab import registry
from bnnlab.core import limits, models, runtime
from bnnlab.methods.base import Batch, Hyper, Problem
from bnnlab.training import cost
from bnnlab.training.chunks import (
    ChunkInfo,
    TrainState,
    make_init,
    make_run_chunk,
    make_run_chunk_batched,
)
from bnnlab.training.config import TrainConfig
from bnnlab.training.predictive import make_predictor

# (function name, StaticConfig) -> number of times JAX traced it. Diagnostics only.
TRACE_COUNTS: collections.Counter = collections.Counter()
# `init` runs once per run, so its compile time is all that counts: without LLVM's optimisations
# it compiles in half the time and runs in under 1 ms (docs/BENCHMARKS.md).
ONE_OFF_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}
data_bucket = cost.data_bucket


@dataclasses.dataclass(frozen=True)
class StaticConfig:
    """The part of a configuration that is compiled in."""

    hidden: tuple[int, ...] = (32, 32)
    activation: str = "tanh"
    method: str = "vi"
    num_samples: int = 8
    steps_per_chunk: int = 50
    data_bucket: int = 512
    # The method's own compiled-in settings: (TrainConfig field, value) pairs of its spec's
    # `settings`, e.g. (("dropout_rate", 0.1),). Other methods' settings are left out, so
    # changing, say, the dropout rate never builds another VI engine.
    method_options: tuple[tuple[str, Any], ...] = ()
    likelihood: str = "bernoulli"
    # D inputs per point and K classes (the dataset's `DataShape`): 2 and 2 for the toy sets,
    # 64 and 10 for 8×8 digits. Binary data has one output (a Bernoulli logit).
    num_inputs: int = 2
    num_classes: int = 2

    @classmethod
    def from_config(cls, cfg: TrainConfig, num_train: int) -> StaticConfig:
        spec = registry.method(cfg.method)
        # A method whose step draws no samples is built with 1: the slider never recompiles it.
        num_samples = cfg.num_samples if spec.uses_samples else 1
        shape = registry.data_shape(cfg.dataset, cfg.num_classes)
        return cls(cfg.hidden, cfg.activation, cfg.method, num_samples, cfg.steps_per_chunk,
                   data_bucket(num_train), cfg.method_values(), shape.likelihood,
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
    sample_probs: Callable[..., np.ndarray]
    # (rng_key, state, num_samples static) -> theta float32[S, d]
    sample_params: Callable[..., jax.Array]
    # (rng_key, state, x float32[n, D], num_samples) -> float32[4, n] numpy: mean probability,
    # total, aleatoric and epistemic uncertainty (nats); categorical: float32[K + 3, n], the K
    # mean class probabilities first
    predictive_summary: Callable[..., np.ndarray]
    # One live frame in one compiled call (`training.predictive`): (map_key, boundary_key,
    # state, grid float32[C, chunk, D], boundary grid float32[ny, nx, D], num_samples,
    # num_boundary static) -> (summary, candidate segments uint16[m, 4], used bool[m])
    frame: Callable[..., tuple[jax.Array, jax.Array, jax.Array]]
    # (state, batch, hyper) -> TrainState: the method's post-training fit (`Algorithm.fit`,
    # e.g. Laplace around the MAP network), or None when the method has none
    fit_posterior: Callable[..., TrainState] | None = None
    # (state, trained part) -> TrainState: start from a network trained by a method whose state
    # is this one's trained part (`Algorithm.split`: MAP -> Laplace)
    adopt: Callable[..., TrainState] | None = None


def make_problem(static: StaticConfig) -> Problem:
    """What the method builds on: the network, the likelihood and its compiled-in settings."""
    model = models.make_mlp(static.hidden, static.activation, static.num_inputs,
                            static.num_outputs)
    # Shapes only: building an engine runs no computation.
    return Problem(model=model, flat=models.make_flat_mlp(model),
                   log_likelihood=registry.LIKELIHOODS[static.likelihood].log_likelihood,
                   num_samples=static.num_samples, options=static.options,
                   optimizer=direction_transform())


def make_engine(static: StaticConfig) -> Engine:
    """Build (trace lazily, compile on first call) the engine for `static`."""
    problem = make_problem(static)
    algorithm = registry.method(static.method).build(problem)

    def count(name: str) -> None:
        TRACE_COUNTS[(name, static)] += 1

    init = make_init(algorithm, count)
    run_chunk = make_run_chunk(algorithm, static.steps_per_chunk, count)
    predictor = make_predictor(problem, algorithm, registry.LIKELIHOODS[static.likelihood].link,
                               static.num_draws, static.categorical, count)
    hot = runtime.compiler_options()  # see `runtime.CPU_COMPILER_OPTIONS`

    def fit_posterior(state: TrainState, batch: Batch, hyper: Hyper) -> TrainState:
        count("fit_posterior")
        return state._replace(method_state=algorithm.fit(state.method_state, batch, hyper))

    def adopt(state: TrainState, trained: Any) -> TrainState:
        _, rest = algorithm.split(state.method_state)
        return state._replace(method_state=algorithm.join(rest, trained, jnp.bool_(True)))

    return Engine(
        static=static,
        num_params=problem.num_params,
        logits_fn=problem.flat.logits_fn,
        init=jax.jit(init, compiler_options=ONE_OFF_COMPILER_OPTIONS),
        run_chunk=jax.jit(run_chunk, compiler_options=hot),
        init_batched=jax.jit(jax.vmap(init), compiler_options=ONE_OFF_COMPILER_OPTIONS),
        run_chunk_batched=jax.jit(make_run_chunk_batched(run_chunk, static.steps_per_chunk),
                                  compiler_options=hot),
        sample_probs=predictor.sample_probs,
        sample_params=predictor.sample_params,
        predictive_summary=predictor.predictive_summary,
        frame=predictor.frame,
        fit_posterior=None if algorithm.fit is None else jax.jit(fit_posterior),
        adopt=jax.jit(adopt),
    )


# What an engine holds in host memory (`engine_bytes`), from the RSS given back when engines
# were dropped (2-core CPU machine): 1.1 to 4.4 MB per compiled executable over VI, MAP, dropout,
# ensemble, HMC and Laplace with 1 to 4 hidden layers (about 8× its serialized size: machine
# code, HLO, buffer assignment, JAX's traces and lowerings), ~0.3 MB more per hidden layer, the
# same at width 8 and 128. These constants sit near the top of that range; after 30 architectures
# through live runs the estimate of the engines held (242 MB two-layer, 249 MB three-layer)
# matched what dropping them gave back (250 and 248 MB). A built engine not yet compiled: ~120 KB.
EXECUTABLE_BYTES = 3 * 2**20
EXECUTABLE_BYTES_PER_LAYER = 2**20 // 2
ENGINE_BASE_BYTES = 128 * 2**10


def jitted_functions(eng: Engine) -> tuple[Callable, ...]:
    """The `jax.jit` wrappers `eng` owns, each once: its jitted fields and those its Python
    wrappers call (`training.predictive`'s `sample_probs` and `predictive_summary` call jits of
    their own, reached through their closures). Their caches hold the engine's executables, which
    go when the engine does: nothing else keeps them (JAX's caches are weak on the function)."""
    found: dict[int, Callable] = {}
    for value in eng:
        cells = getattr(value, "__closure__", None) or ()
        for candidate in (value, *(_cell_contents(cell) for cell in cells)):
            if callable(getattr(candidate, "_cache_size", None)):
                found.setdefault(id(candidate), candidate)
    return tuple(found.values())


def _cell_contents(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # a cell not yet filled
        return None


def compiled_executables(eng: Engine, jits: tuple[Callable, ...] | None = None) -> int:
    """How many executables `eng`'s jit wrappers hold (JAX's own count: one per compiled
    signature, e.g. each grid size a frame was drawn at)."""
    return sum(int(fn._cache_size()) for fn in (jitted_functions(eng) if jits is None else jits))


def engine_bytes(eng: Engine, jits: tuple[Callable, ...] | None = None) -> int:
    """The host memory `eng` is estimated to hold: `ENGINE_BASE_BYTES`, and per compiled
    executable `EXECUTABLE_BYTES` + `EXECUTABLE_BYTES_PER_LAYER` per hidden layer. Grows as the
    engine compiles (a chunk, frames at new sizes); 0.1 MB before anything has."""
    per_executable = EXECUTABLE_BYTES + EXECUTABLE_BYTES_PER_LAYER * len(eng.static.hidden)
    return ENGINE_BASE_BYTES + per_executable * compiled_executables(eng, jits)


class EngineCacheInfo(NamedTuple):
    """`compiled.cache_info()`: `functools.lru_cache`'s four fields (`maxsize` is None: the
    bound is on bytes, not count) and the bytes."""

    hits: int
    misses: int
    maxsize: int | None
    currsize: int  # engines held
    bytes: int  # their estimated bytes (`engine_bytes`), as of the last trim
    max_bytes: int
    evictions: int


class _Held(NamedTuple):
    engine: Engine
    jits: tuple[Callable, ...]  # `jitted_functions(engine)`, found once


class EngineCache:
    """Process-wide engines, one per `StaticConfig`, shared by every session (jitted functions
    are thread-safe and hold no per-user state), least recently used evicted first once their
    estimated bytes (`estimate`, by default `engine_bytes`) pass `max_bytes`.

    Call it as a function: `compiled(static) -> Engine`. Each request, and each `touch` (a chunk
    ran), re-estimates the engines (they grow as they compile) and evicts; the engine just used
    is never evicted, so one engine over the budget is still served, alone. An evicted engine
    frees its executables once nothing else uses it (a run still training on it keeps it whole,
    compiled, and taken back by `touch` when it trains on); asked for again once gone, it is
    built afresh and compiles again, and `live.compile_cache` reports it as not compiled."""

    def __init__(self, max_bytes: int, build: Callable[[StaticConfig], Engine] | None = None,
                 estimate: Callable[[Engine, tuple[Callable, ...]], int] = engine_bytes) -> None:
        self.max_bytes = int(max_bytes)
        self._build = make_engine if build is None else build
        self._estimate = estimate
        self._held: collections.OrderedDict[StaticConfig, _Held] = collections.OrderedDict()
        self._built: weakref.WeakSet[Callable] = weakref.WeakSet()  # run_chunk of each it built
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = self._bytes = 0

    def __call__(self, static: StaticConfig) -> Engine:
        """The engine for `static`, built (not compiled) on first request."""
        with self._lock:
            held = self._held.get(static)
            if held is None:
                self._misses += 1
                eng = self._build(static)
                self._held[static] = _Held(eng, jitted_functions(eng))
                self._built.add(eng.run_chunk)
            else:
                self._hits += 1
                eng = held.engine
                self._held.move_to_end(static)
            evicted = self._trim()
        if evicted:
            runtime.release_memory()
        return eng

    def __contains__(self, static: object) -> bool:
        return static in self._held

    def __len__(self) -> int:
        return len(self._held)

    def holds(self, eng: Engine) -> bool:
        """Whether `eng` itself (not merely an engine of the same static config) is held."""
        held = self._held.get(eng.static)
        return held is not None and held.engine is eng

    def touch(self, eng: Engine) -> None:
        """`eng` was just used (a chunk ran): it becomes the most recently used, taken back if
        this cache built it and evicted it while a run trained on it (and built no other engine
        of its configuration since), so later requests share it rather than compile another;
        then evict for whatever it compiled meanwhile."""
        with self._lock:
            if self.holds(eng):
                self._held.move_to_end(eng.static)
            elif eng.static not in self._held and eng.run_chunk in self._built:
                self._held[eng.static] = _Held(eng, jitted_functions(eng))
            evicted = self._trim()
        if evicted:
            runtime.release_memory()

    def trim(self) -> int:
        """Re-estimate the engines and evict down to `max_bytes`; returns how many went."""
        with self._lock:
            evicted = self._trim()
        if evicted:
            runtime.release_memory()
        return evicted

    def _trim(self) -> int:
        sizes = {static: int(self._estimate(*held)) for static, held in self._held.items()}
        total = sum(sizes.values())
        evicted = 0
        while total > self.max_bytes and len(self._held) > 1:
            static, _ = self._held.popitem(last=False)
            total -= sizes[static]
            evicted += 1
        self._bytes = total
        self._evictions += evicted
        return evicted

    def cache_info(self) -> EngineCacheInfo:
        with self._lock:
            return EngineCacheInfo(self._hits, self._misses, None, len(self._held), self._bytes,
                                   self.max_bytes, self._evictions)

    def cache_clear(self) -> None:
        """Drop every engine and the statistics (as `functools.lru_cache`)."""
        with self._lock:
            self._held.clear()
            self._hits = self._misses = self._evictions = self._bytes = 0
        runtime.release_memory()


compiled = EngineCache(limits.MAX_ENGINE_CACHE_BYTES)


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

    The cost budget is applied first (`cost.check_cost`): settings over it raise `ConfigError`
    naming the setting to lower before anything compiles, and a chunk too long for
    `limits.MAX_CHUNK_SECONDS` is shortened (`engine.static.steps_per_chunk` says by how
    much)."""
    cfg, _ = cost.check_cost(cfg, len(x_train))
    engine = compiled(StaticConfig.from_config(cfg, len(x_train)))
    batch = make_batch(x_train, y_train, engine.static.data_bucket)
    state = engine.init(jax.random.key(cfg.seed), jnp.float32(cfg.init_std))
    return RunStart(engine, batch, make_hyper(cfg), state)


def fit(cfg: TrainConfig, x_train: np.ndarray, y_train: np.ndarray,
        steps: int | None = None) -> RunResult:
    """Train from scratch for `steps` (default `cfg.steps`) steps; the history is exact in
    length even when `steps` is not a multiple of the chunk length. A method with a
    post-training fit (Laplace) fits once the steps are done."""
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
    if engine.fit_posterior is not None:
        state = engine.fit_posterior(state, batch, hyper)
    history = History(*np.concatenate(parts, axis=1)) if parts else History(
        *np.zeros((3, 0), np.float32))
    steady = float(np.median(times[1:])) if len(times) > 1 else 0.0
    return RunResult(engine, state, history, max(times[0] - steady, 0.0) if times else 0.0,
                     float(sum(times[1:])))
