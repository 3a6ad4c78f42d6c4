"""AppTest of the "JAX in code" page (app_pages/jax_in_code.py): renders, Measure shows the measured
timings at the chosen size and names the device, measurements wait visibly for (and release) the
server-wide accelerator pool, grad matches finite differences, failures are messages."""

import re
import threading

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from bnnlab.core import runtime
from bnnlab.lessons import jax_demos, jax_timing
from bnnlab.live import scheduler
from tests.pages.conftest import new_app

PAGE = "jax_in_code.py"


def number(text: str) -> float:
    """The first number in a metric's text, e.g. '36.3 ms' -> 36.3, '1,318 steps/s' -> 1318."""
    match = re.search(r"[-+]?\d[\d,]*\.?\d*(?:e[-+]?\d+)?", text)
    assert match, text
    return float(match.group().replace(",", ""))


def page_ms(seconds: float) -> str:
    """The page's own formatting of a duration ('1.43 ms', '6.54 s')."""
    return f"{seconds:.3g} s" if seconds >= 1 else f"{seconds * 1e3:.3g} ms"


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert len(values) == 1, [m.label for m in at.metric]
    return values[0]


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def pending_and_queue(at: AppTest) -> tuple[object | None, list[str]]:
    state = at.session_state
    pending = state["jax_pending"] if "jax_pending" in state else None
    return pending, list(state["jax_queue"]) if "jax_queue" in state else []


def finish(at: AppTest, limit: int = 20) -> AppTest:
    """Rerun the page as the browser's fragment timer would, waiting on each measurement's
    future in between, until nothing is pending or queued."""
    for _ in range(limit):
        pending, queue = pending_and_queue(at)
        if pending is None and not queue:
            return at
        if pending is not None:
            assert pending.wait(180), "a measurement did not finish"
        at.run()
    pytest.fail("measurements never drained")


@pytest.fixture(scope="module")
def measured() -> AppTest:
    """The page at its smallest size after pressing all three Measure buttons in a row (they
    queue up and run one at a time)."""
    at = new_app(PAGE).run()
    at.selectbox(key="jax_hidden").set_value("16,16")
    at.selectbox(key="jax_points").set_value(128)
    at.selectbox(key="jax_scan_k").set_value(10)
    at.run()
    for key in ("jax_measure_jit", "jax_measure_vmap", "jax_measure_scan"):
        at.button(key=key).click().run()
    finish(at)
    assert not at.exception, at.exception
    return at


def test_page_renders_without_measuring():
    """The page opens without exceptions and asks for Measure instead of showing timings."""
    at = new_app(PAGE).run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["JAX in code"]
    assert sum("Press **Measure**" in i.value for i in at.info) == 3


@pytest.mark.slow
def test_grad_demo_matches_finite_difference():
    """At a chosen point, the displayed jax.grad equals the displayed finite difference."""
    at = new_app(PAGE).run()
    at.selectbox(key="jax_grad_fn").set_value("logistic_loss").run()
    at.slider(key="jax_grad_x0_logistic_loss").set_value(1.2).run()
    assert not at.exception, at.exception
    grad = number(metric(at, "jax.grad(f)(x₀)"))
    assert grad == pytest.approx(number(metric(at, "finite difference")), rel=1e-3, abs=1e-3)
    assert grad == pytest.approx(jax_demos.grad_demo("logistic_loss", 1.2).point_grad, rel=1e-4)


@pytest.mark.slow
def test_jit_measure_shows_the_measured_step_times(measured):
    """The jit metrics are the stored timing's numbers, the speed-up is their ratio, the trace
    counts are 1 (new learning rate) and 2 (new sample count), and the size is the chosen one."""
    timing = measured.session_state["jax_jit_result"]
    assert isinstance(timing, jax_demos.JitTiming)
    assert metric(measured, "median step, no jit") == page_ms(timing.eager_median_s)
    assert metric(measured, "median step, jax.jit") == page_ms(timing.jit_median_s)
    assert metric(measured, "jit speed-up") == \
        f"{timing.eager_median_s / timing.jit_median_s:.0f}×"
    assert (timing.traces_after_new_learning_rate, timing.traces_after_new_num_samples) == (1, 2)
    text = captions(measured)
    assert "Traced once so far: no recompile." in text
    assert "Traced 2 times: it compiled again." in text
    # 2-16-16-1: (2·16 + 16) + (16·16 + 16) + (16 + 1) = 337 parameters.
    assert f"Measured on {runtime.device_label()}, 337 parameters." in text


@pytest.mark.slow
def test_vmap_measure_shows_loop_and_vmap_at_the_largest_sample_count(measured):
    """The vmap metrics are the stored timing's at S = max(SAMPLE_COUNTS), over every offered
    S, and the loop and vmap estimates agree to float32 rounding."""
    timing = measured.session_state["jax_vmap_result"]
    assert list(timing.num_samples) == list(jax_timing.SAMPLE_COUNTS)
    top = max(jax_timing.SAMPLE_COUNTS)
    assert metric(measured, f"loop, S = {top}") == page_ms(timing.loop_s[-1])
    assert metric(measured, f"vmap, S = {top}") == page_ms(timing.vmap_s[-1])
    gap = jax_demos.max_estimate_difference(timing)
    assert gap <= 1e-5 * float(np.max(np.abs(timing.loop_value)))
    assert f"largest difference between loop and vmap is {gap:.2g}" in captions(measured)
    assert timing.num_params == 337


@pytest.mark.slow
def test_scan_measure_shows_the_rates_for_the_chosen_k(measured):
    """The scan metrics are the stored rates for K = 10, with the budgeted step count."""
    timing = measured.session_state["jax_scan_result"]
    assert timing.steps_per_chunk == 10
    assert metric(measured, "steps/s, 1 step per call") == f"{timing.one_step_steps_per_s:,.0f}"
    assert metric(measured, "steps/s, 10 steps per call") == f"{timing.k_steps_steps_per_s:,.0f}"
    assert metric(measured, "scan speed-up") == \
        f"{timing.k_steps_steps_per_s / timing.one_step_steps_per_s:.1f}×"
    assert timing.total_steps == jax_timing.SCAN_TOTAL_STEPS  # 300 = 10 calls · K 10 · 3 rounds
    assert (f"{jax_timing.SCAN_TOTAL_STEPS} training steps each way, alternating in "
            f"{jax_timing.SCAN_ROUNDS} rounds") in captions(measured)


@pytest.mark.slow
def test_no_slot_is_left_held(measured):
    """After the three measurements, the server-wide pool is empty and nothing is queued."""
    assert scheduler.ACCELERATOR.wait_idle(10)
    assert pending_and_queue(measured) == (None, [])


@pytest.mark.slow
def test_measure_charts_name_the_device(measured):
    """Every timing chart's title names the device it was measured on."""
    import json

    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"]
              for c in measured.get("plotly_chart")]
    timed = [t for t in titles if not t.startswith("grad")]
    assert len(timed) == 3 and all(runtime.device_label() in t for t in timed)


@pytest.mark.slow
def test_failed_measurement_is_a_message_not_a_traceback(monkeypatch):
    """If a measurement raises, the page shows a warning and no exception."""
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(jax_demos, "time_scan", broken)
    at = new_app(PAGE).run()
    at.button(key="jax_measure_scan").click().run()
    finish(at)
    assert not at.exception, at.exception
    assert any("measurement failed (RuntimeError)" in w.value for w in at.warning)
    assert scheduler.ACCELERATOR.wait_idle(10)


@pytest.mark.slow
def test_waits_visibly_for_the_accelerator_then_measures(monkeypatch):
    """With every accelerator slot held by others, Measure says it is waiting for the
    accelerator; once a slot frees, the measurement runs and its result shows."""
    monkeypatch.setattr(jax_demos, "time_scan", lambda *a, **k: jax_demos.ScanTiming(
        10, 300, 1000.0, 4000.0, runtime.device_label()))
    others = scheduler.ACCELERATOR
    release = threading.Event()
    holders = [others.submit(release.wait, 30, wait_timeout=5) for _ in range(others.capacity)]
    try:
        at = new_app(PAGE).run()
        at.button(key="jax_measure_scan").click().run()
        assert any("Waiting for the accelerator" in i.value for i in at.info), \
            [i.value for i in at.info]
        assert pending_and_queue(at)[0].state == "waiting"
    finally:
        release.set()
    for holder in holders:
        holder.result(timeout=30)
    finish(at)
    assert metric(at, "scan speed-up") == "4.0×"
    assert not any("Waiting for the accelerator" in i.value for i in at.info)
    assert scheduler.ACCELERATOR.wait_idle(10)


@pytest.mark.slow
def test_gives_up_after_the_wait_limit_with_a_message(monkeypatch):
    """If no slot frees within MEASUREMENT_WAIT_S, the page says how long it waited and for
    what, and the pool is left empty."""
    monkeypatch.setattr(jax_timing, "MEASUREMENT_WAIT_S", 0.2)
    release = threading.Event()
    pool = scheduler.ACCELERATOR
    holders = [pool.submit(release.wait, 30, wait_timeout=5) for _ in range(pool.capacity)]
    try:
        at = new_app(PAGE).run()
        at.button(key="jax_measure_jit").click().run()
        finish(at)
    finally:
        release.set()
    for holder in holders:
        holder.result(timeout=30)
    assert any(re.match(r"Waited 0\.\d s for the accelerator", w.value) for w in at.warning), \
        [w.value for w in at.warning]
    assert scheduler.ACCELERATOR.wait_idle(10)


@pytest.mark.slow
def test_sizes_outside_the_budget_fall_back_with_a_notice():
    """A session-state size that is not offered (e.g. 64,64 or 5,000 points) is replaced by the
    default before anything is measured, and the page says so."""
    at = new_app(PAGE)
    at.session_state["jax_scan_k"] = 1000
    at.run()
    assert not at.exception, at.exception
    assert any("K = 1000 is not offered; using 50." in w.value for w in at.warning)
