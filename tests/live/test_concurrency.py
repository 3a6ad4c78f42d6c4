"""Many learners on one server (issue 7): the server-wide bound on concurrent training holds (a
run beyond it waits, then runs), sessions are isolated, and compiled functions are shared
safely between threads."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import jax
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from bnnlab.core import limits
from bnnlab.lessons import compare, playground
from bnnlab.live import scheduler
from bnnlab.live.run import Run
from bnnlab.live.status import Status
from bnnlab.live.trainer import Trainer
from bnnlab.training.config import TrainConfig
from tests.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "ch4_playground.py")
SMALL = {"num_points": "64", "hidden": "4", "grid_size": "10", "steps_per_chunk": "5",
         "num_samples": "2", "steps": "1000"}


# ---------------------------------------------------------------- the bound itself
class _Probe:
    """A training target that records how many chunks run at once (no JAX)."""

    compiled = True

    def __init__(self, shared: dict, lock: threading.Lock, chunks: int) -> None:
        self.shared, self.lock, self.left = shared, lock, chunks

    @property
    def finished(self) -> bool:
        return self.left <= 0

    def advance(self, max_steps=None) -> int:
        with self.lock:
            self.shared["inside"] += 1
            self.shared["peak"] = max(self.shared["peak"], self.shared["inside"])
        threading.Event().wait(0.01)  # a chunk's worth of work while holding the slot
        with self.lock:
            self.shared["inside"] -= 1
        self.left -= 1
        return 1


def test_trainers_beyond_the_server_bound_wait_then_all_finish():
    """Twice as many trainers as `limits.MAX_CONCURRENT_RUNS` share `scheduler.ACCELERATOR`:
    never more than the bound train at once, and every one finishes its chunks."""
    shared, lock = {"inside": 0, "peak": 0}, threading.Lock()
    targets = [_Probe(shared, lock, chunks=5) for _ in range(2 * limits.MAX_CONCURRENT_RUNS)]
    trainers = [Trainer(t) for t in targets]
    assert all(tr.slots is scheduler.ACCELERATOR for tr in trainers)
    for tr in trainers:
        tr.start()
    for tr in trainers:
        tr._thread.join(60)
    assert all(t.finished for t in targets) and not any(tr.error for tr in trainers)
    assert 1 <= shared["peak"] <= limits.MAX_CONCURRENT_RUNS
    # Earlier tests' sessions may still compile in the background (inside a slot): wait for
    # them rather than read the pool at one instant; no slot stays taken.
    assert scheduler.ACCELERATOR.wait_idle(120)


# ---------------------------------------------------------------- shared engines, own state
@pytest.mark.slow
def test_threads_sharing_one_engine_get_the_same_results_as_alone():
    """Four sessions' runs advanced concurrently on one shared compiled engine end exactly
    where the same runs end one at a time: no state leaks between them."""
    cfgs = [TrainConfig(num_points=32, hidden=(4,), steps_per_chunk=5, seed=s, lr=lr)
            for s, lr in ((1, 0.1), (2, 0.01), (3, 0.05), (4, 0.2))]

    def fresh() -> list[Run]:
        return [Run(c, playground.build_data(c)) for c in cfgs]

    alone = fresh()
    for run in alone:
        for _ in range(3):
            run.advance()
    together = fresh()
    assert len({id(r.engine) for r in together}) == 1
    errors: list[BaseException] = []

    def work(run: Run) -> None:
        try:
            for _ in range(3):
                with scheduler.ACCELERATOR.hold(60):
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
    for folder in ("bnnlab", "app_pages", "ui"):
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
    return at.session_state["pg_session"].run.step


@pytest.mark.slow
def test_two_sessions_with_different_settings_do_not_see_each_other():
    """Two sessions of the playground: training one changes nothing in the other, each keeps
    its own settings, run, URL and notices."""
    a = _session(dataset="circles", seed="3", lr="0.05")
    b = _session(dataset="xor", seed="7", hidden="6", lr="abc")
    live_a, live_b = a.session_state["pg_session"], b.session_state["pg_session"]
    run_b = live_b.run
    a.button(key="pg_run").click().run()
    assert live_a.run.wait_for_step_after(0, 60)
    a.run()
    assert _step(a) > 0
    b.run()
    assert live_b.run is run_b and _step(b) == 0 and live_a is not live_b
    assert (live_a.cfg.dataset, live_b.cfg.dataset) == ("circles", "xor")
    assert live_a.cfg.hidden == (4,) and live_b.cfg.hidden == (6,)
    assert a.query_params["lr"] == "0.05" and b.query_params["lr"] == "0.01"
    assert not a.warning and any("lr" in w.value for w in b.warning)
    assert live_b.status == Status.IDLE
    # Reset in b leaves a's progress alone (a paused first: it trains in the background).
    a.button(key="pg_run").click().run()
    before = _step(a)
    b.button(key="pg_reset").click().run()
    assert _step(a) == before and live_a.run is not live_b.run


def _hold_every_slot():
    """Context managers holding every slot of the server-wide pool (other learners' chunks),
    its short lane for light work included (`scheduler.SHORT_WORK_S`)."""
    pool = scheduler.ACCELERATOR
    holds = [pool.hold(5.0) for _ in range(pool.capacity)]
    holds += [pool.hold(5.0, cost_s=0.0) for _ in range(pool.short_capacity)]
    for h in holds:
        h.__enter__()
    return holds


def _release(holds) -> None:
    for h in holds:
        h.__exit__(None, None, None)


@pytest.mark.slow
def test_a_session_beyond_the_bound_shows_waiting_then_trains():
    """All slots taken elsewhere: pressing Train shows "waiting for the accelerator" and takes
    no step; when a slot frees, the same session trains."""
    at = _session(dataset="moons", seed="11")
    live = at.session_state["pg_session"]
    live.run.ensure_compiled()
    holds = _hold_every_slot()
    try:
        at.button(key="pg_run").click().run()
        assert eventually(lambda: live.trainer.waiting, 30.0)
        at.run()
        assert _step(at) == 0 and live.status == Status.WAITING
        assert any("Waiting for the accelerator" in i.value for i in at.info)
    finally:
        _release(holds)
    assert live.run.wait_for_step_after(0, 30)
    at.run()
    assert _step(at) > 0
    assert not any("Waiting for the accelerator" in i.value for i in at.info)
    at.button(key="pg_run").click().run()


@pytest.mark.slow
def test_the_compare_page_trains_through_the_same_slots():
    """With every slot held elsewhere, the Compare page's Train takes no step and says it
    waits; once slots free, its methods train (on a trainer thread, not the script thread)."""
    at = AppTest.from_file(str(ROOT / "app_pages" / "compare.py"), default_timeout=120)
    at.session_state["cmp_methods"] = ["map"]
    at.session_state["cmp_num_points"] = 64
    at.session_state["cmp_hidden"] = "4"
    at.session_state["cmp_steps"] = 100_000
    at.run()
    holds = _hold_every_slot()
    try:
        next(b for b in at.button if b.label == "▶ Train").click().run()
        comparison = at.session_state["cmp_comparison"]
        trainer = at.session_state["cmp_trainer"]
        assert eventually(lambda: trainer.waiting, 30.0)
        at.run()
        assert comparison.runs["map"].step == 0
        assert any("Waiting for the accelerator" in i.value for i in at.info)
    finally:
        _release(holds)
    assert comparison.runs["map"].wait_for_step_after(0, 60)
    next(b for b in at.button if b.label == "⏹ Stop").click().run()
    assert not trainer.running and not at.exception
    assert isinstance(comparison, compare.Comparison)
