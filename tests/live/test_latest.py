"""What a page shows of costly work is computed in the server-wide slots, never on the page's
thread (issue 29, item 3): `live.latest.Latest`, Compare's report through it, the frame budget
of the live maps, and chapter 3's table rows."""

from __future__ import annotations

import threading
import time

import pytest

from bnnlab.core import limits
from bnnlab.lessons import compare, playground
from bnnlab.live import frames, push, scheduler
from bnnlab.live.latest import Latest
from bnnlab.training.config import TrainConfig
from tests.conftest import slot_held


def test_latest_computes_in_a_slot_on_another_thread():
    slots = scheduler.Slots(1)
    latest: Latest[tuple] = Latest(slots)
    seen = {}

    def compute():
        seen["thread"] = threading.current_thread()
        seen["in_use"] = slots.in_use()
        return ("value",)

    assert latest.get("a", compute, wait_s=10) == ("value",)
    assert seen["thread"] is not threading.current_thread() and seen["in_use"] == 1
    calls = []
    assert latest.get("a", lambda: calls.append(1), wait_s=10) == ("value",)  # cached by key
    assert calls == [] and slots.in_use() == 0


def test_latest_keeps_the_last_value_while_the_slots_are_busy_and_supersedes_waiting_work():
    """All slots held by others: the page gets the last value at once; asking for another key
    cancels the computation still waiting for its slot (it never runs)."""
    slots = scheduler.Slots(1)
    latest: Latest[str] = Latest(slots)
    assert latest.get(1, lambda: "one", wait_s=10) == "one"
    ran = []
    with slot_held(slots):
        assert latest.get(2, lambda: ran.append(2) or "two", wait_s=0.1) == "one"
        assert latest.pending
        assert latest.get(3, lambda: ran.append(3) or "three", wait_s=0.1) == "one"
    deadline = time.monotonic() + 10
    while latest.get(3, lambda: "again", wait_s=0.5) != "three" and time.monotonic() < deadline:
        pass
    assert latest.value == "three" and ran == [3]  # the superseded computation never ran


def test_latest_records_what_the_computation_raised_and_keeps_the_last_value():
    latest: Latest[str] = Latest(scheduler.Slots(1))
    assert latest.get(1, lambda: "one", wait_s=10) == "one"

    def fail():
        raise RuntimeError("no")

    assert latest.get(2, fail, wait_s=10) == "one"
    assert isinstance(latest.error, RuntimeError)
    assert latest.get(3, lambda: "three", wait_s=10) == "three" and latest.error is None


# ---------------------------------------------------------------------------- Compare
TINY_COMPARE = compare.CompareSettings(
    methods=("map", "vi"), base=compare.CompareSettings().base.replace(
        num_points=40, hidden=(4,), steps=20, steps_per_chunk=10))


@pytest.mark.slow
def test_compare_report_is_computed_in_a_slot_off_the_page_thread(monkeypatch):
    slots = scheduler.Slots(1)
    comparison = compare.Comparison(TINY_COMPARE, slots=slots)
    threads, report = [], compare.Comparison.report

    def spy(self, *args):
        threads.append((threading.current_thread(), slots.in_use()))
        return report(self, *args)

    monkeypatch.setattr(compare.Comparison, "report", spy)
    first = comparison.latest_report(30, 1.0, wait_s=0.0)  # the first report is waited for
    assert first is not None and set(first.rows) == {"map", "vi"}
    assert threads[0][0] is not threading.current_thread() and threads[0][1] == 1
    assert comparison.latest_report(30, 1.0, wait_s=0.0) is first  # nothing changed
    comparison.advance()
    later = comparison.latest_report(30, 1.0, wait_s=30)
    assert later is not first and len(threads) == 2


@pytest.mark.slow  # a few seconds: the fast tier stays under 2 minutes
def test_compare_maps_are_coarser_for_a_network_over_the_frame_budget():
    heavy = compare.CompareSettings(
        methods=("map", "vi", "ensemble", "dropout"), base=TINY_COMPARE.base.replace(
            hidden=(128,) * 4, ensemble_size=16))
    comparison = compare.Comparison(heavy)
    grid = comparison.map_grid(limits.MAX_COMPARE_GRID)
    assert limits.MIN_GRID <= grid < limits.MAX_COMPARE_GRID
    assert compare.Comparison(TINY_COMPARE).map_grid(50) == 50
    from bnnlab.lessons import compare_view

    note = compare_view.maps_caption(comparison, "total uncertainty", limits.MAX_COMPARE_GRID)
    assert f"drawn at {grid}×{grid}, not 80×80" in note


# ---------------------------------------------------------------------------- the live maps
HEAVY = TrainConfig(num_points=40, hidden=(128,) * 4, num_samples=1, steps_per_chunk=1,
                    grid_size=150)


@pytest.mark.slow  # seconds: the fast tier stays under 2 minutes
def test_a_heavy_live_map_is_drawn_coarser_with_a_notice_and_skips_the_short_lane():
    """Issue 29's frame-heavy link: hidden 128×4, grid 150, one step a chunk. The chunk is
    modelled light, but the frame is not: it is drawn at the budget's grid, the learner is told,
    and the pump does not put it in the short lane."""
    live = playground.Session(HEAVY, slots=scheduler.Slots(1))
    try:
        run = live.run
        grid = frames.map_grid(run, 150)
        assert grid < 150
        assert any(f"drawn at {grid}×{grid}, not 150×150" in n for n in live.notices)
        assert run.expected_chunk_s is None or run.expected_chunk_s <= scheduler.SHORT_WORK_S
        pump = push.Pump(type("Sub", (), {"session": live})(), lambda _: True)
        expected = pump._expected_cost([])
        assert expected == pytest.approx(live.expected_frame_s)
        assert expected > scheduler.SHORT_WORK_S
        assert pump._expected_cost([0.02]) == 0.02  # a measured light frame stays light
    finally:
        live.close()
    light = playground.Session(TrainConfig(), slots=scheduler.Slots(1))
    try:
        assert not any("drawn at" in n for n in light.notices)
        assert light.expected_frame_s <= scheduler.SHORT_WORK_S
    finally:
        light.close()


def test_a_long_wait_calls_its_keep_alive():
    """A page that waits for its first report keeps its trainer alive meanwhile (the trainer
    stops after `IDLE_TIMEOUT_S` unseen, as when a tab closed)."""
    slots = scheduler.Slots(1)
    latest: Latest[str] = Latest(slots)
    calls = []
    with slot_held(slots):
        assert latest.get(1, lambda: "one", wait_s=1.0, while_waiting=lambda: calls.append(1)) \
            is None
        assert len(calls) >= 3
