"""Level-set lines of a gridded function (marching squares), as line segments ready to draw.

The live chart draws ten posterior samples' decision boundaries every frame; sending their
segments (one Plotly line trace) is far cheaper for the browser than ten contour traces that
plotly.js would have to trace itself.
"""

from __future__ import annotations

import numpy as np


def _crossing(p, q, xp):
    """Whether the level (0) lies strictly between corner values p and q, and where (0..1)."""
    crosses = (p < 0) != (q < 0)
    t = xp.where(crosses, p / xp.where(crosses, p - q, 1.0), 0.0)
    return crosses, xp.clip(t, 0.0, 1.0)


def cell_segments(z, level: float = 0.5, xp=np):
    """Marching squares without compaction, in `xp` (numpy or jax.numpy, so that it runs inside
    a compiled frame): for `z: float[..., ny, nx]`, each cell's segments in grid-index units.
    A cell has none, one (two crossed edges, joined) or two (a saddle: four crossed edges,
    joined bottom–right and top–left). Returns `(quads float[2, ..., ny−1, nx−1, 4],
    used bool[2, ..., ny−1, nx−1])`: each cell's first and second segment (x_start, y_start,
    x_end, y_end; x in 0…nx−1, y in 0…ny−1) and whether the cell has it; `quads[used]` lists
    the segments."""
    z = z - level
    bl, br = z[..., :-1, :-1], z[..., :-1, 1:]
    tr, tl = z[..., 1:, 1:], z[..., 1:, :-1]
    jj = xp.arange(bl.shape[-2], dtype=z.dtype)[:, None] + xp.zeros_like(bl)
    ii = xp.arange(bl.shape[-1], dtype=z.dtype)[None, :] + xp.zeros_like(bl)
    (cb, tb), (cr, tr_), (ct, tt), (cl, tl_) = (
        _crossing(bl, br, xp), _crossing(br, tr, xp), _crossing(tl, tr, xp),
        _crossing(bl, tl, xp))
    bottom = xp.stack([ii + tb, jj], axis=-1)
    right = xp.stack([ii + 1.0, jj + tr_], axis=-1)
    top = xp.stack([ii + tt, jj + 1.0], axis=-1)
    left = xp.stack([ii, jj + tl_], axis=-1)
    count = cb.astype(np.int32) + cr + ct + cl
    saddle = count == 4

    def pick(*options):  # the first option whose edge is crossed (the last is the fallback)
        out = options[-1][1]
        for crossed, point in options[-2::-1]:
            out = xp.where(crossed[..., None], point, out)
        return out

    # Two crossed edges: from the first crossed (bottom, right, top, left order) to the last.
    start = pick((cb, bottom), (cr, right), (ct, top), (None, left))
    end = xp.where(saddle[..., None], right, pick((cl, left), (ct, top), (cr, right),
                                                  (None, bottom)))
    first = xp.concatenate([start, end], axis=-1)
    second = xp.concatenate([top, left], axis=-1)
    return xp.stack([first, second]), xp.stack([(count == 2) | saddle, saddle])


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


def boundary_fields(probs, xp=np):
    """Fields whose 0.5 level is each sampled network's decision boundary, from its
    probabilities at grid points: binary P(y=1) float[S, n] (itself), or float[S, n, K] (for
    each class k, 0.5 + (p_k − max_{j≠k} p_j)/2, which crosses 0.5 where k stops being the
    argmax): float[S·F, n], sample-major (F = 1 binary, K categorical). In `xp` (numpy or
    jax.numpy)."""
    if probs.ndim == 2:
        return probs
    k = probs.shape[-1]
    others = xp.where(xp.eye(k, dtype=bool), -xp.inf, probs[..., None, :]).max(axis=-1)
    fields = 0.5 + 0.5 * (probs - others)  # [S, n, K]
    return xp.moveaxis(fields, -1, 1).reshape(-1, probs.shape[1])
