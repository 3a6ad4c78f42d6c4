"""Browser benchmarks of the chapters: chapter 1's prior slider and chapter 2's first visit
(`run_chapters`, also in `python -m bnnlab bench --browser`), chapter 3's method switch and NUTS
playback (`chapter3`), and chapter 5's stroke → verdict (`run_digits`). `python -m
bnnlab.bench.chapters [--chapter3 | --digits]`. Needs the dev requirements (playwright) and
/usr/bin/chromium; the server and browser come from `bnnlab.bench.browser`."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bnnlab.bench.browser import APP, SETTLED_JS, _fresh_server_browser

# ------------------------------------------------------------------ chapters 1 and 2
# Chapter 1: a keyboard step of the prior slider until the posterior shows the new value, and 40
# presses as fast as the browser takes them (a held key) until the page settles. Chapter 2: the
# first visit until every section is drawn, the prior σ slider and the switch to 3 classes, each
# until the page's script run is over and the changed number is on screen.

def _ch1_posterior(prior: float) -> str:
    """The posterior P(F|T) = 2x/(1+x) of the talk's likelihoods, as the page prints it."""
    from bnnlab.lessons import bayes

    return f"{bayes.posterior(prior, 1.0, 0.5):.4f}"


def _wait_metric(page, label: str, value: str) -> None:
    page.wait_for_function(
        "([label, value]) => [...document.querySelectorAll('[data-testid=stMetric]')].some("
        "m => m.innerText.includes(label) && m.querySelector('[data-testid=stMetricValue]')"
        ".innerText.trim() === value)", arg=[label, value], polling="raf", timeout=120_000)


def _ch1(browser, url: str, steps: int, presses: int) -> dict:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{url}/bayes")
    _wait_metric(page, "P(F | T)", _ch1_posterior(0.5))
    page.wait_for_function(SETTLED_JS)
    slider = page.get_by_role("slider").first
    slider.focus()
    step_s = []
    for k in range(1, steps + 1):
        start = time.perf_counter()
        slider.press("ArrowRight")
        _wait_metric(page, "P(F | T)", _ch1_posterior(round(0.5 + 0.01 * k, 2)))
        step_s.append(time.perf_counter() - start)
        page.wait_for_function(SETTLED_JS)
    start = time.perf_counter()
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
    final = float(slider.input_value())
    _wait_metric(page, "P(F | T)", _ch1_posterior(final))
    page.wait_for_function(SETTLED_JS)
    held_s = time.perf_counter() - start
    missed = page.get_by_text("ForwardMsg MISS").count()
    context.close()
    return {"step_s": sorted(step_s)[len(step_s) // 2], "held_s": held_s, "final": final,
            "miss_dialogs": missed}


_CH1_SERVER_S = """
import sys, time; from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=60)
at.run()
seconds = []
for k in range(1, int(sys.argv[2]) + 1):
    at.slider(key="ch1_prior").set_value(round(0.5 + 0.01 * k, 2))
    start = time.perf_counter()
    at.run()
    seconds.append(time.perf_counter() - start)
print(sorted(seconds)[len(seconds) // 2])
"""


def _ch1_server_s(steps: int) -> float:
    """Median seconds of the page's own script run after a prior-slider step (AppTest, in a
    child process: the library itself never imports Streamlit)."""
    out = subprocess.run([sys.executable, "-c", _CH1_SERVER_S,
                          str(APP.parent / "app_pages" / "ch1_bayes.py"), str(steps)],
                         capture_output=True, text=True, check=True, cwd=APP.parent)
    return float(out.stdout.split()[-1])


def _ch2(browser, url: str) -> dict:
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(180_000)
    start = time.perf_counter()
    page.goto(f"{url}/bayesian-training")
    page.get_by_text("200 × 200").first.wait_for()  # the last section's table
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 6 && "
                           + SETTLED_JS)
    first_visit_s = time.perf_counter() - start
    sigma = page.get_by_role("slider", name="Prior σ: θ ~ N(0, σ²)")
    sigma.focus()
    start = time.perf_counter()
    sigma.press("ArrowRight")  # 1.0 -> 1.1: the prior chart's legend says N(0, 1.1²)
    page.get_by_text("N(0, 1.1²)").first.wait_for()
    page.wait_for_function(SETTLED_JS)
    sigma_s = time.perf_counter() - start
    start = time.perf_counter()
    page.get_by_role("radiogroup", name="Classes").get_by_text("3", exact=True).click()
    _wait_metric(page, "Parameters d", "371")  # 2-16-16-3: 3·16 + 17·16 + 17·3
    page.wait_for_function(SETTLED_JS)
    classes_s = time.perf_counter() - start
    context.close()
    return {"first_visit_s": first_visit_s, "sigma_s": sigma_s, "classes_s": classes_s}


def run_chapters(steps: int = 7, presses: int = 40) -> dict:
    """Chapters 1 and 2 in the browser (a fresh server: chapter 2's first visit is cold)."""
    server_s = _ch1_server_s(steps)
    with _fresh_server_browser() as (browser, url):
        ch2 = _ch2(browser, url)
        ch1 = _ch1(browser, url, steps, presses)
    return {
        "name": "browser_chapters",
        "ch1_prior_step_server_s": round(server_s, 3),
        "ch1_prior_step_browser_s": round(ch1["step_s"], 3),
        f"ch1_{presses}_presses_settle_s": round(ch1["held_s"], 3),
        "ch1_miss_dialogs": ch1["miss_dialogs"],
        "ch2_first_visit_all_sections_s": round(ch2["first_visit_s"], 3),
        "ch2_prior_sigma_step_s": round(ch2["sigma_s"], 3),
        "ch2_three_classes_s": round(ch2["classes_s"], 3),
    }


def chapter3(watch_s: float = 3.0) -> dict:
    """Chapter 3's comparison section, in the browser, on a fresh server (nothing compiled):
    the first visit (goto → the method's posterior view drawn; → the table filled), then click
    a method → its view redrawn (median over the five methods, twice round), and the NUTS
    player's trajectories per second (the live fit paused)."""
    title = ("(k => [...document.querySelectorAll('.st-key-ch3_method_predictive .legendtext')]"
             ".some(e => e.textContent === k))")
    with _fresh_server_browser(warm_up=False) as (browser, url):
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.set_default_timeout(240_000)
        opened = time.perf_counter()
        page.goto(f"{url}/variational-inference")
        page.wait_for_function("(e => e && Number(e.dataset.frames) > 0)"
                               "(document.querySelector('.bnn-post'))", polling="raf")
        view_s = time.perf_counter() - opened
        page.locator('[data-testid="stDataFrame"]').first.wait_for()
        page.wait_for_function("!document.querySelector('[data-testid=stProgress]')")
        table_s = time.perf_counter() - opened
        page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')")
        if page.get_by_text("Page not found").count():
            page.keyboard.press("Escape")
        radios = page.get_by_role("radiogroup", name="Show on the posterior")
        labels = ["VI, full covariance (reverse KL)", "Moment matching (forward KL)",
                  "Laplace at the MAP", "HMC with NUTS (blackjax)",
                  "VI, mean-field (reverse KL)"]
        switch_s = []
        for label in labels * 2:
            start = time.perf_counter()
            radios.get_by_text(label).click()
            page.wait_for_function(f"{title}({json.dumps(label)})", polling="raf")
            switch_s.append(time.perf_counter() - start)
        radios.get_by_text("HMC with NUTS (blackjax)").click()
        page.wait_for_function("(e => e && e.dataset.method === 'hmc' && "
                               "Number(e.dataset.transition) > 2)"
                               "(document.querySelector('.bnn-post'))")
        trans0 = int(page.locator(".bnn-post").get_attribute("data-transition"))
        start = time.perf_counter()
        time.sleep(watch_s)
        trans1 = int(page.locator(".bnn-post").get_attribute("data-transition"))
        fps = (trans1 - trans0) / (time.perf_counter() - start)
    switch_s.sort()
    return {"name": "browser_chapter3",
            "first_visit_view_s": round(view_s, 3), "first_visit_table_filled_s": round(table_s, 3),
            "method_switch_median_s": round(switch_s[len(switch_s) // 2], 3),
            "method_switch_max_s": round(switch_s[-1], 3),
            "hmc_trajectories_per_s": round(fps, 1),
            "switches": len(switch_s), "watch_s": watch_s}


# ------------------------------------------------------------------ chapter 5: stroke → verdict
# After a short training run (VI talk recipe, 100 steps, MAP alongside), each stroke on the
# drawing canvas is timed in the page from its pointerup to the first animation frame where the
# analysis panel's text (verdict, probability, uncertainty split) differs from before the stroke,
# and then until the page's script run is over. Two warm-up strokes are not counted.

# The analysis panel's text: every alert (the verdicts) and the uncertainty line.
_VERDICT_JS = """() => [...document.querySelectorAll('[data-testid=stMain] [data-testid=stAlert],'
  + ' [data-testid=stMain] [data-testid=stMarkdownContainer]')]
  .map(e => e.innerText).filter(t => /It's a|I don't know|Nothing drawn|Uncertainty|MAP says/
  .test(t)).join('|')"""

# Arm a watcher: note pointerup's time, then the first frame whose panel text changed.
_ARM_JS = """(signature) => {
  window.__bnnUp = null; window.__bnnChanged = null;
  const c = document.querySelector('.bnn-draw canvas');
  c.addEventListener('pointerup', () => { window.__bnnUp = performance.now(); }, {once: true});
  const read = """ + _VERDICT_JS + """;
  const tick = () => {
    if (window.__bnnUp !== null && read() !== signature) {
      window.__bnnChanged = performance.now(); return; }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def _stroke(page, box: dict, k: int) -> None:
    """Stroke number k: a short line at a different place each time (32×32 canvas units)."""
    x0, y0 = 6 + (k * 7) % 20, 5 + (k * 5) % 18

    def at(x, y):
        return box["x"] + x / 32 * box["width"], box["y"] + y / 32 * box["height"]

    page.mouse.move(*at(x0, y0))
    page.mouse.down()
    page.mouse.move(*at(x0 + 4, y0 + 8), steps=6)
    page.mouse.up()


def _digits_server_s(repeats: int = 20) -> dict:
    """The page's analysis work without the browser, in this process: `Lab.predict` of one
    image for the trained model and for MAP (through the accelerator slots) and `analyse`."""
    from bnnlab.lessons import digits, digits_lab

    lab = digits_lab.Lab()
    for name in ("vi_talk", digits.BASELINE):
        lab.start(name, digits.recipe_config(name, steps=100))
    lab.join(300)
    image = digits.example_image("digit", 0)[0]
    times = {"predict_s": [], "analyse_s": []}
    for _ in range(repeats):
        start = time.perf_counter()
        probs = lab.predict("vi_talk", image[None])
        lab.predict(digits.BASELINE, image[None])
        mid = time.perf_counter()
        digits.analyse(probs, image)
        times["predict_s"].append(mid - start)
        times["analyse_s"].append(time.perf_counter() - mid)
    return {k: sorted(v)[len(v) // 2] for k, v in times.items()}


def run_digits(strokes: int = 10) -> dict:
    """Chapter 5 in the browser: stroke → updated verdict, median over `strokes` warm strokes."""
    server = _digits_server_s()
    with _fresh_server_browser(warm_up=False) as (browser, url):
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        page = context.new_page()
        page.set_default_timeout(240_000)
        page.goto(f"{url}/digits?recipe=vi_talk&steps=100")
        page.get_by_role("button", name="Train").click()
        page.wait_for_function(
            "() => document.body.innerText.includes('done, step 100 of 100')"
            " && document.body.innerText.includes('MAP alongside: step 600')")
        # the page reruns once more when training ends: wait for the drawing panel
        page.wait_for_function("() => document.body.innerText.includes('Nothing drawn')")
        page.wait_for_function(SETTLED_JS)
        canvas = page.locator(".bnn-draw canvas")
        to_verdict, to_settled = [], []
        for k in range(strokes + 2):
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            signature = page.evaluate(_VERDICT_JS)
            page.evaluate(_ARM_JS, signature)
            start = time.perf_counter()
            _stroke(page, box, k)
            page.wait_for_function("window.__bnnChanged !== null", timeout=60_000)
            page.wait_for_function(SETTLED_JS)
            settled = time.perf_counter() - start
            up, changed = page.evaluate("[window.__bnnUp, window.__bnnChanged]")
            if k >= 2:
                to_verdict.append((changed - up) / 1000)
                to_settled.append(settled)
        context.close()
    return {
        "name": "browser_digits",
        "config": "VI talk recipe 64-64-10, 100 steps, MAP alongside; 64 posterior draws",
        "strokes": strokes,
        "stroke_to_verdict_median_s": round(sorted(to_verdict)[strokes // 2], 3),
        "stroke_to_verdict_max_s": round(max(to_verdict), 3),
        "stroke_to_settled_median_s": round(sorted(to_settled)[strokes // 2], 3),
        "server_predict_both_median_s": round(server["predict_s"], 4),
        "server_analyse_median_s": round(server["analyse_s"], 4),
    }


def cli_main(argv: list[str] | None = None) -> None:
    """`python -m bnnlab.bench.chapters [--digits | --chapter3]`: one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bnnlab.bench.chapters",
                                     description="Chapters 1 and 2 in the browser (default), "
                                                 "chapter 5's strokes or chapter 3's first "
                                                 "visit and method switches.")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--digits", action="store_true", help="chapter 5: stroke → verdict")
    which.add_argument("--chapter3", action="store_true",
                       help="chapter 3: first visit, method switch, NUTS player")
    args = parser.parse_args(argv)
    run_one = run_digits if args.digits else chapter3 if args.chapter3 else run_chapters
    print(json.dumps(run_one()))


if __name__ == "__main__":
    cli_main()
