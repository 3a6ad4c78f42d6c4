"""Images in the optdigits format: a 32×32 binary bitmap counted in 4×4 blocks gives 8×8
integers in 0..16 (Alpaydin & Kaynak 1998, UCI optdigits). One definition, used by the
generated out-of-distribution images (`bnnlab.data.ood`) and by the drawing canvas
(`bnnlab.data.drawing`), so that what a learner draws is measured the way the digits were.

The digits were made from NIST's normalised bitmaps (Garris et al. 1994, NISTIR 5469): each
glyph is scaled to fill the 32-pixel box in height (aspect ratio kept) and centred, and the
stroke width is normalised, so every class carries about the same ink (measured on the 1,797
shipped images: 312 ± 34 of the 1,024 bitmap pixels on, 303–330 per class, the thin "1"
included). `normalize_strokes` and `thicken_to_ink` reproduce those two steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

BITMAP = 32  # side of the binary bitmap
BLOCK = 4  # side of a counted block: 8×8 blocks of 16 pixels
SIDE = BITMAP // BLOCK  # 8
MAX_VALUE = BLOCK * BLOCK  # 16
# The shipped digits' ink: mean and standard deviation of the on-pixels per 32×32 bitmap
# (sum of the 64 block counts), measured by tests/unit/test_digits_data.py on the shipped file.
DIGIT_INK_MEAN = 312.6
DIGIT_INK_STD = 34.5

_CENTRES = np.stack(np.meshgrid(np.arange(BITMAP) + 0.5, np.arange(BITMAP) + 0.5,
                                indexing="xy"), axis=-1).reshape(-1, 2)  # (x, y) per pixel


def block_counts(bitmap: np.ndarray) -> np.ndarray:
    """bool[32, 32] (row = y, downwards) -> float32[64]: on-pixels per 4×4 block, row-major,
    each in 0..16 (the optdigits reduction)."""
    bitmap = np.asarray(bitmap, dtype=bool)
    if bitmap.shape != (BITMAP, BITMAP):
        raise ValueError(f"bitmap must be {BITMAP}×{BITMAP}, got {bitmap.shape}")
    counts = bitmap.reshape(SIDE, BLOCK, SIDE, BLOCK).sum(axis=(1, 3))
    return counts.reshape(-1).astype(np.float32)


def _segment_distances(points: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """float[p, 2], float[s, 2], float[s, 2] -> float[p]: distance from each point to the
    nearest of the segments (a zero-length segment is a dot)."""
    best = np.full(len(points), np.inf)
    for lo in range(0, len(starts), 256):  # bounded memory: p × 256 at a time
        a, b = starts[lo:lo + 256], ends[lo:lo + 256]
        ab = b - a
        length2 = np.sum(ab * ab, axis=1)
        ap = points[:, None, :] - a[None, :, :]
        t = np.sum(ap * ab[None], axis=2) / np.where(length2 > 0, length2, 1.0)[None]
        t = np.clip(np.where(length2[None] > 0, t, 0.0), 0.0, 1.0)
        nearest = a[None] + t[..., None] * ab[None]
        dist = np.sqrt(np.sum((points[:, None, :] - nearest) ** 2, axis=2))
        best = np.minimum(best, dist.min(axis=1))
    return best


def point_distance(points: np.ndarray) -> np.ndarray:
    """float[m, 2] points in bitmap coordinates -> float[32, 32]: each pixel centre's distance
    to the nearest point (inf where there are none)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(points) == 0:
        return np.full((BITMAP, BITMAP), np.inf)
    d2 = (np.sum(_CENTRES ** 2, axis=1)[:, None] - 2.0 * _CENTRES @ points.T
          + np.sum(points ** 2, axis=1)[None, :])
    return np.sqrt(np.maximum(d2.min(axis=1), 0.0)).reshape(BITMAP, BITMAP)


_RADIUS = 8
_OFFSETS = sorted(((dy, dx) for dy in range(-_RADIUS, _RADIUS + 1)
                   for dx in range(-_RADIUS, _RADIUS + 1) if dx * dx + dy * dy <= _RADIUS ** 2),
                  key=lambda o: o[0] ** 2 + o[1] ** 2)


def grid_distance(core: np.ndarray, min_reach: int = 0) -> np.ndarray:
    """bool[32, 32] core pixels -> float[32, 32]: each pixel's Euclidean distance to the
    nearest core pixel (exact; what `point_distance` gives for the core pixels' centres).
    Pixel offsets up to 8 are tried in order of length; if fewer than `min_reach` pixels are
    that close, the rest come from `point_distance`."""
    core = np.asarray(core, dtype=bool)
    if not core.any():
        return np.full((BITMAP, BITMAP), np.inf)
    distance = np.full((BITMAP, BITMAP), np.inf)
    padded = np.pad(core, _RADIUS)
    for dy, dx in _OFFSETS:
        hit = padded[_RADIUS + dy:_RADIUS + dy + BITMAP, _RADIUS + dx:_RADIUS + dx + BITMAP]
        distance = np.where(hit & np.isinf(distance), np.hypot(dx, dy), distance)
    if np.isfinite(distance).sum() < min_reach:
        return point_distance(_CENTRES[core.reshape(-1)])
    return distance


def signed_grid_distance(core: np.ndarray, min_reach: int = 0) -> np.ndarray:
    """bool[32, 32] core -> float[32, 32]: outside the core, the distance to it
    (`grid_distance`); inside, minus the distance to the nearest pixel outside it (at most
    −9), so sorting ascending lists the core's deepest pixels first, then the pixels around it
    from near to far: `thicken_to_ink` then thins a core heavier than the target ink evenly
    and grows a lighter one evenly."""
    core = np.asarray(core, dtype=bool)
    outside = grid_distance(core, min_reach)
    if core.all():
        return np.full((BITMAP, BITMAP), -(_RADIUS + 1.0))
    inside = np.minimum(grid_distance(~core), _RADIUS + 1.0)
    return np.where(core, -inside, outside)


def _segments(strokes: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    starts, ends = [], []
    for stroke in strokes:
        s = np.asarray(stroke, dtype=np.float64).reshape(-1, 2)
        if len(s) == 0:
            continue
        if len(s) == 1:
            s = np.concatenate([s, s])
        starts.append(s[:-1])
        ends.append(s[1:])
    if not starts:
        return np.zeros((0, 2)), np.zeros((0, 2))
    return np.concatenate(starts), np.concatenate(ends)


def stroke_distance(strokes: Sequence[np.ndarray], reach: float = np.inf) -> np.ndarray:
    """Polylines in bitmap coordinates (x right, y down, 0..32) -> float[32, 32]: each pixel
    centre's distance to the nearest stroke (inf where there is none). With a finite `reach`
    only distances ≤ `reach` are kept (exact; the rest are inf), measured per segment in
    a window around it: the cost then grows with the drawing's length, not with 1,024
    pixels × segments."""
    starts, ends = _segments(strokes)
    if len(starts) == 0:
        return np.full((BITMAP, BITMAP), np.inf)
    if not np.isfinite(reach):
        return _segment_distances(_CENTRES, starts, ends).reshape(BITMAP, BITMAP)
    best = np.full((BITMAP, BITMAP), np.inf)
    lo = np.floor(np.minimum(starts, ends) - reach).astype(int).clip(0, BITMAP)
    hi = np.ceil(np.maximum(starts, ends) + reach).astype(int).clip(0, BITMAP)
    for a, b, (x0, y0), (x1, y1) in zip(starts, ends, lo, hi, strict=True):
        if x1 <= x0 or y1 <= y0:
            continue
        cy, cx = np.mgrid[y0:y1, x0:x1] + 0.5
        ab = b - a
        length2 = ab @ ab
        t = 0.0 if length2 == 0 else np.clip(((cx - a[0]) * ab[0] + (cy - a[1]) * ab[1])
                                             / length2, 0.0, 1.0)
        dist = np.hypot(cx - (a[0] + t * ab[0]), cy - (a[1] + t * ab[1]))
        np.minimum(best[y0:y1, x0:x1], dist, out=best[y0:y1, x0:x1])
    # Beyond `reach` a pixel's nearest segment may not have been measured: leave it unknown.
    return np.where(best <= reach, best, np.inf)


def rasterize_strokes(strokes: Sequence[np.ndarray], pen_radius: float) -> np.ndarray:
    """Polylines in bitmap coordinates -> bool[32, 32]: the pixels whose centre lies within
    `pen_radius` of a stroke (a round pen; a one-point stroke is a dot)."""
    return stroke_distance(strokes, reach=pen_radius + 1.0) <= pen_radius


def thicken_to_ink(distance: np.ndarray, ink: int, tie_break: np.ndarray | None = None,
                   ) -> np.ndarray:
    """float[32, 32] distance to a glyph's core (signed: negative inside, see
    `signed_grid_distance`) -> bool[32, 32] with the `ink` pixels of smallest distance on (a
    pen that grows, or shrinks, until the glyph carries `ink` pixels: NIST's stroke-width
    normalisation in one line). `tie_break` (larger first) orders equal distances; pixels at
    infinite distance are never drawn. An all-infinite input gives an empty bitmap."""
    distance = np.asarray(distance, dtype=np.float64)
    ink = int(np.clip(ink, 0, BITMAP * BITMAP))
    flat = distance.reshape(-1)
    secondary = (np.zeros_like(flat) if tie_break is None
                 else -np.asarray(tie_break, dtype=np.float64).reshape(-1))
    order = np.lexsort((np.arange(flat.size), secondary, flat))[:ink]
    order = order[np.isfinite(flat[order])]
    bitmap = np.zeros(flat.size, dtype=bool)
    bitmap[order] = True
    return bitmap.reshape(BITMAP, BITMAP)


def normalize_strokes(strokes: Sequence[np.ndarray], box_height: float = BITMAP,
                      offset: tuple[float, float] = (0.0, 0.0)) -> list[np.ndarray]:
    """Scale and move polylines so their bounding box fills `box_height` pixels in height (or
    32 in width, whichever binds first; aspect ratio kept) centred in the 32×32 bitmap, then
    shifted by `offset` (dx, dy) pixels: NIST's size normalisation. A dot or a straight line
    keeps its extent along the other axis at zero."""
    arrays = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes]
    arrays = [a for a in arrays if len(a)]
    if not arrays:
        return []
    every = np.concatenate(arrays)
    lo, hi = every.min(axis=0), every.max(axis=0)
    extent = hi - lo
    # Leave room for the pen: the centre lines span the box less 2 px (the grown pen's radius
    # is ~1.5 px at the digits' ink).
    room_h, room_w = max(box_height - 2.0, 1.0), BITMAP - 2.0
    scales = [room_h / extent[1] if extent[1] > 0 else np.inf,
              room_w / extent[0] if extent[0] > 0 else np.inf]
    scale = min(scales)
    if not np.isfinite(scale):
        scale = 1.0  # a single dot: nothing to scale
    centre = (lo + hi) / 2.0
    target = np.array([BITMAP / 2.0 + offset[0], BITMAP / 2.0 + offset[1]])
    return [(a - centre) * scale + target for a in arrays]


def strokes_to_image(strokes: Sequence[np.ndarray], ink: float = DIGIT_INK_MEAN) -> np.ndarray:
    """Polylines (any coordinates) -> float32[64] the optdigits way: size-normalised and
    centred (`normalize_strokes`), the pen grown until the bitmap carries `ink` on-pixels
    (`thicken_to_ink`), counted in 4×4 blocks. No strokes -> zeros."""
    placed = normalize_strokes(strokes)
    if not placed:
        return np.zeros(SIDE * SIDE, dtype=np.float32)
    ink = int(round(ink))
    distance = stroke_distance(placed, reach=_RADIUS)
    if np.isfinite(distance).sum() < ink:  # a tiny drawing: measure every pixel
        distance = stroke_distance(placed)
    return block_counts(thicken_to_ink(distance, ink))
