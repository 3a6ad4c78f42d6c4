"""The curve a post-training fit draws (`methods.base.Curve`; Laplace: log P(D | prior σ) at the
MAP network over prior σ, on a log axis), with the value the fit chose and the one training
used."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from bnnlab.methods.base import Curve

CURVE_COLOR = "#4e79a7"
BEST_COLOR = "#e15759"
TRAINED_COLOR = "#9c9c9c"


def fit_curve(curve: Curve, trained: float | None = None, height: int = 300) -> go.Figure:
    """`curve.x` increasing (log axis), `curve.y` -> the curve, a marker at `curve.best` and a
    dotted line at `trained` (the value training used)."""
    x = np.asarray(curve.x, np.float64)
    y = np.asarray(curve.y, np.float64)
    best = float(curve.best)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=curve.y_label.split(" (")[0],
                             line={"color": CURVE_COLOR, "width": 2},
                             hovertemplate=f"{curve.x_label} %{{x:.3g}}<br>{curve.y_label} "
                                           "%{y:.1f}<extra></extra>"))
    best_y = float(np.interp(np.log(best), np.log(x), y))
    fig.add_trace(go.Scatter(x=[best], y=[best_y], mode="markers",
                             name=f"best {curve.x_label.split()[-1]} = {best:.3g}",
                             marker={"color": BEST_COLOR, "size": 10}))
    if trained is not None:
        fig.add_vline(x=float(trained), line={"color": TRAINED_COLOR, "dash": "dot"},
                      annotation_text=f"trained with {curve.x_label} = {trained:g}",
                      annotation_position="bottom right", annotation_font_size=11)
    # the top 400 units: far below the maximum the curve plunges by 10⁵ and would flatten it
    top = float(np.max(y))
    span = min(max(top - float(np.min(y)), 1.0), 400.0)
    title = curve.title + (f"<br><sup>{curve.subtitle}</sup>" if curve.subtitle else "")
    fig.update_layout(
        height=height, margin={"l": 60, "r": 10, "t": 50, "b": 40},
        title={"text": title, "font": {"size": 14}, "x": 0.0, "xanchor": "left"},
        xaxis={"type": "log", "title": curve.x_label, "range": [np.log10(x[0]), np.log10(x[-1])]},
        yaxis={"title": curve.y_label, "range": [top - span, top + 0.05 * span]},
        legend={"orientation": "h", "y": -0.25, "x": 0.0}, plot_bgcolor="white",
        showlegend=True)
    return fig
