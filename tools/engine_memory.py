"""The engine cache's memory (issue 29 item 6): cycle N architectures through live runs as
learners would (a Run, its compile, two chunks, a frame, the metrics), dropping each run as a
learner who leaves, and print the server-side memory (RSS) every 10 architectures.

    python tools/engine_memory.py [--depth 2|3] [--count 50] [--old]

`--old` puts back the earlier bound for comparison, in the same code otherwise: a 32-engine
`functools.lru_cache` and a compiled set keyed by configuration.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bnnlab.core import runtime  # noqa: E402
from bnnlab.lessons import playground  # noqa: E402
from bnnlab.live import compile_cache, frames, scheduler  # noqa: E402
from bnnlab.live.run import Run  # noqa: E402
from bnnlab.training import engine  # noqa: E402
from bnnlab.training.config import TrainConfig  # noqa: E402

WIDTHS = (4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 112, 128)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def use_old_bound() -> None:
    engine.compiled = functools.lru_cache(maxsize=32)(engine.make_engine)
    done: set = set()
    compile_cache.is_compiled = lambda eng: eng.static in done
    compile_cache.mark_compiled = lambda eng: done.add(eng.static)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--old", action="store_true")
    args = parser.parse_args()
    if args.old:
        use_old_bound()
    rng = np.random.default_rng(0)
    archs: list[tuple[int, ...]] = []
    while len(archs) < args.count:
        hidden = tuple(int(w) for w in rng.choice(WIDTHS, args.depth))
        if hidden not in archs and hidden != (32,) * args.depth:
            archs.append(hidden)
    base = TrainConfig(num_points=200)
    data = playground.build_data(base)
    slots = scheduler.Slots(1, "bench")

    def learner(cfg: TrainConfig) -> None:
        run = Run(cfg, data)
        run.ensure_compiled(slots, 600)
        run.advance()
        run.advance()
        frames.frame(run, 60, 1.0, "total")
        run.metrics()

    learner(base.replace(hidden=(32,) * args.depth))  # the default network: not counted
    gc.collect()
    runtime.release_memory()
    out = {"depth": args.depth, "bound": "old" if args.old else "bytes",
           "start_mb": round(rss_mb()), "after": {}}
    for k, hidden in enumerate(archs):
        learner(base.replace(hidden=hidden))
        if k % 10 == 9:
            gc.collect()
            out["after"][k + 1] = round(rss_mb())
    runtime.release_memory()
    out["end_trimmed_mb"] = round(rss_mb())
    out["engines_held"] = engine.compiled.cache_info().currsize
    print(json.dumps(out))


if __name__ == "__main__":
    main()
