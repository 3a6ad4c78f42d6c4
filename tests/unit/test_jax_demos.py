"""bnnlab.lessons.jax_demos and jax_timing: grad against finite differences and a closed form,
every timing function on a tiny configuration (timings only checked to be positive and finite),
the measurement budget, measurements on a slot pool, a visitor's queue and the page's words."""

import math
import threading

import numpy as np
import pytest

from bnnlab.core import runtime
from bnnlab.lessons import jax_demos as jd
from bnnlab.lessons import jax_timing as jt
from bnnlab.live import scheduler
from bnnlab.training import chunks

# The page tests' smallest size: JAX caches the eager per-op kernels by shape, so sharing it
# lets a full test run pay the eager warm-up once.
TINY = dict(hidden=(16, 16), num_points=128)


def _positive_finite(*values: float) -> bool:
    return all(math.isfinite(v) and v > 0 for v in values)


@pytest.mark.parametrize("name", sorted(jd.GRAD_FUNCTIONS))
def test_grad_matches_finite_difference(name):
    """jax.grad agrees with a central finite difference everywhere on the plotted range."""
    demo = jd.grad_demo(name, jd.GRAD_FUNCTIONS[name].default_x)
    np.testing.assert_allclose(demo.grad, demo.finite_difference, rtol=2e-3, atol=2e-3)
    assert demo.point_grad == pytest.approx(demo.point_finite_difference, rel=2e-3, abs=2e-3)


def test_elbo_gradient_vanishes_at_the_exact_posterior():
    """ELBO'(2/3) = 0 and ELBO(2/3) = log P(T) = log 0.75 for the bug-free example."""
    demo = jd.grad_demo("elbo_bug_free", 2 / 3)
    assert demo.point_grad == pytest.approx(0.0, abs=1e-4)
    assert demo.point_value == pytest.approx(math.log(0.75), abs=1e-5)


def test_grad_demo_clips_the_point_into_range():
    """A point outside the function's range is clipped, never evaluated at log(0)."""
    demo = jd.grad_demo("elbo_bug_free", 7.0)
    assert demo.point == pytest.approx(jd.GRAD_FUNCTIONS["elbo_bug_free"].hi)
    assert math.isfinite(demo.point_grad)


@pytest.mark.slow
def test_vi_step_timing_is_positive_and_recompiles_only_on_new_shapes():
    """Eager and jitted step times are > 0; a new learning rate reuses the trace, a new sample
    count traces again."""
    timing = jd.time_vi_step(num_samples=8, eager_calls=2, jit_calls=3, **TINY)
    assert _positive_finite(timing.eager_first_s, timing.eager_median_s, timing.jit_first_s,
                            timing.jit_median_s, timing.new_learning_rate_s,
                            timing.new_num_samples_s)
    assert (timing.traces_after_new_learning_rate, timing.traces_after_new_num_samples) == (1, 2)
    assert timing.device == runtime.device_label()


@pytest.mark.slow
def test_loop_and_vmap_give_the_same_estimate():
    """The Python loop and vmap estimate the same E_q[log P(Y|X,θ)], both in positive time."""
    timing = jd.time_expected_log_likelihood((1, 3), repeats=2, **TINY)
    np.testing.assert_allclose(timing.loop_value, timing.vmap_value, rtol=1e-5)
    assert _positive_finite(*timing.loop_s, *timing.vmap_s)
    assert list(timing.num_samples) == [1, 3]


@pytest.mark.slow
def test_scan_timing_reports_positive_rates():
    """Both throughputs are > 0 and the step count is a multiple of K · rounds."""
    progress = []
    timing = jd.time_scan(4, total_steps=10, num_samples=2, rounds=2,
                          on_progress=progress.append, **TINY)
    assert _positive_finite(timing.one_step_steps_per_s, timing.k_steps_steps_per_s)
    assert timing.total_steps == 16 and progress == [0.5, 1.0]


def test_source_is_the_real_source():
    """The page shows the library's own code, and an excerpt of the engine's lax.scan loop."""
    assert jd.source_of(jd.vi.step_from_noise).startswith("def step_from_noise(")
    excerpt = jd.source_excerpt(chunks.make_run_chunk, "    def run_chunk(", "    return run_chunk")
    assert excerpt.startswith("def run_chunk(") and "jax.lax.scan(" in excerpt
    assert "return run_chunk" not in excerpt


def test_source_survives_the_python_311_ast_race(monkeypatch):
    """Two sessions reading a class's source at once can make CPython 3.11 raise "SystemError:
    AST constructor recursion depth mismatch" (python/cpython#106905): CI's server log had one.
    The read is tried again, and a source once read is kept; a function without a source file
    gets a comment, not a traceback."""
    calls = []

    def flaky(fn):
        calls.append(fn)
        if len(calls) == 1:
            raise SystemError("AST constructor recursion depth mismatch (before=45, after=37)")
        return "class Flaky: ...\n"

    class Flaky:
        pass

    monkeypatch.setattr(jd.inspect, "getsource", flaky)
    assert jd.source_of(Flaky) == "class Flaky: ...\n" and len(calls) == 2
    assert jd.source_of(Flaky) == "class Flaky: ...\n" and len(calls) == 2  # kept
    made = eval("lambda: 1")  # noqa: S307 -- a function with no source file
    monkeypatch.undo()
    assert jd.source_of(made).startswith("# source of")


def test_no_page_needs_streamlit_magic():
    """Magic is off (it parses every page with `ast`, the race above): no page may hold a bare
    expression that magic would have written to the page."""
    import ast
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    settings = tomllib.loads((root / ".streamlit" / "config.toml").read_text())
    assert settings["runner"]["magicEnabled"] is False
    for script in [root / "app.py", *sorted((root / "app_pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(script.read_text())):
            if isinstance(node, ast.Expr):
                value = node.value
                docstring = isinstance(value, ast.Constant) and isinstance(value.value, str)
                assert docstring or isinstance(value, ast.Call | ast.Await | ast.Yield), (
                    f"{script.name}:{node.lineno} is a bare expression")


def test_measurement_size_keeps_offered_sizes_and_replaces_others():
    """Offered sizes pass through; anything else falls back to the default with a notice."""
    size, notices = jt.measurement_size("16,16", 128, 10)
    assert size == jt.MeasurementSize((16, 16), 128, 10) and notices == []
    size, notices = jt.measurement_size("64,64", 5000, 1000)
    assert size == jt.MeasurementSize(jt.NETWORKS[jt.DEFAULT_NETWORK], jt.DEFAULT_POINTS,
                                      jt.DEFAULT_CHUNK)
    assert len(notices) == 3 and "'64,64' is not offered" in notices[0]


def test_budget_bounds_the_offered_sizes():
    """The cost budget: no offered size exceeds 32,32 hidden units or 256 points."""
    assert max(max(h) for h in jt.NETWORKS.values()) <= 32
    assert max(jt.POINT_CHOICES) <= 256 and max(jt.SAMPLE_COUNTS) <= 64
    assert jt.DEFAULT_NETWORK in jt.NETWORKS and jt.DEFAULT_POINTS in jt.POINT_CHOICES


def test_measurement_runs_on_a_pool_slot_and_frees_it(monkeypatch):
    """start_measurement runs on a worker holding a slot of the given pool, reports progress,
    and the slot is free once the outcome is known."""
    pool = scheduler.Slots(1, name="test pool")
    seen = []

    def fake_scan(*args, on_progress=None, **kwargs):
        seen.append(pool.in_use())
        on_progress(0.5)
        return "timing"

    monkeypatch.setattr(jd, "time_scan", fake_scan)
    m = jt.start_measurement("scan", jt.MeasurementSize((16, 16), 128, 10), pool, 5.0)
    assert m.wait(30) and m.state == "done"
    assert m.outcome() == "timing" and seen == [1] and m.progress == 0.5
    assert m.others_at_start == 0 and pool.in_use() == 0
    with pytest.raises(ValueError, match="unknown measurement"):
        jt.start_measurement("nope", jt.MeasurementSize((16, 16), 128, 10), pool)


def test_measurement_outcome_is_a_sentence_when_it_fails(monkeypatch):
    """A measurement that raises, or waits too long, gives a sentence, never a traceback."""
    pool = scheduler.Slots(1)
    monkeypatch.setattr(jd, "time_scan", lambda *a, **k: 1 / 0)
    m = jt.start_measurement("scan", jt.MeasurementSize((16, 16), 128, 10), pool, 5.0)
    assert m.wait(30)
    assert m.outcome() == "The measurement failed (ZeroDivisionError); try a smaller size."
    with pool.hold(1.0):
        m = jt.start_measurement("scan", jt.MeasurementSize((16, 16), 128, 10), pool, 0.05)
        assert m.wait(30)
    assert m.outcome().startswith("Waited 0.")
    assert pool.in_use() == 0


def test_grad_function_name_falls_back_to_the_default():
    """A name that is not a grad demo (a stale session value) becomes the ELBO example."""
    assert jd.grad_function_name("wiggly") == "wiggly"
    assert jd.grad_function_name("gone") == jd.grad_function_name(None) == "elbo_bug_free"
    assert "φ = 2/3 = P(F | T)" in jd.GRAD_FUNCTIONS["elbo_bug_free"].note
    assert jd.GRAD_FUNCTIONS["wiggly"].note == ""


def test_queue_runs_one_measurement_at_a_time_and_stores_outcomes(monkeypatch):
    """Two Measure clicks on one kind queue it once; the first starts at once, the second
    waits behind it, and each outcome lands under its own key with the pool's other jobs."""
    pool = scheduler.Slots(1)
    release = threading.Event()
    monkeypatch.setattr(jd, "time_scan", lambda *a, **k: release.wait(30) and "scan timing")
    monkeypatch.setattr(jd, "time_vi_step", lambda *a, **k: "jit timing")
    size = jt.MeasurementSize((16, 16), 128, 10)
    state: dict = {}
    for kind in ("scan", "scan", "jit"):
        jt.request(state, kind)
    assert state[jt.QUEUE_KEY] == ["scan", "jit"]
    jt.collect_and_start(state, size, pool, 5.0)
    assert jt.pending_measurement(state, "scan") is not None
    assert jt.pending_measurement(state, "jit") is None
    jt.request(state, "scan")  # already running: not queued again
    assert state[jt.QUEUE_KEY] == ["jit"]
    assert jt.queued_caption(state) == "Queued: runs after your measurement of 1 vs K steps " \
                                       "per call."
    release.set()
    for _ in range(3):
        pending = jt.pending_measurement(state)
        if pending is not None:
            assert pending.wait(30)
        jt.collect_and_start(state, size, pool, 5.0)
    assert state[jt.result_key("scan")] == "scan timing"
    assert state[jt.result_key("jit")] == "jit timing"
    assert state[jt.shared_key("scan")] == 0
    assert state[jt.PENDING_KEY] is None and state[jt.QUEUE_KEY] == []
    assert pool.in_use() == 0


def test_page_words_for_each_timing():
    """Metrics and captions carry the timing's own numbers in the page's formats."""
    assert (jt.format_duration(0.00143), jt.format_duration(6.54)) == ("1.43 ms", "6.54 s")
    jit = jd.JitTiming(0.5, 0.02, 1.5, 0.001, 0.0011, 1, 0.9, 2, 337, "cpu")
    assert [(m.label, m.value) for m in jt.jit_metrics(jit)] == [
        ("median step, no jit", "20 ms"), ("median step, jax.jit", "1 ms"),
        ("jit speed-up", "20×")]
    new_lr, new_samples = jt.recompile_metrics(jit)
    assert new_lr.caption == "Traced once so far: no recompile."
    assert new_samples.caption == "Traced 2 times: it compiled again."
    assert (jt.times(1), jt.times(3)) == ("once", "3 times")
    assert new_samples.label == "call with 9 samples instead of 8"
    vmap = jd.VmapTiming(np.array([1, 64]), np.array([0.001, 0.064]), np.array([0.001, 0.004]),
                         np.array([-1.0, -2.0]), np.array([-1.0, -2.0 + 1e-6]), 337, "cpu")
    assert [m.label for m in jt.vmap_metrics(vmap)] == ["loop, S = 64", "vmap, S = 64",
                                                         "vmap speed-up"]
    assert jt.vmap_metrics(vmap)[2].value == "16.0×"
    assert "between loop and vmap is 1e-06 (float32 rounding)" in jt.vmap_caption(vmap)
    fast = jd.ScanTiming(10, 300, 1000.0, 4000.0, "cpu")
    slow = fast._replace(k_steps_steps_per_s=1200.0)
    assert [m.value for m in jt.scan_metrics(fast)] == ["1,000", "4,000", "4.0×"]
    assert jt.scan_gain_note(fast) is None
    assert "Try Hidden layers 16,16 and 128 points above." in jt.scan_gain_note(slow)
    assert jt.scan_caption(fast).startswith("300 training steps each way, alternating in 3 ")
    assert "(4 slots)" in jt.size_caption(4) and "all 4 of its slots" in jt.waiting_message(4, 60)
