"""Chapter 2 · The Bayesian view of training: data, likelihood and prior; functions drawn from
the prior; and why the evidence integral is out of reach for any real network."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import streamlit as st

from bnnlab import prior_predictive as pp
from bnnlab import toy_posterior as tp
from bnnlab.figures import prior as figs
from bnnlab.text import fmt

WIDTHS = (2, 4, 8, 16, 32, 64)
GRID_POINTS = (2, 3, 5, 10, 20, 50, 100, 1000)
PLANE = 3.5  # the 2-D pictures cover [-PLANE, PLANE]²
PLANE_RES = 60
NUM_BOUNDARY_DRAWS = 6
MAX_DRAWS = 10  # always drawn, then sliced, so the slider never recompiles


@st.cache_resource(show_spinner=False)
def compiled_prior_functions():
    """Jitted prior draws; recompiles only per architecture and number of draws."""
    return jax.jit(pp.sample_prior_functions,
                   static_argnames=("sizes", "num_functions", "activation"))


@st.cache_resource(show_spinner=False)
def compiled_view_network():
    """Jitted draw-and-evaluate of one network; recompiles only per architecture."""
    return jax.jit(pp.view_network, static_argnames=("sizes", "activation"))


@st.cache_data(show_spinner=False)
def plane_points() -> tuple[np.ndarray, np.ndarray]:
    axis = np.linspace(-PLANE, PLANE, PLANE_RES, dtype=np.float32)
    g1, g2 = np.meshgrid(axis, axis)
    return axis, np.stack([g1.ravel(), g2.ravel()], 1)


@st.cache_data(show_spinner=False)
def two_parameter_evidence(points_per_axis: int) -> tuple[float, float]:
    """log P(D) of chapter 3's logistic regression on a G×G grid, and the seconds it took."""
    data = tp.make_data("logistic", 40, 0.05, seed=0)
    start = time.perf_counter()
    grid = tp.exact_posterior(data, "logistic", 1.5, size=points_per_axis, num_refinements=0,
                              box=(-7.5, 7.5, -7.5, 7.5))
    return grid.log_evidence, time.perf_counter() - start


st.title("2 · The Bayesian view of training")
st.markdown(
    "Ordinary training finds **one** set of weights θ. The Bayesian view keeps **all** of them, "
    "weighted by how plausible they are: the posterior P(θ | D) ∝ P(Y | X, θ) · P(θ). "
    "Three pieces make a Bayesian neural network: the data, the likelihood and the prior. "
    "Change them below."
)

# ------------------------------------------------------------------ the architecture
st.subheader("The network and its prior")
a1, a2, a3, a4, a5 = st.columns(5)
depth = a1.slider("Hidden layers", 1, 3, 2, key="ch2_depth")
width = a2.select_slider("Units per layer", WIDTHS, 16, key="ch2_width")
activation = a3.radio("Activation", tuple(pp.ACTIVATIONS), key="ch2_activation",
                      horizontal=True)
prior_std = a4.slider("Prior σ: θ ~ N(0, σ²)", 0.1, 5.0, 1.0, 0.1, key="ch2_prior_std")
seed = a5.number_input("Seed", 0, 9999, 0, 1, key="ch2_seed")
hidden = (int(width),) * int(depth)
draw_fn = compiled_prior_functions()
key = jax.random.PRNGKey(int(seed))

# ------------------------------------------------------------------- 1. the pieces
st.header("1 · The pieces of a BNN")
c_data, c_lik, c_prior = st.columns(3)
with c_data:
    st.markdown("**Data** D = (X, Y): points x ∈ ℝ² with class labels y.")
    d1, d2, d3 = st.columns(3)
    num_points = d1.slider("Points", 10, 200, 60, 10, key="ch2_num_points")
    num_classes = d2.radio("Classes", (2, 3), key="ch2_num_classes", horizontal=True)
    spread = d3.slider("Spread", 0.2, 1.5, 0.6, 0.1, key="ch2_spread")
    data = pp.make_blobs(int(num_points), int(num_classes), float(spread), int(seed))
    st.plotly_chart(figs.dataset_figure(data.x, data.y), key="ch2_data_chart", width="stretch")

sizes_2d = pp.layer_sizes(2, hidden, int(num_classes))
num_params = pp.count_parameters(sizes_2d)
with c_lik:
    likelihood_name = "Bernoulli on σ(f(x))" if num_classes == 2 else "categorical on softmax(f(x))"
    st.markdown(f"**Likelihood** P(Y | X, θ): {likelihood_name}, "
                "a product over the points.")
    draw = st.slider("Which network θ (a draw from the prior)", 1, NUM_BOUNDARY_DRAWS, 1,
                     key="ch2_draw")
    theta_key = jax.random.fold_in(key, 1000 + int(draw))
    axis, plane = plane_points()
    view = compiled_view_network()(theta_key, sizes_2d, prior_std, jnp.asarray(plane),
                                   jnp.asarray(data.x), jnp.asarray(data.y),
                                   activation=activation)
    plane_probs = np.asarray(view.plane_probs)
    point_ll = np.asarray(view.point_log_lik)
    st.plotly_chart(figs.likelihood_figure(axis, plane_probs.reshape(PLANE_RES, PLANE_RES, -1),
                                           data.x, data.y, point_ll),
                    key="ch2_likelihood_chart", width="stretch")
    st.metric("log P(Y | X, θ) = Σᵢ log P(yᵢ | xᵢ, θ)", fmt(point_ll.sum(), 2),
              help="Bigger markers are points this network finds surprising "
                   "(low log P(yᵢ | xᵢ, θ)).")
with c_prior:
    st.markdown(f"**Prior** P(θ) = N(0, {prior_std:g}²) on each of the d = {num_params:,} "
                "weights and biases: small values around zero.")
    theta = np.asarray(view.theta)
    st.plotly_chart(figs.prior_weights_figure(theta, float(prior_std)), key="ch2_prior_chart",
                    width="stretch")
    st.metric("log P(θ) for this network", f"{float(view.log_prior):.1f}")

# ------------------------------------------------------------- 2. prior predictive
st.header("2 · Functions drawn from the prior")
st.markdown(
    "Before seeing any data, the prior already says which functions are plausible. Draw θ from "
    "N(0, σ²) and plot what each network computes. A small σ gives flat, timid functions; a "
    "large σ gives steep, confident ones — this is what \"small values around zero\" means."
)
num_draws = st.slider("Number of networks to draw", 1, MAX_DRAWS, 5, key="ch2_num_draws")
x_line = np.linspace(-3.0, 3.0, 200, dtype=np.float32)
logits_1d = draw_fn(jax.random.fold_in(key, 1), pp.layer_sizes(1, hidden, 2), prior_std,
                    jnp.asarray(x_line[:, None]), MAX_DRAWS, activation)
st.plotly_chart(figs.function_draws_figure(x_line, np.asarray(logits_1d)[:num_draws, :, 0]),
                key="ch2_functions_chart", width="stretch")
st.markdown("The same prior on the plane (two classes): each panel is one network's "
            "P(class 1 | x), the black line its decision boundary.")
logits_2d = draw_fn(jax.random.fold_in(key, 2), pp.layer_sizes(2, hidden, 2), prior_std,
                    jnp.asarray(plane), NUM_BOUNDARY_DRAWS, activation)
boundary_probs = np.asarray(jax.nn.sigmoid(logits_2d))[..., 0].reshape(-1, PLANE_RES, PLANE_RES)
st.plotly_chart(figs.boundary_draws_figure(axis, boundary_probs), key="ch2_boundaries_chart",
                width="stretch")

# -------------------------------------------------------- 3. intractable evidence
st.header("3 · Why the evidence is intractable")
st.markdown("Bayes' rule needs the normaliser, the evidence")
st.latex(r"P(D) = \int P(Y \mid X, \theta)\, P(\theta)\, d\theta ,")
st.markdown(
    f"an integral over all d = {num_params:,} parameters of the network above. The obvious way "
    "to compute an integral is a grid: G points along each axis, so Gᵈ evaluations of the "
    "likelihood."
)
g_col, f_col = st.columns([1, 2])
with g_col:
    points_per_axis = st.select_slider("Grid points per axis G", GRID_POINTS, 10,
                                       key="ch2_points_per_axis")
    cost = pp.grid_cost(num_params, int(points_per_axis))
    st.metric("Parameters d", f"{num_params:,}")
    st.metric("Grid points Gᵈ", pp.format_power_of_ten(cost.log10_grid_points))
    st.metric("Atoms in the universe", "≈ 10⁸⁰")
    years = pp.format_power_of_ten(cost.log10_years)
    st.markdown(f"At 10⁹ likelihood evaluations a second this takes **{years} years** "
                f"(the universe is about 1.4 × 10¹⁰ years old)."
                if cost.log10_years > 0 else
                f"At 10⁹ likelihood evaluations a second this takes "
                f"{10 ** cost.log10_years * pp.SECONDS_PER_YEAR:.2g} s.")
with f_col:
    st.plotly_chart(figs.intractability_figure(num_params, int(points_per_axis),
                                               pp.LOG10_ATOMS_IN_UNIVERSE),
                    key="ch2_intractability_chart", width="stretch")

st.subheader("…but for d = 2 the same integral is easy")
rows = []
for g in (5, 10, 20, 50, 100, 200):
    log_evidence, seconds = two_parameter_evidence(g)
    rows.append(f"| {g} × {g} = {g * g:,} | {log_evidence:.8f} | {seconds * 1000:.1f} ms |")
st.markdown(
    "Logistic regression on 1-D data, y ~ Bernoulli(σ(w·x + b)), has two parameters. Here is "
    "its log evidence on ever finer grids over [−7.5, 7.5]² (prior σ = 1.5, 40 points): by "
    "G = 100 it has stopped changing, after only 10⁴ likelihood evaluations.\n\n"
    "| grid | log P(D) | time |\n|---|---|---|\n" + "\n".join(rows)
)
st.markdown("Chapter 3 uses exactly this to put the exact posterior next to its variational "
            "approximation and to compute every term of the ELBO: "
            "[→ 3 · Variational inference](variational-inference)")
