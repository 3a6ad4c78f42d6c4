"""Chapter 3's posterior view: the exact posterior P_T(θ | D) as an image, with one method drawn
over it in the browser (a v2 component). A Gaussian method is its 1σ and 2σ ellipses; NUTS
plays its chain one trajectory per animation frame: the leapfrog states, the end momenta whose
turning back stopped the trajectory (the U-turn), the state drawn from it, and the samples
accumulating, with the step size and the warm-up phase shown. The payload comes from
`bnnlab.lessons.exact.table.MethodTable.view_payload`; the image is repainted only when its id
changes, so switching methods sends and draws little."""

from __future__ import annotations

from typing import Any

from ui.wire import canvas_component

CSS = """
.bnn-post { width: 100%; font-family: "Source Sans Pro", sans-serif; }
.bnn-post canvas { width: 100%; aspect-ratio: 1 / 1; max-height: 460px; display: block; }
.bnn-post-bar { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; font-size: 13px;
                color: #333; margin-bottom: 4px; min-height: 26px; }
.bnn-post-title { font-weight: 600; }
.bnn-post-bar button, .bnn-post-bar select { font-size: 13px; padding: 2px 8px;
  border: 1px solid #bbb; border-radius: 6px; background: white; cursor: pointer; }
.bnn-post-info { font-size: 13px; color: #333; min-height: 2.6em; margin-top: 4px; }
.bnn-post-error { color: #b00020; font-size: 0.85rem; }
"""

_component = canvas_component("bnnlab_posterior_view", CSS, "posterior_view.js")


def posterior_view(payload: dict[str, Any], key: str) -> Any:
    """Mount the view, or hand it a new method / chain (a new chain id restarts the player)."""
    return _component(key=key, data=payload)
