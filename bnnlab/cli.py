"""`python -m bnnlab train|bench …`: train one run and print its contract JSON, or benchmark."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

import jax
import numpy as np

from bnnlab import config, datasets, hmc, predict, runtime, train

CONTRACT_FIELDS = (
    "dataset", "method", "steps", "elbo", "expected_log_likelihood", "kl", "train_acc",
    "test_acc", "test_nll", "ece", "entropy_near", "entropy_far", "steps_per_s", "compile_s",
    "device",
)
EVAL_SAMPLES = 64


class UsageError(Exception):
    """Bad command-line input; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage block, exit 2
        raise UsageError(message)


def _build_parser() -> argparse.ArgumentParser:
    defaults = config.TrainConfig()
    parser = _Parser(prog="python -m bnnlab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train one run and report its metrics")
    t.add_argument("--dataset", default=defaults.dataset, choices=config.DATASETS)
    t.add_argument("--num-points", type=int, default=defaults.num_points)
    t.add_argument("--noise", type=float, default=defaults.noise)
    t.add_argument("--test-fraction", type=float, default=defaults.test_fraction)
    t.add_argument("--seed", type=int, default=defaults.seed)
    t.add_argument("--method", default=defaults.method, choices=config.METHODS)
    t.add_argument("--hidden", default=",".join(map(str, defaults.hidden)),
                   help="comma-separated widths, e.g. 32,32")
    t.add_argument("--activation", default=defaults.activation, choices=config.ACTIVATIONS)
    t.add_argument("--num-samples", type=int, default=defaults.num_samples)
    t.add_argument("--prior-std", type=float, default=defaults.prior_std)
    t.add_argument("--init-std", type=float, default=defaults.init_std)
    t.add_argument("--kl-weight", type=float, default=defaults.kl_weight)
    t.add_argument("--lr", type=float, default=defaults.lr)
    t.add_argument("--steps", type=int, default=defaults.steps)
    t.add_argument("--steps-per-chunk", type=int, default=defaults.steps_per_chunk)
    t.add_argument("--grid-size", type=int, default=100)
    t.add_argument("--dropout-rate", type=float, default=defaults.dropout_rate,
                   help="MC dropout: probability of dropping a hidden unit")
    t.add_argument("--ensemble-size", type=int, default=defaults.ensemble_size,
                   help="deep ensemble: number of members M (trained at once with vmap)")
    t.add_argument("--hmc-warmup", type=int, default=defaults.hmc_warmup,
                   help="HMC: warm-up (adaptation) transitions; --steps counts all transitions")
    t.add_argument("--hmc-max-doublings", type=int, default=defaults.hmc_max_doublings,
                   help="HMC: NUTS trajectories of at most 2**N leapfrog steps")
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
    return config.TrainConfig(
        dataset=args.dataset, num_points=args.num_points, noise=args.noise,
        test_fraction=args.test_fraction, seed=args.seed, hidden=config.parse_hidden(args.hidden),
        activation=args.activation, method=args.method, num_samples=args.num_samples,
        prior_std=args.prior_std, init_std=args.init_std, kl_weight=args.kl_weight, lr=args.lr,
        steps=args.steps, steps_per_chunk=args.steps_per_chunk, grid_size=args.grid_size,
        dropout_rate=args.dropout_rate, ensemble_size=args.ensemble_size,
        hmc_warmup=args.hmc_warmup, hmc_max_doublings=args.hmc_max_doublings,
    )


def method_report(cfg: config.TrainConfig, state: train.TrainState) -> dict:
    """Extra fields of the new methods: their settings and, for HMC, the chain's diagnostics."""
    if cfg.method == "dropout":
        return {"dropout_rate": cfg.dropout_rate}
    if cfg.method == "ensemble":
        return {"ensemble_size": cfg.ensemble_size}
    if cfg.method == "hmc":
        chain = state.method_state
        return {"hmc_warmup": cfg.hmc_warmup, "hmc_samples": int(chain.num_kept),
                "acceptance_rate": float(hmc.acceptance_rate(chain)),
                "num_divergent": int(chain.num_divergent), "step_size": float(chain.step_size)}
    return {}


def run_train(cfg: config.TrainConfig, out: str | None = None) -> dict:
    """Train, evaluate and (optionally) save; returns the contract dict."""
    x, y = datasets.make(cfg.dataset, cfg.num_points, cfg.noise, cfg.seed)
    data = datasets.prepare(x, y, cfg.test_fraction, cfg.seed)
    result = train.fit(cfg, data.x_train, data.y_train)
    engine, state, history = result.engine, result.state, result.history
    key = jax.random.key(cfg.seed + 10_000)
    keys = jax.random.split(key, 4)
    far = predict.far_probe_points(data.x_train)

    def probs(k, points):
        return np.asarray(engine.sample_probs(k, state, points, num_samples=EVAL_SAMPLES))

    metrics = predict.evaluate(probs(keys[0], data.x_train), data.y_train,
                               probs(keys[1], data.x_test), data.y_test, probs(keys[2], far))
    steps_done = int(state.step)
    timed_steps = max(steps_done - cfg.steps_per_chunk, 0)
    report = {
        "dataset": cfg.dataset,
        "method": cfg.method,
        "steps": steps_done,
        "elbo": float(history.elbo[-1]),
        "expected_log_likelihood": float(history.expected_log_likelihood[-1]),
        "kl": float(history.kl[-1]),
        **metrics._asdict(),
        "steps_per_s": timed_steps / result.train_s if result.train_s > 0 else None,
        "compile_s": result.compile_s,
        "device": runtime.device_label(),
        "diverged": bool(state.diverged),
        "num_params": engine.num_params,
        **method_report(cfg, state),
    }
    if out:
        all_x = np.concatenate([data.x_train, data.x_test])
        xs, ys, grid = predict.make_grid(all_x, cfg.grid_size)
        pred = predict.decompose(probs(keys[3], grid))
        shape = (len(ys), len(xs))
        np.savez_compressed(
            out, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
            y_test=data.y_test, mean=data.mean, scale=data.scale, grid_x=xs, grid_y=ys,
            **{f"grid_{k}": v.reshape(shape) for k, v in pred._asdict().items()},
            **{f"history_{k}": v for k, v in history._asdict().items()},
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
    except (datasets.DataError, OSError) as err:
        print(f"bnnlab: error: {err}", file=sys.stderr)
        return 2
    if not args.json:
        print(f"{cfg.method} on {cfg.dataset}: {report['steps']} steps in "
              f"{time.perf_counter() - start:.1f} s on {report['device']}")
        print(f"test accuracy {report['test_acc']:.3f}, test NLL {report['test_nll']:.3f}, "
              f"ECE {report['ece']:.3f}, entropy near {report['entropy_near']:.3f} / "
              f"far {report['entropy_far']:.3f}")
        if args.out:
            print(f"wrote {args.out}")
    print(json.dumps(report))
    return 0
