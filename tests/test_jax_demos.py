"""bnnlab.jax_demos: grad against finite differences and a closed form, and every timing
function on a tiny configuration (timings only checked to be positive and finite)."""

import math

import numpy as np
import pytest

from bnnlab import jax_demos as jd
from bnnlab import runtime

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


def test_vi_step_timing_is_positive_and_recompiles_only_on_new_shapes():
    """Eager and jitted step times are > 0; a new learning rate reuses the trace, a new sample
    count traces again."""
    timing = jd.time_vi_step(num_samples=8, eager_calls=2, jit_calls=3, **TINY)
    assert _positive_finite(timing.eager_first_s, timing.eager_median_s, timing.jit_first_s,
                            timing.jit_median_s, timing.new_learning_rate_s,
                            timing.new_num_samples_s)
    assert (timing.traces_after_new_learning_rate, timing.traces_after_new_num_samples) == (1, 2)
    assert timing.device == runtime.device_label()


def test_loop_and_vmap_give_the_same_estimate():
    """The Python loop and vmap estimate the same E_q[log P(Y|X,θ)], both in positive time."""
    timing = jd.time_expected_log_likelihood((1, 3), repeats=2, **TINY)
    np.testing.assert_allclose(timing.loop_value, timing.vmap_value, rtol=1e-5)
    assert _positive_finite(*timing.loop_s, *timing.vmap_s)
    assert list(timing.num_samples) == [1, 3]


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
    excerpt = jd.source_excerpt(jd.train.make_engine, "def run_chunk(", "def sample_params(")
    assert excerpt.startswith("def run_chunk(") and "jax.lax.scan(" in excerpt
    assert "def sample_params(" not in excerpt


def test_measurement_size_keeps_offered_sizes_and_replaces_others():
    """Offered sizes pass through; anything else falls back to the default with a notice."""
    size, notices = jd.measurement_size("16,16", 128, 10)
    assert size == jd.MeasurementSize((16, 16), 128, 10) and notices == []
    size, notices = jd.measurement_size("64,64", 5000, 1000)
    assert size == jd.MeasurementSize(jd.NETWORKS[jd.DEFAULT_NETWORK], jd.DEFAULT_POINTS,
                                      jd.DEFAULT_CHUNK)
    assert len(notices) == 3 and "'64,64' is not offered" in notices[0]


def test_budget_bounds_the_offered_sizes():
    """The cost budget: no offered size exceeds 32,32 hidden units or 256 points."""
    assert max(max(h) for h in jd.NETWORKS.values()) <= 32
    assert max(jd.POINT_CHOICES) <= 256 and max(jd.SAMPLE_COUNTS) <= 64
    assert jd.DEFAULT_NETWORK in jd.NETWORKS and jd.DEFAULT_POINTS in jd.POINT_CHOICES


def test_measurement_runs_on_a_pool_slot_and_frees_it(monkeypatch):
    """start_measurement runs on a worker holding a slot of the given pool, reports progress,
    and the slot is free once the outcome is known."""
    from bnnlab import scheduler

    pool = scheduler.Slots(1, name="test pool")
    seen = []

    def fake_scan(*args, on_progress=None, **kwargs):
        seen.append(pool.in_use())
        on_progress(0.5)
        return "timing"

    monkeypatch.setattr(jd, "time_scan", fake_scan)
    m = jd.start_measurement("scan", jd.MeasurementSize((16, 16), 128, 10), pool, 5.0)
    assert m.wait(30) and m.state == "done"
    assert m.outcome() == "timing" and seen == [1] and m.progress == 0.5
    assert m.others_at_start == 0 and pool.in_use() == 0
    with pytest.raises(ValueError, match="unknown measurement"):
        jd.start_measurement("nope", jd.MeasurementSize((16, 16), 128, 10), pool)


def test_measurement_outcome_is_a_sentence_when_it_fails(monkeypatch):
    """A measurement that raises, or waits too long, gives a sentence, never a traceback."""
    from bnnlab import scheduler

    pool = scheduler.Slots(1)
    monkeypatch.setattr(jd, "time_scan", lambda *a, **k: 1 / 0)
    m = jd.start_measurement("scan", jd.MeasurementSize((16, 16), 128, 10), pool, 5.0)
    assert m.wait(30)
    assert m.outcome() == "The measurement failed (ZeroDivisionError); try a smaller size."
    with pool.hold(1.0):
        m = jd.start_measurement("scan", jd.MeasurementSize((16, 16), 128, 10), pool, 0.05)
        assert m.wait(30)
    assert m.outcome().startswith("Waited 0.")
    assert pool.in_use() == 0
