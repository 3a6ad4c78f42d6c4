"""Speed benchmarks: `python -m bnnlab bench --json` or `python -m bnnlab.bench`.

One JSON object per line, each with `name` and its figures, on whatever device JAX picks.
Timings are medians over repeats; ratios compare against a baseline run in the same process,
interleaved with ours, because shared machines are noisy. Standard config: moons,
512 points, noise 0.15, MLP 2-32-32-1 tanh, 8 MC samples, Adam 1e-2.
"""

from __future__ import annotations

import functools
import json
import statistics
import sys
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from bnnlab.bench.frame_cost import bench_frame_cost
from bnnlab.core import predict, runtime
from bnnlab.data import toy
from bnnlab.methods.base import Hyper
from bnnlab.training import chunks, config, cost, engine

STANDARD = config.TrainConfig(dataset="moons", num_points=512, noise=0.15, hidden=(32, 32),
                              activation="tanh", num_samples=8, lr=1e-2, kl_weight=1.0,
                              init_std=0.1, steps_per_chunk=100)


def _standard_data(cfg: config.TrainConfig = STANDARD):
    x, y = toy.make(cfg.dataset, cfg.num_points, cfg.noise, cfg.seed)
    mean, scale, (x,) = toy.standardize(x)
    return x, y


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _numpyro_svi(x: np.ndarray, y: np.ndarray, cfg: config.TrainConfig,
                 compiler_options: dict | None = None):
    """numpyro SVI on the same model: AutoNormal guide, Trace_ELBO with vectorised particles,
    jitted update called in a Python loop (compiled with XLA's defaults, or with
    `compiler_options`). Returns `run(num_steps)` or None without numpyro."""
    try:
        import numpyro
        import numpyro.distributions as dist
        import optax
        from numpyro.infer import SVI, Trace_ELBO
        from numpyro.infer.autoguide import AutoNormal
    except ImportError:
        return None
    sizes = [2, *cfg.hidden, 1]

    def model(x, y):
        h = x
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            w = numpyro.sample(f"w{i}", dist.Normal(0.0, cfg.prior_std).expand([a, b]).to_event(2))
            bias = numpyro.sample(f"b{i}", dist.Normal(0.0, cfg.prior_std).expand([b]).to_event(1))
            h = h @ w + bias
            if i < len(sizes) - 2:
                h = jnp.tanh(h)
        numpyro.sample("y", dist.Bernoulli(logits=h[:, 0]), obs=y)

    guide = AutoNormal(model, init_scale=cfg.init_std)
    svi = SVI(model, guide, optax.adam(cfg.lr),
              Trace_ELBO(num_particles=cfg.num_samples, vectorize_particles=True))
    xj, yj = jnp.asarray(x), jnp.asarray(y, jnp.float32)
    state = svi.init(jax.random.key(0), xj, yj)
    update = jax.jit(svi.update, compiler_options=compiler_options)
    holder = {"state": update(state, xj, yj)[0]}

    def run(num_steps: int):
        s = holder["state"]
        loss = None
        for _ in range(num_steps):
            s, loss = update(s, xj, yj)
        holder["state"] = s
        return loss

    return run


def bench_train_steps(quick: bool) -> dict:
    """Steps/s of our chunked trainer vs numpyro SVI, same config, interleaved repeats.

    numpyro runs twice: as its users get it (XLA's default options: `ratio_vs_numpyro`, the
    issue's baseline) and compiled with our engine's options (`runtime.compiler_options`:
    `ratio_vs_numpyro_same_options`), so the gain of the engine itself is visible apart from
    the gain of the compiler options."""
    cfg = STANDARD
    x, y = _standard_data(cfg)
    eng = engine.compiled(engine.StaticConfig.from_config(cfg, len(x)))
    batch = engine.make_batch(x, y, eng.static.data_bucket)
    hyper = engine.make_hyper(cfg)
    holder = {"state": eng.init(jax.random.key(0), jnp.float32(cfg.init_std))}
    chunk = cfg.steps_per_chunk

    def ours():
        holder["state"], info = eng.run_chunk(holder["state"], batch, hyper)
        return info

    jax.block_until_ready(ours())
    numpyro_run = _numpyro_svi(x, y, cfg)
    options = runtime.compiler_options()
    numpyro_same = _numpyro_svi(x, y, cfg, options) if options else None
    repeats = 3 if quick else 7
    ours_t, theirs_t, same_t = [], [], []
    for _ in range(repeats):
        ours_t.append(_median_time(ours, 1))
        if numpyro_run is not None:
            theirs_t.append(_median_time(lambda: numpyro_run(chunk), 1))
        if numpyro_same is not None:
            same_t.append(_median_time(lambda: numpyro_same(chunk), 1))
    ours_sps = chunk / statistics.median(ours_t)
    out = {"name": "train_steps", "config": "moons-512 2-32-32-1 tanh S=8 adam",
           "steps_per_s": round(ours_sps, 1), "chunk_steps": chunk}
    if theirs_t:
        theirs_sps = chunk / statistics.median(theirs_t)
        out.update(numpyro_steps_per_s=round(theirs_sps, 1),
                   ratio_vs_numpyro=round(ours_sps / theirs_sps, 3))
    else:
        out.update(numpyro_steps_per_s=None, ratio_vs_numpyro=None)
    if same_t:
        same_sps = chunk / statistics.median(same_t)
        out.update(numpyro_same_options_steps_per_s=round(same_sps, 1),
                   ratio_vs_numpyro_same_options=round(ours_sps / same_sps, 3))
    return out


def bench_compile(quick: bool) -> dict:
    """Compile time of a training chunk for a fresh engine, and time from nothing compiled to
    the first predictive grid (init + first chunk + 100×100×64 grid)."""
    del quick
    x, y = _standard_data()
    start = time.perf_counter()
    fresh = engine.make_engine(engine.StaticConfig.from_config(STANDARD, len(x)))
    make_engine_s = time.perf_counter() - start
    batch = engine.make_batch(x, y, fresh.static.data_bucket)
    hyper = engine.make_hyper(STANDARD)
    start = time.perf_counter()
    state = jax.block_until_ready(fresh.init(jax.random.key(0), jnp.float32(0.1)))
    init_s = time.perf_counter() - start
    lowered = fresh.run_chunk.lower(state, batch, hyper, jnp.int32(STANDARD.steps_per_chunk))
    start = time.perf_counter()
    lowered.compile()
    compile_s = time.perf_counter() - start
    # First predictive grid from a new engine: every function compiled on the way.
    fresh2 = engine.make_engine(engine.StaticConfig.from_config(STANDARD, len(x)))
    _, _, grid = predict.make_grid(x, 100)
    start = time.perf_counter()
    state = fresh2.init(jax.random.key(0), jnp.float32(0.1))
    state, _ = fresh2.run_chunk(state, batch, hyper)
    probs = np.asarray(fresh2.sample_probs(jax.random.key(1), state, grid, num_samples=64))
    predict.decompose(probs)
    first_grid_s = time.perf_counter() - start
    return {"name": "compile", "train_chunk_compile_s": round(compile_s, 3),
            "make_engine_s": round(make_engine_s, 3), "init_s": round(init_s, 3),
            "time_to_first_grid_s": round(first_grid_s, 3)}


def bench_grid_predictive(quick: bool) -> dict:
    """100×100 grid × 64 posterior samples: probabilities (`sample_probs`), plus the uncertainty
    decomposition in numpy, and the on-device summary (`predictive_summary`)."""
    x, y = _standard_data()
    eng = engine.compiled(engine.StaticConfig.from_config(STANDARD, len(x)))
    state = eng.init(jax.random.key(0), jnp.float32(0.1))
    _, _, grid = predict.make_grid(x, 100)
    grid = jnp.asarray(grid)
    key = jax.random.key(1)

    def probs():
        return eng.sample_probs(key, state, grid, num_samples=64)

    jax.block_until_ready(probs())
    repeats = 5 if quick else 21
    probs_ms = _median_time(probs, repeats) * 1e3
    full_ms = _median_time(lambda: predict.decompose(np.asarray(probs())), repeats) * 1e3
    grid_np = np.asarray(grid)

    def summary():  # what the playground draws: mean and the three uncertainties, on device
        return eng.predictive_summary(key, state, grid_np, 64)

    summary()
    summary_ms = _median_time(summary, repeats) * 1e3
    return {"name": "grid_predictive", "points": 10_000, "num_samples": 64,
            "probs_ms": round(probs_ms, 2), "with_decomposition_ms": round(full_ms, 2),
            "summary_ms": round(summary_ms, 2)}


def bench_batched_runs(quick: bool) -> dict:
    """B = 64 runs in one batched chunk vs 64 runs one after another (same total steps). The
    batched chunk vmaps over all runs on an accelerator, and on a CPU maps over small vmapped
    groups (`chunks.CPU_RUN_GROUP`); `vmapped_run_steps_per_s` keeps its name for either."""
    num_runs = 64
    cfg = STANDARD.replace(steps_per_chunk=20 if quick else 50)
    x, y = _standard_data(cfg)
    eng = engine.compiled(engine.StaticConfig.from_config(cfg, len(x)))
    batch = engine.make_batch(x, y, eng.static.data_bucket)
    keys = jax.random.split(jax.random.key(0), num_runs)
    states = eng.init_batched(keys, jnp.full(num_runs, cfg.init_std, jnp.float32))
    hypers = Hyper(jnp.full(num_runs, cfg.lr, jnp.float32),
                         jnp.geomspace(1e-3, 1.0, num_runs).astype(jnp.float32),
                         jnp.full(num_runs, cfg.prior_std, jnp.float32))
    single = [jax.tree.map(lambda v, i=i: v[i], states) for i in range(num_runs)]
    one_hyper = engine.make_hyper(cfg)
    k = jnp.int32(cfg.steps_per_chunk)

    def batched():
        return eng.run_chunk_batched(states, batch, hypers, k)

    def sequential():
        return [eng.run_chunk(s, batch, one_hyper, k) for s in single]

    jax.block_until_ready(batched())
    jax.block_until_ready(sequential())
    repeats = 1 if quick else 3
    t_batched = _median_time(batched, repeats)
    t_seq = _median_time(sequential, repeats)
    total_steps = num_runs * cfg.steps_per_chunk
    mode = (f"lax.map over vmapped groups of {chunks.CPU_RUN_GROUP}"
            if jax.default_backend() == "cpu" else "vmap")
    return {"name": "batched_runs", "runs": num_runs, "chunk_steps": cfg.steps_per_chunk,
            "batched_mode": mode,
            "vmapped_run_steps_per_s": round(total_steps / t_batched, 1),
            "sequential_run_steps_per_s": round(total_steps / t_seq, 1),
            "speedup": round(t_seq / t_batched, 2)}


COST_MODEL_CASES = (
    ("vi 2-32-32-1 S=8 n=384", config.TrainConfig(steps_per_chunk=50), 384),
    ("vi 2-64-64-1 S=16 n=1000", config.TrainConfig(hidden=(64, 64), num_samples=16,
                                                    steps_per_chunk=10), 1000),
    ("ensemble M=5 2-32-32-1 n=1000", config.TrainConfig(method="ensemble", steps_per_chunk=20),
     1000),
    ("hmc 2-16-16-1 doublings 6 n=300", config.TrainConfig(method="hmc", hidden=(16, 16),
                                                           hmc_warmup=10, steps_per_chunk=10),
     300),
)


def bench_cost_model(quick: bool) -> dict:
    """The cost model's step time (`cost.chunk_cost`) against the measured one, for a few
    configurations; a ratio above 1 means the model over-estimates (the safe side). HMC's
    model assumes every trajectory at its maximum length, so it over-estimates most."""
    out: dict = {"name": "cost_model"}
    for label, cfg, num_points in COST_MODEL_CASES:
        x, y = toy.make("moons", num_points, 0.15, 0)
        eng = engine.compiled(engine.StaticConfig.from_config(cfg, num_points))
        batch = engine.make_batch(x, y, eng.static.data_bucket)
        hyper = engine.make_hyper(cfg)
        holder = {"state": eng.init(jax.random.key(0), jnp.float32(cfg.init_std))}

        def chunk(holder=holder, eng=eng, batch=batch, hyper=hyper):
            holder["state"], _ = eng.run_chunk(holder["state"], batch, hyper)
            return holder["state"]

        jax.block_until_ready(chunk())
        measured = _median_time(chunk, 3 if quick else 7) / cfg.steps_per_chunk
        modelled = cost.chunk_cost(cfg, num_points).step_seconds
        out[label] = {"measured_step_ms": round(measured * 1e3, 3),
                      "model_step_ms": round(modelled * 1e3, 3),
                      "model_over_measured": round(modelled / measured, 2)}
    return out


def bench_digits_train(quick: bool) -> dict:
    """Chapter 5's target: Train → ≥ 95% test accuracy on the 8×8 digits in ≤ 10 s (VI, the
    talk's recipe: β = 0.001, σ₀ = 0.03). Wall time from nothing compiled in this process
    (a fresh engine: its compile counts) to the first chunk whose 64-draw mean predictive
    reaches 95% on the 450 test digits; the accuracy checks are not counted. Each repeat uses
    another seed (another engine is not needed: the seed is traced), so only the first repeat
    pays the compile: `first_s` is the learner's first click, `warm_median_s` later ones."""
    from bnnlab.lessons import digits, digits_report

    digits.load_split()  # the data load is not training
    repeats = 1 if quick else 3
    runs = [digits_report.time_to_accuracy(digits.recipe_config("vi_talk", seed=seed))
            for seed in range(repeats)]
    times = [r["seconds_to_target"] for r in runs]
    warm = [t for t in times[1:] if t is not None]
    return {"name": "digits_train", "config": "digits 64-64-10 VI β=1e-3 σ0=0.03 S=2 lr=0.01",
            "target_test_acc": 0.95, "first_s": times[0],
            "warm_median_s": statistics.median(warm) if warm else None,
            "test_acc": [round(r["test_acc"], 4) for r in runs],
            "steps": [r["steps"] for r in runs], "within_10_s": times[0] is not None
            and times[0] <= 10.0}


def bench_chunk_time(quick: bool) -> dict:
    """A chunk asked for fewer steps than its engine's K costs about those steps (sessions size
    chunks by time, so Pause acts within ~0.5 s): wall time of a chunk of K = 200 steps against
    one of 1 and of 20 steps, same engine and state, interleaved repeats."""
    cfg = STANDARD.replace(steps_per_chunk=200)
    x, y = _standard_data(cfg)
    eng = engine.compiled(engine.StaticConfig.from_config(cfg, len(x)))
    batch = engine.make_batch(x, y, eng.static.data_bucket)
    hyper = engine.make_hyper(cfg)
    state = eng.init(jax.random.key(0), jnp.float32(cfg.init_std))
    jax.block_until_ready(eng.run_chunk(state, batch, hyper, jnp.int32(1)))  # compile
    sizes = (200, 20, 1)
    times: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(5 if quick else 15):
        for n in sizes:
            times[n].append(_median_time(
                lambda n=n: eng.run_chunk(state, batch, hyper, jnp.int32(n)), 1))
    full = statistics.median(times[200])
    return {"name": "chunk_time", "config": "moons-512 2-32-32-1 tanh S=8, K=200",
            "full_chunk_s": round(full, 4),
            "chunk_20_s": round(statistics.median(times[20]), 4),
            "chunk_1_s": round(statistics.median(times[1]), 4),
            "ratio_1_vs_full": round(statistics.median(times[1]) / full, 3),
            "ratio_20_vs_full": round(statistics.median(times[20]) / full, 3)}


def bench_live_frame(quick: bool) -> dict:
    """One live frame of the playground: `frames.compute_frame`, the predictive, its
    uncertainty split and the ten boundary draws' contours in one compiled call
    (`eng.frame`), against the same frame computed apart as the page did before
    (`predictive_summary`, the boundary draws' `sample_probs`, `contour.segments` in numpy,
    `wire.encode_segments`), interleaved repeats in this process; for the default playground
    and the class load test's light session (`tools/loadtest/run_push_load.py`)."""
    from bnnlab.core import contour
    from bnnlab.lessons import playground
    from bnnlab.live import frames, wire
    from bnnlab.live.run import Run

    def apart(run, snap, grid_size: int) -> dict:
        data = run.data
        every = np.concatenate([data.x_train, data.x_test])
        xs, ys, grid = predict.make_grid(every, grid_size, margin=0.5)
        pred, _ = run.class_summary(grid, snap=snap)
        bx, by, bgrid = predict.make_grid(every, frames.BOUNDARY_GRID, margin=0.5)
        probs = run.sample_probs(bgrid, frames.NUM_BOUNDARY_SAMPLES, run.boundary_key, snap)
        fields = contour.boundary_fields(probs).reshape(-1, len(by), len(bx))
        sx, sy = contour.segments(fields, float(bx[0]), float(bx[1] - bx[0]), float(by[0]),
                                  float(by[1] - by[0]))
        return {"mean": wire.encode_grid(pred.mean.reshape(len(ys), len(xs)), 1.0),
                "uncertainty": wire.encode_grid(pred.total.reshape(len(ys), len(xs)), 1.0),
                "boundaries": wire.encode_segments(sx, sy, (bx[0], bx[-1], by[0], by[-1]))}

    out = {"name": "live_frame"}
    configs = {"default": config.TrainConfig(),
               "class": config.TrainConfig(num_points=200, hidden=(16, 16), num_samples=4,
                                           steps_per_chunk=20, grid_size=40)}
    for label, cfg in configs.items():
        run = Run(cfg, playground.build_data(cfg))
        run.advance()
        snap = run.snapshot
        calls = {"one": functools.partial(frames.compute_frame, run, cfg.grid_size, 1.0, "total",
                                          snap),
                 "apart": functools.partial(apart, run, snap, cfg.grid_size)}
        times: dict[str, list[float]] = {"one": [], "apart": []}
        for call in calls.values():
            call()  # compiles
        for _ in range(10 if quick else 30):
            for key, call in calls.items():
                times[key].append(_median_time(call, 1))
        one_s, apart_s = (statistics.median(times[k]) for k in ("one", "apart"))
        out[f"{label}_config"] = (f"{cfg.dataset}-{cfg.num_points} 2-"
                                  f"{'-'.join(map(str, cfg.hidden))}-1, grid {cfg.grid_size}, "
                                  f"{predict.MAP_SAMPLES} draws + "
                                  f"{frames.NUM_BOUNDARY_SAMPLES} boundaries")
        out[f"{label}_one_call_ms"] = round(one_s * 1e3, 2)
        out[f"{label}_apart_ms"] = round(apart_s * 1e3, 2)
        out[f"{label}_speedup"] = round(apart_s / one_s, 2)
    return out


def _wait(predicate: Callable[[], bool], timeout: float, poll: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


def _train_to_first_frame(live, timeout: float = 120.0) -> float:
    """Seconds from Train to the first payload that shows a trained step (the page's tick)."""
    start = time.perf_counter()
    live.train()
    while time.perf_counter() - start < timeout:
        payload, _ = live.tick(wait_s=0.02)
        if payload is not None and payload["step"] > 0:
            return time.perf_counter() - start
    raise TimeoutError("no trained frame")


def bench_hmc_first_frame(quick: bool) -> dict:
    """HMC/NUTS in the playground: seconds from Train to the first predictive frame
    for 2-16-16-1 on moons (512 points, the playground's 64² grid, 32 draws), measured on the
    session the page binds to (server side: the browser's drawing adds its own). `cold_s`:
    Train pressed the instant the session exists, NUTS's compile included; `warm_s`: after the
    session's background warm-up compiled the chunk (a learner reading the page), median over
    fresh sessions (new seeds, same compiled engine)."""
    from bnnlab.lessons.playground import Session

    cfg = config.TrainConfig(method="hmc", hidden=(16, 16), hmc_warmup=200, steps=600)
    live = Session(cfg)
    cold = _train_to_first_frame(live)
    live.close()
    warm = []
    for seed in range(1, 3 if quick else 6):
        live = Session(cfg.replace(seed=seed))
        _wait(lambda live=live: live.run.compiled, 120.0)
        warm.append(_train_to_first_frame(live))
        live.close()
    return {"name": "hmc_first_frame", "config": "moons-512 2-16-16-1 tanh NUTS ≤ 2^6, grid 64",
            "cold_s": round(cold, 3), "warm_s": round(statistics.median(warm), 3),
            "warm_max_s": round(max(warm), 3), "target_s": 3.0}


def bench_laplace_fit(quick: bool) -> dict:
    """Linearised Laplace in the playground: after MAP has converged (2,000 steps,
    2-32-32-1, moons 512), seconds for the fit (GGN of all 1,185 parameters, eigendecomposition,
    evidence-tuned prior) plus the first map of its linearised predictive (the session's
    frame and metrics). `compile_fit_s` is the fit's compile, done by the session's
    background warm-up before Train."""
    from bnnlab.lessons.playground import Session
    from bnnlab.live.status import Status

    cfg = config.TrainConfig(method="laplace", hidden=(32, 32), steps=2000,
                             steps_per_chunk=500)
    live = Session(cfg)
    _wait(lambda: live.run.compiled, 120.0)
    start = time.perf_counter()
    live.run.compile_fit()
    compile_fit = time.perf_counter() - start
    live.train()
    _wait(lambda: live.status == Status.FINISHED, 300.0, 0.05)
    live.tick()  # the finished run's frame (fitted at its end)
    fits, totals = [], []
    for _ in range(3 if quick else 7):
        start = time.perf_counter()
        live.run.fit_posterior()
        fits.append(time.perf_counter() - start)
        payload, _ = live.tick()
        totals.append(time.perf_counter() - start)
    live.close()
    return {"name": "laplace_fit", "config": "moons-512 2-32-32-1 tanh, full GGN (1,185), grid 64",
            "compile_fit_s": round(compile_fit, 3), "fit_s": round(statistics.median(fits), 3),
            "fit_and_first_map_s": round(statistics.median(totals), 3),
            "fit_and_first_map_max_s": round(max(totals), 3), "target_s": 1.0}


BENCHMARKS: dict[str, Callable[[bool], dict]] = {
    "live_frame": bench_live_frame,
    "hmc_first_frame": bench_hmc_first_frame,
    "laplace_fit": bench_laplace_fit,
    "chunk_time": bench_chunk_time,
    "train_steps": bench_train_steps,
    "compile": bench_compile,
    "grid_predictive": bench_grid_predictive,
    "batched_runs": bench_batched_runs,
    "cost_model": bench_cost_model,
    "frame_cost": bench_frame_cost,
    "digits_train": bench_digits_train,
}


def main(quick: bool = False, only: list[str] | None = None, json_only: bool = True) -> int:
    names = only or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"bnnlab: error: unknown benchmark(s) {', '.join(unknown)}; choose from "
              f"{', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    device = runtime.device_label()
    if not json_only:
        print(f"# bnnlab benchmarks on {device} (jax {jax.__version__})", file=sys.stderr)
    for name in names:
        result = BENCHMARKS[name](quick)
        result["device"] = device
        print(json.dumps(result), flush=True)
    return 0


def cli_main(argv: list[str] | None = None) -> int:
    """`python -m bnnlab.bench [--json] [--quick] [--only a,b]`."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bnnlab.bench")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="")
    args = parser.parse_args(argv)
    return main(args.quick, [n for n in args.only.split(",") if n], args.json)
