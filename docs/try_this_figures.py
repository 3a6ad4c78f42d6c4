"""Measure the figures that the playground's "Try this" texts (`presets.TRY_THIS`) quote, and
store them in docs/try_this_figures.json. Usage:

    PYTHONPATH=. python3 docs/try_this_figures.py            # measure what is missing, print
    PYTHONPATH=. python3 docs/try_this_figures.py --print    # print the stored figures only

Each run is one experiment's own config, `presets.TRY_BASE | settings` (what its Set up button
writes into the page's widgets), at seeds 0, 1 and 2, trained and evaluated by
`bnnlab.cli.run_train`: the same metrics as the page's (`predict.evaluate` with the CLI's
key). A run whose config equals one in docs/uncertainty_runs.jsonl is copied from there
(same config, same seed: same numbers) rather than trained again. Experiment 4 (clicks) is
not measured here: its text stays qualitative. `tests/contract/test_docs_figures.py` checks
that every figure in `TRY_THIS` is one this script prints.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python docs/…` from anywhere

from bnnlab import cli  # noqa: E402
from bnnlab.lessons import presets  # noqa: E402
from bnnlab.training import config  # noqa: E402

DOCS = Path(__file__).resolve().parent
STORE = DOCS / "try_this_figures.json"
TABLE_RUNS = DOCS / "uncertainty_runs.jsonl"
SEEDS = (0, 1, 2)
FIELDS = ("test_acc", "epistemic_near", "epistemic_far", "entropy_near", "entropy_far",
          "epistemic_near_se", "epistemic_far_se", "verdict")
TALKS_RECIPE = dict(presets.PLAYGROUND_PRESETS["Talk's recipe: β = 0.001, initial σ = 1e-3"])

# (name, experiment number as the page numbers them, settings beyond TRY_BASE). Experiment 3
# (zoom out) is experiment 1's first run seen zoomed out: the same numbers.
RUNS: tuple[tuple[str, int, dict], ...] = (
    ("full Bayes", 1, presets.TRY_THIS[0][1]),
    ("talk's recipe", 1, {**presets.TRY_THIS[0][1], **TALKS_RECIPE}),
    ("tight prior", 2, presets.TRY_THIS[1][1]),
    ("gap", 5, presets.TRY_THIS[4][1]),
    ("gap, talk's recipe", 5, {**presets.TRY_THIS[4][1], **TALKS_RECIPE}),
    ("HMC preset", 6, presets.TRY_THIS[5][1]),
    ("HMC preset, then MAP", 6, {**presets.TRY_THIS[5][1], "method": "map"}),
)

# Which runs' figures each experiment's text may quote (experiment 4 quotes none).
EXPERIMENT_RUNS = {1: ("full Bayes", "talk's recipe"), 2: ("tight prior", "full Bayes"),
                   3: ("full Bayes",), 5: ("gap", "gap, talk's recipe"),
                   6: ("HMC preset", "HMC preset, then MAP")}


def make_config(settings: dict, seed: int) -> config.TrainConfig:
    """The experiment's run: TRY_BASE | settings, at `seed`."""
    values = {**presets.TRY_BASE, **settings, "seed": seed}
    values["hidden"] = tuple(values["hidden"])
    return config.TrainConfig(**values)


def _table_configs() -> list[tuple[config.TrainConfig, dict]]:
    """Each run of docs/uncertainty_runs.jsonl with the config its CLI arguments make."""
    if not TABLE_RUNS.exists():
        return []
    parser = cli._build_parser()
    found = []
    for line in TABLE_RUNS.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            args = parser.parse_args(["train", *shlex.split(record["args"]),
                                      "--seed", str(record["seed"])])
            found.append((cli._config_from_args(args), record))
    return found


def measure(train_hmc: bool = True) -> list[dict]:
    """Every (run, seed) in RUNS: kept from the store, copied from the table's runs, or
    trained; HMC runs only when `train_hmc`."""
    stored = json.loads(STORE.read_text())["runs"] if STORE.exists() else []
    have = {(r["name"], r["seed"]): r for r in stored}
    table = _table_configs()
    runs = []
    for name, number, settings in RUNS:
        for seed in SEEDS:
            if (name, seed) in have:
                runs.append(have[(name, seed)])
                continue
            cfg = make_config(settings, seed)
            source = "docs/uncertainty_runs.jsonl"
            report = next((r for c, r in table if c == cfg), None)
            if report is None:
                if cfg.method == "hmc" and not train_hmc:
                    continue
                report, source = cli.run_train(cfg), "cli.run_train"
            runs.append({"name": name, "experiment": number, "seed": seed, "source": source,
                         "config": {k: list(v) if isinstance(v, tuple) else v
                                    for k, v in dataclasses.asdict(cfg).items()},
                         **{k: report[k] for k in FIELDS}})
            print(f"measured {name}, seed {seed}", file=sys.stderr, flush=True)
            STORE.write_text(json.dumps({"machine": "CPU, 2 cores", "runs": runs}, indent=1))
    STORE.write_text(json.dumps({"machine": "CPU, 2 cores", "runs": runs}, indent=1) + "\n")
    return runs


def span(values: list[float], digits: int = 3) -> str:
    """'0.105' when every value rounds to it, else 'min–max' at `digits` decimals."""
    low, high = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return low if low == high else f"{low}–{high}"


def figures(runs: list[dict]) -> dict[str, dict[str, str]]:
    """Per run name: each figure as the texts quote it (range over the seeds), the largest
    Monte Carlo error of the epistemic means, and the verdicts with their counts."""
    out = {}
    for name, _, _ in RUNS:
        mine = [r for r in runs if r["name"] == name]
        if not mine:
            continue
        row = {k: span([r[k] for r in mine]) for k in FIELDS[:5]}
        row.update({f"{k} (2 d.p.)": span([r[k] for r in mine], 2) for k in FIELDS[:5]})
        largest = max(max(r["epistemic_near_se"], r["epistemic_far_se"]) for r in mine)
        row["max_se"] = f"{largest:.3f}"
        kinds = [r["verdict"] for r in mine]
        row["verdict"] = ", ".join(f"{k} ({kinds.count(k)}/{len(kinds)})"
                                   for k in dict.fromkeys(kinds))
        row["seeds"] = ",".join(str(r["seed"]) for r in mine)
        out[name] = row
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--print", action="store_true", help="print the stored figures only")
    parser.add_argument("--no-hmc", action="store_true", help="skip HMC runs not yet measured")
    opts = parser.parse_args()
    runs = (json.loads(STORE.read_text())["runs"] if opts.print
            else measure(train_hmc=not opts.no_hmc))
    for name, row in figures(runs).items():
        print(f"{name}: " + "; ".join(f"{k} {v}" for k, v in row.items()))
