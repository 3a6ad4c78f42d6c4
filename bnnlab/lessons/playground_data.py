"""The playground's data and click modes, free of any session: the points a run trains on
(generated or uploaded, plus those clicked onto the map), which settings need a new run, and
what a click on the map can do (`bnnlab.lessons.playground.Session` uses them)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bnnlab.core import palette
from bnnlab.core.errors import BudgetError
from bnnlab.data import toy
from bnnlab.training import cost
from bnnlab.training.config import LIVE_FIELDS, TrainConfig
from bnnlab.training.links import AddedPoint


class PlaygroundData(NamedTuple):
    """Standardised train/test points plus where they came from."""

    x_train: np.ndarray  # float32[n, 2]
    y_train: np.ndarray  # int32[n]
    x_test: np.ndarray  # float32[m, 2]
    y_test: np.ndarray  # int32[m]
    source: str  # a dataset name or "upload"


def build_data(cfg: TrainConfig, added: list[AddedPoint] | None = None,
               uploaded: tuple[np.ndarray, np.ndarray] | None = None) -> PlaygroundData:
    """The dataset `cfg` names (or an uploaded `(x, y)`), split and standardised, with points
    added by clicks appended to the training set (they are given in standardised units)."""
    if uploaded is not None:
        x, y = uploaded
        source = "upload"
    else:
        x, y = toy.make(cfg.dataset, cfg.num_points, cfg.noise, cfg.seed, cfg.num_classes)
        source = cfg.dataset
    data = toy.prepare(x, y, cfg.test_fraction, cfg.seed)
    x_train, y_train = data.x_train, data.y_train
    if added:
        extra = np.asarray([(a, b) for a, b, _ in added], np.float32).reshape(-1, 2)
        labels = np.asarray([c for _, _, c in added], np.int32)
        x_train = np.concatenate([x_train, extra])
        y_train = np.concatenate([y_train, labels])
    return PlaygroundData(x_train, y_train, data.x_test, data.y_test, source)


def needs_reset(old: TrainConfig, new: TrainConfig) -> bool:
    """True when `new` changes the data, the architecture or the method's static settings: any
    setting a running run cannot take (`config.LIVE_FIELDS`)."""
    return any(getattr(old, f) != getattr(new, f)
               for f in TrainConfig.__dataclass_fields__ if f not in LIVE_FIELDS)


def add_modes(num_classes: int) -> tuple[str, ...]:
    """The click modes that add a point of each class: "add0" … "add{K−1}"."""
    return tuple(f"add{k}" for k in range(num_classes))


def click_modes(num_classes: int) -> dict[str, str]:
    """What a click on the map does, mode -> label: look, add a point of class k < K, probe."""
    return {"view": "Look", **{mode: f"Add {palette.class_name(k)}"
                               for k, mode in enumerate(add_modes(num_classes))},
            "probe": "Probe"}


def _effective(cfg: TrainConfig, uploaded: tuple[np.ndarray, np.ndarray] | None) -> TrainConfig:
    """`cfg` as the run trains it: with an upload, K comes from the file's labels."""
    if uploaded is None:
        return cfg
    return cfg.replace(num_classes=toy.num_classes_of(uploaded[1]))


def check_upload_budget(cfg: TrainConfig, xy: tuple[np.ndarray, np.ndarray]) -> None:
    """Raise `BudgetError` if `cfg` on the uploaded `xy` is over the cost budget; when the rows
    are what to lower, its `at_most` counts the file's rows (the budget counts the training
    split's)."""
    train = len(build_data(cfg, None, xy).x_train)
    try:
        cost.check_cost(cfg, train)
    except BudgetError as err:
        if err.setting == "num_points" and err.at_most is not None:
            err.at_most = int(err.at_most * len(xy[0]) / train)
        raise
