"""Plotly figures of the weight posterior (`bnnlab.weights.WeightSummary` in, `go.Figure` out):
each weight's mean ± σ against the prior's band, and the distribution of signal-to-noise."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from bnnlab.core.weights import WeightSummary, display_indices, snr_bound_at_prior

INFORMED_COLOR = "#4e79a7"
AT_PRIOR_COLOR = "#b0b0b0"
PRIOR_BAND_COLOR = "rgba(242, 142, 43, 0.18)"
PRIOR_LINE_COLOR = "#f28e2b"
# log10 SNR axis: values beyond it are drawn at its ends (and the title says how many).
LOG10_SNR_RANGE = (-3.0, 3.0)


def default_layer_names(num_layers: int) -> list[str]:
    """"layer 1", …, "output" for an MLP with `num_layers` Dense layers."""
    return [f"layer {i + 1}" for i in range(num_layers - 1)] + ["output"]


def _layout(fig: go.Figure, title: str, subtitle: str, height: int) -> go.Figure:
    # Short titles and a legend below the axis: the figures are meant for a half-width column
    # (~340 px wide in Streamlit's centred layout at 1366×768).
    fig.update_layout(
        height=height, margin={"l": 50, "r": 10, "t": 64, "b": 10},
        title={"text": f"{title}<br><sup>{subtitle}</sup>", "font": {"size": 14}, "x": 0.0,
               "xanchor": "left", "y": 0.97, "yanchor": "top"},
        showlegend=True,
        legend={"orientation": "h", "yanchor": "top", "y": -0.16, "x": 0.0, "font": {"size": 11}},
        plot_bgcolor="white", bargap=0.05)
    return fig


def posterior_bars(summary: WeightSummary, indices: np.ndarray | None = None,
                   layer_names: Sequence[str] | None = None, sort_by_mean: bool = True,
                   height: int = 400) -> go.Figure:
    """Each displayed weight's posterior mean ± 1σ, grouped by layer, over the prior's ±1σₚ band.

    `indices: int[k]` are the weights to draw (default `display_indices(summary.layer)`, sorted
    by layer); weights at the prior are grey, the rest blue. Inside each layer the weights are
    drawn in order of their mean (`sort_by_mean`), which turns a cloud of bars into a readable
    curve. The x axis is the display position, with each layer's block labelled.
    """
    if indices is None:
        indices = display_indices(summary.layer)
    indices = np.asarray(indices, np.int64)
    if sort_by_mean:
        indices = indices[np.lexsort((summary.mean[indices], summary.layer[indices]))]
    num_layers = int(summary.layer.max()) + 1
    names = list(layer_names) if layer_names is not None else default_layer_names(num_layers)
    position = np.arange(len(indices))
    mean, std = summary.mean[indices], summary.std[indices]
    layer, at_prior = summary.layer[indices], summary.at_prior[indices]
    sp = summary.prior_std

    fig = go.Figure()
    left, right = -0.5, max(len(indices) - 0.5, 0.5)
    fig.add_trace(go.Scatter(
        x=[left, right, right, left, left], y=[-sp, -sp, sp, sp, -sp], fill="toself", mode="lines",
        fillcolor=PRIOR_BAND_COLOR, line={"color": PRIOR_LINE_COLOR, "width": 1},
        hoverinfo="skip", name=f"prior N(0, σₚ²): ±σₚ = ±{sp:.3g}"))
    for label, sel, color in (("informed by data: mean ± σ", ~at_prior, INFORMED_COLOR),
                              ("at the prior: mean ± σ", at_prior, AT_PRIOR_COLOR)):
        if not sel.any():
            continue
        custom = np.stack([indices[sel], summary.kl[indices][sel],
                           summary.snr[indices][sel]], axis=-1)
        fig.add_trace(go.Scatter(
            x=position[sel], y=mean[sel], mode="markers", name=label,
            marker={"color": color, "size": 4},
            error_y={"type": "data", "array": std[sel], "color": color, "thickness": 1,
                     "width": 0},
            customdata=custom,
            hovertemplate=("θ[%{customdata[0]}]<br>mean %{y:.3g} ± %{error_y.array:.3g}"
                           "<br>|μ|/σ %{customdata[2]:.3g}, KL %{customdata[1]:.3g} nats"
                           "<extra></extra>")))
    tickvals, ticktext = [], []
    for i in np.unique(layer):
        where = position[layer == i]
        tickvals.append(float(where.mean()))
        ticktext.append(names[int(i)] if int(i) < len(names) else f"layer {int(i) + 1}")
        if where.min() > 0:
            fig.add_vline(x=where.min() - 0.5, line={"color": "#888", "width": 1, "dash": "dot"})
    shown = f"{len(indices):,} of {summary.num_weights:,}" if len(indices) < summary.num_weights \
        else f"all {summary.num_weights:,}"
    fig.update_xaxes(tickvals=tickvals, ticktext=ticktext, range=[left, right], showgrid=False,
                     title=None)
    fig.update_yaxes(title={"text": "weight value", "standoff": 4}, zeroline=True,
                     zerolinecolor="#ccc", gridcolor="#eee")
    return _layout(fig, "Each weight's posterior: mean ± σ", f"{shown} weights, by layer",
                   height)


def snr_histogram(summary: WeightSummary, num_bins: int = 48, height: int = 400) -> go.Figure:
    """Histogram of log10 |μ|/σ over all weights, stacked by "at the prior" / "informed", with
    a vertical line at the largest SNR a weight at the prior can have; the share in the title.

    Values outside `LOG10_SNR_RANGE` (point masses have SNR = ∞, a mean of exactly 0 has 0) are
    counted in the edge bins.
    """
    lo, hi = LOG10_SNR_RANGE
    with np.errstate(divide="ignore"):
        log_snr = np.log10(summary.snr)
    outside = int(np.sum((log_snr < lo) | (log_snr > hi)))
    log_snr = np.clip(log_snr, lo, hi - 1e-9)
    size = (hi - lo) / num_bins
    bins = {"start": lo, "end": hi, "size": size}
    fig = go.Figure()
    for label, sel, color in (("informed by data", ~summary.at_prior, INFORMED_COLOR),
                              ("at the prior", summary.at_prior, AT_PRIOR_COLOR)):
        fig.add_trace(go.Histogram(
            x=log_snr[sel], xbins=bins, autobinx=False, name=f"{label} ({int(sel.sum()):,})",
            marker_color=color,
            hovertemplate="log10 SNR %{x}<br>%{y} weights<extra></extra>"))
    bound = snr_bound_at_prior(summary.kl_threshold)
    fig.add_vline(x=float(np.log10(bound)), line={"color": PRIOR_LINE_COLOR, "width": 2,
                                                  "dash": "dash"})
    fig.add_annotation(x=float(np.log10(bound)), y=1.0, yref="paper", xanchor="center",
                       yanchor="bottom", showarrow=False, font={"size": 11, "color": "#a0521d"},
                       text=f"at the prior ⇒ |μ|/σ ≤ {bound:.2f}")
    ticks = np.arange(int(np.ceil(lo)), int(np.floor(hi)) + 1)
    fig.update_xaxes(range=[lo, hi], tickvals=ticks.tolist(),
                     ticktext=[f"{10.0 ** t:g}" for t in ticks],
                     title={"text": "signal-to-noise |μ|/σ (log scale)", "standoff": 2})
    fig.update_yaxes(title={"text": "weights", "standoff": 4}, gridcolor="#eee")
    fig.update_layout(barmode="stack")
    title = f"{100 * summary.share_at_prior:.0f}% of {summary.num_weights:,} weights at the prior"
    subtitle = f"at the prior: KL(q ‖ prior) < {summary.kl_threshold:g} nats"
    if outside:
        subtitle += f"; {outside:,} off the axis drawn at its ends"
    return _layout(fig, title, subtitle, height)
