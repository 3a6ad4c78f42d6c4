"""The comparison page under AppTest: it starts idle, trains the chosen methods on one data set
and shows their maps, table and computed lesson; bad input gives a message, not a traceback."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.conftest import new_app

PAGE = "compare.py"


def prepare(at: AppTest, methods=("map", "ensemble", "hmc")) -> None:
    at.session_state["cmp_methods"] = list(methods)
    at.session_state["cmp_num_points"] = 64
    at.session_state["cmp_hidden"] = "8"
    at.session_state["cmp_steps"] = 200
    at.session_state["cmp_hmc_warmup"] = 60
    at.session_state["cmp_samples_after_warmup"] = 40
    at.session_state["cmp_hmc_max_doublings"] = 4
    at.session_state["cmp_ensemble_size"] = 3
    at.session_state["cmp_grid_size"] = 20


def _maps(at: AppTest) -> list[dict]:
    """The data of the canvas maps component (`bnnlab.compare.maps_payload`)."""
    return [json.loads(c.proto.json) for c in at.get("bidi_component")
            if c.proto.component_name.endswith("bnnlab_compare_maps")]


def test_page_starts_idle_with_an_invitation(app):
    """Before Train there is no chart and no exception, and the Train button is there."""
    assert not app.exception
    assert not _maps(app)
    assert any(b.label == "▶ Train" for b in app.button)


@pytest.mark.slow
def test_train_shows_every_chosen_method_and_ticks(app):
    """Train: one map per chosen method on a shared scale; each tick advances the table."""
    app.number_input(key="cmp_steps").set_value(100_000).run()  # still training when checked
    next(b for b in app.button if b.label == "▶ Train").click().run()
    assert not app.exception
    maps = _maps(app)[0]
    assert [m["title"] for m in maps["maps"]] == ["MAP", "Deep ensemble", "HMC (reference)"]
    assert maps["vmax"] == pytest.approx(np.log(2))
    side = maps["grid"]["nx"] * maps["grid"]["ny"]
    assert all(len(base64.b64decode(m["values"])) == side for m in maps["maps"])
    first = app.dataframe[0].value
    assert list(first["method"]) == ["MAP", "Deep ensemble", "HMC (reference)"]
    comparison = app.session_state["cmp_comparison"]
    for run in comparison.runs.values():  # they train on the page's trainer thread
        assert run.wait_for_step_after(0, 120)
    app.run()
    assert not app.exception
    later = app.dataframe[0].value
    assert list(later["progress"]) != list(first["progress"])
    assert any("HMC" in p.proto.text for p in app.get("progress")) or app.get("progress")
    assert any("I don't know" in m.value or "confident" in m.value for m in app.markdown)
    next(b for b in app.button if b.label == "⏹ Stop").click().run()


def test_bad_hidden_layers_give_a_message_and_no_traceback(app):
    """A malformed layer list is refused with a clear message."""
    app.text_input(key="cmp_hidden").set_value("8,x").run()
    assert not app.exception
    assert any("hidden" in e.value for e in app.error)


def test_no_method_chosen_is_refused(app):
    """An empty method list names the problem."""
    app.multiselect(key="cmp_methods").set_value([]).run()
    assert not app.exception
    assert any("at least one method" in e.value for e in app.error)


def test_user_text_in_an_error_is_shown_as_typed(app):
    """Markdown in the hidden-layers field (a link, bold text) is escaped in the error."""
    app.text_input(key="cmp_hidden").set_value("[x](https://evil.example) **b**").run()
    assert not app.exception
    text = " ".join(e.value for e in app.error)
    assert r"\[x\]\(https" in text and "**b**" not in text.replace("\\*", "")


@pytest.mark.slow
def test_three_gaussian_blobs_train_with_three_colours():
    """Gaussian blobs with 3 classes: the maps payload carries three palette colours and the
    ln 3 scale, the caption says where the most probable class changes; moons greys the
    classes setting out."""
    from bnnlab.core import palette

    at = new_app(PAGE)
    prepare(at, methods=("map", "vi"))
    at.run()
    at.selectbox(key="cmp_dataset").set_value("gaussians").run()
    at.selectbox(key="cmp_num_classes").set_value(3).run()
    assert not at.selectbox(key="cmp_num_classes").disabled
    next(b for b in at.button if b.label == "▶ Train").click().run()
    assert not at.exception and not at.error
    maps = _maps(at)[0]
    assert maps["classes"] == palette.class_legend(3)
    assert maps["vmax"] == pytest.approx(np.log(3))
    assert set(maps["train"]["c"]) == {"0", "1", "2"}
    assert any("most probable class changes" in c.value for c in at.caption)
    stop = [b for b in at.button if b.label == "⏹ Stop"]  # a tiny run may have finished
    if stop:
        stop[0].click().run()
    at.selectbox(key="cmp_dataset").set_value("moons").run()
    assert at.selectbox(key="cmp_num_classes").value == 2
    assert at.selectbox(key="cmp_num_classes").disabled

# ------------------------------------------------------------------ temperature (issue 16)


def test_temperature_from_the_url_reaches_the_settings_and_stays_in_the_url():
    """`?temperature=0.5` sets the widget and the comparison's settings; the URL keeps it."""
    at = new_app(PAGE)
    prepare(at)
    at.query_params["temperature"] = "0.5"
    at.run()
    assert not at.exception and not at.warning
    assert at.number_input(key="cmp_temperature").value == 0.5
    assert at.session_state["cmp_settings"].temperature == 0.5
    assert at.query_params["temperature"] == "0.5"
    at.number_input(key="cmp_temperature").set_value(1.0).run()
    assert "temperature" not in at.query_params  # T = 1 leaves today's links unchanged


@pytest.mark.parametrize("bad,kept", [("0", 0.1), ("abc", 1.0), ("1e9", 10.0), ("nan", 1.0)])
def test_bad_temperature_in_the_url_gives_a_message(bad, kept):
    """A bad `temperature` in a link gets a message, as any setting in a link: not a number is
    ignored (T stays 1), out of range is clamped to the nearest bound."""
    at = new_app(PAGE)
    prepare(at)
    at.query_params["temperature"] = bad
    at.run()
    assert not at.exception
    assert any("temperature" in w.value for w in at.warning)
    assert at.session_state["cmp_settings"].temperature == kept


@pytest.mark.slow
def test_train_at_a_temperature_reports_its_far_entropy():
    """Trained at T = 2, the lesson says so and gives the tempered methods' far entropy."""
    at = new_app(PAGE)
    prepare(at, methods=("vi", "hmc"))
    at.session_state["cmp_temperature"] = 2.0
    at.run()
    at.button(key="cmp_train").click().run()
    lesson = ""
    for _ in range(200):
        at.run()
        lesson = " ".join(m.value for m in at.markdown)
        if "Posterior temperature T = 2" in lesson:
            break
    assert "Posterior temperature T = 2" in lesson and "Far-from-data entropy" in lesson
