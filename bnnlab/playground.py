"""The live playground's state machine, free of any UI: data assembly, a resumable training run,
and the per-frame payload (compact, quantised grids) that the page hands to the browser.

One `Run` belongs to one learner's session; compiled functions come from the process-wide
`train.compiled` cache, so moving a slider for lr, β, prior σ or adding a point never recompiles.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import threading
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bnnlab import config, contour, datasets, predict, train
from bnnlab.config import TrainConfig

MAX_ADDED_POINTS = 500
LIVE_SAMPLES = 32  # posterior draws for the live maps (64 for probes and final metrics)
NUM_BOUNDARY_SAMPLES = 10
BOUNDARY_GRID = 40
HISTORY_POINTS = 400  # the ELBO chart gets at most this many points
UNCERTAINTY_KINDS = ("total", "aleatoric", "epistemic")


class PlaygroundData(NamedTuple):
    """Standardised train/test points plus where they came from."""

    x_train: np.ndarray  # float32[n, 2]
    y_train: np.ndarray  # int32[n]
    x_test: np.ndarray  # float32[m, 2]
    y_test: np.ndarray  # int32[m]
    source: str  # a dataset name or "upload"


def build_data(cfg: TrainConfig, added: list[tuple[float, float, int]] | None = None,
               uploaded: tuple[np.ndarray, np.ndarray] | None = None) -> PlaygroundData:
    """The dataset `cfg` names (or an uploaded `(x, y)`), split and standardised, with points
    added by clicks appended to the training set (they are given in standardised units)."""
    if uploaded is not None:
        x, y = uploaded
        source = "upload"
    else:
        x, y = datasets.make(cfg.dataset, cfg.num_points, cfg.noise, cfg.seed)
        source = cfg.dataset
    data = datasets.prepare(x, y, cfg.test_fraction, cfg.seed)
    x_train, y_train = data.x_train, data.y_train
    if added:
        extra = np.asarray([(a, b) for a, b, _ in added], np.float32).reshape(-1, 2)
        labels = np.asarray([c for _, _, c in added], np.int32)
        x_train = np.concatenate([x_train, extra])
        y_train = np.concatenate([y_train, labels])
    return PlaygroundData(x_train, y_train, data.x_test, data.y_test, source)


def encode_grid(values: np.ndarray, vmax: float) -> str:
    """Quantise `values: float[ny, nx]` in [0, vmax] to uint8 and base64 it (row-major)."""
    scaled = np.clip(np.nan_to_num(np.asarray(values, np.float64) / vmax), 0.0, 1.0)
    return base64.b64encode(np.round(scaled * 255).astype(np.uint8).tobytes()).decode("ascii")


def decode_grid(text: str, shape: tuple[int, int], vmax: float) -> np.ndarray:
    """Inverse of `encode_grid` up to quantisation (±vmax/510)."""
    raw = np.frombuffer(base64.b64decode(text), np.uint8).reshape(shape)
    return raw.astype(np.float32) / 255.0 * vmax


def encode_floats(values: np.ndarray) -> str:
    """float32 little-endian bytes of `values`, base64: the live chart's compact wire format for
    points, boundaries and the objective history (a JSON list of floats took the server longer
    to build and encode than the frame's numbers took to compute). Non-finite values become
    NaN: a break in a line for the chart."""
    arr = np.asarray(values, np.float64).ravel()
    arr = np.where(np.isfinite(arr), arr, np.nan).astype("<f4")
    return base64.b64encode(arr.tobytes()).decode("ascii")


def decode_floats(text: str) -> np.ndarray:
    """Inverse of `encode_floats`: float32[n]."""
    return np.frombuffer(base64.b64decode(text), "<f4").astype(np.float32)


def encode_segments(xs: np.ndarray, ys: np.ndarray, box: tuple[float, float, float, float]
                    ) -> dict:
    """Line segments from `contour.segments` ((start, end, NaN) triples) inside `box` =
    (x0, x1, y0, y1), as uint16 coordinates over the box (x_start, y_start, x_end, y_end per
    segment, base64): a third of the bytes of float32 triples, and at most box/65535 off."""
    x0, x1, y0, y1 = box
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    quads = np.stack([xs[0::3], ys[0::3], xs[1::3], ys[1::3]], axis=-1).reshape(-1, 4)
    quads = quads[np.isfinite(quads).all(axis=1)]
    if not np.isfinite(box).all():
        quads = quads[:0]
    lo = np.array([x0, y0, x0, y0])
    span = np.maximum(np.array([x1 - x0, y1 - y0] * 2), 1e-12)
    q = np.round(np.clip((quads - lo) / span, 0.0, 1.0) * 65535).astype("<u2")
    return {"q": base64.b64encode(q.tobytes()).decode("ascii"), "n": len(q),
            "x0": x0, "x1": x1, "y0": y0, "y1": y1}


def decode_segments(payload: dict) -> np.ndarray:
    """Inverse of `encode_segments`: float64[n, 4] (x_start, y_start, x_end, y_end)."""
    q = np.frombuffer(base64.b64decode(payload["q"]), "<u2").reshape(-1, 4) / 65535.0
    lo = np.array([payload["x0"], payload["y0"]] * 2)
    span = np.array([payload["x1"] - payload["x0"], payload["y1"] - payload["y0"]] * 2)
    return lo + q * span


def _downsample(values: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, values) with at most `limit` evenly spaced entries, always keeping the last."""
    n = len(values)
    if n <= limit:
        idx = np.arange(n)
    else:
        idx = np.unique(np.linspace(0, n - 1, limit).round().astype(int))
    return idx, values[idx]


_SERIALS = itertools.count(1)  # unique names for runs and data sets (ids get reused)


class Run:
    """A resumable training run for one session: the engine, the state and the history."""

    def __init__(self, cfg: TrainConfig, data: PlaygroundData) -> None:
        self.cfg = cfg
        self.serial = next(_SERIALS)
        self.data = data
        self.engine, self.batch, self.hyper, self.state = train.start_run(cfg, data.x_train,
                                                                      data.y_train)
        self.display_key = jax.random.key(cfg.seed + 1)
        self.history: list[np.ndarray] = []  # float32[3, K] chunks: elbo, ell, kl
        self.train_seconds = 0.0
        self.last_chunk_steps_per_s = 0.0
        # Held while a chunk runs or while the data / engine / hyperparameters are swapped, so a
        # background `Trainer` and the page never interleave halfway.
        self.lock = threading.RLock()
        self._warm_up: threading.Thread | None = None
        self._advanced = threading.Condition()  # notified after every chunk
        self._frame_cache: tuple[tuple, dict] | None = None
        self._evaluation_cache: tuple[tuple, tuple] | None = None
        self._far_points: tuple[int, np.ndarray] | None = None

    def warm_up(self) -> None:
        """Compile the training chunk in a background thread, unless this engine has been
        compiled before: the page calls it when a run is created, so the compile overlaps the
        time the learner spends looking at the page instead of following the click on Train.
        `advance` waits for it (one compilation, never two in parallel)."""
        engine = self.engine
        if train.TRACE_COUNTS[("run_chunk", engine.static)] or self._warm_up is not None:
            return
        args = (self.state, self.batch, self.hyper, jnp.int32(0))  # 0 steps: state unchanged

        def compile_chunk() -> None:
            # An error here is raised again, and reported, by the first real chunk.
            with contextlib.suppress(Exception):
                jax.block_until_ready(engine.run_chunk(*args))

        thread = threading.Thread(target=compile_chunk, name="bnnlab-warm-up", daemon=True)
        thread.start()
        self._warm_up = thread

    @property
    def state(self) -> train.TrainState:
        return self._state

    @state.setter
    def state(self, state: train.TrainState) -> None:
        # Step and divergence as Python values, read once per chunk: the page asks for them
        # many times per frame, and each read of a device array costs a transfer under the GIL.
        self._state = state
        self._step = int(state.step)
        self._diverged = bool(state.diverged)

    @property
    def data(self) -> PlaygroundData:
        return self._data

    @data.setter
    def data(self, data: PlaygroundData) -> None:
        self._data = data
        self.data_version = next(_SERIALS)

    @property
    def step(self) -> int:
        return self._step

    @property
    def diverged(self) -> bool:
        return self._diverged

    def update_hyper(self, cfg: TrainConfig) -> None:
        """Take new lr / β / prior σ without recompiling or resetting."""
        self.cfg = self.cfg.replace(lr=cfg.lr, kl_weight=cfg.kl_weight, prior_std=cfg.prior_std)
        self.hyper = train.make_hyper(self.cfg)

    def advance(self, num_steps: int | None = None) -> int:
        """Run one chunk (at most `steps_per_chunk` steps, fewer near `cfg.steps`); returns the
        number of steps taken (0 when finished or diverged)."""
        with self.lock:
            remaining = self.cfg.steps - self.step
            todo = min(num_steps or self.engine.static.steps_per_chunk,
                       self.engine.static.steps_per_chunk, remaining)
            if todo <= 0 or self.diverged:
                return 0
            if self._warm_up is not None:
                self._warm_up.join()
            before = self.step
            start = time.perf_counter()
            state, info = self.engine.run_chunk(self.state, self.batch, self.hyper,
                                                jnp.int32(todo))
            # One transfer for everything the page reads (each separate read of a device
            # array costs a round trip under the GIL).
            info_np, step, diverged = jax.device_get((info, state.step, state.diverged))
            self._state, self._step, self._diverged = state, int(step), bool(diverged)
            taken = self.step - before
            elapsed = time.perf_counter() - start
            self.train_seconds += elapsed
            self.last_chunk_steps_per_s = taken / elapsed if elapsed > 0 else 0.0
            self.history.append(np.stack([np.asarray(v)[:taken] for v in info_np[:3]]))
        with self._advanced:
            self._advanced.notify_all()
        return taken

    def wait_for_step_after(self, step: int, timeout: float) -> bool:
        """Block (without the GIL) until the run is past `step` or `timeout` seconds passed;
        returns whether it is. The live page waits here so that each redraw shows new steps
        rather than sending the browser the same frame again."""
        with self._advanced:
            return self._advanced.wait_for(lambda: self.step != step, timeout)

    @property
    def finished(self) -> bool:
        return self.step >= self.cfg.steps or self.diverged

    def history_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(elbo, expected_log_likelihood, kl): float32[steps] each."""
        if not self.history:
            empty = np.zeros(0, np.float32)
            return empty, empty, empty
        stacked = np.concatenate(self.history, axis=1)
        return stacked[0], stacked[1], stacked[2]

    def probs(self, points: np.ndarray, num_samples: int, key: jax.Array | None = None):
        """Sample-wise P(y=1): float32[S, n] (S = 1 for MAP)."""
        key = self.display_key if key is None else key
        points = jnp.asarray(points, jnp.float32)
        return np.asarray(self.engine.sample_probs(key, self.state, points,
                                                   num_samples=num_samples))

    def summary(self, points: np.ndarray, num_samples: int = LIVE_SAMPLES) -> predict.Predictive:
        """Mean probability and the three uncertainties at `points`, computed on device."""
        out = np.asarray(self.engine.predictive_summary(
            self.display_key, self.state, jnp.asarray(points, jnp.float32),
            num_samples=num_samples))
        return predict.Predictive(*out)

    def _evaluation(self) -> tuple[predict.Predictive, predict.Predictive, predict.Predictive]:
        """Predictive summaries on the training points, the test points and the far probes
        (`predict.far_probe_points`), in one call on device; cached per step and data."""
        key = (self.step, self.diverged, self.data_version)
        cached = self._evaluation_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        far_cache = self._far_points
        if far_cache is None or far_cache[0] != self.data_version:
            far_cache = (self.data_version, predict.far_probe_points(self.data.x_train, size=21))
            self._far_points = far_cache
        parts = (self.data.x_train, self.data.x_test, far_cache[1])
        whole = self.summary(np.concatenate(parts))
        ends = np.cumsum([len(p) for p in parts])[:-1]
        out = tuple(predict.Predictive(*piece) for piece in
                    zip(*(np.split(np.asarray(v), ends) for v in whole), strict=True))
        self._evaluation_cache = (key, out)
        return out

    def metrics(self) -> dict[str, float]:
        """Train/test accuracy, test NLL and ECE from the mean predictive (LIVE_SAMPLES draws)."""
        train_pred, test_pred, _ = self._evaluation()
        train_mean, test_mean = train_pred.mean, test_pred.mean
        return {
            "train_acc": predict.accuracy(train_mean, self.data.y_train),
            "test_acc": predict.accuracy(test_mean, self.data.y_test),
            "test_nll": predict.nll(test_mean, self.data.y_test),
            "ece": predict.ece(test_mean, self.data.y_test),
        }

    def probe(self, x: float, y: float, num_samples: int = 64) -> np.ndarray:
        """P(y=1 | point) under each of `num_samples` posterior draws: float32[S]."""
        key = jax.random.fold_in(self.display_key, self.step)
        return self.probs(np.array([[x, y]], np.float32), num_samples, key)[:, 0]

    def frame(self, grid_size: int, zoom: float, kind: str) -> dict:
        """Everything the live chart draws, as a JSON-ready dict with quantised grids; `frame_id`
        names its contents. Asked again with nothing changed (the page ticks faster than a
        chunk, or while the chunk compiles), it returns the previous frame without computing."""
        if kind not in UNCERTAINTY_KINDS:
            raise ValueError(f"kind must be one of {UNCERTAINTY_KINDS}")
        grid_size = int(np.clip(grid_size, config.MIN_GRID, config.MAX_GRID))
        key = (grid_size, float(zoom), kind, self.step, self.diverged, self.data_version,
               self.cfg.method)
        cached = self._frame_cache
        if cached is not None and cached[0] == key:
            return dict(cached[1])
        payload = self._compute_frame(grid_size, zoom, kind)
        payload["frame_id"] = f"{self.serial}-{next(_SERIALS)}"
        self._frame_cache = (key, payload)
        return dict(payload)

    def history_payload(self) -> dict:
        """The objective chart's data: at most HISTORY_POINTS steps of ELBO, expected
        log-likelihood and −β·KL (`encode_floats`). Separate from `frame`: the chart redraws
        twice a second, so the page sends it about that often rather than with every frame."""
        elbo, ell, kl = self.history_arrays()
        idx, elbo_ds = _downsample(elbo, HISTORY_POINTS)
        return {
            "step": encode_floats(idx + 1),
            "elbo": encode_floats(elbo_ds),
            "ell": encode_floats(ell[idx]),
            "neg_kl": encode_floats(-self.cfg.kl_weight * kl[idx]),
            "method": self.cfg.method,
            "last_step": self.step,
        }

    def _compute_frame(self, grid_size: int, zoom: float, kind: str) -> dict:
        every = np.concatenate([self.data.x_train, self.data.x_test])
        xs, ys, grid = predict.make_grid(every, grid_size, margin=0.5, zoom=zoom)
        pred = self.summary(grid)
        shape = (len(ys), len(xs))
        uncertainty = getattr(pred, kind).reshape(shape)
        bx, by, bgrid = predict.make_grid(every, BOUNDARY_GRID, margin=0.5, zoom=zoom)
        boundary_x: list[np.ndarray] = []
        boundary_y: list[np.ndarray] = []
        if self.cfg.method == "vi":
            sample_probs = self.probs(bgrid, NUM_BOUNDARY_SAMPLES,
                                      jax.random.fold_in(self.display_key, 7))
            for p in sample_probs:
                sx, sy = contour.segments(p.reshape(BOUNDARY_GRID, BOUNDARY_GRID), float(bx[0]),
                                          float(bx[1] - bx[0]), float(by[0]),
                                          float(by[1] - by[0]))
                boundary_x.append(sx)
                boundary_y.append(sy)
        return {
            "grid": {"x0": float(xs[0]), "dx": float(xs[1] - xs[0]), "y0": float(ys[0]),
                     "dy": float(ys[1] - ys[0]), "nx": len(xs), "ny": len(ys)},
            "mean": encode_grid(pred.mean.reshape(shape), 1.0),
            "uncertainty": encode_grid(uncertainty, float(np.log(2))),
            "uncertainty_kind": kind,
            "uncertainty_max": float(np.log(2)),
            # Arrays go as compact base64 strings (`encode_segments`, `encode_floats`).
            "boundaries": encode_segments(
                np.concatenate(boundary_x or [np.zeros(0)]),
                np.concatenate(boundary_y or [np.zeros(0)]),
                (float(bx[0]), float(bx[-1]), float(by[0]), float(by[-1]))),
            "data_version": self.data_version,
            "train": points_payload(self.data.x_train, self.data.y_train),
            "test": points_payload(self.data.x_test, self.data.y_test),
            "step": self.step,
        }


def points_payload(x: np.ndarray, y: np.ndarray) -> dict:
    """Points for the live chart: coordinates as `encode_floats`, classes as a '0'/'1' string."""
    return {"x": encode_floats(x[:, 0]), "y": encode_floats(x[:, 1]),
            "c": (np.asarray(y, np.uint8) + ord("0")).tobytes().decode("ascii"), "n": len(y)}


# Settings a running session can take without starting over: optimisation hyperparameters are
# traced arguments; steps per redraw and the step budget only choose the engine / stop point.
LIVE_FIELDS = ("lr", "kl_weight", "prior_std", "steps", "steps_per_chunk", "grid_size")


def needs_reset(old: TrainConfig, new: TrainConfig) -> bool:
    """True when `new` changes the data, the architecture or the method's static settings."""
    return any(getattr(old, f) != getattr(new, f)
               for f in TrainConfig.__dataclass_fields__ if f not in LIVE_FIELDS)


def reconfigure(run: Run, cfg: TrainConfig) -> None:
    """Apply live settings to a running `run` (no reset; never recompiles for lr/β/σ)."""
    with run.lock:
        run.update_hyper(cfg)
        run.cfg = run.cfg.replace(steps=cfg.steps, steps_per_chunk=cfg.steps_per_chunk,
                                  grid_size=cfg.grid_size)
        if cfg.steps_per_chunk != run.engine.static.steps_per_chunk:
            run.engine = train.compiled(
                train.StaticConfig.from_config(run.cfg, len(run.data.x_train)))


def set_data(run: Run, data: PlaygroundData) -> None:
    """Swap the training data (e.g. a clicked point) keeping the parameters: the state's shapes
    do not depend on the data; a new bucket size selects another engine."""
    with run.lock:
        run.data = data
        run.engine = train.compiled(train.StaticConfig.from_config(run.cfg, len(data.x_train)))
        run.batch = train.make_batch(data.x_train, data.y_train, run.engine.static.data_bucket)


def far_entropy(run: Run) -> tuple[float, float]:
    """Mean predictive entropy on the test points and on probes ≥ 2 units from all training
    points (`predict.far_probe_points`): how much more the model says "I don't know" far away."""
    _, test_pred, far_pred = run._evaluation()
    far = far_pred.total.mean() if len(far_pred.total) else float("nan")
    return float(test_pred.total.mean()), float(far)


def encode_added(points: list[tuple[float, float, int]]) -> str:
    """Clicked points for the URL: 'x:y:c;x:y:c' with 3 decimals."""
    return ";".join(f"{x:.3f}:{y:.3f}:{c}" for x, y, c in points)


def decode_added(text: str) -> tuple[list[tuple[float, float, int]], str | None]:
    """Parse `encode_added`'s format; returns (points, notice or None). Malformed or
    out-of-range entries are dropped with a notice; at most MAX_ADDED_POINTS are kept."""
    points: list[tuple[float, float, int]] = []
    bad = 0
    for part in str(text).split(";")[: MAX_ADDED_POINTS + 1]:
        if not part:
            continue
        fields = part.split(":")
        try:
            x, y, c = float(fields[0]), float(fields[1]), int(fields[2])
            ok = len(fields) == 3 and c in (0, 1) and abs(x) <= 50 and abs(y) <= 50
        except (ValueError, IndexError):
            ok = False
        if ok:
            points.append((x, y, c))
        else:
            bad += 1
    notice = None
    if len(points) > MAX_ADDED_POINTS:
        points = points[:MAX_ADDED_POINTS]
        notice = f"Kept the first {MAX_ADDED_POINTS} added points."
    if bad:
        notice = f"Ignored {bad} malformed added point(s) in the link."
    return points, notice


class TrainingSlots:
    """A server-wide bound on concurrent training chunks. `slot(timeout)` yields whether a slot
    was obtained in time; a session that got none skips this tick and shows that it waits."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._semaphore = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.active = 0
        self.waiting = 0

    @contextlib.contextmanager
    def slot(self, timeout: float | None = None):
        with self._lock:
            self.waiting += 1
        acquired = self._semaphore.acquire(timeout=timeout)
        with self._lock:
            self.waiting -= 1
            self.active += int(acquired)
        try:
            yield acquired
        finally:
            if acquired:
                with self._lock:
                    self.active -= 1
                self._semaphore.release()


TRAINING_SLOTS = TrainingSlots(config.MAX_CONCURRENT_RUNS)


class Trainer:
    """Trains a `Run` in a background thread while its session only draws.

    Rendering and training then overlap (JAX releases the GIL while a chunk runs), so the redraw
    rate no longer waits for each chunk. Each chunk takes a server-wide `TrainingSlots` slot; a
    trainer that gets none in time marks itself `waiting` and tries again. It stops on `stop()`,
    when the run is finished or diverged, or when its session has not called `touch()` for
    `idle_timeout` seconds (the learner closed the tab).
    """

    def __init__(self, run: Run, slots: TrainingSlots | None = None,
                 idle_timeout: float = 15.0, duty: float = 1.0) -> None:
        self.run = run
        self.slots = slots or TRAINING_SLOTS
        self.idle_timeout = idle_timeout
        # Share of wall time spent training: below 1 it rests after each chunk, leaving the
        # CPU to the renderer (on a 2-core machine the browser and the server share it too).
        self.duty = min(max(duty, 0.05), 1.0)
        self.waiting = False
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_seen = time.monotonic()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def touch(self) -> None:
        self._last_seen = time.monotonic()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self.touch()
        thread = threading.Thread(target=self._loop, name="bnnlab-trainer", daemon=True)
        thread.start()  # may raise (no thread to be had): then there is nothing to stop later
        self._thread = thread

    def stop(self, wait: bool = True) -> None:
        self._stop.set()
        thread = self._thread
        if wait and thread is not None and thread.is_alive() \
                and thread is not threading.current_thread():
            thread.join(timeout=30)

    def _loop(self) -> None:
        try:
            while not self._stop.is_set() and not self.run.finished:
                if time.monotonic() - self._last_seen > self.idle_timeout:
                    break
                started = time.perf_counter()
                with self.slots.slot(timeout=0.25) as got:
                    self.waiting = not got
                    if got:
                        self.run.advance()
                busy = time.perf_counter() - started if got else 0.0
                # Let the session's renderer and other sessions in between chunks.
                self._stop.wait(0.001 + busy * (1.0 / self.duty - 1.0))
        except Exception as err:  # noqa: BLE001 - reported in the page, never a traceback
            self.error = f"{type(err).__name__}: {err}"
        finally:
            self.waiting = False
