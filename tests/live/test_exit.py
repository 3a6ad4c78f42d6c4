"""Interpreter exit with background JAX work alive: no abort ("terminate called after throwing an
instance of ''", SIGABRT). `runtime.stop_background_work`, registered with atexit, stops the
trainers, closes the slot pools and joins the library's daemon threads first."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

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
