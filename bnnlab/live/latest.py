"""The latest value of a costly computation a page shows (Compare's report), computed in a slot
of the server-wide pool on a worker thread, never on the page's own thread.

A page asks for the value of a key (e.g. the grid and every run's snapshot) on each rerun:
`Latest.get` starts at most one computation at a time, waits a little for it, and otherwise
returns the last value it has (the page draws that and asks again on its next tick). A request
for another key supersedes a computation still waiting for its slot (it is cancelled, never
run); one already running is not interrupted, and its value is kept as the last one.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from bnnlab.core import limits
from bnnlab.live import scheduler

T = TypeVar("T")
POLL_S = 0.25  # how often a long wait calls its `while_waiting`


class Latest(Generic[T]):
    """The last computed value, and at most one computation of a newer one in a slot."""

    def __init__(self, slots: scheduler.Slots | None = None,
                 wait_timeout: float = limits.COMPILE_WAIT_S) -> None:
        self.slots = slots or scheduler.ACCELERATOR
        self.wait_timeout = wait_timeout
        self.value: T | None = None
        self.key: Hashable | None = None
        self.error: BaseException | None = None  # what the last computation raised, if it did
        self._future: concurrent.futures.Future[T] | None = None
        self._future_key: Hashable | None = None
        self._lock = threading.Lock()

    @property
    def pending(self) -> bool:
        """A computation is waiting for its slot or running."""
        future = self._future
        return future is not None and not future.done()

    def get(self, key: Hashable, compute: Callable[[], T], wait_s: float,
            while_waiting: Callable[[], None] | None = None) -> T | None:
        """The value for `key` if it is computed within `wait_s` s (computing it in a slot if
        no computation of it is under way), else the last value (None before the first).
        `while_waiting()` is called every `POLL_S` s of the wait (e.g. to keep a trainer whose
        page waits here from stopping as if its tab had closed)."""
        with self._lock:
            self._collect()
            if self.key == key and self.error is None:
                return self.value
            if self._future is None or (self._future_key != key and self._future.cancel()):
                self._future_key = key
                self._future = self.slots.submit(compute, wait_timeout=self.wait_timeout)
            future = self._future
        deadline = time.monotonic() + max(wait_s, 0.0)
        while not future.done() and (left := deadline - time.monotonic()) > 0:
            concurrent.futures.wait([future], timeout=min(left, POLL_S))
            if while_waiting is not None:
                while_waiting()
        with self._lock:
            self._collect()
            return self.value

    def _collect(self) -> None:
        """Take a finished computation's value (or its error); under the lock."""
        future = self._future
        if future is None or not future.done():
            return
        self._future = None
        if future.cancelled():
            return
        self.error = future.exception()
        if self.error is None:
            self.value, self.key = future.result(), self._future_key
