"""Chapter 3's figures: the exact 2-D posterior with Q on top, and the ELBO decomposition."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

Q_COLOUR = "#ff7f0e"
_MARGIN = dict(l=10, r=10, t=40, b=10)


def ellipse(mean: np.ndarray, cov: np.ndarray, radius: float,
            num_points: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """Points of {θ : (θ−mean)ᵀ cov⁻¹ (θ−mean) = radius²}: mean float[2], cov float[2, 2]."""
    angle = np.linspace(0, 2 * np.pi, num_points)
    circle = np.stack([np.cos(angle), np.sin(angle)])
    pts = mean[:, None] + radius * np.linalg.cholesky(cov) @ circle
    return pts[0], pts[1]


def posterior_figure(theta1: np.ndarray, theta2: np.ndarray, density: np.ndarray,
                     param_names: tuple[str, str], q_mean: np.ndarray | None = None,
                     q_cov: np.ndarray | None = None, trajectory: np.ndarray | None = None,
                     axis_range: tuple[float, float, float, float] | None = None,
                     height: int = 460,
                     title: str = "Exact posterior P(θ | D) and the Gaussian Q") -> go.Figure:
    """Heatmap of P(θ | D) (density float[G2, G1] on axes theta1 float[G1], theta2 float[G2])
    with Q's 1σ and 2σ ellipses, its mean and the path the mean took (trajectory float[T, 2]).
    axis_range (lo1, hi1, lo2, hi2) pins the view so the picture does not jump while fitting."""
    fig = go.Figure()
    fig.add_heatmap(x=theta1, y=theta2, z=density, colorscale="Blues", name="P(θ|D)",
                    colorbar=dict(title="P(θ|D)", len=0.85),
                    hovertemplate=f"{param_names[0]}=%{{x:.2f}}<br>{param_names[1]}=%{{y:.2f}}"
                                  "<br>P(θ|D)=%{z:.3g}<extra></extra>")
    if trajectory is not None and len(trajectory) > 1:
        fig.add_scatter(x=trajectory[:, 0], y=trajectory[:, 1], mode="lines", name="Q's mean path",
                        line=dict(color=Q_COLOUR, width=1.5, dash="dot"), hoverinfo="skip")
    if q_mean is not None and q_cov is not None:
        for radius, width in ((1.0, 3), (2.0, 1.5)):
            ex, ey = ellipse(q_mean, q_cov, radius)
            fig.add_scatter(x=ex, y=ey, mode="lines", name=f"Q: {radius:g}σ",
                            line=dict(color=Q_COLOUR, width=width), hoverinfo="skip")
        fig.add_scatter(x=[q_mean[0]], y=[q_mean[1]], mode="markers", name="Q's mean",
                        marker=dict(color=Q_COLOUR, size=10, symbol="x"))
    fig.update_layout(title=title, height=height,
                      margin=_MARGIN, xaxis_title=param_names[0], yaxis_title=param_names[1],
                      legend=dict(orientation="h", y=-0.18), uirevision="posterior")
    if axis_range is not None:
        fig.update_xaxes(range=list(axis_range[:2]))
        fig.update_yaxes(range=list(axis_range[2:]))
    return fig


def decomposition_figure(steps: np.ndarray, log_evidence: np.ndarray, elbo: np.ndarray,
                         kl_posterior: np.ndarray, expected_log_likelihood: np.ndarray,
                         kl_prior: np.ndarray, height: int = 460) -> go.Figure:
    """Per step (steps int[T], every other array float[T]): top, log P(D) flat with the ELBO
    under it and the gap KL(Q‖P(θ|D)) shaded between; bottom, the ELBO's two parts."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=("log P(D) = ELBO + KL(Q ‖ P(θ|D))",
                                        "ELBO = E_Q[log P(Y|X,θ)] − KL(Q ‖ P(θ))"))
    fig.add_scatter(x=steps, y=elbo, mode="lines", name="ELBO", line=dict(color="#2ca02c", width=3),
                    row=1, col=1)
    fig.add_scatter(x=steps, y=elbo + kl_posterior, mode="lines", fill="tonexty",
                    fillcolor="rgba(214,39,40,0.18)", name="ELBO + KL(Q‖P(θ|D))",
                    line=dict(color="#d62728", width=2, dash="dot"), row=1, col=1)
    fig.add_scatter(x=steps, y=log_evidence, mode="lines", name="log P(D) (quadrature)",
                    line=dict(color="black", width=2, dash="dash"), row=1, col=1)
    fig.add_scatter(x=steps, y=kl_posterior, mode="lines", name="KL(Q‖P(θ|D)) (the gap)",
                    line=dict(color="#d62728", width=2), visible="legendonly", row=1, col=1)
    fig.add_scatter(x=steps, y=expected_log_likelihood, mode="lines",
                    name="E_Q[log P(Y|X,θ)]", line=dict(color="#1f77b4", width=2), row=2, col=1)
    fig.add_scatter(x=steps, y=-kl_prior, mode="lines", name="−KL(Q‖P(θ))",
                    line=dict(color="#9467bd", width=2), row=2, col=1)
    fig.add_scatter(x=steps, y=elbo, mode="lines", name="ELBO (sum)", showlegend=False,
                    line=dict(color="#2ca02c", width=1, dash="dot"), row=2, col=1)
    fig.update_xaxes(title_text="step", row=2, col=1)
    fig.update_yaxes(title_text="nats", row=1, col=1)
    fig.update_yaxes(title_text="nats", row=2, col=1)
    fig.update_layout(height=height, margin=_MARGIN, legend=dict(orientation="h", y=-0.15),
                      uirevision="decomposition")
    return fig


def data_figure(x: np.ndarray, y: np.ndarray, x_line: np.ndarray, exact: np.ndarray,
                q_pred: np.ndarray, classification: bool, height: int = 300) -> go.Figure:
    """Data points (x, y float[n]) with the exact posterior predictive and Q's predictive on
    x_line float[m] (P(y=1|x) for a classifier, the mean of y for regression)."""
    fig = go.Figure()
    fig.add_scatter(x=x, y=y, mode="markers", name="data",
                    marker=dict(color="#333", size=7, opacity=0.7))
    fig.add_scatter(x=x_line, y=exact, mode="lines", name="exact posterior predictive",
                    line=dict(color="#08519c", width=3))
    fig.add_scatter(x=x_line, y=q_pred, mode="lines", name="Q's predictive",
                    line=dict(color=Q_COLOUR, width=3, dash="dash"))
    fig.update_layout(title="The data and what each distribution predicts", height=height,
                      margin=_MARGIN, xaxis_title="x",
                      yaxis_title="P(y = 1 | x, D)" if classification else "E[y | x, D]",
                      legend=dict(orientation="h", y=-0.25))
    if classification:
        fig.update_yaxes(range=[-0.05, 1.05])
    return fig


def predictive_comparison_figure(x: np.ndarray, y: np.ndarray, x_line: np.ndarray,
                                 exact: np.ndarray, method: np.ndarray, method_label: str,
                                 x_star: float, classification: bool,
                                 height: int = 460) -> go.Figure:
    """The exact (tempered) predictive and one method's along x_line float[m], the data
    (x, y float[n]) and a marker line at x*."""
    fig = data_figure(x, y, x_line, exact, method, classification, height=height)
    fig.data[2].name = method_label
    fig.add_vline(x=x_star, line=dict(color="#999", dash="dot"), annotation_text="x*")
    fig.update_layout(title="What the method predicts, against the exact predictive")
    return fig
