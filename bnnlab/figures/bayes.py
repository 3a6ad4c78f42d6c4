"""Plotly figures for chapter 1 (Bayes' theorem): numbers in, `go.Figure` out.

Nothing here computes probabilities; the numbers come from `bnnlab.lessons.bayes`. Non-finite
values (a posterior that does not exist, an ELBO of −∞) become gaps in the lines.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike

from bnnlab.lessons.bayes import ElboTerms, NaturalFrequencies

BUG_FREE = "#2e7d32"
BUGGY = "#c62828"
BUG_FREE_FAIL = "#a5d6a7"
BUGGY_FAIL = "#ef9a9a"
PRIOR = "#78909c"
POSTERIOR = "#1565c0"
KL_FILL = "rgba(255, 152, 0, 0.35)"
KL_LINE = "#ef6c00"


def _gaps(values: ArrayLike) -> list[float | None]:
    """float64[k] → list with None where not finite, which Plotly draws as a gap."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=np.float64)]


def _rule(fig: go.Figure, line: dict, *, y: float | None = None, x: float | None = None,
          text: str = "", text_at: str = "top left") -> None:
    """A horizontal (y) or vertical (x) line across the plot, with an optional label.

    The same picture as `fig.add_hline` / `add_vline`, whose axis-spanning machinery costs far
    more than a plain shape, on every slider step.
    """
    horizontal = y is not None
    fig.add_shape(type="line", xref="paper" if horizontal else "x",
                  yref="y" if horizontal else "paper", x0=0 if horizontal else x,
                  x1=1 if horizontal else x, y0=y if horizontal else 0,
                  y1=y if horizontal else 1, line=line)
    if text:
        vertical, side = text_at.split()
        fig.add_annotation(xref="paper", yref="y", x=0 if side == "left" else 1, y=y,
                           text=text, showarrow=False, xanchor=side,
                           yanchor="bottom" if vertical == "top" else "top")


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 15}},
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        # Below the x-axis title, not on it.
        legend={"orientation": "h", "yanchor": "top", "y": -0.3, "x": 0.0},
    )
    return fig


def prior_posterior_bars(prior: float, posterior: float) -> go.Figure:
    """Two bars, P(F) before and P(F|T) after the tests pass, on a fixed [0, 1] axis."""
    fig = go.Figure(
        go.Bar(
            x=["prior P(F)", "posterior P(F | T)"],
            y=[prior, posterior],
            marker_color=[PRIOR, POSTERIOR],
            text=[f"{prior:.4f}", f"{posterior:.4f}"],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{y:.4f}<extra></extra>",
        )
    )
    fig.update_yaxes(range=[0, 1.12], title="probability of bug-free", tickformat=".1f")
    return _layout(fig, "Belief in bug-free code, before and after", 330)


def posterior_curve(
    priors: ArrayLike, posteriors: ArrayLike, prior: float, posterior: float | None
) -> go.Figure:
    """Posterior as a function of the prior, the no-update diagonal, the current point.

    Args:
      priors: float64[m] grid of P(F).
      posteriors: float64[m] P(F|T) on that grid; NaN where the evidence is impossible.
      prior: the current P(F).
      posterior: the current P(F|T), or None if it does not exist.
    """
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", name="no update: posterior = prior",
            line={"color": PRIOR, "dash": "dash", "width": 1.5}, hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=np.asarray(priors, dtype=np.float64), y=_gaps(posteriors), mode="lines",
            name="posterior P(F | T)", line={"color": POSTERIOR, "width": 3},
            hovertemplate="prior %{x:.2f} → posterior %{y:.4f}<extra></extra>",
        )
    )
    if posterior is not None:
        fig.add_trace(
            go.Scatter(
                x=[prior, prior, 0], y=[0, posterior, posterior], mode="lines",
                line={"color": POSTERIOR, "dash": "dot", "width": 1}, hoverinfo="skip",
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=[prior], y=[posterior], mode="markers", name="your prior",
                marker={"color": BUGGY, "size": 13, "line": {"color": "white", "width": 2}},
                hovertemplate="prior %{x:.2f} → posterior %{y:.4f}<extra></extra>",
            )
        )
    fig.update_xaxes(range=[0, 1], title="prior P(F)", constrain="domain")
    fig.update_yaxes(range=[0, 1.02], title="posterior P(F | T)", scaleanchor="x",
                     scaleratio=1)
    return _layout(fig, "Posterior against prior", 430)


def natural_frequencies_waffle(freqs: NaturalFrequencies, columns: int = 40) -> go.Figure:
    """One square per program, filled column by column: passing programs form the left block.

    Args:
      freqs: whole-number counts from `bnnlab.lessons.bayes.natural_frequencies`.
      columns: squares per row; the population must be a multiple of it.
    """
    population = freqs.population
    if population % columns:
        raise ValueError(f"population {population} is not a multiple of {columns} columns")
    rows = population // columns
    groups = [
        (freqs.bug_free_pass, "bug-free, tests pass", BUG_FREE),
        (freqs.buggy_pass, "buggy, tests pass", BUGGY),
        (freqs.buggy_fail, "buggy, tests fail", BUGGY_FAIL),
        (freqs.bug_free_fail, "bug-free, tests fail", BUG_FREE_FAIL),
    ]
    codes = np.repeat(np.arange(len(groups)), [count for count, _, _ in groups])
    # Column-major: cell k sits in column k // rows, row k % rows (counted from the top).
    grid = codes.reshape(columns, rows).T[::-1]
    labels = np.array([label for _, label, _ in groups], dtype=object)[grid]
    colorscale = []
    for index, (_, _, color) in enumerate(groups):
        colorscale += [[index / len(groups), color], [(index + 1) / len(groups), color]]
    fig = go.Figure(
        go.Heatmap(
            z=grid, zmin=0, zmax=len(groups), colorscale=colorscale, showscale=False,
            xgap=2, ygap=2, customdata=labels, hovertemplate="%{customdata}<extra></extra>",
        )
    )
    # Heatmaps have no legend entries; invisible squares give one with the counts.
    for count, label, color in groups:
        fig.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", name=f"{label}: {count}",
                marker={"color": color, "size": 12, "symbol": "square"},
            )
        )
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1)
    fig.update_layout(plot_bgcolor="rgba(0,0,0,0)")
    return _layout(fig, f"{population:,} programs like yours", 360)


def sequential_posteriors(
    num_passes: ArrayLike,
    after_passes: ArrayLike,
    after_passes_then_failure: ArrayLike,
    prior: float,
    selected: int,
) -> go.Figure:
    """Posterior after n passes in a row, and after those n passes plus one failure.

    Args:
      num_passes: int[k] run counts 0..N.
      after_passes: float64[k] P(F | n passes); NaN where impossible.
      after_passes_then_failure: float64[k] P(F | n passes, 1 failure); NaN where impossible.
      prior: P(F), drawn as a flat reference line.
      selected: the n the learner picked, marked on the curve.
    """
    n = np.asarray(num_passes)
    passes = np.asarray(after_passes, dtype=np.float64)
    fig = go.Figure()
    _rule(fig, {"color": PRIOR, "dash": "dash", "width": 1}, y=prior, text="prior",
          text_at="bottom right")
    fig.add_trace(
        go.Scatter(
            x=n, y=_gaps(passes), mode="lines+markers", name="n passes in a row",
            line={"color": POSTERIOR, "width": 3},
            hovertemplate="after %{x} passes: %{y:.4f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=n, y=_gaps(after_passes_then_failure), mode="lines+markers",
            name="n passes, then one failure", line={"color": BUGGY, "dash": "dot", "width": 2},
            marker={"size": 5},
            hovertemplate="after %{x} passes and a failure: %{y:.4f}<extra></extra>",
        )
    )
    index = int(np.searchsorted(n, selected))
    if index < len(n) and np.isfinite(passes[index]):
        fig.add_trace(
            go.Scatter(
                x=[selected], y=[passes[index]], mode="markers", name=f"n = {selected}",
                marker={"color": BUGGY, "size": 14, "line": {"color": "white", "width": 2}},
                hovertemplate="after %{x} passes: %{y:.4f}<extra></extra>",
            )
        )
    fig.update_xaxes(title="number of test runs that passed, n", dtick=2,
                     range=[-0.5, float(n.max()) + 0.5])
    fig.update_yaxes(title="P(F | evidence)", range=[-0.02, 1.05])
    return _layout(fig, "Evidence arriving over time", 400)


def elbo_decomposition(
    phis: ArrayLike,
    terms: ElboTerms,
    phi: float,
    current: ElboTerms,
    posterior: float,
    trajectory_phis: ArrayLike = (),
    trajectory_elbos: ArrayLike = (),
) -> go.Figure:
    """ELBO(φ) and the KL band above it, which together fill exactly up to log P(T).

    The top of the band is drawn from ELBO + KL(q‖posterior) as computed, not from
    log P(T), so the picture shows the identity rather than assuming it.

    Args:
      phis: float64[k] grid of q(F) = φ.
      terms: `ElboTerms` on that grid (float64[k] fields, ±∞ allowed).
      phi: the current φ, marked by a vertical line.
      current: `ElboTerms` at the current φ (float64[1] fields).
      posterior: P(F|T), where the ELBO peaks.
      trajectory_phis: float[t] φ visited by gradient ascent so far.
      trajectory_elbos: float[t] the ELBO at those φ.
    """
    x = np.asarray(phis, dtype=np.float64)
    elbo = np.asarray(terms.elbo, dtype=np.float64)
    finite = np.isfinite(elbo)
    # Off the support ELBO = −∞ and KL = +∞: leave a gap there rather than add them.
    total = np.where(finite, elbo, np.nan) + np.where(
        finite, np.asarray(terms.kl_to_posterior, dtype=np.float64), np.nan
    )
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x, y=_gaps(elbo), mode="lines", name="ELBO(φ)",
            line={"color": POSTERIOR, "width": 3},
            hovertemplate="φ = %{x:.3f}: ELBO %{y:.4f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x, y=_gaps(total), mode="lines", fill="tonexty",
            fillcolor=KL_FILL, name="ELBO + KL(q‖posterior)  (band = KL)",
            line={"color": KL_LINE, "width": 2},
            hovertemplate="φ = %{x:.3f}: ELBO + KL %{y:.6f}<extra></extra>",
        )
    )
    _rule(fig, {"color": "black", "dash": "dash", "width": 1}, y=terms.log_evidence,
          text=f"log P(T) = {terms.log_evidence:.4f}")
    _rule(fig, {"color": "black", "dash": "dot", "width": 1}, x=phi)
    current_elbo = float(np.asarray(current.elbo)[0])
    if np.isfinite(current_elbo):
        fig.add_trace(
            go.Scatter(
                x=[phi, phi], y=[current_elbo, terms.log_evidence], mode="lines+markers",
                name="your q: ELBO, then + KL", line={"color": KL_LINE, "width": 5},
                marker={"color": [POSTERIOR, KL_LINE], "size": 11},
                hovertemplate="%{y:.4f}<extra></extra>",
            )
        )
    t_phis = np.asarray(trajectory_phis, dtype=np.float64)
    if t_phis.size:
        fig.add_trace(
            go.Scatter(
                x=t_phis, y=_gaps(trajectory_elbos), mode="markers", name="gradient ascent",
                marker={"color": "black", "size": 6, "opacity": 0.6},
                hovertemplate="step: φ = %{x:.4f}, ELBO %{y:.4f}<extra></extra>",
            )
        )
    if finite.any():
        fig.add_trace(
            go.Scatter(
                x=[posterior], y=[float(np.max(elbo[finite]))], mode="markers",
                name=f"maximum at φ = P(F|T) = {posterior:.4f}",
                marker={"color": BUG_FREE, "size": 16, "symbol": "star"},
                hovertemplate="ELBO is largest at φ = %{x:.4f}<extra></extra>",
            )
        )
        low = float(np.min(elbo[finite]))
        span = max(terms.log_evidence - low, 1e-3)
        fig.update_yaxes(range=[low - 0.05 * span, terms.log_evidence + 0.15 * span])
    fig.update_xaxes(title="q(F) = φ", range=[-0.01, 1.01])
    fig.update_yaxes(title="nats")
    return _layout(fig, "ELBO(φ) + KL(q‖P(H|T)) = log P(T), for every φ", 440)


def elbo_waterfall(current: ElboTerms) -> go.Figure:
    """At one φ: E_q[log P(T|H)] − KL(q‖prior) = ELBO, then + KL(q‖posterior) = log P(T).

    Plotly adds the bars up itself (the "total" measures); the dashed line is log P(T)
    computed separately, so the last bar meeting it shows the identity.

    Args:
      current: `ElboTerms` at one φ (float64[1] fields, all finite).
    """
    expected = float(np.asarray(current.expected_log_likelihood)[0])
    kl_prior = float(np.asarray(current.kl_to_prior)[0])
    kl_post = float(np.asarray(current.kl_to_posterior)[0])
    fig = go.Figure(
        go.Waterfall(
            x=["E_q[log P(T|H)]", "− KL(q‖prior)", "= ELBO", "+ KL(q‖posterior)",
               "= log P(T)"],
            measure=["relative", "relative", "total", "relative", "total"],
            y=[expected, -kl_prior, 0.0, kl_post, 0.0],
            text=[f"{expected:.4f}", f"−{kl_prior:.4f}", f"{expected - kl_prior:.4f}",
                  f"+{kl_post:.4f}", f"{expected - kl_prior + kl_post:.4f}"],
            textposition="outside",
            cliponaxis=False,
            connector={"line": {"color": "#9e9e9e", "dash": "dot"}},
            decreasing={"marker": {"color": BUGGY_FAIL}},
            increasing={"marker": {"color": KL_LINE}},
            totals={"marker": {"color": POSTERIOR}},
            hoverinfo="skip",
        )
    )
    _rule(fig, {"color": "black", "dash": "dash", "width": 1}, y=current.log_evidence)
    low = min(0.0, expected, expected - kl_prior, current.log_evidence)
    fig.update_yaxes(title="nats", range=[low * 1.3 - 0.05, 0.1])
    return _layout(fig, "The bars add up", 440)
