"""AppTest of chapter 5 (pages/digits.py): a short run trains on a worker thread, every example
(test digit, letter, noise, blank, all ink) gets a verdict and no exception, the evidence table
fills, and a bad link is a notice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bnnlab import digits_lab

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "digits.py")


def verdicts(at: AppTest) -> str:
    return "\n".join([s.value for s in at.success] + [w.value for w in at.warning])


def click(at: AppTest, key: str) -> None:
    next(b for b in at.button if b.key == key).click().run()
    assert not at.exception, at.exception


@pytest.fixture(scope="module")
def trained():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["recipe"] = "vi_talk"
    at.query_params["steps"] = "100"
    at.run()
    assert not at.exception, at.exception
    assert "Train a model first" in "\n".join(i.value for i in at.info)
    click(at, "digits_train")
    lab: digits_lab.Lab = at.session_state["digits_lab"]
    for trainer in lab.trainers.values():
        assert trainer.wait(300)
    snap = lab.trainers["vi_talk"].snapshot()
    assert (snap.status, snap.step) == ("done", 100), snap.message
    assert lab.trainers["map"].snapshot().status == "done"
    at.run()
    assert not at.exception, at.exception
    return at


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


def test_training_chart_and_bars_are_shown(trained):
    """After training: the ELBO chart and the class bars (model and MAP) are on the page."""
    click(trained, "digits_ex_digit")
    assert len(trained.get("plotly_chart")) >= 3


def test_evidence_table_fills(trained):
    """Measure the evidence: AUROC rows for the trained models and the nearest-digit baseline."""
    click(trained, "digits_measure")
    frames = trained.dataframe
    assert frames, "no table"
    table = frames[0].value
    assert set(table["model"]) >= {"VI, the talk's recipe (β = 0.001)", "MAP", "no model"}
    assert table["AUROC noise"].between(0, 1).all()


def test_bad_link_is_a_notice():
    """An unknown recipe or an out-of-range step count in the URL is a notice, not an error."""
    at = AppTest.from_file(PAGE, default_timeout=120)
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
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    assert not at.error
    text = "\n".join(w.value for w in at.warning)
    for part in expect:
        assert part in text, (params, text)
    assert any(b.key == "digits_train" for b in at.button)


def test_sweep_is_shown():
    """The precomputed σ sweep is on the page: its chart, its table and its command."""
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert any("digits_sigma_sweep.py" in m.value for m in at.markdown)
    assert any(len(f.value) == 24 and "median σ" in f.value for f in at.dataframe)


def test_analyse_empty_and_saturated_inputs():
    """digits_lab.analyse: an empty image gets its own verdict; ink everywhere is flagged."""
    import numpy as np

    probs = np.full((4, 1, 10), 0.1)
    empty = digits_lab.analyse(probs, np.zeros(64))
    assert empty.note == "empty" and "Nothing drawn" in empty.verdict and not empty.confident
    full = digits_lab.analyse(probs, np.full(64, 16.0))
    assert full.note == "saturated" and full.verdict == "I don't know."
    sure = np.zeros((4, 1, 10))
    sure[:, 0, 7] = 1.0
    assert digits_lab.analyse(sure, np.full(64, 5.0)).verdict == "It's a 7."


def test_drawn_empty_and_saturated_canvas_get_clear_verdicts():
    """Through the drawing path the page uses: an empty canvas says nothing is drawn; a canvas
    inked everywhere is analysed as drawn (flagged saturated), not shrunk to a block of ink."""
    import numpy as np

    from bnnlab.data import drawing as dr

    probs = np.full((4, 1, 10), 0.1)
    empty = dr.drawing_from_strokes(dr.parse_strokes([]))
    image, _ = digits_lab.drawing_input(empty.image, empty.normalized)
    assert "Nothing drawn" in digits_lab.analyse(probs, image).verdict
    rows = [[[x, y] for x in range(33)] for y in range(33)]  # every row of the 32×32 canvas
    full = dr.drawing_from_strokes(dr.parse_strokes(rows))
    image, caption = digits_lab.drawing_input(full.image, full.normalized)
    assert image.min() >= 0.9 * 16 and "ink everywhere" in caption
    result = digits_lab.analyse(probs, image)
    assert result.note == "saturated" and result.verdict == "I don't know."


def test_trainer_runs_off_the_calling_thread():
    """Trainer.start returns at once; the chunks run on a worker holding an accelerator slot."""
    trainer = digits_lab.Trainer(digits_lab.recipe_config("map", steps=60))
    started = time.perf_counter()
    trainer.start()
    assert time.perf_counter() - started < 0.5
    assert trainer.wait(300)
    snap = trainer.snapshot()
    assert snap.status == "done" and snap.step == 60 and snap.history.shape == (3, 60)


def test_settings_survive_a_url_without_query():
    """Back from another page (the URL has lost its query): the link's settings are kept."""
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["recipe"] = "vi_full"
    at.query_params["steps"] = "300"
    at.run()
    at.query_params.clear()
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["digits_settings"][0] == "vi_full"
    assert at.session_state["digits_settings"][1].steps == 300
    assert any("300 full-batch steps" in c.value for c in at.caption)
