"""Shared fixtures and helpers of every tier, defined once.

Tiers by folder (they mirror the package): `unit/` (bnnlab's pieces against exact references),
`contract/` (every method and dataset through one suite, the CLI's JSON, the method doc),
`live/` (runs, trainer, scheduler, push), `pages/` (AppTest), `browser/` (Playwright driving
Debian's Chromium against `streamlit run`). Browser tests and long training runs are marked
`slow`: `python3 -m pytest -q -m "not slow"` is the fast tier, `python3 -m pytest -q` everything.

Browser tests never call `playwright install`: they drive /usr/bin/chromium. Where it is missing
they skip locally, but under CI (env CI=true) a skipped test is a failure.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("BNNLAB_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def pytest_collection_modifyitems(config, items):
    """Every test under tests/browser/ is a browser test, and slow."""
    browser_dir = ROOT / "tests" / "browser"
    for item in items:
        if browser_dir in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def eventually(predicate: Callable[[], bool], timeout: float, poll: float = 0.02) -> bool:
    """Whether `predicate()` holds within `timeout` s, checked every `poll` s: for a state that
    no event announces (a thread count, a server coming up). Prefer an event where there is one."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"browser test cannot run under CI: {reason}")
    pytest.skip(reason)


@functools.cache
def _run_jax_cache() -> Path:
    return Path(tempfile.mkdtemp(prefix="bnnlab-jax-cache-"))


class StreamlitServer:
    """`streamlit run <script>` (the app by default) on 127.0.0.1 and a free port, logging to a
    file."""

    def __init__(self, log_path: Path, extra_env: dict[str, str] | None = None,
                 script: str = "app.py", port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        # JAX's persistent compilation cache: one folder for this test run's servers, not the
        # user's own (bnnlab/core/jax_cache.py)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT),
               "BNNLAB_JAX_CACHE_DIR": str(_run_jax_cache()), **(extra_env or {})}
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", script,
             "--server.headless", "true", "--server.address", "127.0.0.1",
             "--server.port", str(self.port), "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env,
        )
        if not eventually(self._healthy, timeout=90, poll=0.3):
            raise RuntimeError(f"streamlit did not become healthy:\n{self.log()}")

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{self.log()}")
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """One app server for every browser test of the run."""
    server = StreamlitServer(tmp_path_factory.mktemp("server") / "streamlit.log")
    yield server
    server.stop()
    assert "Traceback" not in server.log(), server.log()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} not found (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_server):
    """A fresh browser context (1400×1000). No visit to Home first: a deep link works on a
    fresh server (tests/browser/test_browser_deeplinks.py)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()


def pytest_sessionfinish(session, exitstatus):
    """Under CI a skipped test counts as a failure: nothing may silently not run."""
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and session.exitstatus == 0:
        session.exitstatus = 1
        print(f"\nCI=true: {len(skipped)} skipped test(s) count as failures.")


@contextlib.contextmanager
def slot_held(slots):
    """One slot of `slots` held by another thread (a busy server) until the block calls the
    `release` it is given, or ends."""
    release = threading.Event()

    def hold() -> None:
        with slots.hold(30):
            release.wait(30)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    while slots.in_use() == 0:
        time.sleep(0.01)
    try:
        yield release.set
    finally:
        release.set()
        holder.join(10)
