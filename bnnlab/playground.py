"""The playground's data: the generated or uploaded points, split and standardised, plus the
points a learner adds by clicking, and their URL format. The live session itself is
`bnnlab.session`; the wire format of its frames `bnnlab.wire`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnnlab import datasets
from bnnlab.config import MAX_ABS_COORD, MAX_ADDED_POINTS, MAX_CLASSES, TrainConfig


class PlaygroundData(NamedTuple):
    """Standardised train/test points plus where they came from."""

    x_train: np.ndarray  # float32[n, 2]
    y_train: np.ndarray  # int32[n]
    x_test: np.ndarray  # float32[m, 2]
    y_test: np.ndarray  # int32[m]
    source: str  # a dataset name or "upload"


def build_data(cfg: TrainConfig, added: list[tuple[float, float, int]] | None = None,
               uploaded: tuple[np.ndarray, np.ndarray] | None = None) -> PlaygroundData:
    """The dataset `cfg` names (or an uploaded `(x, y)`), split and standardised, with points
    added by clicks appended to the training set (they are given in standardised units)."""
    if uploaded is not None:
        x, y = uploaded
        source = "upload"
    else:
        x, y = datasets.make(cfg.dataset, cfg.num_points, cfg.noise, cfg.seed, cfg.num_classes)
        source = cfg.dataset
    data = datasets.prepare(x, y, cfg.test_fraction, cfg.seed)
    x_train, y_train = data.x_train, data.y_train
    if added:
        extra = np.asarray([(a, b) for a, b, _ in added], np.float32).reshape(-1, 2)
        labels = np.asarray([c for _, _, c in added], np.int32)
        x_train = np.concatenate([x_train, extra])
        y_train = np.concatenate([y_train, labels])
    return PlaygroundData(x_train, y_train, data.x_test, data.y_test, source)


# Settings a running session can take without starting over: optimisation hyperparameters are
# traced arguments; steps per redraw and the step budget only choose the engine / stop point.
LIVE_FIELDS = ("lr", "kl_weight", "prior_std", "steps", "steps_per_chunk", "grid_size")


def needs_reset(old: TrainConfig, new: TrainConfig) -> bool:
    """True when `new` changes the data, the architecture or the method's static settings."""
    return any(getattr(old, f) != getattr(new, f)
               for f in TrainConfig.__dataclass_fields__ if f not in LIVE_FIELDS)


def in_bounds(x: float, y: float) -> bool:
    """Whether a clicked point may join the data: finite and within ±MAX_ABS_COORD."""
    return bool(np.isfinite(x) and np.isfinite(y)
                and abs(x) <= MAX_ABS_COORD and abs(y) <= MAX_ABS_COORD)


def encode_added(points: list[tuple[float, float, int]]) -> str:
    """Clicked points for the URL: 'x:y:c;x:y:c' with 3 decimals."""
    return ";".join(f"{x:.3f}:{y:.3f}:{c}" for x, y, c in points)


def decode_added(text: str) -> tuple[list[tuple[float, float, int]], str | None]:
    """Parse `encode_added`'s format; returns (points, notice or None). Malformed or
    out-of-range entries are dropped with a notice; at most MAX_ADDED_POINTS are kept."""
    points: list[tuple[float, float, int]] = []
    bad = 0
    for part in str(text).split(";")[: MAX_ADDED_POINTS + 1]:
        if not part:
            continue
        fields = part.split(":")
        try:
            x, y, c = float(fields[0]), float(fields[1]), int(fields[2])
            ok = len(fields) == 3 and 0 <= c < MAX_CLASSES and in_bounds(x, y)
        except (ValueError, IndexError):
            ok = False
        if ok:
            points.append((x, y, c))
        else:
            bad += 1
    notice = None
    if len(points) > MAX_ADDED_POINTS:
        points = points[:MAX_ADDED_POINTS]
        notice = f"Kept the first {MAX_ADDED_POINTS} added points."
    if bad:
        notice = f"Ignored {bad} malformed added point(s) in the link."
    return points, notice
