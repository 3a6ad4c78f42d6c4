"""Shared pieces of the load scripts: server memory from /proc, a playground session in a
headless browser, and the figures each session reports. Loopback only; nothing here runs under
pytest (testpaths = ["tests"])."""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, free_port  # noqa: E402

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "StreamlitServer", "free_port", "rss_mb", "Session",
           "PLAYGROUND_QUERY"]

# A small, realistic classroom setting: fast enough that 20 sessions share two cores.
PLAYGROUND_QUERY = ("num_points=200&hidden=16,16&num_samples=4&steps_per_chunk=20"
                    "&grid_size=40&steps=100000")
STEP_JS = "(() => { const r = document.querySelector('.bnn-live'); " \
          "return r && r.dataset.step !== undefined ? Number(r.dataset.step) : -1; })()"


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` and its children (MB), from /proc."""
    total_kb = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


def is_benign_resource_failure(url: str, why: str) -> bool:
    """Failures that are Streamlit's own and not the app's: the frontend first probes
    `<page>/_stcore/health|host-config` (404) before the root; the Material-icon favicon comes
    from fonts.gstatic.com (unreachable offline); a font request aborted by navigation."""
    host = urlsplit(url).hostname
    return (host not in ("127.0.0.1", "localhost") or "ERR_ABORTED" in why
            or (why == "HTTP 404" and re.search(r"/[^/]+/_stcore/(health|host-config)$", url)
                is not None))


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` in seconds, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Session:
    """One learner: a browser context on the playground, with its errors counted."""

    name: str
    context: object
    page: object
    errors: list[str] = field(default_factory=list)
    benign: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, browser, url: str, name: str, timeout_s: float = 180) -> Session:
        context = browser.new_context(viewport={"width": 1300, "height": 900})
        page = context.new_page()
        page.set_default_timeout(timeout_s * 1000)
        session = cls(name, context, page)
        page.on("pageerror", lambda err: session.errors.append(f"pageerror: {err}"))
        page.on("console", session._on_console)
        page.on("response", lambda r: session._on_resource(r.url, f"HTTP {r.status}")
                if r.status >= 400 else None)
        page.on("requestfailed", lambda r: session._on_resource(r.url, str(r.failure)))
        page.goto(url)
        page.wait_for_function(f"{STEP_JS} >= 0", timeout=timeout_s * 1000)
        return session

    def _on_console(self, msg) -> None:
        # Resource failures are classified by URL in `_on_resource`, where the URL is known.
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            self.errors.append(f"console: {msg.text}")

    def _on_resource(self, url: str, why: str) -> None:
        if is_benign_resource_failure(url, why):
            self.benign.append(f"{why} {url}")
        else:
            self.errors.append(f"resource: {why} {url}")

    def step(self) -> int:
        return int(self.page.evaluate(STEP_JS))

    def redraws(self) -> int:
        return int(self.page.evaluate("window.__bnnRedraws || 0"))

    def shows(self, text: str) -> bool:
        return bool(self.page.evaluate("t => document.body.innerText.includes(t)", text))

    def exceptions_on_page(self) -> int:
        return int(self.page.evaluate(
            "document.querySelectorAll('[data-testid=stException]').length"))

    def click(self, name: str) -> None:
        self.page.get_by_role("button", name=name, exact=True).click()

    def close(self) -> None:
        try:
            self.context.close()
        except Exception:  # noqa: BLE001 - closing is best effort at the end of a run
            pass


def wait_until(predicate, timeout_s: float, poll_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll_s)
    return False
