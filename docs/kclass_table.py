"""Measure the K-class toy sets for docs/DATASETS.md: separability at the default noise (the
nearest noise-free shape and leave-one-out 15-NN, worst of seeds 0–2) and the CLI's metrics
for VI and MAP at its defaults (plus VI with the spiral's recommended β = 0.1, 6,000 steps).

    PYTHONPATH=. python3 docs/kclass_table.py > docs/dataset_runs_kclass.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python docs/…` from anywhere

from bnnlab import cli  # noqa: E402
from bnnlab.data import toy  # noqa: E402
from tests.unit.test_kclass import _knn_accuracy, _nearest_shape_rule  # noqa: E402


def separability(name: str, k: int) -> dict:
    noise = toy.REGISTRY[name].default_noise
    rule, knn = [], []
    for seed in range(3):
        x, y = toy.make(name, 512, noise, seed, num_classes=k)
        rule.append(float(np.mean(_nearest_shape_rule(name, x, k) == y)))
        knn.append(_knn_accuracy(x, y))
    return {"kind": "separability", "dataset": name, "num_classes": k, "noise": noise,
            "rule": min(rule), "knn15": min(knn)}


def main() -> None:
    for name in ("spiral", "gaussians"):
        for k in (3, 4, 5):
            print(json.dumps(separability(name, k)), flush=True)
    for name in ("spiral", "gaussians"):
        for k in (3, 5):
            runs = [("vi", []), ("map", [])]
            if name == "spiral":
                runs.append(("vi", ["--kl-weight", "0.1", "--steps", "6000"]))
            for method, extra in runs:
                args = ["train", "--dataset", name, "--num-classes", str(k), "--method", method,
                        "--json", *extra]
                report = cli.run_train(cli._config_from_args(cli._build_parser().parse_args(args)))
                keep = ("dataset", "num_classes", "method", "steps", "train_acc", "test_acc",
                        "test_nll", "ece", "entropy_near", "entropy_far")
                print(json.dumps({"kind": "run", "overrides": " ".join(extra) or "—",
                                  **{f: report[f] for f in keep}}), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
