"""The one status of a training target, as every page shows it (and the push route sends it)."""

from __future__ import annotations

import enum
from typing import Any


class Status(enum.StrEnum):
    IDLE = "idle"  # nothing trained yet
    COMPILING = "compiling"  # the first chunk of this architecture is being compiled
    WAITING = "waiting"  # wants to train, every accelerator slot is busy
    TRAINING = "training"
    PAUSED = "paused"
    FINISHED = "finished"  # reached the step budget
    DIVERGED = "diverged"  # a step produced NaN/inf; the last finite state is kept
    ERROR = "error"  # training stopped on an error (e.g. out of memory); the message says why


LIVE = frozenset({Status.TRAINING, Status.WAITING, Status.COMPILING})


def status_of(target: Any, trainer: Any, step: int, diverged: bool = False,
              wants_training: bool = False, error: str | None = None) -> Status:
    """The one status of a training target, from its trainer, its progress (`step` taken,
    `diverged`) and whether its page asked it to train (`wants_training`) or saw an error."""
    if trainer.error or error:
        return Status.ERROR
    if diverged:
        return Status.DIVERGED
    if target.finished:
        return Status.FINISHED
    if trainer.running or wants_training:
        if trainer.waiting:
            return Status.WAITING
        if trainer.compiling or not target.compiled:
            return Status.COMPILING
        return Status.TRAINING
    return Status.PAUSED if step > 0 else Status.IDLE
