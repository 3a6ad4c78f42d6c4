"""Proof, on loopback, that BNN Lab scales past one process: two `streamlit run` processes behind
nginx with cookie affinity; browser sessions go through nginx, spread over both backends, and
each one trains undisturbed.

    python tools/loadtest/two_process.py [--sessions 8] [--seconds 20]

Checks: every request of a session (page, static files, the /_stcore/stream WebSocket) reached
one backend; both backends served sessions; every session made progress with no errors; no
traceback in either backend's log. Starts everything on 127.0.0.1 and stops it all at the end.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PLAYGROUND_QUERY,
    Session,
    StreamlitServer,
    free_port,
    wait_until,
)

HERE = Path(__file__).resolve().parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def render_config(run_dir: Path, listen_port: int, backend_ports: list[int]) -> Path:
    """Fill nginx.conf.template for `backend_ports` (routes b0, b1, …)."""
    names = [f"b{i}" for i in range(len(backend_ports))]
    share = 100.0 / len(names)
    split = "\n".join([f"        {share:.2f}% {n};" for n in names[:-1]]
                      + [f"        * {names[-1]};"])
    known = "\n".join(f"        {n} {n};" for n in names)
    known_empty = "\n".join(f'        {n} "";' for n in names)
    upstreams = "\n".join(
        f"    upstream bnnlab_{n} {{\n        server 127.0.0.1:{port};\n"
        + "".join(f"        server 127.0.0.1:{other} backup;\n"
                  for other in backend_ports if other != port) + "    }"
        for n, port in zip(names, backend_ports, strict=True))
    text = (HERE / "nginx.conf.template").read_text()
    for key, value in (("RUN_DIR", str(run_dir)), ("SPLIT", split), ("KNOWN", known),
                       ("KNOWN_EMPTY", known_empty), ("UPSTREAMS", upstreams),
                       ("LISTEN", f"127.0.0.1:{listen_port}")):
        text = text.replace("{{" + key + "}}", value)
    path = run_dir / "nginx.conf"
    path.write_text(text)
    return path


def start_nginx(conf: Path, run_dir: Path, port: int) -> subprocess.Popen:
    subprocess.run([NGINX, "-t", "-p", str(run_dir), "-c", str(conf)], check=True,
                   capture_output=True)
    proc = subprocess.Popen([NGINX, "-p", str(run_dir), "-c", str(conf), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    ok = wait_until(lambda: _healthy(f"http://127.0.0.1:{port}"), 30, 0.2)
    if not ok:
        proc.terminate()
        raise RuntimeError((run_dir / "error.log").read_text(errors="replace"))
    return proc


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def warm(browser, url: str) -> None:
    """Home page once per backend, directly (streamlit#9992), and one playground compile."""
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(url)
    page.get_by_role("heading", name="BNN Lab").first.wait_for(timeout=180_000)
    ctx.close()
    Session.open(browser, f"{url}/playground?{PLAYGROUND_QUERY}", "warm").close()


def routes_in_log(log: Path) -> dict[str, set[str]]:
    """route cookie -> upstream addresses that served it (from the access log)."""
    seen: dict[str, set[str]] = collections.defaultdict(set)
    for line in log.read_text(errors="replace").splitlines():
        parts = line.split(" ", 4)
        if len(parts) >= 4 and parts[2] != "-":
            seen[parts[1]].add(parts[2])
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    if not 2 <= args.sessions <= 30 or not 1 <= args.seconds <= 300:
        parser.error("sessions 2..30, seconds 1..300")
    from playwright.sync_api import sync_playwright

    run_dir = Path(tempfile.mkdtemp(prefix="bnn_nginx_"))
    run_dir.chmod(0o755)  # nginx workers run as an unprivileged user when started by root
    backends: list[StreamlitServer] = []
    nginx = None
    result: dict = {"sessions": args.sessions, "watch_s": args.seconds}
    try:
        backends = [StreamlitServer(run_dir / f"backend{i}.log") for i in range(2)]
        port = free_port()
        conf = render_config(run_dir, port, [b.port for b in backends])
        nginx = start_nginx(conf, run_dir, port)
        front = f"http://127.0.0.1:{port}"
        result["backends"] = [f"127.0.0.1:{b.port}" for b in backends]
        result["front"] = front
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=CHROMIUM_ARGS)
            learners: list[Session] = []
            try:
                for b in backends:
                    warm(browser, b.url)
                for i in range(args.sessions):
                    learners.append(Session.open(
                        browser, f"{front}/playground?{PLAYGROUND_QUERY}&seed={100 + i}",
                        f"s{i}"))
                for s in learners:
                    s.click("Train")
                time.sleep(args.seconds / 2)
                mid = [s.step() for s in learners]
                time.sleep(args.seconds / 2)
                end = [s.step() for s in learners]
                routes = {s.name: next(c["value"] for c in s.context.cookies()
                                       if c["name"] == "bnnlab_route") for s in learners}
                seeds = [s.page.evaluate("new URLSearchParams(location.search).get('seed')")
                         for s in learners]
                errors = {s.name: s.errors[:3] for s in learners if s.errors}
                exceptions = sum(s.exceptions_on_page() for s in learners)
            finally:
                for s in learners:
                    s.close()
                browser.close()
        served = routes_in_log(run_dir / "access.log")
        per_session = []
        for (name, route), a, b, seed in zip(routes.items(), mid, end, seeds, strict=True):
            per_session.append({"session": name, "backends": sorted(served.get(route, ())),
                                "steps_mid": a, "steps_end": b, "seed_in_url": seed})
        by_backend = collections.Counter(p["backends"][0] for p in per_session
                                         if len(p["backends"]) == 1)
        result.update({
            "per_session": per_session,
            "sessions_per_backend": dict(by_backend),
            "every_session_on_one_backend": all(len(p["backends"]) == 1 for p in per_session),
            "both_backends_used": len(by_backend) == 2,
            "every_session_progressed": all(0 < p["steps_mid"] < p["steps_end"]
                                            for p in per_session),
            "seeds_kept": seeds == [str(100 + i) for i in range(args.sessions)],
            "browser_errors": errors,
            "exceptions_on_page": exceptions,
        })
    finally:
        if nginx is not None:
            nginx.terminate()
            try:
                nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                nginx.kill()
        for b in backends:
            b.stop()
    result["backend_tracebacks"] = sum(b.log().count("Traceback") for b in backends)
    ok = (result.get("every_session_on_one_backend") and result.get("both_backends_used")
          and result.get("every_session_progressed") and result.get("seeds_kept")
          and not result.get("browser_errors") and not result.get("exceptions_on_page")
          and result["backend_tracebacks"] == 0)
    result["ok"] = bool(ok)
    print(json.dumps(result, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
