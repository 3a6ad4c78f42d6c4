"""Plotly figures for the comparison page: arrays in, `go.Figure` out. (The maps are canvases:
`bnnlab.compare.maps_payload` and `ui/compare_maps.js`.)"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go


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
