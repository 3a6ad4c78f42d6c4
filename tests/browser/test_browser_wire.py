"""The JavaScript decoders of ui/wire.js, run in Chromium on payloads from the Python encoders
of bnnlab.wire: what the canvases draw is what the library computed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bnnlab.core import contour
from bnnlab.live import wire

pytestmark = pytest.mark.browser

WIRE_JS = (Path(__file__).resolve().parents[2] / "ui" / "wire.js").read_text()


@pytest.fixture
def js(browser):
    """Evaluate `body` (which may `return`) with ui/wire.js's functions in scope."""
    context = browser.new_context()
    tab = context.new_page()
    tab.set_content("<html><body></body></html>")

    def run(body: str, arg=None):
        return tab.evaluate(f"(arg) => {{ {WIRE_JS}\n{body} }}", arg)

    yield run
    context.close()


def test_decode_floats_gives_the_encoded_float32_values(js):
    """encode_floats → decodeFloats: the same float32 values; non-finite ones as NaN."""
    values = np.array([0.0, -1.5, 3.25e10, np.inf, -np.inf, np.nan, 1e-7, 123.456], np.float64)
    out = js("return Array.from(decodeFloats(arg), v => Number.isNaN(v) ? 'nan' : v);",
             wire.encode_floats(values))
    expected = [float(v) if np.isfinite(v) else "nan" for v in values.astype(np.float32)]
    assert out == expected


def test_decode_bytes_of_a_grid_gives_its_uint8_cells(js):
    """encode_grid → decodeBytes: the quantised cells, row-major, as the canvas paints them."""
    values = np.random.default_rng(1).uniform(0, 0.69, size=(5, 7))
    text = wire.encode_grid(values, 0.69)
    out = js("return Array.from(decodeBytes(arg));", text)
    np.testing.assert_array_equal(
        np.array(out, np.uint8).reshape(5, 7),
        np.round(wire.decode_grid(text, (5, 7), 0.69) / 0.69 * 255).astype(np.uint8))


def test_decode_segments_matches_the_python_inverse(js):
    """encode_segments → decodeSegments: the same segment end points as decode_segments."""
    z = np.add.outer(np.linspace(-1, 1, 12), np.linspace(-1, 1, 9))
    xs, ys = contour.segments(z, -2.0, 0.5, 1.0, 0.25, level=0.1)
    payload = wire.encode_segments(xs, ys, (-2.0, 2.0, 1.0, 3.75))
    out = js("return Array.from(decodeSegments(arg));", json.loads(json.dumps(payload)))
    expected = wire.decode_segments(payload)
    assert len(expected) > 0
    np.testing.assert_allclose(np.array(out).reshape(-1, 4), expected, rtol=0, atol=1e-12)


def test_decode_points_gives_coordinates_and_classes(js):
    """points_payload → decodePoints: float32 coordinates and the 0/1 classes."""
    x = np.array([[0.5, -1.25], [3.0, 2.0], [-0.1, 0.2]], np.float32)
    y = np.array([1, 0, 1])
    out = js("const p = decodePoints(arg); "
             "return {x: Array.from(p.x), y: Array.from(p.y), c: Array.from(p.c)};",
             wire.points_payload(x, y))
    assert out["x"] == [float(v) for v in x[:, 0]]
    assert out["y"] == [float(v) for v in x[:, 1]]
    assert out["c"] == [1, 0, 1]
