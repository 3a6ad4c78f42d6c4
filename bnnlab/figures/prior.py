"""Chapter 2's figures: the pieces of a BNN, prior draws, and the cost of the evidence."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bnnlab.core.palette import CLASS_COLOURS, PROBABILITY_COLORSCALE

DRAW_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_MARGIN = dict(l=10, r=10, t=40, b=10)


def dataset_figure(x: np.ndarray, y: np.ndarray, title: str = "Data D = (X, Y)",
                   height: int = 340) -> go.Figure:
    """Scatter of x float[n, 2] coloured by class y int[n]."""
    fig = go.Figure()
    for k in np.unique(y):
        pts = x[y == k]
        fig.add_scatter(x=pts[:, 0], y=pts[:, 1], mode="markers", name=f"class {int(k)}",
                        marker=dict(color=CLASS_COLOURS[int(k) % len(CLASS_COLOURS)], size=8,
                                    line=dict(color="white", width=1)))
    fig.update_layout(title=title, height=height, margin=_MARGIN,
                      xaxis_title="x₁", yaxis_title="x₂",
                      legend=dict(orientation="h", y=-0.3, yanchor="top"))
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def likelihood_figure(axis: np.ndarray, probs: np.ndarray, x: np.ndarray, y: np.ndarray,
                      point_log_lik: np.ndarray, height: int = 340) -> go.Figure:
    """One network's P(class | x, θ) over the plane with the data on top.

    axis float[G] (both plane axes), probs float[G·G, K] row-major over (x₂, x₁) or
    float[G, G, K] (row = x₂), x float[n, 2], y int[n], point_log_lik float[n] (marker size
    grows with −log P(y_i | x_i, θ)).
    """
    probs = np.asarray(probs).reshape(len(axis), len(axis), -1)
    num_classes = probs.shape[-1]
    fig = go.Figure()
    if num_classes == 2:
        fig.add_heatmap(x=axis, y=axis, z=probs[..., 1], zmin=0, zmax=1,
                        colorscale=PROBABILITY_COLORSCALE,
                        colorbar=dict(title="P(class 1)", len=0.8), hoverinfo="skip")
    else:
        # Colour each cell by its most probable class, brightness by that probability.
        top = probs.argmax(-1)
        fig.add_heatmap(x=axis, y=axis, z=top, zmin=0, zmax=num_classes - 1, showscale=False,
                        colorscale=[[i / (num_classes - 1), CLASS_COLOURS[i]]
                                    for i in range(num_classes)], opacity=0.45,
                        hoverinfo="skip")
    surprise = -point_log_lik
    size = 6 + 10 * np.clip(surprise / max(float(surprise.max()), 1e-9), 0, 1)
    for k in range(num_classes):
        sel = y == k
        fig.add_scatter(x=x[sel, 0], y=x[sel, 1], mode="markers", name=f"class {k}",
                        marker=dict(color=CLASS_COLOURS[k], size=size[sel],
                                    line=dict(color="black", width=1)),
                        customdata=point_log_lik[sel],
                        hovertemplate="log P(y|x,θ) = %{customdata:.3f}<extra></extra>")
    fig.update_layout(title="One network θ: P(class | x, θ)", height=height,
                      margin=_MARGIN, xaxis_title="x₁", yaxis_title="x₂", showlegend=False)
    fig.update_xaxes(range=[axis[0], axis[-1]])
    fig.update_yaxes(range=[axis[0], axis[-1]], scaleanchor="x", scaleratio=1)
    return fig


def prior_weights_figure(theta: np.ndarray, prior_std: float, height: int = 340) -> go.Figure:
    """Histogram of one prior draw's weights theta float[d] against the density N(0, σ²)."""
    span = max(4.0 * prior_std, float(np.abs(theta).max()) * 1.05)
    grid = np.linspace(-span, span, 200)
    density = np.exp(-0.5 * (grid / prior_std) ** 2) / (prior_std * math.sqrt(2 * math.pi))
    fig = go.Figure()
    fig.add_histogram(x=theta, histnorm="probability density", name=f"θ ({theta.size} values)",
                      marker_color="#9ecae1", nbinsx=min(60, max(10, theta.size // 4)))
    fig.add_scatter(x=grid, y=density, mode="lines", name=f"N(0, {prior_std:g}²)",
                    line=dict(color="#08519c", width=3))
    fig.update_layout(title="Prior P(θ): every weight and bias", height=height, margin=_MARGIN,
                      xaxis_title="θ value", yaxis_title="density", bargap=0.05,
                      legend=dict(orientation="h", y=-0.35, yanchor="top"))
    return fig


def function_draws_figure(x: np.ndarray, logits: np.ndarray, height: int = 380) -> go.Figure:
    """Prior draws on a 1-D input: x float[n], logits float[k, n] → one curve per network,
    with σ(f) on a second panel."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("network output f(x) (logit)",
                                                       "P(y = 1 | x, θ) = σ(f(x))"))
    for i, f in enumerate(logits):
        colour = DRAW_COLOURS[i % len(DRAW_COLOURS)]
        fig.add_scatter(x=x, y=f, mode="lines", line=dict(color=colour, width=2),
                        name=f"draw {i + 1}", legendgroup=str(i), row=1, col=1)
        fig.add_scatter(x=x, y=np.exp(-np.logaddexp(0.0, -f)), mode="lines",
                        line=dict(color=colour, width=2), showlegend=False,
                        legendgroup=str(i), row=1, col=2)
    fig.update_yaxes(range=[-0.02, 1.02], row=1, col=2)
    fig.update_xaxes(title_text="x")
    fig.update_layout(height=height, margin=_MARGIN, showlegend=False)
    return fig


def boundary_draws_figure(axis: np.ndarray, probs: np.ndarray, cols: int = 3,
                          height: int = 460) -> go.Figure:
    """Decision boundaries of k prior draws on the plane: axis float[G], probs float[k, G, G]
    (P(class 1), row = x₂); each panel is a heatmap with its 0.5 contour."""
    k = probs.shape[0]
    rows = math.ceil(k / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"draw {i + 1}" for i in range(k)],
                        horizontal_spacing=0.03, vertical_spacing=0.08)
    for i in range(k):
        r, c = divmod(i, cols)
        fig.add_heatmap(x=axis, y=axis, z=probs[i], zmin=0, zmax=1,
                        colorscale=PROBABILITY_COLORSCALE,
                        showscale=i == 0, colorbar=dict(title="P(class 1)", len=0.9),
                        hoverinfo="skip", row=r + 1, col=c + 1)
        fig.add_contour(x=axis, y=axis, z=probs[i], contours=dict(start=0.5, end=0.5, size=1,
                        coloring="none"), line=dict(color="black", width=2), showscale=False,
                        hoverinfo="skip", row=r + 1, col=c + 1)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(height=height, margin=_MARGIN, showlegend=False)
    return fig


def intractability_figure(num_params: int, points_per_axis: int, log10_atoms: float,
                          height: int = 360) -> go.Figure:
    """log10 of the grid size G^d against d, with the atoms in the universe and this
    architecture's d marked (log scale so that 10^80 fits on the page)."""
    d_max = max(num_params, 10)
    d = np.unique(np.round(np.geomspace(1, d_max, 200)).astype(int))
    log10_cost = d * math.log10(points_per_axis)
    fig = go.Figure()
    fig.add_scatter(x=d, y=log10_cost, mode="lines", name=f"grid of {points_per_axis}ᵈ points",
                    line=dict(color="#08519c", width=3))
    # A shape and an annotation: the same picture as add_hline, at a fraction of its cost.
    fig.add_shape(type="line", xref="paper", x0=0, x1=1, y0=log10_atoms, y1=log10_atoms,
                  line=dict(color="#d62728", dash="dash"))
    fig.add_annotation(xref="paper", x=0, y=log10_atoms, text="atoms in the universe ≈ 10⁸⁰",
                       showarrow=False, xanchor="left", yanchor="bottom")
    fig.add_scatter(x=[2], y=[2 * math.log10(points_per_axis)], mode="markers+text",
                    text=["d = 2: easy"], textposition="bottom right", name="d = 2",
                    marker=dict(color="#2ca02c", size=12))
    fig.add_scatter(x=[num_params], y=[num_params * math.log10(points_per_axis)],
                    mode="markers+text", text=[f"your network: d = {num_params}"],
                    textposition="top left", name="this network",
                    marker=dict(color="#d62728", size=12))
    fig.update_layout(height=height, margin=_MARGIN, showlegend=False,
                      title="Cost of the evidence integral on a grid",
                      xaxis=dict(title="number of parameters d", type="log"),
                      yaxis=dict(title="log₁₀(number of grid points)"))
    return fig
