"""Many learners on one server (issue 7): the server-wide bound on concurrent training holds (a
run beyond it waits, then runs), sessions are isolated, and compiled functions are shared
safely between threads."""

from __future__ import annotations

import ast
import threading
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from bnnlab import config, playground
from bnnlab.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "pages" / "ch4_playground.py")
SMALL = {"num_points": "64", "hidden": "4", "grid_size": "10", "steps_per_chunk": "5",
         "num_samples": "2", "steps": "1000"}


# ---------------------------------------------------------------- the bound itself
def test_the_server_wide_bound_comes_from_config():
    """One process-wide TrainingSlots, sized by config.MAX_CONCURRENT_RUNS."""
    assert playground.TRAINING_SLOTS.limit == config.MAX_CONCURRENT_RUNS >= 1


def test_at_most_limit_runs_train_at_once_and_the_rest_wait_then_run():
    """12 threads compete for 3 slots: never more than 3 inside, every one eventually runs."""
    slots = playground.TrainingSlots(3)
    inside = 0
    peak = 0
    ran: list[int] = []
    lock = threading.Lock()

    def learner(i: int) -> None:
        nonlocal inside, peak
        with slots.slot() as got:
            assert got
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.02)
            with lock:
                inside -= 1
                ran.append(i)

    threads = [threading.Thread(target=learner, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(ran) == list(range(12))
    assert peak == 3
    assert slots.active == 0 and slots.waiting == 0


def test_a_run_beyond_the_bound_waits_visibly_then_gets_its_slot():
    """With every slot taken, `slot(timeout)` yields False and counts a waiter; once one is
    released, the next request gets it."""
    slots = playground.TrainingSlots(2)
    holders = [slots.slot(), slots.slot()]
    assert all(h.__enter__() for h in holders)
    seen_waiting = []

    def late() -> None:
        with slots.slot(timeout=5.0) as got:
            seen_waiting.append(got)

    with slots.slot(timeout=0.05) as got:
        assert got is False
    thread = threading.Thread(target=late)
    thread.start()
    deadline = time.monotonic() + 5
    while slots.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert slots.waiting == 1 and slots.active == 2
    holders[0].__exit__(None, None, None)
    thread.join(timeout=5)
    assert seen_waiting == [True]
    holders[1].__exit__(None, None, None)
    assert slots.active == 0 and slots.waiting == 0


def test_an_exception_inside_a_slot_releases_it():
    """A chunk that raises gives its slot back (no slot leaks after a crash)."""
    slots = playground.TrainingSlots(1)
    with pytest.raises(RuntimeError), slots.slot() as got:
        assert got
        raise RuntimeError("boom")
    with slots.slot(timeout=0.1) as got:
        assert got


# ---------------------------------------------------------------- shared engines, own state
def test_threads_sharing_one_engine_get_the_same_results_as_alone():
    """Four sessions' runs advanced concurrently on one shared compiled engine end exactly
    where the same runs end one at a time: no state leaks between them."""
    cfgs = [TrainConfig(num_points=32, hidden=(4,), steps_per_chunk=5, seed=s, lr=lr)
            for s, lr in ((1, 0.1), (2, 0.01), (3, 0.05), (4, 0.2))]

    def fresh() -> list[playground.Run]:
        return [playground.Run(c, playground.build_data(c)) for c in cfgs]

    alone = fresh()
    for run in alone:
        for _ in range(3):
            run.advance()
    together = fresh()
    assert len({id(r.engine) for r in together}) == 1
    errors: list[BaseException] = []

    def work(run: playground.Run) -> None:
        try:
            for _ in range(3):
                with playground.TRAINING_SLOTS.slot():
                    run.advance()
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(r,)) for r in together]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    for a, b in zip(alone, together, strict=True):
        assert a.step == b.step == 15
        for la, lb in zip(jax.tree.leaves(a.state.method_state),
                          jax.tree.leaves(b.state.method_state), strict=True):
            np.testing.assert_array_equal(np.asarray(la), np.asarray(lb))


def test_no_module_rebinds_globals():
    """Nothing per-user lives in module globals: no `global` statement anywhere in the app."""
    offenders = []
    for folder in ("bnnlab", "pages", "ui"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Global):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders


# ---------------------------------------------------------------- AppTest sessions
def _session(**params: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params.update({**SMALL, **params})
    at.run()
    assert not at.exception, at.exception
    return at


def _step(at: AppTest) -> int:
    return at.session_state["pg_run"].step


def test_two_sessions_with_different_settings_do_not_see_each_other():
    """Two sessions of the playground: training one changes nothing in the other, each keeps
    its own settings, run, URL and notices."""
    a = _session(dataset="circles", seed="3", lr="0.05")
    b = _session(dataset="xor", seed="7", hidden="6", lr="abc")
    run_b = b.session_state["pg_run"]
    a.button(key="pg_train").click().run()
    for _ in range(2):
        a.run()
    assert _step(a) > 0
    b.run()
    assert b.session_state["pg_run"] is run_b and _step(b) == 0
    assert a.session_state["pg_run"] is not run_b
    assert (a.session_state["pg_cfg"].dataset, b.session_state["pg_cfg"].dataset) == \
        ("circles", "xor")
    assert a.session_state["pg_cfg"].hidden == (4,) and b.session_state["pg_cfg"].hidden == (6,)
    assert a.query_params["lr"] == "0.05" and b.query_params["lr"] == "0.01"
    assert not a.warning and any("lr" in w.value for w in b.warning)
    assert not b.session_state["pg_training"]
    # Reset in b leaves a's progress alone (a paused first: it trains in the background).
    a.button(key="pg_pause").click().run()
    before = _step(a)
    b.button(key="pg_reset").click().run()
    assert _step(a) == before and a.session_state["pg_run"] is not b.session_state["pg_run"]


def test_a_session_beyond_the_bound_shows_waiting_then_trains():
    """All slots taken elsewhere: pressing Train shows "waiting for the accelerator" and takes
    no step; when a slot frees, the same session trains."""
    at = _session(dataset="moons", seed="11")
    slots = playground.TRAINING_SLOTS
    taken = [slots.slot() for _ in range(slots.limit)]
    try:
        assert all(t.__enter__() for t in taken)
        at.button(key="pg_train").click().run()
        # Training runs in the session's background trainer: give it time to find no slot.
        deadline = time.monotonic() + 10
        while not at.session_state["pg_trainer"].waiting and time.monotonic() < deadline:
            time.sleep(0.05)
        at.run()
        assert _step(at) == 0
        assert any("Waiting for the accelerator" in i.value for i in at.info)
    finally:
        for t in taken:
            t.__exit__(None, None, None)
    deadline = time.monotonic() + 30
    while _step(at) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    at.run()
    assert _step(at) > 0
    assert not any("Waiting for the accelerator" in i.value for i in at.info)
    at.button(key="pg_pause").click().run()


def test_stopping_a_trainer_whose_thread_failed_to_start_does_not_raise(monkeypatch):
    """A trainer whose thread could not start can still be stopped (Pause/Reset must work)."""
    cfg = TrainConfig(num_points=16, hidden=(4,), steps_per_chunk=5)
    trainer = playground.Trainer(playground.Run(cfg, playground.build_data(cfg)))

    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    with pytest.raises(RuntimeError, match="start new thread"):
        trainer.start()
    monkeypatch.undo()
    trainer.stop()
    assert not trainer.running
