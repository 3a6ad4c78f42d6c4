"""AppTest of chapter 5 (app_pages/ch5_digits.py): a short run trains on a worker thread, every
example (test digit, letter, noise, blank, all ink) gets a verdict and no exception, the evidence
table fills, and a bad link is a notice."""

from __future__ import annotations

import threading

import pytest
from streamlit.testing.v1 import AppTest

from bnnlab.core import verdict
from bnnlab.lessons import digits, digits_lab, digits_report, digits_sweep, digits_text
from bnnlab.live.run import Run
from bnnlab.live.status import Status
from tests.pages.conftest import new_app

PAGE = "ch5_digits.py"


def verdicts(at: AppTest) -> str:
    return "\n".join([s.value for s in at.success] + [w.value for w in at.warning])


def click(at: AppTest, key: str) -> None:
    next(b for b in at.button if b.key == key).click().run()
    assert not at.exception, at.exception


@pytest.fixture(scope="module")
def trained():
    at = new_app(PAGE)
    at.query_params["recipe"] = "vi_talk"
    at.query_params["steps"] = "100"
    at.run()
    assert not at.exception, at.exception
    assert "Train a model first" in "\n".join(i.value for i in at.info)
    click(at, "digits_train")
    lab: digits_lab.Lab = at.session_state["digits_lab"]
    assert lab.join(300)
    now = lab.progress("vi_talk", digits.recipe_config("vi_talk", steps=100))
    assert (now.status, now.step) == (Status.FINISHED, 100), now.message
    assert lab.progress("map", digits.recipe_config("map")).status == Status.FINISHED
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
@pytest.mark.parametrize("kind,expect", [
    ("digit", ("It's a", "I don't know")), ("letter", ("It's a", "I don't know")),
    ("noise", ("It's a", "I don't know")), ("blank", ("Nothing drawn yet",)),
    ("saturated", ("It's a", "I don't know"))])
def test_each_example_gets_a_verdict(trained, kind, expect):
    """Loading an example shows a verdict for the trained model and MAP's answer, no error."""
    click(trained, f"digits_ex_{kind}")
    text = verdicts(trained)
    assert any(e in text for e in expect), text
    assert any("MAP says" in m.value for m in trained.markdown)
    assert not trained.error


@pytest.mark.slow
def test_letter_example_names_its_letter(trained):
    """The Letter example's caption says which letter it is ("Letter: K")."""
    click(trained, "digits_ex_letter")
    captions = [c.value for c in trained.caption]
    assert any(c.startswith("Letter: ") and c[8].isalpha() for c in captions), captions


@pytest.mark.slow
def test_training_chart_and_bars_are_shown(trained):
    """After training: the ELBO chart and the class bars (model and MAP) are on the page."""
    click(trained, "digits_ex_digit")
    assert len(trained.get("plotly_chart")) >= 3


@pytest.mark.slow
def test_evidence_table_fills(trained):
    """Measure the evidence: AUROC rows for the trained models and the nearest-digit baseline."""
    click(trained, "digits_measure")
    frames = trained.dataframe
    assert frames, "no table"
    table = frames[0].value
    assert set(table["model"]) >= {"VI, the talk's recipe (β = 0.001)", "MAP", "no model"}
    assert table["AUROC noise"].between(0, 1).all()
    summary = frames[1].value
    assert set(summary["verdict (letters)"]) <= set(verdict.HEADLINES.values())
    text = "\n".join(m.value for m in trained.markdown)
    for label, kind in zip(summary["model"], summary["verdict (letters)"], strict=True):
        assert f"**{label}**, far = letters: **{kind}.**" in text
        # where a model does not say "I don't know" on letters, the page says so
        said = f"So {label} does **not** say \"I don't know\" on letters" in text
        assert said == (kind != verdict.HEADLINES[verdict.KNOWS]), label


@pytest.mark.slow
def test_example_being_prepared_shows_a_status_not_nothing_drawn(trained, monkeypatch):
    """While the letters render (first Letter click in a process), the analysis slot holds a
    running status saying so, and "Nothing drawn yet" is nowhere on the page."""
    click(trained, "digits_ex_mine")  # the empty canvas: "Nothing drawn yet"
    assert "Nothing drawn yet" in verdicts(trained)
    monkeypatch.setattr(digits, "example_ready", lambda kind, seed=0: kind not in ("letter",
                                                                                   "noise"))
    monkeypatch.setattr(digits, "wait_for_examples", lambda timeout_s, seed=0: False)
    click(trained, "digits_ex_letter")
    labels = [s.label for s in trained.status]
    assert any("Preparing the letter example" in label or "Still preparing" in label
               for label in labels), labels
    assert "Nothing drawn yet" not in verdicts(trained)
    monkeypatch.undo()
    click(trained, "digits_ex_mine")  # leaves the shared page as it found it
    assert not trained.status


def test_bad_link_is_a_notice():
    """An unknown recipe or an out-of-range step count in the URL is a notice, not an error."""
    at = new_app(PAGE)
    at.query_params["recipe"] = "<script>"
    at.query_params["steps"] = "1e9"
    at.run()
    assert not at.exception, at.exception
    text = "\n".join(w.value for w in at.warning)
    assert "Ignored recipe" in text and "steps" in text
    assert not at.error


@pytest.mark.parametrize("params,expect", [
    ({"recipe": ""}, ["Ignored recipe"]), ({"recipe": "map", "steps": "abc"}, ["steps"]),
    ({"steps": "-5"}, ["steps"]), ({"steps": "nan"}, ["steps"]), ({"lr": "1e99"}, ["lr"]),
    ({"recipe": "vi_talk%00", "steps": "1,000"}, ["Ignored recipe", "steps"])])
def test_url_garbage_is_a_notice(params, expect):
    """Garbage in ?recipe= or ?steps= (empty, text, negative, NaN) or another field: a notice
    naming it, no exception and no error; the page still offers Train."""
    at = new_app(PAGE)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    assert not at.error
    text = "\n".join(w.value for w in at.warning)
    for part in expect:
        assert part in text, (params, text)
    assert any(b.key == "digits_train" for b in at.button)


@pytest.mark.slow
def test_sweep_is_shown():
    """The precomputed σ sweep is on the page: its chart, its table and its command; the page's
    readings of the sweep and of the stored results are the library's text (DIGITS.md's)."""
    at = new_app(PAGE)
    at.run()
    assert not at.exception, at.exception
    assert any("digits_sigma_sweep.py" in m.value for m in at.markdown)
    assert any(len(f.value) == 24 and "median σ" in f.value for f in at.dataframe)
    text = [m.value for m in at.markdown]
    assert digits_text.sweep_reading(digits_sweep.load_sweep()["rows"]) in text
    assert digits_text.what_we_measured(digits_report.load_results()) in text


def test_analyse_empty_and_saturated_inputs():
    """digits.analyse: an empty image gets its own verdict; ink everywhere is flagged."""
    import numpy as np

    probs = np.full((4, 1, 10), 0.1)
    empty = digits.analyse(probs, np.zeros(64))
    assert empty.note == "empty" and "Nothing drawn" in empty.verdict and not empty.confident
    full = digits.analyse(probs, np.full(64, 16.0))
    assert full.note == "saturated" and full.verdict == "I don't know."
    sure = np.zeros((4, 1, 10))
    sure[:, 0, 7] = 1.0
    assert digits.analyse(sure, np.full(64, 5.0)).verdict == "It's a 7."
    sure[:, 0] = np.eye(10)[8]
    assert digits.analyse(sure, np.full(64, 5.0)).verdict == "It's an 8."


def test_drawn_empty_and_saturated_canvas_get_clear_verdicts():
    """Through the drawing path the page uses: an empty canvas says nothing is drawn; a canvas
    inked everywhere is analysed as drawn (flagged saturated), not shrunk to a block of ink."""
    import numpy as np

    from bnnlab.data import drawing as dr

    probs = np.full((4, 1, 10), 0.1)
    empty = dr.drawing_from_strokes(dr.parse_strokes([]))
    image, _ = digits.drawing_input(empty.image, empty.normalized)
    assert "Nothing drawn" in digits.analyse(probs, image).verdict
    rows = [[[x, y] for x in range(33)] for y in range(33)]  # every row of the 32×32 canvas
    full = dr.drawing_from_strokes(dr.parse_strokes(rows))
    image, caption = digits.drawing_input(full.image, full.normalized)
    assert image.min() >= 0.9 * 16 and "ink everywhere" in caption
    result = digits.analyse(probs, image)
    assert result.note == "saturated" and result.verdict == "I don't know."


@pytest.mark.slow
def test_training_runs_off_the_calling_thread(monkeypatch):
    """Lab.start hands the chunks to the recipe's trainer thread (holding an accelerator slot):
    no chunk runs on the caller's thread, and the history covers every step."""
    lab = digits_lab.Lab()
    cfg = digits.recipe_config("map", steps=60)
    threads: set[int] = set()
    advance = Run.advance

    def recorded(self, *args, **kwargs):
        threads.add(threading.get_ident())
        return advance(self, *args, **kwargs)

    monkeypatch.setattr(Run, "advance", recorded)
    lab.start("map", cfg)
    assert lab.join(300)
    now = lab.progress("map", cfg)
    assert now.status == Status.FINISHED and now.step == 60 and now.history.shape == (3, 60)
    assert threads and threading.get_ident() not in threads


@pytest.mark.slow
def test_settings_survive_a_url_without_query():
    """Back from another page (the URL has lost its query): the link's settings are kept."""
    at = new_app(PAGE)
    at.query_params["recipe"] = "vi_full"
    at.query_params["steps"] = "300"
    at.run()
    at.query_params.clear()
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["digits_settings"][0] == "vi_full"
    assert at.session_state["digits_settings"][1].steps == 300
    assert any("300 full-batch steps" in c.value for c in at.caption)
