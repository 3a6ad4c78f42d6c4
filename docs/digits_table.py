"""Chapter 5's figures: train every recipe of `digits.RECIPES` with the CLI's own command for
each seed, store the results (`bnnlab/data/digits_results.json`, which the page reads) and
rewrite the generated sections of docs/DIGITS.md from them and from the σ sweep's JSON:

    python docs/digits_table.py [--seeds 0,1,2]     # measure, store, rewrite DIGITS.md
    python docs/digits_table.py --render            # rewrite DIGITS.md from what is stored

CI checks DIGITS.md against the stored results and the results against the library
(tests/contract/test_digits_figures.py)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python docs/…` from anywhere

from bnnlab import cli  # noqa: E402
from bnnlab.core import runtime  # noqa: E402
from bnnlab.lessons import digits, digits_report, digits_sweep  # noqa: E402

DOC = Path(__file__).resolve().parent / "DIGITS.md"


def render(doc: Path = DOC) -> None:
    results = digits_report.load_results()
    if results is None:
        raise SystemExit(f"no stored results in {digits_report.RESULTS_FILE}: measure first")
    sections = digits_report.markdown_sections(results, digits_sweep.load_sweep())
    doc.write_text(digits_report.fill(doc.read_text(), sections))


def run_cli(argv: Sequence[str]) -> dict:
    """`python -m bnnlab <argv>` in this process; its JSON report (the last line printed)."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = cli.main(list(argv))
    if code != 0:
        raise RuntimeError(f"python -m bnnlab {' '.join(argv)} exited with {code}")
    return json.loads(buffer.getvalue().strip().splitlines()[-1])


def measure_one(name: str, seed: int) -> dict:
    """One stored row: recipe `name` trained by the CLI with `seed`, the fields
    `digits_report.KEEP`, and the model-free baseline's AUROCs for that seed's split."""
    argv = digits_report.command(name, seed)
    report = run_cli(argv)
    nearest = digits.nearest_rows(seed)
    return {"recipe": name, "seed": seed, "command": "python -m bnnlab " + " ".join(argv),
            **{k: report[k] for k in digits_report.KEEP},
            "nearest_auroc_letters": nearest.auroc_letters,
            "nearest_auroc_noise": nearest.auroc_noise}


def measure(names: Iterable[str] = tuple(digits.RECIPES),
            seeds: Iterable[int] = digits_report.SEEDS,
            progress: Callable[[dict], None] | None = None) -> list[dict]:
    """`measure_one` for every recipe and seed; `progress(row)` after each."""
    rows = []
    for seed in seeds:
        for name in names:
            rows.append(measure_one(name, seed))
            if progress is not None:
                progress(rows[-1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default=",".join(map(str, digits_report.SEEDS)))
    parser.add_argument("--recipes", default=",".join(digits.RECIPES))
    parser.add_argument("--render", action="store_true",
                        help="only rewrite DIGITS.md from the stored results")
    args = parser.parse_args()
    if not args.render:
        start = time.perf_counter()
        rows = measure(
            args.recipes.split(","), [int(s) for s in args.seeds.split(",")],
            progress=lambda row: print(json.dumps(row), flush=True))
        payload = {"device": runtime.device_label(),
                   "seeds": [int(s) for s in args.seeds.split(",")],
                   "wall_s": round(time.perf_counter() - start, 1), "rows": rows}
        digits_report.RESULTS_FILE.write_text(json.dumps(payload, indent=1) + "\n")
    render()


if __name__ == "__main__":
    main()
