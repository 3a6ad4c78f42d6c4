"""Every registered method on every map dataset (two classes, and K = 3 where a set takes K
classes), through the same path a page takes: a live `Run` trained to its end (a method's
post-training fit included), its metrics, its frame and its history. One parametrised suite: a
new method or dataset in the registry is tested here without a line of its own."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bnnlab import registry
from bnnlab.lessons.playground import build_data
from bnnlab.live import frames
from bnnlab.live.run import Run
from bnnlab.training.config import TrainConfig

STEPS = 12
FAST_DATASET = "moons"  # every method on it is in the fast tier; the other sets are `slow`
CASES = [pytest.param(m, d, k, marks=() if (d, k) == (FAST_DATASET, 2) else pytest.mark.slow)
         for k, sets in ((2, registry.MAP_DATASETS), (3, registry.kclass_datasets()))
         for d in sets for m in registry.METHODS]


def _config(method: str, dataset: str, num_classes: int) -> TrainConfig:
    """A tiny run of `method`; a sampler warms up for half its steps."""
    cfg = TrainConfig(method=method, dataset=dataset, num_classes=num_classes, num_points=60,
                      hidden=(4,), num_samples=2, steps=STEPS, steps_per_chunk=STEPS,
                      grid_size=12)
    warmup = registry.method(method).warmup
    return cfg if warmup is None else cfg.replace(**{warmup.setting: STEPS // 2})


@pytest.mark.parametrize("method,dataset,num_classes", CASES)
def test_a_run_trains_and_reports_like_every_other(method, dataset, num_classes):
    """The run takes all its steps, keeps a history of finite traces, reports metrics in their
    ranges (entropies within [0, ln K]) and draws a frame of K classes on its grid."""
    cfg = _config(method, dataset, num_classes)
    run = Run(cfg, build_data(cfg))
    while not run.finished:
        assert run.advance() > 0
    assert run.step == STEPS and not run.diverged
    history = run.history_arrays()
    assert all(len(h) == STEPS and np.isfinite(h).all() for h in history)
    metrics = run.metrics()
    for name in ("train_acc", "test_acc"):
        assert 0.0 <= metrics[name] <= 1.0
    assert metrics["test_nll"] >= 0 and 0 <= metrics["ece"] <= 1
    for name in ("entropy_near", "entropy_far"):
        assert -1e-6 <= metrics[name] <= math.log(num_classes) + 1e-6
    frame = frames.frame(run, cfg.grid_size, 1.0, "epistemic")
    assert frame["num_classes"] == num_classes and len(frame["classes"]) == num_classes
    assert frame["grid"]["nx"] == frame["grid"]["ny"] == cfg.grid_size
    assert frame["step"] == STEPS
