"""bnnlab.contour: marching-squares segments lie on the level set."""

import numpy as np

from bnnlab.core import contour


def test_circle_segments_lie_on_the_circle():
    """Segments of x²+y² = 0.25 on a 41×41 grid have endpoints at radius 0.5 (±1e-3)."""
    axis = np.linspace(-1, 1, 41)
    gx, gy = np.meshgrid(axis, axis)
    xs, ys = contour.segments(gx**2 + gy**2, -1, 0.05, -1, 0.05, level=0.25)
    radius = np.hypot(xs, ys)[~np.isnan(xs)]
    assert len(radius) > 50
    np.testing.assert_allclose(radius, 0.5, atol=1e-3)


def test_straight_line_boundary():
    """A linear function's level set is the exact line x = 0.3."""
    axis = np.linspace(-1, 1, 21)
    gx, _ = np.meshgrid(axis, axis)
    xs, _ = contour.segments(gx, -1, 0.1, -1, 0.1, level=0.3)
    np.testing.assert_allclose(xs[~np.isnan(xs)], 0.3, atol=1e-9)


def test_no_crossing_gives_no_segments():
    """A function that never reaches the level gives no segments."""
    xs, ys = contour.segments(np.zeros((5, 5)), 0, 1, 0, 1, level=0.5)
    assert xs.size == 0 and ys.size == 0
