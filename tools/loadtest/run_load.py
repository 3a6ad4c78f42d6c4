"""Load test: N headless-browser learners press Train on one local server and watch for a while;
then one learner does Train/Reset cycles while the server's memory is sampled.

    python tools/loadtest/run_load.py                       # 20 sessions, 60 s, 100 cycles
    python tools/loadtest/run_load.py --sessions 3 --seconds 10 --cycles 10   # a quick check

Reports (and writes as JSON with --out): errors (page errors, console errors, exception
elements, tracebacks in the server log), each session's steps and redraws, how often sessions
showed "Waiting for the accelerator", and the server's RSS over the cycles with the fitted
growth per cycle. Everything is on 127.0.0.1 and stops by itself (bounded loops, the server
and browser are stopped in `finally`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    PLAYGROUND_QUERY,
    Session,
    StreamlitServer,
    cpu_seconds,
    rss_mb,
    wait_until,
)

WAITING = "Waiting for the accelerator"


def warm_up(browser, url: str) -> None:
    """Home page first (streamlit#9992), then one playground visit so the first compile is not
    charged to the load phase."""
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(url)
    page.get_by_role("heading", name="BNN Lab").first.wait_for(timeout=180_000)
    ctx.close()
    s = Session.open(browser, f"{url}/playground?{PLAYGROUND_QUERY}", "warm-up")
    s.close()


def concurrent_phase(browser, url: str, sessions: int, seconds: float, server) -> dict:
    learners: list[Session] = []
    rss: list[float] = []
    waiting_seen = [0] * sessions
    try:
        t0 = time.monotonic()
        for i in range(sessions):
            learners.append(Session.open(browser, f"{url}/playground?{PLAYGROUND_QUERY}&seed={i}",
                                         f"s{i:02d}"))
        open_s = time.monotonic() - t0
        start_redraws = [s.redraws() for s in learners]
        for s in learners:
            s.click("Train")
        cpu0, t1 = cpu_seconds(server.proc.pid), time.monotonic()
        samples = 0
        while time.monotonic() - t1 < seconds:
            rss.append(rss_mb(server.proc.pid))
            for i, s in enumerate(learners):
                waiting_seen[i] += s.shows(WAITING)
            samples += 1
            time.sleep(1.0)
        elapsed = time.monotonic() - t1
        server_cpu = (cpu_seconds(server.proc.pid) - cpu0) / elapsed
        per_session = []
        for i, s in enumerate(learners):
            per_session.append({
                "session": s.name,
                "steps": s.step(),
                "redraws": s.redraws() - start_redraws[i],
                "waiting_samples": waiting_seen[i],
                "exceptions_on_page": s.exceptions_on_page(),
                "browser_errors": len(s.errors),
                "first_errors": s.errors[:3],
                "benign_resource_failures": len(s.benign),
            })
        pause_failures = []
        for s in learners:
            try:
                s.page.get_by_role("button", name="Pause", exact=True).click(timeout=15_000)
            except Exception as err:  # noqa: BLE001 - recorded, then the run goes on
                shot = Path(tempfile.gettempdir()) / f"bnn_load_{s.name}.png"
                s.page.screenshot(path=str(shot))
                pause_failures.append(f"{s.name}: {type(err).__name__}; screenshot {shot}; "
                                      f"buttons {s.page.get_by_role('button').all_inner_texts()}")
    finally:
        for s in learners:
            s.close()
    steps = [p["steps"] for p in per_session]
    redraws = [p["redraws"] for p in per_session]
    return {
        "sessions": sessions,
        "watch_s": round(elapsed, 1),
        "open_all_s": round(open_s, 1),
        "samples": samples,
        "errors": sum(p["exceptions_on_page"] + p["browser_errors"] for p in per_session),
        "sessions_with_progress": sum(s > 0 for s in steps),
        "steps_min_median_max": [min(steps), int(np.median(steps)), max(steps)],
        "redraws_min_median_max": [min(redraws), int(np.median(redraws)), max(redraws)],
        "total_steps_per_s": round(sum(steps) / elapsed, 1),
        "sessions_that_saw_waiting": sum(w > 0 for w in waiting_seen),
        "server_cpu_cores": round(server_cpu, 2),
        "server_rss_mb_min_max": [round(min(rss), 1), round(max(rss), 1)],
        "pause_failures": pause_failures,
        "per_session": per_session,
    }


def cycle_phase(browser, url: str, cycles: int, server) -> tuple[dict, list[float]]:
    s = Session.open(browser, f"{url}/playground?{PLAYGROUND_QUERY}&seed=999", "cycles")
    pid = server.proc.pid
    rss: list[float] = []
    failures = 0
    try:
        for _ in range(cycles):
            s.click("Train")
            ok = wait_until(lambda: s.step() > 0, 30)
            s.click("Reset")
            ok &= wait_until(lambda: s.step() == 0, 30)
            failures += not ok
            rss.append(rss_mb(pid))
        errors = len(s.errors) + s.exceptions_on_page()
    finally:
        s.close()
    warm = max(1, cycles // 5)  # the first cycles compile and fill caches
    x = np.arange(warm, cycles)
    slope = float(np.polyfit(x, rss[warm:], 1)[0]) if len(x) > 2 else float("nan")
    return {
        "cycles": cycles,
        "cycle_failures": failures,
        "errors": errors,
        "rss_mb_first_after_warmup_last": [round(rss[0], 1), round(rss[warm], 1),
                                           round(rss[-1], 1)],
        "rss_growth_mb_per_cycle_after_warmup": round(slope, 3),
    }, rss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args()
    if not 1 <= args.sessions <= 60 or not 1 <= args.seconds <= 600 or not 0 <= args.cycles <= 500:
        parser.error("sessions 1..60, seconds 1..600, cycles 0..500")

    from playwright.sync_api import sync_playwright

    log = Path(tempfile.mkdtemp(prefix="bnn_load_")) / "streamlit.log"
    server = StreamlitServer(log)
    result: dict = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.node()} · {os.cpu_count()} cores · {platform.platform()}",
        "load_average_at_start": os.getloadavg(),
        "settings": PLAYGROUND_QUERY,
    }
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=CHROMIUM_ARGS)
            try:
                warm_up(browser, server.url)
                result["server_rss_mb_after_warmup"] = round(rss_mb(server.proc.pid), 1)
                result["concurrent"] = concurrent_phase(browser, server.url, args.sessions,
                                                        args.seconds, server)
                print(json.dumps({k: v for k, v in result["concurrent"].items()
                                  if k != "per_session"}), flush=True)
                if args.cycles:
                    result["train_reset"], rss = cycle_phase(browser, server.url, args.cycles,
                                                               server)
                    result["train_reset_rss_mb"] = [round(r, 1) for r in rss]
                    print(json.dumps(result["train_reset"]), flush=True)
            finally:
                browser.close()
    finally:
        server.stop()
        server_log = log.read_text(errors="replace")
        result["server_tracebacks"] = server_log.count("Traceback")
        result["load_average_at_end"] = os.getloadavg()
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    ok = (result["server_tracebacks"] == 0 and result["concurrent"]["errors"] == 0
          and result["concurrent"]["sessions_with_progress"] == args.sessions)
    print(json.dumps({"ok": ok, "server_tracebacks": result["server_tracebacks"]}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
