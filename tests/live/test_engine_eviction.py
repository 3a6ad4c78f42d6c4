"""Live runs against a small engine cache: an engine it evicted is no longer "compiled" once
gone, so a run that asks for its configuration again compiles in `ensure_compiled` (the
"compiling" status), never silently inside a training chunk (issue 29, item 6)."""

from __future__ import annotations

import gc
import weakref

import pytest

from bnnlab.lessons import playground
from bnnlab.live import compile_cache, scheduler
from bnnlab.live.run import Run
from bnnlab.training import engine
from bnnlab.training.config import TrainConfig

# Architectures no other test compiles, so the trace counts below are this test's alone.
FIRST = TrainConfig(num_points=24, hidden=(5, 3), method="map", steps_per_chunk=6, steps=60)
SECOND = FIRST.replace(hidden=(3, 5))


@pytest.fixture
def small_cache(monkeypatch):
    """`engine.compiled` replaced by a cache that holds one compiled two-layer engine (init and
    chunk) but not two."""
    one = engine.ENGINE_BASE_BYTES + 2 * (engine.EXECUTABLE_BYTES
                                          + 2 * engine.EXECUTABLE_BYTES_PER_LAYER)
    cache = engine.EngineCache(int(1.5 * one))
    monkeypatch.setattr(engine, "compiled", cache)
    return cache


def _trained(cfg: TrainConfig, slots: scheduler.Slots) -> Run:
    run = Run(cfg, playground.build_data(cfg))
    run.ensure_compiled(slots, timeout=60)
    assert run.advance() > 0
    return run


@pytest.mark.slow  # a few seconds: the fast tier stays under 2 minutes
def test_an_evicted_engine_compiles_again_in_ensure_compiled(small_cache):
    """Run A's engine, evicted by run B's and dropped with A, leaves the compiled set; a new run
    of A's settings is not compiled (no short lane), traces its chunk once in `ensure_compiled`
    and not again in its first chunk."""
    slots = scheduler.Slots(1, "test")
    first = _trained(FIRST, slots)
    static = first.engine.static
    chunk = weakref.ref(first.engine.run_chunk)
    _trained(SECOND, slots)
    assert static not in small_cache and first.compiled  # evicted, still whole for its run
    del first
    gc.collect()
    assert chunk() is None  # gone, and with it from compile_cache's set

    again = Run(FIRST, playground.build_data(FIRST))
    key = ("run_chunk", static)
    traced = engine.TRACE_COUNTS[key]
    assert not again.compiled and again.expected_chunk_s is None
    again.ensure_compiled(slots, timeout=60)
    assert again.compiled and engine.TRACE_COUNTS[key] == traced + 1
    assert again.advance() > 0 and engine.TRACE_COUNTS[key] == traced + 1


@pytest.mark.slow  # seconds: the fast tier stays under 2 minutes
def test_a_run_training_on_an_evicted_engine_stays_compiled_and_takes_it_back(small_cache):
    """An engine evicted while its run trains stays compiled for that run (its executables live
    with it), and its next chunk puts it back in the cache for the next request to share."""
    slots = scheduler.Slots(1, "test")
    first = _trained(FIRST, slots)
    _trained(SECOND, slots)
    assert not small_cache.holds(first.engine)
    assert first.advance() > 0 and first.compiled
    assert small_cache.holds(first.engine)
    assert Run(FIRST, playground.build_data(FIRST)).engine is first.engine


def test_the_fit_set_is_per_engine():
    """A fresh engine of a configuration whose fit has run elsewhere reports its own fit as
    not compiled."""
    static = engine.StaticConfig(hidden=(3,), method="laplace", num_samples=1,
                                 steps_per_chunk=2, data_bucket=64)
    old, new = engine.make_engine(static), engine.make_engine(static)
    compile_cache.mark_fit_compiled(old)
    assert compile_cache.fit_is_compiled(old) and not compile_cache.fit_is_compiled(new)
