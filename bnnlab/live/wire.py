"""The wire format between the library and the canvas components (`ui/wire.js` decodes it):
compact base64 strings instead of JSON lists of floats, which took the server longer to build
and encode than the frame's numbers took to compute.

* grids: uint8 over [0, vmax], row-major (`encode_grid`);
* arrays: little-endian float32, non-finite values as NaN, a break in a line (`encode_floats`);
* line segments: uint16 coordinates over a box, four per segment (`encode_segments`);
* points: coordinates as float32 arrays, classes as a '0'/'1' string (`points_payload`).

Every `encode_*` has its numpy inverse `decode_*` here; the JavaScript inverses are tested
against these encoders in Chromium (tests/browser/test_browser_wire.py).
"""

from __future__ import annotations

import base64

import numpy as np


def encode_grid(values: np.ndarray, vmax: float) -> str:
    """Quantise `values: float[ny, nx]` in [0, vmax] to uint8 and base64 it (row-major)."""
    scaled = np.clip(np.nan_to_num(np.asarray(values, np.float64) / vmax), 0.0, 1.0)
    return base64.b64encode(np.round(scaled * 255).astype(np.uint8).tobytes()).decode("ascii")


def encode_bytes(values: np.ndarray) -> str:
    """Small whole numbers `values: int[...]` in 0…255 as base64 bytes (row-major): e.g. the
    predicted class of each grid cell."""
    return base64.b64encode(np.asarray(values, np.uint8).tobytes()).decode("ascii")


def decode_bytes(text: str, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of `encode_bytes`: uint8[shape]."""
    return np.frombuffer(base64.b64decode(text), np.uint8).reshape(shape)


def decode_grid(text: str, shape: tuple[int, int], vmax: float) -> np.ndarray:
    """Inverse of `encode_grid` up to quantisation (±vmax/510): float32[shape]."""
    raw = np.frombuffer(base64.b64decode(text), np.uint8).reshape(shape)
    return raw.astype(np.float32) / 255.0 * vmax


def encode_floats(values: np.ndarray) -> str:
    """float32 little-endian bytes of `values` (flattened), base64; non-finite values become
    NaN."""
    arr = np.asarray(values, np.float64).ravel()
    arr = np.where(np.isfinite(arr), arr, np.nan).astype("<f4")
    return base64.b64encode(arr.tobytes()).decode("ascii")


def decode_floats(text: str) -> np.ndarray:
    """Inverse of `encode_floats`: float32[n]."""
    return np.frombuffer(base64.b64decode(text), "<f4").astype(np.float32)


def encode_segments(xs: np.ndarray, ys: np.ndarray, box: tuple[float, float, float, float]
                    ) -> dict:
    """Line segments from `contour.segments` ((start, end, NaN) triples) inside `box` =
    (x0, x1, y0, y1), as uint16 coordinates over the box (x_start, y_start, x_end, y_end per
    segment, base64): a third of the bytes of float32 triples, and at most box/65535 off."""
    x0, x1, y0, y1 = box
    xs, ys = np.asarray(xs, np.float64), np.asarray(ys, np.float64)
    quads = np.stack([xs[0::3], ys[0::3], xs[1::3], ys[1::3]], axis=-1).reshape(-1, 4)
    quads = quads[np.isfinite(quads).all(axis=1)]
    if not np.isfinite(box).all():
        quads = quads[:0]
    lo = np.array([x0, y0, x0, y0])
    span = np.maximum(np.array([x1 - x0, y1 - y0] * 2), 1e-12)
    q = np.round(np.clip((quads - lo) / span, 0.0, 1.0) * 65535)
    return quantised_segments(q, box)


def quantised_segments(q: np.ndarray, box: tuple[float, float, float, float]) -> dict:
    """`encode_segments`'s payload from segments already quantised over `box`: uint16[n, 4]
    (e.g. by the live frame's compiled call, `engine.frame_fields`)."""
    x0, x1, y0, y1 = box
    q = np.asarray(q).astype("<u2").reshape(-1, 4)
    return {"q": base64.b64encode(q.tobytes()).decode("ascii"), "n": len(q),
            "x0": x0, "x1": x1, "y0": y0, "y1": y1}


def decode_segments(payload: dict) -> np.ndarray:
    """Inverse of `encode_segments`: float64[n, 4] (x_start, y_start, x_end, y_end)."""
    q = np.frombuffer(base64.b64decode(payload["q"]), "<u2").reshape(-1, 4) / 65535.0
    lo = np.array([payload["x0"], payload["y0"]] * 2)
    span = np.array([payload["x1"] - payload["x0"], payload["y1"] - payload["y0"]] * 2)
    return lo + q * span


def points_payload(x: np.ndarray, y: np.ndarray) -> dict:
    """Points `x: float32[n, 2]` with classes `y: int[n]` (0…K−1, K ≤ 9: one digit each) for a
    canvas component."""
    return {"x": encode_floats(x[:, 0]), "y": encode_floats(x[:, 1]),
            "c": (np.asarray(y, np.uint8) + ord("0")).tobytes().decode("ascii"), "n": len(y)}


def grid_header(xs: np.ndarray, ys: np.ndarray) -> dict:
    """Where a grid's cells lie: first centre and spacing along each axis, and the counts."""
    dx = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
    dy = float(ys[1] - ys[0]) if len(ys) > 1 else 1.0
    return {"x0": float(xs[0]), "dx": dx, "y0": float(ys[0]), "dy": dy,
            "nx": len(xs), "ny": len(ys)}


def downsample(values: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, values) with at most `limit` evenly spaced entries, always keeping the last."""
    n = len(values)
    if n <= limit:
        idx = np.arange(n)
    else:
        idx = np.unique(np.linspace(0, n - 1, limit).round().astype(int))
    return idx, values[idx]
