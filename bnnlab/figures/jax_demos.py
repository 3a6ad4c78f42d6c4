"""Figures of the "JAX in code" page: arrays and timings in, `go.Figure` out."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bnnlab.lessons.jax_timing import format_duration

EAGER_COLOUR = "#d62728"
JIT_COLOUR = "#1f77b4"
FD_COLOUR = "#ff7f0e"
_MARGIN = dict(l=10, r=10, t=60, b=10)


def grad_figure(x: np.ndarray, value: np.ndarray, grad: np.ndarray,
                finite_difference: np.ndarray, point: float, point_value: float,
                point_grad: float, variable: str, name: str, height: int = 480) -> go.Figure:
    """Top: f(x) with the tangent at x0 (slope from jax.grad). Bottom: jax.grad(f)(x) as a line
    and the central finite difference as dots (every array float[n])."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=(f"f = {name}", "f′ from jax.grad vs finite difference"))
    fig.add_scatter(x=x, y=value, mode="lines", name="f(x)", line=dict(color="#444"), row=1, col=1)
    span = 0.12 * (float(x[-1]) - float(x[0]))
    tx = np.array([point - span, point + span])
    fig.add_scatter(x=tx, y=point_value + point_grad * (tx - point), mode="lines",
                    name=f"tangent at {point:.3g} (slope {point_grad:.4g})",
                    line=dict(color=JIT_COLOUR, width=3), row=1, col=1)
    fig.add_scatter(x=[point], y=[point_value], mode="markers", showlegend=False,
                    marker=dict(color=JIT_COLOUR, size=10), row=1, col=1)
    fig.add_scatter(x=x, y=grad, mode="lines", name="jax.grad(f)",
                    line=dict(color=JIT_COLOUR, width=3), row=2, col=1)
    every = max(len(x) // 40, 1)
    fig.add_scatter(x=x[::every], y=finite_difference[::every], mode="markers",
                    name="finite difference", marker=dict(color=FD_COLOUR, size=7), row=2, col=1)
    fig.add_vline(x=point, line=dict(color=JIT_COLOUR, dash="dot", width=1))
    fig.update_xaxes(title_text=variable, row=2, col=1)
    fig.update_layout(title=f"grad: {name}", height=height, margin=dict(_MARGIN, t=90),
                      legend=dict(orientation="h", y=-0.15))
    return fig


def jit_figure(eager_first_s: float, eager_median_s: float, jit_first_s: float,
               jit_median_s: float, device: str, height: int = 380) -> go.Figure:
    """Grouped bars, log time axis: first call and median call, eager vs jitted."""
    fig = go.Figure()
    groups = ["first call", "median call"]
    for name, values, colour in (("without jit", (eager_first_s, eager_median_s), EAGER_COLOUR),
                                 ("jax.jit", (jit_first_s, jit_median_s), JIT_COLOUR)):
        fig.add_bar(x=groups, y=[v * 1e3 for v in values], name=name, marker_color=colour,
                    text=[format_duration(v) for v in values], textposition="outside")
    fig.update_yaxes(type="log", title_text="milliseconds (log scale)")
    fig.update_layout(title=f"One VI training step on {device}", barmode="group", height=height,
                      margin=_MARGIN, legend=dict(orientation="h", y=-0.15))
    return fig


def vmap_figure(num_samples: np.ndarray, loop_s: np.ndarray, vmap_s: np.ndarray, device: str,
                height: int = 380) -> go.Figure:
    """Median time of one MC estimate vs the number of samples S (log–log), loop vs vmap."""
    fig = go.Figure()
    fig.add_scatter(x=num_samples, y=np.asarray(loop_s) * 1e3, mode="lines+markers",
                    name="Python loop over samples", line=dict(color=EAGER_COLOUR))
    fig.add_scatter(x=num_samples, y=np.asarray(vmap_s) * 1e3, mode="lines+markers",
                    name="jax.vmap", line=dict(color=JIT_COLOUR))
    fig.update_xaxes(type="log", title_text="weight samples S", tickvals=list(num_samples))
    fig.update_yaxes(type="log", title_text="milliseconds per estimate (log scale)")
    fig.update_layout(title=f"E_q[log P(Y|X,θ)] with S samples on {device}", height=height,
                      margin=_MARGIN, legend=dict(orientation="h", y=-0.2))
    return fig


def scan_figure(one_step_steps_per_s: float, k_steps_steps_per_s: float, steps_per_chunk: int,
                device: str, height: int = 340) -> go.Figure:
    """Two bars: training steps per second with one step per call vs K steps per call."""
    labels = ["1 step per call", f"{steps_per_chunk} steps per call (lax.scan)"]
    values = [one_step_steps_per_s, k_steps_steps_per_s]
    fig = go.Figure(go.Bar(x=labels, y=values, marker_color=[EAGER_COLOUR, JIT_COLOUR],
                           text=[f"{v:,.0f} steps/s" for v in values], textposition="outside"))
    fig.update_yaxes(title_text="training steps per second", range=[0, max(values) * 1.2])
    fig.update_layout(title=f"Training throughput on {device}", height=height, margin=_MARGIN)
    return fig
