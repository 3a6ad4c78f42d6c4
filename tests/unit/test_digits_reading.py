"""Chapter 5's model-level reading (`digits.read_model`: the one verdict, near = test digits,
far = letters and noise or letters alone), its words, and the examples' captions."""

from __future__ import annotations

import numpy as np
import pytest

from bnnlab.core import predict, verdict
from bnnlab.data import ood
from bnnlab.lessons import digits, digits_report, digits_text


def draws(rng, num_draws: int, num: int, concentration: float) -> np.ndarray:
    return rng.dirichlet(np.full(10, concentration), size=(num_draws, num))


def test_reading_uses_the_library_definitions():
    """Epistemic near/far and their Monte Carlo errors equal predict.metrics_from_probs's (one
    definition), and the verdict equals verdict.judge on them with K = 10."""
    rng = np.random.default_rng(0)
    near, far = draws(rng, 64, 30, 5.0), draws(rng, 64, 40, 0.3)
    reading = digits.read_model(near, far, accuracy=0.97, far="letters", chance=0.1)
    y = np.zeros(30, np.int64)
    reference = predict.metrics_from_probs(near, y, near, y, far)
    for field in ("entropy_near", "entropy_far", "epistemic_near", "epistemic_far",
                  "entropy_near_se", "entropy_far_se", "epistemic_near_se", "epistemic_far_se"):
        assert getattr(reading, field) == pytest.approx(getattr(reference, field), rel=1e-12)
    assert reading.verdict == verdict.judge(reference.epistemic_near, reference.epistemic_far,
                                            0.97, 10, chance=0.1)


def test_one_network_is_confident_everywhere_with_no_error():
    """One draw (MAP): epistemic 0 near and far with 0 error, so confident everywhere, and the
    page says it does not say "I don't know" on letters."""
    rng = np.random.default_rng(1)
    reading = digits.read_model(draws(rng, 1, 20, 1.0), draws(rng, 1, 20, 1.0), 0.96, "letters")
    assert reading.epistemic_far == 0 and reading.epistemic_far_se == 0
    assert reading.verdict.kind == verdict.CONFIDENT
    lines = digits_text.reading_lines("MAP", {"letters": reading})
    assert "Confident everywhere" in lines[0] and "does **not** say" in lines[-1]


def test_reading_fields_name_the_cli_json():
    """Reading.fields gives the CLI's names, the suffix before `_se`."""
    rng = np.random.default_rng(2)
    reading = digits.read_model(draws(rng, 8, 5, 1.0), draws(rng, 8, 5, 1.0), 0.9, "letters")
    assert set(reading.fields()) == {
        "verdict", "verdict_sentence", "entropy_near", "entropy_far", "epistemic_near",
        "epistemic_far", "entropy_near_se", "entropy_far_se", "epistemic_near_se",
        "epistemic_far_se"}
    assert {"verdict_letters", "epistemic_far_letters_se"} <= set(reading.fields("_letters"))


@pytest.mark.parametrize("number,text", [(8, "It's an 8."), (7, "It's a 7."),
                                         (0, "It's a 0."), (1, "It's a 1.")])
def test_sure_answer_takes_the_right_article(number, text):
    """"an 8", "a 7": the per-image answer's grammar."""
    sure = np.zeros((4, 1, 10))
    sure[:, 0, number] = 1.0
    assert digits.analyse(sure, np.full(64, 5.0)).verdict == text
    assert digits.article(11) == digits.article(18) == digits.article(80) == "an"


def test_letter_names_follow_the_rendering_order():
    """ood.letter_names() has one name per rendered letter, in make_letters' loop order."""
    names = ood.letter_names()
    assert len(names) == 1_170 and names[:6] == ["A"] * 5 + ["B"]
    assert names[-1] == list(ood.STROKE_LETTERS)[-1]


@pytest.mark.slow
def test_letter_example_says_which_letter():
    """The Letter example's caption names its letter, the one make_letters rendered."""
    _, names, _ = ood.make_letters(0)
    assert names == ood.letter_names()
    for index in (0, 37, 1_169):
        _, caption = digits.example_image("letter", index)
        assert caption.startswith(f"Letter: {names[index]} ")


def test_span_quotes_a_range_over_seeds():
    """Figures over seeds read min–max, one number when equal at the precision."""
    assert digits_report.span([0.958, 0.967, 0.96]) == "0.958–0.967"
    assert digits_report.span([0.5, 0.5]) == "0.500"
    assert digits_report.span([0.47, 0.571], percent=True) == "47–57%"
