"""What JAX runs on, in words for a badge or a JSON field."""

from __future__ import annotations

import functools
import os

import jax


def device_label() -> str:
    """E.g. 'GPU · NVIDIA H100 80GB HBM3' or 'CPU · 2 cores'."""
    device = jax.devices()[0]
    if device.platform == "cpu":
        return f"CPU · {os.cpu_count()} cores"
    return f"{device.platform.upper()} · {getattr(device, 'device_kind', device.platform)}"


# XLA:CPU compiler options for the training chunk and the predictive, measured on the 2-core
# EPYC (`python -m bnnlab.bench`, interleaved in one process; moons-512, 2-32-32-1 tanh, S=8):
# * YNNPACK for dots only (not for the reductions and elementwise ops XLA also hands it by
#   default): the [S, n, 32] reductions of the backward pass ran slower in YNNPACK than in
#   XLA's own loops; 1.28–1.38× training steps/s, grid predictive 46 → 29 ms.
# * LLVM optimisation level 1 and the older loop emitters instead of the MLIR fusion emitters:
#   the dots run in YNNPACK either way, so this costs ~10% of steps/s but halves the training
#   chunk's compile time (0.9 → 0.45 s), which is the wait before a new architecture's first frame.
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
    that was possible. After heavy runs the process kept ~120 MB of freed host memory in
    malloc's arenas (measured: RSS 484 → 364 MB after 4 large runs on the 2-core machine, while
    clearing the engine cache and `jax.clear_caches()` freed < 4 MB and no JAX array was live),
    so a finished or reset run calls this. A no-op elsewhere (macOS, musl)."""
    try:
        import ctypes

        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False
