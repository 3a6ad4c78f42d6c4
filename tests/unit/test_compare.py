"""The comparison (bnnlab.compare) and the CLI's new methods: the gap preset, the computed
lesson, HMC as reference, and `python -m bnnlab train --method hmc|ensemble|dropout`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bnnlab import cli, registry
from bnnlab.core import predict, verdict
from bnnlab.lessons import compare
from bnnlab.live import wire
from bnnlab.training.config import ConfigError, TrainConfig

# Shared by the CLI runs and the comparison so that both use the same compiled engines.
SMALL = dict(num_points=128, hidden=(8,), num_samples=2, steps_per_chunk=20, hmc_warmup=100,
             hmc_max_doublings=4, ensemble_size=3, prior_std=2.0, lr=0.02)
CLI_ARGS = ["train", "--dataset", "moons", "--num-points", "128", "--noise", "0.1",
            "--hidden", "8", "--num-samples", "2", "--steps-per-chunk", "20",
            "--hmc-warmup", "100", "--hmc-max-doublings", "4", "--ensemble-size", "3",
            "--prior-std", "2", "--lr", "0.02", "--json"]


@pytest.mark.slow
@pytest.mark.parametrize("method,steps", [("hmc", 300), ("ensemble", 300), ("dropout", 300)])
def test_cli_new_methods_print_the_full_contract(method, steps, capsys):
    """Every new method's JSON has every contract field; HMC is more uncertain far away."""
    assert cli.main([*CLI_ARGS, "--method", method, "--steps", str(steps)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(cli.CONTRACT_FIELDS) <= set(report)
    assert report["method"] == method and report["steps"] == steps
    assert all(report[f] is not None and math.isfinite(report[f])
               for f in ("test_acc", "test_nll", "ece", "entropy_near", "entropy_far"))
    if method == "hmc":
        assert report["hmc_samples"] == steps - 100
        assert 0.3 < report["acceptance_rate"] <= 1.0
        assert report["entropy_far"] > report["entropy_near"]


def test_cli_refuses_out_of_bounds_method_settings(capsys):
    """An ensemble of 100 members is refused with one line naming the setting."""
    assert cli.main(["train", "--method", "ensemble", "--ensemble-size", "100"]) == 2
    assert "ensemble_size" in capsys.readouterr().err


def test_gap_preset_leaves_the_band_empty():
    """The gap preset has no training or test point in the removed band, and the asked size."""
    data = compare.build_data(compare.GAP_DATASET, 200, 0.1, 0.25, seed=0)
    assert len(data.x_train) + len(data.x_test) == 200
    x0, x1, _, _ = data.gap
    every = np.concatenate([data.x_train, data.x_test])
    assert not np.any((every[:, 0] > x0) & (every[:, 0] < x1))


def test_settings_validate_methods_and_bounds():
    """No method, an unknown method or too many samples after warm-up is a ConfigError."""
    with pytest.raises(ConfigError, match="at least one"):
        compare.CompareSettings(methods=())
    with pytest.raises(ConfigError, match="unknown method"):
        compare.CompareSettings(methods=("sgld",))
    with pytest.raises(ConfigError, match="samples_after_warmup"):
        compare.CompareSettings(samples_after_warmup=10**9)
    cfg = compare.CompareSettings(samples_after_warmup=50).method_config("hmc")
    assert cfg.steps == cfg.hmc_warmup + 50


@pytest.mark.slow
def test_comparison_against_hmc_computes_the_lesson():
    """Trained side by side, every method gets metrics; distances to HMC are finite once HMC has
    kept draws, and the lesson names every method with numbers from the table."""
    settings = compare.CompareSettings(
        methods=("map", "ensemble", "hmc"), base=TrainConfig(**SMALL, steps=100),
        samples_after_warmup=60)
    comparison = compare.Comparison(settings)
    while not comparison.finished:
        comparison.advance()
    report = comparison.report(grid_size=20)
    assert report.hmc_ready
    for method, row in report.rows.items():
        assert row.grid.total.shape == (20, 20) and np.all(np.isfinite(row.grid.mean))
        assert 0 <= row.test_acc <= 1 and row.wall_s > 0
        if method != "hmc":
            assert 0 <= row.diff_from_hmc <= 1 and math.isfinite(row.diff_from_hmc_gap)
    text = " ".join(report.lesson)
    for label in ("MAP", "Deep ensemble", "HMC (reference)"):
        assert label in text
    assert f"far {report.rows['hmc'].epistemic_far:.3f}" in text
    progress = comparison.progress("hmc")
    assert progress.fraction == 1.0 and "samples drawn: 60 / 60" in progress.text
    assert comparison.progress("map") is None and comparison.unit("hmc") == "transitions"


@pytest.mark.slow
def test_maps_payload_carries_each_method_on_the_shared_scale():
    """The canvas maps get, per method, its uncertainty grid quantised on [0, ln 2], the p = 0.5
    boundary of its mean inside the grid's box, the training points and the gap's box."""
    settings = compare.CompareSettings(methods=("map", "ensemble"),
                                       base=TrainConfig(**SMALL, steps=40))
    comparison = compare.Comparison(settings)
    while not comparison.finished:
        comparison.advance()
    report = comparison.report(grid_size=16)
    payload = compare.maps_payload(report, "epistemic", comparison.data)
    json.dumps(payload)  # JSON-ready
    assert [m["method"] for m in payload["maps"]] == ["map", "ensemble"]
    assert payload["grid"]["nx"] == payload["grid"]["ny"] == 16
    assert payload["gap"] == (list(comparison.data.gap) if comparison.data.gap else None)
    assert payload["train"]["n"] == len(comparison.data.x_train)
    for m in payload["maps"]:
        row = report.rows[m["method"]]
        values = wire.decode_grid(m["values"], (16, 16), payload["vmax"])
        np.testing.assert_allclose(values, np.clip(row.grid.epistemic, 0, np.log(2)),
                                   atol=np.log(2) / 510 + 1e-6)
        segments = wire.decode_segments(m["boundary"])
        assert (segments[:, [0, 2]] >= report.xs[0] - 1e-6).all()
        assert (segments[:, [0, 2]] <= report.xs[-1] + 1e-6).all()
    # MAP is one network: its epistemic map is exactly zero.
    assert wire.decode_grid(payload["maps"][0]["values"], (16, 16), 1.0).max() == 0


def _row(method: str, test_acc: float, near: float, far: float, diverged: bool = False,
         gap: float = math.nan) -> compare.MethodReport:
    """A crafted table row: only what the lesson reads is meaningful (`near` and `far` are
    epistemic uncertainties, in nats)."""
    empty = np.zeros((2, 2), np.float32)
    return compare.MethodReport(
        method=method, steps=100, finished=True, diverged=diverged, test_acc=test_acc,
        test_nll=0.3, ece=0.05, entropy_near=near, entropy_far=far, entropy_gap=gap,
        wall_s=1.0, steps_per_s=100.0, says_dont_know=False,
        diff_from_hmc=math.nan, diff_from_hmc_gap=math.nan,
        grid=predict.Predictive(empty, empty, empty, empty),
        epistemic_near=near, epistemic_far=far, epistemic_near_se=0.01, epistemic_far_se=0.01)


@pytest.mark.parametrize("row,best,kind", [
    (_row("hmc", 0.95, 0.03, 0.25), 0.95, verdict.KNOWS),  # sure near, unsure far, fits
    (_row("vi", 0.60, 0.20, 0.30), 0.95, verdict.NOT_LEARNT),  # not a third of the way
    (_row("vi", 0.94, 0.115, 0.109), 0.95, verdict.UNSURE),  # VI at β = 1 on moons (CLI)
    (_row("map", 0.95, 0.0, 0.0), 0.95, verdict.CONFIDENT),
    (_row("dropout", 0.95, 0.05, 0.02, diverged=True), 0.95, "diverged"),
    (_row("hmc", 0.95, 0.0, 0.40), 0.95, verdict.KNOWS),  # no doubt near: ratio unbounded
])
def test_compare_uses_the_one_verdict(row, best, kind):
    """Each method's verdict is `core.verdict.judge` on its epistemic near/far and accuracy
    (the playground's, chapter 5's and the CLI's rule), named in a sentence."""
    v = compare.method_verdict(row, best)
    assert v.kind == kind
    assert registry.method_label(row.method) in v.sentence
    assert "-0.00" not in v.sentence
    if kind != "diverged":
        assert kind == verdict.judge(row.epistemic_near, row.epistemic_far, row.test_acc,
                                     2).kind


def test_lesson_orders_the_verdicts_and_flags_a_weaker_fit():
    """HMC is credited first; a VI that fits less well than the best is told so; a model that
    has not learnt is flagged in the gap's ranking; the numbers appear."""
    rows = {"vi": _row("vi", 0.60, 0.20, 0.30, gap=0.53),
            "hmc": _row("hmc", 0.95, 0.03, 0.25, gap=0.40),
            "map": _row("map", 0.88, 0.0, 0.0, gap=0.12)}
    lines = compare.lesson(rows, hmc_ready=False, has_gap=True)
    text = " ".join(lines)
    vi_line = next(line for line in lines if line.startswith("Mean-field VI"))
    hmc_line = next(line for line in lines if line.startswith("HMC (reference)"))
    map_line = next(line for line in lines if line.startswith("MAP"))
    assert "has not learnt the data" in vi_line and "0.600" in vi_line
    assert "knows where it has no data" in hmc_line and "8 times" in hmc_line
    assert "confident everywhere" in map_line and "below the best 0.950" in map_line
    assert lines.index(hmc_line) < lines.index(map_line) < lines.index(vi_line)
    assert "Mean-field VI 0.53 (has not learnt the data), HMC (reference) 0.40, MAP 0.12." \
        in text


def test_lesson_with_every_method_diverged_prints_no_nan():
    """No fitted method: the best accuracy shows as a dash, never 'nan'."""
    lines = compare.lesson({"vi": _row("vi", math.nan, math.nan, math.nan, diverged=True)},
                           hmc_ready=False, has_gap=False)
    assert "nan" not in " ".join(lines) and "diverged" in lines[-1]


# ------------------------------------------------------------------ temperature (issue 16)


def test_temperature_one_is_todays_comparison():
    """At T = 1 every method trains with exactly the config it had before T existed."""
    plain = compare.CompareSettings()
    tempered = compare.CompareSettings(temperature=1.0)
    for method in plain.methods:
        assert tempered.method_config(method) == plain.method_config(method)
    assert plain.method_config("hmc").temperature == 1.0


def test_temperature_scales_vi_kl_weight_and_reaches_hmc_only():
    """T multiplies VI's KL weight and becomes HMC's temperature; other methods ignore it."""
    base = TrainConfig(**SMALL, kl_weight=0.5)
    plain = compare.CompareSettings(base=base)
    warm = compare.CompareSettings(base=base, temperature=3.0)
    assert warm.method_config("vi").kl_weight == pytest.approx(1.5)
    assert warm.method_config("hmc").temperature == 3.0
    for method in ("map", "dropout", "ensemble"):
        assert warm.method_config(method) == plain.method_config(method)


@pytest.mark.parametrize("bad", [0.0, 0.05, 11.0, float("nan"), "2", True])
def test_temperature_is_validated(bad):
    """A temperature outside [0.1, 10], or not a number, is refused with a message."""
    with pytest.raises(ConfigError, match="temperature"):
        compare.CompareSettings(temperature=bad)


def test_vi_kl_weight_times_temperature_is_bounded():
    """β × T over the KL weight's bound is refused, naming the method, T and the KL weight."""
    with pytest.raises(ConfigError, match="VI at temperature 4: kl_weight"):
        compare.CompareSettings(base=TrainConfig(**SMALL, kl_weight=5.0), temperature=4.0)


@pytest.mark.slow
@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_hmc_target_is_the_log_density_over_temperature(temperature):
    """One NUTS transition reports the target at its new position: (log lik + log prior) / T,
    recomputed here from the network's own likelihood and prior."""
    import jax

    from bnnlab.methods import hmc
    from bnnlab.training import engine

    cfg = TrainConfig(**SMALL, method="hmc", temperature=temperature)
    data = compare.build_data("moons", cfg.num_points, 0.1, 0.25, 0)
    static = engine.StaticConfig.from_config(cfg, len(data.x_train))
    problem = engine.make_problem(static)
    algorithm = hmc.make_algorithm(problem)
    batch = engine.make_batch(data.x_train, data.y_train, static.data_bucket)
    hyper = engine.make_hyper(cfg)
    state = algorithm.init(jax.random.PRNGKey(0), 0.1)
    new, info = algorithm.step_from_noise(jax.random.PRNGKey(1), state, batch, hyper)
    theta = new.position
    target = (problem.log_likelihood_fn(batch)(theta) + problem.log_prior_fn(hyper)(theta))
    np.testing.assert_allclose(float(info.logdensity), float(target) / temperature, rtol=1e-5)
    np.testing.assert_allclose(float(info.log_likelihood),
                               float(problem.log_likelihood_fn(batch)(theta)), rtol=1e-4,
                               atol=1e-3)
