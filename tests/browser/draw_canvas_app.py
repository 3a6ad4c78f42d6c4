"""Test-only Streamlit script: the drawing canvas and what it returns, as JSON in the page
(tests/browser/test_browser_draw_canvas.py reads it)."""

import json

import numpy as np
import streamlit as st

from ui.draw_canvas import draw_canvas

st.set_page_config(page_title="draw canvas test", layout="wide")
left, right = st.columns([1, 2])
with left:
    drawing, error = draw_canvas(key="pad")
with right:
    if error:
        st.error(error)
    st.code(json.dumps({"image": drawing.image.astype(int).tolist(),
                        "normalized": drawing.normalized.astype(int).tolist(),
                        "strokes": len(drawing.strokes)}), language="json")
    # np.kron keeps the 8×8 blocks sharp (st.image would smooth an 8-pixel image).
    pixels = np.kron(drawing.image.reshape(8, 8), np.ones((20, 20)))
    st.image((255 - pixels * 255 / 16).astype("uint8"), caption="8×8, as the network sees it")
