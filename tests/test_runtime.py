"""bnnlab.runtime: the backend line and giving freed memory back to the OS."""

import sys

import numpy as np

from bnnlab import runtime


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def test_release_memory_returns_freed_heap_to_the_os():
    """After freeing many small heap blocks (which glibc keeps in its arenas), release_memory()
    lowers the resident size on Linux."""
    if not sys.platform.startswith("linux"):
        assert runtime.release_memory() in (True, False)
        return
    runtime.release_memory()
    blocks = [np.ones(1000) for _ in range(40_000)]  # ~320 MB in 8 KB blocks, below mmap's cut
    del blocks
    before = _rss_mb()
    assert runtime.release_memory()
    assert _rss_mb() < before - 50


def test_backend_caption_names_jax_and_the_device():
    caption = runtime.backend_caption()
    assert caption.startswith("Computed with JAX ") and runtime.device_label() in caption
