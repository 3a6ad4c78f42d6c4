"""bnnlab.training.engine's engine cache: bounded by estimated bytes with LRU eviction, the
estimate counting the executables an engine's jit wrappers hold, and an evicted engine's
executables freed with it (issue 29, item 6)."""

from __future__ import annotations

import gc
import weakref

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bnnlab.training import engine
from bnnlab.training.config import TrainConfig


def _static(width: int, **overrides) -> engine.StaticConfig:
    """A tiny MAP config (fast to compile) told apart by `width`."""
    fields = {"hidden": (width,), "method": "map", "num_samples": 1, "steps_per_chunk": 3,
              "data_bucket": 64, **overrides}
    return engine.StaticConfig(**fields)


def _sized(sizes: dict[engine.StaticConfig, int], max_bytes: int) -> engine.EngineCache:
    """A cache whose engines weigh what `sizes` says."""
    return engine.EngineCache(max_bytes, estimate=lambda eng, jits: sizes[eng.static])


def _compile_chunk(eng: engine.Engine) -> None:
    """Compile (and run for 0 steps) `eng`'s init and training chunk."""
    x = np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    state = eng.init(jax.random.key(0), jnp.float32(0.1))
    batch = engine.make_batch(x, y, eng.static.data_bucket)
    jax.block_until_ready(eng.run_chunk(state, batch, engine.make_hyper(TrainConfig()),
                                        jnp.int32(0)))


def test_small_engines_fit_and_a_big_one_evicts_the_oldest():
    """Eight engines of 10 bytes fit a 100-byte cache; one of 60 evicts the four least recently
    used, so the estimate held stays within the bound."""
    small = [_static(w) for w in range(2, 10)]
    big = _static(64)
    cache = _sized({**dict.fromkeys(small, 10), big: 60}, max_bytes=100)
    engines = [cache(s) for s in small]
    assert all(s in cache for s in small) and cache.cache_info().bytes == 80
    cache(big)
    assert [s in cache for s in small] == [False] * 4 + [True] * 4
    info = cache.cache_info()
    assert (info.currsize, info.bytes, info.evictions) == (5, 100, 4)
    assert cache(small[-1]) is engines[-1]  # still held: the same engine, not rebuilt


def test_eviction_is_least_recently_used_not_oldest_built():
    """An engine asked for again moves to the back of the queue and outlives younger ones."""
    a, b, c, big = _static(2), _static(3), _static(4), _static(5)
    cache = _sized({a: 10, b: 10, c: 10, big: 75}, max_bytes=100)
    cache(a), cache(b), cache(c)
    cache(a)  # a hit: now the most recently used of the three
    cache(big)
    assert a in cache and b not in cache and c in cache


def test_an_engine_over_the_budget_is_served_alone():
    """An engine bigger than the whole budget is still built and held, by itself."""
    small, huge = _static(2), _static(3)
    cache = _sized({small: 10, huge: 500}, max_bytes=100)
    cache(small)
    eng = cache(huge)
    assert cache.holds(eng) and small not in cache and len(cache) == 1


def test_cache_info_counts_hits_and_misses():
    """`cache_info` keeps functools' hits / misses / currsize; `cache_clear` resets them."""
    s = _static(2)
    cache = _sized({s: 1}, max_bytes=100)
    first = cache(s)
    assert cache(s) is first
    info = cache.cache_info()
    assert (info.hits, info.misses, info.maxsize, info.currsize) == (1, 1, None, 1)
    cache.cache_clear()
    assert cache.cache_info()[:4] == (0, 0, None, 0) and s not in cache


def test_touch_takes_back_an_evicted_engine_a_run_still_uses():
    """An engine evicted while a run trained on it is held again when it runs a chunk (later
    requests share it instead of compiling another); an engine another cache built is not."""
    a, b = _static(2), _static(3)
    cache = _sized({a: 60, b: 60}, max_bytes=100)
    eng_a = cache(a)
    cache(b)  # evicts a
    assert a not in cache
    cache.touch(eng_a)
    assert cache.holds(eng_a) and b not in cache
    assert cache(a) is eng_a
    foreign = engine.make_engine(b)
    cache.touch(foreign)
    assert b not in cache


@pytest.mark.slow  # seconds: the fast tier stays under 2 minutes
def test_engine_bytes_count_the_executables_it_compiled():
    """A built engine holds no executable; compiling init and the chunk adds two, a predictive
    (whose jits sit behind Python wrappers) adds its own, each `per_executable` bytes."""
    eng = engine.make_engine(_static(5, steps_per_chunk=4))
    per_executable = engine.EXECUTABLE_BYTES + engine.EXECUTABLE_BYTES_PER_LAYER
    assert engine.compiled_executables(eng) == 0
    assert engine.engine_bytes(eng) == engine.ENGINE_BASE_BYTES
    _compile_chunk(eng)
    assert engine.compiled_executables(eng) == 2
    state = eng.init(jax.random.key(1), jnp.float32(0.1))
    eng.sample_probs(jax.random.key(2), state, np.zeros((3, 2), np.float32), num_samples=1)
    count = engine.compiled_executables(eng)
    assert count >= 3
    assert engine.engine_bytes(eng) == engine.ENGINE_BASE_BYTES + count * per_executable


@pytest.mark.slow  # seconds: the fast tier stays under 2 minutes
def test_engines_bytes_bound_the_real_cache():
    """With the real estimate, compiling a second engine's chunk and touching it evicts the
    first once both no longer fit."""
    first, second = _static(6), _static(7)
    one = engine.ENGINE_BASE_BYTES + 2 * (engine.EXECUTABLE_BYTES
                                          + engine.EXECUTABLE_BYTES_PER_LAYER)
    cache = engine.EngineCache(int(1.5 * one))
    _compile_chunk(cache(first))
    cache.trim()
    assert first in cache and cache.cache_info().bytes == one
    eng = cache(second)
    assert first in cache  # not compiled yet: it weighs almost nothing
    _compile_chunk(eng)
    cache.touch(eng)
    assert first not in cache and cache.holds(eng) and cache.cache_info().bytes == one


@pytest.mark.slow  # seconds: the fast tier stays under 2 minutes
def test_dropping_an_evicted_engine_frees_its_executables():
    """Once evicted and unused, an engine's jit wrappers and the executables they compiled are
    gone from the backend (each engine owns its jits; JAX's caches do not keep them)."""
    client = jax.devices()[0].client
    before = {exe.fingerprint for exe in client.live_executables()}
    static = _static(9, steps_per_chunk=7)  # a shape no other test compiles
    cache = _sized({static: 60, _static(10): 60}, max_bytes=100)
    eng = cache(static)
    _compile_chunk(eng)
    names = {"jit_init", "jit_run_chunk"}
    own = {exe.fingerprint for exe in client.live_executables()
           if exe.hlo_modules()[0].name in names} - before
    assert len(own) == 2
    chunk = weakref.ref(eng.run_chunk)
    del eng
    cache(_static(10))  # evicts it
    gc.collect()
    assert chunk() is None
    assert not own & {exe.fingerprint for exe in client.live_executables()}
