"""Plotly figures for the live playground: arrays in, `go.Figure` out. (The live maps are
canvases: `bnnlab.session.Run.frame` and `ui/live_chart.js`.)"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from bnnlab.core import palette


def probe_histogram(probs: np.ndarray, x: float, y: float) -> go.Figure:
    """Histogram of P(y=1) at (x, y) across posterior draws `probs: float32[S]`; for K
    classes (`probs: float32[S, K]`) one histogram of P(y=k) per class, in the class colours."""
    probs = np.asarray(probs)
    if probs.ndim == 2:
        return _class_probe_histogram(probs, x, y)
    fig = go.Figure(go.Histogram(x=probs, xbins={"start": 0, "end": 1.0001, "size": 0.05},
                                 marker_color="#4e79a7"))
    fig.update_layout(height=220, margin={"l": 40, "r": 10, "t": 40, "b": 30},
                      title=f"P(y=1) across {len(probs)} posterior samples at "
                            f"({x:.2f}, {y:.2f}): mean {probs.mean():.2f}, "
                            f"std {probs.std():.2f}",
                      xaxis={"range": [0, 1], "title": "P(y=1)"}, bargap=0.05)
    return fig


def _class_probe_histogram(probs: np.ndarray, x: float, y: float) -> go.Figure:
    fig = go.Figure()
    for k in range(probs.shape[1]):
        fig.add_histogram(x=probs[:, k], xbins={"start": 0, "end": 1.0001, "size": 0.05},
                          marker_color=palette.class_colour(k), opacity=0.65,
                          name=f"class {k}: mean {probs[:, k].mean():.2f}")
    fig.update_layout(height=240, margin={"l": 40, "r": 10, "t": 40, "b": 30}, barmode="overlay",
                      title=f"P(y=k) across {len(probs)} posterior samples at ({x:.2f}, {y:.2f})",
                      xaxis={"range": [0, 1], "title": "P(y=k)"}, bargap=0.05,
                      legend={"orientation": "h", "y": -0.35})
    return fig
