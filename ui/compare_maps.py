"""The compare page's small multiples: one canvas per method, redrawn in place.

`st.plotly_chart` rebuilt its figure on every tick while the methods trained, so the maps
flickered (shared/NOTES-streamlit.md); this v2 component stays mounted and repaints canvases
from compact grids (`bnnlab.compare.maps_payload`)."""

from __future__ import annotations

from typing import Any

from ui.wire import canvas_component

CSS = """
.bnn-cmp { width: 100%; font-family: "Source Sans Pro", sans-serif; }
.bnn-cmp-row { display: flex; gap: 8px; align-items: flex-start; }
.bnn-cmp-cell { flex: 1 1 0; min-width: 0; }
.bnn-cmp-title { font-size: 13px; font-weight: 600; color: #333; text-align: center;
                 margin-bottom: 2px; white-space: nowrap; overflow: hidden;
                 text-overflow: ellipsis; }
.bnn-cmp-cell canvas { width: 100%; aspect-ratio: 1 / 1; display: block; }
.bnn-cmp-bar { flex: 0 0 46px; position: relative; align-self: stretch; margin-top: 18px; }
.bnn-cmp-grad { position: absolute; left: 0; top: 0; bottom: 0; width: 10px;
                border: 1px solid #bbb; }
.bnn-cmp-hi, .bnn-cmp-lo { position: absolute; left: 14px; font-size: 11px; color: #444; }
.bnn-cmp-hi { top: -2px; } .bnn-cmp-lo { bottom: -2px; }
.bnn-cmp-readout { font-size: 12px; color: #555; min-height: 16px; margin-top: 2px; }
.bnn-cmp-error { color: #b00020; font-size: 0.85rem; }
"""

_component = canvas_component("bnnlab_compare_maps", CSS, "compare_maps.js")


def compare_maps(payload: dict[str, Any], key: str) -> Any:
    """Mount (or update in place) the maps of `bnnlab.compare.maps_payload`."""
    return _component(key=key, data=payload)
