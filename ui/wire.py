"""The JavaScript the app's canvas components share (`ui/wire.js`: the wire format of
`bnnlab.playground`, colour tables, DOM helpers), prepended to each component's module."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def component_js(name: str) -> str:
    """`ui/wire.js` followed by `ui/<name>`: one ES module for `st.components.v2.component`."""
    return (_HERE / "wire.js").read_text() + "\n" + (_HERE / name).read_text()
