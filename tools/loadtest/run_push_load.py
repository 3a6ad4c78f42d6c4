"""Load test of the push path with lightweight protocol clients (protocol_client.py), not
browsers, so that the server is what is measured:

* for each learner count N (default 1, 5, 10, 20, 30, 40): N learners open the playground,
  press Train and receive frames on the push route for `--seconds`; per-learner frames/s
  (min / median), errors, the server's CPU seconds per frame and its RSS;
* `--cycles` Train/Reset cycles of one learner with the server's RSS sampled every 10 cycles
  (memory flat?).

Bounded: at most 60 learners, 120 s a window, a global `--deadline`; loopback only. Writes a
JSON file and, with `--plot`, a PNG drawn by plotly.js in headless Chromium.

    python tools/loadtest/run_push_load.py --out tools/loadtest/results/push_load.json \\
        --plot docs/push_load.png
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT, Path(__file__).resolve().parent):  # bnnlab and tests; this folder
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from common import CHROMIUM, CHROMIUM_ARGS, StreamlitServer, cpu_seconds, rss_mb  # noqa: E402
from protocol_client import Learner, ProtocolError  # noqa: E402

QUERY = ("num_points=200&hidden=16,16&num_samples=4&steps_per_chunk=20&grid_size=40"
         "&steps=100000")
MAX_LEARNERS = 60
MAX_WINDOW_S = 120.0


def _open(url: str, count: int, query: str, deadline: float) -> tuple[list[Learner], list[str]]:
    learners, errors = [], []
    for k in range(count):
        if time.monotonic() > deadline:
            errors.append(f"deadline: opened {k} of {count}")
            break
        try:
            learner = Learner(url, "playground", query, timeout=60)
            learner.run_page()
            learners.append(learner)
        except (ProtocolError, OSError, TimeoutError) as err:
            errors.append(f"open {k}: {type(err).__name__}: {err}")
    return learners, errors


def window(server: StreamlitServer, count: int, seconds: float, query: str,
           deadline: float) -> dict:
    """`count` learners train; frames per learner over `seconds` s once all have a frame."""
    learners, errors = _open(server.url, count, query, deadline)
    try:
        for learner in learners:
            learner.run_page("Train")
            learner.subscribe()
        for learner in learners:  # everyone's first frame with a step, bounded
            if learner.wait_step(0, 60) is None:
                errors.append("a learner had no frame with a step within 60 s")
        counts0 = [len(lr.frames.times) for lr in learners]
        steps0 = [lr.frames.steps[-1] if lr.frames.steps else 0 for lr in learners]
        cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = cpu_seconds(server.proc.pid), time.monotonic()
        counts1 = [len(lr.frames.times) for lr in learners]
        steps1 = [lr.frames.steps[-1] if lr.frames.steps else 0 for lr in learners]
        rss = rss_mb(server.proc.pid)
        for learner in learners:
            learner.run_page("Pause")
            errors += learner.errors
    finally:
        for learner in learners:
            learner.close()
    elapsed = t1 - t0
    rates = [(b - a) / elapsed for a, b in zip(counts0, counts1, strict=True)]
    step_rates = [(b - a) / elapsed for a, b in zip(steps0, steps1, strict=True)]
    frames = sum(counts1) - sum(counts0)
    return {
        "learners": count, "opened": len(learners), "seconds": round(elapsed, 2),
        "frames_per_s_min": round(min(rates), 2) if rates else 0.0,
        "frames_per_s_median": round(statistics.median(rates), 2) if rates else 0.0,
        "frames_per_s_total": round(sum(rates), 1),
        "steps_per_s_median": round(statistics.median(step_rates), 1) if rates else 0.0,
        "server_cpu_cores": round((cpu1 - cpu0) / elapsed, 2),
        "server_cpu_ms_per_frame": round(1000 * (cpu1 - cpu0) / frames, 2) if frames else None,
        "server_rss_mb": round(rss, 1),
        "errors": errors,
    }


def cycles(server: StreamlitServer, count: int, query: str, deadline: float) -> dict:
    """Train (until a frame shows a step) then Reset, `count` times; RSS every 10 cycles."""
    learner = Learner(server.url, "playground", query, timeout=60)
    rss, done, errors = [], 0, []
    try:
        learner.run_page()
        learner.subscribe()
        for k in range(count):
            if time.monotonic() > deadline:
                errors.append(f"deadline after {k} cycles")
                break
            learner.run_page("Train")
            if learner.wait_step(0, 30) is None:
                errors.append(f"cycle {k}: no frame with a step within 30 s")
            learner.run_page("Reset")
            done += 1
            if k % 10 == 0 or k == count - 1:
                rss.append(round(rss_mb(server.proc.pid), 1))
        errors += learner.errors
    finally:
        learner.close()
    return {"cycles": done, "rss_mb_every_10": rss, "errors": errors}


def plot(rows: list[dict], path: Path) -> None:
    """Per-learner frames/s (min and median) against learners, a PNG via plotly.js."""
    from playwright.sync_api import sync_playwright

    plotly_js = (ROOT / "static" / "plotly.min.js").read_text()
    xs = [r["learners"] for r in rows]
    traces = [{"x": xs, "y": [r["frames_per_s_median"] for r in rows], "name": "median learner",
               "mode": "lines+markers"},
              {"x": xs, "y": [r["frames_per_s_min"] for r in rows], "name": "slowest learner",
               "mode": "lines+markers"},
              {"x": [1, max(xs)], "y": [5, 5], "name": "goal: 5 frames/s each",
               "mode": "lines", "line": {"dash": "dot", "color": "#c0392b"}}]
    layout = {"title": {"text": "Frames per second per learner, one 2-core server (push route)"},
              "xaxis": {"title": {"text": "learners training at once"}},
              "yaxis": {"title": {"text": "frames/s"}, "rangemode": "tozero"},
              "width": 900, "height": 500}
    html = (f"<html><body><div id=p></div><script>{plotly_js}</script><script>"
            f"Plotly.newPlot('p', {json.dumps(traces)}, {json.dumps(layout)})"
            ".then(() => document.body.dataset.done = 1)</script></body></html>")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 920, "height": 520})
        page.set_content(html)
        page.wait_for_function("document.body.dataset.done")
        page.locator("#p").screenshot(path=str(path))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", default="1,5,10,20,30,40")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--query", default=QUERY)
    parser.add_argument("--deadline", type=float, default=1800.0, help="seconds for it all")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()
    counts = [min(int(c), MAX_LEARNERS) for c in args.learners.split(",") if c.strip()]
    seconds = min(args.seconds, MAX_WINDOW_S)
    deadline = time.monotonic() + args.deadline
    log = Path("/tmp") / f"push_load_{int(time.time())}.log"
    server = StreamlitServer(log)
    result: dict = {"query": args.query, "windows": []}
    try:
        warm = Learner(server.url, "playground", args.query, timeout=120)
        warm.run_page()  # imports JAX and compiles the architecture (not measured)
        warm.close()
        for count in counts:
            row = window(server, count, seconds, args.query, deadline)
            print(json.dumps(row), flush=True)
            result["windows"].append(row)
            time.sleep(2)  # let paused trainers and closed sessions settle
        if args.cycles:
            result["cycles"] = cycles(server, args.cycles, args.query, deadline)
            print(json.dumps(result["cycles"]), flush=True)
    finally:
        server.stop()
    result["server_tracebacks"] = server.log().count("Traceback")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
    if args.plot and result["windows"]:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot(result["windows"], args.plot)


if __name__ == "__main__":
    main()
