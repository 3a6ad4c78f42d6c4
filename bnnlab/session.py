"""A learner's live training session, free of any UI.

* `Run`: a resumable run (engine, data, traced hyperparameters) and the one chunk loop. Each
  chunk publishes one immutable `Snapshot` (state, step, diverged, the chunk's diagnostics) in a
  single assignment, so a reader that takes `run.snapshot` once sees one consistent state.
  Chunks are sized by time: the next chunk asks for as many steps as fitted in
  `config.CHUNK_SECONDS` (`num_steps` ≤ steps per redraw is a traced argument of the compiled
  chunk: no recompile, and a chunk of n steps costs n steps).
* `Trainer`: trains a target (a `Run`, or several: `compare.Comparison`) on a background thread,
  each chunk inside a slot of the server-wide pool `scheduler.ACCELERATOR`, waiting for a slot
  keeping its place in the slots' first-come queue and saying so (`waiting`).
* `Session`: what the playground page binds to: `apply(cfg)`, `click(x, y, mode)`,
  `tick(view) -> (payload, status)` and the buttons (`train`, `pause`, `step`, `reset`, …).
  It owns the config, the data, the run, the trainer and an explicit `Status`.

Compiled functions come from the process-wide `train.compiled` cache; the first chunk of an
architecture compiles inside a slot, once per process (`ensure_compiled`).
"""

from __future__ import annotations

import collections
import enum
import itertools
import logging
import math
import threading
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bnnlab import (
    config,
    datasets,
    playground,
    predict,
    registry,
    runtime,
    scheduler,
    train,
    weights,
    wire,
)
from bnnlab.config import ConfigError, TrainConfig
from bnnlab.figures import palette

LIVE_SAMPLES = 32  # posterior draws for the live maps (metrics: `predict.EVAL_SAMPLES`)
PROBE_SAMPLES = 64
WEIGHT_SAMPLES = 64  # draws behind the weight view of a sampling method (HMC, an ensemble)
NUM_BOUNDARY_SAMPLES = 10
BOUNDARY_GRID = 40
HISTORY_POINTS = 400  # the objective chart gets at most this many points
REFRESH_S = 0.4  # metrics and history refresh while training (`Session.refresh_s`)
# Map clicks carry an id (the browser's) when they may arrive twice, over the push route and
# through the page; the session remembers the ids of the last ones it applied (`Session.click`).
MAX_CLICK_IDS = 64
MAX_CLICK_ID_CHARS = 32
UNCERTAINTY_KINDS = tuple(registry.UNCERTAINTY_KINDS)
UNCERTAINTY_LABELS = dict(registry.UNCERTAINTY_KINDS)

_SERIALS = itertools.count(1)  # unique names for runs, data and frames (ids get reused)


class Status(enum.StrEnum):
    IDLE = "idle"  # nothing trained yet
    COMPILING = "compiling"  # the first chunk of this architecture is being compiled
    WAITING = "waiting"  # wants to train, every accelerator slot is busy
    TRAINING = "training"
    PAUSED = "paused"
    FINISHED = "finished"  # reached the step budget
    DIVERGED = "diverged"  # a step produced NaN/inf; the last finite state is kept
    ERROR = "error"  # training stopped on an error (e.g. out of memory); `Session.error` says


class Snapshot(NamedTuple):
    """What one chunk left behind, published atomically (never mutated)."""

    state: train.TrainState
    step: int  # steps taken (Python int: reading a device array per access costs a transfer)
    diverged: bool
    info: np.ndarray  # float32[3, taken]: the last chunk's elbo, expected log-lik., KL
    serial: int  # unique per snapshot


_LOG = logging.getLogger(__name__)


def friendly_error(err: BaseException) -> str:
    """A message for the page: what happened and what to do, without internals (the
    traceback of an unexpected error goes to the server's log)."""
    if not isinstance(err, (scheduler.SlotTimeout, ConfigError)):
        _LOG.error("bnnlab: %s", type(err).__name__, exc_info=err)
    text = str(err)
    if "RESOURCE_EXHAUSTED" in text or isinstance(err, MemoryError) or "Out of memory" in text:
        return ("The server ran out of memory for these settings. Lower the hidden widths, "
                "the MC samples, the number of points or the steps per redraw, then press "
                "Reset.")
    if isinstance(err, (scheduler.SlotTimeout, ConfigError)):
        return str(err)
    first = text.splitlines()[0] if text else ""
    return f"{type(err).__name__}: {first[:200]}"


# One lock per static configuration: two sessions asking for a new architecture at once
# compile it once, not twice in parallel.
_COMPILE_LOCKS: collections.defaultdict[Any, threading.Lock] = collections.defaultdict(
    threading.Lock)
_COMPILE_LOCKS_GUARD = threading.Lock()


_COMPILED: set[Any] = set()  # static configs whose chunk has finished compiling here
_FITS_COMPILED: set[Any] = set()  # static configs whose post-training fit has compiled


def is_compiled(engine: train.Engine) -> bool:
    """Whether `engine`'s chunk has run (so compiled) in this process."""
    return engine.static in _COMPILED


class CompileBusy(Exception):
    """Another thread is compiling this engine right now."""


def ensure_compiled(engine: train.Engine, state: train.TrainState, batch: train.Batch,
                    hyper: train.Hyper, slots: scheduler.Slots, timeout: float) -> None:
    """Compile `engine`'s chunk unless it is compiled: once per process, inside a slot of
    `slots`. One attempt: raises `CompileBusy` when another thread compiles it for more than
    `timeout` s, `scheduler.SlotTimeout` when no slot came within `timeout` s."""
    if is_compiled(engine):
        return
    with _COMPILE_LOCKS_GUARD:
        lock = _COMPILE_LOCKS[engine.static]
    if not lock.acquire(timeout=timeout):
        raise CompileBusy
    try:
        if is_compiled(engine):
            return
        with slots.hold(timeout):
            # 0 steps: compiles the chunk and leaves the state unchanged.
            jax.block_until_ready(engine.run_chunk(state, batch, hyper, jnp.int32(0)))
        _COMPILED.add(engine.static)
    finally:
        lock.release()


class Run:
    """A resumable run: the engine, the data, the hyperparameters and the published snapshot.

    `data` is anything with `x_train`, `y_train`, `x_test`, `y_test` (float32[n, 2] / int32[n]).
    Chunks run under `lock`, which also guards swapping data, engine or hyperparameters, so a
    trainer thread and the page never interleave halfway.
    """

    def __init__(self, cfg: TrainConfig, data: Any,
                 chunk_seconds: float = config.CHUNK_SECONDS) -> None:
        # The cost budget first (`config.check_cost`): over it raises ConfigError naming the
        # setting to lower; a chunk too long is shortened, and `notices` says so.
        cfg, self.notices = config.check_cost(cfg, len(data.x_train))
        self.cfg = cfg
        self.serial = next(_SERIALS)
        self._data = (next(_SERIALS), data)
        self.engine, self.batch, self.hyper, state = train.start_run(cfg, data.x_train,
                                                                     data.y_train)
        self.snapshot = Snapshot(state, 0, False, np.zeros((3, 0), np.float32), next(_SERIALS))
        self.display_key = jax.random.key(cfg.seed + 1)
        self._boundary_key = jax.random.fold_in(self.display_key, 7)  # once, not per frame
        self.chunk_seconds = chunk_seconds
        # Until a chunk has been timed, the cost model's steps per `MAX_CHUNK_SECONDS`.
        self.next_steps = min(self.engine.static.steps_per_chunk,
                              config.max_steps_per_chunk_for(cfg, len(data.x_train)))
        self.chunk_log: list[tuple[int, float]] = []  # (steps, seconds) per chunk
        self.lock = threading.RLock()
        self.retired = False  # replaced by a new run: background work for it stops
        self._history: list[np.ndarray] = []  # float32[3, taken] per chunk
        self._advanced = threading.Condition()
        self._caches: dict[str, tuple[tuple, Any]] = {}
        self.fit_seconds: float | None = None  # the last post-training fit's wall time
        self.fit_compiled_first = False  # whether that fit included compiling it

    # ---------------------------------------------------------------- reading one snapshot
    @property
    def data(self):
        return self._data[1]

    @property
    def data_version(self) -> int:
        return self._data[0]

    @property
    def state(self) -> train.TrainState:
        return self.snapshot.state

    @property
    def step(self) -> int:
        return self.snapshot.step

    @property
    def diverged(self) -> bool:
        return self.snapshot.diverged

    @property
    def finished(self) -> bool:
        snap = self.snapshot
        return snap.step >= self.cfg.steps or snap.diverged

    @property
    def compiled(self) -> bool:
        return is_compiled(self.engine)

    @property
    def train_seconds(self) -> float:
        """Time spent in chunks (the compiling one included)."""
        return float(sum(s for _, s in self.chunk_log))

    @property
    def expected_chunk_s(self) -> float | None:
        """The modelled time of the next chunk (`config.chunk_cost`), None before it compiled:
        a light run's chunks take the slots' short lane (`scheduler.SHORT_WORK_S`)."""
        if not self.compiled:
            return None
        cfg = self.cfg
        key = (cfg, len(self.data.x_train))
        if getattr(self, "_step_cost", (None,))[0] != key:
            self._step_cost = (key, config.chunk_cost(cfg, key[1], steps_per_chunk=1)
                               .step_seconds)
        todo = min(self.next_steps, self.engine.static.steps_per_chunk)
        return todo * self._step_cost[1]

    @property
    def last_chunk_steps_per_s(self) -> float:
        if not self.chunk_log:
            return 0.0
        steps, seconds = self.chunk_log[-1]
        return steps / seconds if seconds > 0 else 0.0

    # ---------------------------------------------------------------- the one chunk loop
    def ensure_compiled(self, slots: scheduler.Slots = scheduler.ACCELERATOR,
                        timeout: float = config.COMPILE_WAIT_S) -> None:
        """One attempt at `ensure_compiled` for this run's engine (see there)."""
        with self.lock:
            args = (self.engine, self.snapshot.state, self.batch, self.hyper)
        ensure_compiled(*args, slots=slots, timeout=timeout)

    def advance(self, max_steps: int | None = None) -> int:
        """Run one chunk and publish its snapshot; returns the steps taken (0 when finished or
        diverged). The chunk takes as many steps as fitted in `chunk_seconds` last time, never
        more than `max_steps`, `steps_per_chunk` or what is left of `cfg.steps`."""
        with self.lock:
            snap = self.snapshot
            limit = self.engine.static.steps_per_chunk
            todo = min(self.next_steps, limit, self.cfg.steps - snap.step,
                       limit if max_steps is None else max_steps)
            if todo <= 0 or snap.diverged:
                return 0
            warm = self.compiled
            chunk = train.advance(self.engine, snap.state, self.batch, self.hyper, todo)
            _COMPILED.add(self.engine.static)
            taken = chunk.taken
            trace = chunk.trace.astype(np.float32)
            self._history.append(trace)
            self.chunk_log.append((taken, chunk.seconds))
            self.snapshot = Snapshot(chunk.state, chunk.step, chunk.diverged, trace,
                                     next(_SERIALS))
            if warm:  # a compiling chunk says nothing about the rate
                self._size_next_chunk(todo, chunk.seconds, limit)
            if chunk.step >= self.cfg.steps and not chunk.diverged:
                self.fit_posterior()  # the end of a run: the method's fit, as the CLI does
        with self._advanced:
            self._advanced.notify_all()
        return taken

    # ---------------------------------------------------------------- the method's own parts
    @property
    def spec(self) -> registry.MethodSpec:
        return registry.method(self.cfg.method)

    @property
    def can_fit(self) -> bool:
        """Whether the method has a post-training fit (`Algorithm.fit`, e.g. Laplace)."""
        return self.engine.fit_posterior is not None

    def fit_posterior(self) -> float | None:
        """Run the method's post-training fit on the current parameters and publish it as a new
        snapshot of the same step; returns its seconds (None: the method has no fit). Training
        on afterwards clears the fit (the network moved) until the next one."""
        if not self.can_fit:
            return None
        with self.lock:
            snap = self.snapshot
            self.fit_compiled_first = self.engine.static not in _FITS_COMPILED
            start = time.perf_counter()
            state = jax.block_until_ready(self.engine.fit_posterior(snap.state, self.batch,
                                                                    self.hyper))
            self.fit_seconds = time.perf_counter() - start
            _FITS_COMPILED.add(self.engine.static)
            self.snapshot = Snapshot(state, snap.step, snap.diverged, snap.info, next(_SERIALS))
        with self._advanced:
            self._advanced.notify_all()
        return self.fit_seconds

    def compile_fit(self) -> None:
        """Compile the post-training fit (on the initial parameters, result discarded) so that
        "Make this network Bayesian" does not wait for XLA."""
        if self.can_fit:
            with self.lock:
                args = (self.snapshot.state, self.batch, self.hyper)
            jax.block_until_ready(self.engine.fit_posterior(*args))
            _FITS_COMPILED.add(self.engine.static)

    def fit_details(self, snap: Snapshot | None = None) -> dict | None:
        """The method's account of its fit (`MethodSpec.fit_details`: Laplace's evidence curve
        over prior σ), or None for a method without one."""
        snap = snap or self.snapshot
        details = self.spec.fit_details
        if details is None:
            return None
        return self._cached("fit_details", (snap.serial,),
                            lambda: details(snap.state.method_state))

    def method_report(self, snap: Snapshot | None = None) -> dict:
        """The method's own diagnostics (`MethodSpec.report`, the CLI's extra fields: HMC's
        acceptance rate, divergences, draws kept), cached per snapshot."""
        snap = snap or self.snapshot
        return self._cached("report", (snap.serial,),
                            lambda: self.spec.report(self.cfg, snap.state))

    def weight_summary(self, snap: Snapshot | None = None) -> weights.WeightSummary:
        """The weight posterior against the prior N(0, prior σ²) (`bnnlab.weights`): from the
        method's closed-form marginals (VI, Laplace, MAP: σ = 0) or, for sampling methods,
        from `WEIGHT_SAMPLES` of its draws (HMC's kept draws, an ensemble's members)."""
        snap = snap or self.snapshot
        static = self.engine.static
        layer = weights.layer_index(static.hidden, static.num_inputs, static.num_outputs)
        # against the prior the posterior was built with: Laplace's is tuned by its evidence
        details = self.fit_details(snap)
        prior_std = (details["best_prior_std"] if details and details.get("fitted")
                     else self.cfg.prior_std)
        marginals = self.spec.weight_marginals

        def compute():
            if marginals is not None:
                mean, std = marginals(snap.state.method_state)
                return weights.from_gaussian(mean, std, prior_std, layer=layer)
            draws = np.asarray(self.engine.sample_params(
                jax.random.fold_in(self.display_key, 11), snap.state,
                static.num_draws(WEIGHT_SAMPLES)))
            return weights.from_samples(draws, prior_std, layer=layer)

        return self._cached("weights", (snap.serial, prior_std), compute)

    def _size_next_chunk(self, steps: int, seconds: float, limit: int) -> None:
        """Ask the next chunk for the steps that fit in `chunk_seconds` at the rate just
        measured, in [1, limit]: a chunk of n steps costs n steps (`engine.run_chunk` loops
        `num_steps` times), so a slow step gives short chunks and Pause acts within about
        `chunk_seconds`."""
        rate = steps / seconds if seconds > 0 else float("inf")
        self.next_steps = int(np.clip(np.floor(rate * self.chunk_seconds), 1, limit))

    def wait_for_step_after(self, step: int, timeout: float) -> bool:
        """Block (without the GIL) until the run is past `step` or `timeout` s passed."""
        with self._advanced:
            return self._advanced.wait_for(lambda: self.snapshot.step != step, timeout)

    # ---------------------------------------------------------------- live changes
    def _budgeted(self, cfg: TrainConfig, num_points: int) -> tuple[TrainConfig, train.Engine]:
        """`cfg` within the cost budget for `num_points` (`config.check_cost`: ConfigError
        when over it, `steps_per_chunk` shortened with a notice in `notices`) and its engine."""
        cfg, self.notices = config.check_cost(cfg, num_points)
        return cfg, train.compiled(train.StaticConfig.from_config(cfg, num_points))

    def update_hyper(self, cfg: TrainConfig) -> None:
        """Take new lr / β / prior σ, steps and steps per redraw without resetting (never
        recompiles for lr / β / σ; a new steps per redraw selects another engine). Settings
        over the cost budget raise ConfigError and change nothing."""
        with self.lock:
            new = self.cfg.replace(lr=cfg.lr, kl_weight=cfg.kl_weight, prior_std=cfg.prior_std,
                                   steps=cfg.steps, steps_per_chunk=cfg.steps_per_chunk,
                                   grid_size=cfg.grid_size)
            new, engine = self._budgeted(new, len(self.data.x_train))
            self.cfg = new
            self.hyper = train.make_hyper(new)
            if engine is not self.engine:
                self.engine = engine
                self.next_steps = min(self.next_steps, engine.static.steps_per_chunk) or 1

    def set_data(self, data: Any) -> None:
        """Swap the training data (e.g. a clicked point), keeping the parameters: the state's
        shapes do not depend on the data; a new bucket size selects another engine. Data that
        put the run over the cost budget raise ConfigError and change nothing."""
        with self.lock:
            cfg, engine = self._budgeted(self.cfg, len(data.x_train))
            self.batch = train.make_batch(data.x_train, data.y_train, engine.static.data_bucket)
            self.cfg = cfg
            self.engine = engine
            self.next_steps = min(self.next_steps, engine.static.steps_per_chunk) or 1
            self._data = (next(_SERIALS), data)

    # ---------------------------------------------------------------- what readers compute
    def history_arrays(self, snap: Snapshot | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(elbo, expected_log_likelihood, kl): float32[step] each, up to `snap`."""
        snap = snap or self.snapshot
        chunks = list(self._history)
        if not chunks:
            empty = np.zeros(0, np.float32)
            return empty, empty, empty
        stacked = np.concatenate(chunks, axis=1)[:, :snap.step]
        return stacked[0], stacked[1], stacked[2]

    @property
    def num_classes(self) -> int:
        """K: 2 for binary data (the Bernoulli path), else the categorical engine's K."""
        return self.engine.static.num_classes

    def sample_probs(self, points: np.ndarray, num_samples: int, key: jax.Array | None = None,
                     snap: Snapshot | None = None) -> np.ndarray:
        """Sample-wise P(y=1): float32[S, n] (S = 1 for MAP); K classes: float32[S, n, K]."""
        snap = snap or self.snapshot
        key = self.display_key if key is None else key
        return np.asarray(self.engine.sample_probs(key, snap.state,
                                                   jnp.asarray(points, jnp.float32),
                                                   num_samples=num_samples))

    def summary(self, points: np.ndarray, num_samples: int = LIVE_SAMPLES,
                snap: Snapshot | None = None) -> predict.Predictive:
        """Mean probability and the three uncertainties at `points`, computed on device
        (K classes: `mean` is the predicted class's probability; `class_summary` has all)."""
        return self.class_summary(points, num_samples, snap)[0]

    def class_summary(self, points: np.ndarray, num_samples: int = LIVE_SAMPLES,
                      snap: Snapshot | None = None
                      ) -> tuple[predict.Predictive, np.ndarray | None]:
        """`summary` and, for K > 2 classes, the mean class probabilities float32[K, n]
        (None for binary data): `predict.summary_parts`."""
        snap = snap or self.snapshot
        out = np.asarray(self.engine.predictive_summary(
            self.display_key, snap.state, jnp.asarray(points, jnp.float32),
            num_samples=num_samples))
        return predict.summary_parts(out, self.num_classes)

    def _cached(self, name: str, key: tuple, compute):
        hit = self._caches.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = compute()
        self._caches[name] = (key, value)
        return value

    def share_far_points(self, far_points: np.ndarray) -> None:
        """Use `far_points` (`predict.far_probe_points` of this run's data) for the metrics
        until the data change, instead of computing them again (Compare: one set for all)."""
        self._caches["far"] = ((self.data_version,), far_points)

    def metrics(self, snap: Snapshot | None = None) -> dict[str, float]:
        """`predict.evaluate` of one snapshot (the CLI's metrics: train/test accuracy, test NLL,
        ECE, mean predictive entropy near (test points) and far (`predict.far_probe_points`)),
        plus `step`, which says which; cached per snapshot and data."""
        snap = snap or self.snapshot
        version, data = self._data

        def compute():
            far = self._cached("far", (version,),
                               lambda: predict.far_probe_points(data.x_train))
            metrics = predict.evaluate(self.engine, snap.state, data, self.display_key,
                                       far_points=far)
            return {"step": snap.step, **metrics._asdict()}

        return dict(self._cached("metrics", (snap.serial, version), compute))

    def probe(self, x: float, y: float, num_samples: int = PROBE_SAMPLES) -> np.ndarray:
        """P(y=1 | point) under each of `num_samples` posterior draws: float32[S] (K classes:
        every class's probability, float32[S, K])."""
        snap = self.snapshot
        key = jax.random.fold_in(self.display_key, snap.step)
        return self.sample_probs(np.array([[x, y]], np.float32), num_samples, key, snap)[:, 0]

    def frame(self, grid_size: int, zoom: float, kind: str,
              snap: Snapshot | None = None) -> dict:
        """Everything the live chart draws for one snapshot, JSON-ready (`bnnlab.wire`);
        `frame_id` names its contents. Asked again with nothing changed it returns a copy of
        the previous frame without computing."""
        if kind not in UNCERTAINTY_KINDS:
            raise ValueError(f"kind must be one of {UNCERTAINTY_KINDS}")
        snap = snap or self.snapshot
        grid_size = int(np.clip(grid_size, config.MIN_GRID, config.MAX_GRID))
        version, data = self._data
        key = (grid_size, float(zoom), kind, snap.serial, version, self.cfg.method)

        def compute():
            payload = self._compute_frame(grid_size, zoom, kind, snap, version, data)
            payload["frame_id"] = f"{self.serial}-{next(_SERIALS)}"
            return payload

        return dict(self._cached("frame", key, compute))

    def history_payload(self, snap: Snapshot | None = None) -> dict:
        """The objective chart: at most HISTORY_POINTS steps of ELBO, expected log-likelihood
        and −β·KL (`wire.encode_floats`), in nats per training point (divided by
        `num_train`, the training points now): the sums grow with the data and their first
        steps (thousands of nats) would flatten every later change."""
        snap = snap or self.snapshot
        elbo, ell, kl = self.history_arrays(snap)
        num_train = max(1, len(self.data.x_train))
        idx, elbo_ds = wire.downsample(elbo, HISTORY_POINTS)
        return {
            "step": wire.encode_floats(idx + 1),
            "elbo": wire.encode_floats(elbo_ds / num_train),
            "ell": wire.encode_floats(ell[idx] / num_train),
            "neg_kl": wire.encode_floats(-self.cfg.kl_weight * kl[idx] / num_train),
            "per_point": num_train,
            "method": self.cfg.method,
            # what the three lines are for this method (`MethodSpec.trace_labels`)
            "trace_labels": list(registry.method(self.cfg.method).trace_labels),
            "method_label": registry.method_label(self.cfg.method),
            "last_step": snap.step,
        }

    def _frame_grids(self, grid_size: int, zoom: float, version: int, data: Any) -> tuple:
        """The map's grid (xs, ys, its points float32[C, chunk, 2] on device: C chunks of at most
        `PREDICT_CHUNK` points, the last padded), the boundaries' grid (bx, by, its points
        float32[ny, nx, 2] on device) and the train / test points' payloads, for this data and
        view: made once per data version, grid size and zoom, not every frame."""
        def compute():
            every = np.concatenate([data.x_train, data.x_test])
            xs, ys, grid = predict.make_grid(every, grid_size, margin=0.5, zoom=zoom)
            # chunks of at most PREDICT_CHUNK points, as even as can be (1,600 points: 4 × 400,
            # not 4 × 512 with a fifth of them padding)
            chunks = math.ceil(len(grid) / train.PREDICT_CHUNK)
            chunk = 8 * math.ceil(len(grid) / chunks / 8)
            padded = np.zeros((chunks * chunk, 2), np.float32)
            padded[:len(grid)] = grid
            bx, by, bgrid = predict.make_grid(every, BOUNDARY_GRID, margin=0.5, zoom=zoom)
            return (xs, ys, jnp.asarray(padded.reshape(-1, chunk, 2)), bx, by,
                    jnp.asarray(bgrid.reshape(len(by), len(bx), 2)),
                    wire.points_payload(data.x_train, data.y_train),
                    wire.points_payload(data.x_test, data.y_test))

        return self._cached("grids", (grid_size, float(zoom), version), compute)

    def _compute_frame(self, grid_size: int, zoom: float, kind: str, snap: Snapshot,
                       version: int, data: Any) -> dict:
        xs, ys, grid, bx, by, bgrid, train_points, test_points = self._frame_grids(
            grid_size, zoom, version, data)
        boundary_draws = self.engine.static.num_draws(NUM_BOUNDARY_SAMPLES)  # MAP: one
        num_classes = self.num_classes
        # One compiled call: the predictive, its uncertainty split and the boundary segments.
        summary, quads, used = self.engine.frame(
            self.display_key, self._boundary_key, snap.state, grid, bgrid,
            num_samples=LIVE_SAMPLES, num_boundary=boundary_draws)
        shape = (len(ys), len(xs))
        pred, class_probs = predict.summary_parts(np.asarray(summary)[:, :len(xs) * len(ys)],
                                                  num_classes)
        # Total and aleatoric entropies reach ln K; one scale for all three kinds.
        vmax = float(np.log(num_classes))
        return {
            "grid": wire.grid_header(xs, ys),
            **class_map_payload(pred, class_probs, shape),
            "classes": palette.class_legend(num_classes),
            "num_classes": num_classes,
            "uncertainty": wire.encode_grid(getattr(pred, kind).reshape(shape), vmax),
            "uncertainty_kind": kind,
            "uncertainty_max": vmax,
            "boundaries": wire.quantised_segments(
                np.asarray(quads)[np.asarray(used)],
                (float(bx[0]), float(bx[-1]), float(by[0]), float(by[-1]))),
            "data_version": version,
            "train": train_points,
            "test": test_points,
            "step": snap.step,
        }


def class_map_payload(pred: predict.Predictive, class_probs: np.ndarray | None,
                      shape: tuple[int, int]) -> dict:
    """The mean-prediction map's fields. Binary: `mean`, P(y=1) as a uint8 grid over [0, 1].
    K classes: `mean`, the predicted class's probability max_k p̄_k over [0, 1], and
    `mean_class`, the predicted class per cell (one base64 byte each); the map colours a cell by
    its class with saturation (max_k p̄_k − 1/K)/(1 − 1/K), which for K = 2 is the binary
    map's |2 P(y=1) − 1|."""
    out = {"mean": wire.encode_grid(pred.mean.reshape(shape), 1.0)}
    if class_probs is not None:
        k = class_probs.shape[0]
        predicted = (k - 1 - np.argmax(class_probs[::-1], axis=0)).astype(np.uint8)
        out["mean_class"] = wire.encode_bytes(predicted.reshape(shape))
    return out


class Trainer:
    """Trains `target` on a background thread while its session only draws.

    `target` has `advance() -> int`, `finished` and `ensure_compiled(slots, timeout)`. Every
    chunk holds a slot of `slots`; without one after `wait_s` the trainer marks itself
    `waiting` and tries again. It stops on `stop()`, when the target is finished, after
    `max_steps` steps (the Step button), on an error (`error`, a message for the page), or when
    its session has not called `touch()` for `idle_timeout` s (the learner closed the tab).

    Each start gets its own stop event: a thread still inside a long chunk after `stop()`
    exits when the chunk ends, and a `start()` meanwhile starts a new thread at once (the run's
    lock lets its first chunk wait for the old one).
    """

    def __init__(self, target: Any, slots: scheduler.Slots | None = None,
                 idle_timeout: float = config.IDLE_TIMEOUT_S,
                 wait_s: float = config.SLOT_WAIT_S,
                 join_timeout: float = 2.0) -> None:
        self.target = target
        self.slots = slots or scheduler.ACCELERATOR
        self.idle_timeout = idle_timeout
        self.wait_s = wait_s
        self.join_timeout = join_timeout
        self.waiting = False
        self.compiling = False
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._last_seen = time.monotonic()
        # `start` is called from the page, the push route's commands and `Session.tick`:
        # two at once must not start two threads.
        self._start_lock = threading.Lock()

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stop.is_set()

    def touch(self) -> None:
        self._last_seen = time.monotonic()

    def _mark_waiting(self) -> None:
        self.waiting = True

    def start(self, max_steps: int | None = None) -> None:
        """Train (at most `max_steps` more steps when given); a no-op while running."""
        with self._start_lock:
            if self.running:
                return
            self.error = None
            self.touch()
            stop = threading.Event()
            thread = threading.Thread(target=self._loop, args=(stop, max_steps),
                                      name="bnnlab-trainer", daemon=True)
            thread.start()  # may raise (no thread to be had): then there is nothing to stop
            self._stop, self._thread = stop, thread

    def stop(self, wait: bool = True) -> None:
        """Stop after the current chunk; with `wait`, block until then (at most
        `join_timeout` s: a chunk is never interrupted)."""
        self._stop.set()
        thread = self._thread
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.join_timeout)

    def _loop(self, stop: threading.Event, max_steps: int | None) -> None:
        done = 0
        try:
            while not stop.is_set() and not self.target.finished:
                if time.monotonic() - self._last_seen > self.idle_timeout:
                    break
                if not self.target.compiled:
                    self.compiling = True
                    try:
                        self.target.ensure_compiled(self.slots, self.wait_s)
                        self.waiting = self.compiling = False
                    except scheduler.SlotTimeout:
                        self.waiting = True
                    except CompileBusy:  # another session compiles it: wait for that
                        self.waiting = False
                    continue
                if max_steps is not None and done >= max_steps:
                    break
                try:
                    # Keep a place in the queue until a slot comes, Pause or the idle timeout
                    # (re-queueing every wait_s went to the back each time and starved).
                    with self.slots.hold(self.idle_timeout, give_up=lambda: stop.is_set()
                                         or time.monotonic() - self._last_seen
                                         > self.idle_timeout,
                                         on_wait=self._mark_waiting,
                                         priority=done == 0,  # first chunk after Train
                                         account=id(self.target),  # fair share (push.py)
                                         cost_s=getattr(self.target, "expected_chunk_s",
                                                        None)):
                        self.waiting = False
                        if stop.is_set():  # Pause came while this chunk waited for its slot
                            break
                        left = None if max_steps is None else max_steps - done
                        done += self.target.advance(left)
                except scheduler.SlotTimeout:
                    self.waiting = True
                    continue
                stop.wait(0.001)  # let the session's renderer and other sessions in
        except Exception as err:  # noqa: BLE001 - shown in the page, never a traceback
            self.error = friendly_error(err)
        finally:
            self.waiting = False
            self.compiling = False
            stop.set()


class View(NamedTuple):
    """How the learner looks at the run (not part of the run)."""

    zoom: float = 1.0
    kind: str = "total"
    mode: str = "view"  # view | add0 … add{K−1} | probe


def add_modes(num_classes: int) -> tuple[str, ...]:
    """The click modes that add a point of each class: "add0" … "add{K−1}"."""
    return tuple(f"add{k}" for k in range(num_classes))


class Session:
    """One learner's playground: config, data (generated, uploaded, clicked points), the run,
    its trainer and an explicit status. Pages call `apply`, `click`, `tick` and the buttons."""

    def __init__(self, cfg: TrainConfig, added: list[tuple[float, float, int]] | None = None,
                 uploaded: tuple[np.ndarray, np.ndarray] | None = None,
                 slots: scheduler.Slots | None = None) -> None:
        self.slots = slots or scheduler.ACCELERATOR
        self.cfg = cfg
        # a clicked point of a class the data do not have is dropped (e.g. from a link)
        self.added = [p for p in (added or []) if p[2] < self._effective(cfg, uploaded)
                      .num_classes]
        self.uploaded = uploaded
        self.probe: tuple[float, float, np.ndarray] | None = None
        self.wants_training = False
        self.error: str | None = None
        # Train, Pause and map clicks come from the page and from the push route's commands
        # (ui/push_route.py), on two threads: one at a time.
        self.commands = threading.RLock()
        self._applied_clicks: tuple[str, ...] = ()  # replaced whole: read without the lock
        self._shown: int | None = None  # serial of the snapshot last drawn
        self._metrics: tuple[int, float, dict, float] | None = None  # serial, time, metrics, rate
        self._history_sent: tuple[int, float, float] | None = None
        # While training, the metrics and the objective's history refresh this often (s); the
        # push path lengthens it while other sessions wait for the accelerator (bnnlab.push).
        self.refresh_s = REFRESH_S
        self.run = self._new_run(cfg)  # raises ConfigError / DataError: the page says so
        self.trainer = Trainer(self.run, self.slots)

    @classmethod
    def from_link(cls, params: dict[str, str], fields: tuple[str, ...],
                  slots: scheduler.Slots | None = None) -> tuple[Session, list[str]]:
        """A session from a link's query parameters (`config.from_query_params` for `fields`,
        `added` for clicked points), and the notices about what it ignored or clamped. Only
        the playground's methods train here; settings that cannot start fall back to the
        defaults with a notice."""
        params = dict(params)
        added_text = params.pop("added", "")
        cfg, notices = config.from_query_params(params, fields=fields)
        if "noise" not in params and cfg.dataset in datasets.REGISTRY:  # the dataset's own
            cfg = cfg.replace(noise=datasets.REGISTRY[cfg.dataset].default_noise)
        if cfg.method not in config.PLAYGROUND_METHODS:
            notices.append(f"method={cfg.method} is not trained here (see Compare methods); "
                           "using VI.")
            cfg = cfg.replace(method="vi")
        added, notice = playground.decode_added(added_text) if added_text else ([], None)
        notices += [notice] if notice else []
        foreign = sum(1 for point in added if point[2] >= cfg.num_classes)
        if foreign:
            notices.append(f"Ignored {foreign} added point(s) of a class the data do not have "
                           f"(classes 0…{cfg.num_classes - 1}).")
        try:
            return cls(cfg, added, slots=slots), notices
        except (ValueError, RuntimeError) as err:  # bad data (DataError), out of memory
            notices.append(f"Could not start with the link's settings ({err}); using the "
                           "defaults.")
            return cls(TrainConfig(), slots=slots), notices

    def link(self, fields: tuple[str, ...]) -> dict[str, str]:
        """Query parameters that reproduce this session (uploaded data excepted)."""
        params = {k: v for k, v in config.to_query_params(self.cfg).items() if k in fields}
        if self.added:
            params["added"] = playground.encode_added(self.added)
        return params

    # ---------------------------------------------------------------- lifecycle
    @staticmethod
    def _effective(cfg: TrainConfig, uploaded: tuple[np.ndarray, np.ndarray] | None
                   ) -> TrainConfig:
        """`cfg` as the run trains it: with an upload, K comes from the file's labels."""
        if uploaded is None:
            return cfg
        return cfg.replace(num_classes=datasets.num_classes_of(uploaded[1]))

    @property
    def num_classes(self) -> int:
        """K of the data being trained on (2: binary)."""
        return self.run.num_classes

    def _new_run(self, cfg: TrainConfig) -> Run:
        cfg = self._effective(cfg, self.uploaded)
        run = Run(cfg, playground.build_data(cfg, self.added, self.uploaded))
        self._warm_up(run)
        return run

    def _warm_up(self, run: Run) -> None:
        """Compile the chunk in the background (inside a slot) while the learner reads the page,
        so the click on Train does not wait for it; errors show on the first chunk."""
        if run.compiled:
            return

        def compile_chunk() -> None:
            deadline = time.monotonic() + config.COMPILE_WAIT_S
            while not run.compiled and time.monotonic() < deadline and not run.retired:
                try:
                    run.ensure_compiled(self.slots, config.SLOT_WAIT_S)
                except (scheduler.SlotTimeout, CompileBusy):
                    continue
                except Exception:  # noqa: BLE001 - the trainer's first chunk reports it
                    return

            try:  # then the method's post-training fit (Laplace), so that it is instant
                if run.compiled and not run.retired:
                    run.compile_fit()
            except Exception:  # noqa: BLE001 - the fit itself reports it
                return

        threading.Thread(target=compile_chunk, name="bnnlab-warm-up", daemon=True).start()

    def _replace_run(self, cfg: TrainConfig | None = None) -> None:
        run = self._new_run(cfg or self.cfg)
        self.trainer.stop()
        self.run.retired = True
        self.run = run
        self.trainer = Trainer(self.run, self.slots)
        self.probe = None
        self.wants_training = False
        self.error = None
        runtime.release_memory()  # the old run's buffers, freed, back to the OS (runtime)

    @property
    def status(self) -> Status:
        run, trainer = self.run, self.trainer
        if trainer.error or self.error:
            return Status.ERROR
        if run.diverged:
            return Status.DIVERGED
        if run.finished:
            return Status.FINISHED
        if trainer.running or self.wants_training:
            if trainer.waiting:
                return Status.WAITING
            if trainer.compiling or not run.compiled:
                return Status.COMPILING
            return Status.TRAINING
        return Status.PAUSED if run.step > 0 else Status.IDLE

    @property
    def message(self) -> str | None:
        return self.trainer.error or self.error

    # ---------------------------------------------------------------- what the page binds to
    def apply(self, cfg: TrainConfig) -> bool:
        """Take validated settings; returns True when they started a new run (data,
        architecture or method changed). lr, β, prior σ, steps, steps per redraw and the grid
        apply to the running run."""
        with self.commands:  # not halfway through a click of the push route (`click`)
            if playground.needs_reset(self.run.cfg, self._effective(cfg, self.uploaded)):
                # raises (bad data, over the cost budget): then the previous run and cfg stay
                self._replace_run(cfg)
                self.cfg = cfg
                return True
            self.run.update_hyper(cfg)  # raises ConfigError over the budget, changing nothing
            self.cfg = cfg
            return False

    @property
    def notices(self) -> list[str]:
        """What the cost budget changed in the run's settings (e.g. a shortened chunk)."""
        return list(self.run.notices)

    def click(self, x: float, y: float, mode: str, click_id: Any = None) -> str | None:
        """A click on the map at (x, y) (standardised units): adds a training point of class k
        (`mode` "add0" … "add{K−1}") keeping the learned parameters, or probes the posterior
        there ("probe"). Returns a message when the click is refused.

        `click_id` (a short string; anything else counts as none) names the click where it
        may arrive twice (the push route and the page): an added point's id is remembered
        (the last `MAX_CLICK_IDS`) and the same id again does nothing. A refused click is not
        remembered, so its second arrival is refused again and the page can say why."""
        if not (isinstance(click_id, str) and 0 < len(click_id) <= MAX_CLICK_ID_CHARS):
            click_id = None
        with self.commands:
            if click_id is not None and click_id in self._applied_clicks:
                return None
            refused = self._click(x, y, mode)
            if refused is None and click_id is not None and str(mode).startswith("add"):
                self._applied_clicks = (*self._applied_clicks, click_id)[-MAX_CLICK_IDS:]
            return refused

    def applied_click(self, click_id: str) -> bool:
        """Whether the point of the click named `click_id` was added (and is remembered)."""
        return click_id in self._applied_clicks

    def _click(self, x: float, y: float, mode: str) -> str | None:
        try:
            x, y = float(x), float(y)
        except (TypeError, ValueError):
            return "That click had no position."
        modes = ("probe", *add_modes(self.num_classes))
        if mode not in modes:
            if str(mode).startswith("add"):
                return f"There is no {mode[3:]!r} class here: the data have classes 0…" \
                       f"{self.num_classes - 1}."
            return None
        if not playground.in_bounds(x, y):
            return (f"Points must lie within ±{config.MAX_ABS_COORD:g} standardised units "
                    "of the data's centre: zoom in and click closer to the data.")
        if mode == "probe":
            self.probe = (x, y, self.run.probe(x, y))
            return None
        if len(self.added) >= config.MAX_ADDED_POINTS:
            return f"At most {config.MAX_ADDED_POINTS} added points."
        added = [*self.added, (round(x, 3), round(y, 3), int(mode[3:]))]
        try:  # over the cost budget with one more point: refused, the data stay as they were
            self.run.set_data(playground.build_data(self.run.cfg, added, self.uploaded))
        except ConfigError as err:
            return f"Point not added: {err}"
        self.added = added
        self._train_on_new_data()
        return None

    @property
    def classes(self) -> list[dict]:
        """The legend of the data's K classes: `palette.class_legend`."""
        return palette.class_legend(self.num_classes)

    def _train_on_new_data(self) -> None:
        """After a click added a point: a run that has started trains on from its current
        posterior for at least `config.CLICK_TRAIN_STEPS` more steps (raising a finished run's
        budget), so the boundary reacts to the point. Training keeps going as it was; a paused
        or finished run trains those steps and stops again. Nothing happens before the first
        Train (the learner may be placing points) or after a divergence."""
        run = self.run
        if run.diverged or (run.step == 0 and not self.trainer.running):
            return
        wanted = min(config.MAX_STEPS, run.step + config.CLICK_TRAIN_STEPS)
        if wanted > run.cfg.steps:
            try:
                self.apply(self.cfg.replace(steps=wanted))
            except ConfigError:  # a longer run is over the cost budget: train what is left
                pass
        if not self.trainer.running and not run.finished:
            self.error = None
            self.trainer.start(max_steps=config.CLICK_TRAIN_STEPS)

    def extend(self, extra_steps: int) -> str | None:
        """Continue a run for `extra_steps` more steps from where it stands: the step budget
        (`cfg.steps`, the page's *Steps in total*) becomes step + `extra_steps`, at most
        `config.MAX_STEPS`, and it trains. Returns a message when it cannot (diverged, at the
        step limit, or a run that long is over the cost budget); then nothing changes."""
        if self.run.diverged:
            return "The run diverged: press Reset."
        wanted = min(config.MAX_STEPS, self.run.step + max(1, int(extra_steps)))
        if wanted <= self.run.step:
            return (f"The run has taken the most steps a run may take "
                    f"({config.MAX_STEPS:,}): press Reset to start again.")
        if wanted > self.cfg.steps:
            try:
                self.apply(self.cfg.replace(steps=wanted))
            except ConfigError as err:
                return f"Cannot continue: {err}"
        self.train()
        return None

    @property
    def at_step_limit(self) -> bool:
        """The run has taken `config.MAX_STEPS` steps: it cannot be continued, only reset."""
        return self.run.step >= config.MAX_STEPS

    def tick(self, view: View | None = None, wait_s: float = 0.25) -> tuple[dict | None, Status]:
        """The live chart's next payload and the status. While training, it waits up to `wait_s`
        for a new chunk rather than send the browser the frame it already shows. The payload is
        None when drawing failed (then `message` says why)."""
        view = view or View()
        # Read before the frame: an id listed here names a point that the frame's data hold.
        applied_clicks = self._applied_clicks
        run, trainer = self.run, self.trainer
        trainer.touch()
        if self.wants_training and not trainer.running and not run.finished \
                and not trainer.error:
            trainer.start()  # e.g. after the learner came back to this page
        if trainer.running and self._shown == run.snapshot.serial:
            run.wait_for_step_after(run.step, timeout=wait_s)
        snap = run.snapshot
        try:
            payload = run.frame(run.cfg.grid_size, view.zoom, view.kind, snap)
            payload["metrics"] = self._metrics_row(run, trainer, snap)
            if self._history_due(run, trainer, snap):
                payload["history"] = run.history_payload(snap)
        except Exception as err:  # noqa: BLE001 - shown in the page, never a traceback
            self.error = friendly_error(err)
            self.wants_training = False
            trainer.stop(wait=False)
            return None, Status.ERROR
        mode = view.mode
        payload["mode"] = "add" if mode.startswith("add") else mode
        payload["add_class"] = mode[-1] if mode.startswith("add") else ""
        payload["view_revision"] = f"{run.cfg.dataset}-{view.zoom}"
        payload["clicks"] = list(applied_clicks[-8:])  # the chart's pending points: done
        self._shown = snap.serial
        status = self.status
        if status in (Status.FINISHED, Status.DIVERGED, Status.ERROR):
            self.wants_training = False
        return payload, status

    def _history_due(self, run: Run, trainer: Trainer, snap: Snapshot) -> bool:
        """The objective chart redraws twice a second: while training send its history about
        that often (the chart keeps the last one), otherwise whenever it changed."""
        now = time.monotonic()
        sent = self._history_sent
        due = (sent is None or sent[0] != run.serial or sent[2] != run.cfg.kl_weight
               or not trainer.running or now - sent[1] > self.refresh_s)
        if due:
            self._history_sent = (run.serial, now, run.cfg.kl_weight)
        return due

    def _metrics_row(self, run: Run, trainer: Trainer, snap: Snapshot) -> list[dict]:
        """The metrics under the maps (drawn by the live chart itself). They cost ~20 ms, so
        while training they refresh a few times a second, not every frame; each row belongs to
        one snapshot, whose step it shows. `run` and `trainer` are the ones `tick` read: a
        rerun may replace `self.run` meanwhile, and `snap` belongs to this one."""
        now = time.monotonic()
        cached = self._metrics
        if cached is None or cached[0] != (run.serial, run.data_version) or (
                cached[2]["step"] != snap.step
                and (now - cached[1] > self.refresh_s or not trainer.running)):
            rate = 0.0
            if cached is not None and cached[0] == (run.serial, run.data_version) \
                    and snap.step > cached[2]["step"]:
                rate = (snap.step - cached[2]["step"]) / (now - cached[1])
            cached = ((run.serial, run.data_version), now, run.metrics(snap),
                      rate)
            self._metrics = cached
        m, rate = cached[2], cached[3]
        return [
            {"label": "Step", "value": f"{m['step']:,}"},
            {"label": "Steps/s", "value": f"{rate:,.0f}" if trainer.running else "–",
             "help": f"Training progress per second of wall time; one chunk alone runs at "
                     f"{run.last_chunk_steps_per_s:,.0f} steps/s"},
            {"label": "Train acc", "value": f"{m['train_acc']:.3f}"},
            {"label": "Test acc", "value": f"{m['test_acc']:.3f}"},
            {"label": "Test NLL", "value": f"{m['test_nll']:.3f}"},
            {"label": "ECE", "value": f"{m['ece']:.3f}"},
            {"label": "Entropy near data", "value": f"{m['entropy_near']:.3f}",
             "help": "Mean predictive entropy (nats) on the test points"},
            {"label": "Entropy far away", "value": f"{m['entropy_far']:.3f}",
             "help": "Mean predictive entropy (nats) at least 2 units from every training "
                     "point"},
        ]

    @property
    def shown_metrics(self) -> dict | None:
        """The metrics of the last row drawn (their `step` included)."""
        return None if self._metrics is None else self._metrics[2]

    # ---------------------------------------------------------------- buttons
    def train(self) -> None:
        """Train in the background; the script thread never runs a chunk."""
        with self.commands:
            if self.run.finished:
                return
            self.wants_training = True
            self.error = None
            self.trainer.start()  # a no-op while running (e.g. the push route started it)

    def pause(self) -> None:
        """Stop after the current chunk (blocks until then); a no-op when stopped."""
        with self.commands:
            self.wants_training = False
            self.trainer.stop()

    def step(self) -> None:
        """One chunk's worth of steps (`steps_per_chunk`), trained in the background; a
        finished run's budget grows by that much first (Step continues it)."""
        self.wants_training = False
        self.trainer.stop()
        chunk = self.run.engine.static.steps_per_chunk
        if self.run.finished and not self.run.diverged:
            wanted = min(config.MAX_STEPS, self.run.step + chunk)
            if wanted > self.cfg.steps:
                try:
                    self.apply(self.cfg.replace(steps=wanted))
                except ConfigError as err:  # a longer run is over the cost budget
                    self.error = str(err)
                    return
        if not self.run.finished:
            self.trainer.start(max_steps=chunk)

    def wait_for_step(self, timeout: float) -> bool:
        """Wait until the trainer has stopped or `timeout` s passed (the Step button's page
        shows its result)."""
        thread = self.trainer._thread
        if thread is not None:
            thread.join(timeout)
        return not self.trainer.running

    def _restart(self, added: list, uploaded: tuple[np.ndarray, np.ndarray] | None) -> bool:
        """A new run on `added` / `uploaded` points; on any error (e.g. out of memory while
        initialising) the previous run, points and upload stay and `message` says why."""
        with self.commands:  # not halfway through a click of the push route (`click`)
            return self._restart_locked(added, uploaded)

    def _restart_locked(self, added: list,
                        uploaded: tuple[np.ndarray, np.ndarray] | None) -> bool:
        old = (self.added, self.uploaded)
        k = self._effective(self.cfg, uploaded).num_classes
        self.added, self.uploaded = [p for p in added if p[2] < k], uploaded
        try:
            self._replace_run()
        except Exception as err:  # noqa: BLE001 - shown in the page, never a traceback
            self.added, self.uploaded = old
            self.error = friendly_error(err)
            return False
        return True

    # ---------------------------------------------------------------- a post-training fit
    def fit_target(self) -> str | None:
        """The method whose post-training fit applies to this run: its own (Laplace), or one
        that takes over this method's trained network (`MethodSpec.fits_from`: MAP ->
        Laplace); None when there is none."""
        if self.run.can_fit:
            return self.cfg.method
        return next((name for name, spec in registry.METHODS.items()
                     if self.cfg.method in spec.fits_from), None)

    def make_bayesian(self) -> str | None:
        """Fit the posterior around the network trained so far ("Make this network Bayesian"):
        training pauses; a MAP run becomes a Laplace run on the same parameters, data and step
        (its history kept), then Laplace's fit runs. Returns the method now used, or None
        (nothing to fit, or an error: `message` says)."""
        target = self.fit_target()
        if target is None:
            return None
        self.pause()
        try:
            if target != self.cfg.method:
                old = self.run
                with old.lock:
                    snap = old.snapshot
                    run = Run(old.cfg.replace(method=target), old.data)
                    state = run.engine.adopt(run.snapshot.state, snap.state.method_state)
                    state = state._replace(step=snap.state.step, rng_key=snap.state.rng_key)
                    run._history = list(old._history)
                    run.snapshot = Snapshot(state, snap.step, snap.diverged, snap.info,
                                            next(_SERIALS))
                old.retired = True
                self.run, self.trainer = run, Trainer(run, self.slots)
                self.cfg = self.cfg.replace(method=target)
            self.run.fit_posterior()
        except Exception as err:  # noqa: BLE001 - shown in the page, never a traceback
            self.error = friendly_error(err)
            return None
        return target

    def reset(self) -> None:
        self._restart(self.added, self.uploaded)

    def clear_added(self) -> None:
        self._restart([], self.uploaded)

    def upload(self, xy: tuple[np.ndarray, np.ndarray]) -> bool:
        """Train on uploaded points `(x float32[n, 2], y int32[n])` from now on."""
        return self._restart([], xy)

    def use_generated(self) -> None:
        self._restart([], None)

    def close(self) -> None:
        self.wants_training = False
        self.run.retired = True
        self.trainer.stop(wait=False)
