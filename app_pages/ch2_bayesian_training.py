"""Chapter 2 · The Bayesian view of training: data, likelihood and prior; functions drawn from
the prior; and why the evidence integral is out of reach for any real network.

UI only: the networks, their numbers and the sentences built from them come from
`bnnlab.lessons.prior`, the figures from `bnnlab.figures.prior`. Each numbered section is a
fragment: its own widgets rerun only it.
"""

from __future__ import annotations

from concurrent.futures import Future

import jax
import numpy as np
import streamlit as st

from bnnlab.core.text import fmt
from bnnlab.figures import prior as figs
from bnnlab.lessons import prior as pp
from ui.figure import figure

WIDTHS = (2, 4, 8, 16, 32, 64)
GRID_POINTS = (2, 3, 5, 10, 20, 50, 100, 1000)
MAX_POINTS = 200
NUM_BOUNDARY_DRAWS = 6
# One picture: 10 networks on a 60×60 plane, a line of 200 points and the data (padded to 200).
PICTURE = dict(num_draws=10, plane_extent=3.5, plane_res=60, line_points=200,
               max_points=MAX_POINTS)


@st.cache_data(show_spinner=False, max_entries=64)
def prior_picture(seed: int, hidden: tuple[int, ...], activation: str, num_classes: int,
                  prior_std: float, data_x: np.ndarray) -> pp.PriorPicture:
    return pp.draw_prior_picture(jax.random.key(seed), hidden, activation, num_classes,
                                 prior_std, data_x, **PICTURE)


@st.cache_resource(show_spinner=False)
def evidence_table() -> Future[list[tuple[int, float, float]]]:
    """The table, timed once per server process in the background while the page draws."""
    return pp.in_background(pp.evidence_on_grids)


evidence_table()  # starts timing now, in the background
st.title("2 · The Bayesian view of training")
st.markdown(
    "Ordinary training finds **one** set of weights θ. The Bayesian view keeps **all** of them, "
    "weighted by how plausible they are: the posterior P(θ | D) ∝ P(Y | X, θ) · P(θ). "
    "Three pieces make a Bayesian neural network: the data, the likelihood and the prior. "
    "Change them below."
)

st.subheader("The network and its prior")
a1, a2, a3, a4, a5, a6 = st.columns([1, 1.2, 1.6, 1, 1.4, 0.9])
depth = a1.slider("Hidden layers", 1, 3, 2, key="ch2_depth", persist_state="session")
width = a2.select_slider("Units per layer", WIDTHS, 16, key="ch2_width",
                         persist_state="session")
activation = a3.radio("Activation", pp.ACTIVATIONS, key="ch2_activation",
                      persist_state="session", horizontal=True)
num_classes = a4.radio("Classes", (2, 3), key="ch2_num_classes", persist_state="session",
                       horizontal=True)
prior_std = a5.slider("Prior σ: θ ~ N(0, σ²)", 0.1, 5.0, 1.0, 0.1, key="ch2_prior_std",
                      persist_state="session")
seed = int(a6.number_input("Seed", 0, 9999, 0, 1, key="ch2_seed", persist_state="session"))
hidden = (int(width),) * int(depth)
num_params = pp.count_parameters(pp.layer_sizes(2, hidden, int(num_classes)))
with st.spinner("Compiling this network (once per architecture and server)…", show_time=True):
    prior_2d = prior_picture(seed, hidden, activation, 2, prior_std, np.zeros((0, 2), "f4"))


@st.fragment
def pieces_section(hidden: tuple[int, ...], activation: str, num_classes: int,
                   prior_std: float, seed: int, num_params: int) -> None:
    st.header("1 · The pieces of a BNN")
    c_data, c_lik, c_prior = st.columns(3)
    with c_data:
        st.markdown("**Data** D = (X, Y): points x ∈ ℝ² with class labels y.")
        d1, d2 = st.columns(2)
        num_points = d1.slider("Points", 10, MAX_POINTS, 60, 10, key="ch2_num_points",
                               persist_state="session")
        spread = d2.slider("Spread", 0.2, 1.5, 0.6, 0.1, key="ch2_spread", persist_state="session")
        data = pp.make_blobs(int(num_points), int(num_classes), float(spread), seed)
        figure(figs.dataset_figure(data.x, data.y), key="ch2_data_chart")
    with c_lik:
        st.markdown(f"**Likelihood** P(Y | X, θ): {pp.likelihood_name(num_classes)}, a "
                    "product over the points.")
        draw = st.slider("Which network θ (a draw from the prior)", 1, NUM_BOUNDARY_DRAWS, 1,
                         key="ch2_draw", persist_state="session")
        with st.spinner("Compiling this network (once per architecture and server)…",
                        show_time=True):
            picture = prior_picture(seed, hidden, activation, int(num_classes), prior_std,
                                    data.x)
        view = pp.view_drawn_network(picture, draw - 1, data.y, prior_std)
        figure(figs.likelihood_figure(picture.axis, view.plane_probs, data.x, data.y,
                                      view.point_log_lik), key="ch2_likelihood_chart")
        st.metric("log P(Y | X, θ) = Σᵢ log P(yᵢ | xᵢ, θ)", fmt(view.point_log_lik.sum(), 2),
                  help="Bigger markers are points this network finds surprising "
                       "(low log P(yᵢ | xᵢ, θ)).")
    with c_prior:
        st.markdown(f"**Prior** P(θ) = N(0, {prior_std:g}²) on each of the d = {num_params:,} "
                    "weights and biases: small values around zero.")
        figure(figs.prior_weights_figure(view.theta, float(prior_std)), key="ch2_prior_chart")
        st.metric("log P(θ) for this network", f"{view.log_prior:.1f}")


@st.fragment
def prior_functions_section(prior_2d: pp.PriorPicture) -> None:
    st.header("2 · Functions drawn from the prior")
    st.markdown(
        "Before seeing any data, the prior already says which functions are plausible. Draw "
        "θ from N(0, σ²) and plot what each network computes, here along the line x₂ = 0. A "
        "small σ gives flat, timid functions; a large σ gives steep, confident ones: this is "
        "what \"small values around zero\" means."
    )
    num_draws = st.slider("Number of networks to draw", 1, PICTURE["num_draws"], 5,
                          key="ch2_num_draws", persist_state="session")
    figure(figs.function_draws_figure(
        prior_2d.line_x, prior_2d.line_logits[:num_draws, :, 0]), key="ch2_functions_chart")
    st.markdown("The same networks on the whole plane (two classes): each panel is one "
                "network's P(class 1 | x), the black line its decision boundary.")
    figure(figs.boundary_draws_figure(
        prior_2d.axis, pp.boundary_probabilities(prior_2d, NUM_BOUNDARY_DRAWS)),
        key="ch2_boundaries_chart")


@st.fragment
def evidence_section(num_params: int) -> None:
    st.header("3 · Why the evidence is intractable")
    st.markdown("Bayes' rule needs the normaliser, the evidence")
    st.latex(r"P(D) = \int P(Y \mid X, \theta)\, P(\theta)\, d\theta ,")
    st.markdown(
        f"an integral over all d = {num_params:,} parameters of the network above. The obvious "
        "way to compute an integral is a grid: G points along each axis, so Gᵈ evaluations of "
        "the likelihood."
    )
    g_col, f_col = st.columns([1, 2])
    with g_col:
        points_per_axis = int(st.select_slider("Grid points per axis G", GRID_POINTS, 10,
                                               key="ch2_points_per_axis",
                                               persist_state="session"))
        cost = pp.grid_cost(num_params, points_per_axis)
        st.metric("Parameters d", f"{num_params:,}")
        st.metric("Grid points Gᵈ", pp.format_power_of_ten(cost.log10_grid_points))
        st.metric("Atoms in the universe", "≈ 10⁸⁰")
        st.markdown(pp.grid_time_sentence(cost))
    with f_col:
        figure(figs.intractability_figure(num_params, points_per_axis,
                                          pp.LOG10_ATOMS_IN_UNIVERSE),
               key="ch2_intractability_chart")


pieces_section(hidden, activation, int(num_classes), prior_std, seed, num_params)
prior_functions_section(prior_2d)
evidence_section(num_params)

st.subheader("…but for d = 2 the same integral is easy")
with st.spinner("Timing the grid integrals on this server…", show_time=True):
    try:
        table = evidence_table().result()
    except Exception as err:  # noqa: BLE001 - said in the page; the next visit retries
        evidence_table.clear()
        table = []
        st.warning(f"The timing table could not be computed here ({type(err).__name__}).")
st.markdown(pp.evidence_table_markdown(table))
st.markdown("Chapter 3 uses exactly this to put the exact posterior next to its variational "
            "approximation and to compute every term of the ELBO: "
            "[→ 3 · Variational inference](variational-inference)")
# The other number of classes compiles in the background, ready when the learner switches.
pp.warm_up_in_background(hidden, activation, 3 if num_classes == 2 else 2, **PICTURE)
