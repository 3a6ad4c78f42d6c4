"""Plotly figures for the comparison page: arrays in, `go.Figure` out."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bnnlab import predict

CLASS_COLOURS = ("#f28e2b", "#4e79a7")  # class 0 orange, class 1 blue (as the playground)


def uncertainty_maps(
    xs: np.ndarray,
    ys: np.ndarray,
    grids: Mapping[str, predict.Predictive],
    titles: Mapping[str, str],
    kind: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    gap: Sequence[float] | None = None,
    height: int = 340,
) -> go.Figure:
    """Small multiples: one heatmap of `kind` uncertainty per method on one shared colour scale
    [0, ln 2] nats, the p = 0.5 boundary of the mean predictive, and the training points.

    xs: float32[nx], ys: float32[ny]; each grid field float32[ny, nx]; x_train float32[n, 2];
    `gap` = (x0, x1, y0, y1) outlines the removed band of the gap preset.
    """
    names = list(grids)
    fig = make_subplots(rows=1, cols=max(len(names), 1), shared_yaxes=True,
                        horizontal_spacing=0.015,
                        subplot_titles=[titles.get(n, n) for n in names])
    for col, name in enumerate(names, start=1):
        pred = grids[name]
        fig.add_trace(go.Heatmap(
            x=xs, y=ys, z=np.round(getattr(pred, kind), 4), coloraxis="coloraxis",
            hovertemplate=f"{titles.get(name, name)}<br>x=%{{x:.2f}}, y=%{{y:.2f}}<br>"
                          f"{kind} %{{z:.3f}} nats<extra></extra>"), row=1, col=col)
        fig.add_trace(go.Contour(
            x=xs, y=ys, z=np.round(pred.mean, 4), showscale=False, hoverinfo="skip",
            contours={"start": 0.5, "end": 0.5, "size": 1, "coloring": "none"},
            line={"color": "white", "width": 2}), row=1, col=col)
        for label in (0, 1):
            pts = x_train[y_train == label]
            fig.add_trace(go.Scattergl(
                x=pts[:, 0], y=pts[:, 1], mode="markers", hoverinfo="skip", showlegend=False,
                marker={"size": 4, "color": CLASS_COLOURS[label],
                        "line": {"color": "white", "width": 0.5}}), row=1, col=col)
        if gap is not None:
            x0, x1, y0, y1 = gap
            fig.add_shape(type="rect", x0=x0, x1=x1, y0=y0, y1=y1, row=1, col=col,
                          line={"color": "#e15759", "width": 1.5, "dash": "dot"})
        fig.update_xaxes(range=[float(xs[0]), float(xs[-1])], showticklabels=False,
                         row=1, col=col)
        fig.update_yaxes(range=[float(ys[0]), float(ys[-1])], showticklabels=col == 1,
                         scaleanchor=f"x{col if col > 1 else ''}", row=1, col=col)
    fig.update_layout(
        height=height, margin={"l": 30, "r": 10, "t": 40, "b": 10}, showlegend=False,
        coloraxis={"colorscale": "Viridis", "cmin": 0.0, "cmax": math.log(2),
                   "colorbar": {"title": {"text": "nats", "side": "right"}, "thickness": 12,
                                "tickvals": [0, 0.2, 0.4, 0.6, math.log(2)],
                                "ticktext": ["0", "0.2", "0.4", "0.6", "ln 2"]}},
        uirevision="compare",
    )
    return fig


def distance_bars(labels: Sequence[str], whole: Sequence[float],
                  gap: Sequence[float] | None = None) -> go.Figure:
    """Bars of mean |Δ P(y=1)| from HMC's predictive per method (over the map, and in the gap)."""
    fig = go.Figure(go.Bar(x=list(labels), y=list(whole), name="whole map",
                           marker_color="#4e79a7"))
    if gap is not None:
        fig.add_trace(go.Bar(x=list(labels), y=list(gap), name="in the gap",
                             marker_color="#e15759"))
    fig.update_layout(height=260, margin={"l": 40, "r": 10, "t": 40, "b": 30}, barmode="group",
                      title="Distance from HMC: mean |Δ P(y=1)|",
                      yaxis={"rangemode": "tozero"}, legend={"orientation": "h", "y": -0.2})
    return fig
