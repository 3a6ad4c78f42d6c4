"""Chapter 4 page under AppTest: controls map to the config, Train/Pause/Step/Reset, the method
switch, URL settings and garbage, and bad input that keeps the previous state."""

import json
import threading
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from bnnlab.core import limits
from bnnlab.live.status import Status
from tests.pages.conftest import new_app
from ui import forms

PAGE = "ch4_playground.py"
SMALL = {"num_points": "120", "hidden": "8", "num_samples": "2", "steps_per_chunk": "10",
         "steps": "100000",  # a warm engine trains 2,000 steps in a second: keep training
         "grid_size": "16"}


def _app(params: dict | None = None) -> AppTest:
    at = new_app(PAGE)
    for key, value in {**SMALL, **(params or {})}.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def _shown_step(at: AppTest) -> int:
    """The step of the metrics row the live chart shows."""
    return at.session_state["pg_session"].shown_metrics["step"]


def _live(at: AppTest) -> dict:
    """The data of the live chart component."""
    return next(json.loads(c.proto.json) for c in at.get("bidi_component")
                if c.proto.component_name.endswith("bnnlab_live_chart"))


def _run_state(at: AppTest):
    return at.session_state["pg_session"].run


def _wait_for_step(at: AppTest, above: int, timeout: float = 60.0) -> int:
    """Training runs in a background thread: wait (on the run's condition) until the step
    passes `above`, then rerun the page."""
    run = _run_state(at)
    deadline = time.monotonic() + timeout
    while run.step <= above and time.monotonic() < deadline:
        run.wait_for_step_after(run.step, deadline - time.monotonic())
    at.run()
    assert run.step > above, f"step stayed at {run.step}"
    return run.step


@pytest.fixture(scope="module")
def at():
    return _app()


def test_url_settings_reach_the_widgets_and_the_config(at):
    """Query parameters set the widgets and the run's configuration."""
    assert at.text_input(key="pg_hidden").value == "8"
    assert at.slider(key="pg_num_points").value == 120
    run = _run_state(at)
    assert run.cfg.hidden == (8,) and run.cfg.num_samples == 2 and run.step == 0
    assert at.query_params["hidden"] == "8"


def test_train_ticks_then_pause_stops(at):
    """Train: the background trainer keeps adding chunks; Pause: the step stops growing."""
    at.button(key="pg_run").click().run()
    first = _wait_for_step(at, 0)
    _wait_for_step(at, first)
    at.button(key="pg_run").click().run()
    live = at.session_state["pg_session"]
    paused = live.run.step
    assert not live.trainer.running and live.status == Status.PAUSED
    assert not live.run.wait_for_step_after(paused, 0.5)
    at.run()
    assert _run_state(at).step == paused and _shown_step(at) == paused


def test_train_click_runs_nothing_on_the_script_thread():
    """The click on Train only starts the background trainer; the page then shows its frames,
    and a finished run says so and offers Continue, which trains another budget of steps
    (issue 15: a finished run's Train was greyed out with no way on)."""
    at = _app({"steps": "10"})  # one chunk is the whole budget
    live = at.session_state["pg_session"]
    chunks_on_script_thread = []
    original = live.run.advance

    def advance(max_steps=None):
        if threading.current_thread() is threading.main_thread():
            chunks_on_script_thread.append(1)
        return original(max_steps)

    live.run.advance = advance
    at.button(key="pg_run").click().run()
    _wait_for_step(at, 0)
    at.run()
    assert not chunks_on_script_thread and _run_state(at).step == 10
    assert _live(at)["step"] == 10 and _shown_step(at) == 10
    assert not at.button(key="pg_run").disabled
    assert any("Finished" in i.value and "Continue" in i.value for i in at.info)
    at.button(key="pg_run").click().run()
    assert live.budget == 20  # the widget and the link keep the learner's 10
    assert at.number_input(key="pg_steps").value == 10 and at.query_params["steps"] == "10"
    _wait_for_step(at, 10)
    live.trainer._thread.join(60)
    at.run()
    assert _run_state(at).step == 20 and _live(at)["step"] == 20
    assert not chunks_on_script_thread and not at.exception


def test_step_and_reset(at):
    """Step runs exactly one chunk; Reset goes back to step 0."""
    before = _run_state(at).step
    at.button(key="pg_step").click().run()
    assert _run_state(at).step == before + 10
    at.button(key="pg_reset").click().run()
    assert _run_state(at).step == 0


def test_learning_rate_change_keeps_the_run(at):
    """A new learning rate applies to the running run without resetting it."""
    at.button(key="pg_step").click().run()
    run = _run_state(at)
    at.number_input(key="pg_lr").set_value(0.003).run()
    assert _run_state(at) is run and run.step == 10
    assert float(run.hyper.learning_rate) == pytest.approx(0.003)
    assert at.query_params["lr"] == "0.003"


def test_method_switch_resets_to_map(at):
    """Switching to MAP starts a new MAP run."""
    at.radio(key="pg_method").set_value("map").run()
    assert _run_state(at).cfg.method == "map" and _run_state(at).step == 0
    at.radio(key="pg_method").set_value("vi").run()
    assert _run_state(at).cfg.method == "vi"


def test_bad_hidden_layers_keep_the_previous_settings(at):
    """'32,x' and five layers show an error and keep the previous architecture."""
    for bad in ("32,x", "8,8,8,8,8", "0"):
        at.text_input(key="pg_hidden").set_value(bad).run()
        assert not at.exception
        assert any("Keeping the previous settings" in e.value for e in at.error)
        assert _run_state(at).cfg.hidden == (8,)
    at.text_input(key="pg_hidden").set_value("8").run()
    assert not at.error


@pytest.mark.slow
def test_garbage_url_opens_with_defaults_and_notices():
    """Garbage and out-of-range URL values fall back or clamp, each with a visible notice."""
    at = _app({"dataset": "<script>alert(1)</script>", "lr": "banana", "num_samples": "999",
               "bogus": "1", "method": "sgld", "added": "1:2:1;nope"})
    run = _run_state(at)
    assert run.cfg.dataset == "moons" and run.cfg.lr == 0.01 and run.cfg.num_samples == 64
    assert run.cfg.method == "vi"  # not a registered method: the default, with a notice
    notices = " ".join(w.value for w in at.warning)
    for word in ("dataset", "lr", "num_samples", "bogus", "method", "malformed"):
        assert word in notices
    assert len(run.data.x_train) == len(_app().session_state["pg_session"].run.data.x_train) + 1


def test_divergence_is_reported_and_stops_training():
    """A run whose step produces NaN stops, keeps its last finite state and says what to do."""
    at = _app()
    live = at.session_state["pg_session"]
    run = live.run
    bad = run.data._replace(x_train=run.data.x_train.copy())
    bad.x_train[0, 0] = np.inf  # forces a non-finite ELBO on the first step
    run.set_data(bad)
    at.button(key="pg_run").click().run()
    live.trainer._thread.join(60)
    at.run()
    assert run.diverged and run.step == 0
    assert live.status == Status.DIVERGED and not live.wants_training
    assert any("diverged" in e.value and "learning rate" in e.value for e in at.error)
    assert at.button(key="pg_run").disabled
    assert not at.exception


def test_talks_recipe_sets_beta_and_initial_sigma_and_the_link(at):
    """The talk's preset sets β = 0.001 and the initial posterior σ = 1e-3, in the URL too."""
    next(b for b in at.button if b.label.startswith("Talk's recipe")).click().run()
    cfg = at.session_state["pg_session"].cfg
    assert (cfg.kl_weight, cfg.init_std) == (0.001, 1e-3)
    assert at.query_params["kl_weight"] == "0.001" and float(at.query_params["init_std"]) == 1e-3


def test_a_dataset_its_defaults_cannot_learn_says_what_to_change():
    """Switching to the spiral starts from its registered noise (0.1); with VI at β = 1 the page
    shows the registry's advice, and its button applies the recommended settings (issue 12:
    the spiral at VI's defaults learned nothing, with no hint why)."""
    from bnnlab.data import toy

    at = _app()
    at.selectbox(key="pg_dataset").set_value("spiral").run()
    assert not at.exception, at.exception
    assert at.slider(key="pg_noise").value == toy.REGISTRY["spiral"].default_noise
    advice = toy.REGISTRY["spiral"].advice
    assert any(advice == info.value for info in at.info)
    at.button(key="pg_use_recommended").click().run()
    cfg = at.session_state["pg_session"].cfg
    for field, value in toy.recommended("spiral", "vi").items():
        assert getattr(cfg, field) == value
    assert not any(advice == info.value for info in at.info)  # applied: the hint goes away
    at.selectbox(key="pg_dataset").set_value("moons").run()
    assert at.slider(key="pg_noise").value == toy.REGISTRY["moons"].default_noise


@pytest.mark.slow
def test_three_class_spiral_from_a_link():
    """A link with dataset=spiral&num_classes=3: the live chart's payload has three classes in
    the palette's colours and the predicted class per cell, the click modes offer class 2, and
    switching to moons sets the classes back to 2 (greyed out)."""
    from bnnlab.core import palette

    at = _app({"dataset": "spiral", "num_classes": "3"})
    live = _live(at)
    assert live["classes"] == palette.class_legend(3) and "mean_class" in live
    assert "add2" in at.selectbox(key="pg_mode").options or \
        any("class 2" in o for o in at.selectbox(key="pg_mode").options)
    assert at.session_state["pg_session"].run.engine.static.likelihood == "categorical"
    assert at.query_params["num_classes"] == ["3"] or at.query_params["num_classes"] == "3"
    at.selectbox(key="pg_dataset").set_value("moons").run()
    assert not at.exception
    assert at.selectbox(key="pg_num_classes").value == 2
    assert at.selectbox(key="pg_num_classes").disabled
    assert "mean_class" not in _live(at) and len(_live(at)["classes"]) == 2


@pytest.mark.slow
def test_try_this_sets_up_each_experiment_with_a_fresh_run():
    """Issue 15's "try this" path: six experiments, each with what to look for, and its Set up
    button writes the experiment's settings (into the link too) and starts a fresh run."""
    at = _app()
    texts = [m.value for m in at.markdown if "*Look for:*" in m.value]
    assert len(texts) == 6
    at.button(key="pg_step").click().run()
    at.button(key="pg_try_5").click().run()  # the gap between the moons
    live = at.session_state["pg_session"]
    assert live.cfg.dataset == "moons_gap" and live.cfg.noise == 0.1 and live.run.step == 0
    assert live.cfg.hidden == (32, 32) and live.cfg.steps == 2000
    assert at.query_params["dataset"] == "moons_gap" and not at.exception
    at.button(key="pg_try_2").click().run()
    assert at.session_state["pg_session"].cfg.prior_std == 0.3
    assert at.session_state["pg_session"].cfg.dataset == "moons"


def _finished_run() -> tuple[AppTest, object]:
    """The page with a 10-step run trained to its end."""
    at = _app({"steps": "10"})
    at.button(key="pg_run").click().run()
    live = at.session_state["pg_session"]
    live.trainer._thread.join(60)
    at.run()
    return at, live


def test_a_point_added_after_the_run_finished_trains_on_and_the_widget_stays(monkeypatch):
    """Issue 15: a click on the map of a finished run (Session.click, as the live chart's click
    calls it) trains on from the current posterior; the page's next runs, which apply the
    widgets again, do not cut the run back. *Training steps* and the link keep what the learner
    typed (a value the server writes into a widget can lose to the browser's older one)."""
    monkeypatch.setattr(limits, "CLICK_TRAIN_STEPS", 30)
    at, live = _finished_run()
    assert live.status == Status.FINISHED
    assert live.click(0.5, -0.25, "add1") is None
    at.run()
    assert live.budget == 40
    assert at.number_input(key="pg_steps").value == 10 and at.query_params["steps"] == "10"
    live.trainer._thread.join(60)
    at.run()
    assert live.run.step == 40 and _live(at)["train"]["n"] == len(live.run.data.x_train)
    assert any("all 40 steps" in i.value and "trains 10 more" in i.value for i in at.info)
    assert not at.exception


def test_a_budget_the_push_route_raised_during_a_page_run_is_kept(monkeypatch):
    """A point clicked onto a finished run's map arrives on the push route's thread too, and
    may raise the budget while a page run is applying the widgets (CI caught it: the run took
    all 700 steps while the page said "all 200"). The page's widgets must not cut it back."""
    monkeypatch.setattr(limits, "CLICK_TRAIN_STEPS", 30)
    at, live = _finished_run()
    read_widgets = forms.config_from_widgets

    def clicked_meanwhile(*args, **kwargs):
        monkeypatch.setattr(forms, "config_from_widgets", read_widgets)  # once
        assert live.click(0.5, -0.25, "add1") is None  # the push route's thread, in between
        return read_widgets(*args, **kwargs)

    monkeypatch.setattr(forms, "config_from_widgets", clicked_meanwhile)
    at.run()
    assert live.budget == live.run.cfg.steps == 40
    live.trainer._thread.join(60)
    at.run()
    assert live.run.step == 40 and live.status == Status.FINISHED
    assert any("all 40 steps" in i.value for i in at.info)
    assert not at.exception


def test_steps_the_learner_typed_are_applied():
    """*Training steps* as typed: the session's, the widget's and the link's."""
    at = _app({"steps": "10"})
    at.number_input(key="pg_steps").set_value(25).run()
    assert at.session_state["pg_session"].cfg.steps == 25 and at.query_params["steps"] == "25"
    at.run()
    assert at.number_input(key="pg_steps").value == 25


def test_the_objective_chart_is_in_nats_per_training_point(at):
    """Issue 15: the ELBO history the chart draws is divided by the training points (the sums'
    first steps flattened every later change); the payload says by how many."""
    at.button(key="pg_step").click().run()
    history = _live(at)["history"]
    assert history["per_point"] == len(_run_state(at).data.x_train)


def _button(at: AppTest, text: str):
    return next(b for b in at.button if b.label.startswith(text))


@pytest.mark.slow
def test_say_i_dont_know_preset_writes_every_setting_and_the_url():
    """The preset sets the measured run (bnnlab.presets): method, network, data and HMC's
    warm-up, in the widgets, the session and the link."""
    from bnnlab.lessons import presets

    at = _app()
    _button(at, "Say I don't know").click().run()
    assert not at.exception
    cfg = _run_state(at).cfg
    for field, value in presets.SAY_I_DONT_KNOW.items():
        assert getattr(cfg, field) == value, field
    assert at.query_params["method"] == "hmc" and at.query_params["hidden"] == "16,16"
    assert at.query_params["hmc_warmup"] == "200"
    assert at.number_input(key="pg_hmc_warmup").value == 200


@pytest.mark.slow
def test_laplace_fit_shows_its_evidence_curve_and_the_weight_view():
    """method=laplace: "Make this network Bayesian" fits (the text names the tuned prior σ and
    the evidence curve is drawn); the weight view, on demand, counts weights at the prior."""
    at = _app({"method": "laplace", "steps": "40", "hidden": "6"})
    _button(at, "Make this network Bayesian").click().run()
    assert not at.exception
    assert any("maximises the evidence" in m.value for m in at.markdown)
    assert any("Laplace evidence" in json.dumps(json.loads(c.proto.spec)["layout"]["title"])
               for c in at.get("plotly_chart"))
    _button(at, "Show for the current step").click().run()
    assert any("sit at the prior" in m.value for m in at.markdown)


@pytest.mark.slow
def test_the_weight_view_follows_training_when_asked():
    """Issue 15's live weight view: with "Follow training" on, the view draws itself (no
    button) and counts the weights at the prior for the step the run has reached."""
    at = _app({"steps": "20", "hidden": "6"})
    assert not any("sit at the prior" in m.value for m in at.markdown)
    at.toggle(key="pg_weights_follow").set_value(True).run()
    assert not at.exception
    assert any("sit at the prior" in m.value for m in at.markdown)
    at.button(key="pg_step").click().run()
    at.session_state["pg_session"].wait_for_step(60)
    at.run()
    step = at.session_state["pg_session"].run.step
    assert step > 0 and any(f"sit at the prior (step {step:,}" in m.value for m in at.markdown)


@pytest.mark.slow
def test_a_preset_link_applies_the_preset_also_on_a_later_visit():
    """`?preset=say-i-dont-know` (Home's link) writes the preset's settings, on a first visit
    and when the session already exists; the parameter is consumed; a bad one gets a notice."""
    from bnnlab.lessons import presets

    at = _app({"preset": "say-i-dont-know"})
    cfg = _run_state(at).cfg
    assert cfg.method == "hmc" and cfg.hidden == presets.SAY_I_DONT_KNOW["hidden"]
    assert "preset" not in at.query_params and at.query_params["method"] == "hmc"
    at = _app()
    assert _run_state(at).cfg.method == "vi"
    at.query_params["preset"] = "in-between"
    at.run()
    assert _run_state(at).cfg.dataset == "moons_gap" and "preset" not in at.query_params
    at.query_params["preset"] = "nonsense"
    at.run()
    assert not at.exception and any("preset='nonsense'" in w.value for w in at.warning)


def test_use_these_settings_starts_a_fresh_run(at):
    """Issue 24: the dataset's advice ("Use these settings") writes its settings and starts a
    new run; the collapsed run it replaces is not offered to Resume (spiral-3, VI at β = 1:
    0.41 train accuracy after 6,000 steps against 0.987 from a fresh run)."""
    at.selectbox(key="pg_dataset").set_value("spiral").run()
    live = at.session_state["pg_session"]
    assert any(b.key == "pg_use_recommended" for b in at.button)  # VI at β = 1: advice
    at.button(key="pg_step").click().run()
    live.wait_for_step(60)
    at.run()
    assert live.run.step > 0
    at.button(key="pg_use_recommended").click().run()
    assert live.run.step == 0 and not at.exception
    assert not any(b.key == "pg_use_recommended" for b in at.button)

