"""Which engines this process has compiled, and compiling one once, inside an accelerator slot.

A training chunk's first call compiles it (seconds on a CPU). Compiling happens once per engine
and per static configuration: two sessions asking for a new architecture at once compile it
once, not twice in parallel (one lock per configuration).

"Compiled" belongs to an engine object, not to its static configuration: the sets below hold the
engines' jitted functions weakly, so an engine the cache (`engine.compiled`) evicted leaves them
once nothing uses it any more, its executables with it. Asked for again, the configuration gets a
fresh engine that is not compiled, goes through `ensure_compiled` and shows "compiling", instead
of compiling silently inside a training chunk.
"""

from __future__ import annotations

import collections
import threading
import weakref
from typing import Any

import jax
import jax.numpy as jnp

from bnnlab.core import runtime
from bnnlab.live import scheduler
from bnnlab.training import engine

_LOCKS: collections.defaultdict[Any, threading.Lock] = collections.defaultdict(threading.Lock)
_LOCKS_GUARD = threading.Lock()
# The chunks (`Engine.run_chunk`) that have run, so compiled, and the post-training fits
# (`Engine.fit_posterior`) that have: weak, so they go with their engine.
_CHUNKS: weakref.WeakSet[Any] = weakref.WeakSet()
_FITS: weakref.WeakSet[Any] = weakref.WeakSet()


class CompileBusy(Exception):
    """Another thread is compiling this engine right now."""


class Exiting(RuntimeError):
    """The interpreter is exiting: nothing is compiled any more (not worth a retry)."""


def is_compiled(eng: engine.Engine) -> bool:
    """Whether `eng`'s chunk has run (so compiled): this engine object, not merely one of the
    same static configuration (one evicted from `engine.compiled` and built again has not)."""
    return eng.run_chunk in _CHUNKS


def mark_compiled(eng: engine.Engine) -> None:
    """`eng`'s chunk has run: it is compiled, and the engine cache's most recently used (which
    then evicts for whatever `eng` compiled)."""
    _CHUNKS.add(eng.run_chunk)
    engine.compiled.touch(eng)


def fit_is_compiled(eng: engine.Engine) -> bool:
    """Whether `eng`'s post-training fit has run."""
    return eng.fit_posterior is not None and eng.fit_posterior in _FITS


def mark_fit_compiled(eng: engine.Engine) -> None:
    if eng.fit_posterior is not None:
        _FITS.add(eng.fit_posterior)


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
