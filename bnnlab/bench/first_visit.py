"""Every chapter's first visit, in the browser: a fresh server (no compiled program on disk),
then the same after a restart with JAX's persistent compilation cache that the first server
filled (`core.jax_cache`). A visit is timed from `goto` until the script run is over and no
spinner is left (`SETTLED_JS`), in a new browser page, chapters in the sidebar's order.

    python -m bnnlab.bench.first_visit [--out f.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bnnlab import registry
from bnnlab.bench.browser import SETTLED_JS, _fresh_server_browser

IDLE_JS = SETTLED_JS + " && !document.querySelector('[data-testid=stSpinner]')"


def _visits(browser, url: str) -> dict[str, float]:
    times = {}
    for chapter in registry.CHAPTERS:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        start = time.perf_counter()
        page.goto(f"{url}/{chapter.url_path}")
        # the page's title is drawn (its script runs), then nothing runs or spins any more
        page.locator("[data-testid=stMain] h1").first.wait_for(timeout=120_000)
        page.wait_for_function(IDLE_JS, timeout=120_000)
        times[chapter.url_path or "home"] = round(time.perf_counter() - start, 2)
        page.close()
    return times


def run() -> dict:
    """First visits on a fresh server, then on a restarted one with the filled cache."""
    with tempfile.TemporaryDirectory(prefix="bnnlab-jax-cache-") as cache:
        with _fresh_server_browser(jax_cache_dir=cache) as (browser, url):
            fresh = _visits(browser, url)
        with _fresh_server_browser(jax_cache_dir=cache) as (browser, url):
            restarted = _visits(browser, url)
        files = sum(1 for _ in Path(cache).iterdir())
    return {"name": "first_visit", "fresh_s": fresh, "after_restart_s": restarted,
            "cached_programs": files, "note": "goto → script run over and no spinner; Home is "
            "visited once before (the server imports JAX then; not timed)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = run()
    print(json.dumps(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
