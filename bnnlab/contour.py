"""Level-set lines of a gridded function (marching squares), as line segments ready to draw.

The live chart draws ten posterior samples' decision boundaries every frame; sending their
segments (one Plotly line trace) is far cheaper for the browser than ten contour traces that
plotly.js would have to trace itself.
"""

from __future__ import annotations

import numpy as np

_EDGES = ("bottom", "right", "top", "left")


def _crossing(p: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether the level (0) lies strictly between corner values p and q, and where (0..1)."""
    crosses = (p < 0) != (q < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(crosses, p / (p - q), 0.0)
    return crosses, np.clip(t, 0.0, 1.0)


def segments(z: np.ndarray, x0: float, dx: float, y0: float, dy: float,
             level: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Segments of {z = level} for `z: float[ny, nx]` sampled at x0 + i·dx, y0 + j·dy; or
    for several such grids at once, `z: float[S, ny, nx]` (all their segments together, in
    one vectorised pass: the live chart's ten posterior boundaries cost one call, not ten).

    Returns `(xs, ys)`, float64[3·m]: m segments as (start, end, NaN) triples, the NaN breaking
    the line between segments. Saddle cells (four crossings) get two segments.
    """
    z = np.asarray(z, np.float64) - level
    bl, br = z[..., :-1, :-1], z[..., :-1, 1:]
    tr, tl = z[..., 1:, 1:], z[..., 1:, :-1]
    jj, ii = np.meshgrid(np.arange(bl.shape[-2]), np.arange(bl.shape[-1]), indexing="ij")
    jj, ii = np.broadcast_to(jj, bl.shape), np.broadcast_to(ii, bl.shape)
    crossings = dict(zip(_EDGES, (_crossing(bl, br), _crossing(br, tr), _crossing(tl, tr),
                                  _crossing(bl, tl)), strict=True))
    points = {
        "bottom": (ii + crossings["bottom"][1], jj + 0.0),
        "right": (ii + 1.0, jj + crossings["right"][1]),
        "top": (ii + crossings["top"][1], jj + 1.0),
        "left": (ii + 0.0, jj + crossings["left"][1]),
    }
    mask = {edge: crossings[edge][0] for edge in _EDGES}
    count = sum(m.astype(int) for m in mask.values())
    starts, ends = [], []
    # Cells with exactly two crossings: join them (try each pair of edges).
    for a_i, a in enumerate(_EDGES):
        for b in _EDGES[a_i + 1:]:
            sel = (count == 2) & mask[a] & mask[b]
            starts.append(np.stack([points[a][0][sel], points[a][1][sel]], axis=-1))
            ends.append(np.stack([points[b][0][sel], points[b][1][sel]], axis=-1))
    saddle = count == 4
    for a, b in (("bottom", "right"), ("top", "left")):
        starts.append(np.stack([points[a][0][saddle], points[a][1][saddle]], axis=-1))
        ends.append(np.stack([points[b][0][saddle], points[b][1][saddle]], axis=-1))
    start = np.concatenate(starts)
    end = np.concatenate(ends)
    xs = np.full(3 * len(start), np.nan)
    ys = np.full(3 * len(start), np.nan)
    xs[0::3], xs[1::3] = x0 + dx * start[:, 0], x0 + dx * end[:, 0]
    ys[0::3], ys[1::3] = y0 + dy * start[:, 1], y0 + dy * end[:, 1]
    return xs, ys
