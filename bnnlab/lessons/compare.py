"""Several inference methods trained side by side on the same data, held against HMC.

One `Comparison` belongs to one learner's session: a `live.run.Run` per chosen method (MAP,
mean-field VI, MC dropout, a deep ensemble, HMC/NUTS, or any method in the registry), each with
its engine from the process-wide cache. `advance` runs one time-sized chunk of the next
unfinished method (a `live.trainer.Trainer` calls it, one chunk per slot of the server-wide
pool);
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
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from bnnlab import registry
from bnnlab.core import contour, limits, palette, predict, text, verdict
from bnnlab.core.errors import ConfigError, DataError
from bnnlab.core.settings import Setting
from bnnlab.data import toy
from bnnlab.live import scheduler, wire
from bnnlab.live.latest import Latest
from bnnlab.live.run import Run, Snapshot
from bnnlab.methods.base import Progress
from bnnlab.training import cost
from bnnlab.training.config import TrainConfig

GAP_DATASET = "moons_gap"  # the default: the set whose empty box shows in-between doubt
# Every toy dataset (moons_gap included, once); labels from `registry.dataset_label`.
COMPARE_DATASETS = registry.MAP_DATASETS
MIN_HMC_DRAWS = 20  # HMC is the reference once it has kept this many draws
# How long the page waits for a fresh report: while training it draws the last one meanwhile
# and asks again on its next tick; once stopped it waits for the report of the final state.
REPORT_WAIT_S = {True: 0.25, False: 10.0}
FIRST_REPORT_WAIT_S = 60.0  # the first (it compiles each method's predictive) on a busy server
MAX_SAMPLES_AFTER_WARMUP = 20_000  # draws a sampler keeps after its warm-up, at most
REFERENCE_METHOD = "hmc"  # the predictive every other method is held against
SAMPLES_AFTER_WARMUP = Setting(
    "samples_after_warmup", int, 500, 10, MAX_SAMPLES_AFTER_WARMUP, "Samples after warm-up",
    help="A sampler (HMC) runs its warm-up, then keeps this many draws", step=100)
TEMPERATURE = Setting(
    "temperature", float, 1.0, 0.1, 10.0, "Temperature T (HMC and VI)", step=0.1, format="%.2f",
    help="HMC samples p(θ|D)^(1/T) (its log density divided by T); VI weighs its KL by T·β, "
         "which tempers the likelihood alone. T < 1 is a cold (sharper) posterior, T > 1 a warm "
         "(flatter) one; 1 is Bayes (Wenzel et al. 2020; Izmailov et al. 2021). MAP, dropout "
         "and the ensemble ignore it.")


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
    standardised; `gap` is the set's registered empty box (`toy.gap_box`), None for a set
    without one."""
    if dataset not in COMPARE_DATASETS:
        raise ConfigError(f"dataset must be one of {', '.join(COMPARE_DATASETS)}; got {dataset!r}")
    x, y = toy.make(dataset, num_points, noise, seed, num_classes)
    data = toy.prepare(x, y, test_fraction, seed)
    gap = toy.gap_box(dataset, data.mean, data.scale)
    return CompareData(data.x_train, data.y_train, data.x_test, data.y_test, gap)


@dataclasses.dataclass(frozen=True)
class CompareSettings:
    """What the learner chose; validated on creation (bounds from the settings)."""

    methods: tuple[str, ...] = ("map", "vi", "dropout", "ensemble", "hmc")
    dataset: str = GAP_DATASET
    base: TrainConfig = TrainConfig(
        num_points=160, noise=0.1, hidden=(16, 16), prior_std=2.0, lr=0.01, steps=1_500,
        steps_per_chunk=100, num_samples=4, kl_weight=1.0, dropout_rate=0.1, ensemble_size=5,
        hmc_warmup=300, hmc_max_doublings=6)
    # a sampler (a method with a `Warmup`) runs its warm-up plus this many draws
    samples_after_warmup: int = 500
    # Posterior temperature T (Wenzel et al. 2020; Izmailov et al. 2021 for the counterpoint),
    # given to every method that takes one (`MethodSpec.temper`: HMC samples p(θ|D)^{1/T}, VI
    # weighs its KL by T); the others are not Bayesian posteriors and ignore it. T = 1 is the
    # untempered comparison, setting for setting.
    temperature: float = 1.0

    def __post_init__(self) -> None:
        methods = tuple(dict.fromkeys(self.methods))
        if not methods:
            raise ConfigError("choose at least one method")
        unknown = [m for m in methods if m not in registry.METHODS]
        if unknown:
            raise ConfigError(f"unknown method {unknown[0]!r}; choose from "
                              f"{', '.join(registry.METHODS)}")
        object.__setattr__(self, "methods", methods)
        if self.dataset not in COMPARE_DATASETS:
            raise ConfigError(f"dataset must be one of {', '.join(COMPARE_DATASETS)}")
        try:
            toy.check_num_classes(self.dataset, self.base.num_classes)
        except DataError as err:
            raise ConfigError(str(err)) from None
        object.__setattr__(self, "samples_after_warmup",
                           SAMPLES_AFTER_WARMUP.check(self.samples_after_warmup))
        t = TEMPERATURE.check(self.temperature)
        object.__setattr__(self, "temperature", float(t))
        for method in methods:  # each method's own configuration must hold (e.g. β × T ≤ 10)
            try:
                self.method_config(method)
            except ConfigError as err:
                raise ConfigError(f"{registry.method_label(method)} at temperature {t:g}: "
                                  f"{err}") from None

    def method_config(self, method: str) -> TrainConfig:
        """The `TrainConfig` one method trains with: the base settings, tempered by the
        method's own rule (`MethodSpec.temper`); a sampler (`MethodSpec.warmup`) counts
        transitions, its warm-up plus `samples_after_warmup`, and takes its own chunks."""
        spec = registry.method(method)
        cfg = self.base.replace(method=method, dataset=self.dataset)
        if spec.temper is not None:
            cfg = spec.temper.apply(cfg, self.temperature)
        if spec.warmup is not None:
            warmup = getattr(cfg, spec.warmup.setting)
            if warmup + self.samples_after_warmup > limits.MAX_STEPS:
                raise ConfigError(f"warm-up plus samples must be at most {limits.MAX_STEPS:,}")
            cfg = cfg.replace(steps=warmup + self.samples_after_warmup,
                              steps_per_chunk=spec.warmup.steps_per_chunk)
        return cfg


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
    says_dont_know: bool  # the one verdict (`core.verdict`) says it knows where it has no data
    # mean total-variation distance ½ Σ_k |p̄_k − p̄_HMC,k| over the grid (two classes:
    # |P(y=1) − P_HMC(y=1)|); NaN without a ready HMC
    diff_from_hmc: float
    diff_from_hmc_gap: float  # the same over the gap's grid cells
    grid: predict.Predictive  # float32[ny, nx] each (K classes: mean = max_k p̄_k)
    class_probs: np.ndarray | None = None  # K > 2 classes: mean p̄_k, float32[K, ny, nx]
    # mean epistemic uncertainty (nats) near / far and the Monte Carlo errors of the means
    epistemic_near: float = math.nan
    epistemic_far: float = math.nan
    epistemic_near_se: float = math.nan
    epistemic_far_se: float = math.nan
    chance: float = 0.5  # accuracy of always guessing the largest class


class Report(NamedTuple):
    xs: np.ndarray  # float32[nx]
    ys: np.ndarray  # float32[ny]
    rows: dict[str, MethodReport]
    hmc_ready: bool
    lesson: list[str]


class Comparison:
    """Every chosen method on the same data; one per session."""

    def __init__(self, settings: CompareSettings, data: CompareData | None = None,
                 slots: scheduler.Slots | None = None) -> None:
        self.settings = settings
        base = settings.base
        self.data = data or build_data(settings.dataset, base.num_points, base.noise,
                                       base.test_fraction, base.seed, base.num_classes)
        self.runs = {m: Run(settings.method_config(m), self.data) for m in settings.methods}
        # One set of far probes (`predict.far_probe_points`), shared by every method's metrics.
        self.far_points = predict.far_probe_points(self.data.x_train)
        for run in self.runs.values():
            run.share_far_points(self.far_points)
        self._turn = 0
        self._latest: Latest[Report] = Latest(slots)  # the page's report, computed in a slot

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
        A `live.trainer.Trainer` calls it once per slot, so no slot is held for all methods."""
        pending = [m for m, run in self.runs.items() if not run.finished]
        if not pending:
            return 0
        method = pending[self._turn % len(pending)]
        self._turn += 1
        return self.runs[method].advance(max_steps)

    def progress(self, method: str) -> Progress | None:
        """How far `method` has come in its own terms (HMC: warm-up, then draws), or None for a
        method that has no such account (`MethodSpec.progress`)."""
        run = self.runs[method]
        report = run.spec.progress
        return None if report is None else report(run.cfg, run.snapshot.state)

    def unit(self, method: str) -> str:
        """What one of `method`'s steps is called ("steps", or a sampler's "transitions")."""
        warmup = registry.method(method).warmup
        return "steps" if warmup is None else warmup.unit

    def _draws_kept(self, method: str, snap: Snapshot) -> int:
        """Draws a sampler has kept after its warm-up (every transition after it keeps one)."""
        run = self.runs[method]
        warmup = run.spec.warmup
        return snap.step if warmup is None else max(0, snap.step
                                                    - getattr(run.cfg, warmup.setting))

    def hmc_ready(self) -> bool:
        run = self.runs.get(REFERENCE_METHOD)
        return run is not None and self._draws_kept(REFERENCE_METHOD,
                                                    run.snapshot) >= MIN_HMC_DRAWS

    def map_grid(self, grid_size: int) -> int:
        """The shared grid the maps are drawn at: `grid_size` (within the limits), or the finest
        coarser one whose maps, every method's together, stay within the frame budget
        (`cost.affordable_grid`)."""
        grid_size = int(np.clip(grid_size, limits.MIN_GRID, limits.MAX_COMPARE_GRID))
        draws = sum(run.engine.static.num_draws(predict.MAP_SAMPLES)
                    for run in self.runs.values())
        cfg = next(iter(self.runs.values())).cfg  # one architecture for every method
        return cost.affordable_grid(cfg, grid_size, draws)

    def latest_report(self, grid_size: int, zoom: float, wait_s: float,
                      while_waiting: Callable[[], None] | None = None) -> Report | None:
        """`report` of the current snapshots, computed in a slot of the server-wide pool on a
        worker thread (`live.latest`), never on the caller's: within `wait_s` s, else the last
        one computed (None before the first; `report_error` says why if it failed). The first
        report is waited for longer (`FIRST_REPORT_WAIT_S`): there is nothing else to show.
        `while_waiting()` is called during the wait (the page keeps its trainer alive)."""
        if self._latest.value is None:
            wait_s = max(wait_s, FIRST_REPORT_WAIT_S)
        grid = self.map_grid(grid_size)
        key = (grid, float(zoom), tuple(run.snapshot.serial for run in self.runs.values()))
        return self._latest.get(key, lambda: self.report(grid, zoom), wait_s, while_waiting)

    @property
    def report_pending(self) -> bool:
        """A newer report is waiting for its slot or being computed."""
        return self._latest.pending

    @property
    def report_error(self) -> BaseException | None:
        """What the last report's computation raised (e.g. no slot in time), if it did."""
        return self._latest.error

    def report(self, grid_size: int = 50, zoom: float = 1.0) -> Report:
        """Metrics, maps and the lesson for every method on one shared grid (`map_grid`)."""
        grid_size = self.map_grid(grid_size)
        every = np.concatenate([self.data.x_train, self.data.x_test])
        xs, ys, grid = predict.make_grid(every, grid_size, margin=0.5, zoom=zoom)
        shape = (len(ys), len(xs))
        gap_mask = self._in_gap(grid)
        gap_points = self._gap_points()
        snaps = {m: run.snapshot for m, run in self.runs.items()}  # one state per method
        summaries = {m: run.class_summary(grid, predict.MAP_SAMPLES, snaps[m])
                     for m, run in self.runs.items()}
        on_grid = {m: pred for m, (pred, _) in summaries.items()}
        # every class's probability, float[K, n] (two classes: P(y=0), P(y=1))
        class_probs = {m: probs if probs is not None else np.stack([1 - pred.mean, pred.mean])
                       for m, (pred, probs) in summaries.items()}
        ready = REFERENCE_METHOD in snaps and self._draws_kept(
            REFERENCE_METHOD, snaps[REFERENCE_METHOD]) >= MIN_HMC_DRAWS
        reference = class_probs[REFERENCE_METHOD] if ready else None
        rows: dict[str, MethodReport] = {}
        for method, run in self.runs.items():
            snap = snaps[method]
            metrics = run.metrics(snap)  # `predict.evaluate`: the CLI's and the playground's
            far = metrics["entropy_far"]
            gap = (run.summary(gap_points, predict.MAP_SAMPLES, snap).total.mean()
                   if gap_points is not None else math.nan)
            diff = diff_gap = math.nan
            if reference is not None and method != REFERENCE_METHOD:
                distance = 0.5 * np.abs(class_probs[method] - reference).sum(axis=0)
                diff = float(np.mean(distance))
                if gap_mask is not None and gap_mask.any():
                    diff_gap = float(np.mean(distance[gap_mask]))
            said = verdict.judge_metrics(metrics, self.num_classes, chance=self.chance,
                                         trained=snap.step > 0)
            rows[method] = MethodReport(
                method=method, steps=snap.step, diverged=snap.diverged,
                finished=snap.diverged or snap.step >= run.cfg.steps,
                test_acc=metrics["test_acc"], test_nll=metrics["test_nll"],
                ece=metrics["ece"], entropy_near=metrics["entropy_near"], entropy_far=float(far),
                entropy_gap=float(gap), wall_s=run.train_seconds,
                steps_per_s=run.steps_per_second,
                says_dont_know=said.kind == verdict.KNOWS,
                diff_from_hmc=diff, diff_from_hmc_gap=diff_gap,
                grid=predict.Predictive(*(v.reshape(shape) for v in on_grid[method])),
                class_probs=(None if summaries[method][1] is None
                             else summaries[method][1].reshape(-1, *shape)),
                epistemic_near=metrics["epistemic_near"], epistemic_far=metrics["epistemic_far"],
                epistemic_near_se=metrics["epistemic_near_se"],
                epistemic_far_se=metrics["epistemic_far_se"], chance=self.chance,
            )
        return Report(xs, ys, rows, ready, lesson(rows, ready, self.data.gap is not None,
                                                  self.num_classes, self.settings.temperature))

    @property
    def num_classes(self) -> int:
        """K of the shared data (2: binary)."""
        return toy.num_classes_of(self.data.y_train)

    @property
    def chance(self) -> float:
        """The accuracy of always guessing the training data's largest class."""
        return verdict.chance_accuracy(self.num_classes, self.data.y_train)

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


ACC_TOLERANCE = 0.05  # a method this far below the best test accuracy is said to fit less well


class Verdict(NamedTuple):
    """How one method's uncertainty reads: the one verdict (`core.verdict`), or "diverged"."""

    kind: str  # one of `verdict.KINDS`, or "diverged"
    sentence: str


def method_verdict(row: MethodReport, best_acc: float, num_classes: int = 2) -> Verdict:
    """One method's verdict by the rule every page and the CLI use (`core.verdict.judge`, on
    epistemic uncertainty near and far, with accuracy against chance), in a sentence that
    names the method; a method well below the best accuracy is told so as well."""
    name = registry.method_label(row.method)
    if row.diverged or not math.isfinite(row.test_acc):
        return Verdict("diverged", f"{name} diverged; its numbers mean nothing.")
    said = verdict.judge(row.epistemic_near, row.epistemic_far, row.test_acc, num_classes,
                         chance=row.chance, trained=row.steps > 0)
    sentence = f"{name}: {said.headline.lower()}. {said.sentence}"
    if said.kind != verdict.NOT_LEARNT and row.test_acc < best_acc - ACC_TOLERANCE:
        sentence += (f" Its test accuracy, {text.fmt(row.test_acc, 3)}, is below the best "
                     f"{text.fmt(best_acc, 3)}: train longer or loosen it (for VI a smaller β).")
    return Verdict(said.kind, sentence)


def lesson(rows: dict[str, MethodReport], hmc_ready: bool, has_gap: bool,
           num_classes: int = 2, temperature: float = 1.0) -> list[str]:
    """The comparison's conclusions as sentences, every number computed from `rows` (entropy
    scales with K: its maximum is ln K)."""
    fitted = [r.test_acc for r in rows.values() if not r.diverged and math.isfinite(r.test_acc)]
    best_acc = max(fitted, default=math.nan)
    out = [f"Far means ≥ 2 standardised units from every training point; near means the "
           f"held-out test points. \"I don't know\" is read from the epistemic uncertainty "
           f"(how much the posterior's networks disagree, in nats; maximum ln {num_classes} = "
           f"{math.log(num_classes):.2f}), not the total entropy, which also holds the noise a "
           f"model sees in the data: a method knows where it has no data when its epistemic "
           f"uncertainty far away is at least {verdict.FAR_DOUBT:g} × ln {num_classes} and "
           f"{verdict.RATIO:g} times that near, and it has learnt the data (accuracy at least "
           f"a third of the way from chance to 1)."]
    order = {verdict.KNOWS: 0, verdict.CONFIDENT: 1, verdict.UNSURE: 2,
             verdict.NOT_LEARNT: 3, "diverged": 4}
    kinds = {m: method_verdict(r, best_acc, num_classes) for m, r in rows.items()}
    out.extend(v.sentence for v in sorted(kinds.values(), key=lambda v: order[v.kind]))
    if has_gap:
        gap_rows = sorted(rows.items(), key=lambda kv: -kv[1].entropy_gap)
        out.append("In the gap between the clusters (in-between uncertainty, Foong et al. "
                   "2019), mean entropy: " + ", ".join(
                       f"{registry.method_label(m)} {text.fmt(r.entropy_gap, 2)}"
                       + (" (has not learnt the data)" if kinds[m].kind == verdict.NOT_LEARNT
                          else "")
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
    """What the temperature did, with the far-from-data entropies of the tempered methods
    (those with a `MethodSpec.temper`)."""
    kind = "cold (sharper than Bayes)" if temperature < 1.0 else "warm (flatter than Bayes)"
    specs = {m: registry.method(m) for m in rows}
    tempered = [m for m, spec in specs.items() if spec.temper is not None]
    ignored = [spec.label for spec in specs.values() if spec.temper is None]
    says = " and ".join(f"{specs[m].label} {specs[m].temper.says}" for m in tempered)
    far = ", ".join(f"{specs[m].label} {text.fmt(rows[m].entropy_far, 2)}" for m in tempered)
    return (f"Posterior temperature T = {temperature:g}, {kind}: "
            f"{says or 'no method chosen takes it'}. Far-from-data entropy of the tempered "
            f"methods: {far or 'none chosen'} (train again at T = 1 to compare). Wenzel et al. "
            f"2020 found cold posteriors (T < 1) predicting better in deep networks; Izmailov et "
            f"al. 2021 found HMC at T = 1 needs no cooling on clean data."
            + (f" {', '.join(ignored)} ignore T." if ignored else ""))


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
    num_classes = toy.num_classes_of(data.y_train)
    vmax = float(np.log(num_classes))
    maps = []
    for method, row in report.rows.items():
        if row.class_probs is None:
            fields = [np.asarray(row.grid.mean)]
        else:
            k = row.class_probs.shape[0]
            fields = [f.reshape(row.grid.mean.shape) for f in contour.boundary_fields(
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


def temperature_from_link(params: dict[str, str]) -> tuple[float | None, str | None]:
    """The posterior temperature a link asks for (`?temperature=0.5`): `(T or None, notice)`;
    a bad value is ignored and an out-of-range one clamped, each with a notice, as every
    setting in a link (`Setting.parse`)."""
    raw = params.get(TEMPERATURE.name)
    if raw is None:
        return None, None
    value, notice = TEMPERATURE.parse(raw)
    return value, notice
