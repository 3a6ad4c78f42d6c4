"""Chapter 3 · Variational inference, made exact: a 2-parameter model whose posterior and
evidence are computed by quadrature, a Gaussian Q fitted live, and every ELBO term as a number.
All numbers come from `bnnlab.exact`; this page binds widgets and lays out figures."""

from __future__ import annotations

import numpy as np
import streamlit as st

from bnnlab.exact import data as exact_data
from bnnlab.exact import lab, methods
from bnnlab.exact import quadrature as quad
from bnnlab.figures import toy as figs
from bnnlab.text import fmt
from ui.figure import figure
from ui.posterior_view import posterior_view

TICK_S = 0.3  # fragment period; the browser paces it anyway (NOTES-streamlit.md)
LEARNING_RATES = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
STEPS_PER_TICK = (1, 2, 5, 10, 20, 50)
NODE_CHOICES = (4, 8, 16, 32)
TEMPERATURES = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 10.0)
TABLE_NUMBERS = ("KL(Q‖P)", "KL(P‖Q)", "log evidence", "pred. at x*", "error",
                 "far entropy", "wall (s)")
ESTIMATOR_LABELS = {
    "gauss_hermite": "Gauss–Hermite quadrature (deterministic)",
    "monte_carlo": "Monte Carlo: reparameterised samples",
}
SS = st.session_state


TABLE_TICK_S = 0.5  # the table polls the background thread this often while it fills


@st.cache_resource(show_spinner=False, max_entries=16)
def compare(x: np.ndarray, y: np.ndarray, model: str, prior_std: float, noise: float,
            temperature: float, q0_mean: tuple[float, float], q0_std: float,
            seed: int) -> lab.Comparison:
    """One comparison per (data, model, prior, noise, T, Q₀, seed), shared by every session;
    its rows are computed lazily (`lab.Comparison`)."""
    return lab.Comparison(lab.Problem(exact_data.ToyData(x, y), model, prior_std, noise),
                          temperature, quad.make_q(q0_mean, (q0_std, q0_std)), seed)


@st.cache_resource
def predictive_figures() -> dict:
    """Process-wide memo of the method-vs-exact predictive figures (building one is ~20 ms of
    Plotly validation, most of a method switch's server time); bounded below."""
    return {}


@st.cache_data(show_spinner="Computing the exact posterior…", max_entries=32)
def exact_posterior(x: np.ndarray, y: np.ndarray, model: str, prior_std: float,
                    noise: float) -> tuple[quad.PosteriorGrid, np.ndarray, np.ndarray]:
    """The grid, the x values of the data chart and the exact predictive along them."""
    data = exact_data.ToyData(x, y)
    grid = quad.exact_posterior(data, model, prior_std, noise)
    x_line = lab.plot_line(data)
    return grid, x_line, quad.posterior_predictive(grid, model, x_line)


for key, value in {"ch3_running": False, "ch3_signature": None, "ch3_valid_points": {}}.items():
    SS.setdefault(key, value)


def set_running(value: bool) -> None:
    SS.ch3_running = value


def reset() -> None:
    SS.ch3_running, SS.ch3_signature = False, None  # forces a fresh Q below


st.title("3 · Variational inference, made exact")
st.markdown(
    "With two parameters the posterior integral is no longer intractable: quadrature gives "
    "the **exact** posterior P(θ | D) and the **exact** log evidence log P(D). That lets us "
    "watch variational inference do its job: a Gaussian Q is fitted by gradient ascent on "
    "the ELBO, and every term of **log P(D) = ELBO + KL(Q ‖ P(θ | D))** is computed on its "
    "own, then checked against the others."
)

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
    kind = "classification" if classification else "regression"
    SS.setdefault("ch3_points", exact_data.format_points(generated))
    st.caption(f"One point a line: `x, y` with |x| ≤ {exact_data.X_LIMIT:g}"
               + (" and y ∈ {0, 1}." if classification else f" and |y| ≤ {exact_data.Y_LIMIT:g}.")
               + f" At most {exact_data.MAX_POINTS} points.")
    try:
        data = SS.ch3_valid_points[kind] = exact_data.parse_points(
            st.text_area("Points", key="ch3_points", persist_state="session", height=150), model)
    except ValueError as err:
        previous = SS.ch3_valid_points.get(kind)
        st.error(f"Could not use these points ({err}). "
                 + ("Keeping the last valid points." if previous is not None
                    else "Using the generated data instead."))
        data = previous if previous is not None else generated
prior_std = st.slider("Prior σ: P(θ) = N(0, σ² I)", 0.3, 3.0, 1.5, 0.1,
                      key="ch3_prior_std", persist_state="session")

# ------------------------------------------------------------------------ the fitter
with st.expander("Q and the optimiser", expanded=True):
    q1, q2, q3, q4 = st.columns(4)
    family = q1.radio("Q family", ("mean-field", "full covariance"),
                      key="ch3_family", persist_state="session")
    estimator = q2.selectbox("E_Q[·] in the gradient", tuple(ESTIMATOR_LABELS),
                             format_func=ESTIMATOR_LABELS.get, key="ch3_estimator",
                             persist_state="session")
    num_samples = q2.select_slider(
        "Nodes per axis" if estimator == "gauss_hermite" else "Samples per step",
        NODE_CHOICES, 8, key="ch3_num_samples", persist_state="session")
    lr = q3.select_slider("Learning rate (Adam)", LEARNING_RATES, 0.02,
                          key="ch3_lr", persist_state="session")
    steps_per_tick = q3.select_slider("Steps per frame", STEPS_PER_TICK, 10,
                                      key="ch3_steps_per_tick", persist_state="session")
    init_m1 = q4.slider(f"Q's initial mean {names[0]}", -4.0, 4.0, -1.0, 0.1,
                        key="ch3_init_m1", persist_state="session")
    init_m2 = q4.slider(f"Q's initial mean {names[1]}", -4.0, 4.0, 1.0, 0.1,
                        key="ch3_init_m2", persist_state="session")
    init_std = q4.slider("Q's initial σ", 0.1, 2.0, 1.0, 0.05,
                         key="ch3_init_std", persist_state="session")
    st.caption(
        "The gradient of the ELBO uses " + (
            f"a {num_samples}×{num_samples} Gauss–Hermite rule on Q (deterministic)"
            if estimator == "gauss_hermite" else
            f"{num_samples} reparameterised draws θ = μ + Lε (noisy)")
        + " (JAX, float32, jitted). A full-covariance Q fits as mean-field until that settles, "
        "then frees its correlation, so it never ends below the mean-field optimum. The numbers "
        "shown are recomputed in float64 after every frame, each by its own quadrature.")

full_cov = family == "full covariance"
problem = lab.Problem(data, model, float(prior_std), float(noise))
settings = lab.FitSettings(full_cov, estimator, int(num_samples), int(steps_per_tick),
                           float(lr), int(seed))
grid, x_line, exact_predictive = exact_posterior(data.x, data.y, model, problem.prior_std,
                                                problem.noise)
q_init = quad.make_q((init_m1, init_m2), (init_std, init_std))
# A new dataset, model, prior or Q family invalidates the history: start Q afresh.
signature = (model, data.x.tobytes(), data.y.tobytes(), problem.prior_std, problem.noise,
             full_cov, float(init_m1), float(init_m2), float(init_std))
if SS.ch3_signature != signature:
    SS.ch3_run = lab.start(problem, grid, q_init)
    SS.ch3_signature, SS.ch3_running = signature, False

b1, b2, b3, b4, _ = st.columns([1, 1, 1, 1, 4])
running = SS.ch3_running
b1.button("Fit", icon=":material/play_arrow:", key="ch3_fit", on_click=set_running,
          args=(True,), disabled=running, type="primary")
b2.button("Pause", icon=":material/pause:", key="ch3_pause", on_click=set_running,
          args=(False,), disabled=not running)
if b3.button("Step", icon=":material/skip_next:", key="ch3_step", disabled=running):
    SS.ch3_run.error = None
    lab.advance(SS.ch3_run, problem, grid, settings)
b4.button("Reset", icon=":material/restart_alt:", key="ch3_reset", on_click=reset)
if SS.ch3_run.error:
    st.warning(SS.ch3_run.error)

view = lab.view_box(grid, q_init)
density32 = grid.density.astype(np.float32)  # half the bytes sent to the browser per frame


@st.fragment(run_every=TICK_S if SS.ch3_running else None)
def live() -> None:
    """Advances the fit by one chunk per tick while running, then redraws."""
    run: lab.FitRun = SS.ch3_run
    if SS.ch3_running:
        lab.advance(run, problem, grid, settings)
        if run.finished:  # finished or diverged: drop the timer with a full rerun
            SS.ch3_running = False
            st.rerun()
    terms = {name: run.latest(name) for name in run.terms}
    residual = terms["elbo"] + terms["kl_posterior"] - terms["log_evidence"]
    m = st.columns(5)
    m[0].metric("step", f"{run.step}", help=f"A run stops at {lab.MAX_STEPS} steps.")
    m[1].metric("log P(D) (quadrature)", f"{terms['log_evidence']:.4f}")
    m[2].metric("ELBO", f"{terms['elbo']:.4f}")
    m[3].metric("KL(Q ‖ P(θ|D))", fmt(terms['kl_posterior'], 4))
    m[4].metric("ELBO + KL − log P(D)", f"{residual:.1e}",
                help="Each term computed by its own quadrature: a rounding-sized number here "
                     "is the identity holding, a larger one a quadrature error showing.")
    left, right = st.columns(2)
    history = {name: np.asarray(values) for name, values in run.terms.items()}
    left.plotly_chart(
        figs.posterior_figure(grid.theta1, grid.theta2, density32, names,
                              np.asarray(run.q.mean), quad.q_covariance(run.q),
                              np.asarray(run.means), view),
        key="ch3_posterior_chart", width="stretch")
    right.plotly_chart(
        figs.decomposition_figure(np.asarray(run.steps), history["log_evidence"],
                                  history["elbo"], history["kl_posterior"],
                                  history["expected_log_likelihood"], history["kl_prior"]),
        key="ch3_decomposition_chart", width="stretch")
    st.plotly_chart(
        figs.data_figure(data.x, data.y, x_line, exact_predictive,
                         quad.q_predictive(run.q, model, x_line), classification),
        key="ch3_data_chart", width="stretch")
    with st.expander("Why this works — the derivation with the current numbers"):
        for kind, text in lab.derivation(run, (grid.theta1.size, grid.theta2.size)):
            st.latex(text) if kind == "latex" else st.markdown(text)


live()

# ----------------------------------------------- every method against the exact posterior
st.subheader("Every method against the same exact posterior")
st.markdown(
    "Each row approximates P_T(θ | D) ∝ (P(Y|X,θ)·P(θ))^{1/T} and is scored against it by "
    "quadrature. Reverse KL (VI) seeks a mode; forward KL (moment matching) covers the mass; "
    "Laplace is a Gaussian at the MAP; HMC with the No-U-Turn sampler draws samples, each "
    "trajectory doubling until its ends turn back towards each other. The temperature T "
    "(Wenzel et al. "
    "2020; Izmailov et al. 2021 for the counterpoint) sharpens the posterior for T < 1 and "
    "flattens it for T > 1, and with it the predictive far from the data: on this page's "
    "default data the exact far-from-data entropy rises with T on all three models (logistic "
    "regression: 0.003, 0.008 and 0.058 nats at T = 0.25, 1 and 4). The live fit above stays "
    "at T = 1.")


@st.fragment
def every_method() -> None:
    """T and x* rerun this section; the method shown reruns only its own view (`shown_view`),
    not the table."""
    k1, k2 = st.columns(2)
    temperature = k1.select_slider("Temperature T", TEMPERATURES, 1.0,
                                   key="ch3_temperature", persist_state="session")
    x_star = k2.slider("Predict at x*", -exact_data.X_LIMIT, exact_data.X_LIMIT, 1.0, 0.5,
                       key="ch3_x_star", persist_state="session")
    comparison = compare(data.x, data.y, model, problem.prior_std, problem.noise,
                         float(temperature), (float(init_m1), float(init_m2)), float(init_std),
                         int(seed))
    view_t = quad.mass_box(comparison.grid, tail_mass=1e-4, pad=0.3)

    @st.fragment
    def shown_view() -> None:
        """The chosen method over the exact posterior, and its predictive against the exact."""
        shown = st.radio("Show on the posterior", methods.METHODS, horizontal=True,
                         format_func=methods.METHOD_LABELS.get, key="ch3_method",
                         persist_state="session")
        if shown not in comparison.rows:
            with st.spinner(f"Running {methods.METHOD_LABELS[shown]} (compiled once per "
                            "server)…"):
                comparison.row(shown)
        comparison.fill_in_background()  # the other rows, off the script thread
        left, right = st.columns(2)
        with left:
            posterior_view(comparison.view_payload(shown, view_t), key="ch3_posterior_view")
            st.caption(f"Blue: the exact P_T(θ | D). Across: {names[0]} from {view_t[0]:.1f} "
                       f"to {view_t[1]:.1f}; up: {names[1]} from {view_t[2]:.1f} to "
                       f"{view_t[3]:.1f}." + (
                           " Black ring: where the transition started; orange: the kept "
                           "trajectory; grey dots: warm-up states; red dots: samples."
                           if shown == "hmc" else ""))
        with right:
            # Updated in place (Plotly.react): st.plotly_chart remounts a changed figure.
            memo = predictive_figures()
            fig_key = (comparison.id, shown, float(x_star), x_line.tobytes())
            if fig_key not in memo:
                if len(memo) > 256:
                    memo.clear()
                memo[fig_key] = figs.predictive_comparison_figure(
                    data.x, data.y, x_line, comparison.line("exact", x_line),
                    comparison.line(shown, x_line),
                    methods.METHOD_LABELS[shown], float(x_star), classification)
            figure(memo[fig_key], key="ch3_method_predictive")

    shown_view()
    filling = comparison.done < len(methods.METHODS)

    @st.fragment(run_every=TABLE_TICK_S if filling else None)
    def table() -> None:
        """The table, redrawn as the background thread adds rows (then one full rerun drops
        the timer)."""
        done = comparison.done
        if done < len(methods.METHODS):
            st.progress(done / len(methods.METHODS),
                        text=f"Running the methods: {done} of {len(methods.METHODS)} done…")
        st.dataframe(comparison.table(float(x_star)), hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.4f")
                                    for c in TABLE_NUMBERS})
        far = methods.far_points(data)[1]
        st.caption("KLs by quadrature (— for samples); pred. at x*: the predictive at x*, "
                   "error: its difference from the exact one; the evidence is each method's "
                   "estimate of log ∫ P_T(D, θ) dθ (an ELBO is a lower bound); far entropy: "
                   f"the predictive's entropy in nats at x = ±{far:.1f}, averaged"
                   + (" (Gaussian: ½ log 2πe(σ_y² + Var f))" if not classification else
                      f" (a coin's is at most ln 2 = {np.log(2):.3f})")
                   + "; wall times include compiling on a server's first run.")
        if filling and done == len(methods.METHODS):
            st.rerun()

    table()


every_method()
