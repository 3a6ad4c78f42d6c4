"""A drawing canvas for chapter 5 (a Streamlit v2 component, `ui/draw_canvas.js`): the learner
draws a digit or a letter with a mouse, pen or finger; at the end of every stroke the page
reruns and `draw_canvas` returns the drawing as the digits' 8×8 image (float32[64], 0..16),
computed in Python by `bnnlab.data.drawing` from the strokes the browser sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from bnnlab.data.drawing import (
    PEN_RADIUS,
    Drawing,
    DrawingError,
    drawing_from_strokes,
    empty_drawing,
    parse_strokes,
)
from ui.wire import STEADY_CSS

CSS = """
.bnn-draw { font-family: "Source Sans Pro", sans-serif; width: 100%; max-width: 280px; }
.bnn-draw-pad { border: 1px solid #c9ced6; border-radius: 6px; overflow: hidden;
                background: #fff; }
.bnn-draw-pad canvas { display: block; width: 100%; aspect-ratio: 1 / 1; cursor: crosshair;
                       touch-action: none; user-select: none; -webkit-user-select: none; }
.bnn-draw-bar { display: flex; align-items: center; gap: 10px; margin-top: 6px; }
.bnn-draw-clear { font: inherit; font-size: 14px; padding: 3px 14px; border-radius: 6px;
                  border: 1px solid #c9ced6; background: #fff; color: #262730; cursor: pointer; }
.bnn-draw-clear:hover { border-color: #ff4b4b; color: #ff4b4b; }
.bnn-draw-hint { font-size: 13px; color: #666; }
"""

_component = st.components.v2.component(
    "bnnlab_draw_canvas", html="", css=CSS + STEADY_CSS,
    js=Path(__file__).with_name("draw_canvas.js").read_text(),
    isolate_styles=False)


def _previous_strokes(key: str) -> Any:
    state = st.session_state.get(key)
    try:
        return state["strokes"] if state is not None else None
    except (KeyError, TypeError):
        return None


def draw_canvas(key: str, hint: str = "Draw a digit or a letter",
                pen_radius: float = PEN_RADIUS) -> tuple[Drawing, str | None]:
    """Mount the canvas; -> (drawing, error). `drawing.image` is the strokes as drawn (pen
    radius `pen_radius` bitmap pixels) counted the optdigits way, `drawing.normalized` the same
    strokes size-normalised and centred like the digits; both float32[64] in 0..16, zeros for
    an empty canvas. A value from the browser that is not a drawing gives an empty drawing and
    an error message for the page to show (never an exception)."""
    previous = _previous_strokes(key)
    result = _component(key=key, data={"pen_radius": float(pen_radius), "hint": hint,
                                       "strokes": previous if isinstance(previous, list) else []},
                        default={"strokes": []}, on_strokes_change=lambda: None)
    try:
        strokes = parse_strokes(getattr(result, "strokes", None))
    except DrawingError as err:
        return empty_drawing(), f"The drawing could not be read: {err}"
    return drawing_from_strokes(strokes, pen_radius), None
