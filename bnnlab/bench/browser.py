"""Browser benchmark of the live playground: `python -m bnnlab bench --browser` (with the
chapters', `bnnlab.bench.chapters`), `python -m bnnlab.bench.browser` alone, `--push` for the
pushed frames' timings, `--fair-share` for a default session's first frame while 4 sessions near
the budget train.

Starts `streamlit run app.py` on 127.0.0.1 and a free port, drives Debian's Chromium through
Playwright (never `playwright install`), and measures in the browser, not on the server:

* click Train → first redrawn frame with a new step, cold (first run of that architecture in the
  server process) and warm (a second session). The click comes once the page is drawn (its
  objective chart included); the training step of a new architecture compiles in the
  background from the moment its page run starts (`Session._warm_up`), so the cold
  click waits for the compile only if it comes first. `page_ready_cold_s` is the time from
  opening the URL to that point;
* redraws per second (frames with new steps; the chart skips a frame it already shows) and
  training steps per second while training;
* blank frames: every animation frame, the centre pixel of the map must be painted.

Needs the dev requirements (playwright) and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app.py"
CHROMIUM = os.environ.get("BNNLAB_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run"]
SETTLED_JS = "!document.querySelector('[data-testid=stStatusWidget]')"  # the script run is over
QUERY = "dataset=moons&num_points=512&noise=0.15&hidden=32,32&num_samples=8&steps=100000"

# rAF loop: count frames whose map centre pixel is unpainted (alpha 0) or whose chart is missing.
WATCH_JS = """() => {
  window.__bnnBlank = 0; window.__bnnFrames = 0; window.__bnnWatch = true;
  const tick = () => {
    if (!window.__bnnWatch) return;
    const c = document.querySelector('.bnn-map canvas');
    window.__bnnFrames += 1;
    if (!c || !c.width) { window.__bnnBlank += 1; }
    else {
      const px = c.getContext('2d').getImageData(c.width >> 1, c.height >> 1, 1, 1).data;
      if (px[3] === 0) window.__bnnBlank += 1;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(port: int, jax_cache_dir: str | None = None) -> subprocess.Popen:
    """`streamlit run app.py` on `port`: with JAX's persistent compilation cache in
    `jax_cache_dir`, else without it (a fresh server compiles everything)."""
    env = dict(os.environ, **({"BNNLAB_JAX_CACHE_DIR": jax_cache_dir} if jax_cache_dir
                              else {"BNNLAB_JAX_CACHE": "0"}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=APP.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not start")


@contextlib.contextmanager
def _fresh_server_browser(warm_up: bool = True,
                          jax_cache_dir: str | None = None) -> Iterator[tuple]:
    """A fresh `streamlit run` on a free port and a headless Chromium: yields (browser, url).
    With `warm_up`, Home is visited first (the server imports JAX then; not timed). Without
    `jax_cache_dir` the server compiles everything (no persistent compilation cache)."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = _start_server(port, jax_cache_dir)
    url = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            if warm_up:
                warmup = browser.new_page()
                warmup.goto(url)
                warmup.get_by_role("heading", name="BNN Lab").first.wait_for(timeout=120_000)
                warmup.close()
            yield browser, url
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)


def _session(browser, url: str, watch_s: float, query: str = QUERY) -> dict:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(120_000)
    opened = time.perf_counter()
    page.goto(f"{url}/playground?{query}")
    page.wait_for_function("document.querySelector('.bnn-live') && "
                           "document.querySelector('.bnn-live')?.dataset.step === '0'")
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')")
    # The page is on screen once the objective chart is drawn (plotly.js loaded and run): a
    # learner cannot press Train before seeing it.
    page.wait_for_function("document.querySelector('.bnn-elbo .main-svg')")
    ready_s = time.perf_counter() - opened
    page.evaluate(WATCH_JS)
    start = time.perf_counter()
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function("(e => e && Number(e.dataset.step) > 0)"
                           "(document.querySelector('.bnn-live'))", polling="raf")
    first_frame_s = time.perf_counter() - start
    redraws0 = page.evaluate("window.__bnnRedraws")
    step0 = int(page.locator(".bnn-live").last.get_attribute("data-step"))
    t0 = time.perf_counter()
    time.sleep(watch_s)
    redraws1 = page.evaluate("window.__bnnRedraws")
    step1 = int(page.locator(".bnn-live").last.get_attribute("data-step"))
    elapsed = time.perf_counter() - t0
    blank, frames = page.evaluate("[window.__bnnBlank, window.__bnnFrames]")
    page.get_by_role("button", name="Pause", exact=True).click()
    # Wait for the pause to reach the server: a tab closed first leaves its trainer running
    # until the idle timeout, and the next session would be measured against it.
    page.get_by_role("button", name="Resume", exact=True).wait_for()
    context.close()
    return {"ready_s": ready_s, "first_frame_s": first_frame_s,
            "redraws_per_s": (redraws1 - redraws0) / elapsed,
            "steps_per_s": (step1 - step0) / elapsed, "blank": blank, "frames": frames}


def run(watch_s: float = 10.0) -> dict:
    with _fresh_server_browser() as (browser, url):
        cold = _session(browser, url, watch_s)
        warm = _session(browser, url, watch_s)
    return {
        "name": "browser_live",
        "config": "moons-512 2-32-32-1 tanh S=8, 15 steps per redraw (the default), 64x64 grid",
        "page_ready_cold_s": round(cold["ready_s"], 3),
        "click_to_first_frame_cold_s": round(cold["first_frame_s"], 3),
        "click_to_first_frame_warm_s": round(warm["first_frame_s"], 3),
        "redraws_per_s": round(warm["redraws_per_s"], 2),
        "steps_per_s_while_drawing": round(warm["steps_per_s"], 1),
        "blank_frames": cold["blank"] + warm["blank"],
        "frames_sampled": cold["frames"] + warm["frames"],
        "watch_s": watch_s,
    }


# ------------------------------------------------------------------ push path
# rAF loop: the time (performance.now) of every change of the chart's step and of its count of
# training points, so that the effect of a click is timed where the learner sees it.
# The count of pending points drawn at the click (live_chart.js `markers`) is watched too.
CHANGES_JS = """() => {
  window.__bnnSteps = []; window.__bnnPoints = []; window.__bnnMarkers = [];
  window.__bnnWatchChanges = true;
  // The values now, read at once: a change is one seen after this (a press right after
  // this returns must not count the first animation frame's read as its effect).
  const e0 = document.querySelector('.bnn-live');
  let step = e0 ? e0.dataset.step : null, points = e0 ? e0.dataset.trainPoints : null;
  let markers = e0 ? e0.dataset.markers : null;
  const tick = () => {
    if (!window.__bnnWatchChanges) return;
    const e = document.querySelector('.bnn-live');
    if (e) {
      if (e.dataset.step !== step) {
        step = e.dataset.step; window.__bnnSteps.push(performance.now());
      }
      if (e.dataset.trainPoints !== points) {
        points = e.dataset.trainPoints; window.__bnnPoints.push(performance.now());
      }
      if (e.dataset.markers !== markers) {
        markers = e.dataset.markers; window.__bnnMarkers.push(performance.now());
      }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""
# Click a Streamlit button in the page itself and return when (no Playwright round trip).
PRESS_JS = """(name) => {
  const b = [...document.querySelectorAll('button')].find(
    (b) => [...b.querySelectorAll('p')].some((p) => p.textContent.trim() === name));
  const t = performance.now(); b.click(); return t;
}"""
# A click on the mean map at (fx, fy) of its plot area, as the chart's own handlers see it.
MAP_CLICK_JS = """([fx, fy]) => {
  const c = document.querySelector('.bnn-map canvas');
  const r = c.getBoundingClientRect();
  const o = {clientX: r.left + 38 + fx * (r.width - 46), clientY: r.top + 6 + fy * (r.height - 30),
             bubbles: true};
  const t = performance.now();
  c.dispatchEvent(new MouseEvent('mousedown', o)); c.dispatchEvent(new MouseEvent('mouseup', o));
  return t;
}"""


def _after(times: list[float], t0: float) -> list[float]:
    return [t - t0 for t in times if t > t0]


def run_push(watch_s: float = 10.0, query: str = QUERY, clicks: int = 5,
             presses: int = 3) -> dict:
    """The live chart over the push route (the app's default where it is served): warm click
    Train → first frame, redraws and steps per second, blank frames (as `run`), and, timed in
    the page (performance.now at the click, and at the animation frame that shows the effect),
    on a warm server: Train (then Resume, `presses` times in all) → the first new step on
    screen; Pause → the last new step on screen and → the buttons redrawn; a map click adding
    a point while training → the point drawn at once (pending, `markers`) and → the first
    frame from the server that holds it (the chart's count of training points changes)."""
    with _fresh_server_browser() as (browser, url):
        _session(browser, url, 1.0, query)  # compiles the architecture
        warm = _session(browser, url, watch_s, query)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{url}/playground?{query}")
        page.wait_for_function("document.querySelector('.bnn-live') && "
                               "document.querySelector('.bnn-live')?.dataset.push === 'open'")
        page.wait_for_function(SETTLED_JS)
        page.get_by_test_id("stSelectbox").filter(has_text="Click on the map to").click()
        page.get_by_role("option", name="Add class 1 (blue)").click()
        page.wait_for_function("document.querySelector('.bnn-map .bnn-title').textContent"
                               ".includes('click to add')")
        page.wait_for_function(SETTLED_JS)
        page.evaluate(CHANGES_JS)
        train_s, pause_s, buttons_s, marker_s, click_s = [], [], [], [], []
        for k in range(presses):
            t0 = page.evaluate(PRESS_JS, "Train" if k == 0 else "Resume")
            page.wait_for_function(f"window.__bnnSteps.some((t) => t > {t0})")
            train_s.append(_after(page.evaluate("window.__bnnSteps"), t0)[0] / 1000)
            page.get_by_role("button", name="Pause", exact=True).wait_for()
            page.wait_for_function(SETTLED_JS)
            time.sleep(1.0)
            for j in range(clicks if k == 0 else 0):
                before = len(page.evaluate("window.__bnnPoints"))
                t0 = page.evaluate(MAP_CLICK_JS, [0.1 + 0.15 * j, 0.2])
                page.wait_for_function(f"window.__bnnPoints.length > {before}")
                marker_s.append(_after(page.evaluate("window.__bnnMarkers"), t0)[0] / 1000)
                click_s.append(_after(page.evaluate("window.__bnnPoints"), t0)[0] / 1000)
                time.sleep(0.5)
            time.sleep(0.5)
            t0 = page.evaluate(PRESS_JS, "Pause")
            page.get_by_role("button", name="Resume", exact=True).wait_for()
            buttons_s.append((page.evaluate("performance.now()") - t0) / 1000)
            time.sleep(1.5)
            late = _after(page.evaluate("window.__bnnSteps"), t0)
            pause_s.append(max(late) / 1000 if late else 0.0)
            page.wait_for_function(SETTLED_JS)
        pushed = page.evaluate("Number(document.querySelector('.bnn-live')?.dataset.pushed)")
        commands = page.evaluate("window.__bnnCommandsSent || 0")
        remounts = page.evaluate("window.__bnnMounts || 0")
        context.close()

    def rounded(values: list[float]) -> list[float]:
        return [round(v, 3) for v in values]

    return {
        "name": "browser_push",
        "config": f"{query}; frames over the push route",
        "click_to_first_frame_warm_s": round(warm["first_frame_s"], 3),
        "redraws_per_s": round(warm["redraws_per_s"], 2),
        "steps_per_s_while_drawing": round(warm["steps_per_s"], 1),
        "blank_frames": warm["blank"],
        "frames_sampled": warm["frames"],
        "train_to_first_new_step_s": rounded(train_s),
        "pause_last_new_step_s": rounded(pause_s),
        "pause_buttons_redrawn_s": rounded(buttons_s),
        "click_to_point_drawn_s": rounded(marker_s),
        "click_to_server_frame_with_point_s": rounded(click_s),
        "frames_pushed_in_click_session": pushed,
        "commands_sent_on_socket": commands,
        "chart_mounts_in_click_session": remounts,
        "watch_s": watch_s,
    }


# ------------------------------------------------------------------ fair share
# Settings near the cost budget (`config.check_cost`): the model gives ~0.36 s a step, so each
# chunk is one step of ≤ MAX_CHUNK_SECONDS; 2,000 steps stay under MAX_RUN_SECONDS.
HEAVY_QUERY = "dataset=moons&num_points=2000&hidden=128,128&num_samples=16&steps=2000"


def _start_heavy(browser, url: str) -> tuple:
    """A session with HEAVY_QUERY that trains (its first step done); returns (context, page)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(300_000)
    page.goto(f"{url}/playground?{HEAVY_QUERY}")
    page.get_by_role("button", name="Train", exact=True).click()
    return context, page


def run_fair_share(heavy: int = 4, watch_s: float = 5.0, repeats: int = 3) -> dict:
    """A default session's click Train → first frame, alone and while `heavy` sessions with
    settings near the budget train on the same server (each of its own browser context)."""
    with _fresh_server_browser() as (browser, url):
        _session(browser, url, 1.0)  # compiles the default architecture
        alone = [_session(browser, url, watch_s) for _ in range(repeats)]
        heavies = [_start_heavy(browser, url) for _ in range(heavy)]
        for _, page in heavies:  # every heavy session has trained a step
            page.wait_for_function("(e => e && Number(e.dataset.step) > 0)"
                                   "(document.querySelector('.bnn-live'))")
        loaded = [_session(browser, url, watch_s) for _ in range(repeats)]
        heavy_steps = [int(page.locator(".bnn-live").last.get_attribute("data-step"))
                       for _, page in heavies]
        for context, page in heavies:
            page.get_by_role("button", name="Pause", exact=True).click()
            page.get_by_role("button", name="Resume", exact=True).wait_for()
            context.close()

    def median(rows: list[dict], key: str) -> float:
        return round(sorted(r[key] for r in rows)[len(rows) // 2], 3)

    return {
        "name": "browser_fair_share",
        "config": f"default session (moons-512 2-32-32-1 S=8) vs {heavy} sessions of "
                  f"{HEAVY_QUERY}",
        "click_to_first_frame_alone_s": median(alone, "first_frame_s"),
        "click_to_first_frame_with_heavy_s": median(loaded, "first_frame_s"),
        "first_frames_with_heavy_s": [round(r["first_frame_s"], 3) for r in loaded],
        "steps_per_s_alone": median(alone, "steps_per_s"),
        "steps_per_s_with_heavy": median(loaded, "steps_per_s"),
        "heavy_steps_reached": heavy_steps,
        "repeats": repeats,
    }


def cli_main(argv: list[str] | None = None) -> None:
    """`python -m bnnlab.bench.browser [--push [--query=…] | --fair-share]`: one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bnnlab.bench.browser",
                                     description="The playground in headless Chromium: "
                                                 "redraws, first frame, blank frames.")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--push", action="store_true",
                       help="frames over the push route; Train, Pause and clicks timed")
    which.add_argument("--fair-share", action="store_true",
                       help="a default session's first frame beside four heavy ones")
    parser.add_argument("--query", default=QUERY, help="the playground's URL settings (--push)")
    args = parser.parse_args(argv)
    if args.fair_share:
        print(json.dumps(run_fair_share()))
    elif args.push:
        print(json.dumps(run_push(query=args.query)))
    else:
        print(json.dumps(run()))


if __name__ == "__main__":
    cli_main()
