"""Issue 29: `server.maxMessageSize` (.streamlit/config.toml) bounds what the server buffers of
one incoming WebSocket message, and it bounds the page's own outgoing messages too. The pages'
largest elements at their heaviest settings stay under half of it (AppTest's element protos: a
page message is its element and ~150 bytes of envelope; chapter 2's measured 632,756 bytes here
and 632,890 on the wire)."""

from __future__ import annotations

import tomllib

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.pages.conftest import page_app

LIMIT_BYTES = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())[
    "server"]["maxMessageSize"] * 10**6


def _largest_element(at: AppTest) -> int:
    """Bytes of the largest element proto on the page."""
    def walk(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from walk(child)
    return max(node.proto.ByteSize() for node in walk(at._tree)
               if hasattr(getattr(node, "proto", None), "ByteSize"))


def _set(values: dict):
    def prepare(at: AppTest) -> None:
        for key, value in values.items():
            at.session_state[key] = value
    return prepare


def test_the_limit_is_small():
    """Far below Streamlit's 200 MB default, which let 16 sockets take 1.9 GB."""
    assert LIMIT_BYTES <= 4 * 10**6


@pytest.mark.slow
@pytest.mark.parametrize("page, query, values", [
    # chapter 2 at its heaviest: 3 layers of 64, 3 classes, 200 points, 10 draws, G = 1000
    ("ch2_bayesian_training.py", {}, {"ch2_depth": 3, "ch2_width": 64, "ch2_num_classes": 3,
                                      "ch2_num_points": 200, "ch2_num_draws": 10,
                                      "ch2_points_per_axis": 1000}),
    # the playground's map at its finest grid, five classes, zoomed out (no push route under
    # AppTest: the frame goes in the page's message)
    ("ch4_playground.py", {"grid_size": "150", "num_classes": "5", "dataset": "gaussians"},
     {"pg_zoom": True}),
    ("ch3_variational_inference.py", {}, {}),
])
def test_the_heaviest_page_messages_fit_in_half_the_limit(page, query, values):
    at = page_app(page, query, _set(values))
    assert _largest_element(at) < LIMIT_BYTES / 2
