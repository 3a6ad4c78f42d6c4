"""Tests for bnnlab.lessons.bayes_text: chapter 1's formulas and verdicts carry the right
numbers."""

import math

from bnnlab.lessons import bayes
from bnnlab.lessons import bayes_text as text


def test_evidence_and_posterior_formulas_fill_in_the_numbers():
    """Prior 0.3 with the talk's likelihoods: P(T) = 1·0.3 + 0.5·0.7 = 0.65, P(F|T) = 0.4615."""
    passed = bayes.update(0.3, 1.0, 0.5)
    assert r"= 1\cdot0.3 + 0.5\cdot0.7 = 0.3 + 0.35 = 0.65" in text.evidence_latex(passed)
    assert text.posterior_latex(passed).endswith(f"= {6 / 13:.4f}")
    assert r"\frac{2\cdot0.3}{1 + 0.3} = 0.4615" in text.talks_case_latex(passed)


def test_prior_note_names_each_special_case():
    """Certain priors never move, equal likelihoods say nothing, a zero likelihood settles it."""
    assert "never moves" in text.prior_note(0.0, 1.0, 0.5, 0.0)
    assert "tell you nothing" in text.prior_note(0.4, 0.7, 0.7, 0.4)
    assert "proves the code is bug-free" in text.prior_note(0.4, 0.7, 0.0, 1.0)
    assert text.prior_note(0.5, 1.0, 0.5, 2 / 3) is None


def test_bayes_factor_note_gives_the_factor_and_the_trend():
    """a/b = 2 climbs, a/b = 0.5 sinks; a certain prior has no odds to multiply."""
    assert "a / b = 2;" in text.bayes_factor_note(0.5, 1.0, 0.5)
    assert "sinks towards 0" in text.bayes_factor_note(0.5, 0.25, 0.5)
    assert text.bayes_factor_note(1.0, 1.0, 0.5) is None


def test_failure_and_identity_formulas():
    """P(F|¬T) at a = 0.9, b = 0.5, x = 0.5 is 0.05/0.3; the identity sums its own terms."""
    failed = bayes.update(0.5, 0.9, 0.5, tests_passed=False)
    assert text.failure_latex(failed).endswith(f"= {0.05 / 0.30:.4f} \\end{{aligned}}")
    line = text.identity_latex(-0.9919, 0.7042, math.log(0.75))
    assert "= −0.2877 = \\log 0.75" in line


def test_curve_and_frequency_words():
    """The talk's case quotes 2x/(1+x) at 0.1 and 0.9; the counts add up to the population."""
    words = text.curve_markdown(1.0, 0.5)
    assert "0.1 moves to 0.1818" in words and "0.9 to 0.9474" in words
    assert "against" in text.curve_markdown(0.3, 0.6)
    freqs = bayes.natural_frequencies(0.3, 1.0, 0.5)
    assert "**300** are bug-free and **700** are buggy" in text.natural_frequencies_markdown(freqs)


def test_elbo_metrics_are_the_terms_in_nats():
    """At prior 0.3, φ = 0.5 the five metrics are the ElboTerms, with ELBO + KL = log 0.65."""
    current = bayes.elbo_terms(0.5, 0.3, 1.0, 0.5)
    metrics = dict(text.elbo_metrics(current))
    assert list(metrics) == ["E_q[log P(T|H)]", "KL(q ‖ prior)", "ELBO(φ)", "KL(q ‖ posterior)",
                             "log P(T)"]
    assert metrics["ELBO(φ)"] == bayes.format_nats(float(current.elbo[0]))
    assert metrics["log P(T)"] == bayes.format_nats(math.log(0.65)) == "−0.4308"
    assert dict(text.elbo_metrics(bayes.elbo_terms(0.5, 0.5, 0.0, 0.5)))["ELBO(φ)"] == "−∞"


def test_failure_and_ascent_sentences():
    """A failure that is not proof quotes P(¬T | F); the ascent summary quotes both φs."""
    assert "(P(¬T | F) = 0.1), it is not proof." in text.failure_not_proof(0.9)
    assert text.ascent_summary(37, 0.46134, 6 / 13).startswith(
        "Gradient ascent took 37 steps to φ = 0.4613; the exact posterior is P(F | T) = 0.4615.")
    assert "none of 1,000 whole programs pass" in text.no_passing_note(1000)
