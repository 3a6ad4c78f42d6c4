"""What JAX runs on, in words for a badge or a JSON field; stopping the background work that
runs JAX before the interpreter exits; and a bounded exit after SIGTERM."""

from __future__ import annotations

import atexit
import faulthandler
import functools
import os
import signal
import sys
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
        if (thread is me or thread in _WATCHDOG.values() or not thread.daemon
                or thread.name in covered or not thread.name.startswith(BACKGROUND_PREFIX)):
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            left.append(thread.name)
    return left


def _stop_at_exit() -> None:
    """atexit's hook: the exit hooks, unless a SIGTERM already runs them (then it waits for
    those, which end by their deadline, instead of running them twice)."""
    hooks = _WATCHDOG.get("hooks")
    if hooks is None or hooks.ident is None:  # no SIGTERM, or its thread never started
        stop_background_work()
    else:
        hooks.join(EXIT_WAIT_S)


atexit.register(_stop_at_exit)


# ---------------------------------------------------------------------------- SIGTERM
# `streamlit run app.py` serves the app with uvicorn, whose SIGTERM handler starts a graceful
# shutdown: it closes the port, then waits without a time limit for every connection to close
# (Streamlit passes no `timeout_graceful_shutdown`), and only a second SIGINT cuts that short. A
# WebSocket whose peer stopped reading (a frozen tab, a stalled proxy) never closes: its close
# frame waits behind the unsent data, and the process outlives its port indefinitely, no thread
# of ours involved. When uvicorn does finish, it re-raises SIGTERM with the default action, which
# ends the process at once (neither atexit nor interpreter finalization runs).
# So in front of the server's handler: the first SIGTERM runs the exit hooks at once (trainers
# stop, slot pools close: no CPU spent on runs nobody will see) and arms a watchdog that ends
# the process `SIGTERM_GRACE_S` s later if it is still alive; a second SIGTERM ends it at once.
# `os._exit` is safe with threads inside XLA: nothing is finalized under them.
SIGTERM_GRACE_S = 8.0  # a graceful shutdown takes ~0.2 s; container runtimes kill after 10 s
FORCED_EXIT_CODE = 128 + signal.SIGTERM  # what a shell reports for a process ended by SIGTERM
_WATCHDOG: dict[str, threading.Thread] = {}  # the exit hooks' thread and the watchdog


def bound_exit_on_sigterm(grace_s: float = SIGTERM_GRACE_S) -> bool:
    """Make a SIGTERM end this process within `grace_s` s, whatever its current SIGTERM handler
    (a server's graceful shutdown) waits for. True if installed: only on the main thread, and
    only in front of a handler written in Python (with the default action a SIGTERM already ends
    the process at once: the CLI, tests, AppTest). Idempotent."""
    if threading.current_thread() is not threading.main_thread():
        return False
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous) or getattr(previous, "bnnlab_bounded", False):
        return False

    def on_sigterm(signum: int, frame: object) -> None:
        # Before anything else: a second SIGTERM ends the process at once, even if the main
        # thread is then stuck where no Python signal handler would run.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            _arm_watchdog(grace_s)
        finally:  # no thread to be had: the server's own shutdown all the same
            previous(signum, frame)

    on_sigterm.bnnlab_bounded = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGTERM, on_sigterm)
    return True


def _arm_watchdog(grace_s: float) -> None:
    """Start (once) the exit hooks and the watchdog, each on a daemon thread of its own: a
    hook that ignores its deadline must not hold the watchdog."""
    if _WATCHDOG:
        return
    deadline = time.monotonic() + grace_s
    hooks = threading.Thread(target=stop_background_work, args=(max(0.0, grace_s - 1.0),),
                             daemon=True, name=f"{BACKGROUND_PREFIX}exit-hooks")
    watchdog = threading.Thread(target=_exit_at, args=(deadline, grace_s), daemon=True,
                                name=f"{BACKGROUND_PREFIX}exit-watchdog")
    _WATCHDOG.update(hooks=hooks, watchdog=watchdog)
    watchdog.start()
    hooks.start()


def _exit_at(deadline: float, grace_s: float) -> None:
    """End the process at `deadline` (a `time.monotonic()` time) unless it has ended by then,
    saying which threads were still running and where."""
    time.sleep(max(0.0, deadline - time.monotonic()))
    names = sorted(t.name for t in threading.enumerate() if t is not threading.current_thread())
    try:
        sys.stderr.write(f"bnnlab: still running {grace_s:g} s after SIGTERM; exiting now. "
                         f"Threads: {', '.join(names)}\n")
        sys.stderr.flush()
        faulthandler.dump_traceback(sys.stderr, all_threads=True)
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - no stream to say it on: exit all the same
        pass
    os._exit(FORCED_EXIT_CODE)


# `streamlit run app.py` imports app.py, and so this module, on its main thread while uvicorn's
# SIGTERM handler is installed: the bound is in place before the first session.
bound_exit_on_sigterm()
