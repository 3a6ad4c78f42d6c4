"""Several inference methods trained side by side on the same data, held against HMC.

One `Comparison` belongs to one learner's session: a `MethodRun` per chosen method (MAP,
mean-field VI, MC dropout, a deep ensemble, HMC/NUTS), each with its engine from the
process-wide `train.compiled` cache. `advance` runs one time-sized chunk of the next unfinished
method (a `session.Trainer` calls it, one chunk per slot of the server-wide pool);
`report` evaluates them all on one grid and computes the lesson: which methods say "I don't
know" far from the data, and how far each approximate predictive is from HMC's.

The preset "moons_gap" cuts a band out of the middle of two moons: between the clusters the
class is unknown, and an exact posterior says so while mean-field VI and MC dropout tend not to
("in-between" uncertainty, Foong et al. 2019, "'In-Between' Uncertainty in Bayesian Neural
Networks"). No streamlit here: pages only arrange what this module computes.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import numpy as np

from bnnlab import (
    config,
    contour,
    datasets,
    engine,
    hmc,
    predict,
    registry,
    scheduler,
    session,
    text,
    wire,
)
from bnnlab.config import ConfigError, TrainConfig
from bnnlab.figures import palette

GAP_DATASET = "moons_gap"  # the default: the set whose empty box shows in-between doubt
# Every registered dataset (moons_gap included, once); labels from `registry.dataset_label`.
COMPARE_DATASETS = registry.dataset_names()
EVAL_SAMPLES = 32  # posterior draws per grid map (an ensemble uses its M members)
MIN_HMC_DRAWS = 20  # HMC is the reference once it has kept this many draws
DONT_KNOW_FRACTION = 0.5  # "says I don't know": mean far entropy ≥ half the maximum, ln K
REFERENCE_METHOD = "hmc"  # the predictive every other method is held against


class CompareData(NamedTuple):
    """Standardised split shared by every method, and where the gap is (if any)."""

    x_train: np.ndarray  # float32[n, 2]
    y_train: np.ndarray  # int32[n]
    x_test: np.ndarray  # float32[m, 2]
    y_test: np.ndarray  # int32[m]
    gap: tuple[float, float, float, float] | None  # standardised box of the removed band


def build_data(dataset: str, num_points: int, noise: float, test_fraction: float,
               seed: int, num_classes: int = 2) -> CompareData:
    """The named dataset (`COMPARE_DATASETS`) with `num_classes` classes, split and
    standardised; `gap` is the set's registered empty box (`datasets.gap_box`), None for a set
    without one."""
    if dataset not in COMPARE_DATASETS:
        raise ConfigError(f"dataset must be one of {', '.join(COMPARE_DATASETS)}; got {dataset!r}")
    x, y = datasets.make(dataset, num_points, noise, seed, num_classes)
    data = datasets.prepare(x, y, test_fraction, seed)
    gap = datasets.gap_box(dataset, data.mean, data.scale)
    return CompareData(data.x_train, data.y_train, data.x_test, data.y_test, gap)


@dataclasses.dataclass(frozen=True)
class CompareSettings:
    """What the learner chose; validated on creation (bounds from `bnnlab.config`)."""

    methods: tuple[str, ...] = ("map", "vi", "dropout", "ensemble", "hmc")
    dataset: str = GAP_DATASET
    base: TrainConfig = TrainConfig(
        num_points=160, noise=0.1, hidden=(16, 16), prior_std=2.0, lr=0.01, steps=1_500,
        steps_per_chunk=100, num_samples=4, kl_weight=1.0, dropout_rate=0.1, ensemble_size=5,
        hmc_warmup=300, hmc_max_doublings=6)
    hmc_samples: int = 500
    hmc_chunk: int = 20  # NUTS transitions per tick (each is many gradient evaluations)
    # Posterior temperature T (Wenzel et al. 2020; Izmailov et al. 2021 for the counterpoint):
    # HMC samples p(θ|D)^{1/T} (its log density divided by T); VI takes T as its KL weight
    # (β = T × the β chosen), E_q[log p(D|θ)] − T·KL(q‖p), whose optimum tempers the likelihood
    # alone (q ∝ p(θ) p(D|θ)^{1/T}). MAP, dropout and the ensemble are not Bayesian
    # posteriors and ignore it. T = 1 is the untempered comparison, setting for setting.
    temperature: float = 1.0

    def __post_init__(self) -> None:
        methods = tuple(dict.fromkeys(self.methods))
        if not methods:
            raise ConfigError("choose at least one method")
        unknown = [m for m in methods if m not in config.METHODS]
        if unknown:
            raise ConfigError(f"unknown method {unknown[0]!r}; choose from "
                              f"{', '.join(config.METHODS)}")
        object.__setattr__(self, "methods", methods)
        if self.dataset not in COMPARE_DATASETS:
            raise ConfigError(f"dataset must be one of {', '.join(COMPARE_DATASETS)}")
        try:
            datasets.check_num_classes(self.dataset, self.base.num_classes)
        except datasets.DataError as err:
            raise ConfigError(str(err)) from None
        for name, value, lo, hi in (("hmc_samples", self.hmc_samples, 10, config.MAX_HMC_SAMPLES),
                                    ("hmc_chunk", self.hmc_chunk, 1, config.MAX_STEPS_PER_CHUNK)):
            if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
                raise ConfigError(f"{name} must be a whole number from {lo} to {hi}; "
                                  f"got {value!r}")
        bound = config.BOUNDS["temperature"]
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) \
                or not bound.lo <= t <= bound.hi:
            raise ConfigError(f"temperature must be a number from {bound.lo:g} to {bound.hi:g}; "
                              f"got {t!r}")
        object.__setattr__(self, "temperature", float(t))
        if "vi" in methods and self.base.kl_weight * t > config.BOUNDS["kl_weight"].hi:
            raise ConfigError(f"VI's KL weight β × T = {self.base.kl_weight:g} × {t:g} exceeds "
                              f"{config.BOUNDS['kl_weight'].hi:g}; lower β or the temperature")
        if self.base.hmc_warmup + self.hmc_samples > config.MAX_STEPS:
            raise ConfigError(f"HMC warm-up plus samples must be at most {config.MAX_STEPS:,}")

    def method_config(self, method: str) -> TrainConfig:
        """The `TrainConfig` one method trains with (`registry.run_config`): a method with a
        warm-up (HMC) counts transitions (warm-up + `hmc_samples`) as steps and takes
        `hmc_chunk` of them per chunk. The temperature reaches HMC as its own setting and VI
        as a factor on its KL weight (the class docstring)."""
        cfg = self.base.replace(method=method, dataset=self.dataset)
        if method == "hmc":
            cfg = cfg.replace(temperature=self.temperature)
        elif method == "vi" and self.temperature != 1.0:
            cfg = cfg.replace(kl_weight=cfg.kl_weight * self.temperature)
        return registry.run_config(cfg, samples_after_warmup=self.hmc_samples,
                                   steps_per_chunk=self.hmc_chunk)


class MethodRun(session.Run):
    """One method's resumable run on the shared data (the chunk loop of `session.Run`)."""

    @property
    def wall_seconds(self) -> float:
        """Time spent in chunks, the first one (which compiles) included."""
        return self.train_seconds

    @property
    def steps_per_second(self) -> float:
        """Steps (HMC: transitions) per second after the first, compiling chunk."""
        later = self.chunk_log[1:]
        seconds = sum(s for _, s in later)
        return float(sum(n for n, _ in later) / seconds) if seconds > 0 else float("nan")

    def hmc_progress(self) -> dict[str, float] | None:
        """Warm-up / samples drawn / acceptance rate / divergences of an HMC chain, else None."""
        if not registry.has_warmup(self.cfg.method):
            return None
        chain = self.snapshot.state.method_state
        transitions = int(chain.num_transitions)
        return {
            "transitions": transitions,
            "warmup_done": min(transitions, self.cfg.hmc_warmup),
            "warmup": self.cfg.hmc_warmup,
            "samples": int(chain.num_kept),
            "samples_wanted": self.cfg.steps - self.cfg.hmc_warmup,
            "acceptance_rate": float(hmc.acceptance_rate(chain)),
            "in_warmup": transitions < self.cfg.hmc_warmup,
            "step_size": float(chain.step_size),
            "num_divergent": int(chain.num_divergent),
        }


class MethodReport(NamedTuple):
    """One row of the live table and the grid maps of one method."""

    method: str
    steps: int  # optimiser steps, or HMC transitions
    finished: bool
    diverged: bool
    test_acc: float
    test_nll: float
    ece: float
    entropy_near: float  # mean total entropy on test points
    entropy_far: float  # mean total entropy ≥ 2 units from every training point
    entropy_gap: float  # mean total entropy in the gap (NaN without one)
    wall_s: float
    steps_per_s: float
    says_dont_know: bool  # entropy_far ≥ DONT_KNOW_FRACTION · ln K
    # mean total-variation distance ½ Σ_k |p̄_k − p̄_HMC,k| over the grid (two classes:
    # |P(y=1) − P_HMC(y=1)|); NaN without a ready HMC
    diff_from_hmc: float
    diff_from_hmc_gap: float  # the same over the gap's grid cells
    grid: predict.Predictive  # float32[ny, nx] each (K classes: mean = max_k p̄_k)
    class_probs: np.ndarray | None = None  # K > 2 classes: mean p̄_k, float32[K, ny, nx]


class Report(NamedTuple):
    xs: np.ndarray  # float32[nx]
    ys: np.ndarray  # float32[ny]
    rows: dict[str, MethodReport]
    hmc_ready: bool
    lesson: list[str]


class Comparison:
    """Every chosen method on the same data; one per session."""

    def __init__(self, settings: CompareSettings, data: CompareData | None = None) -> None:
        self.settings = settings
        base = settings.base
        self.data = data or build_data(settings.dataset, base.num_points, base.noise,
                                       base.test_fraction, base.seed, base.num_classes)
        self.runs = {m: MethodRun(settings.method_config(m), self.data)
                     for m in settings.methods}
        # One set of far probes (`predict.far_probe_points`), shared by every method's metrics.
        self.far_points = predict.far_probe_points(self.data.x_train)
        for run in self.runs.values():
            run.share_far_points(self.far_points)
        self._turn = 0

    @property
    def finished(self) -> bool:
        return all(run.finished for run in self.runs.values())

    @property
    def compiled(self) -> bool:
        return all(run.compiled for run in self.runs.values())

    def ensure_compiled(self, slots: scheduler.Slots, timeout: float) -> None:
        """Compile every method's chunk (each inside a slot, once per process)."""
        for run in self.runs.values():
            run.ensure_compiled(slots, timeout)

    def advance(self, max_steps: int | None = None) -> int:
        """One chunk (sized by time) of the next unfinished method, in turn; returns its steps.
        A `session.Trainer` calls it once per slot, so no slot is held for all methods."""
        pending = [m for m, run in self.runs.items() if not run.finished]
        if not pending:
            return 0
        method = pending[self._turn % len(pending)]
        self._turn += 1
        return self.runs[method].advance(max_steps)

    def hmc_ready(self) -> bool:
        run = self.runs.get(REFERENCE_METHOD)
        return run is not None and int(
            run.snapshot.state.method_state.num_kept) >= MIN_HMC_DRAWS

    def report(self, grid_size: int = 50, zoom: float = 1.0) -> Report:
        """Metrics, maps and the lesson for every method on one shared grid."""
        grid_size = int(np.clip(grid_size, config.MIN_GRID, config.MAX_COMPARE_GRID))
        every = np.concatenate([self.data.x_train, self.data.x_test])
        xs, ys, grid = predict.make_grid(every, grid_size, margin=0.5, zoom=zoom)
        shape = (len(ys), len(xs))
        gap_mask = self._in_gap(grid)
        gap_points = self._gap_points()
        snaps = {m: run.snapshot for m, run in self.runs.items()}  # one state per method
        summaries = {m: run.class_summary(grid, EVAL_SAMPLES, snaps[m])
                     for m, run in self.runs.items()}
        on_grid = {m: pred for m, (pred, _) in summaries.items()}
        # every class's probability, float[K, n] (two classes: P(y=0), P(y=1))
        class_probs = {m: probs if probs is not None else np.stack([1 - pred.mean, pred.mean])
                       for m, (pred, probs) in summaries.items()}
        ready = REFERENCE_METHOD in snaps and int(
            snaps[REFERENCE_METHOD].state.method_state.num_kept) >= MIN_HMC_DRAWS
        reference = class_probs[REFERENCE_METHOD] if ready else None
        rows: dict[str, MethodReport] = {}
        for method, run in self.runs.items():
            snap = snaps[method]
            metrics = run.metrics(snap)  # `predict.evaluate`: the CLI's and the playground's
            far = metrics["entropy_far"]
            gap = (run.summary(gap_points, EVAL_SAMPLES, snap).total.mean()
                   if gap_points is not None else math.nan)
            diff = diff_gap = math.nan
            if reference is not None and method != REFERENCE_METHOD:
                distance = 0.5 * np.abs(class_probs[method] - reference).sum(axis=0)
                diff = float(np.mean(distance))
                if gap_mask is not None and gap_mask.any():
                    diff_gap = float(np.mean(distance[gap_mask]))
            rows[method] = MethodReport(
                method=method, steps=snap.step, diverged=snap.diverged,
                finished=snap.diverged or snap.step >= run.cfg.steps,
                test_acc=metrics["test_acc"], test_nll=metrics["test_nll"],
                ece=metrics["ece"], entropy_near=metrics["entropy_near"], entropy_far=float(far),
                entropy_gap=float(gap), wall_s=run.wall_seconds,
                steps_per_s=run.steps_per_second,
                says_dont_know=bool(math.isfinite(far)
                                    and far >= DONT_KNOW_FRACTION * math.log(self.num_classes)),
                diff_from_hmc=diff, diff_from_hmc_gap=diff_gap,
                grid=predict.Predictive(*(v.reshape(shape) for v in on_grid[method])),
                class_probs=(None if summaries[method][1] is None
                             else summaries[method][1].reshape(-1, *shape)),
            )
        return Report(xs, ys, rows, ready, lesson(rows, ready, self.data.gap is not None,
                                                  self.num_classes, self.settings.temperature))

    @property
    def num_classes(self) -> int:
        """K of the shared data (2: binary)."""
        return datasets.num_classes_of(self.data.y_train)

    def _gap_points(self) -> np.ndarray | None:
        if self.data.gap is None:
            return None
        x0, x1, y0, y1 = self.data.gap
        gx, gy = np.meshgrid(np.linspace(x0, x1, 9), np.linspace(y0, y1, 9))
        return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)

    def _in_gap(self, grid: np.ndarray) -> np.ndarray | None:
        if self.data.gap is None:
            return None
        x0, x1, y0, y1 = self.data.gap
        return (grid[:, 0] >= x0) & (grid[:, 0] <= x1) & (grid[:, 1] >= y0) & (grid[:, 1] <= y1)


AWARE_RATIO = 2.0  # credit far-away doubt only when far entropy ≥ this × near entropy
ACC_TOLERANCE = 0.05  # a method within this of the best test accuracy fits the data


class Verdict(NamedTuple):
    """How one method's uncertainty reads, from its accuracy and near/far entropies."""

    kind: str  # "aware" | "unsure_everywhere" | "confident_far" | "underfits" | "diverged"
    sentence: str


def verdict(row: MethodReport, best_acc: float, num_classes: int = 2) -> Verdict:
    """Classify one method (chapter 4's lesson: an underfit model is unsure everywhere, which is
    not knowing what it doesn't know). Only a method that fits (test accuracy within
    `ACC_TOLERANCE` of `best_acc`), is sure near the data and unsure far from it (far entropy
    ≥ `DONT_KNOW_FRACTION` · ln K and ≥ `AWARE_RATIO` × near entropy) is credited."""
    name = registry.method_label(row.method)
    if row.diverged or not math.isfinite(row.test_acc):
        return Verdict("diverged", f"{name} diverged; its numbers mean nothing.")
    near, far = row.entropy_near, row.entropy_far
    entropies = f"entropy near {text.fmt(near, 2)}, far {text.fmt(far, 2)}"
    if row.test_acc < best_acc - ACC_TOLERANCE:
        return Verdict("underfits", (
            f"{name} underfits: test accuracy {text.fmt(row.test_acc, 3)} against the best "
            f"{text.fmt(best_acc, 3)} ({entropies}). Its doubt is not knowledge of what it "
            f"does not know; train longer or loosen it (for VI a smaller β)."))
    far_unsure = math.isfinite(far) and far >= DONT_KNOW_FRACTION * math.log(num_classes)
    if far_unsure and far >= AWARE_RATIO * near:
        return Verdict("aware", (
            f"{name} says \"I don't know\" far from the data and is sure near it "
            f"({entropies}: {text.fmt(far / near, 1) if near > 0 else 'many'} times more "
            f"uncertain far away)."))
    if far_unsure:
        return Verdict("unsure_everywhere", (
            f"{name} is unsure near the data too ({entropies}; far is less than "
            f"{AWARE_RATIO:g} × near): that is doubt everywhere, not knowing where the data end."))
    return Verdict("confident_far", (
        f"{name} stays confident far from the data ({entropies}; below "
        f"{text.fmt(DONT_KNOW_FRACTION * math.log(num_classes), 2)} nats counts as confident)."))


def lesson(rows: dict[str, MethodReport], hmc_ready: bool, has_gap: bool,
           num_classes: int = 2, temperature: float = 1.0) -> list[str]:
    """The comparison's conclusions as sentences, every number computed from `rows` (entropy
    scales with K: its maximum is ln K)."""
    fitted = [r.test_acc for r in rows.values() if not r.diverged and math.isfinite(r.test_acc)]
    best_acc = max(fitted, default=math.nan)
    out = [f"Far means ≥ 2 standardised units from every training point; near means the "
           f"held-out test points; entropies in nats (maximum ln {num_classes} = "
           f"{math.log(num_classes):.2f}). A "
           f"method is credited with \"I don't know\" only if it also fits (test accuracy "
           f"within {ACC_TOLERANCE:g} of the best, {text.fmt(best_acc, 3)}) and is at least "
           f"{AWARE_RATIO:g} times as uncertain far away as near."]
    order = {"aware": 0, "confident_far": 1, "unsure_everywhere": 2, "underfits": 3,
             "diverged": 4}
    kinds = {m: verdict(r, best_acc, num_classes) for m, r in rows.items()}
    out.extend(v.sentence for v in sorted(kinds.values(), key=lambda v: order[v.kind]))
    if has_gap:
        gap_rows = sorted(rows.items(), key=lambda kv: -kv[1].entropy_gap)
        out.append("In the gap between the clusters (in-between uncertainty, Foong et al. "
                   "2019), mean entropy: " + ", ".join(
                       f"{registry.method_label(m)} {text.fmt(r.entropy_gap, 2)}"
                       + (" (underfits)" if kinds[m].kind == "underfits" else "")
                       for m, r in gap_rows) + ".")
    if temperature != 1.0:
        out.append(temperature_sentence(rows, temperature))
    if REFERENCE_METHOD in rows and not hmc_ready:
        out.append(f"HMC is the reference once it has kept {MIN_HMC_DRAWS} draws after warm-up; "
                   "the distances to it appear then.")
    elif hmc_ready:
        diffs = sorted((r.diff_from_hmc, m) for m, r in rows.items()
                       if m != REFERENCE_METHOD and math.isfinite(r.diff_from_hmc))
        if diffs:
            closest = ", ".join(f"{registry.method_label(m)} {text.fmt(d, 3)}" for d, m in diffs)
            what = ("mean |Δ P(y=1)| over the map" if num_classes <= 2 else
                    "mean total-variation distance ½ Σ_k |Δ P(y=k)| over the map")
            out.append(f"Distance from HMC's predictive ({what}), closest first: {closest}.")
            if has_gap:
                gap_diffs = sorted((r.diff_from_hmc_gap, m) for m, r in rows.items()
                                   if m != REFERENCE_METHOD and math.isfinite(r.diff_from_hmc_gap))
                if gap_diffs:
                    out.append("In the gap alone: " + ", ".join(
                        f"{registry.method_label(m)} {text.fmt(d, 3)}"
                        for d, m in gap_diffs) + ".")
    return out


def temperature_sentence(rows: dict[str, MethodReport], temperature: float) -> str:
    """What the temperature did, with the far-from-data entropies of the tempered methods."""
    kind = "cold (sharper than Bayes)" if temperature < 1.0 else "warm (flatter than Bayes)"
    tempered = [m for m in ("hmc", "vi") if m in rows]
    far = ", ".join(f"{registry.method_label(m)} {text.fmt(rows[m].entropy_far, 2)}"
                    for m in tempered)
    return (f"Posterior temperature T = {temperature:g}, {kind}: HMC samples p(θ|D)^(1/T) and VI "
            f"weighs its KL by T. Far-from-data entropy of the tempered methods: "
            f"{far or 'none chosen'} (train again at T = 1 to compare). Wenzel et al. 2020 "
            f"found cold posteriors (T < 1) predicting better in deep networks; Izmailov et al. "
            f"2021 found HMC at T = 1 needs no cooling on clean data. MAP, dropout and the "
            f"ensemble ignore T.")


def maps_payload(report: Report, kind: str, data: CompareData) -> dict:
    """What the compare page's canvas maps draw (`ui/compare_maps.js`), JSON-ready and compact:
    one uint8 grid of the `kind` uncertainty per method on the shared scale [0, ln K] nats, the
    decision boundary of each method's mean predictive as uint16 segments (two classes:
    p = 0.5; K classes: where the argmax changes), the training points, their `classes` legend
    (`palette.class_legend`) and the gap's box. Grids are row-major over (ys, xs)."""
    xs, ys = report.xs, report.ys
    dx = float(xs[1] - xs[0]) if len(xs) > 1 else 1.0
    dy = float(ys[1] - ys[0]) if len(ys) > 1 else 1.0
    box = (float(xs[0]), float(xs[-1]), float(ys[0]), float(ys[-1]))
    num_classes = datasets.num_classes_of(data.y_train)
    vmax = float(np.log(num_classes))
    maps = []
    for method, row in report.rows.items():
        if row.class_probs is None:
            fields = [np.asarray(row.grid.mean)]
        else:
            k = row.class_probs.shape[0]
            fields = [f.reshape(row.grid.mean.shape) for f in engine.boundary_fields(
                row.class_probs.reshape(k, -1).T[None])]
        parts = [contour.segments(f, float(xs[0]), dx, float(ys[0]), dy) for f in fields]
        sx = np.concatenate([p[0] for p in parts])
        sy = np.concatenate([p[1] for p in parts])
        maps.append({"method": method, "title": registry.method_label(method),
                     "values": wire.encode_grid(getattr(row.grid, kind), vmax),
                     "boundary": wire.encode_segments(sx, sy, box)})
    return {"grid": {"x0": float(xs[0]), "dx": dx, "y0": float(ys[0]), "dy": dy,
                     "nx": len(xs), "ny": len(ys)},
            "kind": kind, "vmax": vmax, "maps": maps,
            "classes": palette.class_legend(num_classes), "num_classes": num_classes,
            "train": wire.points_payload(data.x_train, data.y_train),
            "gap": list(data.gap) if data.gap is not None else None}
