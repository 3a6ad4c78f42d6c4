"""bnnlab.runtime: the backend line and giving freed memory back to the OS."""

import subprocess
import sys
from pathlib import Path

import pytest

from bnnlab.core import runtime

ROOT = Path(__file__).resolve().parents[2]


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


PROBE = """
import numpy as np
from bnnlab.core import runtime
from tests.unit.test_runtime import _rss_mb
runtime.release_memory()
blocks = [np.ones(1000) for _ in range(40_000)]  # ~320 MB in 8 KB blocks, below mmap's cut
keep = [np.ones(1) for _ in range(100)]  # small blocks after them keep the heap's top in use
del blocks
before = _rss_mb()
released = runtime.release_memory()
print(released, before - _rss_mb())
"""


@pytest.mark.slow
def test_release_memory_returns_freed_heap_to_the_os():
    """After freeing many small heap blocks (which glibc keeps in its arenas), release_memory()
    lowers the resident size on Linux (in a fresh process: a test run's own heap is not)."""
    if not sys.platform.startswith("linux"):
        assert runtime.release_memory() in (True, False)
        return
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.split()
    assert out[0] == "True" and float(out[1]) > 50


def test_backend_caption_names_jax_and_the_device():
    caption = runtime.backend_caption()
    assert caption.startswith("Computed with JAX ") and runtime.device_label() in caption
