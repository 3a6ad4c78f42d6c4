"""JAX's persistent compilation cache (issue 25): on by default for the app and the CLI, in a
folder of its own; a second start loads what the first compiled instead of compiling again."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bnnlab.core import jax_cache
from tests.conftest import ROOT, StreamlitServer

sys.path.insert(0, str(ROOT / "tools" / "loadtest"))
from protocol_client import Learner  # noqa: E402

QUERY = "num_points=200&hidden=16,16&num_samples=4&steps_per_chunk=20&grid_size=40&steps=100000"


def _stamps(folder: Path) -> dict[str, int]:
    """Each cached program and when it was written."""
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def _cli(folder: Path, *env: tuple[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "bnnlab", "train", "--steps", "50", "--json"],
                   cwd=ROOT, check=True, capture_output=True, timeout=300,
                   env=dict(os.environ, BNNLAB_JAX_CACHE_DIR=str(folder), **dict(env)))


@pytest.mark.slow  # two CLI runs
def test_a_second_cli_run_loads_the_programs_the_first_compiled(tmp_path):
    folder = tmp_path / "cache"
    _cli(folder)
    first = _stamps(folder)
    assert any(name.startswith("jit_run_chunk") for name in first), first
    time.sleep(0.05)  # a rewritten entry would get a later time
    _cli(folder)
    assert _stamps(folder) == first  # every program loaded, none compiled and written again


@pytest.mark.slow  # two CLI runs
def test_the_cache_is_off_with_its_switch(tmp_path):
    folder = tmp_path / "cache"
    _cli(folder, (jax_cache.ENV_SWITCH, "0"))
    assert not folder.exists()


def test_trim_removes_the_least_recently_used_files_beyond_the_bound(tmp_path):
    for k in range(5):
        path = tmp_path / f"entry{k}"
        path.write_bytes(b"x" * 100)
        os.utime(path, (1_000 + k, 1_000 + k))  # entry0 the least recently used
    assert jax_cache.trim(tmp_path, 300) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry2", "entry3", "entry4"]
    assert jax_cache.trim(tmp_path, 300) == 0


def test_the_default_folder_is_the_users_own(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert jax_cache.default_dir() == tmp_path / "bnnlab" / "jax"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert jax_cache.default_dir() == Path.home() / ".cache" / "bnnlab" / "jax"


def _train_once(folder: Path, log: Path) -> None:
    server = StreamlitServer(log, extra_env={"BNNLAB_JAX_CACHE_DIR": str(folder)})
    try:
        learner = Learner(server.url, "playground", QUERY, timeout=180)
        try:
            learner.run_page()
            learner.run_page("Train")
            learner.subscribe()
            assert learner.wait_step(0, 120) is not None, learner.errors
        finally:
            learner.close()
    finally:
        server.stop()
    assert "compilation cache" not in log.read_text()  # no error reading or writing it


@pytest.mark.slow  # two live servers
def test_a_restarted_server_reuses_the_cache(tmp_path):
    """The same learner on a fresh server, then on a second server with the same cache folder:
    the second loads every program the first wrote (none is compiled and written again)."""
    folder = tmp_path / "cache"
    _train_once(folder, tmp_path / "first.log")
    first = _stamps(folder)
    assert any(name.startswith("jit_run_chunk") for name in first), first
    _train_once(folder, tmp_path / "second.log")
    second = _stamps(folder)
    assert {name: second[name] for name in first} == first
