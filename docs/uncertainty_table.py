"""Measure near/far predictive entropy per method with the CLI and print docs/UNCERTAINTY.md's
table. Each run is `python3 -m bnnlab train --json <args>` (every other setting the CLI's
default: moons, 512 points, noise 0.15, seed 0, 2-32-32-1 tanh, prior σ 3). Usage:

    PYTHONPATH=. python3 docs/uncertainty_table.py > docs/uncertainty_runs.jsonl
    PYTHONPATH=. python3 docs/uncertainty_table.py --markdown docs/uncertainty_runs.jsonl
"""

import argparse
import json
import shlex
import subprocess
import sys

from bnnlab import presets, registry

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
    shlex.join(presets.cli_args(presets.SAY_I_DONT_KNOW)),
    "--method vi --hidden 16,16",
    "--method map --hidden 16,16",
    "--method laplace --hidden 16,16",
)


def run(args: str) -> dict:
    cmd = [sys.executable, "-m", "bnnlab", "train", *shlex.split(args), "--json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    report["args"] = args
    return report


def markdown(lines: list[str]) -> str:
    rows = ["| method | settings (beyond the defaults) | params | test acc | entropy near | "
            "entropy far | far/near | says \"I don't know\"? |",
            "|---|---|---:|---:|---:|---:|---:|---|"]
    for line in lines:
        r = json.loads(line)
        settings = " ".join(a for a in shlex.split(r["args"]))
        settings = settings.replace(f"--method {r['method']}", "").strip() or "defaults"
        ratio = r["entropy_far"] / r["entropy_near"]
        says = ("yes" if ratio >= 2 and r["entropy_far"] >= 0.1 and r["test_acc"] >= 0.95
                else "ratio only (far still < 0.1 nats)" if ratio >= 2 else "no")
        rows.append(f"| {registry.method_label(r['method'])} | {settings} | "
                    f"{r['num_params']:,} | {r['test_acc']:.3f} | {r['entropy_near']:.3f} | "
                    f"{r['entropy_far']:.3f} | {ratio:.1f}× | {says} |")
    return "\n".join(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--markdown", help="a jsonl file of runs to format")
    opts = parser.parse_args()
    if opts.markdown:
        with open(opts.markdown) as f:
            print(markdown([line for line in f if line.strip()]))
    else:
        for args in RUNS:
            print(json.dumps(run(args)), flush=True)
