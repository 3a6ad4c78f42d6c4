"""The one trainer: a target trained on a background thread while its page only draws.

A target is anything `Trainable`: a `live.run.Run`, or several runs taking turns
(`lessons.compare.Comparison`). Every chunk holds a slot of the server-wide pool
`scheduler.ACCELERATOR`; without one the trainer says it is waiting and keeps its place in the
queue.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Protocol

from bnnlab.core import limits, runtime
from bnnlab.core.errors import ConfigError
from bnnlab.live import scheduler
from bnnlab.live.compile_cache import CompileBusy
from bnnlab.live.status import LIVE, Status, status_of

__all__ = ["LIVE", "Status", "Trainable", "Trainer", "friendly_error", "status_of"]

_LOG = logging.getLogger(__name__)


class Trainable(Protocol):
    """What a trainer trains."""

    @property
    def finished(self) -> bool: ...

    @property
    def compiled(self) -> bool: ...

    def ensure_compiled(self, slots: scheduler.Slots, timeout: float) -> None: ...

    def advance(self, max_steps: int | None = None) -> int: ...


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


_TRAINERS: weakref.WeakSet[Trainer] = weakref.WeakSet()


def _stop_at_exit(deadline: float) -> None:
    """At interpreter exit: every trainer stops after its chunk (its thread is joined by
    `runtime.stop_background_work`)."""
    for trainer in list(_TRAINERS):
        trainer.stop(wait=False)


runtime.on_exit(_stop_at_exit)


class Trainer:
    """Trains `target` on a background thread while its session only draws.

    Every chunk holds a slot of `slots`; without one it marks itself `waiting` and keeps its
    place in the queue. It stops on `stop()`, when the target is finished, after `max_steps`
    steps (the Step button), on an error (`error`, a message for the page), or when its page
    has not called `touch()` for `idle_timeout` s (the learner closed the tab).

    Each start gets its own stop event: a thread still inside a long chunk after `stop()` exits
    when the chunk ends, and a `start()` meanwhile starts a new thread at once (the run's lock
    lets its first chunk wait for the old one).
    """

    def __init__(self, target: Trainable, slots: scheduler.Slots | None = None,
                 idle_timeout: float = limits.IDLE_TIMEOUT_S,
                 wait_s: float = limits.SLOT_WAIT_S, join_timeout: float = 2.0) -> None:
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
        # `start` is called from the page, the push route's commands and the live view: two at
        # once must not start two threads.
        self._start_lock = threading.Lock()
        _TRAINERS.add(self)

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stop.is_set()

    def touch(self) -> None:
        """The page is still there: keep training."""
        self._last_seen = time.monotonic()

    def start(self, max_steps: int | None = None) -> None:
        """Train (at most `max_steps` more steps when given); a no-op while running."""
        with self._start_lock:
            if self.running:
                return
            if runtime.exiting():  # no new thread inside XLA at interpreter exit
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

    def join(self, timeout: float) -> bool:
        """Wait until the thread has ended or `timeout` s passed; whether it has ended."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.running

    def _mark_waiting(self) -> None:
        self.waiting = True

    def _idle(self) -> bool:
        return time.monotonic() - self._last_seen > self.idle_timeout

    def _compile(self) -> None:
        """One attempt at compiling the target's chunk, saying whether it waits meanwhile."""
        self.compiling = True
        try:
            self.target.ensure_compiled(self.slots, self.wait_s)
            self.waiting = self.compiling = False
        except scheduler.SlotTimeout:
            self.waiting = True
        except CompileBusy:  # another session compiles it: wait for that
            self.waiting = False

    def _loop(self, stop: threading.Event, max_steps: int | None) -> None:
        done = 0
        try:
            while not stop.is_set() and not self.target.finished and not self._idle():
                if not self.target.compiled:
                    self._compile()
                    continue
                if max_steps is not None and done >= max_steps:
                    break
                try:
                    # Keep a place in the queue until a slot comes, Pause or the idle timeout
                    # (re-queueing every wait_s went to the back each time and starved).
                    with self.slots.hold(self.idle_timeout,
                                         give_up=lambda: stop.is_set() or self._idle(),
                                         on_wait=self._mark_waiting,
                                         priority=done == 0,  # first chunk after Train
                                         account=id(self.target),  # fair share (live.push)
                                         cost_s=getattr(self.target, "expected_chunk_s", None)):
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
