"""Chapter 5's lab: a learner's runs, one per recipe, each trained in the background by the one
`live.trainer.Trainer`, and the evidence measured for each (`bnnlab.lessons.digits` computes
it). Held in the page's session state."""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import numpy as np

from bnnlab.lessons.digits import (
    Evidence,
    _warm_ood_set,
    evidence,
    load_split,
    sample_probs,
    scale,
)
from bnnlab.live import scheduler
from bnnlab.live.run import Run
from bnnlab.live.trainer import LIVE, Status, Trainer, status_of
from bnnlab.training.config import TrainConfig


class Progress(NamedTuple):
    """What the page shows of one recipe's training."""

    status: Status
    step: int
    steps: int
    history: np.ndarray  # float32[3, step]: the objective, its log-likelihood, its regulariser
    message: str  # why training stopped (an error, a divergence), else ""
    train_s: float


class RecipeRun(NamedTuple):
    cfg: TrainConfig  # as asked for (the run's own may have a shortened chunk)
    run: Run
    trainer: Trainer


class Lab:
    """A learner's runs, one per recipe, each trained by its own `live.trainer.Trainer` on a
    worker thread through `scheduler.ACCELERATOR`, and the evidence measured for each (cached
    per trained step). Held in the page's session state."""

    def __init__(self, slots: scheduler.Slots | None = None) -> None:
        self.slots = slots or scheduler.ACCELERATOR
        self._runs: dict[str, RecipeRun] = {}
        self._evidence: dict[tuple[str, int, TrainConfig], Evidence] = {}
        # The OOD set takes seconds to render once per process: start it now, off the page.
        threading.Thread(target=_warm_ood_set, daemon=True, name="bnnlab-ood-warm").start()

    def _current(self, name: str, cfg: TrainConfig | None = None) -> RecipeRun | None:
        entry = self._runs.get(name)
        return None if entry is None or (cfg is not None and entry.cfg != cfg) else entry

    def start(self, name: str, cfg: TrainConfig) -> None:
        """Train recipe `name` with `cfg` (from where it stands, or anew when `cfg` changed);
        raises `ConfigError` (over the cost budget) or `DataError` (the digits are missing)."""
        entry = self._current(name, cfg)
        if entry is None:
            self.reset(name)
            data = load_split(cfg.test_fraction, cfg.seed)
            # Full chunks only (the cost model's length, `cost.check_cost`), never sized by the
            # measured time: VI draws its noise once per chunk, so chunk lengths that followed
            # the machine's load would change the result. So a page run equals the CLI's.
            run = Run(cfg, data, chunk_seconds=math.inf)
            entry = self._runs[name] = RecipeRun(cfg, run, Trainer(run, self.slots))
        entry.trainer.start()

    def pause(self, name: str) -> None:
        entry = self._runs.get(name)
        if entry is not None:
            entry.trainer.stop(wait=False)

    def reset(self, name: str) -> None:
        entry = self._runs.pop(name, None)
        if entry is not None:
            entry.run.retired = True
            entry.trainer.stop(wait=False)

    def progress(self, name: str, cfg: TrainConfig) -> Progress:
        """Recipe `name`'s training with `cfg` (idle when it has not started with it); the page
        asking for it keeps it training (`Trainer.touch`)."""
        entry = self._current(name, cfg)
        if entry is None:
            return Progress(Status.IDLE, 0, cfg.steps, np.zeros((3, 0), np.float32), "", 0.0)
        run, trainer = entry.run, entry.trainer
        trainer.touch()
        status = status_of(run, trainer, run.step, run.diverged)
        message = trainer.error or ("Training diverged (a step gave NaN or infinity); the last "
                                    "finite state is kept." if run.diverged else "")
        return Progress(status, run.step, run.cfg.steps, np.stack(run.history_arrays()),
                        message, run.train_seconds)

    def join(self, timeout: float) -> bool:
        """Wait until every recipe's trainer has stopped (at most `timeout` s each); whether
        they all have."""
        return all([entry.trainer.join(timeout) for entry in list(self._runs.values())])

    def running(self) -> bool:
        """Whether any recipe is training (or waiting to)."""
        return any(status_of(e.run, e.trainer, e.run.step, e.run.diverged) in LIVE
                   for e in self._runs.values())

    def trained(self) -> dict[str, Run]:
        """Recipes with at least one step trained."""
        return {n: e.run for n, e in self._runs.items() if e.run.step > 0}

    def predict(self, name: str, images: np.ndarray, wait_s: float = 20.0) -> np.ndarray | None:
        """float32[S, n, 10] of recipe `name`'s current state for images 0..16 float[n, 64];
        None before its first step. Runs on an accelerator worker, not the caller's thread."""
        run = self.trained().get(name)
        if run is None:
            return None
        future = self.slots.submit(sample_probs, run, run.snapshot.state, scale(images),
                                   wait_timeout=wait_s)
        return future.result(timeout=wait_s + 30)

    def evidence(self, name: str, wait_s: float = 60.0) -> Evidence | None:
        """`evidence` of recipe `name` at its current step (cached); None before training."""
        entry = self._runs.get(name)
        if entry is None or entry.run.step == 0:
            return None
        snap = entry.run.snapshot
        key = (name, snap.step, entry.cfg)
        if key not in self._evidence:
            future = self.slots.submit(evidence, entry.run, snap.state, entry.cfg, name,
                                       wait_timeout=wait_s)
            self._evidence[key] = future.result(timeout=wait_s + 120)
        return self._evidence[key]
