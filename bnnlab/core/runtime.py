"""What JAX runs on, in words for a badge or a JSON field; and stopping the background work
that runs JAX before the interpreter exits."""

from __future__ import annotations

import atexit
import functools
import os
import threading
import time
from collections.abc import Callable, Iterable

import jax


def device_label() -> str:
    """E.g. 'GPU · NVIDIA H100 80GB HBM3' or 'CPU · 2 cores'."""
    device = jax.devices()[0]
    if device.platform == "cpu":
        return f"CPU · {os.cpu_count()} cores"
    return f"{device.platform.upper()} · {getattr(device, 'device_kind', device.platform)}"


# XLA:CPU compiler options for the training chunk and the predictive (the measurements behind
# them: docs/BENCHMARKS.md, "Compiler options"):
# * YNNPACK for dots only (not for the reductions and elementwise ops XLA also hands it by
#   default): the [S, n, 32] reductions of the backward pass ran slower in YNNPACK than in
#   XLA's own loops.
# * LLVM optimisation level 1 and the older loop emitters instead of the MLIR fusion emitters:
#   the dots run in YNNPACK either way, so this costs a little speed but halves the training
#   chunk's compile time, which is the wait before a new architecture's first frame.
CPU_COMPILER_OPTIONS = {
    "xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT",
    "xla_backend_optimization_level": 1,
    "xla_cpu_use_fusion_emitters": False,
}


def compiler_options() -> dict:
    """Options for `jax.jit(..., compiler_options=...)` of the hot compiled functions: the
    CPU options above on a CPU, none elsewhere, and none where this jaxlib does not know them
    (they are XLA debug options and come and go between versions)."""
    return dict(_supported_cpu_options()) if jax.default_backend() == "cpu" else {}


@functools.cache
def _supported_cpu_options() -> tuple[tuple[str, object], ...]:
    """`CPU_COMPILER_OPTIONS` if a tiny function compiles with them, else nothing."""
    try:
        jax.jit(lambda x: x + 1, compiler_options=CPU_COMPILER_OPTIONS).lower(1.0).compile()
    except Exception:  # noqa: BLE001 - an unknown option or value: XLA's defaults
        return ()
    return tuple(CPU_COMPILER_OPTIONS.items())


def jax_version() -> str:
    return jax.__version__


def backend() -> str:
    """'cpu', 'gpu' or 'tpu'."""
    return jax.default_backend()


def backend_caption() -> str:
    """E.g. 'Computed with JAX 0.7.2 on CPU · 2 cores': the line every page shows."""
    return f"Computed with JAX {jax.__version__} on {device_label()}"


def release_memory() -> bool:
    """Give freed heap memory back to the operating system (glibc's `malloc_trim`); True where
    that was possible. After heavy runs the process keeps freed host memory in malloc's arenas
    (more than clearing the engine cache frees: docs/BENCHMARKS.md), so a finished or reset run
    calls this. A no-op elsewhere (macOS, musl)."""
    try:
        import ctypes

        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


# ---------------------------------------------------------------------------- exiting
# A daemon thread still inside XLA when the interpreter finalizes aborts the process ("terminate
# called after throwing an instance of ''", SIGABRT): it is unwound by force through C++ frames
# that may not throw, and JAX's own exit hook tears the backends down under it. So at exit the
# background work is asked to stop and waited for (bounded), before JAX's hook runs: atexit runs
# hooks last-registered first, and this module registers its hook after importing JAX.
BACKGROUND_PREFIX = "bnnlab-"  # every background thread of the library is named so
EXIT_WAIT_S = 20.0  # at most this long in all: a compile in progress takes seconds
_EXITING = threading.Event()
_STOPPERS: list[Callable[[float], Iterable[str] | None]] = []


def exiting() -> bool:
    """Whether the interpreter is exiting: background work should start nothing new."""
    return _EXITING.is_set()


def on_exit(stop: Callable[[float], Iterable[str] | None]) -> None:
    """At exit call `stop(deadline)` (a `time.monotonic()` time): it asks some background work
    to stop and may wait for it until `deadline`. It returns the names of threads it made safe
    without their ending (e.g. threads that run JAX only inside a slot of a pool that it closed
    and waited to be idle), which `stop_background_work` then does not join."""
    _STOPPERS.append(stop)


def stop_background_work(timeout: float = EXIT_WAIT_S) -> list[str]:
    """Ask the background work to stop (`on_exit`) and join every other daemon thread named
    `BACKGROUND_PREFIX`…, all within `timeout` s; returns the names of those still alive."""
    _EXITING.set()
    deadline = time.monotonic() + timeout
    covered: set[str] = set()
    for stop in list(_STOPPERS):
        try:
            covered.update(stop(deadline) or ())
        except Exception:  # noqa: BLE001 - exiting: the other stoppers still run
            pass
    me = threading.current_thread()
    left = []
    for thread in threading.enumerate():
        if (thread is me or not thread.daemon or thread.name in covered
                or not thread.name.startswith(BACKGROUND_PREFIX)):
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            left.append(thread.name)
    return left


atexit.register(stop_background_work)
