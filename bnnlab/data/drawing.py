"""What the drawing canvas (`ui/draw_canvas.py`) sends, validated and turned into the digits'
format. The browser sends strokes only (polylines in 32×32 bitmap coordinates); the pixels are
computed here, by the same code that renders the OOD letters (`bnnlab.data.render`), so the
number the page shows is tested in Python, not in JavaScript."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from bnnlab.data import render

PEN_RADIUS = 1.75  # bitmap pixels: a 3.5-pixel pen, about the digits' stroke width
MAX_STROKES = 200
MAX_POINTS = 4000  # over all strokes; the canvas thins points closer than 0.25 px


class DrawingError(ValueError):
    """The canvas sent something that is not a drawing; the message says what."""


class Drawing(NamedTuple):
    image: np.ndarray  # float32[64] in 0..16: the strokes where they were drawn, pen PEN_RADIUS
    normalized: np.ndarray  # float32[64]: size-normalised, centred, digit ink (NIST's way)
    strokes: list[np.ndarray]  # float64[m_i, 2] polylines (x, y) in 0..32
    num_points: int


def parse_strokes(value: Any) -> list[np.ndarray]:
    """The canvas's state value -> polylines float64[m, 2] in [0, 32]. `None` or `[]` is an
    empty drawing. Raises `DrawingError` for anything else that is not a list of at most
    `MAX_STROKES` lists of [x, y] pairs of finite numbers, `MAX_POINTS` points in all;
    coordinates are clamped to the bitmap."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise DrawingError(f"a drawing is a list of strokes, got {type(value).__name__}")
    if len(value) > MAX_STROKES:
        raise DrawingError(f"a drawing has at most {MAX_STROKES} strokes, got {len(value)}")
    strokes, total = [], 0
    for stroke in value:
        if not isinstance(stroke, (list, tuple)):
            raise DrawingError("each stroke is a list of [x, y] points")
        total += len(stroke)
        if total > MAX_POINTS:
            raise DrawingError(f"a drawing has at most {MAX_POINTS} points")
        points = []
        for point in stroke:
            if (not isinstance(point, (list, tuple)) or len(point) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                               and math.isfinite(v) for v in point)):
                raise DrawingError("each point is a pair of finite numbers [x, y]")
            points.append(point)
        if points:
            strokes.append(np.clip(np.asarray(points, dtype=np.float64), 0.0, render.BITMAP))
    return strokes


def drawing_from_strokes(strokes: list[np.ndarray], pen_radius: float = PEN_RADIUS) -> Drawing:
    """Polylines in bitmap coordinates -> `Drawing`. `image`: the pixels within `pen_radius`
    of a stroke, counted in 4×4 blocks (ink where the learner drew it); `normalized`: the
    same strokes through `render.strokes_to_image` (size, position and ink as the digits'
    were normalised). No strokes: both zeros."""
    image = render.block_counts(render.rasterize_strokes(strokes, pen_radius))
    return Drawing(image=image, normalized=render.strokes_to_image(strokes), strokes=strokes,
                   num_points=int(sum(len(s) for s in strokes)))


def empty_drawing() -> Drawing:
    zeros = np.zeros(render.SIDE * render.SIDE, dtype=np.float32)
    return Drawing(image=zeros, normalized=zeros.copy(), strokes=[], num_points=0)
