"""The Laplace evidence curve: log P(D | prior σ) at the MAP network, over prior σ (log axis),
with its maximiser (the σ the playground's Laplace predictive uses) and the σ MAP trained with."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

CURVE_COLOR = "#4e79a7"
BEST_COLOR = "#e15759"
TRAINED_COLOR = "#9c9c9c"


def evidence_curve(prior_std: np.ndarray, log_evidence: np.ndarray, best_prior_std: float,
                   trained_prior_std: float | None = None, height: int = 300) -> go.Figure:
    """`prior_std: float[g]` increasing, `log_evidence: float[g]` (nats) -> the curve, a marker
    at `best_prior_std` and a dotted line at `trained_prior_std` (MAP's penalty)."""
    prior_std = np.asarray(prior_std, np.float64)
    log_evidence = np.asarray(log_evidence, np.float64)
    best = float(best_prior_std)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=prior_std, y=log_evidence, mode="lines", name="log evidence",
                             line={"color": CURVE_COLOR, "width": 2},
                             hovertemplate="prior σ %{x:.3g}<br>log P(D | σ) %{y:.1f}"
                                           "<extra></extra>"))
    best_y = float(np.interp(np.log(best), np.log(prior_std), log_evidence))
    fig.add_trace(go.Scatter(x=[best], y=[best_y], mode="markers", name=f"best σ = {best:.3g}",
                             marker={"color": BEST_COLOR, "size": 10}))
    if trained_prior_std is not None:
        fig.add_vline(x=float(trained_prior_std), line={"color": TRAINED_COLOR, "dash": "dot"},
                      annotation_text=f"MAP trained with σ = {trained_prior_std:g}",
                      annotation_position="bottom right", annotation_font_size=11)
    # the top 400 nats: far below the maximum the curve plunges by 10⁵ and would flatten it
    top = float(np.max(log_evidence))
    span = min(max(top - float(np.min(log_evidence)), 1.0), 400.0)
    fig.update_layout(
        height=height, margin={"l": 60, "r": 10, "t": 50, "b": 40},
        title={"text": "Laplace evidence over prior σ<br><sup>log P(D | σ) at the MAP network; "
                       "the maximiser is the prior the predictive uses</sup>",
               "font": {"size": 14}, "x": 0.0, "xanchor": "left"},
        xaxis={"type": "log", "title": "prior σ",
               "range": [np.log10(prior_std[0]), np.log10(prior_std[-1])]},
        yaxis={"title": "log evidence (nats)",
               "range": [top - span, top + 0.05 * span]},
        legend={"orientation": "h", "y": -0.25, "x": 0.0}, plot_bgcolor="white",
        showlegend=True)
    return fig
