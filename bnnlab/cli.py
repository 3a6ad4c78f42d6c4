"""`python -m bnnlab train|bench …`: train one run and print its contract JSON, or benchmark."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence

import jax
import numpy as np

from bnnlab import registry
from bnnlab.core import predict, runtime, verdict
from bnnlab.core.errors import ConfigError, DataError
from bnnlab.data import toy
from bnnlab.training import config, cost, engine

CONTRACT_FIELDS = (
    "dataset", "method", "steps", "elbo", "expected_log_likelihood", "kl", "train_acc",
    "test_acc", "test_nll", "ece", "entropy_near", "entropy_far", "epistemic_near",
    "epistemic_far", "entropy_near_se", "entropy_far_se", "epistemic_near_se",
    "epistemic_far_se", "verdict", "steps_per_s", "compile_s", "device",
)
EVAL_SAMPLES = predict.EVAL_SAMPLES
CHOICE_HELP = {"hidden": "comma-separated widths, e.g. 32,32"}


class UsageError(Exception):
    """Bad command-line input; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage block, exit 2
        raise UsageError(message)


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per `TrainConfig` field: the choices from the registry, the numbers from their
    `Setting` (help and range), a method's own settings included. Nothing to keep in step by
    hand: a new method's setting is a new flag."""
    defaults = config.TrainConfig()
    labels = {"method": registry.method_label, "dataset": registry.dataset_label}
    for field in dataclasses.fields(config.TrainConfig):
        name, default = field.name, getattr(defaults, field.name)
        flag = "--" + name.replace("_", "-")
        if name in config.choices():
            listed = ", ".join(f"{c} ({labels[name](c)})" if name in labels else c
                               for c in config.choices()[name])
            parser.add_argument(flag, default=default, choices=config.choices()[name],
                                help=f"one of {listed}")
        elif name == "hidden":
            parser.add_argument(flag, default=",".join(map(str, default)),
                                help=CHOICE_HELP[name])
        elif name == "noise":  # each dataset's own default (`DatasetSpec.default_noise`)
            setting = config.SETTINGS[name]
            parser.add_argument(flag, type=float, default=None,
                                help=f"{setting.help} ({setting.range_text}; e.g. spiral "
                                f"{toy.REGISTRY['spiral'].default_noise:g}, moons "
                                f"{toy.REGISTRY['moons'].default_noise:g})")
        else:
            setting = config.SETTINGS[name]
            parser.add_argument(flag, type=setting.kind, default=default,
                                help=f"{setting.help or setting.label} ({setting.range_text}; "
                                f"default {default:g})")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bnnlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train one run and report its metrics")
    _add_config_arguments(t)
    t.add_argument("--out", help="write data, grid predictive and history to this .npz")
    t.add_argument("--json", action="store_true", help="print only the JSON line")
    b = sub.add_parser("bench", help="speed benchmarks (JSON lines)")
    b.add_argument("--json", action="store_true", help="print only JSON lines")
    b.add_argument("--quick", action="store_true", help="fewer repeats (smoke test)")
    b.add_argument("--only", default="", help="comma-separated benchmark names")
    b.add_argument("--browser", action="store_true",
                   help="measure the live playground and chapters 1-2 in headless Chromium "
                        "instead")
    return parser


def _config_from_args(args: argparse.Namespace) -> config.TrainConfig:
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(config.TrainConfig)}
    values["hidden"] = config.parse_hidden(values["hidden"])
    if values["noise"] is None:
        spec = toy.REGISTRY.get(values["dataset"])
        values["noise"] = spec.default_noise if spec else config.NOISE.default
    cfg = config.TrainConfig(**values)
    config.validate(cfg)
    return cfg


def prepare_data(cfg: config.TrainConfig) -> toy.Dataset:
    """The run's data: drawn from the registry's generator, split and standardised."""
    x, y = toy.make(cfg.dataset, cfg.num_points, cfg.noise, cfg.seed, cfg.num_classes)
    return toy.prepare(x, y, cfg.test_fraction, cfg.seed)


def metrics_key(cfg: config.TrainConfig) -> jax.Array:
    """The key of the posterior draws behind the reported metrics."""
    return jax.random.key(cfg.seed + 10_000)


def _verdict(metrics: predict.Metrics, num_classes: int, y_train: np.ndarray,
             steps: int) -> dict:
    said = verdict.judge_metrics(metrics, num_classes, trained=steps > 0,
                                 chance=verdict.chance_accuracy(num_classes, y_train))
    return {"verdict": said.kind, "verdict_sentence": f"{said.headline}. {said.sentence}"}


def run_train(cfg: config.TrainConfig, out: str | None = None) -> dict:
    """Train, evaluate and (optionally) save; returns the contract dict. Raises
    `ConfigError` for settings over the cost budget, before anything compiles. Image
    datasets (`--dataset digits`) report K-class metrics and OOD AUROC (`digits_report`)."""
    if cfg.dataset not in registry.MAP_DATASETS:
        from bnnlab.lessons import digits_report

        return digits_report.run_report(cfg, out)
    data = prepare_data(cfg)
    cfg, _ = cost.check_cost(cfg, len(data.x_train))
    result = engine.fit(cfg, data.x_train, data.y_train)
    eng, state, history = result.engine, result.state, result.history
    metrics = predict.evaluate(eng, state, data, metrics_key(cfg))
    steps_done = int(state.step)
    timed_steps = max(steps_done - eng.static.steps_per_chunk, 0)

    def last(values: np.ndarray) -> float | None:
        return float(values[-1]) if len(values) else None

    report = {
        "dataset": cfg.dataset,
        "num_classes": eng.static.num_classes,
        "likelihood": eng.static.likelihood,
        "method": cfg.method,
        "steps": steps_done,
        # the contract's names for the method's objective and its two terms (see Trace)
        "elbo": last(history.objective),
        "expected_log_likelihood": last(history.log_likelihood),
        "kl": last(history.regulariser),
        "trace_labels": list(registry.method(cfg.method).trace_labels),
        **metrics._asdict(),
        # the one verdict (`bnnlab.core.verdict`): its kind, and why
        **_verdict(metrics, eng.static.num_classes, data.y_train, steps_done),
        "steps_per_s": timed_steps / result.train_s if result.train_s > 0 else None,
        "compile_s": result.compile_s,
        "device": runtime.device_label(),
        "diverged": bool(state.diverged),
        "num_params": eng.num_params,
        "steps_per_chunk": eng.static.steps_per_chunk,
        **dict(cfg.method_values()),
        **registry.method(cfg.method).report(cfg, state),
    }
    if out:
        all_x = np.concatenate([data.x_train, data.x_test])
        xs, ys, grid = predict.make_grid(all_x, cfg.grid_size)
        pred, class_probs = predict.summary_parts(eng.predictive_summary(
            jax.random.split(metrics_key(cfg))[1], state, grid, EVAL_SAMPLES),
            eng.static.num_classes)
        shape = (len(ys), len(xs))
        # K classes: grid_mean is the predicted class's probability; grid_class_probs all K
        extra = {} if class_probs is None else {
            "grid_class_probs": class_probs.reshape(-1, *shape)}
        np.savez_compressed(
            out, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
            y_test=data.y_test, mean=data.mean, scale=data.scale, grid_x=xs, grid_y=ys,
            **{f"grid_{k}": v.reshape(shape) for k, v in pred._asdict().items()}, **extra,
            history_elbo=history.objective,
            history_expected_log_likelihood=history.log_likelihood,
            history_kl=history.regulariser,
            report=json.dumps(report),
        )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "train":
            cfg = _config_from_args(args)
            if args.out and not args.out.endswith(".npz"):
                raise UsageError("--out must name a .npz file")
    except (UsageError, ConfigError) as err:
        print(f"bnnlab: error: {err}", file=sys.stderr)
        return 2
    if args.command == "bench" and args.browser:
        from bnnlab.bench import browser, chapters

        for result in (browser.run(watch_s=4.0 if args.quick else 10.0),
                       chapters.run_chapters(steps=3 if args.quick else 7)):
            result["device"] = runtime.device_label()
            print(json.dumps(result), flush=True)
        return 0
    if args.command == "bench":
        from bnnlab.bench import engine as benchmarks

        only = [n.strip() for n in args.only.split(",") if n.strip()]
        return benchmarks.main(quick=args.quick, only=only, json_only=args.json)
    start = time.perf_counter()
    try:
        report = run_train(cfg, args.out)
    except (DataError, ConfigError, OSError, RuntimeError) as err:
        print(f"bnnlab: error: {err}", file=sys.stderr)
        return 2
    if not args.json:
        print(f"{cfg.method} on {cfg.dataset}: {report['steps']} steps in "
              f"{time.perf_counter() - start:.1f} s on {report['device']}")
        print(f"test accuracy {report['test_acc']:.3f}, test NLL {report['test_nll']:.3f}, "
              f"ECE {report['ece']:.3f}, entropy near {report['entropy_near']:.3f} / "
              f"far {report['entropy_far']:.3f}; epistemic near "
              f"{report['epistemic_near']:.3f} / far {report['epistemic_far']:.3f}")
        print(report["verdict_sentence"])
        if "ood_auroc" in report:
            print(f"OOD AUROC by predictive entropy: letters {report['ood_auroc_letters']:.3f},"
                  f" noise {report['ood_auroc_noise']:.3f}")
        if args.out:
            print(f"wrote {args.out}")
    print(json.dumps(report))
    return 0
