"""The playground's live chart: a Streamlit v2 custom component that stays mounted and redraws
in place. `st.plotly_chart` rebuilds its chart on every update (blank frames, lost clicks, zoom
reset: shared/NOTES-streamlit.md); here the two maps are canvases redrawn in a few ms per frame
and the objective chart is updated with `Plotly.react` (plotly.js served by the app)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import plotly

from ui.wire import canvas_component

APP_ROOT = Path(__file__).resolve().parents[1]
STATIC_PLOTLY = APP_ROOT / "static" / "plotly.min.js"
PACKAGE_PLOTLY = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"

CSS = """
.bnn-live { width: 100%; font-family: "Source Sans Pro", sans-serif; }
.bnn-row { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; }
.bnn-verdict { min-height: 44px; box-sizing: border-box; font-size: 14px;
               line-height: 20px; padding: 1px 10px; margin: 0 0 6px 0; color: #222;
               border-left: 5px solid #bbb; background: #f6f6f6; }
.bnn-verdict-knows_where_no_data { border-left-color: #2e7d32; background: #edf7ee; }
.bnn-verdict-confident_everywhere { border-left-color: #c0392b; background: #fbeeee; }
.bnn-verdict-unsure_everywhere { border-left-color: #d68910; background: #fdf5e6; }
.bnn-verdict-not_learnt { border-left-color: #777; background: #f2f2f2; }
.bnn-title { font-size: 14px; font-weight: 600; color: #333; margin: 2px 0 4px 38px;
             line-height: 18px; min-height: 36px; }
.bnn-plot { position: relative; padding-right: 34px; }
.bnn-plot canvas { width: 100%; aspect-ratio: 1 / 1; display: block; cursor: crosshair; }
.bnn-cbar { position: absolute; right: 0; top: 6px; bottom: 24px; width: 28px; }
.bnn-cbar-grad { position: absolute; left: 0; top: 0; bottom: 0; width: 10px;
                 border: 1px solid #bbb; }
.bnn-cbar-hi, .bnn-cbar-lo { position: absolute; left: 13px; font-size: 11px; color: #444; }
.bnn-cbar-hi { top: -2px; } .bnn-cbar-lo { bottom: -2px; }
.bnn-readout { font-size: 12px; color: #555; margin-left: 38px; min-height: 16px; }
.bnn-elbo { min-height: 290px; }
.bnn-elbo-note { font-size: 12px; color: #555; margin: 0 0 4px 60px; min-height: 16px; }
.bnn-legend { font-size: 12px; color: #333; margin: 2px 0 0 38px; display: flex;
              flex-wrap: wrap; gap: 2px 12px; }
.bnn-legend-item { display: inline-flex; align-items: center; gap: 4px; white-space: nowrap; }
.bnn-dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; }
.bnn-ring { background: transparent; border: 1.5px solid #666; width: 7px; height: 7px; }
.bnn-line { display: inline-block; width: 16px; height: 0; border-top: 1px solid #555; }
.bnn-metrics { display: grid; grid-template-columns: repeat(8, 1fr); gap: 6px; margin: 8px 0; }
.bnn-metric-label { font-size: 13px; color: #555; }
.bnn-metric-value { font-size: 26px; color: #222; line-height: 1.2; display: flex;
                    align-items: baseline; gap: 3px; white-space: nowrap; }
.bnn-metric-se { font-size: 12px; color: #555; }
.bnn-reliability { align-self: center; margin-left: 4px; line-height: 0; }
.bnn-far-item input { margin: 0 2px 0 0; }
.bnn-error { color: #b00020; font-size: 0.85rem; }
"""


def ensure_static_plotly() -> None:
    """Serve plotly.js from the plotly package through Streamlit's static route
    (`server.enableStaticServing`), so the browser needs no CDN."""
    if not STATIC_PLOTLY.exists() or STATIC_PLOTLY.stat().st_size != PACKAGE_PLOTLY.stat().st_size:
        STATIC_PLOTLY.parent.mkdir(exist_ok=True)
        tmp = STATIC_PLOTLY.with_suffix(".tmp")
        shutil.copyfile(PACKAGE_PLOTLY, tmp)
        tmp.replace(STATIC_PLOTLY)


ensure_static_plotly()
_component = canvas_component("bnnlab_live_chart", CSS, "live_chart.js", "live_push.js")


def live_chart(payload: dict[str, Any], key: str) -> Any:
    """Mount (or update in place) the live chart; returns the component result whose `click`
    is `{"x", "y", "t", "id"}` on the rerun after a click on either map, else None (`id`:
    the browser's name for the click; a point added in "add" mode was also sent on the push
    route with it, and `Session.click(..., click_id=id)` adds it once). With
    `payload["push"]` ({url, token, live}: `ui.push_route.stream_for`) it also takes frames
    pushed on that route; then `push_failed` says the route did not work in this browser
    (fall back to reruns), and `status` that a pushed frame's status left or entered training
    (rerun for the buttons). `payload["push"]["buttons"]` ({"key": key, "command": "train" |
    "pause" | None}) names the page's run button and what a click on it now asks, sent on the
    route too (Train/Resume and Pause; Continue goes through Streamlit only)."""
    return _component(key=key, data=payload, on_click_change=lambda: None,
                      on_push_failed_change=lambda: None, on_status_change=lambda: None)
