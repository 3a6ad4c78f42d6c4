"""Chapter 3's words: the page's prose and captions, and the derivation and headline numbers
filled in with the learner's numbers (markdown and LaTeX).

Everything is computed elsewhere in `bnnlab.lessons.exact`; here it is only written out, so the
page reads like a description of its UI and every sentence that depends on the numbers can be
tested without it.
"""

from __future__ import annotations

import numpy as np

from bnnlab.core.text import fmt
from bnnlab.lessons.exact.approximations import APPROXIMATIONS, METHOD_LABELS
from bnnlab.lessons.exact.data import CLASSIFICATION, MAX_POINTS, X_LIMIT, Y_LIMIT, ToyData
from bnnlab.lessons.exact.lab import HISTORY_TERMS, MAX_STEPS, FitRun
from bnnlab.lessons.exact.scoring import far_points

INTRO = (
    "With two parameters the posterior integral is no longer intractable: quadrature gives "
    "the **exact** posterior P(θ | D) and the **exact** log evidence log P(D). That lets us "
    "watch variational inference do its job: a Gaussian Q is fitted by gradient ascent on "
    "the ELBO, and every term of **log P(D) = ELBO + KL(Q ‖ P(θ | D))** is computed on its "
    "own, then checked against the others."
)
METHODS_INTRO = (
    "Each row approximates P_T(θ | D) ∝ (P(Y|X,θ)·P(θ))^{1/T} and is scored against it by "
    "quadrature. Reverse KL (VI) seeks a mode; forward KL (moment matching) covers the mass; "
    "Laplace is a Gaussian at the MAP; HMC with the No-U-Turn sampler draws samples, each "
    "trajectory doubling until its ends turn back towards each other. A Q locked onto one "
    "of the one-hidden-unit model's two modes loses nothing in the predictive: θ and −θ "
    "predict the same (tanh is odd), so one mode predicts what both do; in a wider network, "
    "swapping hidden units (with their weights) makes copies of a mode that also predict the "
    "same. The temperature T "
    "(Wenzel et al. 2020; Izmailov et al. 2021 for the counterpoint) sharpens the posterior "
    "for T < 1 and flattens it for T > 1, and with it the predictive far from the data: on "
    "this page's default data the exact far-from-data entropy rises with T on all three "
    "models (logistic regression: 0.003, 0.008 and 0.058 nats at T = 0.25, 1 and 4). The "
    "live fit above stays at T = 1."
)
ESTIMATOR_LABELS: dict[str, str] = {  # keys: `fitting.ESTIMATORS`
    "gauss_hermite": "Gauss–Hermite quadrature (deterministic)",
    "monte_carlo": "Monte Carlo: reparameterised samples",
}
SAMPLES_LABELS: dict[str, str] = {  # what `num_samples` counts, per estimator
    "gauss_hermite": "Nodes per axis",
    "monte_carlo": "Samples per step",
}


def points_help(model: str) -> str:
    """What `parse_points` accepts for this model, in a sentence for the page."""
    targets = " and y ∈ {0, 1}." if model in CLASSIFICATION else f" and |y| ≤ {Y_LIMIT:g}."
    return (f"One point a line: `x, y` with |x| ≤ {X_LIMIT:g}" + targets
            + f" At most {MAX_POINTS} points.")


def fit_caption(estimator: str, num_samples: int) -> str:
    """The caption under the fitter's settings: how the gradient's E_Q[·] is estimated."""
    rule = (f"a {num_samples}×{num_samples} Gauss–Hermite rule on Q (deterministic)"
            if estimator == "gauss_hermite" else
            f"{num_samples} reparameterised draws θ = μ + Lε (noisy)")
    return ("The gradient of the ELBO uses " + rule
            + " (JAX, float32, jitted). A full-covariance Q fits as mean-field until that "
            "settles, then frees its correlation, so it never ends below the mean-field "
            "optimum. The numbers shown are recomputed in float64 after every frame, each by "
            "its own quadrature.")


def metrics(run: FitRun) -> list[tuple[str, str, str | None]]:
    """The live fit's headline numbers as (label, value, help) for `st.metric`."""
    t = {name: run.latest(name) for name in HISTORY_TERMS}
    residual = t["elbo"] + t["kl_posterior"] - t["log_evidence"]
    return [
        ("step", f"{run.step}", f"A run stops at {MAX_STEPS} steps."),
        ("log P(D) (quadrature)", f"{t['log_evidence']:.4f}", None),
        ("ELBO", f"{t['elbo']:.4f}", None),
        ("KL(Q ‖ P(θ|D))", fmt(t["kl_posterior"], 4), None),
        ("ELBO + KL − log P(D)", f"{residual:.1e}",
         "Each term computed by its own quadrature: a rounding-sized number here is the "
         "identity holding, a larger one a quadrature error showing."),
    ]


def derivation(run: FitRun, grid_nodes: tuple[int, int]) -> list[tuple[str, str]]:
    """The derivation of log P(D) = ELBO + KL with the run's latest numbers, as
    ("markdown" | "latex", text) items for the page to render in order."""
    t = {name: run.latest(name) for name in run.terms}
    gap = t["elbo"] + t["kl_posterior"] - t["log_evidence"]
    kl_rule = ("a sum over the posterior grid" if t["on_grid"] else
               "Q's own midpoint rule (Q reaches beyond the posterior grid)")
    return [
        ("markdown", f"At step {run.step}, with Q = N(μ, Σ), "
                     f"μ = ({fmt(run.q.mean[0])}, {fmt(run.q.mean[1])}):"),
        ("markdown", f"**1.** The evidence is an integral over θ; a {grid_nodes[0]}×"
                     f"{grid_nodes[1]} product rule evaluates it:"),
        ("latex", r"\log P(D) = \log \int P(Y\mid X,\theta)\,P(\theta)\,d\theta = "
                  f"{t['log_evidence']:.5f}"),
        ("markdown", "**2.** Bayes' rule, P(θ|D) = P(D, θ) / P(D), holds at every θ, so for any "
                     "density Q, taking E_Q of log P(D) = log P(D, θ) − log P(θ|D) and adding "
                     "and subtracting log Q(θ):"),
        ("latex", r"\log P(D) = \underbrace{\mathbb{E}_Q\!\left[\log\frac{P(D,\theta)}"
                  r"{Q(\theta)}\right]}_{\text{ELBO}} + \underbrace{\mathbb{E}_Q\!\left[\log"
                  r"\frac{Q(\theta)}{P(\theta\mid D)}\right]}"
                  r"_{\mathrm{KL}(Q\,\|\,P(\theta\mid D))}"),
        ("markdown", "**3.** The ELBO splits into a data-fit term and a prior term, neither of "
                     "which needs P(D):"),
        ("latex", r"\text{ELBO} = \mathbb{E}_Q[\log P(Y\mid X,\theta)] - \mathrm{KL}(Q\,\|\,"
                  rf"P(\theta)) = {fmt(t['expected_log_likelihood'], 5)} - "
                  rf"{fmt(t['kl_prior'], 5)} = {fmt(t['elbo'], 5)}"),
        ("markdown", "**4.** The gap is a KL divergence, so it is ≥ 0 and the ELBO is a lower "
                     "bound:"),
        ("latex", rf"{fmt(t['elbo'], 5)} + {fmt(t['kl_posterior'], 5)} = "
                  rf"{fmt(t['elbo'] + t['kl_posterior'], 5)} \;=\; \log P(D) = "
                  f"{t['log_evidence']:.5f}"),
        ("markdown", "How each number was computed, independently of the others: "
                     "E_Q[log P(Y|X,θ)] by a trapezoid rule in Q's own coordinates "
                     f"({t['num_nodes']:.0f}² nodes, refined until two levels agree); "
                     "KL(Q‖P(θ)) in closed form; KL(Q‖P(θ|D)) = Σ Q(θ) log(Q(θ)/P(θ|D)) w by "
                     f"its definition, on {kl_rule}; log P(D) on the posterior grid. They "
                     f"agree to {abs(gap):.1e}."),
        ("markdown", "**5.** log P(D) does not depend on Q. So **raising the ELBO is the same as "
                     "lowering KL(Q ‖ P(θ|D))** — an optimisation we can do with gradients, "
                     "without ever computing the intractable integral. This KL is the *reverse* "
                     "KL: it charges Q for putting mass where the posterior has little, so on a "
                     "two-mode posterior a Gaussian Q picks one mode rather than straddling "
                     "both (compare the forward-KL row below)."),
    ]


SLOT_BUSY = ("The server is busy with other learners' work: this method's result appears when "
             "an accelerator slot frees.")


def running_text(method: str) -> str:
    """The spinner's text while `method` runs in the script thread."""
    return f"Running {METHOD_LABELS[method]} (compiled once per server)…"


def view_caption(param_names: tuple[str, str], box: tuple[float, float, float, float],
                 method: str) -> str:
    """The caption under the posterior view: the axes' ranges and the method's legend."""
    return (f"Blue: the exact P_T(θ | D). Across: {param_names[0]} from {box[0]:.1f} to "
            f"{box[1]:.1f}; up: {param_names[1]} from {box[2]:.1f} to {box[3]:.1f}."
            + APPROXIMATIONS[method].view_legend)


def table_caption(data: ToyData, classification: bool) -> str:
    """The caption under the table: what each column means, with the far points' x."""
    far = far_points(data)[1]
    return ("KLs by quadrature (— for samples); pred. at x*: the predictive at x*, "
            "error: its difference from the exact one; the evidence is each method's "
            "estimate of log ∫ P_T(D, θ) dθ (an ELBO is a lower bound); far entropy: "
            f"the predictive's entropy in nats at x = ±{far:.1f}, averaged"
            + (" (Gaussian: ½ log 2πe(σ_y² + Var f))" if not classification else
               f" (a coin's is at most ln 2 = {np.log(2):.3f})")
            + "; wall times include compiling on a server's first run.")
