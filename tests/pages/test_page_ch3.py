"""AppTest for chapter 3: Fit/Pause/Step/Reset drive the live fit, widgets change what is
drawn, bad points are refused with a message, and no value in range raises."""

import math
import time

import pytest
from streamlit.testing.v1 import AppTest

from bnnlab.lessons.exact.approximations import METHODS
from tests.pages.conftest import new_app

PAGE = "ch3_variational_inference.py"


def _spec(at: AppTest, key: str) -> str:
    specs = [c.proto.spec for c in at.get("plotly_chart") if key in c.proto.id]
    assert len(specs) == 1, key
    return specs[0]


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label))


def _step(at: AppTest) -> int:
    return int(_metric(at, "step"))


def test_page_renders_its_charts_at_step_zero(shared_app):
    """The default page shows the posterior, the decomposition, the data, and the method's
    posterior and predictive, at step 0."""
    assert len(shared_app.get("plotly_chart")) == 3
    views = [e.key for e in shared_app.get("bidi_component")]  # redrawn in place, in the browser
    assert views == ["ch3_posterior_view", "ch3_method_predictive"]
    assert _step(shared_app) == 0 and not shared_app.error


def test_table_shows_missing_numbers_as_dashes(shared_app):
    """The comparison table shows a missing number (the exact row's wall time) as "—", as its
    caption says, never "None" or "nan"."""
    cells = shared_app.dataframe[0].value.to_numpy().ravel().tolist()
    assert "—" in cells
    assert not any(c is None or str(c) in ("None", "nan", "NaN") for c in cells)
    assert any("—" in c.value for c in shared_app.caption)


def test_page_says_why_one_mode_is_enough(shared_app):
    """Where the modes are discussed, the page says that θ and −θ predict the same."""
    assert any("θ and −θ predict the same" in m.value for m in shared_app.markdown)


@pytest.mark.slow
def test_fit_advances_each_tick_and_pause_stops(shared_app):
    """After Fit every fragment tick adds a chunk of steps; after Pause ticks add none."""
    shared_app.button("ch3_reset").click().run()
    shared_app.button("ch3_fit").click().run()
    first = _step(shared_app)
    shared_app.run()
    assert _step(shared_app) == first + 10 > 10
    shared_app.button("ch3_pause").click().run()
    paused = _step(shared_app)
    shared_app.run()
    assert _step(shared_app) == paused


@pytest.mark.slow
def test_identity_holds_on_the_page(shared_app):
    """The page's ELBO + KL − log P(D) residual is at rounding level after some steps."""
    shared_app.button("ch3_step").click().run()
    assert abs(float(_metric(shared_app, "ELBO + KL"))) < 1e-6


@pytest.mark.slow
def test_step_advances_by_steps_per_frame_and_reset_returns_to_zero(shared_app):
    """Step runs exactly one chunk (steps per frame); Reset brings Q back to step 0."""
    shared_app.select_slider("ch3_steps_per_tick").set_value(5).run()
    before = _step(shared_app)
    shared_app.button("ch3_step").click().run()
    assert _step(shared_app) == before + 5
    shared_app.button("ch3_reset").click().run()
    assert _step(shared_app) == 0


@pytest.mark.slow
@pytest.mark.parametrize("kind, key, value", [
    ("selectbox", "ch3_model", "logistic"),
    ("slider", "ch3_prior_std", 0.8),
    ("slider", "ch3_num_points", 100),
    ("radio", "ch3_family", "full covariance"),
])
def test_widget_changes_the_posterior_picture(shared_app, kind, key, value):
    """Changing the model, prior, data or Q family redraws the posterior and restarts Q."""
    shared_app.button("ch3_step").click().run()
    before = _spec(shared_app, "ch3_posterior_chart")
    getattr(shared_app, kind)(key).set_value(value).run()
    assert not shared_app.exception
    assert _spec(shared_app, "ch3_posterior_chart") != before
    assert _step(shared_app) == 0


@pytest.mark.slow
def test_bad_points_show_a_message_and_keep_the_last_valid_data():
    """Unparseable points give an error in the page and the last valid points stay in use."""
    at = new_app(PAGE).run()
    at.radio("ch3_source").set_value("my own points").run()
    at.text_area("ch3_points").set_value("0.5, 1\n-1, 0\n2, 1").run()
    good = _metric(at, "log P(D)")
    for bad in ("abc, 1", "", "1, 0.3", "\n".join(["0, 1"] * 201), "<b>1</b>, 1"):
        at.text_area("ch3_points").set_value(bad).run()
        assert not at.exception
        assert len(at.error) == 1 and "Keeping the last valid points" in at.error[0].value
        assert "<b>" not in at.error[0].value
        assert _metric(at, "log P(D)") == good


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tanh_unit", "logistic", "linear"])
@pytest.mark.parametrize("end", ["min", "max"])
def test_widget_extremes_do_not_raise(shared_app, model, end):
    """Every slider at its min (or max), with either estimator, steps without exceptions or NaN."""
    shared_app.selectbox("ch3_model").set_value(model).run()
    estimator = "monte_carlo" if end == "min" else "gauss_hermite"
    shared_app.selectbox("ch3_estimator").set_value(estimator)
    for slider in shared_app.slider:
        slider.set_value(getattr(slider, end))
    for sel in shared_app.select_slider:
        sel.set_value(sel.options[0] if end == "min" else sel.options[-1])
    shared_app.run()
    shared_app.button("ch3_step").click().run()
    assert not shared_app.exception
    values = [_metric(shared_app, label) for label in ("log P(D)", "ELBO", "KL(Q")]
    assert all(math.isfinite(float(v)) for v in values), values


@pytest.mark.slow
def test_wide_q_shows_the_accurate_elbo():
    """A wide Q (tanh unit, σ 1.5, Q at (−1, 1) with σ 2): the page shows ELBO −46.0340
    (E_Q[log lik] −45.3871 − KL(Q‖P(θ)) 0.6469), and the check holds."""
    at = new_app(PAGE).run()
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


@pytest.mark.slow
def test_method_table_fills_with_every_method_and_the_exact_row(shared_app):
    """The table starts with the shown method, fills in the background, and then has the exact
    row and one row per method, KLs ≥ 0 for Gaussians."""
    table = _filled_table(shared_app)
    assert "computing…" not in set(table["evidence kind"])
    assert list(table["method"])[0] == "Exact (quadrature)" and len(table) == 6
    kls = [float(v) for v in table["KL(Q‖P)"].to_numpy()[1:5]]  # shown as text, 4 decimals
    assert all(kl >= 0 for kl in kls)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_can_be_shown(shared_app, method):
    """Switching the shown method redraws without exceptions, and its row is then in the table
    (the posterior view is a component; only the predictive is a Plotly chart)."""
    shared_app.radio("ch3_method").set_value(method).run()
    assert not shared_app.exception
    assert [e.key for e in shared_app.get("bidi_component")] == ["ch3_posterior_view",
                                                           "ch3_method_predictive"]
    assert "computing…" not in set(
        shared_app.dataframe[0].value.iloc[1 + METHODS.index(method)][["evidence kind"]])


@pytest.mark.slow
def test_temperature_changes_the_exact_row():
    """T = 0.5 gives the tempered posterior's normaliser, a different exact evidence."""
    at = new_app(PAGE).run()
    before = float(at.dataframe[0].value["log evidence"].iloc[0])  # shown as text
    at.select_slider("ch3_temperature").set_value(0.5).run()
    assert not at.exception
    assert float(at.dataframe[0].value["log evidence"].iloc[0]) < before
