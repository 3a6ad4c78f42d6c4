"""`python -m bnnlab`: the train contract, the npz output, bad input, and the benchmark."""

import json
import subprocess
import sys

import numpy as np
import pytest

from bnnlab import cli

ARGS = ["train", "--num-points", "128", "--hidden", "8", "--num-samples", "2", "--steps", "60",
        "--steps-per-chunk", "20", "--grid-size", "20"]


@pytest.mark.parametrize("method", ["vi", "map"])
def test_train_json_has_the_whole_contract(method, capsys, tmp_path):
    """The last line is one JSON object with every contract field; --out writes the npz."""
    out = tmp_path / "run.npz"
    assert cli.main([*ARGS, "--method", method, "--json", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(cli.CONTRACT_FIELDS) <= set(report)
    assert report["method"] == method and report["steps"] == 60
    assert report["entropy_far"] >= 0 and 0 <= report["test_acc"] <= 1
    saved = np.load(out)
    for key in ("x_train", "grid_mean", "grid_total", "grid_aleatoric", "grid_epistemic",
                "history_elbo", "history_kl", "history_expected_log_likelihood"):
        assert key in saved
    assert saved["grid_mean"].shape == (20, 20) and len(saved["history_elbo"]) == 60


@pytest.mark.parametrize("argv", [
    ["train", "--hidden", "32,x"], ["train", "--lr", "5"], ["train", "--dataset", "banana"],
    ["train", "--bogus"], ["train", "--num-points", "many"], ["train", "--out", "run.txt"],
    ["frobnicate"],
])
def test_bad_input_is_one_line_and_exit_2(argv, capsys):
    """Bad arguments print one `bnnlab: error:` line and return 2."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bnnlab: error:")


def test_bad_input_from_the_shell_has_no_traceback():
    """Run as a program, a bad value exits 2 with no traceback."""
    proc = subprocess.run([sys.executable, "-m", "bnnlab", "train", "--num-samples", "1000"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "num_samples" in proc.stderr


def test_bench_prints_json_lines(capsys):
    """`bench --quick --only grid_predictive` prints one JSON object with its name and device."""
    assert cli.main(["bench", "--json", "--quick", "--only", "grid_predictive"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["name"] == "grid_predictive" and result["probs_ms"] > 0 and result["device"]
