"""One server-wide, bounded pool of slots for work that needs the accelerator.

Training chunks and the JAX page's measurements share `ACCELERATOR`, so however many learners
click at once, at most `limits.MAX_CONCURRENT_RUNS` pieces of heavy work run together and the
rest wait (visibly, with a timeout) instead of piling up.

No slot may leak. A slot is held by a token that is registered *inside* the `try` whose `finally`
removes it, so there is no instant at which a slot is taken but its release is not yet armed.
Work submitted with `Slots.submit` runs on a daemon worker thread that takes and releases the slot
itself: whatever interrupts the caller (a Streamlit rerun or stop, a closed tab, an exception while
it waits on the future) cannot reach the code that holds the slot.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import itertools
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar

from bnnlab.core import limits, runtime

T = TypeVar("T")


# How often a queued caller re-checks its give_up() (a stop event is no condition notify).
GIVE_UP_POLL_S = 0.1
SHORT_WORK_S = 0.1  # work expected within this may take the short lane
SHORT_LANE = 6  # the server pool's short lane beside `capacity`: a light session's chunk + frame
USAGE_HALF_LIFE_S = 10.0  # fair share: how fast an account's recent slot time is forgotten


class SlotTimeout(Exception):
    """No slot became free within the timeout; the message says how long and for what."""

    def __init__(self, name: str, waited_s: float, capacity: int) -> None:
        self.name = name
        self.waited_s = waited_s
        self.capacity = capacity
        super().__init__(
            f"Waited {waited_s:.1f} s for the {name}, but all {capacity} slot(s) stayed busy "
            f"with other work. Try again in a moment.")


class Slots:
    """A bounded pool of server-wide slots (e.g. the accelerator).

    `hold(timeout)` is a context manager for code that runs on a thread no one interrupts (a
    trainer thread); `submit(fn, ..., wait_timeout=...)` is the door for a Streamlit script
    thread, which a rerun can interrupt at any `st.*` call.
    """

    def __init__(self, capacity: int, name: str = "accelerator",
                 short_capacity: int = 0) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        # A short lane beside the slots: work expected to take at most SHORT_WORK_S (a light
        # session's chunk or frame) never queues behind multi-second heavy work.
        self.short_capacity = short_capacity
        self._short: set[object] = set()
        self.name = name
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._holders: set[object] = set()  # one token per slot in use
        self._waiting = 0
        # Waiters in arrival order: a free slot goes to the longest waiter, so a trainer that
        # releases its slot and asks again at once queues behind a session already waiting
        # (without it, sessions near the budget starved another: docs/BENCHMARKS.md).
        self._queue: collections.deque[object] = collections.deque()
        # Waiters that jump the queue (`hold(priority=True)`): a session's first chunk and first
        # frame after Train, so a learner who just pressed Train waits for at most the work
        # already running, not for every heavy session's next chunk (fair share).
        self._priority: set[object] = set()
        # Fair share between sessions: waiters with an account (a session's run) are served
        # least-recent-usage first, so a light session is not queued behind every heavy
        # session's next multi-second chunk and frame.
        self._accounts: dict[object, Hashable] = {}
        self._usage: dict[Hashable, tuple[float, float]] = {}  # account -> (seconds, when)
        self._held_since: dict[object, float] = {}
        self._arrival: dict[object, int] = {}
        self._arrivals = itertools.count()
        # Hand-off: a freed slot is given to the waiter it goes to, which alone is woken (its
        # own condition on the pool's lock). Waking every waiter on every release to let each
        # compute its rank costs the server's Python time in proportion to the waiters (a class
        # of 20 has 40: trainers and frame pumps; docs/BENCHMARKS.md).
        self._wakers: dict[object, threading.Condition] = {}
        self._short_ok: set[object] = set()  # waiters whose work may take the short lane
        self._granted: set[object] = set()  # waiters handed a place, not yet awake
        # Closed at interpreter exit (`close`): no slot is handed out any more.
        self.closed = False
        _POOLS.add(self)

    def in_use(self) -> int:
        """Slots held right now."""
        with self._cond:
            return len(self._holders)

    def waiting(self) -> int:
        """Callers waiting for a slot right now."""
        with self._cond:
            return self._waiting

    def wait_for_waiting(self, count: int, timeout: float) -> bool:
        """Block until at least `count` callers wait for a slot (True), or `timeout` s pass."""
        with self._cond:
            return self._cond.wait_for(lambda: self._waiting >= count, timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Block until no slot is held and nobody waits (True), or `timeout` s pass (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._holders and not self._waiting, timeout)

    def usage(self, account: Hashable) -> float:
        """Slot-seconds `account` held recently (halving every `USAGE_HALF_LIFE_S`)."""
        with self._cond:
            return self._usage_now(account, time.monotonic())

    def _usage_now(self, account: Hashable, now: float) -> float:
        value, stamp = self._usage.get(account, (0.0, now))
        return value * 0.5 ** ((now - stamp) / USAGE_HALF_LIFE_S)

    def _charge(self, account: Hashable, seconds: float) -> None:
        now = time.monotonic()
        self._usage[account] = (self._usage_now(account, now) + seconds, now)
        if len(self._usage) > 1000:  # forget accounts whose usage has decayed away
            for key in [k for k in self._usage if self._usage_now(k, now) < 1e-3]:
                del self._usage[key]

    def _order(self, now: float):
        """Sort key of waiters: priority first, then the least recent slot usage of its
        account (no account: none), then arrival."""
        def order(t: object) -> tuple[int, float, int]:
            account = self._accounts.get(t)
            usage = 0.0 if account is None else self._usage_now(account, now)
            return (0 if t in self._priority else 1, usage, self._arrival[t])
        return order

    def _grant(self, token: object, lane: set[object]) -> None:
        lane.add(token)
        self._granted.add(token)
        self._held_since[token] = time.monotonic()
        self._wakers[token].notify()

    def _dispatch(self) -> None:
        """Hand free places to waiters (under the lock): the slots to the best-ranked waiters,
        then free places of the short lane to the best-ranked waiters with short work."""
        free = self.capacity - len(self._holders)
        free_short = self.short_capacity - len(self._short)
        if self.closed or (free <= 0 and free_short <= 0) or len(self._granted) >= len(self._queue):
            return
        ranked = sorted((t for t in self._queue if t not in self._granted),
                        key=self._order(time.monotonic()))
        for token in ranked[:max(free, 0)]:
            self._grant(token, self._holders)
        if free_short > 0:
            shorts = [t for t in ranked[max(free, 0):] if t in self._short_ok]
            for token in shorts[:free_short]:
                self._grant(token, self._short)

    def _acquire(self, token: object, timeout: float,
                 give_up: Callable[[], bool] = lambda: False,
                 on_wait: Callable[[], None] | None = None, priority: bool = False,
                 account: Hashable | None = None, cost_s: float | None = None) -> bool:
        """Add `token` to the holders within `timeout` s; False if `give_up()` turned true first
        (polled at least every `GIVE_UP_POLL_S`). `on_wait()` is called once if the caller has to
        queue, so it can say that it waits. Waiters are served in `_order`: `priority` first,
        then the `account` that used the slots least recently, then first come. Work whose
        expected `cost_s` is at most `SHORT_WORK_S` takes a free place in the short lane at once
        instead, or the first that frees while it waits."""
        started = time.monotonic()
        deadline = started + max(timeout, 0.0)
        short = cost_s is not None and cost_s <= SHORT_WORK_S
        with self._cond:
            if account is not None:
                self._accounts[token] = account
            if (short and len(self._short) < self.short_capacity and not self.closed
                    and not give_up()):
                self._short.add(token)
                self._held_since[token] = started
                return True
            self._waiting += 1
            self._queue.append(token)
            self._arrival[token] = next(self._arrivals)
            self._wakers[token] = waker = threading.Condition(self._lock)
            if priority:
                self._priority.add(token)
            if short:
                self._short_ok.add(token)
            granted = False
            try:
                self._cond.notify_all()  # observers of waiting() (tests, wait_idle)
                if give_up():
                    return False
                self._dispatch()
                while True:
                    if token in self._granted:
                        granted = True
                        return True
                    if give_up():
                        return False
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise SlotTimeout(self.name, time.monotonic() - started, self.capacity)
                    if on_wait is not None:
                        on_wait()
                        on_wait = None
                    waker.wait(min(left, GIVE_UP_POLL_S))
            finally:
                self._waiting -= 1
                self._queue.remove(token)
                self._priority.discard(token)
                self._arrival.pop(token, None)
                self._wakers.pop(token, None)
                self._short_ok.discard(token)
                self._granted.discard(token)
                if not granted and (token in self._holders or token in self._short):
                    # handed a place while leaving (an exception in give_up / on_wait)
                    self._holders.discard(token)
                    self._short.discard(token)
                    self._held_since.pop(token, None)
                    self._dispatch()
                self._cond.notify_all()  # wait_idle() and other observers watch this

    def _release(self, token: object) -> None:
        with self._cond:
            account = self._accounts.pop(token, None)
            since = self._held_since.pop(token, None)
            held = token in self._holders or token in self._short
            self._holders.discard(token)  # idempotent: the token may never have been added
            self._short.discard(token)
            if held:
                if account is not None and since is not None:
                    self._charge(account, time.monotonic() - since)
                self._dispatch()
                self._cond.notify_all()

    def _wake(self, _future: object = None) -> None:
        with self._cond:
            for waker in self._wakers.values():  # a cancelled `submit` stops waiting now
                waker.notify()
            self._cond.notify_all()

    @contextlib.contextmanager
    def hold(self, timeout: float, give_up: Callable[[], bool] = lambda: False,
             on_wait: Callable[[], None] | None = None,
             priority: bool = False, account: Hashable | None = None,
             cost_s: float | None = None) -> Iterator[None]:
        """Hold one slot for the body; wait at most `timeout` s, else raise `SlotTimeout`.

        A caller that waits keeps its place in the first-come queue for the whole wait: a
        trainer that waits in short timeouts and queues again would go to the back each time,
        and sessions that release and re-take slots back to back would starve it. `give_up()`
        ends the wait early (SlotTimeout), e.g. on Pause; `on_wait()` is called once when the
        caller has to queue.
        `priority` queues ahead of every waiter without it (behind earlier priority waiters);
        among the rest, the `account` (e.g. a session's run) with the least slot time in the
        last seconds goes first (`usage`), then first come. Work expected to take at most
        `SHORT_WORK_S` (`cost_s`) runs in the short lane when it has room, without queueing.
        The slot is released on any exit, exceptions and `BaseException`s included.
        """
        token = object()
        started = time.monotonic()
        try:
            if not self._acquire(token, timeout, give_up, on_wait, priority, account, cost_s):
                raise SlotTimeout(self.name, time.monotonic() - started, self.capacity)
            yield
        finally:
            self._release(token)

    def submit(self, fn: Callable[..., T], *args: Any, wait_timeout: float,
               **kwargs: Any) -> concurrent.futures.Future[T]:
        """Run `fn(*args, **kwargs)` on a daemon worker thread that holds a slot while it runs.

        The future stays pending while the worker waits for a slot (so `future.running()` is
        False: the caller can say "waiting for the accelerator"), then runs; it raises
        `SlotTimeout` if no slot came within `wait_timeout` s, or whatever `fn` raised. The slot
        is free again before the future completes. `future.cancel()` while it waits ends the wait
        at once; a running `fn` is never interrupted, and the worker releases its slot in a
        `finally` of its own.
        """
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        future.add_done_callback(self._wake)  # a cancelled waiter stops waiting now

        def work() -> None:
            ok, value = False, None
            token = object()
            try:
                if not self._acquire(token, wait_timeout, give_up=future.cancelled):
                    return  # cancelled while waiting
                if not future.set_running_or_notify_cancel():
                    return  # cancelled just as a slot came free: give it back unused
                try:
                    ok, value = True, fn(*args, **kwargs)
                except BaseException as err:  # noqa: BLE001 - handed to the caller
                    value = err
            except SlotTimeout as err:
                value = err
            finally:
                self._release(token)
            # The slot is free before the future completes: a caller that sees the result can
            # count on in_use() no longer including this work.
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

        thread = threading.Thread(target=work, name=f"bnnlab-{self.name}", daemon=True)
        thread.start()  # may raise (no thread to be had): then no slot was taken
        return future

    def close(self) -> None:
        """Hand out no slot any more (interpreter exit): holders finish their work, waiters wait
        until their timeout or `give_up()` as if every slot stayed busy (none of them spins)."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def wait_released(self, timeout: float) -> bool:
        """Block until no slot (short lane included) is held (True), or `timeout` s pass."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._holders and not self._short, timeout)

    def resize(self, capacity: int) -> None:
        """Change the capacity (for tests); holders above a smaller capacity finish normally."""
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        with self._cond:
            self.capacity = capacity
            self._dispatch()
            self._cond.notify_all()


_POOLS: weakref.WeakSet[Slots] = weakref.WeakSet()
# live.push's frame pumps: they run JAX only inside a slot (`Pump._loop`), so a closed pool
# without holders makes them safe at exit, though they do not end.
PUMP_THREAD = "bnnlab-push"


def _close_at_exit(deadline: float) -> list[str]:
    """At interpreter exit: close every pool and wait (until `deadline`) until no slot is held,
    so that no work that runs JAX inside a slot is still running; the threads that this makes
    safe (slot workers, frame pumps) need not end."""
    pools = list(_POOLS)
    for pool in pools:
        pool.close()
    for pool in pools:
        pool.wait_released(max(0.0, deadline - time.monotonic()))
    return [PUMP_THREAD, *(f"bnnlab-{pool.name}" for pool in pools)]


runtime.on_exit(_close_at_exit)

# The one server-wide pool: training chunks and the JAX page's measurements.
ACCELERATOR = Slots(limits.MAX_CONCURRENT_RUNS, short_capacity=SHORT_LANE)
