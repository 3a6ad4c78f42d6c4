"""Plotly figures of chapter 5 (the digits): arrays in, `go.Figure` out."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

KIND_COLOURS = {"digits": "#1f77b4", "letters": "#d62728", "noise": "#7f7f7f"}


def training_figure(history: np.ndarray, labels: tuple[str, str, str]) -> go.Figure:
    """`history: float[3, steps]` (objective, log-likelihood, regulariser) as three panels,
    each on its own scale (the KL is thousands of nats while the ELBO's data term is tens)."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=labels, horizontal_spacing=0.08)
    steps = np.arange(1, history.shape[1] + 1)
    for i, colour in enumerate(("#1f77b4", "#2ca02c", "#ff7f0e")):
        fig.add_trace(go.Scatter(x=steps, y=history[i], mode="lines", line_color=colour,
                                 showlegend=False), row=1, col=i + 1)
        fig.update_xaxes(title_text="step", row=1, col=i + 1)
    fig.update_layout(height=230, margin=dict(l=40, r=10, t=30, b=35))
    fig.update_annotations(font_size=13)
    return fig


def class_bars(mean: np.ndarray, low: np.ndarray, high: np.ndarray, title: str,
               colour: str = "#1f77b4") -> go.Figure:
    """Per-class mean probability float[10] with an interval [low, high] over posterior
    draws. Built from a plain spec without plotly's validation (`_validate=False`): redrawn on
    every stroke, where validation took most of its time (docs/BENCHMARKS.md);
    `tests/unit/test_figures_digits.py` checks the spec against the validated figure."""
    classes = [str(k) for k in range(len(mean))]
    mean, low, high = (np.asarray(v, np.float64) for v in (mean, low, high))
    spec = dict(
        data=[dict(type="bar", x=classes, y=mean, marker=dict(color=colour),
                   error_y=dict(type="data", symmetric=False, array=np.maximum(high - mean, 0),
                                arrayminus=np.maximum(mean - low, 0), thickness=1.5, width=4),
                   hovertemplate="class %{x}: %{y:.3f}<extra></extra>")],
        layout=dict(title=dict(text=title, font=dict(size=14)), height=240,
                    margin=dict(l=40, r=10, t=35, b=30),
                    yaxis=dict(range=[0, 1.05], title=dict(text="P(class)")),
                    xaxis=dict(title=dict(text="class"), type="category")))
    return go.Figure(spec, _validate=False)


def histograms(edges: np.ndarray, shares: Mapping[str, Mapping[str, np.ndarray]],
               labels: Mapping[str, str]) -> go.Figure:
    """One panel per model: the share of test digits, letters and noise per bin of
    predictive entropy (`shares[model][kind]`, float[bins])."""
    models = list(shares)
    fig = make_subplots(rows=1, cols=max(len(models), 1), shared_yaxes=True,
                        subplot_titles=[labels.get(m, m) for m in models])
    centres = (edges[:-1] + edges[1:]) / 2
    for col, model in enumerate(models, start=1):
        for kind, share in shares[model].items():
            fig.add_trace(go.Bar(x=centres, y=share, name=kind, opacity=0.6,
                                 marker_color=KIND_COLOURS.get(kind), showlegend=col == 1,
                                 legendgroup=kind), row=1, col=col)
        fig.update_xaxes(title_text="predictive entropy (nats)", row=1, col=col)
    fig.update_layout(barmode="overlay", height=260, margin=dict(l=40, r=10, t=35, b=40),
                      yaxis_title="share of the set")
    fig.update_annotations(font_size=12)
    return fig


def rejection_curves(curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
                     labels: Mapping[str, str]) -> go.Figure:
    """Accuracy on the kept test digits against the share rejected (most uncertain first)."""
    fig = go.Figure()
    for model, (rejected, accuracy) in curves.items():
        fig.add_trace(go.Scatter(x=rejected, y=accuracy, mode="lines",
                                 name=labels.get(model, model)))
    fig.update_layout(height=280, margin=dict(l=50, r=10, t=35, b=40),
                      title=dict(text="Accuracy vs rejection (test digits, by entropy)",
                                 font_size=14),
                      xaxis=dict(title="share rejected", range=[0, 0.5]),
                      yaxis=dict(title="accuracy on the rest"))
    return fig


def sigma_sweep_figure(rows) -> go.Figure:
    """Two panels from `digits_lab.SweepRow`s: the median posterior σ and the letters AUROC (by
    predictive entropy) against the number of steps, one line per (β, σ₀)."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("median posterior σ", "AUROC letters (entropy)"))
    colours = {1e-3: "#1f77b4", 1e-2: "#2ca02c", 1.0: "#d62728"}
    runs = sorted({(r.kl_weight, r.init_std) for r in rows})
    for kl_weight, init_std in runs:
        part = sorted((r for r in rows if (r.kl_weight, r.init_std) == (kl_weight, init_std)),
                      key=lambda r: r.steps)
        steps = [r.steps for r in part]
        style = dict(color=colours.get(kl_weight, "#7f7f7f"),
                     dash="solid" if init_std >= 0.01 else "dot")
        name = f"β = {kl_weight:g}, σ₀ = {init_std:g}"
        fig.add_trace(go.Scatter(x=steps, y=[r.sigma_median for r in part], name=name,
                                 mode="lines+markers", line=style, legendgroup=name),
                      row=1, col=1)
        fig.add_trace(go.Scatter(x=steps, y=[r.auroc_letters for r in part], name=name,
                                 mode="lines+markers", line=style, legendgroup=name,
                                 showlegend=False), row=1, col=2)
    fig.update_xaxes(title_text="training steps")
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_layout(height=300, margin=dict(l=50, r=10, t=35, b=40))
    fig.update_annotations(font_size=13)
    return fig
