"""AppTest of the "JAX in code" page (pages/jax_in_code.py): renders, Measure gives positive
timings named with the device, grad matches finite differences, failures are messages."""

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bnnlab import jax_demos, runtime

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "jax_in_code.py")


def number(text: str) -> float:
    """The first number in a metric's text, e.g. '36.3 ms' -> 36.3, '1,318 steps/s' -> 1318."""
    match = re.search(r"[-+]?\d[\d,]*\.?\d*(?:e[-+]?\d+)?", text)
    assert match, text
    return float(match.group().replace(",", ""))


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert len(values) == 1, [m.label for m in at.metric]
    return values[0]


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


@pytest.fixture(scope="module")
def measured() -> AppTest:
    """The page at its smallest size after pressing all three Measure buttons."""
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.selectbox(key="jax_hidden").set_value("16,16")
    at.selectbox(key="jax_points").set_value(128)
    at.selectbox(key="jax_scan_k").set_value(10)
    at.run()
    for key in ("jax_measure_jit", "jax_measure_vmap", "jax_measure_scan"):
        at.button(key=key).click().run()
    assert not at.exception, at.exception
    return at


def test_page_renders_without_measuring():
    """The page opens without exceptions and asks for Measure instead of showing timings."""
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["JAX in code"]
    assert sum("Press **Measure**" in i.value for i in at.info) == 3


def test_grad_demo_matches_finite_difference():
    """At a chosen point, the displayed jax.grad equals the displayed finite difference."""
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.selectbox(key="jax_grad_fn").set_value("logistic_loss").run()
    at.slider(key="jax_grad_x0_logistic_loss").set_value(1.2).run()
    assert not at.exception, at.exception
    grad = number(metric(at, "jax.grad(f)(x₀)"))
    assert grad == pytest.approx(number(metric(at, "finite difference")), rel=1e-3, abs=1e-3)
    assert grad == pytest.approx(jax_demos.grad_demo("logistic_loss", 1.2).point_grad, rel=1e-4)


def test_jit_measure_gives_positive_times_and_the_device(measured):
    """Measure under jit shows positive eager and jitted step times and names the device."""
    for label in ("median step, no jit", "median step, jax.jit", "jit speed-up"):
        assert number(metric(measured, label)) > 0
    assert f"Measured on {runtime.device_label()}" in captions(measured)


def test_vmap_measure_gives_positive_times_and_the_device(measured):
    """Measure under vmap shows positive loop and vmap times for S = 64 and names the device."""
    assert number(metric(measured, "loop, S = 64")) > 0
    assert number(metric(measured, "vmap, S = 64")) > 0
    assert "Same estimate either way" in captions(measured)
    assert runtime.device_label() in captions(measured)


def test_scan_measure_gives_positive_rates(measured):
    """Measure under lax.scan shows positive steps/s for 1 and K = 10 steps per call."""
    assert number(metric(measured, "steps/s, 1 step per call")) > 0
    assert number(metric(measured, "steps/s, 10 steps per call")) > 0


def test_measure_charts_name_the_device(measured):
    """Every timing chart's title names the device it was measured on."""
    import json

    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"]
              for c in measured.get("plotly_chart")]
    timed = [t for t in titles if not t.startswith("grad")]
    assert len(timed) == 3 and all(runtime.device_label() in t for t in timed)


def test_failed_measurement_is_a_message_not_a_traceback(monkeypatch):
    """If a measurement raises, the page shows a warning and no exception."""
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(jax_demos, "time_scan", broken)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.button(key="jax_measure_scan").click().run()
    assert not at.exception, at.exception
    assert any("measurement failed (RuntimeError)" in w.value for w in at.warning)
