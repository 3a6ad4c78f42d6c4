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

from bnnlab import config, datasets, predict, registry, runtime, train

CONTRACT_FIELDS = (
    "dataset", "method", "steps", "elbo", "expected_log_likelihood", "kl", "train_acc",
    "test_acc", "test_nll", "ece", "entropy_near", "entropy_far", "steps_per_s", "compile_s",
    "device",
)
EVAL_SAMPLES = predict.EVAL_SAMPLES
# Help texts of the settings whose flag name does not say enough; every other flag's help is
# its range, from `config.BOUNDS`.
HELP = {
    "hidden": "comma-separated widths, e.g. 32,32",
    "kl_weight": "β: weight of the KL (VI) or of the prior penalty (MAP family)",
    "temperature": "posterior temperature T for HMC, which samples p(θ|D)^(1/T); for a "
                   "tempered VI set --kl-weight to T",
    "steps": "training steps (HMC: transitions, warm-up included)",
    "steps_per_chunk": "steps fused into one compiled chunk",
    "dropout_rate": "MC dropout: probability of dropping a hidden unit",
    "ensemble_size": "deep ensemble: number of members M (trained at once with vmap)",
    "hmc_warmup": "HMC: warm-up (adaptation) transitions; --steps counts all transitions",
    "hmc_max_doublings": "HMC: NUTS trajectories of at most 2**N leapfrog steps",
    "num_classes": "K classes (2 to 5) for a dataset that takes them (spiral, gaussians); 2 "
                   "trains the Bernoulli network, K > 2 a categorical softmax",
}


class UsageError(Exception):
    """Bad command-line input; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage block, exit 2
        raise UsageError(message)


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per `TrainConfig` field, its default the config's and its choices the
    registry's: nothing here to keep in step by hand."""
    defaults = config.TrainConfig()
    choices = config.CHOICES
    labels = {"method": registry.method_label, "dataset": registry.dataset_label}
    for field in dataclasses.fields(config.TrainConfig):
        name, default = field.name, getattr(defaults, field.name)
        flag = "--" + name.replace("_", "-")
        if name in choices:
            label = labels.get(name)
            listed = ", ".join(f"{c} ({label(c)})" if label else c for c in choices[name])
            parser.add_argument(flag, default=default, choices=choices[name],
                                help=HELP.get(name, f"one of {listed}"))
        elif name == "hidden":
            parser.add_argument(flag, default=",".join(map(str, default)), help=HELP[name])
        elif name == "noise":  # each dataset's own default (the registry's default_noise)
            bound = config.BOUNDS[name]
            parser.add_argument(flag, type=float, default=None,
                                help=f"label noise, relative to the dataset's class gap "
                                f"({bound.lo:g} to {bound.hi:g}; default: the dataset's own, "
                                f"e.g. spiral {datasets.REGISTRY['spiral'].default_noise:g}, "
                                f"moons {datasets.REGISTRY['moons'].default_noise:g})")
        else:
            bound = config.BOUNDS[name]
            spec = "d" if bound.kind is int else "g"
            parser.add_argument(flag, type=bound.kind, default=default,
                                help=HELP.get(name, name.replace("_", " "))
                                + f" ({bound.kind(bound.lo):{spec}} to "
                                f"{bound.kind(bound.hi):{spec}}; default {default:g})")


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
        spec = datasets.REGISTRY.get(values["dataset"])
        values["noise"] = spec.default_noise if spec else config.TrainConfig().noise
    cfg = config.TrainConfig(**values)
    registry.validate(cfg)
    return cfg


def prepare_data(cfg: config.TrainConfig) -> datasets.Dataset:
    """The run's data: drawn from the registry's generator, split and standardised."""
    x, y = datasets.make(cfg.dataset, cfg.num_points, cfg.noise, cfg.seed, cfg.num_classes)
    return datasets.prepare(x, y, cfg.test_fraction, cfg.seed)


def metrics_key(cfg: config.TrainConfig) -> jax.Array:
    """The key of the posterior draws behind the reported metrics."""
    return jax.random.key(cfg.seed + 10_000)


def run_train(cfg: config.TrainConfig, out: str | None = None) -> dict:
    """Train, evaluate and (optionally) save; returns the contract dict. Raises
    `config.ConfigError` for settings over the cost budget, before anything compiles. Image
    datasets (`--dataset digits`) report K-class metrics and OOD AUROC (`digits_lab`)."""
    if cfg.dataset in registry.IMAGE_DATASETS:
        from bnnlab import digits_lab

        return digits_lab.run_report(cfg, out)
    data = prepare_data(cfg)
    cfg, _ = config.check_cost(cfg, len(data.x_train))
    result = train.fit(cfg, data.x_train, data.y_train)
    engine, state, history = result.engine, result.state, result.history
    metrics = predict.evaluate(engine, state, data, metrics_key(cfg))
    steps_done = int(state.step)
    timed_steps = max(steps_done - engine.static.steps_per_chunk, 0)

    def last(values: np.ndarray) -> float | None:
        return float(values[-1]) if len(values) else None

    report = {
        "dataset": cfg.dataset,
        "num_classes": engine.static.num_classes,
        "likelihood": engine.static.likelihood,
        "method": cfg.method,
        "steps": steps_done,
        # the contract's names for the method's objective and its two terms (see Trace)
        "elbo": last(history.objective),
        "expected_log_likelihood": last(history.log_likelihood),
        "kl": last(history.regulariser),
        "trace_labels": list(registry.method(cfg.method).trace_labels),
        **metrics._asdict(),
        "steps_per_s": timed_steps / result.train_s if result.train_s > 0 else None,
        "compile_s": result.compile_s,
        "device": runtime.device_label(),
        "diverged": bool(state.diverged),
        "num_params": engine.num_params,
        "steps_per_chunk": engine.static.steps_per_chunk,
        **dict(registry.method_options(cfg)),
        **registry.method(cfg.method).report(cfg, state),
    }
    if out:
        all_x = np.concatenate([data.x_train, data.x_test])
        xs, ys, grid = predict.make_grid(all_x, cfg.grid_size)
        pred, class_probs = predict.summary_parts(engine.predictive_summary(
            jax.random.split(metrics_key(cfg))[1], state, grid, EVAL_SAMPLES),
            engine.static.num_classes)
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
    except (UsageError, config.ConfigError) as err:
        print(f"bnnlab: error: {err}", file=sys.stderr)
        return 2
    if args.command == "bench" and args.browser:
        from bnnlab import bench_browser, runtime

        for result in (bench_browser.run(watch_s=4.0 if args.quick else 10.0),
                       bench_browser.run_chapters(steps=3 if args.quick else 7)):
            result["device"] = runtime.device_label()
            print(json.dumps(result), flush=True)
        return 0
    if args.command == "bench":
        from bnnlab import bench

        only = [n.strip() for n in args.only.split(",") if n.strip()]
        return bench.main(quick=args.quick, only=only, json_only=args.json)
    start = time.perf_counter()
    try:
        report = run_train(cfg, args.out)
    except (datasets.DataError, config.ConfigError, OSError, RuntimeError) as err:
        print(f"bnnlab: error: {err}", file=sys.stderr)
        return 2
    if not args.json:
        print(f"{cfg.method} on {cfg.dataset}: {report['steps']} steps in "
              f"{time.perf_counter() - start:.1f} s on {report['device']}")
        print(f"test accuracy {report['test_acc']:.3f}, test NLL {report['test_nll']:.3f}, "
              f"ECE {report['ece']:.3f}, entropy near {report['entropy_near']:.3f} / "
              f"far {report['entropy_far']:.3f}")
        if "ood_auroc" in report:
            print(f"OOD AUROC by predictive entropy: letters {report['ood_auroc_letters']:.3f},"
                  f" noise {report['ood_auroc_noise']:.3f}")
        if args.out:
            print(f"wrote {args.out}")
    print(json.dumps(report))
    return 0
