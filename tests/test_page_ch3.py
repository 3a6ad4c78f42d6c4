"""AppTest for chapter 3: Fit/Pause/Step/Reset drive the live fit, widgets change what is
drawn, bad points are refused with a message, and no value in range raises."""

import math
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bnnlab.exact import methods

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "ch3_variational_inference.py")


def _spec(at: AppTest, key: str) -> str:
    specs = [c.proto.spec for c in at.get("plotly_chart") if key in c.proto.id]
    assert len(specs) == 1, key
    return specs[0]


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label))


def _step(at: AppTest) -> int:
    return int(_metric(at, "step"))


@pytest.fixture(scope="module")
def app() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    return at


def test_page_renders_its_charts_at_step_zero(app):
    """The default page shows the posterior, the decomposition, the data, and the method's
    posterior and predictive, at step 0."""
    assert len(app.get("plotly_chart")) == 3
    views = [e.key for e in app.get("bidi_component")]  # redrawn in place, in the browser
    assert views == ["ch3_posterior_view", "ch3_method_predictive"]
    assert _step(app) == 0 and not app.error


def test_fit_advances_each_tick_and_pause_stops(app):
    """After Fit every fragment tick adds a chunk of steps; after Pause ticks add none."""
    app.button("ch3_reset").click().run()
    app.button("ch3_fit").click().run()
    first = _step(app)
    app.run()
    assert _step(app) == first + 10 > 10
    app.button("ch3_pause").click().run()
    paused = _step(app)
    app.run()
    assert _step(app) == paused


def test_identity_holds_on_the_page(app):
    """The page's ELBO + KL − log P(D) residual is at rounding level after some steps."""
    app.button("ch3_step").click().run()
    assert abs(float(_metric(app, "ELBO + KL"))) < 1e-6


def test_step_advances_by_steps_per_frame_and_reset_returns_to_zero(app):
    """Step runs exactly one chunk (steps per frame); Reset brings Q back to step 0."""
    app.select_slider("ch3_steps_per_tick").set_value(5).run()
    before = _step(app)
    app.button("ch3_step").click().run()
    assert _step(app) == before + 5
    app.button("ch3_reset").click().run()
    assert _step(app) == 0


@pytest.mark.parametrize("kind, key, value", [
    ("selectbox", "ch3_model", "logistic"),
    ("slider", "ch3_prior_std", 0.8),
    ("slider", "ch3_num_points", 100),
    ("radio", "ch3_family", "full covariance"),
])
def test_widget_changes_the_posterior_picture(app, kind, key, value):
    """Changing the model, prior, data or Q family redraws the posterior and restarts Q."""
    app.button("ch3_step").click().run()
    before = _spec(app, "ch3_posterior_chart")
    getattr(app, kind)(key).set_value(value).run()
    assert not app.exception
    assert _spec(app, "ch3_posterior_chart") != before
    assert _step(app) == 0


def test_bad_points_show_a_message_and_keep_the_last_valid_data():
    """Unparseable points give an error in the page and the last valid points stay in use."""
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.radio("ch3_source").set_value("my own points").run()
    at.text_area("ch3_points").set_value("0.5, 1\n-1, 0\n2, 1").run()
    good = _metric(at, "log P(D)")
    for bad in ("abc, 1", "", "1, 0.3", "\n".join(["0, 1"] * 201), "<b>1</b>, 1"):
        at.text_area("ch3_points").set_value(bad).run()
        assert not at.exception
        assert len(at.error) == 1 and "Keeping the last valid points" in at.error[0].value
        assert "<b>" not in at.error[0].value
        assert _metric(at, "log P(D)") == good


@pytest.mark.parametrize("model", ["tanh_unit", "logistic", "linear"])
@pytest.mark.parametrize("end", ["min", "max"])
def test_widget_extremes_do_not_raise(app, model, end):
    """Every slider at its min (or max), with either estimator, steps without exceptions or NaN."""
    app.selectbox("ch3_model").set_value(model).run()
    app.selectbox("ch3_estimator").set_value("monte_carlo" if end == "min" else "gauss_hermite")
    for slider in app.slider:
        slider.set_value(getattr(slider, end))
    for sel in app.select_slider:
        sel.set_value(sel.options[0] if end == "min" else sel.options[-1])
    app.run()
    app.button("ch3_step").click().run()
    assert not app.exception
    values = [_metric(app, label) for label in ("log P(D)", "ELBO", "KL(Q")]
    assert all(math.isfinite(float(v)) for v in values), values


def test_wide_q_shows_the_accurate_elbo():
    """Issue 12's wide Q (tanh unit, σ 1.5, Q at (−1, 1) with σ 2): the page shows ELBO −46.0340
    (E_Q[log lik] −45.3871 − KL(Q‖P(θ)) 0.6469), not the old −46.5757, and the check holds."""
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.slider("ch3_init_std").set_value(2.0).run()
    assert _metric(at, "ELBO") == "-46.0340"
    assert abs(float(_metric(at, "ELBO + KL"))) < 1e-6


def _filled_table(at: AppTest, timeout_s: float = 180.0):
    """The comparison table once the background thread has run every method (each `run`
    redraws it, as the fragment's timer does in the browser)."""
    deadline = time.monotonic() + timeout_s
    while True:
        table = at.dataframe[0].value
        if "computing…" not in set(table["evidence kind"]) or time.monotonic() > deadline:
            return table
        time.sleep(0.5)
        at.run()


def test_method_table_fills_with_every_method_and_the_exact_row(app):
    """The table starts with the shown method, fills in the background, and then has the exact
    row and one row per method, KLs ≥ 0 for Gaussians."""
    table = _filled_table(app)
    assert "computing…" not in set(table["evidence kind"])
    assert list(table["method"])[0] == "Exact (quadrature)" and len(table) == 6
    kls = table["KL(Q‖P)"].to_numpy()[1:5]
    assert (kls >= -1e-9).all()


@pytest.mark.parametrize("method", ["vi_mean_field", "vi_full", "forward_kl", "laplace", "hmc"])
def test_every_method_can_be_shown(app, method):
    """Switching the shown method redraws without exceptions, and its row is then in the table
    (the posterior view is a component; only the predictive is a Plotly chart)."""
    app.radio("ch3_method").set_value(method).run()
    assert not app.exception
    assert [e.key for e in app.get("bidi_component")] == ["ch3_posterior_view",
                                                           "ch3_method_predictive"]
    assert "computing…" not in set(
        app.dataframe[0].value.iloc[1 + methods.METHODS.index(method)][["evidence kind"]])


def test_temperature_changes_the_exact_row():
    """T = 0.5 gives the tempered posterior's normaliser, a different exact evidence."""
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    before = at.dataframe[0].value["log evidence"].iloc[0]
    at.select_slider("ch3_temperature").set_value(0.5).run()
    assert not at.exception
    assert at.dataframe[0].value["log evidence"].iloc[0] < before
