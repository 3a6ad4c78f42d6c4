"""Fair share: a default session's click Train → first frame in a real browser, alone
and while 4 heavy sessions train on the same server. The heavy sessions are protocol clients
(tools/loadtest/protocol_client.py: Streamlit's protocol plus the push route, frames received and
acked as the chart does), so that their browsers do not eat the 2 cores the server runs on.

    python tools/loadtest/fair_share.py [--heavy 4] [--repeats 3] [--watch 5] [--out f.json]
        [--heavy-query frames]

`--heavy-query frames` makes the heavy sessions frame-heavy instead (issue 29: hidden 128×4,
grid 150, one sample, 15 steps a chunk: light chunks, ~70 GFLOP maps before the frame budget).
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

from protocol_client import Learner  # noqa: E402

from bnnlab.bench import browser as bench_browser  # noqa: E402

HEAVY_QUERY = bench_browser.HEAVY_QUERY  # near the cost budget: 2000 points, 128,128, S=16
FRAME_HEAVY_QUERY = ("hidden=128,128,128,128&num_points=500&num_samples=1&grid_size=150"
                     "&steps_per_chunk=15&steps=100000")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heavy", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--watch", type=float, default=5.0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--heavy-query", default="chunks",
                        help="'chunks' (the cost budget's heavy chunks), 'frames' (heavy maps) "
                             "or a query string")
    args = parser.parse_args()
    heavy_n = min(args.heavy, 8)
    heavy_query = {"chunks": HEAVY_QUERY, "frames": FRAME_HEAVY_QUERY}.get(args.heavy_query,
                                                                          args.heavy_query)
    result: dict = {"heavy_query": heavy_query, "default_query": bench_browser.QUERY}
    with bench_browser._fresh_server_browser() as (browser, url):
        bench_browser._session(browser, url, 1.0)  # compiles the default architecture
        alone = [bench_browser._session(browser, url, args.watch)
                 for _ in range(args.repeats)]
        heavies = []
        try:
            for _ in range(heavy_n):
                learner = Learner(url, "playground", heavy_query, timeout=300)
                learner.run_page()
                learner.run_page("Train")
                learner.subscribe()
                heavies.append(learner)
            for learner in heavies:  # every heavy session has trained a step (compiled)
                if learner.wait_step(0, 600) is None:
                    raise RuntimeError("a heavy session trained no step within 600 s")
            time.sleep(2.0)
            frames0 = [len(h.frames.times) for h in heavies]
            t0 = time.monotonic()
            loaded = [bench_browser._session(browser, url, args.watch)
                      for _ in range(args.repeats)]
            elapsed = time.monotonic() - t0
            heavy_fps = [(len(h.frames.times) - f) / elapsed
                         for h, f in zip(heavies, frames0, strict=True)]
            heavy_steps = [h.frames.steps[-1] for h in heavies]
            errors = [e for h in heavies for e in h.errors]
            for learner in heavies:
                learner.run_page("Pause")
        finally:
            for learner in heavies:
                learner.close()

    def med(rows: list[dict], key: str) -> float:
        return round(statistics.median(r[key] for r in rows), 3)

    result.update({
        "heavy_sessions": heavy_n,
        "first_frame_alone_s": [round(r["first_frame_s"], 3) for r in alone],
        "first_frame_with_heavy_s": [round(r["first_frame_s"], 3) for r in loaded],
        "first_frame_alone_median_s": med(alone, "first_frame_s"),
        "first_frame_with_heavy_median_s": med(loaded, "first_frame_s"),
        "redraws_per_s_alone": med(alone, "redraws_per_s"),
        "redraws_per_s_with_heavy": med(loaded, "redraws_per_s"),
        "steps_per_s_alone": med(alone, "steps_per_s"),
        "steps_per_s_with_heavy": med(loaded, "steps_per_s"),
        "blank_frames": sum(r["blank"] for r in alone + loaded),
        "heavy_frames_per_s": [round(f, 2) for f in heavy_fps],
        "heavy_steps_reached": heavy_steps,
        "heavy_errors": errors,
    })
    print(json.dumps(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
