"""JAX's persistent compilation cache: compiled programs kept on disk, so that a restarted
server (or a second CLI run) loads them instead of compiling every chapter's programs again.

On by default, in a folder of the user's own (`default_dir`: `$XDG_CACHE_HOME/bnnlab/jax`, else
`~/.cache/bnnlab/jax`); `BNNLAB_JAX_CACHE_DIR` names another folder and `BNNLAB_JAX_CACHE=0`
turns it off. JAX's own `JAX_COMPILATION_CACHE_DIR`, when set, is left as it is. JAX trusts
what it loads from this folder (jax.readthedocs.io: persistent compilation cache), so it is
created private to its user and must not be shared with users you do not trust.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_DIR = "BNNLAB_JAX_CACHE_DIR"
ENV_SWITCH = "BNNLAB_JAX_CACHE"  # "0", "false", "off" or "no": no cache
OFF = frozenset({"0", "false", "off", "no"})
# At each start the least recently used programs beyond this are removed (JAX's own
# `jax_compilation_cache_max_size` needs the `filelock` package, not a dependency here).
MAX_CACHE_BYTES = 1 << 30
# Programs that compile faster than this are not written (each is a file; the many tiny
# programs of eager array operations compile in milliseconds anyway).
MIN_COMPILE_S = 0.05


def default_dir() -> Path:
    """The per-user cache folder."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bnnlab" / "jax"


def enable() -> Path | None:
    """Turn the cache on (before the first compilation); its folder, or None when it is off
    (by `BNNLAB_JAX_CACHE`, or because the folder cannot be made: then JAX compiles as
    before). Idempotent."""
    import jax

    if os.environ.get(ENV_SWITCH, "1").strip().lower() in OFF:
        return None
    configured = jax.config.jax_compilation_cache_dir
    if configured:  # JAX_COMPILATION_CACHE_DIR, or a second call
        return Path(configured)
    path = Path(os.environ.get(ENV_DIR) or default_dir()).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    trim(path, MAX_CACHE_BYTES)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_S)
    return path


def trim(path: Path, max_bytes: int) -> int:
    """Remove the least recently used files of `path` (by access, else modification time) until
    the rest take at most `max_bytes`; returns how many were removed."""
    entries = []
    for entry in path.iterdir():
        try:
            stat = entry.stat()
        except OSError:
            continue
        if entry.is_file():
            entries.append((max(stat.st_atime, stat.st_mtime), stat.st_size, entry))
    total = sum(size for _, size, _ in entries)
    removed = 0
    for _, size, entry in sorted(entries):
        if total <= max_bytes:
            break
        try:
            entry.unlink()
        except OSError:
            continue
        total -= size
        removed += 1
    return removed
