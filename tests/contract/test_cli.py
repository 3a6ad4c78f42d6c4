"""`python -m bnnlab`: the train contract, the npz output, bad input, and the benchmark."""

import json
import subprocess
import sys

import numpy as np
import pytest

from bnnlab import cli
from bnnlab.core import verdict
from bnnlab.data import toy
from bnnlab.training import config

ARGS = ["train", "--num-points", "128", "--hidden", "8", "--num-samples", "2", "--steps", "60",
        "--steps-per-chunk", "20", "--grid-size", "20"]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["vi", "map", "laplace"])
def test_train_json_has_the_whole_contract(method, capsys, tmp_path):
    """The last line is one JSON object with every contract field; --out writes the npz."""
    out = tmp_path / "run.npz"
    assert cli.main([*ARGS, "--method", method, "--json", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(cli.CONTRACT_FIELDS) <= set(report)
    assert report["method"] == method and report["steps"] == 60
    assert report["entropy_far"] >= 0 and 0 <= report["test_acc"] <= 1
    assert report["verdict"] in verdict.KINDS and report["epistemic_far"] >= 0
    assert report["entropy_far_se"] >= 0 and report["epistemic_near_se"] >= 0
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


@pytest.mark.slow
def test_bad_input_from_the_shell_has_no_traceback():
    """Run as a program, a bad value exits 2 with no traceback."""
    proc = subprocess.run([sys.executable, "-m", "bnnlab", "train", "--num-samples", "1000"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "num_samples" in proc.stderr


@pytest.mark.slow
def test_bench_prints_json_lines(capsys):
    """`bench --quick --only grid_predictive` prints one JSON object with its name and device."""
    assert cli.main(["bench", "--json", "--quick", "--only", "grid_predictive"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["name"] == "grid_predictive" and result["probs_ms"] > 0 and result["device"]


def test_hmc_without_a_kept_sample_is_refused(capsys):
    """`--method hmc --steps 10` (warm-up 500) would keep no draw: one line, exit 2."""
    assert cli.main(["train", "--method", "hmc", "--steps", "10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "hmc_warmup" in err[0]


def test_settings_over_the_cost_budget_are_refused(capsys):
    """The hostile settings of issue 14 are refused before training, naming what to lower."""
    assert cli.main(["train", "--hidden", "128,128,128,128", "--num-samples", "64",
                     "--num-points", "5000", "--steps-per-chunk", "1000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lower num_samples" in err[0]


def test_flags_are_the_config_fields_with_its_defaults():
    """Every TrainConfig field is a flag whose default is the config's (grid size 64 too)."""
    import dataclasses

    from bnnlab.training import config

    args = cli._build_parser().parse_args(["train"])
    defaults = config.TrainConfig()
    assert cli._config_from_args(args) == defaults
    assert {f.name for f in dataclasses.fields(defaults)} <= set(vars(args))


@pytest.mark.slow
def test_every_registered_dataset_trains():
    """Each dataset of toy.REGISTRY (moons_gap included) and each image dataset of the
    registry (digits) is a --dataset."""
    from bnnlab import registry
    from bnnlab.data import toy

    choices = next(a for a in cli._build_parser()._subparsers._group_actions[0]
                   .choices["train"]._actions if a.dest == "dataset").choices
    assert tuple(choices) == tuple(registry.DATASETS)
    if "moons_gap" in toy.REGISTRY:
        assert cli.main([*ARGS, "--dataset", "moons_gap", "--steps", "20", "--json"]) == 0


@pytest.mark.slow
@pytest.mark.parametrize("method", ["vi", "ensemble", "laplace"])
def test_json_metrics_equal_the_library_metrics(method, capsys):
    """The CLI's metrics are predict.evaluate's for the same config and seed, and equal the
    metrics computed from each point set's own sample_probs with the same key (so the pages,
    which call predict.evaluate, report what the CLI reports)."""

    from bnnlab.core import predict
    from bnnlab.training import engine

    argv = [*ARGS, "--method", method, "--json", "--seed", "3"]
    assert cli.main(argv) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    cfg = cli._config_from_args(cli._build_parser().parse_args(argv))
    data = cli.prepare_data(cfg)
    run = engine.fit(cfg, data.x_train, data.y_train)
    key = cli.metrics_key(cfg)
    library = predict.evaluate(run.engine, run.state, data, key)
    far = predict.far_probe_points(data.x_train)

    def probs(points):  # same key, same draws: each set on its own
        return np.asarray(run.engine.sample_probs(key, run.state, points,
                                                  num_samples=predict.EVAL_SAMPLES))

    separate = predict.metrics_from_probs(probs(data.x_train), data.y_train,
                                          probs(data.x_test), data.y_test, probs(far))
    for name, value in library._asdict().items():
        assert report[name] == pytest.approx(value, rel=1e-6, abs=1e-7), name
        assert getattr(separate, name) == pytest.approx(value, rel=1e-5, abs=1e-6), name
    assert report["elbo"] == pytest.approx(float(run.history.objective[-1]), rel=1e-6)


def test_noise_defaults_to_the_datasets_own():
    """Without --noise a dataset starts from its registered noise (the spiral's arms stay
    visible at 0.1); an explicit --noise wins."""
    parse = cli._build_parser().parse_args
    spiral = cli._config_from_args(parse(["train", "--dataset", "spiral"]))
    assert spiral.noise == toy.REGISTRY["spiral"].default_noise != config.TrainConfig().noise
    given = cli._config_from_args(parse(["train", "--dataset", "spiral", "--noise", "0.3"]))
    assert given.noise == 0.3


@pytest.mark.slow
@pytest.mark.parametrize("settings, kind", [
    (dict(method="hmc", hidden=(8,), steps=300, hmc_warmup=150, num_points=256),
     verdict.KNOWS),  # measured: epistemic near 0.028, far 0.163, test acc 0.984
    (dict(method="map", hidden=(16, 16), steps=500), verdict.CONFIDENT),  # epistemic 0
    (dict(method="vi", hidden=(16, 16), steps=800, kl_weight=1.0),
     verdict.UNSURE),  # 0.087 near, 0.105 far
    (dict(dataset="spiral", num_classes=3, method="vi", hidden=(16, 16), steps=300,
          kl_weight=1.0), verdict.NOT_LEARNT),  # collapsed: test acc 0.453 against 1/3
])
def test_the_four_verdicts_on_trained_runs(settings, kind):
    """The one verdict's four outcomes, each from a real trained run through the CLI's
    `run_train` (the same metrics the pages show), on the 2-core CPU in seconds."""
    report = cli.run_train(config.TrainConfig(**settings))
    assert report["verdict"] == kind, report["verdict_sentence"]
