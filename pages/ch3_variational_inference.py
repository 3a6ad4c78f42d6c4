"""Chapter 3 · Variational inference, made exact: a 2-parameter model whose posterior and
evidence are computed by quadrature, a Gaussian Q fitted live, and every ELBO term as a number.
All numbers come from `bnnlab.exact`; this page binds widgets and lays out figures."""

from __future__ import annotations

import numpy as np
import streamlit as st

from bnnlab.exact import data as exact_data
from bnnlab.exact import lab
from bnnlab.exact import quadrature as quad
from bnnlab.figures import toy as figs
from bnnlab.text import fmt

TICK_S = 0.3  # fragment period; the browser paces it anyway (NOTES-streamlit.md)
LEARNING_RATES = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
STEPS_PER_TICK = (1, 2, 5, 10, 20, 50)
NODE_CHOICES = (4, 8, 16, 32)
ESTIMATOR_LABELS = {
    "gauss_hermite": "Gauss–Hermite quadrature (deterministic)",
    "monte_carlo": "Monte Carlo: reparameterised samples",
}
SS = st.session_state


@st.cache_data(show_spinner="Computing the exact posterior…", max_entries=32)
def exact_posterior(x: np.ndarray, y: np.ndarray, model: str, prior_std: float,
                    noise: float) -> quad.PosteriorGrid:
    return quad.exact_posterior(exact_data.ToyData(x, y), model, prior_std, noise)


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
                     key="ch3_model")
classification = model in exact_data.CLASSIFICATION
names = exact_data.PARAM_NAMES[model]
c1, c2, c3, c4 = st.columns(4)
source = c1.radio("Data", ("generated", "my own points"), key="ch3_source", horizontal=True)
num_points = c2.slider("Number of points", 5, exact_data.MAX_POINTS, 40, 5, key="ch3_num_points")
if classification:
    noise_gen = c3.slider("Label noise (flip probability)", 0.0, 0.45, 0.05, 0.05, key="ch3_flip")
    noise = 1.0  # unused by a Bernoulli likelihood
else:
    noise = noise_gen = c3.slider("Observation noise σ_y (data and likelihood)", 0.1, 2.0, 0.5,
                                  0.1, key="ch3_noise_std")
seed = c4.number_input("Seed", 0, 9999, 0, 1, key="ch3_seed")
data = generated = exact_data.make_data(model, int(num_points), float(noise_gen), int(seed))
if source == "my own points":
    kind = "classification" if classification else "regression"
    SS.setdefault("ch3_points", exact_data.format_points(generated))
    st.caption(f"One point a line: `x, y` with |x| ≤ {exact_data.X_LIMIT:g}"
               + (" and y ∈ {0, 1}." if classification else f" and |y| ≤ {exact_data.Y_LIMIT:g}.")
               + f" At most {exact_data.MAX_POINTS} points.")
    try:
        data = SS.ch3_valid_points[kind] = exact_data.parse_points(
            st.text_area("Points", key="ch3_points", height=150), model)
    except ValueError as err:
        previous = SS.ch3_valid_points.get(kind)
        st.error(f"Could not use these points ({err}). "
                 + ("Keeping the last valid points." if previous is not None
                    else "Using the generated data instead."))
        data = previous if previous is not None else generated
prior_std = st.slider("Prior σ: P(θ) = N(0, σ² I)", 0.3, 3.0, 1.5, 0.1, key="ch3_prior_std")

# ------------------------------------------------------------------------ the fitter
with st.expander("Q and the optimiser", expanded=True):
    q1, q2, q3, q4 = st.columns(4)
    family = q1.radio("Q family", ("mean-field", "full covariance"), key="ch3_family")
    estimator = q2.selectbox("E_Q[·] in the gradient", tuple(ESTIMATOR_LABELS),
                             format_func=ESTIMATOR_LABELS.get, key="ch3_estimator")
    num_samples = q2.select_slider(
        "Nodes per axis" if estimator == "gauss_hermite" else "Samples per step",
        NODE_CHOICES, 8, key="ch3_num_samples")
    lr = q3.select_slider("Learning rate (Adam)", LEARNING_RATES, 0.02, key="ch3_lr")
    steps_per_tick = q3.select_slider("Steps per frame", STEPS_PER_TICK, 10,
                                      key="ch3_steps_per_tick")
    init_m1 = q4.slider(f"Q's initial mean {names[0]}", -4.0, 4.0, -1.0, 0.1, key="ch3_init_m1")
    init_m2 = q4.slider(f"Q's initial mean {names[1]}", -4.0, 4.0, 1.0, 0.1, key="ch3_init_m2")
    init_std = q4.slider("Q's initial σ", 0.1, 2.0, 1.0, 0.05, key="ch3_init_std")
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
grid = exact_posterior(data.x, data.y, model, problem.prior_std, problem.noise)
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
x_line = lab.plot_line(data)
exact_predictive = quad.posterior_predictive(grid, model, x_line)


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
    why_this_works(run, terms, residual)


def why_this_works(run: lab.FitRun, t: dict[str, float], residual: float) -> None:
    with st.expander("Why this works — the derivation with the current numbers", expanded=False):
        st.markdown(f"At step {run.step}, with Q = N(μ, Σ), "
                    f"μ = ({fmt(run.q.mean[0])}, {fmt(run.q.mean[1])}):")
        st.markdown(f"**1.** The evidence is an integral over θ; a {grid.theta1.size}×"
                    f"{grid.theta2.size} product rule evaluates it:")
        st.latex(r"\log P(D) = \log \int P(Y\mid X,\theta)\,P(\theta)\,d\theta = "
                 f"{t['log_evidence']:.5f}")
        st.markdown("**2.** Bayes' rule, P(θ|D) = P(D, θ) / P(D), holds at every θ, so for any "
                    "density Q, taking E_Q of log P(D) = log P(D, θ) − log P(θ|D) and adding and "
                    "subtracting log Q(θ):")
        st.latex(r"\log P(D) = \underbrace{\mathbb{E}_Q\!\left[\log\frac{P(D,\theta)}{Q(\theta)}"
                 r"\right]}_{\text{ELBO}} + \underbrace{\mathbb{E}_Q\!\left[\log\frac{Q(\theta)}"
                 r"{P(\theta\mid D)}\right]}_{\mathrm{KL}(Q\,\|\,P(\theta\mid D))}")
        st.markdown("**3.** The ELBO splits into a data-fit term and a prior term, neither of "
                    "which needs P(D):")
        st.latex(r"\text{ELBO} = \mathbb{E}_Q[\log P(Y\mid X,\theta)] - \mathrm{KL}(Q\,\|\,"
                 rf"P(\theta)) = {fmt(t['expected_log_likelihood'], 5)} - "
                 rf"{fmt(t['kl_prior'], 5)} = {fmt(t['elbo'], 5)}")
        st.markdown("**4.** The gap is a KL divergence, so it is ≥ 0 and the ELBO is a lower "
                    "bound:")
        st.latex(rf"{fmt(t['elbo'], 5)} + {fmt(t['kl_posterior'], 5)} = "
                 rf"{fmt(t['elbo'] + t['kl_posterior'], 5)} \;=\; "
                 rf"\log P(D) = {t['log_evidence']:.5f}")
        kl_rule = ("a sum over the posterior grid" if run.terms["on_grid"][-1] else
                   "Q's own midpoint rule (Q reaches beyond the posterior grid)")
        st.markdown(
            "How each number was computed, independently of the others: E_Q[log P(Y|X,θ)] by "
            f"a trapezoid rule in Q's own coordinates ({run.terms['num_nodes'][-1]:.0f}² nodes, "
            "refined until two levels agree); KL(Q‖P(θ)) in closed form; KL(Q‖P(θ|D)) = "
            f"Σ Q(θ) log(Q(θ)/P(θ|D)) w by its definition, on {kl_rule}; log P(D) on the "
            f"posterior grid. They agree to {abs(residual):.1e}.")
        st.markdown("**5.** log P(D) does not depend on Q. So **raising the ELBO is the same as "
                    "lowering KL(Q ‖ P(θ|D))** — an optimisation we can do with gradients, "
                    "without ever computing the intractable integral. This KL is the *reverse* "
                    "KL: it charges Q for putting mass where the posterior has little, so on a "
                    "two-mode posterior a Gaussian Q picks one mode rather than straddling both.")


live()
