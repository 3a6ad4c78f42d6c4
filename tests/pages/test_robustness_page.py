"""The bad-input corpus where it enters the playground (AppTest): CSV uploads, edited URLs and
extreme widget values give a clear message, keep the previous state and never raise."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from bnnlab.core import limits
from bnnlab.training import config
from tests.live.test_robustness import CSV_CORPUS
from tests.pages.conftest import new_app

PAGE = "ch4_playground.py"
SMALL = {"num_points": "64", "hidden": "4", "grid_size": "10", "steps_per_chunk": "5",
         "num_samples": "2", "steps": "1000"}
GOOD_CSV = b"x1,x2,label\n" + b"".join(
    f"{i % 5},{(i * 7) % 11},{i % 2}\n".encode() for i in range(40))


def _session(params: dict[str, str]) -> AppTest:
    at = new_app(PAGE)
    at.query_params.update(params)
    at.run()
    assert not at.exception, at.exception
    return at


def _errors(at: AppTest) -> list[str]:
    """The page's errors, the upload message (a component since issue 14) included."""
    shown = [e.value for e in at.error]
    for element in at.get("bidi_component"):
        if element.proto.component_name.endswith("bnnlab_upload_message"):
            shown.append(json.loads(element.proto.json)["text"])
    return shown


@pytest.fixture(scope="module")
def small() -> AppTest:
    return _session(SMALL)


@pytest.mark.slow
def test_every_bad_csv_shows_its_message_and_keeps_the_run(small):
    """Each corpus CSV uploaded mid-training: an error naming the problem, the same run object
    at the same step, the generated data still in use, no exception."""
    at = small
    at.button(key="pg_step").click().run()
    run = at.session_state["pg_session"].run
    step = run.step
    assert step > 0
    for name, (data, fragment) in CSV_CORPUS.items():
        at.file_uploader(key="pg_upload").upload(f"{name}.csv", data, "text/csv").run()
        assert not at.exception, (name, at.exception)
        errors = _errors(at)
        assert len(errors) == 1 and "Could not use" in errors[0] and fragment in errors[0], name
        assert "Keeping the previous data" in errors[0]
        assert at.session_state["pg_session"].run is run and run.step == step, name
        assert at.session_state["pg_session"].uploaded is None, name


@pytest.mark.slow
def test_a_bad_csv_after_a_good_one_keeps_the_good_one(small):
    """After a valid upload, a malformed one is refused and training stays on the valid data."""
    at = small
    at.file_uploader(key="pg_upload").upload("good.csv", GOOD_CSV, "text/csv").run()
    assert not at.exception and not _errors(at)
    assert at.session_state["pg_session"].run.data.source == "upload"
    uploaded = at.session_state["pg_session"].uploaded
    at.file_uploader(key="pg_upload").upload(
        "evil.csv", b"1,2,0\n3,4,=cmd|'/c calc'!A0\n", "text/csv").run()
    assert not at.exception
    assert any("plain value" in e for e in _errors(at))
    assert at.session_state["pg_session"].uploaded is uploaded
    assert at.session_state["pg_session"].run.data.source == "upload"


@pytest.mark.slow
def test_garbage_in_every_url_setting_falls_back_with_a_notice_per_setting():
    """An edited URL with garbage in every setting: one warning per setting, a valid page with
    the defaults, and the URL rewritten to valid values."""
    garbage = {name: "<b>x</b>" for name in config.TrainConfig.__dataclass_fields__}
    garbage.update({"num_points": "nan", "steps": "1e999", "lr": "inf", "seed": "-"})
    # keep the compiled part small: the static settings get valid small values below
    for name, value in SMALL.items():
        garbage[name] = value
    at = _session({**garbage, "added": "x:y:z;1:2"})
    warnings = [w.value for w in at.warning]
    bad = [n for n in garbage if n not in SMALL]
    for name in bad:
        assert any(name in w for w in warnings), name
    assert any("added point" in w for w in warnings)
    assert not _errors(at)
    cfg = at.session_state["pg_session"].cfg
    default = config.TrainConfig()
    assert all(getattr(cfg, n) == getattr(default, n) for n in bad if n != "method")
    assert at.query_params["lr"] == "0.01" and "added" not in at.query_params


@pytest.mark.slow
def test_out_of_range_url_values_are_clamped_on_the_page():
    """Every numeric setting beyond its bound is clamped, with a notice; the page trains."""
    params = {"num_points": "-5", "noise": "99", "test_fraction": "7", "seed": "-1",
              "num_samples": "0", "prior_std": "1e9", "init_std": "0", "kl_weight": "-3",
              "lr": "100", "steps": "10000000", "steps_per_chunk": "0", "grid_size": "1",
              "hidden": "0,0,0,0,0,0"}
    at = _session(params)
    warnings = [w.value for w in at.warning]
    for name in params:
        assert any(name in w and "clamped" in w for w in warnings), name
    cfg = at.session_state["pg_session"].cfg
    assert (cfg.num_points, cfg.lr, cfg.steps, cfg.grid_size, cfg.hidden) == \
        (8, limits.MAX_LR, limits.MAX_STEPS, limits.MIN_GRID, (1, 1, 1, 1))
    at.button(key="pg_step").click().run()
    assert not at.exception and at.session_state["pg_session"].run.step == 1


@pytest.mark.slow
@pytest.mark.parametrize("setting, value", [("grid_size", "150"), ("steps_per_chunk", "1000")])
def test_url_values_at_the_config_bound_do_not_crash_the_page(setting, value):
    """A URL at (or clamped to) the config's upper bound renders without an exception."""
    at = new_app(PAGE)
    at.query_params.update({**SMALL, setting: value})
    at.run()
    assert not at.exception
    assert getattr(at.session_state["pg_session"].cfg, setting) == int(value)


@pytest.mark.slow
def test_markup_in_url_keys_is_shown_as_text_not_run():
    """Unknown keys carrying HTML or markdown are reported (quoted) and change nothing."""
    at = _session({**SMALL, "<script>alert(1)</script>": "1", "[x](http://evil.example)": "2"})
    warnings = [w.value for w in at.warning]
    assert sum("Ignored unknown setting" in w for w in warnings) == 2
    assert not at.exception and not _errors(at)


def test_invalid_widget_values_keep_the_previous_settings(small):
    """Bad hidden-layer text is refused with a message; numbers beyond a widget's range never
    reach the config (Streamlit resets them); the run goes on."""
    at = small
    before = at.session_state["pg_session"].cfg
    for text, fragment in (("1,2,3,4,5", "1 to 4 layers"), ("zzz", "whole numbers"),
                           ("0", "width"), ("999", "width"), ("", "layer widths")):
        at.text_input(key="pg_hidden").input(text).run()
        assert not at.exception, text
        assert any("Setting not applied" in e and fragment in e for e in _errors(at)), text
        assert at.session_state["pg_session"].cfg.hidden == before.hidden
    at.text_input(key="pg_hidden").input(",".join(map(str, before.hidden))).run()
    for key, value in (("pg_lr", 5.0), ("pg_prior_std", 1e9), ("pg_steps", 10**9),
                       ("pg_init_std", -1.0)):
        at.number_input(key=key).set_value(value).run()
        assert not at.exception, key
        cfg = at.session_state["pg_session"].cfg
        config.TrainConfig(**{f: getattr(cfg, f) for f in cfg.__dataclass_fields__})
    assert limits.MIN_LR <= at.session_state["pg_session"].cfg.lr <= limits.MAX_LR


def test_divergence_is_reported_and_the_last_state_stays_on_screen(small):
    """A diverged run: an error that says what happened and what to change, Train/Step
    disabled, the chart still drawn at the last finite step; Reset clears it."""
    at = small
    run = at.session_state["pg_session"].run
    step = run.step
    run.snapshot = run.snapshot._replace(diverged=True)
    at.run()
    assert not at.exception
    message = " ".join(_errors(at))
    assert "diverged" in message and "learning rate" in message and "Reset" in message
    assert at.button(key="pg_run").disabled and at.button(key="pg_step").disabled
    assert run.step == step and at.session_state["pg_session"].run is run
    at.button(key="pg_reset").click().run()
    assert not at.exception and not any("diverged" in e for e in _errors(at))
