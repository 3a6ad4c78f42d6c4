"""Widget values that survive leaving a page and coming back.

Streamlit drops the state of widgets that are not rendered, so after Home → chapter 4 every
widget would start from its minimum and the page would reset the learner's run. A page calls
`restore(prefix, keys)` before drawing its widgets and `remember(prefix, keys)` after: values
are copied into a plain session-state entry, which Streamlit keeps for the whole session."""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st


def remember(prefix: str, keys: Iterable[str]) -> None:
    """Save the current values of the widgets `prefix + key`."""
    st.session_state[prefix + "_kept"] = {
        k: st.session_state[prefix + k] for k in keys if prefix + k in st.session_state}


def restore(prefix: str, keys: Iterable[str]) -> None:
    """Give back saved values to widgets that Streamlit dropped while the page was away."""
    kept = st.session_state.get(prefix + "_kept", {})
    for k in keys:
        if prefix + k not in st.session_state and k in kept:
            st.session_state[prefix + k] = kept[k]
