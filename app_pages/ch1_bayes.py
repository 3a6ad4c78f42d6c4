"""Chapter 1 · Bayes' theorem, felt through the talk's bug-free code example.

UI only: every number comes from `bnnlab.lessons.bayes`, every sentence that depends on one from
`bnnlab.lessons.bayes_text`, every figure from `bnnlab.figures.bayes`. The three sliders at the
top feed every section; the n-passes slider and the variational section are fragments, so their
own widgets rerun only them.
"""

from __future__ import annotations

import math

import numpy as np
import streamlit as st

from bnnlab.core.text import fmt
from bnnlab.figures import bayes as figures
from bnnlab.lessons import bayes
from bnnlab.lessons import bayes_text as text
from ui.figure import figure

MAX_PASSES = 20
POPULATION = 1000
PHI_GRID = np.linspace(0.0, 1.0, 401)
PRIOR_GRID = np.linspace(0.0, 1.0, 201)
TICK_S = 0.12

st.title("1 · Bayes' theorem")
st.markdown(text.INTRO)
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

st.header("The update, step by step")
numbers, derivation = st.columns([2, 3], gap="large")
with derivation:
    st.markdown("**Bayes' theorem**")
    st.latex(text.BAYES_LATEX)
    st.markdown("**The evidence: every way the tests can pass**")
    st.latex(text.evidence_latex(passed))
    if passed.posterior is not None:
        st.markdown("**The posterior**")
        st.latex(text.posterior_latex(passed))
    if passed.posterior is not None and bayes.is_talks_case(lik_bug_free, lik_buggy):
        st.markdown("**The talk's case**: P(T | F) = 1 and P(T | ¬F) = ½, so")
        st.latex(text.talks_case_latex(passed))
if passed.posterior is None:
    st.warning(text.IMPOSSIBLE_EVIDENCE)
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
    freq_text_col.info(text.no_passing_note(POPULATION))


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
        words.warning(text.IMPOSSIBLE_FAILURE)
        return
    words.metric("P(F | ¬T): the tests fail", f"{failed.posterior:.4f}")
    words.latex(text.failure_latex(failed))
    if bayes.failure_proves_a_bug(prior, lik_bug_free):
        words.error(text.FAILURE_PROVES_A_BUG)
    elif failed.posterior < prior:
        words.markdown(text.failure_not_proof(lik_bug_free))


evidence_over_time(prior, lik_bug_free, lik_buggy)

st.header("The same example as variational inference")
st.markdown(text.ELBO_INTRO)
st.latex(text.ELBO_LATEX)
st.markdown(text.ELBO_MAXIMISER)


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
    if ascent and ascent.moved_by_hand(phi):  # the learner took over: forget the ascent
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
    for col, (label, value) in zip(st.columns(5), text.elbo_metrics(current), strict=True):
        col.metric(label, value)
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
        st.success(text.ascent_summary(int(ascent.state.step), ascent.phi, posterior))


variational_section(prior, lik_bug_free, lik_buggy, posterior)
