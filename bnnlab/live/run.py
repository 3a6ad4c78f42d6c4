"""A resumable run: the engine, the data, the traced hyperparameters and the one chunk loop.

Each chunk publishes one immutable `Snapshot` (state, step, diverged, the chunk's diagnostics) in a
single assignment, so a reader that takes `run.snapshot` once sees one consistent state. Chunks
are sized by time: the next chunk asks for as many steps as fitted in `limits.CHUNK_SECONDS`
(`num_steps` ≤ steps per redraw is a traced argument of the compiled chunk: no recompile, and a
chunk of n steps costs n steps). The playground, Compare and chapter 5 all train `Run`s, on a
`live.trainer.Trainer`'s thread.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bnnlab import registry
from bnnlab.core import limits, predict, weights
from bnnlab.live import compile_cache, scheduler
from bnnlab.methods.base import MethodSpec
from bnnlab.training import cost, engine
from bnnlab.training.config import LIVE_FIELDS, TrainConfig

WEIGHT_SAMPLES = 64  # draws behind the weight view of a sampling method (HMC, an ensemble)
PROBE_SAMPLES = 64

_SERIALS = itertools.count(1)  # unique names for runs, data and snapshots (ids get reused)


def serial() -> int:
    """A number never handed out before in this process."""
    return next(_SERIALS)


class Snapshot(NamedTuple):
    """What one chunk left behind, published atomically (never mutated)."""

    state: engine.TrainState
    step: int  # steps taken (Python int: reading a device array per access costs a transfer)
    diverged: bool
    info: np.ndarray  # float32[3, taken]: the last chunk's objective, log-likelihood, regulariser
    serial: int  # unique per snapshot


class Run:
    """A resumable run: the engine, the data, the hyperparameters and the published snapshot.

    `data` is anything with `x_train`, `y_train`, `x_test`, `y_test` (float32[n, D] / int32[n]).
    Chunks run under `lock`, which also guards swapping data, engine or hyperparameters, so a
    trainer thread and the page never interleave halfway. Raises `ConfigError` for settings over
    the cost budget (`cost.check_cost`); a chunk too long is shortened and `notices` says so.
    """

    def __init__(self, cfg: TrainConfig, data: Any,
                 chunk_seconds: float = limits.CHUNK_SECONDS) -> None:
        cfg, self.notices = cost.check_cost(cfg, len(data.x_train))
        self.cfg = cfg
        self.serial = serial()
        self._data = (serial(), data)
        self.engine, self.batch, self.hyper, state = engine.start_run(cfg, data.x_train,
                                                                      data.y_train)
        self.snapshot = Snapshot(state, 0, False, np.zeros((3, 0), np.float32), serial())
        self.display_key = jax.random.key(cfg.seed + 1)
        self.boundary_key = jax.random.fold_in(self.display_key, 7)  # once, not per frame
        self.chunk_seconds = chunk_seconds
        # Until a chunk has been timed, the cost model's steps per `MAX_CHUNK_SECONDS`.
        self.next_steps = min(self.engine.static.steps_per_chunk,
                              cost.max_steps_per_chunk_for(cfg, len(data.x_train)))
        self.chunk_log: list[tuple[int, float]] = []  # (steps, seconds) per chunk
        self.lock = threading.RLock()
        self.retired = False  # replaced by a new run: background work for it stops
        self._history: list[np.ndarray] = []  # float32[3, taken] per chunk
        self._advanced = threading.Condition()
        self._caches: dict[str, tuple[tuple, Any]] = {}
        self.fit_seconds: float | None = None  # the last post-training fit's wall time
        self.fit_compiled_first = False  # whether that fit included compiling it

    @classmethod
    def taken_over(cls, old: Run, method: str) -> Run:
        """A run of `method` that starts from `old`'s trained network, data, step and history
        (`MethodSpec.fit.takes_over`: MAP -> Laplace); `old` is retired."""
        with old.lock:
            snap = old.snapshot
            run = cls(old.cfg.replace(method=method), old.data)
            state = run.engine.adopt(run.snapshot.state, snap.state.method_state)
            state = state._replace(step=snap.state.step, rng_key=snap.state.rng_key)
            run._history = list(old._history)
            run.chunk_log = list(old.chunk_log)
            run.snapshot = Snapshot(state, snap.step, snap.diverged, snap.info, serial())
        old.retired = True
        return run

    # ---------------------------------------------------------------- reading one snapshot
    @property
    def data(self) -> Any:
        return self._data[1]

    @property
    def data_version(self) -> int:
        return self._data[0]

    @property
    def state(self) -> engine.TrainState:
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
        return compile_cache.is_compiled(self.engine)

    @property
    def spec(self) -> MethodSpec:
        return registry.method(self.cfg.method)

    @property
    def num_classes(self) -> int:
        """K: 2 for binary data (the Bernoulli path), else the categorical engine's K."""
        return self.engine.static.num_classes

    @property
    def train_seconds(self) -> float:
        """Time spent in chunks (the compiling one included)."""
        return float(sum(s for _, s in self.chunk_log))

    @property
    def steps_per_second(self) -> float:
        """Steps per second after the first, compiling chunk (NaN before a second chunk)."""
        later = self.chunk_log[1:]
        seconds = sum(s for _, s in later)
        return float(sum(n for n, _ in later) / seconds) if seconds > 0 else float("nan")

    @property
    def expected_chunk_s(self) -> float | None:
        """The modelled time of the next chunk (`cost.chunk_cost`), None before it compiled: a
        light run's chunks take the slots' short lane (`scheduler.SHORT_WORK_S`)."""
        if not self.compiled:
            return None
        key = (self.cfg, len(self.data.x_train))
        step_s = self.cached("step_cost", key, lambda: cost.chunk_cost(
            self.cfg, key[1], steps_per_chunk=1).step_seconds)
        return min(self.next_steps, self.engine.static.steps_per_chunk) * step_s

    @property
    def last_chunk_steps_per_s(self) -> float:
        if not self.chunk_log:
            return 0.0
        steps, seconds = self.chunk_log[-1]
        return steps / seconds if seconds > 0 else 0.0

    def cached(self, name: str, key: tuple, compute: Callable[[], Any]) -> Any:
        """`compute()` remembered under `name` while `key` stays the same (one entry a name)."""
        hit = self._caches.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = compute()
        self._caches[name] = (key, value)
        return value

    # ---------------------------------------------------------------- the one chunk loop
    def ensure_compiled(self, slots: scheduler.Slots = scheduler.ACCELERATOR,
                        timeout: float = limits.COMPILE_WAIT_S) -> None:
        """One attempt at `compile_cache.ensure_compiled` for this run's engine."""
        with self.lock:
            args = (self.engine, self.snapshot.state, self.batch, self.hyper)
        compile_cache.ensure_compiled(*args, slots=slots, timeout=timeout)

    def advance(self, max_steps: int | None = None) -> int:
        """Run one chunk and publish its snapshot; returns the steps taken (0 when finished or
        diverged). The chunk takes as many steps as fitted in `chunk_seconds` last time, never
        more than `max_steps`, `steps_per_chunk` or what is left of `cfg.steps`. At the end of
        the run the method's post-training fit runs, as in the CLI."""
        with self.lock:
            snap = self.snapshot
            limit = self.engine.static.steps_per_chunk
            todo = min(self.next_steps, limit, self.cfg.steps - snap.step,
                       limit if max_steps is None else max_steps)
            if todo <= 0 or snap.diverged:
                return 0
            warm = self.compiled
            chunk = engine.advance(self.engine, snap.state, self.batch, self.hyper, todo)
            compile_cache.mark_compiled(self.engine)
            trace = chunk.trace.astype(np.float32)
            self._history.append(trace)
            self.chunk_log.append((chunk.taken, chunk.seconds))
            self.snapshot = Snapshot(chunk.state, chunk.step, chunk.diverged, trace, serial())
            if warm:  # a compiling chunk says nothing about the rate
                self._size_next_chunk(todo, chunk.seconds, limit)
            if chunk.step >= self.cfg.steps and not chunk.diverged:
                self.fit_posterior()
        with self._advanced:
            self._advanced.notify_all()
        return chunk.taken

    def _size_next_chunk(self, steps: int, seconds: float, limit: int) -> None:
        """Ask the next chunk for the steps that fit in `chunk_seconds` at the rate just
        measured, in [1, limit]: a slow step gives short chunks and Pause acts within about
        `chunk_seconds`."""
        rate = steps / seconds if seconds > 0 else float("inf")
        self.next_steps = int(np.clip(np.floor(rate * self.chunk_seconds), 1, limit))

    def wait_for_step_after(self, step: int, timeout: float) -> bool:
        """Block (without the GIL) until the run is past `step` or `timeout` s passed."""
        with self._advanced:
            return self._advanced.wait_for(lambda: self.snapshot.step != step, timeout)

    # ---------------------------------------------------------------- the method's fit
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
            self.fit_compiled_first = not compile_cache.fit_is_compiled(self.engine)
            start = time.perf_counter()
            state = jax.block_until_ready(self.engine.fit_posterior(snap.state, self.batch,
                                                                    self.hyper))
            self.fit_seconds = time.perf_counter() - start
            compile_cache.mark_fit_compiled(self.engine)
            self.snapshot = Snapshot(state, snap.step, snap.diverged, snap.info, serial())
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
            compile_cache.mark_fit_compiled(self.engine)

    # ---------------------------------------------------------------- live changes
    def _budgeted(self, cfg: TrainConfig, num_points: int) -> tuple[TrainConfig, engine.Engine]:
        """`cfg` within the cost budget for `num_points` (ConfigError when over it,
        `steps_per_chunk` shortened with a notice in `notices`) and its engine."""
        cfg, self.notices = cost.check_cost(cfg, num_points)
        return cfg, engine.compiled(engine.StaticConfig.from_config(cfg, num_points))

    def update_hyper(self, cfg: TrainConfig) -> None:
        """Take `cfg`'s live settings (`config.LIVE_FIELDS`: lr, β, prior σ, steps, steps per
        redraw, grid) without resetting: lr / β / σ never recompile, a new steps per redraw
        selects another engine. Settings over the cost budget raise ConfigError and change
        nothing."""
        with self.lock:
            new = self.cfg.replace(**{name: getattr(cfg, name) for name in LIVE_FIELDS})
            new, eng = self._budgeted(new, len(self.data.x_train))
            self.cfg = new
            self.hyper = engine.make_hyper(new)
            if eng is not self.engine:
                self.engine = eng
                self.next_steps = min(self.next_steps, eng.static.steps_per_chunk) or 1

    def set_data(self, data: Any) -> None:
        """Swap the training data (e.g. a clicked point), keeping the parameters: the state's
        shapes do not depend on the data; a new bucket size selects another engine. Data that
        put the run over the cost budget raise ConfigError and change nothing."""
        with self.lock:
            cfg, eng = self._budgeted(self.cfg, len(data.x_train))
            self.batch = engine.make_batch(data.x_train, data.y_train, eng.static.data_bucket)
            self.cfg = cfg
            self.engine = eng
            self.next_steps = min(self.next_steps, eng.static.steps_per_chunk) or 1
            self._data = (serial(), data)

    # ---------------------------------------------------------------- what readers compute
    def history_arrays(self, snap: Snapshot | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(objective, log-likelihood, regulariser): float32[step] each, up to `snap`."""
        snap = snap or self.snapshot
        chunks = list(self._history)
        if not chunks:
            empty = np.zeros(0, np.float32)
            return empty, empty, empty
        stacked = np.concatenate(chunks, axis=1)[:, :snap.step]
        return stacked[0], stacked[1], stacked[2]

    def sample_probs(self, points: np.ndarray, num_samples: int, key: jax.Array | None = None,
                     snap: Snapshot | None = None) -> np.ndarray:
        """Sample-wise P(y=1): float32[S, n] (S = 1 for MAP); K classes: float32[S, n, K]."""
        snap = snap or self.snapshot
        key = self.display_key if key is None else key
        return np.asarray(self.engine.sample_probs(key, snap.state,
                                                   jnp.asarray(points, jnp.float32),
                                                   num_samples=num_samples))

    def summary(self, points: np.ndarray, num_samples: int = predict.MAP_SAMPLES,
                snap: Snapshot | None = None) -> predict.Predictive:
        """Mean probability and the three uncertainties at `points`, computed on device
        (K classes: `mean` is the predicted class's probability; `class_summary` has all)."""
        return self.class_summary(points, num_samples, snap)[0]

    def class_summary(self, points: np.ndarray, num_samples: int = predict.MAP_SAMPLES,
                      snap: Snapshot | None = None
                      ) -> tuple[predict.Predictive, np.ndarray | None]:
        """`summary` and, for K > 2 classes, the mean class probabilities float32[K, n]
        (None for binary data): `predict.summary_parts`."""
        snap = snap or self.snapshot
        out = np.asarray(self.engine.predictive_summary(
            self.display_key, snap.state, jnp.asarray(points, jnp.float32),
            num_samples=num_samples))
        return predict.summary_parts(out, self.num_classes)

    def share_far_points(self, far_points: np.ndarray) -> None:
        """Use `far_points` (`predict.far_probe_points` of this run's data) for the metrics
        until the data change, instead of computing them again (Compare: one set for all)."""
        self._caches["far"] = ((self.data_version,), far_points)

    def metrics(self, snap: Snapshot | None = None) -> dict[str, Any]:
        """`predict.evaluate` of one snapshot (the CLI's metrics: train/test accuracy, test NLL,
        ECE, mean predictive entropy and epistemic uncertainty near (test points) and far
        (`predict.far_probe_points`) with their Monte Carlo errors), plus `step` and `serial`,
        which say which, and `reliability` (`predict.reliability` of the test points); cached
        per snapshot and data."""
        snap = snap or self.snapshot
        version, data = self._data

        def compute():
            far = self.cached("far", (version,), lambda: predict.far_probe_points(data.x_train))
            train, test, far_probs = predict.draws_near_far(
                self.engine, snap.state, data, self.display_key, far_points=far)
            metrics = predict.metrics_from_probs(train, data.y_train, test, data.y_test,
                                                 far_probs)
            # the bins behind ECE, for the reliability diagram beside it
            bins = predict.reliability(_mean_probs(test), data.y_test)
            return {"step": snap.step, "serial": snap.serial, **metrics._asdict(),
                    "reliability": bins._asdict()}

        return dict(self.cached("metrics", (snap.serial, version), compute))

    def probe(self, x: float, y: float, num_samples: int = PROBE_SAMPLES) -> np.ndarray:
        """P(y=1 | point) under each of `num_samples` posterior draws: float32[S] (K classes:
        every class's probability, float32[S, K])."""
        snap = self.snapshot
        key = jax.random.fold_in(self.display_key, snap.step)
        return self.sample_probs(np.array([[x, y]], np.float32), num_samples, key, snap)[:, 0]

    # ---------------------------------------------------------------- what the method says
    def fit_details(self, snap: Snapshot | None = None) -> dict | None:
        """The method's account of its fit (`MethodSpec.fit.details`: Laplace's evidence curve
        over prior σ), or None for a method without one."""
        fit = self.spec.fit
        if fit is None:
            return None
        snap = snap or self.snapshot
        return self.cached("fit_details", (snap.serial,),
                           lambda: fit.details(snap.state.method_state))

    def method_report(self, snap: Snapshot | None = None) -> dict:
        """The method's own diagnostics (`MethodSpec.report`, the CLI's extra fields: HMC's
        acceptance rate, divergences, draws kept), cached per snapshot."""
        snap = snap or self.snapshot
        return self.cached("report", (snap.serial,),
                           lambda: self.spec.report(self.cfg, snap.state))

    def weight_summary(self, snap: Snapshot | None = None) -> weights.WeightSummary:
        """The weight posterior against the prior N(0, prior σ²) (`core.weights`): from the
        method's closed-form marginals (VI, Laplace, MAP: σ = 0) or, for sampling methods,
        from `WEIGHT_SAMPLES` of its draws (HMC's kept draws, an ensemble's members)."""
        snap = snap or self.snapshot
        static = self.engine.static
        layer = weights.layer_index(static.hidden, static.num_inputs, static.num_outputs)
        # against the prior the posterior was built with (Laplace's is tuned by its evidence)
        details = self.fit_details(snap)
        fitted_std = self.spec.fit.prior_std(details) if details is not None else None
        prior_std = self.cfg.prior_std if fitted_std is None else fitted_std
        marginals = self.spec.weight_marginals

        def compute():
            if marginals is not None:
                mean, std = marginals(snap.state.method_state)
                return weights.from_gaussian(mean, std, prior_std, layer=layer)
            draws = np.asarray(self.engine.sample_params(
                jax.random.fold_in(self.display_key, 11), snap.state,
                static.num_draws(WEIGHT_SAMPLES)))
            return weights.from_samples(draws, prior_std, layer=layer)

        return self.cached("weights", (snap.serial, prior_std), compute)


def _mean_probs(probs: np.ndarray) -> np.ndarray:
    """The mean over the draws: float[n] P(y = 1) or float[n, K]."""
    return np.asarray(probs, np.float64).mean(axis=0)
