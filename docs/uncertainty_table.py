"""Measure epistemic uncertainty and total entropy near and far from the data, and the one
verdict (`bnnlab.core.verdict`), per method with the CLI; print docs/UNCERTAINTY.md's table and
the README's smaller one. Each run is `python3 -m bnnlab train --json <args> --seed S` for S in
SEEDS (every other setting the CLI's default: moons, 512 points, noise 0.15, 2-32-32-1 tanh,
prior σ 3). Usage:

    python3 docs/uncertainty_table.py                # append the missing runs to --out
    python3 docs/uncertainty_table.py --markdown docs/uncertainty_runs.jsonl [--readme]

`tests/contract/test_docs_figures.py` checks that both tables in the docs are this rendering.
"""

import argparse
import json
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python docs/…` from anywhere

from bnnlab import registry  # noqa: E402
from bnnlab.core import predict, verdict  # noqa: E402
from bnnlab.lessons import presets  # noqa: E402

RUNS = (
    "--method vi",
    "--method vi --kl-weight 0.001 --init-std 0.001",
    "--method vi --kl-weight 0.01",
    "--method map",
    "--method laplace",
    "--method dropout",
    "--method ensemble",
    "--method hmc",
    "--method hmc --activation relu",
    "--method laplace --hidden 128,128",
    shlex.join(a for a in presets.cli_args(
        {k: v for k, v in presets.SAY_I_DONT_KNOW.items() if k != "seed"})),
    "--method vi --hidden 16,16",
    "--method map --hidden 16,16",
    "--method laplace --hidden 16,16",
)


SEEDS = (0, 1, 2)
SLOW = ("--method hmc --activation relu", "--method laplace --hidden 128,128")


def run(args: str, seed: int) -> dict:
    cmd = [sys.executable, "-m", "bnnlab", "train", *shlex.split(args), "--seed", str(seed),
           "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    report["args"], report["seed"] = args, seed
    return report


def _done(path: str) -> set[tuple[str, int]]:
    if not Path(path).exists():
        return set()
    with open(path) as f:
        return {(r["args"], r["seed"]) for r in map(json.loads, f) if r}


def run_all(path: str, seeds: tuple[int, ...] = SEEDS, slow: bool = True,
            only: str = "") -> None:
    """Append each (configuration, seed) not yet in `path` to it, cheapest first, the SLOW
    ones last (or not at all), only the configurations whose flags contain `only`. Several
    of these may run at once, on different seeds or configurations."""
    order = sorted((a for a in RUNS if only in a), key=lambda a: (a in SLOW, "hmc" in a))
    todo = [(a, s) for s in seeds for a in order if a not in SLOW]
    todo += [(a, s) for a in SLOW for s in seeds if only in a] if slow else []
    for args, seed in todo:
        if (args, seed) not in _done(path):
            report = json.dumps(run(args, seed))
            with open(path, "a") as f:
                print(report, file=f, flush=True)


NOTES = {  # what a row's settings are, where the flags alone do not say
    "--method vi --kl-weight 0.001 --init-std 0.001": "the talk's recipe",
    RUNS[10]: "the *Say I don't know* preset",
    "--method laplace --hidden 128,128": "over 3,000 parameters: the last layer only",
}
README_ROWS = {  # the README's smaller table: configuration -> its label there
    "--method vi": "mean-field VI, β = 1",
    "--method vi --kl-weight 0.001 --init-std 0.001": "mean-field VI, the talk's recipe",
    "--method map": "MAP",
    "--method laplace": "linearised Laplace",
    "--method dropout": "MC dropout",
    "--method ensemble": "deep ensemble (5)",
    "--method hmc": "HMC/NUTS",
    RUNS[10]: "**HMC/NUTS 2-16-16-1, 200 warm-up, 600 steps: the *Say I don't know* preset**",
}


def load(path: str) -> dict[str, list[dict]]:
    """The runs of a jsonl file, grouped by configuration in RUNS order, seeds ascending."""
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    first = {}  # one run per (configuration, seed): the first written
    for r in records:
        first.setdefault((r["args"], r["seed"]), r)
    return {args: sorted((r for (a, _), r in first.items() if a == args),
                         key=lambda r: r["seed"])
            for args in RUNS if any(a == args for a, _ in first)}


def span(values: list[float], digits: int = 3) -> str:
    """'0.105' when every value rounds to it, else 'min–max'."""
    low, high = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return low if low == high else f"{low}–{high}"


def verdicts(runs: list[dict]) -> str:
    """Each verdict's words with how many of the seeds it was, e.g. 'confident everywhere
    (2/3), unsure everywhere (1/3)'."""
    kinds = [r["verdict"] for r in runs]
    words = {k: verdict.HEADLINES[k].removeprefix("It ") for k in verdict.KINDS}
    return ", ".join(f"{words[k][0].lower()}{words[k][1:]} ({kinds.count(k)}/{len(kinds)})"
                     for k in verdict.KINDS if k in kinds)


def settings_text(args: str, method: str) -> str:
    text = args.replace(f"--method {method}", "").strip() or "defaults"
    if args == RUNS[10]:
        text = "--hidden 16,16 --hmc-warmup 200 --steps 600"
    return f"{text} ({NOTES[args]})" if args in NOTES else text


def markdown(path: str) -> str:
    """docs/UNCERTAINTY.md's table: per configuration, ranges over its seeds (min–max)."""
    rows = ["| method | settings (beyond the defaults) | params | seeds | test acc | "
            "epistemic near | epistemic far | entropy near | entropy far | verdict |",
            "|---|---|---:|---|---:|---:|---:|---:|---:|---|"]
    for args, runs in load(path).items():
        first = runs[0]
        cells = [span([r[k] for r in runs]) for k in
                 ("test_acc", "epistemic_near", "epistemic_far", "entropy_near", "entropy_far")]
        rows.append(f"| {registry.method_label(first['method'])} | "
                    f"{settings_text(args, first['method'])} | {first['num_params']:,} | "
                    f"{','.join(str(r['seed']) for r in runs)} | {' | '.join(cells)} | "
                    f"{verdicts(runs)} |")
    return "\n".join(rows) + "\n\n" + textwrap.fill(
        f"Each figure is a range over the seeds listed (min–max), not an error bar. Within "
        f"one run the epistemic means are Monte Carlo estimates from {predict.EVAL_SAMPLES} "
        f"posterior draws (an ensemble's members); the largest standard "
        f"error of any of them above is {largest_se(path):.3f} nats.", width=96)


def readme(path: str) -> str:
    """The README's smaller table: the rows of README_ROWS, epistemic only."""
    rows = ["| method (2-32-32-1 unless named) | test acc | epistemic near | epistemic far | "
            "verdict (seeds 0, 1, 2) |", "|---|---:|---:|---:|---|"]
    runs_of = load(path)
    for args, label in README_ROWS.items():
        runs = runs_of.get(args)
        if runs:
            cells = [span([r[k] for r in runs])
                     for k in ("test_acc", "epistemic_near", "epistemic_far")]
            rows.append(f"| {label} | {' | '.join(cells)} | {verdicts(runs)} |")
    return "\n".join(rows)


def largest_se(path: str) -> float:
    """The largest Monte Carlo standard error of any epistemic mean in the file."""
    return max(max(r["epistemic_near_se"], r["epistemic_far_se"])
               for runs in load(path).values() for r in runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--markdown", help="a jsonl file of runs to format")
    parser.add_argument("--readme", action="store_true",
                        help="with --markdown: the README's smaller table")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--only", default="", help="only configurations with this in them")
    parser.add_argument("--no-slow", action="store_true", help="leave out the SLOW runs")
    parser.add_argument("--out", default="docs/uncertainty_runs.jsonl",
                        help="the jsonl file the runs are appended to")
    opts = parser.parse_args()
    if opts.markdown:
        print(readme(opts.markdown) if opts.readme else markdown(opts.markdown))
    else:
        run_all(opts.out, tuple(int(s) for s in opts.seeds.split(",")), not opts.no_slow, opts.only)
