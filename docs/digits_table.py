"""Train every chapter-5 recipe on the digits with the CLI and print one JSON line each, the
figures of docs/DIGITS.md: `python docs/digits_table.py [--seeds 0,1]`."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from bnnlab import digits_lab


def flags(name: str, seed: int) -> list[str]:
    cfg = digits_lab.recipe_config(name, seed=seed)
    out = []
    for field in ("method", "hidden", "lr", "prior_std", "kl_weight", "init_std", "num_samples",
                  "steps", "ensemble_size"):
        value = getattr(cfg, field)
        value = ",".join(map(str, value)) if isinstance(value, tuple) else value
        out += ["--" + field.replace("_", "-"), str(value)]
    return ["--dataset", "digits", "--seed", str(seed), *out]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--recipes", default=",".join(digits_lab.RECIPES))
    args = parser.parse_args()
    for seed in map(int, args.seeds.split(",")):
        for name in args.recipes.split(","):
            command = [sys.executable, "-m", "bnnlab", "train", *flags(name, seed), "--json"]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            report = json.loads(out.strip().splitlines()[-1])
            keep = ("test_acc", "test_nll", "ece", "ood_auroc_letters", "ood_auroc_noise",
                    "ood_auroc_mi_letters", "ood_auroc_mi_noise", "letters_confident")
            print(json.dumps({"recipe": name, "seed": seed, "command": " ".join(command[1:]),
                              **{k: report[k] for k in keep}}), flush=True)


if __name__ == "__main__":
    main()
