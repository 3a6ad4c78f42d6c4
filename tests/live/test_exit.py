"""Interpreter exit with background JAX work alive: no abort ("terminate called after throwing an
instance of ''", SIGABRT). `runtime.stop_background_work`, registered with atexit, stops the
trainers, closes the slot pools and joins the library's daemon threads first.

SIGTERM ends a process within `runtime.bound_exit_on_sigterm`'s grace however its own graceful
shutdown or its exit hooks hang, and a second SIGTERM ends it at once (a live server under load:
tests/live/test_shutdown_under_load.py)."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from bnnlab.core import runtime
from bnnlab.live import scheduler
from tests.conftest import ROOT

# A daemon thread inside a jitted loop when the main thread exits (without the hook, it aborted
# in 5 runs of 5).
SPIN_AT_EXIT = """
import threading
import jax, jax.numpy as jnp
from bnnlab.core import runtime

@jax.jit
def spin(x):
    return jax.lax.fori_loop(0, 3000, lambda i, v: jnp.tanh(v @ v.T) / 64.0, x)

x = jnp.ones((64, 64))
spin(x).block_until_ready()
started = threading.Event()

def work():
    started.set()
    for _ in range(5):
        spin(x).block_until_ready()

threading.Thread(target=work, daemon=True, name="bnnlab-test-spin").start()
started.wait()
"""

# A trainer in the middle of a long run when the main thread exits: stopped, not waited out.
TRAINING_AT_EXIT = """
from bnnlab.lessons import playground
from bnnlab.live.run import Run
from bnnlab.live.trainer import Trainer
from bnnlab.training.config import TrainConfig

cfg = TrainConfig(num_points=120, hidden=(8,), num_samples=2, steps=100_000)
run = Run(cfg, playground.build_data(cfg))
trainer = Trainer(run)
trainer.start()
assert run.wait_for_step_after(0, timeout=120)
"""

# Chapter 2's page leaves its prior warm-up compiling (aborted 2 runs in 10 before the hook).
CHAPTER_2_AT_EXIT = f"""
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(ROOT / "app_pages" / "ch2_bayesian_training.py")!r},
                       default_timeout=120)
at.run()
assert not at.exception, at.exception
"""


def _exit_cleanly(script: str, timeout: float = 240) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    assert "terminate called" not in done.stderr, done.stderr[-2000:]
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.mark.slow  # a fresh interpreter that imports JAX and exits
def test_a_daemon_thread_inside_jax_at_exit_is_waited_for():
    """A library thread inside a jitted loop at exit ends before JAX tears down: exit code 0."""
    _exit_cleanly(SPIN_AT_EXIT)


@pytest.mark.slow  # a fresh interpreter that imports JAX and exits
def test_a_training_run_stops_at_exit():
    """A trainer mid-run at exit stops after its chunk: exit code 0, no abort."""
    _exit_cleanly(TRAINING_AT_EXIT)


@pytest.mark.slow  # a fresh interpreter that imports JAX and exits
def test_chapter_2_page_exits_cleanly():
    """Chapter 2's page under AppTest, then exit, three times: exit code 0, no abort."""
    for _ in range(3):
        _exit_cleanly(CHAPTER_2_AT_EXIT)


def test_a_closed_pool_hands_out_no_slot_and_waits_for_its_holders():
    """After `close`, a waiter gets no slot (SlotTimeout at its timeout) and `wait_released`
    returns once the holder has left."""
    slots = scheduler.Slots(1)
    held, leave = threading.Event(), threading.Event()

    def holder():
        with slots.hold(1.0):
            held.set()
            leave.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    slots.close()
    assert not slots.wait_released(0.05)
    leave.set()
    assert slots.wait_released(10)
    thread.join(10)
    try:
        with slots.hold(0.2):
            raise AssertionError("a closed pool handed out a slot")
    except scheduler.SlotTimeout:
        pass
    assert slots.in_use() == 0 and slots.waiting() == 0


# A server's SIGTERM handler that starts a graceful shutdown, and the bound in front of it. With
# "hangs" the shutdown never ends (uvicorn's, waiting for a connection that never closes) and an
# exit hook ignores its deadline; with "ends" the main thread returns once the handler ran.
# Prints "ready", then "stopping" when its handler has run.
HANGING_SHUTDOWN = """
import signal, sys, threading, time
from bnnlab.core import runtime

stopping = threading.Event()

def graceful(signum, frame):
    print("stopping", flush=True)
    stopping.set()

signal.signal(signal.SIGTERM, graceful)
if sys.argv[2] == "hangs":
    runtime.on_exit(lambda deadline: time.sleep(3600))
else:
    runtime.on_exit(lambda deadline: print("hook ran", flush=True))
assert runtime.bound_exit_on_sigterm(grace_s=float(sys.argv[1]))
print("ready", flush=True)
while not (stopping.is_set() and sys.argv[2] == "ends"):
    time.sleep(0.05)
"""


def _start(grace_s: float, shutdown: str) -> subprocess.Popen:
    """HANGING_SHUTDOWN with `grace_s` and `shutdown` ("hangs" or "ends"), once it is ready."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HANGING_SHUTDOWN),
                             str(grace_s), shutdown], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert _line(proc, 120) == "ready", proc.stderr.read() if proc.poll() is not None else ""
    return proc


def _line(proc: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    return proc.stdout.readline().strip() if ready else ""


def _exit_within(proc: subprocess.Popen, timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"still running {timeout} s after SIGTERM") from None
    return code, time.monotonic() - started


@pytest.mark.slow  # fresh interpreters that import JAX
def test_sigterm_ends_a_process_whose_shutdown_and_hooks_hang():
    """A graceful shutdown and an exit hook that never end: the process exits `grace_s` s after
    SIGTERM (FORCED_EXIT_CODE), saying which threads still ran."""
    proc = _start(grace_s=2.0, shutdown="hangs")
    proc.send_signal(signal.SIGTERM)
    code, took = _exit_within(proc, 10)
    assert code == runtime.FORCED_EXIT_CODE and 1.5 < took < 6, (code, took)
    assert "still running 2 s after SIGTERM" in proc.stderr.read()


@pytest.mark.slow  # fresh interpreters that import JAX
def test_a_second_sigterm_ends_the_process_at_once():
    """While the shutdown and a hook hang (grace 60 s), a second SIGTERM ends the process at
    once: killed by the signal."""
    proc = _start(grace_s=60.0, shutdown="hangs")
    proc.send_signal(signal.SIGTERM)
    assert _line(proc, 30) == "stopping"
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    code, took = _exit_within(proc, 5)
    assert code == -signal.SIGTERM and took < 2, (code, took)


@pytest.mark.slow  # fresh interpreters that import JAX
def test_a_shutdown_that_ends_by_itself_is_not_held_by_the_watchdog():
    """A graceful shutdown that ends (the main thread returns) exits with code 0 at once, the
    exit hooks run once: the interpreter's exit does not wait for the watchdog."""
    proc = _start(grace_s=60.0, shutdown="ends")
    proc.send_signal(signal.SIGTERM)
    code, took = _exit_within(proc, 30)
    assert code == 0 and took < 10, (code, took, proc.stderr.read()[-2000:])
    assert proc.stdout.read().splitlines().count("hook ran") == 1


def test_no_bound_where_sigterm_keeps_its_default_action_or_off_the_main_thread():
    """With SIGTERM's default action (the CLI, tests) or off the main thread nothing is
    installed: SIGTERM already ends such a process at once."""
    before = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        assert not runtime.bound_exit_on_sigterm()
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        result: list[bool] = []
        thread = threading.Thread(target=lambda: result.append(runtime.bound_exit_on_sigterm()))
        thread.start()
        thread.join(10)
        assert result == [False]
    finally:
        signal.signal(signal.SIGTERM, before)
