"""AppTest for chapter 2: every widget changes what is drawn, and no value in range raises."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.pages.conftest import new_app

PAGE = "ch2_bayesian_training.py"


def _spec(at: AppTest, key: str) -> str:
    """The Plotly figure JSON of the chart with this key (a `ui.figure` component)."""
    specs = [json.loads(c.proto.json)["spec"] for c in at.get("bidi_component")
             if c.proto.id.endswith("-" + key)]
    assert len(specs) == 1, key
    return specs[0]


def test_page_renders_all_charts(shared_app):
    """The default page shows its six charts, the parameter count and no error."""
    assert len(shared_app.get("bidi_component")) == 6
    assert not shared_app.error
    assert shared_app.metric[2].value == "337"  # d for 2-16-16-1


@pytest.mark.parametrize("kind, key, value, charts", [
    ("slider", "ch2_prior_std", 3.0, ["ch2_prior_chart", "ch2_functions_chart",
                                      "ch2_boundaries_chart", "ch2_likelihood_chart"]),
    ("slider", "ch2_num_points", 120, ["ch2_data_chart", "ch2_likelihood_chart"]),
    ("slider", "ch2_draw", 3, ["ch2_likelihood_chart", "ch2_prior_chart"]),
    ("slider", "ch2_num_draws", 9, ["ch2_functions_chart"]),
    ("select_slider", "ch2_points_per_axis", 1000, ["ch2_intractability_chart"]),
])
def test_widget_changes_its_charts(shared_app, kind, key, value, charts):
    """Moving a widget redraws the charts that depend on it."""
    before = {k: _spec(shared_app, k) for k in charts}
    getattr(shared_app, kind)(key).set_value(value).run()
    assert not shared_app.exception
    for k in charts:
        assert _spec(shared_app, k) != before[k], k


def test_architecture_changes_parameter_count_and_draws(shared_app):
    """Three classes, one hidden layer of 4 ReLUs: d = 3·4 + 5·3 = 27 and new draws."""
    at = shared_app
    before = _spec(at, "ch2_boundaries_chart")
    at.slider("ch2_depth").set_value(1)
    at.select_slider("ch2_width").set_value(4)
    at.radio("ch2_activation").set_value("relu")
    at.radio("ch2_num_classes").set_value(3).run()
    assert not at.exception
    assert at.metric[2].value == "27"
    assert _spec(at, "ch2_boundaries_chart") != before


@pytest.mark.slow
@pytest.mark.parametrize("end", ["min", "max"])
def test_widget_extremes_do_not_raise(shared_app, end):
    """Every slider at its minimum (or maximum) at once renders without an exception."""
    at = shared_app
    for slider in at.slider:
        slider.set_value(getattr(slider, end))
    for sel in at.select_slider:
        sel.set_value(sel.options[0] if end == "min" else sel.options[-1])
    at.number_input("ch2_seed").set_value(0 if end == "min" else 9999)
    at.run()
    assert not at.exception and not at.error
    assert all("nan" not in m.value.lower() for m in at.metric)


def test_class_colours_are_chapter_fours(shared_app):
    """Class 0 and class 1 have chapter 4's colours (`palette.CLASS_COLOURS`, which the live
    maps get through their payload) in the data chart, and P(class 1) uses the palette's
    orange-white-blue scale."""
    from bnnlab.core import palette

    ch4 = palette.CLASS_COLOURS[:2]  # the live maps colour classes from the same palette
    at = new_app(PAGE).run()
    data = json.loads(_spec(at, "ch2_data_chart"))["data"]
    colours = {t["name"]: t["marker"]["color"] for t in data}
    assert (colours["class 0"], colours["class 1"]) == ch4
    boundaries = json.loads(_spec(at, "ch2_boundaries_chart"))["data"][0]
    assert boundaries["colorscale"] == palette.PROBABILITY_COLORSCALE  # orange → white → blue


def test_page_holds_no_jit():
    """The page compiles nothing itself: jit lives in bnnlab."""
    source = (ROOT / "app_pages" / PAGE).read_text()
    assert "jax.jit" not in source and "jnp." not in source


def test_evidence_table_says_its_times_are_warm(shared_app):
    """The 2-parameter evidence table has its six grids and says the times are of warm calls."""
    text = "\n".join(m.value for m in shared_app.markdown)
    assert all(f"| {g} × {g} = {g * g:,} |" in text for g in (5, 10, 20, 50, 100, 200))
    assert "median of three calls after a first one" in text
