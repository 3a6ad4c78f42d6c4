"""What a learner may measure on the "JAX in code" page, and how a measurement runs.

The timing demos themselves are `bnnlab.lessons.jax_demos`. Here:

- the cost budget: the sizes a learner may pick (`measurement_size` maps any widget or
  session-state value into them) and the work each measurement does (`run_measurement`);
- `Measurement`: one measurement running on a worker of a `scheduler.Slots` pool, never on the
  page's script thread, so a rerun or a closed tab cannot leak its slot;
- each visitor's queue of Measure clicks, kept in a session-state mapping (`request`,
  `collect_and_start`): the page passes `st.session_state`, a test a plain dict;
- the sentences and metrics the page shows around a measurement, so that they are tested here.

No streamlit: nothing here imports it.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, NamedTuple

from bnnlab.lessons import jax_demos as jd
from bnnlab.live import scheduler

# ----------------------------------------------------------------- what a learner may measure
# The cost budget of a measurement: the sizes a learner can pick are these and no more, chosen
# so that one measurement at the largest of them takes a few seconds on a 2-core CPU once JAX's
# per-shape warm-up is paid. Larger networks or more points only slow the demo down without
# changing its lesson.
NETWORKS: dict[str, tuple[int, ...]] = {"16,16": (16, 16), "32,32": (32, 32)}
DEFAULT_NETWORK = "32,32"
POINT_CHOICES = (128, 256)
DEFAULT_POINTS = 256
CHUNK_CHOICES = (10, 50, 100)  # K of the lax.scan demo
DEFAULT_CHUNK = 50
NUM_SAMPLES = 8  # MC samples of the timed VI step, as in the playground
SAMPLE_COUNTS = (1, 4, 16, 64)  # S of the vmap demo: one compile each
EAGER_CALLS = 3  # eager VI steps timed (op by op from Python: the slow side)
JIT_CALLS = 20  # jitted VI steps timed
VMAP_REPEATS = 3  # timed repeats per sample count, each way
SCAN_TOTAL_STEPS = 300  # training steps timed each way in the scan demo
SCAN_ROUNDS = 3
# The longest a measurement waits for a slot of the server-wide accelerator pool before it gives
# up with a message (training chunks share the pool).
MEASUREMENT_WAIT_S = 60.0
# Below this scan speed-up the page explains why K steps per call gained little.
LITTLE_SCAN_GAIN = 1.3

MEASUREMENTS = {  # kind -> what the progress line says is being measured
    "jit": "one VI step with and without jit",
    "vmap": "the MC estimate, loop vs vmap",
    "scan": "1 vs K steps per call",
}


class MeasurementSize(NamedTuple):
    """The validated size of the timing demos."""

    hidden: tuple[int, ...]
    num_points: int
    steps_per_chunk: int

    def describe(self) -> str:
        return f"MLP 2-{'-'.join(map(str, self.hidden))}-1 on {self.num_points} moons points"


def measurement_size(network: object, num_points: object,
                     steps_per_chunk: object) -> tuple[MeasurementSize, list[str]]:
    """Map widget (or session-state) values to a size within the budget.

    Anything not among the allowed choices falls back to the default, with a notice saying so.
    """
    notices = []
    if network not in NETWORKS:
        notices.append(f"Hidden layers {network!r} is not offered; using {DEFAULT_NETWORK}.")
        network = DEFAULT_NETWORK
    if num_points not in POINT_CHOICES:
        notices.append(f"{num_points!r} training points is not offered; using "
                       f"{DEFAULT_POINTS}.")
        num_points = DEFAULT_POINTS
    if steps_per_chunk not in CHUNK_CHOICES:
        notices.append(f"K = {steps_per_chunk!r} is not offered; using {DEFAULT_CHUNK}.")
        steps_per_chunk = DEFAULT_CHUNK
    return MeasurementSize(NETWORKS[str(network)], int(num_points), int(steps_per_chunk)), notices


def run_measurement(kind: str, size: MeasurementSize,
                    on_progress: Callable[[float], None] | None = None) -> Any:
    """Run one of the page's measurements at `size` (a `JitTiming`, `VmapTiming` or
    `ScanTiming`), with the work bounded by the constants above.

    The timing functions are looked up on `jax_demos` at call time, so a test can replace one.
    """
    if kind == "jit":
        timing = jd.time_vi_step(size.hidden, size.num_points, num_samples=NUM_SAMPLES,
                                 eager_calls=EAGER_CALLS, jit_calls=JIT_CALLS)
        if on_progress is not None:
            on_progress(1.0)
        return timing
    if kind == "vmap":
        return jd.time_expected_log_likelihood(SAMPLE_COUNTS, size.hidden, size.num_points,
                                               repeats=VMAP_REPEATS, on_progress=on_progress)
    if kind == "scan":
        return jd.time_scan(size.steps_per_chunk, total_steps=SCAN_TOTAL_STEPS,
                            hidden=size.hidden, num_points=size.num_points,
                            num_samples=NUM_SAMPLES, rounds=SCAN_ROUNDS, on_progress=on_progress)
    raise ValueError(f"unknown measurement {kind!r}; expected one of {sorted(MEASUREMENTS)}")


# ------------------------------------------------------------------- one measurement on a pool

class Measurement:
    """One measurement submitted to a `scheduler.Slots` pool, followed by a page.

    It runs on the pool's worker thread, never on the Streamlit script thread, so a rerun that
    interrupts the page while it waits cannot leak the slot: the page only reads `state`,
    `progress` and, when done, `outcome()`.
    """

    def __init__(self, kind: str, size: MeasurementSize, slots: scheduler.Slots,
                 wait_timeout: float = MEASUREMENT_WAIT_S) -> None:
        self.kind = kind
        self.size = size
        self.label = MEASUREMENTS[kind]
        self.slots = slots
        self.progress = 0.0  # written by the worker, read by the page
        self.others_at_start: int | None = None  # other jobs holding slots when it started
        self.future: concurrent.futures.Future = slots.submit(self._work,
                                                              wait_timeout=wait_timeout)

    def _work(self) -> Any:
        self.others_at_start = max(self.slots.in_use() - 1, 0)
        return run_measurement(self.kind, self.size, self._on_progress)

    def _on_progress(self, fraction: float) -> None:
        self.progress = min(max(float(fraction), 0.0), 1.0)

    @property
    def state(self) -> str:
        """'waiting' (for a slot), 'running' or 'done'."""
        if self.future.done():
            return "done"
        return "running" if self.future.running() else "waiting"

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` s for the measurement to finish; True when it has."""
        done, _ = concurrent.futures.wait([self.future], timeout=timeout)
        return bool(done)

    def outcome(self) -> Any | str:
        """The timing, or a sentence saying why there is none (never a traceback)."""
        try:
            return self.future.result(timeout=0)
        except scheduler.SlotTimeout as err:
            return str(err)
        except concurrent.futures.CancelledError:
            return "The measurement was cancelled."
        except Exception as err:  # noqa: BLE001 - a page never shows a traceback
            return f"The measurement failed ({type(err).__name__}); try a smaller size."


def start_measurement(kind: str, size: MeasurementSize,
                      slots: scheduler.Slots | None = None,
                      wait_timeout: float = MEASUREMENT_WAIT_S) -> Measurement:
    """Submit a measurement to `slots` (default: the server-wide accelerator pool)."""
    if kind not in MEASUREMENTS:
        raise ValueError(f"unknown measurement {kind!r}; expected one of {sorted(MEASUREMENTS)}")
    return Measurement(kind, size, slots or scheduler.ACCELERATOR, wait_timeout)


# ------------------------------------------------------------ a visitor's queue of measurements
# Session-state keys: the running measurement (or None), the kinds waiting behind it, and per
# kind its outcome and how many other jobs held the pool when it started.
PENDING_KEY = "jax_pending"
QUEUE_KEY = "jax_queue"


def result_key(kind: str) -> str:
    """Session-state key of a measurement's outcome: a timing, or a sentence saying why not."""
    return f"jax_{kind}_result"


def shared_key(kind: str) -> str:
    """Session-state key of the number of other jobs on the pool when `kind` started."""
    return result_key(kind) + "_shared"


def pending_measurement(state: Mapping[str, Any], kind: str | None = None) -> Measurement | None:
    """The visitor's running (or waiting) measurement; with `kind`, only if it is that one."""
    pending = state.get(PENDING_KEY)
    return pending if pending is not None and kind in (None, pending.kind) else None


def request(state: MutableMapping[str, Any], kind: str) -> None:
    """A Measure click: queue `kind` unless it is already queued or running."""
    queue = state.setdefault(QUEUE_KEY, [])
    if kind not in queue and pending_measurement(state, kind) is None:
        queue.append(kind)


def collect_and_start(state: MutableMapping[str, Any], size: MeasurementSize,
                      slots: scheduler.Slots, wait_timeout: float) -> None:
    """Store a finished measurement's outcome, then start the next queued one (if any) at
    `size` on `slots`. One measurement per visitor runs at a time."""
    pending = state.get(PENDING_KEY)
    if pending is not None and pending.state == "done":
        state[result_key(pending.kind)] = pending.outcome()
        state[shared_key(pending.kind)] = pending.others_at_start
        state[PENDING_KEY] = pending = None
    queue = state.setdefault(QUEUE_KEY, [])
    if pending is None and queue:
        kind = queue.pop(0)
        try:
            state[PENDING_KEY] = start_measurement(kind, size, slots, wait_timeout=wait_timeout)
        except RuntimeError as err:  # no worker thread to be had
            state[result_key(kind)] = f"The measurement could not start ({err}); try again."


# ------------------------------------------------------------------------ what the page says

def format_duration(seconds: float) -> str:
    """'1.43 ms' below a second, '6.54 s' above."""
    return f"{seconds:.3g} s" if seconds >= 1 else f"{seconds * 1e3:.3g} ms"


def size_caption(capacity: int) -> str:
    """Why the sizes stop where they do, for a pool of `capacity` slots."""
    return (f"Sizes stop at {max(POINT_CHOICES)} points and {list(NETWORKS)[-1]} hidden units "
            "so that one measurement takes a few seconds on a 2-core CPU: measurements share "
            f"the server's accelerator ({capacity} slots) with everyone's training, and a "
            "bigger network would not change the lesson.")


def waiting_message(capacity: int, wait_s: float) -> str:
    """What a measurement waiting for a slot of a full pool says."""
    return (f"Waiting for the accelerator: all {capacity} of its slots are busy with other "
            "visitors' training or measurements. Yours starts as soon as one is free "
            f"(at most {wait_s:.0f} s).")


def progress_text(label: str, device: str) -> str:
    """The progress bar's text while a measurement runs."""
    return f"Measuring {label} on {device}…"


def queued_caption(state: Mapping[str, Any]) -> str:
    """What a queued measurement waits behind."""
    pending = pending_measurement(state)
    ahead = pending.label if pending is not None else "another measurement"
    return f"Queued: runs after your measurement of {ahead}."


def shared_caption(others: int) -> str:
    """Why the times are slower when `others` other jobs held the pool."""
    return (f"{others} other job(s) were using the accelerator when this measurement started, "
            "so these times are slower than on an idle server.")


class Metric(NamedTuple):
    """One number the page shows as an `st.metric`, with its tooltip and caption if any."""

    label: str
    value: str
    help: str | None = None
    caption: str | None = None


def jit_metrics(timing: jd.JitTiming) -> list[Metric]:
    """The jit section's headline: median eager and jitted step, and the speed-up."""
    return [Metric("median step, no jit", format_duration(timing.eager_median_s)),
            Metric("median step, jax.jit", format_duration(timing.jit_median_s)),
            Metric("jit speed-up",
                   f"{jd.speed_up(timing.eager_median_s, timing.jit_median_s):.0f}×")]


def times(count: int) -> str:
    """How many times, in words: "once", "2 times"."""
    return "once" if count == 1 else f"{count:,} times"


def recompile_metrics(timing: jd.JitTiming) -> list[Metric]:
    """A jitted call with a new learning rate (no recompile) and with one more sample (a
    recompile), each with how many times the step has been traced."""
    return [
        Metric("call with a new learning rate", format_duration(timing.new_learning_rate_s),
               "A traced argument: same shapes, same compiled program.",
               f"Traced {times(timing.traces_after_new_learning_rate)} so far: no recompile."),
        Metric(f"call with {NUM_SAMPLES + 1} samples instead of {NUM_SAMPLES}",
               format_duration(timing.new_num_samples_s),
               "The sample count fixes the noise's shape: a new program.",
               f"Traced {times(timing.traces_after_new_num_samples)}: it compiled again."),
    ]


def vmap_metrics(timing: jd.VmapTiming) -> list[Metric]:
    """The vmap section's metrics, at the largest sample count."""
    top = timing.num_samples[-1]
    loop_s, vmap_s = timing.loop_s[-1], timing.vmap_s[-1]
    return [Metric(f"loop, S = {top}", format_duration(loop_s)),
            Metric(f"vmap, S = {top}", format_duration(vmap_s)),
            Metric("vmap speed-up", f"{jd.speed_up(loop_s, vmap_s):.1f}×")]


def vmap_caption(timing: jd.VmapTiming) -> str:
    """That loop and vmap estimate the same number, and where it was measured."""
    return (f"Same estimate either way: the largest difference between loop and vmap is "
            f"{jd.max_estimate_difference(timing):.2g} (float32 rounding). Measured on "
            f"{timing.device}.")


def scan_metrics(timing: jd.ScanTiming) -> list[Metric]:
    """The scan section's metrics: steps/s with 1 and K steps per call, and the speed-up."""
    return [Metric("steps/s, 1 step per call", f"{timing.one_step_steps_per_s:,.0f}"),
            Metric(f"steps/s, {timing.steps_per_chunk} steps per call",
                   f"{timing.k_steps_steps_per_s:,.0f}"),
            Metric("scan speed-up", f"{timing.speed_up:.1f}×")]


def scan_gain_note(timing: jd.ScanTiming) -> str | None:
    """Why K steps per call gained little, with the smaller size to try; None when it gained."""
    if timing.speed_up < LITTLE_SCAN_GAIN:
        return ("Little gain here: on this device one step of this network costs far more "
                f"than a dispatch. Try Hidden layers {list(NETWORKS)[0]} and "
                f"{min(POINT_CHOICES)} points above.")
    return None


def scan_caption(timing: jd.ScanTiming) -> str:
    """How the scan rates were measured."""
    return (f"{timing.total_steps} training steps each way, alternating in {SCAN_ROUNDS} "
            f"rounds, median rate, on {timing.device}. The gain is largest where a step is "
            "cheap next to a dispatch: small networks, or a GPU waiting on Python.")
