"""Chapter 3's HMC player: the chain's leapfrog trajectories drawn one per animation frame on
the exact posterior, in the browser (a v2 component; the chain is computed once by
`bnnlab.exact.methods.run_hmc` and sent as `bnnlab.exact.lab.hmc_payload`)."""

from __future__ import annotations

from typing import Any

from ui.wire import canvas_component

CSS = """
.bnn-hmc { width: 100%; font-family: "Source Sans Pro", sans-serif; }
.bnn-hmc canvas { width: 100%; aspect-ratio: 1 / 1; max-height: 460px; display: block; }
.bnn-hmc-bar { display: flex; gap: 8px; align-items: center; font-size: 13px; color: #333;
               margin-bottom: 4px; }
.bnn-hmc-bar button { font-size: 13px; padding: 2px 10px; border: 1px solid #bbb;
                      border-radius: 6px; background: white; cursor: pointer; }
.bnn-hmc-error { color: #b00020; font-size: 0.85rem; }
"""

_component = canvas_component("bnnlab_hmc_player", CSS, "hmc_player.js")


def hmc_player(payload: dict[str, Any], key: str) -> Any:
    """Mount the player, or hand it a new chain (it restarts when the chain's id changes)."""
    return _component(key=key, data=payload)
