"""Chapter 5's σ sweep: how VI's learned σ (and so the OOD AUROC) moves with β, the initial σ₀
and the number of steps. Writes the JSON the page shows (`digits_sweep.SWEEP_FILE`):

    python docs/digits_sigma_sweep.py [--seed 0] [--out bnnlab/data/digits_sigma_sweep.json]

One VI run of the talk's recipe per (β, σ₀), measured at 600, 1,000, 3,000 and 6,000 steps
(`digits_sweep.sigma_sweep`); a few minutes on 2 CPU cores."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python docs/…` from anywhere

from bnnlab.core import runtime  # noqa: E402
from bnnlab.lessons import digits, digits_sweep  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(digits_sweep.SWEEP_FILE))
    args = parser.parse_args()
    start = time.perf_counter()
    rows = digits_sweep.sigma_sweep(
        seed=args.seed, progress=lambda i, n: print(f"{i}/{n}", file=sys.stderr, flush=True))
    payload = {
        "command": "python docs/digits_sigma_sweep.py --seed " + str(args.seed),
        "seed": args.seed, "device": runtime.device_label(),
        "recipe": {k: v for k, v in digits.recipe_config("vi_talk").__dict__.items()
                   if k in ("hidden", "lr", "prior_std", "num_samples", "steps_per_chunk")},
        "wall_s": round(time.perf_counter() - start, 1),
        "rows": [r._asdict() for r in rows]}
    with open(args.out, "w") as fh:
        json.dump(payload, fh, indent=1)
    for row in rows:
        print(json.dumps(row._asdict()))


if __name__ == "__main__":
    main()
