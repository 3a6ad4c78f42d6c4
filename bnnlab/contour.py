"""Level-set lines of a gridded function (marching squares), as line segments ready to draw.

The live chart draws ten posterior samples' decision boundaries every frame; sending their
segments (one Plotly line trace) is far cheaper for the browser than ten contour traces that
plotly.js would have to trace itself.
"""

from __future__ import annotations

import numpy as np

_EDGES = ("bottom", "right", "top", "left")
# The edge pairs a cell's segment may join, in output order: the six pairs of a cell with two
# crossings, then a saddle cell's (four crossings) two segments.
_PAIRS = tuple((a, b) for i, a in enumerate(_EDGES) for b in _EDGES[i + 1:]) + (
    ("bottom", "right"), ("top", "left"))
NUM_PAIRS = len(_PAIRS)


def _crossing(p, q, xp):
    """Whether the level (0) lies strictly between corner values p and q, and where (0..1)."""
    crosses = (p < 0) != (q < 0)
    t = xp.where(crosses, p / xp.where(crosses, p - q, 1.0), 0.0)
    return crosses, xp.clip(t, 0.0, 1.0)


def cell_segments(z, level: float = 0.5, xp=np):
    """Marching squares without compaction, in `xp` (numpy or jax.numpy, so that it runs inside
    a compiled frame): for `z: float[..., ny, nx]`, every cell's candidate segments in grid-index
    units. Returns `(quads float[P, ..., ny−1, nx−1, 4], used bool[P, ..., ny−1, nx−1])`: for each
    of the `NUM_PAIRS` edge pairs (x_start, y_start, x_end, y_end) with x in 0…nx−1 and y in
    0…ny−1, and whether that cell has that segment. `quads[used]` lists the segments in the order
    of `segments` below."""
    z = z - level
    bl, br = z[..., :-1, :-1], z[..., :-1, 1:]
    tr, tl = z[..., 1:, 1:], z[..., 1:, :-1]
    jj = xp.arange(bl.shape[-2], dtype=z.dtype)[:, None] + xp.zeros_like(bl)
    ii = xp.arange(bl.shape[-1], dtype=z.dtype)[None, :] + xp.zeros_like(bl)
    crossings = dict(zip(_EDGES, (_crossing(bl, br, xp), _crossing(br, tr, xp),
                                  _crossing(tl, tr, xp), _crossing(bl, tl, xp)), strict=True))
    points = {
        "bottom": (ii + crossings["bottom"][1], jj),
        "right": (ii + 1.0, jj + crossings["right"][1]),
        "top": (ii + crossings["top"][1], jj + 1.0),
        "left": (ii, jj + crossings["left"][1]),
    }
    mask = {edge: crossings[edge][0] for edge in _EDGES}
    count = sum(m.astype(np.int32) for m in mask.values())
    quads, used = [], []
    for k, (a, b) in enumerate(_PAIRS):
        quads.append(xp.stack([points[a][0], points[a][1], points[b][0], points[b][1]], axis=-1))
        used.append(count == 4 if k >= 6 else (count == 2) & mask[a] & mask[b])
    return xp.stack(quads), xp.stack(used)


def segments(z: np.ndarray, x0: float, dx: float, y0: float, dy: float,
             level: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Segments of {z = level} for `z: float[ny, nx]` sampled at x0 + i·dx, y0 + j·dy; or
    for several such grids at once, `z: float[S, ny, nx]` (all their segments together, in
    one vectorised pass: the live chart's ten posterior boundaries cost one call, not ten).

    Returns `(xs, ys)`, float64[3·m]: m segments as (start, end, NaN) triples, the NaN breaking
    the line between segments. Saddle cells (four crossings) get two segments.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        quads, used = cell_segments(np.asarray(z, np.float64), level)
    quads = quads[used]
    xs = np.full(3 * len(quads), np.nan)
    ys = np.full(3 * len(quads), np.nan)
    xs[0::3], xs[1::3] = x0 + dx * quads[:, 0], x0 + dx * quads[:, 2]
    ys[0::3], ys[1::3] = y0 + dy * quads[:, 1], y0 + dy * quads[:, 3]
    return xs, ys
