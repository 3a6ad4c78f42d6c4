"""`figure(fig, key)`: a Plotly figure updated in place with `Plotly.react`.

`st.plotly_chart` derives its element id from the figure's contents, so every new figure is a
new element that the browser mounts from scratch (shared/NOTES-streamlit.md). On a page where a
slider redraws several charts per step (chapter 1), that remounting was most of a step's time
in the browser; this v2 component stays mounted and hands the new figure to `Plotly.react`.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from ui.live_chart import ensure_static_plotly
from ui.wire import canvas_component

CSS = ".bnn-figure { width: 100%; }\n"

ensure_static_plotly()
_component = canvas_component("bnnlab_figure", CSS, "figure.js")


def figure_spec(fig: go.Figure) -> str:
    """The figure as JSON for the component, without plotly's default template (the component
    applies a light theme of its own, and the template would triple the message)."""
    spec = fig.to_plotly_json()
    spec["layout"].pop("template", None)
    return pio.to_json(spec, validate=False)


def figure(fig: go.Figure, key: str) -> Any:
    """Mount (or update in place) `fig` under `key`."""
    return _component(key=key, data={"spec": figure_spec(fig)})
