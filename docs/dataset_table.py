"""Train every dataset × method with the CLI and print the table rows of docs/DATASETS.md.

Each run is `python3 -m bnnlab train --dataset D --noise <D's default_noise> --method M --json`
(every other setting the CLI's default), then, where the registry lists recommended overrides
for D and M, the same command with them. Usage (from the repository root):

    PYTHONPATH=. python3 docs/dataset_table.py [--datasets spiral,circles] [--methods vi,map]
        [--extra="--kl-weight 0.1"] [--no-recommended] > runs.jsonl
    PYTHONPATH=. python3 docs/dataset_table.py --markdown runs.jsonl
"""

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python docs/…` from anywhere

from bnnlab import registry  # noqa: E402
from bnnlab.core.text import fmt  # noqa: E402
from bnnlab.data import toy  # noqa: E402

METHODS = ("vi", "map", "dropout", "ensemble")


def run(dataset: str, method: str, extra: list[str]) -> dict:
    noise = toy.REGISTRY[dataset].default_noise
    cmd = [sys.executable, "-m", "bnnlab", "train", "--dataset", dataset, "--noise", str(noise),
           "--method", method, *extra, "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    report["noise"] = noise
    report["overrides"] = " ".join(extra)
    return report


def markdown(path: str) -> None:
    print("| dataset (noise) | method | overrides | train acc | test acc | ECE | entropy near "
          "| entropy far |")
    print("|---|---|---|---|---|---|---|---|")
    for line in open(path):
        r = json.loads(line)
        cells = [fmt(r[k]) for k in ("train_acc", "test_acc", "ece", "entropy_near",
                                     "entropy_far")]
        print(f"| {r['dataset']} ({r['noise']:g}) | {r['method']} | {r['overrides'] or '—'} | "
              + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default=",".join(registry.MAP_DATASETS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--extra", default="", help="more CLI flags for every run")
    parser.add_argument("--no-recommended", action="store_true")
    parser.add_argument("--markdown", help="print the JSON lines in this file as a table")
    args = parser.parse_args()
    if args.markdown:
        markdown(args.markdown)
        return
    for dataset in args.datasets.split(","):
        for method in args.methods.split(","):
            recommended = [f"--{k.replace('_', '-')}={v}"
                           for k, v in toy.recommended(dataset, method).items()]
            variants = [shlex.split(args.extra)]
            if recommended and not args.no_recommended:
                variants.append([*shlex.split(args.extra), *recommended])
            for extra in variants:
                print(json.dumps(run(dataset, method, extra)), flush=True)


if __name__ == "__main__":
    main()
