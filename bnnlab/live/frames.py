"""What the live chart draws of one snapshot of a run, JSON-ready (`live.wire`): the maps, the
boundaries of a few posterior draws, the data, and the objective's history.

The map's grid and the data's payloads are made once per data version, grid size and zoom; a
frame asked for again with nothing changed is a copy of the previous one, not computed again.
"""

from __future__ import annotations

import math
import secrets
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from bnnlab import registry
from bnnlab.core import limits, palette, predict, text, verdict
from bnnlab.live import wire
from bnnlab.live.run import Run, Snapshot, serial
from bnnlab.training import cost
from bnnlab.training.predictive import PREDICT_CHUNK

NUM_BOUNDARY_SAMPLES = 10  # posterior draws whose decision boundaries the map shows
BOUNDARY_GRID = 40  # their grid (the boundaries are traced by marching squares on it)
HISTORY_POINTS = 400  # the objective chart gets at most this many points
UNCERTAINTY_KINDS = tuple(registry.UNCERTAINTY_KINDS)
REFRESH_S = 0.4  # while training, the metrics and the history refresh this often (s)


class View(NamedTuple):
    """How the learner looks at the run (not part of the run)."""

    zoom: float = 1.0
    kind: str = "total"
    mode: str = "view"  # view | add0 … add{K−1} | probe


# This server process's name in every frame: `frame_id`s count from 1 in each process, so a
# chart that sees another server (a restart under an open tab) starts its ordering afresh
# instead of dropping the new server's frames as older than the last one it drew.
SERVER_ID = secrets.token_hex(6)


def frame(run: Run, grid_size: int, zoom: float, kind: str,
          snap: Snapshot | None = None) -> dict:
    """Everything the live chart draws for one snapshot of `run`; `frame_id` names its
    contents. Asked again with nothing changed it returns a copy of the previous frame."""
    if kind not in UNCERTAINTY_KINDS:
        raise ValueError(f"kind must be one of {UNCERTAINTY_KINDS}")
    snap = snap or run.snapshot
    grid_size = map_grid(run, grid_size)
    version = run.data_version
    key = (grid_size, float(zoom), kind, snap.serial, version, run.cfg.method)

    def compute() -> dict:
        payload = compute_frame(run, grid_size, zoom, kind, snap)
        payload["frame_id"] = f"{run.serial}-{serial()}"
        payload["server"] = SERVER_ID
        return payload

    return dict(run.cached("frame", key, compute))


def _frame_draws(run: Run) -> tuple[int, int]:
    """(the map's posterior draws, the boundaries' point-draws) of one frame of `run`."""
    static = run.engine.static
    return (static.num_draws(predict.MAP_SAMPLES),
            static.num_draws(NUM_BOUNDARY_SAMPLES) * BOUNDARY_GRID ** 2)


def map_grid(run: Run, grid_size: int) -> int:
    """The grid the map is drawn at: `grid_size` (within the limits), or the finest coarser
    one whose frame, boundaries included, stays within the frame budget
    (`cost.affordable_grid`)."""
    grid_size = int(np.clip(grid_size, limits.MIN_GRID, limits.MAX_GRID))
    return cost.affordable_grid(run.cfg, grid_size, *_frame_draws(run))


def frame_seconds(run: Run, grid_size: int) -> float:
    """The modelled cost of one frame of `run` (`cost.frame_cost`) at the grid it is drawn at."""
    return cost.frame_cost(run.cfg, map_grid(run, grid_size), *_frame_draws(run))


def grid_notice(run: Run, grid_size: int) -> str | None:
    """What the learner is told when the map is coarser than the chosen resolution."""
    drawn = map_grid(run, grid_size)
    if drawn >= grid_size:
        return None
    return (f"the map is drawn at {drawn}×{drawn}, not {grid_size}×{grid_size}: a finer map of "
            f"this network would hold the server longer than {limits.MAX_FRAME_SECONDS:g} s a "
            "frame (fewer or narrower hidden layers give a finer map)")


def _grids(run: Run, grid_size: int, zoom: float) -> tuple:
    """The map's grid (xs, ys, its points float32[C, chunk, 2] on device: C chunks of at most
    `PREDICT_CHUNK` points, the last padded), the boundaries' grid (bx, by, its points
    float32[ny, nx, 2] on device) and the train / test points' payloads."""
    version, data = run.data_version, run.data

    def compute() -> tuple:
        every = np.concatenate([data.x_train, data.x_test])
        xs, ys, grid = predict.make_grid(every, grid_size, margin=0.5, zoom=zoom)
        # chunks of at most PREDICT_CHUNK points, as even as can be (1,600 points: 4 × 400,
        # not 4 × 512 with a fifth of them padding)
        chunks = math.ceil(len(grid) / PREDICT_CHUNK)
        chunk = 8 * math.ceil(len(grid) / chunks / 8)
        padded = np.zeros((chunks * chunk, 2), np.float32)
        padded[:len(grid)] = grid
        bx, by, bgrid = predict.make_grid(every, BOUNDARY_GRID, margin=0.5, zoom=zoom)
        return (xs, ys, jnp.asarray(padded.reshape(-1, chunk, 2)), bx, by,
                jnp.asarray(bgrid.reshape(len(by), len(bx), 2)),
                wire.points_payload(data.x_train, data.y_train),
                wire.points_payload(data.x_test, data.y_test))

    return run.cached("grids", (grid_size, float(zoom), version), compute)


def compute_frame(run: Run, grid_size: int, zoom: float, kind: str, snap: Snapshot) -> dict:
    """`frame` computed afresh (no cache, no `frame_id`)."""
    xs, ys, grid, bx, by, bgrid, train_points, test_points = _grids(run, grid_size, zoom)
    boundary_draws = run.engine.static.num_draws(NUM_BOUNDARY_SAMPLES)  # MAP: one
    num_classes = run.num_classes
    # One compiled call: the predictive, its uncertainty split and the boundary segments.
    summary, quads, used = run.engine.frame(
        run.display_key, run.boundary_key, snap.state, grid, bgrid,
        num_samples=predict.MAP_SAMPLES, num_boundary=boundary_draws)
    shape = (len(ys), len(xs))
    pred, class_probs = predict.summary_parts(np.asarray(summary)[:, :len(xs) * len(ys)],
                                              num_classes)
    # Total and aleatoric entropies reach ln K; one scale for all three kinds.
    vmax = float(np.log(num_classes))
    return {
        "grid": wire.grid_header(xs, ys),
        **class_map_payload(pred, class_probs, shape),
        "classes": palette.class_legend(num_classes),
        "num_classes": num_classes,
        "uncertainty": wire.encode_grid(getattr(pred, kind).reshape(shape), vmax),
        "uncertainty_kind": kind,
        "uncertainty_max": vmax,
        "boundaries": wire.quantised_segments(
            np.asarray(quads)[np.asarray(used)],
            (float(bx[0]), float(bx[-1]), float(by[0]), float(by[-1]))),
        "data_version": run.data_version,
        "train": train_points,
        "test": test_points,
        "far_probes": run.cached("far_probes", (run.data_version,),
                                 lambda: far_probes_payload(run.data.x_train)),
        "step": snap.step,
    }


def far_probes_payload(x_train: np.ndarray) -> dict[str, Any]:
    """The far probe points (`predict.far_probe_mask`) as the map draws them: the probe grid's
    first node, spacing and size, and one byte per node (1: a far probe point)."""
    size, extent = predict.FAR_PROBE_GRID, predict.FAR_EXTENT
    mask = predict.far_probe_mask(x_train).astype(np.uint8)
    return {"x0": -extent, "dx": 2 * extent / (size - 1), "n": size,
            "min_distance": predict.FAR_MIN_DISTANCE, "mask": wire.encode_bytes(mask)}


def class_map_payload(pred: predict.Predictive, class_probs: np.ndarray | None,
                      shape: tuple[int, int]) -> dict[str, Any]:
    """The mean-prediction map's fields. Binary: `mean`, P(y=1) as a uint8 grid over [0, 1].
    K classes: `mean`, the predicted class's probability max_k p̄_k over [0, 1], and
    `mean_class`, the predicted class per cell (one base64 byte each); the map colours a cell by
    its class with saturation (max_k p̄_k − 1/K)/(1 − 1/K), which for K = 2 is the binary
    map's |2 P(y=1) − 1|."""
    out = {"mean": wire.encode_grid(pred.mean.reshape(shape), 1.0)}
    if class_probs is not None:
        # the metrics' rule (`predict.predicted_class`): an exact tie goes to the lower class
        predicted = predict.predicted_class(np.moveaxis(class_probs, 0, -1)).astype(np.uint8)
        out["mean_class"] = wire.encode_bytes(predicted.reshape(shape))
    return out


def history_payload(run: Run, snap: Snapshot | None = None) -> dict:
    """The objective chart: at most HISTORY_POINTS steps of the objective, its log-likelihood
    and −β·regulariser (`wire.encode_floats`), in nats per training point (divided by the
    training points now): the sums grow with the data and their first steps (thousands of nats)
    would flatten every later change."""
    snap = snap or run.snapshot
    objective, log_likelihood, regulariser = run.history_arrays(snap)
    num_train = max(1, len(run.data.x_train))
    factor, third = run.spec.regulariser_term(run.cfg.kl_weight)  # −β, or −1 for HMC
    idx, objective_ds = wire.downsample(objective, HISTORY_POINTS)
    return {
        "step": wire.encode_floats(idx + 1),
        "elbo": wire.encode_floats(objective_ds / num_train),
        "ell": wire.encode_floats(log_likelihood[idx] / num_train),
        "neg_kl": wire.encode_floats(factor * regulariser[idx] / num_train),
        "per_point": num_train,
        "method": run.cfg.method,
        # what the three lines are for this method (`MethodSpec.trace_labels`)
        "trace_labels": list(run.spec.trace_labels),
        "trace_names": [*run.spec.trace_labels[:2], third],  # as the legend shows them
        "method_label": run.spec.label,
        "last_step": snap.step,
    }


def metrics_row(metrics: dict, steps_per_s: float, training: bool,
                chunk_steps_per_s: float) -> list[dict]:
    """The metrics under the maps (drawn by the live chart itself), from a run's `metrics()`;
    `steps_per_s` is training progress per second of wall time, `chunk_steps_per_s` one chunk's
    own rate. ECE carries its reliability bins (the chart draws the diagram beside it) and the
    epistemic means their Monte Carlo errors (`se`)."""
    m = metrics
    return [
        {"label": "Step", "value": f"{m['step']:,}"},
        {"label": "Steps/s", "value": f"{steps_per_s:,.0f}" if training else "–",
         "help": f"Training progress per second of wall time; one chunk alone runs at "
                 f"{chunk_steps_per_s:,.0f} steps/s"},
        {"label": "Train acc", "value": f"{m['train_acc']:.3f}"},
        {"label": "Test acc", "value": f"{m['test_acc']:.3f}"},
        {"label": "Test NLL", "value": f"{m['test_nll']:.3f}"},
        {"label": "ECE", "value": f"{m['ece']:.3f}", "reliability": m.get("reliability"),
         "help": "Expected calibration error on the test points: the diagram's bars are each "
                 "confidence bin's accuracy; on the diagonal the model is as sure as it is "
                 "right, below it over-confident"},
        {"label": "Epistemic near", "value": text.fmt(m["epistemic_near"]),
         "se": text.fmt(m.get("epistemic_near_se", math.nan)),
         "help": "Mean epistemic uncertainty (mutual information, nats) on the test points: "
                 "how much the posterior's networks disagree there; ± its Monte Carlo error"},
        {"label": "Epistemic far", "value": text.fmt(m["epistemic_far"]),
         "se": text.fmt(m.get("epistemic_far_se", math.nan)),
         "help": "The same at probe points at least 2 units from every training point (tick "
                 "'far probe points' under the map to see them)"},
    ]


def verdict_payload(metrics: dict, num_classes: int, y_train: np.ndarray) -> dict:
    """The verdict strip above the maps: the one verdict (`core.verdict`) of a run's `metrics()`
    against chance on its training labels, and the step it was read at."""
    said = verdict.judge_metrics(metrics, num_classes, trained=metrics["step"] > 0,
                                 chance=verdict.chance_accuracy(num_classes, y_train))
    return {"kind": said.kind, "headline": said.headline, "reason": said.reason,
            "sentence": said.sentence, "step": metrics["step"]}
