"""bnnlab.wire: the encoders round-trip through their numpy inverses (the JavaScript decoders
are checked against these encoders in Chromium: tests/browser/test_browser_wire.py)."""

import numpy as np

from bnnlab.core import contour
from bnnlab.live import wire


def test_grid_encoding_round_trip():
    """encode_grid/decode_grid round-trip within the uint8 quantisation step."""
    values = np.random.default_rng(0).uniform(0, 0.69, size=(7, 9))
    back = wire.decode_grid(wire.encode_grid(values, 0.69), (7, 9), 0.69)
    assert np.abs(back - values).max() <= 0.69 / 510 + 1e-7


def test_encode_segments_round_trips_within_the_quantisation():
    """Segments (start, end, NaN) from `contour.segments` come back as (x0, y0, x1, y1) rows,
    within box/65535 of the originals; the NaN separators are dropped."""
    z = np.add.outer(np.linspace(-1, 1, 12), np.linspace(-1, 1, 9))  # level set: a line
    xs, ys = contour.segments(z, -2.0, 0.5, 1.0, 0.25, level=0.1)
    box = (-2.0, -2.0 + 0.5 * 8, 1.0, 1.0 + 0.25 * 11)
    back = wire.decode_segments(wire.encode_segments(xs, ys, box))
    expected = np.stack([xs[0::3], ys[0::3], xs[1::3], ys[1::3]], axis=-1)
    assert back.shape == expected.shape and len(back) > 0
    np.testing.assert_allclose(back, expected, atol=4.0 / 65535 + 1e-12)
    empty = wire.encode_segments(np.zeros(0), np.zeros(0), box)
    assert empty["n"] == 0 and wire.decode_segments(empty).shape == (0, 4)


def test_encode_floats_round_trips_and_turns_non_finite_into_nan():
    """float32 values come back exactly; ±inf and NaN come back as NaN."""
    values = np.array([0.0, -1.5, 3.25e10, np.inf, -np.inf, np.nan, 1e-7])
    decoded = wire.decode_floats(wire.encode_floats(values))
    np.testing.assert_array_equal(decoded[[0, 1, 2, 6]], values[[0, 1, 2, 6]].astype(np.float32))
    assert np.isnan(decoded[3:6]).all()
    assert len(wire.decode_floats(wire.encode_floats(np.zeros(0)))) == 0


def test_downsample_keeps_the_ends():
    """At most `limit` indices, evenly spaced, first and last kept."""
    idx, values = wire.downsample(np.arange(1000.0), 400)
    assert len(idx) <= 400 and idx[0] == 0 and idx[-1] == 999
    np.testing.assert_array_equal(values, idx)
