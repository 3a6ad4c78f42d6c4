"""bnnlab.figures.digits: the unvalidated class-bars figure is a valid plotly figure."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from bnnlab.figures import digits as figs


def test_class_bars_spec_passes_plotly_validation():
    """The fast spec, validated by plotly, is unchanged: every key is one plotly knows."""
    mean = np.linspace(0.01, 0.3, 10)
    fig = figs.class_bars(mean, mean * 0.5, mean * 1.5, "draws", colour="#7f7f7f")
    checked = go.Figure(fig.to_dict())  # validates; raises on an unknown key or bad value
    assert json.loads(pio.to_json(checked)) == json.loads(pio.to_json(fig))
    bar = fig.data[0]
    np.testing.assert_allclose(bar.y, mean)
    np.testing.assert_allclose(bar.error_y.arrayminus, mean * 0.5)
    assert bar.marker.color == "#7f7f7f" and checked.layout.yaxis.range == (0, 1.05)
    assert checked.layout.xaxis.title.text == "class"
