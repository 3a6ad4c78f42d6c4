"""Which engines this process has compiled, and compiling one once, inside an accelerator slot.

A training chunk's first call compiles it (seconds on a CPU). Compiling happens once per process
and per static configuration: two sessions asking for a new architecture at once compile it
once, not twice in parallel (one lock per configuration).
"""

from __future__ import annotations

import collections
import threading
from typing import Any

import jax
import jax.numpy as jnp

from bnnlab.core import runtime
from bnnlab.live import scheduler
from bnnlab.training import engine

_LOCKS: collections.defaultdict[Any, threading.Lock] = collections.defaultdict(threading.Lock)
_LOCKS_GUARD = threading.Lock()
_CHUNKS: set[Any] = set()  # static configs whose chunk has finished compiling here
_FITS: set[Any] = set()  # static configs whose post-training fit has compiled


class CompileBusy(Exception):
    """Another thread is compiling this engine right now."""


class Exiting(RuntimeError):
    """The interpreter is exiting: nothing is compiled any more (not worth a retry)."""


def is_compiled(eng: engine.Engine) -> bool:
    """Whether `eng`'s chunk has run (so compiled) in this process."""
    return eng.static in _CHUNKS


def mark_compiled(eng: engine.Engine) -> None:
    """`eng`'s chunk has run."""
    _CHUNKS.add(eng.static)


def fit_is_compiled(eng: engine.Engine) -> bool:
    """Whether `eng`'s post-training fit has run in this process."""
    return eng.static in _FITS


def mark_fit_compiled(eng: engine.Engine) -> None:
    _FITS.add(eng.static)


def ensure_compiled(eng: engine.Engine, state: engine.TrainState, batch: Any, hyper: Any,
                    slots: scheduler.Slots, timeout: float) -> None:
    """Compile `eng`'s chunk unless it is compiled: once per process, inside a slot of `slots`.
    One attempt: raises `CompileBusy` when another thread compiles it for more than `timeout`
    s, `scheduler.SlotTimeout` when no slot came within `timeout` s, `Exiting` at interpreter
    exit (the slots are closed then: a retry would wait for ever)."""
    if is_compiled(eng):
        return
    if runtime.exiting():
        raise Exiting("the server is shutting down")
    with _LOCKS_GUARD:
        lock = _LOCKS[eng.static]
    if not lock.acquire(timeout=timeout):
        raise CompileBusy
    try:
        if is_compiled(eng):
            return
        with slots.hold(timeout):
            # 0 steps: compiles the chunk and leaves the state unchanged.
            jax.block_until_ready(eng.run_chunk(state, batch, hyper, jnp.int32(0)))
        mark_compiled(eng)
    finally:
        lock.release()
