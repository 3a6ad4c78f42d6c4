"""bnnlab.scheduler: bounded, timed-out slots that cannot leak."""

from __future__ import annotations

import concurrent.futures
import ctypes
import re
import threading
import time

import pytest

from bnnlab.core import limits
from bnnlab.live import scheduler

WAIT = 10.0  # generous bound on any event wait: a failure, never a pacing sleep


class Interrupted(BaseException):
    """Stands in for Streamlit's StopException / RerunException (BaseException subclasses)."""


def until(slots: scheduler.Slots, predicate) -> bool:
    """Wait (on the pool's own condition, notified on every change) until predicate() holds."""
    with slots._cond:
        return slots._cond.wait_for(predicate, WAIT)


def test_accelerator_is_one_pool_sized_by_config():
    """The server-wide pool has limits.MAX_CONCURRENT_RUNS slots and starts empty."""
    assert isinstance(scheduler.ACCELERATOR, scheduler.Slots)
    assert scheduler.ACCELERATOR.capacity == limits.MAX_CONCURRENT_RUNS
    assert scheduler.ACCELERATOR.name == "accelerator"


def test_capacity_holds_under_many_threads():
    """With 3 slots and 12 submissions, exactly 3 run at once; the rest wait, then all finish."""
    slots = scheduler.Slots(3, name="test")
    go = threading.Event()
    started = threading.Semaphore(0)
    lock = threading.Lock()
    running, peak = [0], [0]

    def job(i: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        started.release()
        assert go.wait(WAIT)
        with lock:
            running[0] -= 1
        return i * i

    futures = [slots.submit(job, i, wait_timeout=WAIT) for i in range(12)]
    for _ in range(3):
        assert started.acquire(timeout=WAIT)
    assert not started.acquire(timeout=0.2)  # nobody else got in while three hold the slots
    assert slots.in_use() == 3
    assert sum(f.running() for f in futures) == 3
    assert sum(not f.running() and not f.done() for f in futures) == 9  # pending = waiting
    assert until(slots, lambda: slots.waiting() == 9)
    go.set()
    assert [f.result(timeout=WAIT) for f in futures] == [i * i for i in range(12)]
    assert peak[0] == 3
    assert slots.in_use() == 0 and slots.waiting() == 0


def test_hold_times_out_with_a_message_saying_how_long_and_for_what():
    """A full pool makes hold() raise SlotTimeout after the timeout, naming the pool."""
    slots = scheduler.Slots(1, name="accelerator")
    with slots.hold(timeout=1.0):
        with pytest.raises(scheduler.SlotTimeout) as caught:
            with slots.hold(timeout=0.05):
                pytest.fail("entered a full pool")
        assert slots.in_use() == 1
    assert slots.in_use() == 0
    assert re.match(r"Waited 0\.\d s for the accelerator, but all 1 slot\(s\) stayed busy",
                    str(caught.value))
    assert caught.value.waited_s >= 0.05 and caught.value.capacity == 1


def test_submit_times_out_through_the_future():
    """A submission that gets no slot in time completes with SlotTimeout and never runs fn."""
    slots = scheduler.Slots(1)
    ran = threading.Event()
    with slots.hold(timeout=1.0):
        future = slots.submit(ran.set, wait_timeout=0.05)
        with pytest.raises(scheduler.SlotTimeout, match="accelerator"):
            future.result(timeout=WAIT)
    assert not ran.is_set()
    assert slots.in_use() == 0 and slots.waiting() == 0


def test_slot_freed_after_fn_raises():
    """fn's exception reaches the caller through the future, and the slot is free by then."""
    slots = scheduler.Slots(1)

    def boom() -> None:
        raise ValueError("bad input")

    future = slots.submit(boom, wait_timeout=WAIT)
    with pytest.raises(ValueError, match="bad input"):
        future.result(timeout=WAIT)
    assert slots.in_use() == 0
    assert slots.submit(lambda: "next", wait_timeout=0.5).result(timeout=WAIT) == "next"


def test_hold_released_on_base_exception():
    """A BaseException (Streamlit's rerun) inside hold() still gives the slot back."""
    slots = scheduler.Slots(1)
    with pytest.raises(Interrupted):
        with slots.hold(timeout=1.0):
            assert slots.in_use() == 1
            raise Interrupted
    assert slots.in_use() == 0


def test_caller_interrupted_while_waiting_does_not_leak():
    """A caller thread hit by an asynchronous exception while it polls the future (as a rerun
    interrupts a script) leaves the slot with the worker, which frees it when fn finishes."""
    slots = scheduler.Slots(1)
    fn_started, fn_may_finish, polling = threading.Event(), threading.Event(), threading.Event()
    outcome: list[str] = []
    holder: list[concurrent.futures.Future] = []

    def fn() -> str:
        fn_started.set()
        assert fn_may_finish.wait(WAIT)
        return "done"

    def caller() -> None:
        try:
            future = slots.submit(fn, wait_timeout=WAIT)
            holder.append(future)
            assert fn_started.wait(WAIT)
            polling.set()
            spins = 0
            # The script between two polls, interruptible between bytecodes. (Not future.done():
            # an asynchronous exception landing inside its lock would leak *that* lock.)
            while spins >= 0:
                spins += 1
            outcome.append("finished")
        except Interrupted:
            outcome.append("interrupted")

    thread = threading.Thread(target=caller, daemon=True)
    thread.start()
    assert polling.wait(WAIT)
    hit = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                     ctypes.py_object(Interrupted))
    assert hit == 1
    thread.join(WAIT)
    assert outcome == ["interrupted"]
    assert slots.in_use() == 1  # the worker still runs fn: the slot is rightly held
    fn_may_finish.set()
    assert holder[0].result(timeout=WAIT) == "done"
    assert slots.in_use() == 0
    assert slots.submit(lambda: 1, wait_timeout=0.5).result(timeout=WAIT) == 1


def test_cancel_while_waiting_ends_the_wait_and_never_runs_fn():
    """A waiting submission cancelled by its caller stops waiting and takes no slot."""
    slots = scheduler.Slots(1)
    ran = threading.Event()
    with slots.hold(timeout=1.0):
        future = slots.submit(ran.set, wait_timeout=WAIT)
        assert not future.running()
        assert future.cancel()
        assert until(slots, lambda: slots.waiting() == 0)  # gave up while the slot is held
        assert slots.wait_idle(0.0) is False  # this caller's slot is still held
    assert slots.wait_idle(WAIT)
    assert slots.submit(lambda: 2, wait_timeout=1.0).result(timeout=WAIT) == 2
    assert not ran.is_set()
    assert slots.in_use() == 0 and slots.waiting() == 0


def test_resize_lets_waiters_in():
    """Growing the pool wakes a waiter at once; a pool cannot shrink below one slot."""
    slots = scheduler.Slots(1)
    entered = threading.Event()
    with slots.hold(timeout=1.0):
        future = slots.submit(entered.set, wait_timeout=WAIT)
        assert not entered.wait(0.1)
        slots.resize(2)
        assert entered.wait(WAIT)
        future.result(timeout=WAIT)
    assert slots.in_use() == 0
    with pytest.raises(ValueError):
        slots.resize(0)
    with pytest.raises(ValueError):
        scheduler.Slots(0)


def test_a_free_slot_goes_to_the_longest_waiter():
    """A holder that releases and asks again at once queues behind a waiter already there (no
    starvation of a new session by trainers that re-take their slots: issue 14, fair share)."""
    slots = scheduler.Slots(1, "test")
    order: list[str] = []
    got_it = threading.Event()

    def waiter() -> None:
        with slots.hold(10):
            order.append("waiter")
            got_it.set()

    with slots.hold(1):
        thread = threading.Thread(target=waiter)
        thread.start()
        assert slots.wait_for_waiting(1, 10)
        assert slots.waiting() == 1
    with slots.hold(10):  # released above, asked again at once: the waiter goes first
        order.append("holder again")
    thread.join(10)
    assert got_it.is_set() and order == ["waiter", "holder again"]


def test_give_up_ends_a_wait_and_on_wait_says_it_queued():
    """A queued caller leaves the queue when give_up() turns true (SlotTimeout, nothing held),
    and on_wait() ran once because it had to queue; an immediate slot never calls on_wait."""
    slots = scheduler.Slots(1, "test")
    stop, calls = threading.Event(), []
    with slots.hold(1, on_wait=lambda: calls.append("free")):
        pass
    assert calls == []
    outcome: list[str] = []

    def waiter() -> None:
        try:
            with slots.hold(60, give_up=stop.is_set, on_wait=lambda: calls.append("queued")):
                outcome.append("held")
        except scheduler.SlotTimeout:
            outcome.append("gave up")

    with slots.hold(1):
        thread = threading.Thread(target=waiter)
        thread.start()
        assert slots.wait_for_waiting(1, 10)
        stop.set()
        thread.join(10)
    assert outcome == ["gave up"] and calls == ["queued"]
    assert slots.in_use() == 0 and slots.waiting() == 0


@pytest.mark.slow
def test_trainer_keeps_its_place_while_others_retake_slots():
    """A trainer queued behind a holder that releases and re-takes its slot back to back gets
    the slot next: it waits in one place of the first-come queue, not in short re-queued waits."""
    from bnnlab.live.trainer import Trainer

    slots = scheduler.Slots(1, "test")
    advanced = threading.Event()

    class Target:
        compiled, finished = True, False

        def advance(self, left):
            advanced.set()
            return 1

    trainer = Trainer(Target(), slots=slots)
    stop_hog = threading.Event()

    def hog() -> None:  # releases and asks again at once, like a heavy session's trainer
        while not stop_hog.is_set():
            with slots.hold(10):
                time.sleep(0.4)  # longer than limits.SLOT_WAIT_S

    hog_thread = threading.Thread(target=hog)
    hog_thread.start()
    try:
        trainer.start(max_steps=1)
        assert advanced.wait(10)
    finally:
        stop_hog.set()
        trainer.stop()
        hog_thread.join(10)
