"""AppTest of the chapter 1 page (app_pages/ch1_bayes.py): numbers, live updates, edge cases."""

import json
import math

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.pages.conftest import new_app

PAGE = "ch1_bayes.py"


def run_page(**sliders: float) -> AppTest:
    """Run the page once, then set the given sliders (by key suffix) and rerun."""
    at = new_app(PAGE).run()
    for name, value in sliders.items():
        at.slider(key=f"ch1_{name}").set_value(value)
    if sliders:
        at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    """The displayed value of the metric with this label."""
    values = [m.value for m in at.metric if m.label == label]
    assert len(values) == 1, [m.label for m in at.metric]
    return values[0]


def all_text(at: AppTest) -> str:
    """Everything the page says in words: markdown, LaTeX, metrics and callouts."""
    parts = [m.value for m in at.markdown] + [m.value for m in at.latex]
    parts += [m.value for m in at.metric]
    for callout in (at.info, at.warning, at.error, at.success):
        parts += [c.value for c in callout]
    return "\n".join(parts)


def chart_spec(at: AppTest, name: str) -> dict:
    """The Plotly figure JSON of the chart whose title starts with `name`."""
    for chart in at.get("bidi_component"):
        spec = json.loads(json.loads(chart.proto.json)["spec"])
        if spec["layout"]["title"]["text"].startswith(name):
            return spec
    raise AssertionError(f"no chart titled {name!r}")


def test_page_opens_on_the_talks_example():
    """Defaults P(F) = 0.5, P(T|F) = 1, P(T|¬F) = 0.5 show 2·0.5/1.5 = 0.6667."""
    at = run_page()
    assert metric(at, "P(F | T)") == "0.6667"


def test_prior_point_three_shows_0_4615():
    """Setting the prior to 0.3 shows the posterior 2·0.3/1.3 = 0.4615."""
    at = run_page(prior=0.3)
    assert metric(at, "P(F | T)") == "0.4615"


def test_changing_buggy_pass_rate_changes_the_posterior():
    """P(T|¬F) = 0.25 at prior 0.3 gives 0.3/(0.3 + 0.25·0.7) = 0.6316."""
    at = run_page(prior=0.3, lik_buggy=0.25)
    assert metric(at, "P(F | T)") == "0.6316"


def test_formula_shows_current_numbers():
    """The evidence line fills in 1·0.3 + 0.5·0.7 = 0.3 + 0.35 = 0.65."""
    at = run_page(prior=0.3)
    assert any("= 0.3 + 0.35 = 0.65" in latex.value for latex in at.latex)


def test_both_likelihoods_zero_says_evidence_is_impossible():
    """P(T|F) = P(T|¬F) = 0 shows 'impossible under your model', no posterior, no NaN."""
    at = run_page(lik_bug_free=0.0, lik_buggy=0.0)
    assert any("This evidence is impossible under your model" in w.value for w in at.warning)
    assert not [m for m in at.metric if m.label == "P(F | T)"]
    assert "nan" not in all_text(at).lower()


@pytest.mark.parametrize("prior", [0.0, 1.0])
def test_prior_zero_or_one_says_it_never_moves(prior):
    """A prior of exactly 0 or 1 explains that no evidence moves it, and shows no NaN."""
    at = run_page(prior=prior)
    assert any("never moves" in info.value for info in at.info)
    assert metric(at, "P(F | T)") == f"{prior:.4f}"
    assert "nan" not in all_text(at).lower()


def test_sequential_passes_follow_the_closed_form():
    """Prior 0.3, 5 passes: 0.3·1/(0.3 + 0.7·0.5⁵) = 0.9320 on the page."""
    at = run_page(prior=0.3, num_passes=5)
    assert metric(at, "P(F | 5 passes in a row)") == f"{0.3 / (0.3 + 0.7 * 0.5**5):.4f}"


def test_one_failure_with_certain_pass_proves_a_bug():
    """With P(T|F) = 1 the page shows P(F|¬T) = 0 and says one failure proves a bug."""
    at = run_page()
    assert metric(at, "P(F | ¬T): the tests fail") == "0.0000"
    assert any("One failure proves there is a bug" in e.value for e in at.error)


def test_failure_impossible_when_both_always_pass():
    """P(T|F) = P(T|¬F) = 1 makes a failure impossible, said in words instead of a number."""
    at = run_page(lik_buggy=1.0)
    assert any("A failure is impossible under your model" in w.value for w in at.warning)
    assert "nan" not in all_text(at).lower()


def test_log_zero_in_the_elbo_is_explained():
    """P(T|F) = 0 makes the posterior 0: ELBO −∞ at φ > 0 is explained, optimise disabled."""
    at = run_page(lik_bug_free=0.0)
    assert any("The posterior is certain" in info.value for info in at.info)
    assert any("the ELBO is −∞" in w.value for w in at.warning)
    assert metric(at, "ELBO(φ)") == "−∞"
    assert at.button(key="ch1_optimise").disabled
    assert "nan" not in all_text(at).lower()


def test_elbo_chart_adds_up_to_log_evidence():
    """In the ELBO chart, the ELBO + KL(q‖posterior) trace equals log P(T) = log 0.65."""
    at = run_page(prior=0.3)
    spec = chart_spec(at, "ELBO(φ) + KL")
    (top,) = [t for t in spec["data"] if t["name"].startswith("ELBO + KL")]
    assert max(abs(y - math.log(0.65)) for y in top["y"]) < 1e-9


def test_optimise_button_animates_phi_to_the_posterior():
    """Each tick moves φ up from 0.1; the run stops at P(F|T) = 0.4615 and says so."""
    at = run_page(prior=0.3)
    at.button(key="ch1_optimise").click().run()
    phis = [at.slider(key="ch1_phi").value]
    for _ in range(60):
        if not at.session_state["ch1_vi"].running:
            break
        at.run()
        phis.append(at.slider(key="ch1_phi").value)
    assert not at.exception, at.exception
    assert not at.session_state["ch1_vi"].running
    assert len(set(phis)) >= 5 and phis == sorted(phis)
    assert phis[-1] == pytest.approx(6 / 13, abs=1e-3)
    assert any("Gradient ascent took" in s.value for s in at.success)


@pytest.mark.slow
def test_moving_phi_by_hand_forgets_the_optimisation_path():
    """After optimising, dragging φ removes the ascent path and its success message."""
    at = run_page()
    at.button(key="ch1_optimise").click().run()
    for _ in range(60):
        if not at.session_state["ch1_vi"].running:
            break
        at.run()
    assert at.success
    at.slider(key="ch1_phi").set_value(0.2).run()
    assert not at.success and "ch1_vi" not in at.session_state


def test_page_holds_no_jit_and_no_loop():
    """The gradient ascent lives in bnnlab.lessons.bayes: the page neither jits nor loops over
    steps."""
    source = (ROOT / "app_pages" / PAGE).read_text()
    assert "import jax" not in source and "jit(" not in source and "for _ in range" not in source

