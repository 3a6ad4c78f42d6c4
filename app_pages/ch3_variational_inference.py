"""Chapter 3 · Variational inference, made exact: a 2-parameter model whose posterior and
evidence are computed by quadrature, a Gaussian Q fitted live, and every ELBO term as a number.
All numbers come from `bnnlab.lessons.exact`; this page binds widgets and lays out figures."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from bnnlab.figures import toy as figs
from bnnlab.lessons.exact import data as exact_data
from bnnlab.lessons.exact import lab, table, target, text
from bnnlab.lessons.exact.approximations import METHOD_LABELS, METHODS
from bnnlab.lessons.exact.gaussian import GaussianQ, make_q, q_covariance, q_predictive
from ui.figure import figure
from ui.posterior_view import posterior_view

TICK_S = 0.3  # fragment period; the browser paces it anyway (NOTES-streamlit.md)
TABLE_TICK_S = 0.5  # the table polls the background thread this often while it fills
SS = st.session_state


@st.cache_resource(show_spinner=False, max_entries=16)
def method_table(problem: exact_data.ExactProblem, temperature: float, q0: GaussianQ,
                 seed: int) -> table.MethodTable:
    """One lazily filled table per (problem, T, Q₀, seed), shared by every session."""
    return table.MethodTable(problem, temperature, q0, seed)


@st.cache_resource(show_spinner=False, max_entries=256)
def predictive_figure(_comparison: table.MethodTable, table_id: str, method: str,
                      x_star: float) -> go.Figure:
    """The method's predictive against the exact one, memoised (Plotly's validation is slow)."""
    data, model = _comparison.problem.data, _comparison.problem.model
    x_line = lab.plot_line(data)
    return figs.predictive_comparison_figure(
        data.x, data.y, x_line, _comparison.exact_line(x_line), _comparison.line(method, x_line),
        METHOD_LABELS[method], x_star, model in exact_data.CLASSIFICATION)


exact_view = st.cache_data(show_spinner="Computing the exact posterior…",
                           max_entries=32)(lab.exact_view)

for key, value in {"ch3_running": False, "ch3_signature": None, "ch3_valid_points": {}}.items():
    SS.setdefault(key, value)


def set_running(value: bool) -> None:
    SS.ch3_running = value


def reset() -> None:
    SS.ch3_running, SS.ch3_signature = False, None  # forces a fresh Q below


st.title("3 · Variational inference, made exact")
st.markdown(text.INTRO)

# ------------------------------------------------------------------ the model and data
model = st.selectbox("Model", exact_data.MODELS, format_func=exact_data.MODEL_LABELS.get,
                     key="ch3_model", persist_state="session")
classification = model in exact_data.CLASSIFICATION
names = exact_data.PARAM_NAMES[model]
c1, c2, c3, c4 = st.columns(4)
source = c1.radio("Data", ("generated", "my own points"),
                  key="ch3_source", persist_state="session", horizontal=True)
num_points = c2.slider("Number of points", 5, exact_data.MAX_POINTS, 40, 5,
                       key="ch3_num_points", persist_state="session")
if classification:
    noise_gen = c3.slider("Label noise (flip probability)", 0.0, 0.45, 0.05, 0.05,
                          key="ch3_flip", persist_state="session")
    noise = 1.0  # unused by a Bernoulli likelihood
else:
    noise = noise_gen = c3.slider("Observation noise σ_y (data and likelihood)", 0.1, 2.0, 0.5,
                                  0.1, key="ch3_noise_std", persist_state="session")
seed = c4.number_input("Seed", 0, 9999, 0, 1, key="ch3_seed", persist_state="session")
data = generated = exact_data.make_data(model, int(num_points), float(noise_gen), int(seed))
if source == "my own points":
    SS.setdefault("ch3_points", exact_data.format_points(generated))
    st.caption(text.points_help(model))
    points = st.text_area("Points", key="ch3_points", persist_state="session", height=150)
    data, error = exact_data.use_points(points, model, generated, SS.ch3_valid_points)
    if error:
        st.error(error)
prior_std = st.slider("Prior σ: P(θ) = N(0, σ² I)", 0.3, 3.0, 1.5, 0.1,
                      key="ch3_prior_std", persist_state="session")

# ------------------------------------------------------------------------ the fitter
with st.expander("Q and the optimiser", expanded=True):
    q1, q2, q3, q4 = st.columns(4)
    family = q1.radio("Q family", ("mean-field", "full covariance"),
                      key="ch3_family", persist_state="session")
    estimator = q2.selectbox("E_Q[·] in the gradient", tuple(text.ESTIMATOR_LABELS),
                             format_func=text.ESTIMATOR_LABELS.get, key="ch3_estimator",
                             persist_state="session")
    num_samples = q2.select_slider(text.SAMPLES_LABELS[estimator], lab.NODE_CHOICES, 8,
                                   key="ch3_num_samples", persist_state="session")
    lr = q3.select_slider("Learning rate (Adam)", lab.LEARNING_RATES, 0.02,
                          key="ch3_lr", persist_state="session")
    steps_per_tick = q3.select_slider("Steps per frame", lab.STEPS_PER_FRAME, 10,
                                      key="ch3_steps_per_tick", persist_state="session")
    init_m1 = q4.slider(f"Q's initial mean {names[0]}", -4.0, 4.0, -1.0, 0.1,
                        key="ch3_init_m1", persist_state="session")
    init_m2 = q4.slider(f"Q's initial mean {names[1]}", -4.0, 4.0, 1.0, 0.1,
                        key="ch3_init_m2", persist_state="session")
    init_std = q4.slider("Q's initial σ", 0.1, 2.0, 1.0, 0.05,
                         key="ch3_init_std", persist_state="session")
    st.caption(text.fit_caption(estimator, num_samples))

problem = exact_data.ExactProblem(data, model, float(prior_std), float(noise))
settings = lab.FitSettings(family == "full covariance", estimator, int(num_samples),
                           int(steps_per_tick), float(lr), int(seed))
grid, x_line, exact_predictive, density32 = exact_view(problem)
q_init = make_q((init_m1, init_m2), (init_std, init_std))
signature = lab.run_signature(problem, settings.full_covariance, q_init)
if SS.ch3_signature != signature:
    SS.ch3_run = lab.start(problem, grid, q_init)
    SS.ch3_signature, SS.ch3_running = signature, False

b1, b2, b3, b4, _ = st.columns([1, 1, 1, 1, 4])
b1.button("Fit", icon=":material/play_arrow:", key="ch3_fit", on_click=set_running,
          args=(True,), disabled=SS.ch3_running, type="primary")
b2.button("Pause", icon=":material/pause:", key="ch3_pause", on_click=set_running,
          args=(False,), disabled=not SS.ch3_running)
if b3.button("Step", icon=":material/skip_next:", key="ch3_step", disabled=SS.ch3_running):
    SS.ch3_run.error = None
    lab.advance(SS.ch3_run, problem, grid, settings)
b4.button("Reset", icon=":material/restart_alt:", key="ch3_reset", on_click=reset)
if SS.ch3_run.error:
    st.warning(SS.ch3_run.error)

view = lab.view_box(grid, q_init)


@st.fragment(run_every=TICK_S if SS.ch3_running else None)
def live() -> None:
    """Advances the fit by one chunk per tick while running, then redraws."""
    run: lab.FitRun = SS.ch3_run
    if SS.ch3_running:
        lab.advance(run, problem, grid, settings)
        if run.finished:  # finished or diverged: drop the timer with a full rerun
            SS.ch3_running = False
            st.rerun()
    for column, (label, value, help_text) in zip(st.columns(5), text.metrics(run), strict=True):
        column.metric(label, value, help=help_text)
    left, right = st.columns(2)
    left.plotly_chart(
        figs.posterior_figure(grid.theta1, grid.theta2, density32, names,
                              np.asarray(run.q.mean), q_covariance(run.q),
                              np.asarray(run.means), view),
        key="ch3_posterior_chart", width="stretch")
    right.plotly_chart(figs.decomposition_figure(**lab.history(run)),
                       key="ch3_decomposition_chart", width="stretch")
    st.plotly_chart(
        figs.data_figure(data.x, data.y, x_line, exact_predictive,
                         q_predictive(run.q, model, x_line), classification),
        key="ch3_data_chart", width="stretch")
    with st.expander("Why this works — the derivation with the current numbers"):
        for kind, item in text.derivation(run, (grid.theta1.size, grid.theta2.size)):
            (st.latex if kind == "latex" else st.markdown)(item)


live()

# ----------------------------------------------- every method against the exact posterior
st.subheader("Every method against the same exact posterior")
st.markdown(text.METHODS_INTRO)


@st.fragment
def every_method() -> None:
    """T and x* rerun this section; the method shown reruns only its own view."""
    k1, k2 = st.columns(2)
    temperature = k1.select_slider("Temperature T", target.TEMPERATURES, 1.0,
                                   key="ch3_temperature", persist_state="session")
    x_star = k2.slider("Predict at x*", -exact_data.X_LIMIT, exact_data.X_LIMIT, 1.0, 0.5,
                       key="ch3_x_star", persist_state="session")
    comparison = method_table(problem, float(temperature), q_init, int(seed))
    view_t = comparison.view_box

    @st.fragment
    def shown_view() -> None:
        """The chosen method over the exact posterior, and its predictive against the exact."""
        shown = st.radio("Show on the posterior", METHODS, horizontal=True,
                         format_func=METHOD_LABELS.get, key="ch3_method",
                         persist_state="session")
        comparison.fill_in_background(first=shown)  # every row in a slot, on its own thread
        if shown not in comparison.rows and shown not in comparison.errors:
            with st.spinner(text.running_text(shown)):
                if not comparison.wait_for(shown, table.ROW_WAIT_S):
                    st.info(text.SLOT_BUSY, icon=":material/hourglass_top:")
        left, right = st.columns(2)
        with left:
            posterior_view(comparison.view_payload(shown, view_t), key="ch3_posterior_view")
            st.caption(text.view_caption(names, view_t, shown))
        with right:
            # Updated in place (Plotly.react): st.plotly_chart remounts a changed figure.
            figure(predictive_figure(comparison, comparison.id, shown, float(x_star)),
                   key="ch3_method_predictive")

    shown_view()

    @st.fragment(run_every=TABLE_TICK_S if (filling := comparison.filling) else None)
    def rows() -> None:
        """The table, redrawn as rows come in (then one full rerun drops the timer)."""
        comparison.fill_in_background()  # still looked at: keep filling (`MethodTable.idle`)
        if progress := comparison.progress():
            st.progress(*progress)
        right = st.column_config.TextColumn(alignment="right")
        st.dataframe(table.shown(comparison.table(float(x_star))), hide_index=True,
                     width="stretch", column_config=dict.fromkeys(table.TABLE_NUMBERS, right))
        st.caption(text.table_caption(data, classification))
        if filling and progress is None:
            st.rerun()

    rows()


every_method()
