"""The frame budget's model (`cost.frame_cost`) against measured frames: one live frame
(`frames.compute_frame`: the map's predictive and the boundary draws) for a few networks and
grids, the model's seconds over the measured median (above 1: the model over-estimates, the
safe side), and the grid `cost.affordable_grid` gives each."""

from __future__ import annotations

import statistics
import time

from bnnlab.core import limits
from bnnlab.training import config, cost

FRAME_CASES = (
    ("defaults 2-32-32-1 grid 64", config.TrainConfig()),
    ("2-32-32-1 grid 150", config.TrainConfig(grid_size=150)),
    ("2-128-128-1 grid 100", config.TrainConfig(hidden=(128, 128), grid_size=100)),
    ("2-128x4-1 grid 40", config.TrainConfig(hidden=(128,) * 4, grid_size=40)),
)


def bench_frame_cost(quick: bool) -> dict:
    """Measured against modelled seconds of one frame, at the grid asked for (not the budget's:
    the model is checked where it is over the budget too)."""
    from bnnlab.lessons import playground
    from bnnlab.live import frames
    from bnnlab.live.run import Run

    out: dict = {"name": "frame_cost", "budget_s": limits.MAX_FRAME_SECONDS}
    for label, cfg in FRAME_CASES:
        run = Run(cfg, playground.build_data(cfg))
        run.advance()
        snap = run.snapshot
        frames.compute_frame(run, cfg.grid_size, 1.0, "total", snap)  # compiles
        times = []
        for _ in range(3 if quick else 9):
            start = time.perf_counter()
            frames.compute_frame(run, cfg.grid_size, 1.0, "total", snap)
            times.append(time.perf_counter() - start)
        static = run.engine.static
        model = cost.frame_cost(cfg, cfg.grid_size, static.num_draws(frames.predict.MAP_SAMPLES),
                                static.num_draws(frames.NUM_BOUNDARY_SAMPLES)
                                * frames.BOUNDARY_GRID ** 2)
        measured = statistics.median(times)
        out[label] = {"measured_ms": round(measured * 1e3, 1), "model_ms": round(model * 1e3, 1),
                      "model_over_measured": round(model / measured, 2),
                      "budget_grid": frames.map_grid(run, cfg.grid_size)}
    return out
