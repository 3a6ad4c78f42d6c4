"""What the app's canvas components share: the JavaScript of `ui/wire.js` (the wire format of
`bnnlab.wire`, colour tables, DOM helpers), prepended to each component's module, and the
CSS that keeps a fragment's elements from fading on every tick."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

_HERE = Path(__file__).resolve().parent


def component_js(name: str, *extra: str) -> str:
    """`ui/wire.js` followed by `ui/<name>` (and `ui/<extra>`…): one ES module for
    `st.components.v2.component`."""
    return "\n".join((_HERE / f).read_text() for f in ("wire.js", name, *extra))


# Fragment reruns mark their elements stale (faded) every tick: keep the live views steady.
STEADY_CSS = 'div[data-stale="true"] { opacity: 1 !important; transition: none !important; }\n'


def canvas_component(name: str, css: str, js_file: str, *extra_js: str):
    """A v2 component `name` with `css` (plus `STEADY_CSS`) and
    `component_js(js_file, *extra_js)`."""
    return st.components.v2.component(name, html="", css=css + STEADY_CSS,
                                      js=component_js(js_file, *extra_js), isolate_styles=False)
