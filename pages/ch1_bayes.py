"""Chapter 1 · Bayes' theorem, felt through the talk's bug-free code example.

UI only: every number comes from `bnnlab.bayes`, every figure from `bnnlab.figures.bayes`. The
three sliders at the top feed every section; the n-passes slider and the variational section
are fragments, so their own widgets rerun only them.
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from bnnlab import bayes
from bnnlab import bayes_text as text
from bnnlab.figures import bayes as figures
from bnnlab.text import fmt
from ui.figure import figure

MAX_PASSES = 20
POPULATION = 1000
PHI_GRID = np.linspace(0.0, 1.0, 401)
PRIOR_GRID = np.linspace(0.0, 1.0, 201)
TICK_S = 0.12
num, nats = bayes.format_probability, bayes.format_nats

st.title("1 · Bayes' theorem")
st.markdown(
    "You wrote some code and the tests pass. How sure should you now be that it is bug-free? "
    "Let **F** = *my code is bug-free* and **T** = *the tests pass*. Bayes' theorem turns "
    "your belief **before** the tests, the prior P(F), into your belief **after** them, "
    "the posterior P(F | T). Drag the sliders and watch it move."
)
left, middle, right = st.columns(3)
prior = left.slider("Prior P(F): how sure you are before testing", 0.0, 1.0, 0.5, 0.01,
                    key="ch1_prior", persist_state="session",
                    help="Your belief that the code is bug-free before you see any test result.")
lik_bug_free = middle.slider("P(T | F): bug-free code passes the tests", 0.0, 1.0, 1.0, 0.01,
                             key="ch1_lik_bug_free", persist_state="session",
                             help="In the talk this is 1: of course bug-free code passes.")
lik_buggy = right.slider("P(T | ¬F): buggy code passes anyway", 0.0, 1.0, 0.5, 0.01,
                         key="ch1_lik_buggy", persist_state="session",
                         help="In the talk this is 1/2: tests catch a bug only half the time.")
try:
    passed = bayes.update(prior, lik_bug_free, lik_buggy)
except ValueError as err:  # only reachable through a tampered session state
    st.error(f"Invalid input: {err}. Reload the page to get the defaults back.")
    st.stop()
talks_case = lik_bug_free == 1.0 and lik_buggy == 0.5

st.header("The update, step by step")
numbers, derivation = st.columns([2, 3], gap="large")
with derivation:
    st.markdown("**Bayes' theorem**")
    st.latex(r"P(F \mid T) = \frac{P(T \mid F)\,P(F)}{P(T)}")
    st.markdown("**The evidence: every way the tests can pass**")
    st.latex(text.evidence_latex(passed))
    if passed.posterior is not None:
        st.markdown("**The posterior**")
        st.latex(text.posterior_latex(passed))
    if passed.posterior is not None and talks_case:
        st.markdown("**The talk's case**: P(T | F) = 1 and P(T | ¬F) = ½, so")
        st.latex(text.talks_case_latex(passed))
if passed.posterior is None:
    st.warning(
        "**This evidence is impossible under your model.** With these numbers the tests can "
        "never pass: P(T) = 0, because every program you consider possible fails them. "
        "Bayes' theorem would divide by zero, so there is no posterior. If the tests did "
        "pass, your model is wrong: give some probability to passing (raise P(T | F) or "
        "P(T | ¬F), or move the prior away from 0 and 1)."
    )
    st.stop()
posterior = passed.posterior
with numbers:
    st.metric("P(F | T)", f"{posterior:.4f}",
              delta=f"{fmt(posterior - prior, 4, sign='+')} from the prior",
              delta_color="off" if posterior == prior else "normal")
    figure(figures.prior_posterior_bars(prior, posterior), key="ch1_bars")
if note := text.prior_note(prior, lik_bug_free, lik_buggy, posterior):
    st.info(note)

st.header("Every prior at once")
curve_col, text_col = st.columns([3, 2], gap="large")
with curve_col:
    figure(figures.posterior_curve(PRIOR_GRID, bayes.posterior_curve(
        PRIOR_GRID, lik_bug_free, lik_buggy), prior, posterior), key="ch1_curve")
text_col.markdown(text.curve_markdown(lik_bug_free, lik_buggy))

st.header(f"Of {POPULATION:,} programs like yours…")
freqs = bayes.natural_frequencies(prior, lik_bug_free, lik_buggy, POPULATION)
waffle_col, freq_text_col = st.columns([3, 2], gap="large")
with waffle_col:
    figure(figures.natural_frequencies_waffle(freqs), key="ch1_waffle")
freq_text_col.markdown(text.natural_frequencies_markdown(freqs))
if freqs.passing > 0:
    freq_text_col.latex(text.natural_frequency_latex(freqs, posterior))
else:
    freq_text_col.info(f"Passing is so rare here that none of {POPULATION:,} whole programs "
                       "pass; the exact posterior above still holds.")


@st.fragment
def evidence_over_time(prior: float, lik_bug_free: float, lik_buggy: float) -> None:
    """The n-passes slider, the sequential posteriors and one failure; reruns on its own."""
    st.header("Evidence arriving over time")
    n = st.slider("The tests pass n times in a row", 0, MAX_PASSES, 3, key="ch1_num_passes",
                  persist_state="session",
                  help="Independent runs, for example on different inputs.")
    runs = np.arange(MAX_PASSES + 1)
    after = bayes.posterior_after_runs(prior, lik_bug_free, lik_buggy, runs)
    after_failure = bayes.posterior_after_runs(prior, lik_bug_free, lik_buggy, runs, 1)
    failed = bayes.update(prior, lik_bug_free, lik_buggy, tests_passed=False)
    chart, words = st.columns([3, 2], gap="large")
    with chart:
        figure(figures.sequential_posteriors(runs, after, after_failure, prior, n),
               key="ch1_sequential")
    words.metric(f"P(F | {n} passes in a row)", f"{after[n]:.4f}")
    words.latex(text.after_runs_latex(prior, lik_bug_free, lik_buggy, n, after[n]))
    if note := text.bayes_factor_note(prior, lik_bug_free, lik_buggy):
        words.markdown(note)
    words.subheader("…and then the tests fail once")
    if failed.posterior is None:
        words.warning("**A failure is impossible under your model**: with these numbers every "
                      "program you consider possible passes (P(¬T) = 0), so P(F | ¬T) does not "
                      "exist. If you ever see one fail, your model was wrong.")
        return
    words.metric("P(F | ¬T): the tests fail", f"{failed.posterior:.4f}")
    words.latex(text.failure_latex(failed))
    if lik_bug_free == 1.0 and prior > 0.0:
        words.error("**One failure proves there is a bug.** Bug-free code always passes "
                    "(P(T | F) = 1), so a failing run is impossible if F is true: the posterior "
                    "drops to exactly 0, no matter how many passes came before (the dotted red "
                    "line stays at 0). Passing tests can never prove code correct; one failing "
                    "test proves it wrong.")
    elif failed.posterior < prior:
        words.markdown("A failure is evidence against F, but since bug-free code can fail too "
                      f"(P(¬T | F) = {num(1 - lik_bug_free)}), it is not proof.")


evidence_over_time(prior, lik_bug_free, lik_buggy)

st.header("The same example as variational inference")
st.markdown(
    "Chapter 3 will approximate a posterior we cannot compute. Here we can compute it, so "
    "we can watch the approximation work. Choose a distribution **q** over the two "
    "hypotheses H ∈ {F, ¬F} with q(F) = φ, and score it with the **ELBO**:"
)
st.latex(r"\mathrm{ELBO}(\varphi) = \mathbb{E}_q[\log P(T \mid H)] - \mathrm{KL}(q \,\Vert\, "
         r"P(H)) \qquad\text{and}\qquad \log P(T) = \mathrm{ELBO}(\varphi) + \mathrm{KL}(q "
         r"\,\Vert\, P(H \mid T))")
st.markdown("log P(T) does not depend on φ, and KL ≥ 0 with equality only at q = posterior, so "
            "**maximising the ELBO is the same as making q equal to the posterior**.")


def _start_optimising() -> None:
    st.session_state["ch1_vi"] = bayes.start_ascent(st.session_state.get("ch1_phi", 0.1))
    st.session_state["ch1_vi_timer"] = False  # run_every is set only by a full page run


_ascent: bayes.Ascent | None = st.session_state.get("ch1_vi")
st.session_state["ch1_vi_timer"] = bool(_ascent and _ascent.running)


@st.fragment(run_every=TICK_S if _ascent and _ascent.running else None)
def variational_section(prior: float, lik_bug_free: float, lik_buggy: float,
                        posterior: float) -> None:
    """φ slider, optimise button and the live ELBO charts; ticks while optimising."""
    ascent: bayes.Ascent | None = st.session_state.get("ch1_vi")
    was_running = bool(ascent and ascent.running)
    if was_running and not st.session_state.get("ch1_vi_timer"):
        st.rerun()  # just clicked: a full run starts the fragment's timer
    if was_running:
        ascent = st.session_state["ch1_vi"] = bayes.advance_ascent(
            ascent, prior, lik_bug_free, lik_buggy)
        st.session_state["ch1_phi"] = round(ascent.phi, 3)  # allowed: the slider comes later
    running = bool(ascent and ascent.running)
    slider_col, button_col = st.columns([4, 1], vertical_alignment="bottom")
    st.session_state.setdefault("ch1_phi", 0.1)  # not `value=`: the optimiser writes it
    phi = slider_col.slider("q(F) = φ: how much your approximation believes in bug-free code",
                            0.0, 1.0, step=0.001, format="%.3f", key="ch1_phi",
                            persist_state="session",
                            disabled=running)
    if ascent and not running and abs(phi - round(ascent.phi, 3)) > 0.01:
        # φ moved by hand (by more than the slider's echo of the optimiser's value): forget it.
        st.session_state.pop("ch1_vi", None)
        ascent = None
    degenerate = posterior in (0.0, 1.0)
    button_col.button("Optimise φ", key="ch1_optimise", type="primary",
                      on_click=_start_optimising, disabled=running or degenerate,
                      help="Gradient ascent on the ELBO (jax.grad), animated until φ = P(F|T).")
    if was_running and not running:
        st.rerun()  # a full run stops the fragment's timer
    grid = bayes.elbo_terms(PHI_GRID, prior, lik_bug_free, lik_buggy)
    current = bayes.elbo_terms(phi, prior, lik_bug_free, lik_buggy)
    elbo, kl_post = float(current.elbo[0]), float(current.kl_to_posterior[0])
    if degenerate:
        st.info(text.certain_posterior_note(posterior))
    if not math.isfinite(elbo):
        st.warning(text.infinite_elbo_note(phi, posterior))
    for col, label, value in zip(st.columns(5), (
            "E_q[log P(T|H)]", "KL(q ‖ prior)", "ELBO(φ)", "KL(q ‖ posterior)", "log P(T)"), (
            float(current.expected_log_likelihood[0]), float(current.kl_to_prior[0]), elbo,
            kl_post, grid.log_evidence), strict=True):
        col.metric(label, nats(value))
    if math.isfinite(elbo):
        st.latex(text.identity_latex(elbo, kl_post, grid.log_evidence))
    chart_col, bars_col = st.columns([3, 2], gap="large")
    with chart_col:
        figure(figures.elbo_decomposition(PHI_GRID, grid, phi, current, posterior,
                                          ascent.phis if ascent else (),
                                          ascent.elbos if ascent else ()), key="ch1_elbo")
    if math.isfinite(elbo):
        with bars_col:
            figure(figures.elbo_waterfall(current), key="ch1_waterfall")
    if ascent and not running and ascent.phis:
        st.success(f"Gradient ascent took {int(ascent.state.step)} steps to φ = "
                   f"{ascent.phi:.4f}; the exact posterior is P(F | T) = {posterior:.4f}. "
                   "The ELBO's maximiser is the posterior.")


variational_section(prior, lik_bug_free, lik_buggy, posterior)
