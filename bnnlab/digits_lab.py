"""Chapter 5, the talk's own example: a Bayesian MLP with a categorical (softmax) likelihood on
the 8×8 handwritten digits, asked about letters, noise and the learner's own drawing.

Pure library (no streamlit): the data as the network sees it (pixels / 16), the recipes the page
and the CLI train, a trainer that runs the engine's chunks on a background thread through the
server-wide `scheduler.ACCELERATOR`, the analysis of one image (per-class probability with its
spread over posterior draws, the uncertainty split and a verdict), and the evidence (AUROC of
OOD detection by each score, letters and noise apart; the accuracy-vs-rejection curve; the
uncertainty histograms and a gallery sorted by uncertainty).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from bnnlab import config, datasets, engine, ood_metrics, predict, registry, runtime, scheduler
from bnnlab.config import TrainConfig
from bnnlab.data import ood
from bnnlab.data.digits import MAX_VALUE, NUM_CLASSES, DataError, load_digits, split_digits

__all__ = ["DataError"]

DIGITS_SCALE = float(MAX_VALUE)  # inputs are pixels / 16, in [0, 1], everywhere
EVAL_SAMPLES = predict.EVAL_SAMPLES  # posterior draws behind every number shown
SPREAD_QUANTILES = (0.1, 0.9)  # the interval drawn around each class's mean probability
DEFAULT_THRESHOLD = 0.9  # "it's a 7" when the mean probability of the top class reaches this
OOD_SCORED = ("letters", "noise")  # kinds with their own AUROC (the contract's two)
GALLERY_SIZE = 8
HISTOGRAM_BINS = 30
CHUNK_WAIT_S = 60.0  # a trainer waits this long for an accelerator slot per chunk


# ------------------------------------------------------------------ recipes


class Recipe(NamedTuple):
    """One way to train the digits: a label and the `TrainConfig` fields it sets."""

    label: str
    description: str
    settings: Mapping[str, Any]


# Shared by every recipe: one hidden layer of 64 (the talk's MLP is 64-64-64; one layer trains
# ≥ 95% in seconds on 2 cores), Adam at 0.01, a N(0, 1) prior, 600 full-batch steps.
COMMON: dict[str, Any] = dict(dataset="digits", hidden=(64,), lr=1e-2, prior_std=1.0,
                              steps=600, steps_per_chunk=50, test_fraction=0.25)
RECIPES: dict[str, Recipe] = {
    "vi_talk": Recipe(
        "VI, the talk's recipe (β = 0.001)",
        "mean-field VI with the KL weighted by β = 0.001 and a small initial σ = 0.03",
        dict(method="vi", kl_weight=1e-3, init_std=0.03, num_samples=2)),
    "vi_full": Recipe(
        "VI, full Bayes (β = 1)",
        "the same, with the whole KL: the ELBO of Bayes by Backprop",
        dict(method="vi", kl_weight=1.0, init_std=0.03, num_samples=2)),
    "map": Recipe(
        "MAP", "one network, the N(0, 1) prior as an L2 penalty: no posterior spread",
        dict(method="map", kl_weight=1.0)),
    "ensemble": Recipe(
        "Deep ensemble (5)", "five MAP networks from different initialisations",
        dict(method="ensemble", kl_weight=1.0, ensemble_size=5)),
}
BASELINE = "map"  # trained alongside any other recipe, so MAP's answer is always beside it


def recipe_config(name: str, seed: int = 0, **overrides: Any) -> TrainConfig:
    """The validated `TrainConfig` of recipe `name` (KeyError naming the choices otherwise)."""
    if name not in RECIPES:
        raise KeyError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
    return TrainConfig(**{**COMMON, **RECIPES[name].settings, "seed": seed, **overrides})


# ------------------------------------------------------------------ data


def scale(images: np.ndarray) -> np.ndarray:
    """Pixels 0..16, float[n, 64] or [64] -> the network's input, float32 in [0, 1]."""
    return (np.asarray(images, np.float32) / DIGITS_SCALE).reshape(-1, 64)


@functools.lru_cache(maxsize=4)
def load_split(test_fraction: float = 0.25, seed: int = 0) -> datasets.Dataset:
    """The digits split (stratified, seeded) as a `datasets.Dataset` of scaled inputs
    float32[n, 64] in [0, 1]: raw = x · scale + mean, with mean 0 and scale 16. Raises
    `DataError` if the shipped data is missing."""
    x, y = load_digits()
    train_idx, test_idx = split_digits(y, test_fraction, seed)
    return datasets.Dataset(scale(x[train_idx]), y[train_idx].astype(np.int32),
                            scale(x[test_idx]), y[test_idx].astype(np.int32),
                            np.zeros(64, np.float32), np.full(64, DIGITS_SCALE, np.float32))


@functools.lru_cache(maxsize=2)
def ood_set(seed: int = 0, test_fraction: float = 0.25) -> dict[str, np.ndarray]:
    """`data.ood.make_ood_set`, scaled like the digits: kind -> float32[n, 64] in [0, 1]."""
    return {kind: scale(x) for kind, x in ood.make_ood_set(seed, test_fraction).items()}


# ------------------------------------------------------------------ predictions


def sample_probs(run: engine.RunStart | Any, state: engine.TrainState, x: np.ndarray,
                 rng_key: jax.Array | None = None,
                 num_samples: int = EVAL_SAMPLES) -> np.ndarray:
    """Class probabilities per posterior draw: float32[S, n, 10] for scaled `x: float[n, 64]`
    (S = `num_samples`; MAP 1, an ensemble its members). The draws come from `rng_key`
    (default fixed), so two calls on one state agree."""
    eng = run.engine if hasattr(run, "engine") else run
    key = jax.random.key(1234) if rng_key is None else rng_key
    return np.asarray(eng.sample_probs(key, state, np.asarray(x, np.float32).reshape(-1, 64),
                                       num_samples=num_samples))


class ClassBars(NamedTuple):
    """One image's predictive, per class: float64[10] each."""

    mean: np.ndarray  # mean probability over posterior draws
    low: np.ndarray  # SPREAD_QUANTILES[0] quantile over draws
    high: np.ndarray  # SPREAD_QUANTILES[1] quantile over draws


class Analysis(NamedTuple):
    """What the page shows for one image."""

    image: np.ndarray  # float32[8, 8], 0..16: the image as the network sees it (before /16)
    bars: ClassBars
    total: float  # predictive entropy (nats)
    aleatoric: float  # expected entropy (nats)
    epistemic: float  # mutual information (nats)
    top_class: int
    top_prob: float
    verdict: str  # "It's a 7." or "I don't know." or what is wrong with the input
    confident: bool
    note: str  # "" or why the input is unusual (empty, saturated)


def input_note(image: np.ndarray) -> str:
    """Why `image` (0..16) is not a digit-like input, or "": empty, or ink everywhere."""
    image = np.asarray(image, np.float64)
    if not np.all(np.isfinite(image)) or image.max(initial=0.0) <= 0:
        return "empty"
    if image.min() >= 0.9 * MAX_VALUE:
        return "saturated"
    return ""


def drawing_input(image: np.ndarray, normalized: np.ndarray) -> tuple[np.ndarray, str]:
    """What the page analyses of a drawing (both float[64], 0..16: as drawn, and size-normalised
    like the digits) and its caption. A canvas inked (almost) everywhere is analysed as drawn:
    size-normalising would shrink it to a block of ink and hide that it is saturated."""
    if input_note(image) == "saturated":
        return (np.asarray(image, np.float32).reshape(64),
                "your drawing: ink everywhere (not size-normalised)")
    return (np.asarray(normalized, np.float32).reshape(64),
            "your drawing (size-normalised like the digits)")


def analyse(probs: np.ndarray, image: np.ndarray,
            threshold: float = DEFAULT_THRESHOLD) -> Analysis:
    """`probs: float[S, 1, 10]` (or [S, 10]) for one image (0..16, float[64]) -> `Analysis`.
    The verdict names the top class when its mean probability reaches `threshold`, else says
    "I don't know"; an empty canvas gets its own verdict (there is nothing to classify)."""
    image = np.nan_to_num(np.asarray(image, np.float32).reshape(8, 8))
    probs = np.asarray(probs, np.float64).reshape(-1, NUM_CLASSES)
    mean, total, aleatoric, epistemic = predict.categorical_split(probs[:, None, :])
    mean = mean[0]
    low, high = np.quantile(probs, SPREAD_QUANTILES, axis=0)
    top = int(np.argmax(mean))
    note = input_note(image)
    confident = bool(mean[top] >= threshold)
    if note == "empty":
        verdict, confident = "Nothing drawn yet: draw a digit (or a letter) on the canvas.", False
    elif confident:
        verdict = f"It's a {top}."
    else:
        verdict = "I don't know."
    return Analysis(image, ClassBars(mean, low, high), float(total[0]), float(aleatoric[0]),
                    float(epistemic[0]), top, float(mean[top]), verdict, confident, note)


# ------------------------------------------------------------------ the evidence


class ScoreRow(NamedTuple):
    """One OOD score of one model: AUROC on letters and on noise (digits as negatives)."""

    model: str  # recipe name, or "nearest" for the model-free baseline
    score: str  # "max probability", "predictive entropy", "mutual information", "distance"
    auroc_letters: float
    auroc_noise: float


class Evidence(NamedTuple):
    """The measured evidence for one trained model (`evidence`)."""

    test_acc: float
    test_nll: float
    ece: float
    scores: list[ScoreRow]
    # uncertainty (predictive entropy, nats) per set: "digits" (test), and each OOD kind
    entropy: dict[str, np.ndarray]
    mutual_information: dict[str, np.ndarray]
    max_prob: dict[str, np.ndarray]
    selective: ood_metrics.SelectiveCurve  # on the test digits, rejecting by entropy
    confident_letters: float  # share of letters with a top-class probability ≥ 0.9


def score_rows(model: str, method: str, scores: dict[str, ood_metrics.Uncertainty]
               ) -> list[ScoreRow]:
    """AUROC rows for one model: MAP's max probability and entropy; the posterior methods'
    predictive entropy and mutual information (MAP's MI is 0 everywhere: left out)."""
    kinds = {"max probability": lambda u: 1.0 - u.max_prob,
             "predictive entropy": lambda u: u.total}
    if method != "map":
        kinds["mutual information"] = lambda u: u.epistemic
    rows = []
    for name, fn in kinds.items():
        inside = fn(scores["digits"])
        rows.append(ScoreRow(model, name, *(ood_metrics.auroc(inside, fn(scores[k]))
                                            for k in OOD_SCORED)))
    return rows


def evidence(run, state, cfg: TrainConfig, name: str) -> Evidence:
    """Predict the test digits and every OOD kind with `EVAL_SAMPLES` draws and measure."""
    data = load_split(cfg.test_fraction, cfg.seed)
    images = {"digits": data.x_test, **ood_set(cfg.seed, cfg.test_fraction)}
    sizes = np.cumsum([len(v) for v in images.values()])
    probs = sample_probs(run, state, np.concatenate(list(images.values())))
    parts = np.split(probs, sizes[:-1], axis=1)
    scores = {k: ood_metrics.uncertainty_scores(p) for k, p in zip(images, parts, strict=True)}
    metrics = predict.categorical_metrics(parts[0], data.y_test)
    correct = scores["digits"].mean_prob.argmax(axis=1) == data.y_test
    return Evidence(
        metrics.test_acc, metrics.test_nll, metrics.ece,
        score_rows(name, cfg.method, scores),
        {k: u.total for k, u in scores.items()},
        {k: u.epistemic for k, u in scores.items()},
        {k: u.max_prob for k, u in scores.items()},
        ood_metrics.selective_accuracy(scores["digits"].total, correct),
        float(np.mean(scores["letters"].max_prob >= 0.9)))


@functools.lru_cache(maxsize=2)
def nearest_rows(seed: int = 0, test_fraction: float = 0.25) -> ScoreRow:
    """The model-free baseline: distance to the nearest training digit as the OOD score."""
    data = load_split(test_fraction, seed)
    images = ood_set(seed, test_fraction)
    inside = ood_metrics.nearest_distance(data.x_test, data.x_train)
    return ScoreRow("nearest", "distance to nearest training digit",
                    *(ood_metrics.auroc(inside, ood_metrics.nearest_distance(
                        images[k], data.x_train)) for k in OOD_SCORED))


def gallery(ev: Evidence, images: dict[str, np.ndarray], size: int = GALLERY_SIZE
            ) -> tuple[list[tuple[str, int, float]], list[tuple[str, int, float]]]:
    """The `size` most and least certain images over test digits, letters and noise, by
    predictive entropy: two lists of (kind, index, entropy), most certain first / most
    uncertain first."""
    pool = [(kind, i, float(h)) for kind in ("digits", *OOD_SCORED)
            for i, h in enumerate(ev.entropy[kind]) if kind in images]
    pool.sort(key=lambda t: t[2])
    return pool[:size], pool[::-1][:size]


def histogram(values: dict[str, np.ndarray], kinds=("digits", *OOD_SCORED),
              bins: int = HISTOGRAM_BINS) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Shared bin edges float64[bins + 1] over [0, ln 10] and each kind's share per bin."""
    edges = np.linspace(0.0, np.log(NUM_CLASSES), bins + 1)
    return edges, {k: np.histogram(np.clip(values[k], 0, edges[-1]), edges)[0] / len(values[k])
                   for k in kinds}


# ------------------------------------------------------------------ live training


class Snapshot(NamedTuple):
    """What a trainer has published (immutable): the page reads only this."""

    status: str  # "idle", "waiting", "training", "paused", "done", "error"
    step: int
    steps: int
    history: np.ndarray  # float32[3, step]: ELBO (objective), expected log-lik, KL (regulariser)
    state: Any  # engine.TrainState, or None before the first chunk
    message: str  # an error or waiting message, else ""
    train_s: float


class Trainer:
    """One recipe trained in chunks on a daemon thread; each chunk holds a slot of
    `scheduler.ACCELERATOR`. `start`, `pause` and `snapshot` are safe from any thread; the
    thread ends at `cfg.steps`, on `pause` (after its current chunk) or on an error."""

    def __init__(self, cfg: TrainConfig, slots: scheduler.Slots | None = None) -> None:
        self.cfg = cfg
        self.slots = slots or scheduler.ACCELERATOR
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._run: engine.RunStart | None = None
        self._snap = Snapshot("idle", 0, cfg.steps, np.zeros((3, 0), np.float32), None, "", 0.0)

    @property
    def run(self) -> engine.RunStart | None:
        return self._run

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snap

    def _publish(self, **changes: Any) -> None:
        with self._lock:
            self._snap = self._snap._replace(**changes)

    def start(self) -> None:
        """Start (or resume) training on a background thread; no-op while running or done."""
        with self._lock:
            if (self._thread is not None and self._thread.is_alive()) or \
                    self._snap.status == "done":
                return
            self._stop.clear()
            self._snap = self._snap._replace(status="waiting", message="")
            self._thread = threading.Thread(target=self._loop, daemon=True,
                                            name="bnnlab-digits-trainer")
            self._thread.start()

    def pause(self) -> None:
        self._stop.set()

    def wait(self, timeout: float) -> bool:
        """Block until the thread has ended (True) or `timeout` s passed (False); for tests."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def _loop(self) -> None:
        try:
            data = load_split(self.cfg.test_fraction, self.cfg.seed)
            while not self._stop.is_set():
                snap = self.snapshot()
                if snap.step >= self.cfg.steps:
                    self._publish(status="done")
                    return
                with self.slots.hold(CHUNK_WAIT_S):
                    self._publish(status="training")
                    if self._run is None:
                        self._run = engine.start_run(self.cfg, data.x_train, data.y_train)
                    state = snap.state if snap.state is not None else self._run.state
                    chunk = engine.advance(self._run.engine, state, self._run.batch,
                                           self._run.hyper, self.cfg.steps - snap.step)
                self._publish(state=chunk.state, step=chunk.step,
                              history=np.concatenate([snap.history, chunk.trace], axis=1),
                              train_s=snap.train_s + chunk.seconds)
                if chunk.diverged:
                    self._publish(status="error", message="Training diverged (a step gave "
                                  "NaN or infinity); the last finite state is kept.")
                    return
            self._publish(status="paused")
        except (scheduler.SlotTimeout, config.ConfigError, DataError) as err:
            self._publish(status="error", message=str(err))
        except Exception as err:  # noqa: BLE001 - shown as a message, never a traceback
            self._publish(status="error", message=f"Training stopped: {type(err).__name__}: "
                                                  f"{err}")
        finally:
            snap = self.snapshot()
            if snap.status in ("waiting", "training"):
                self._publish(status="done" if snap.step >= self.cfg.steps else "paused")


# ------------------------------------------------------------------ the CLI's report


def fit(cfg: TrainConfig) -> tuple[engine.RunResult, datasets.Dataset]:
    """Train `cfg` on the digits in the caller's thread (the CLI and the benchmark)."""
    data = load_split(cfg.test_fraction, cfg.seed)
    return engine.fit(cfg, data.x_train, data.y_train), data


def run_report(cfg: TrainConfig, out: str | None = None) -> dict:
    """Train and evaluate on the digits; the CLI's contract dict (DESIGN.md §4): test
    accuracy, NLL, ECE, `num_classes`, and `ood_auroc` by predictive entropy (digits against
    letters and noise together), with `ood_auroc_letters`, `ood_auroc_noise` apart.
    `entropy_near` is the mean predictive entropy on the test digits, `entropy_far` on the
    letters and noise."""
    data = load_split(cfg.test_fraction, cfg.seed)
    cfg, _ = config.check_cost(cfg, len(data.x_train))
    result = engine.fit(cfg, data.x_train, data.y_train)
    state, history = result.state, result.history
    images = ood_set(cfg.seed, cfg.test_fraction)
    x_all = np.concatenate([data.x_train, data.x_test, images["letters"], images["noise"]])
    probs = sample_probs(result.engine, state, x_all, jax.random.key(cfg.seed + 10_000))
    ends = np.cumsum([len(data.x_train), len(data.x_test), len(images["letters"])])
    train_p, test_p, letters_p, noise_p = np.split(probs, ends, axis=1)
    test = predict.categorical_metrics(test_p, data.y_test)
    train = predict.categorical_metrics(train_p, data.y_train)
    u_test, u_let, u_noise = (ood_metrics.uncertainty_scores(p) for p in (test_p, letters_p,
                                                                           noise_p))
    steps_done = int(state.step)
    timed = max(steps_done - result.engine.static.steps_per_chunk, 0)

    def last(values: np.ndarray) -> float | None:
        return float(values[-1]) if len(values) else None

    report = {
        "dataset": cfg.dataset, "method": cfg.method, "steps": steps_done,
        "elbo": last(history.objective),
        "expected_log_likelihood": last(history.log_likelihood),
        "kl": last(history.regulariser),
        "trace_labels": list(registry.method(cfg.method).trace_labels),
        "train_acc": train.test_acc, "test_acc": test.test_acc, "test_nll": test.test_nll,
        "ece": test.ece, "entropy_near": test.entropy_near,
        "entropy_far": float(np.mean(np.concatenate([u_let.total, u_noise.total]))),
        "num_classes": NUM_CLASSES,
        "ood_auroc": ood_metrics.auroc(u_test.total, np.concatenate([u_let.total,
                                                                    u_noise.total])),
        "ood_auroc_letters": ood_metrics.auroc(u_test.total, u_let.total),
        "ood_auroc_noise": ood_metrics.auroc(u_test.total, u_noise.total),
        "ood_auroc_mi_letters": ood_metrics.auroc(u_test.epistemic, u_let.epistemic),
        "ood_auroc_mi_noise": ood_metrics.auroc(u_test.epistemic, u_noise.epistemic),
        "letters_confident": float(np.mean(u_let.max_prob >= 0.9)),
        "steps_per_s": timed / result.train_s if result.train_s > 0 else None,
        "compile_s": result.compile_s, "device": runtime.device_label(),
        "diverged": bool(state.diverged), "num_params": result.engine.num_params,
        "steps_per_chunk": result.engine.static.steps_per_chunk,
        **dict(registry.method_options(cfg)),
        **registry.method(cfg.method).report(cfg, state),
    }
    if out:
        np.savez_compressed(
            out, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
            y_test=data.y_test, test_mean_prob=u_test.mean_prob, test_total=u_test.total,
            test_aleatoric=u_test.total - u_test.epistemic, test_epistemic=u_test.epistemic,
            history_elbo=history.objective,
            history_expected_log_likelihood=history.log_likelihood,
            history_kl=history.regulariser, report=json.dumps(report))
    return report


def time_to_accuracy(cfg: TrainConfig, target: float = 0.95,
                     max_seconds: float = 60.0) -> dict:
    """Train `cfg` from scratch, one chunk at a time, and measure the wall time (compile
    included) until the test accuracy of the mean predictive first reaches `target`
    (checked after every chunk with `EVAL_SAMPLES` draws; evaluation time excluded)."""
    data = load_split(cfg.test_fraction, cfg.seed)
    start = time.perf_counter()
    run = engine.start_run(cfg, data.x_train, data.y_train)
    state, train_s, eval_s, acc = run.state, 0.0, 0.0, 0.0
    while state is not None:
        chunk = engine.advance(run.engine, state, run.batch, run.hyper, cfg.steps)
        state = chunk.state
        tick = time.perf_counter()
        acc = predict.categorical_metrics(sample_probs(run, state, data.x_test),
                                          data.y_test).test_acc
        eval_s += time.perf_counter() - tick
        train_s = time.perf_counter() - start - eval_s
        if acc >= target or chunk.step >= cfg.steps or train_s > max_seconds or chunk.taken == 0:
            return {"seconds_to_target": train_s if acc >= target else None,
                    "test_acc": acc, "steps": chunk.step, "target": target}
    return {"seconds_to_target": None, "test_acc": acc, "steps": 0, "target": target}


def config_fields() -> tuple[str, ...]:
    """`TrainConfig` fields a digits link may set."""
    return tuple(f.name for f in dataclasses.fields(TrainConfig)
                 if f.name not in ("num_points", "noise", "grid_size", "dataset"))


# ------------------------------------------------------------------ one learner's lab


EXAMPLE_KINDS = ("digit", "letter", "noise", "blank", "saturated")


def example_image(kind: str, index: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """An example for the analysis panel, float32[64] in 0..16, and its caption: a test
    digit, a rendered letter, noise, a blank image, or ink everywhere (a saturated canvas).
    `index` picks one (modulo the set's size)."""
    if kind == "digit":
        data = load_split(0.25, seed)
        i = index % len(data.x_test)
        return data.x_test[i] * DIGITS_SCALE, f"test digit #{i} (label {data.y_test[i]})"
    if kind in ("letter", "noise"):
        images = ood_set(seed)["letters" if kind == "letter" else "noise"]
        i = index % len(images)
        return images[i] * DIGITS_SCALE, f"{kind} #{i} (never seen in training)"
    if kind == "blank":
        return np.zeros(64, np.float32), "a blank image"
    if kind == "saturated":
        return np.full(64, DIGITS_SCALE, np.float32), "ink everywhere (a saturated canvas)"
    raise KeyError(f"unknown example {kind!r}; choose from {', '.join(EXAMPLE_KINDS)}")


def _warm_ood_set() -> None:
    try:
        ood_set()
    except Exception:  # noqa: BLE001 - the page reports the error when it needs the set
        pass


class Lab:
    """A learner's trainers, one per recipe, and the evidence measured for each (cached per
    trained state). Held in the page's session state; all heavy work goes through
    `scheduler.ACCELERATOR` on worker threads."""

    def __init__(self, slots: scheduler.Slots | None = None) -> None:
        self.slots = slots or scheduler.ACCELERATOR
        self.trainers: dict[str, Trainer] = {}
        self._evidence: dict[tuple[str, int, TrainConfig], Evidence] = {}
        # The OOD set takes seconds to render once per process: start it now, off the page.
        threading.Thread(target=_warm_ood_set, daemon=True, name="bnnlab-ood-warm").start()

    def trainer(self, name: str, cfg: TrainConfig) -> Trainer:
        """The trainer of recipe `name`, replaced (and the old one paused) when `cfg` changed."""
        current = self.trainers.get(name)
        if current is None or current.cfg != cfg:
            if current is not None:
                current.pause()
            current = self.trainers[name] = Trainer(cfg, self.slots)
        return current

    def reset(self, name: str) -> None:
        trainer = self.trainers.pop(name, None)
        if trainer is not None:
            trainer.pause()

    def trained(self) -> dict[str, Trainer]:
        """Recipes with at least one chunk trained."""
        return {n: t for n, t in self.trainers.items() if t.snapshot().state is not None}

    def predict(self, name: str, images: np.ndarray, wait_s: float = 20.0) -> np.ndarray | None:
        """float32[S, n, 10] of recipe `name`'s current state for images 0..16 float[n, 64];
        None before its first chunk. Runs on an accelerator worker, not the caller's thread."""
        trainer = self.trainers.get(name)
        snap = trainer.snapshot() if trainer else None
        if snap is None or snap.state is None or trainer.run is None:
            return None
        future = self.slots.submit(sample_probs, trainer.run, snap.state, scale(images),
                                   wait_timeout=wait_s)
        return future.result(timeout=wait_s + 30)

    def evidence(self, name: str, wait_s: float = 60.0) -> Evidence | None:
        """`evidence` of recipe `name` at its current step (cached); None before training."""
        trainer = self.trainers.get(name)
        snap = trainer.snapshot() if trainer else None
        if snap is None or snap.state is None or trainer.run is None:
            return None
        key = (name, snap.step, trainer.cfg)
        if key not in self._evidence:
            future = self.slots.submit(evidence, trainer.run, snap.state, trainer.cfg, name,
                                       wait_timeout=wait_s)
            self._evidence[key] = future.result(timeout=wait_s + 120)
        return self._evidence[key]


# ------------------------------------------------------------------ σ against β, σ₀ and steps


SWEEP_KL_WEIGHTS = (1e-3, 1e-2, 1.0)
SWEEP_INIT_STDS = (1e-3, 0.03)
SWEEP_CHECKPOINTS = (600, 1000, 3000, 6000)
SWEEP_FILE = Path(__file__).resolve().parent / "data" / "digits_sigma_sweep.json"


class SweepRow(NamedTuple):
    """VI on the digits at one (β, σ₀) after `steps` steps: the learned σ and what it does."""

    kl_weight: float
    init_std: float
    steps: int
    sigma_median: float  # median over all weights and biases of the posterior std
    sigma_p90: float  # its 90th percentile
    test_acc: float
    test_nll: float
    auroc_letters: float  # by predictive entropy
    auroc_noise: float
    auroc_letters_mi: float  # by mutual information
    seconds: float  # training wall time up to this checkpoint (evaluation excluded)


def sigma_sweep(kl_weights: tuple[float, ...] = SWEEP_KL_WEIGHTS,
                init_stds: tuple[float, ...] = SWEEP_INIT_STDS,
                checkpoints: tuple[int, ...] = SWEEP_CHECKPOINTS, seed: int = 0,
                steps_per_chunk: int = 200,
                progress: Any = None) -> list[SweepRow]:
    """How VI's learned σ, and with it the OOD AUROC, moves with β, the initial σ₀ and the
    number of steps. One run per (β, σ₀) of the talk's recipe (everything else as
    `RECIPES["vi_talk"]`), measured at each checkpoint with `evidence` (`EVAL_SAMPLES` draws).
    β is traced (no recompile) and σ₀ an argument of `init`, so all runs share one engine.
    `progress(done, total)`, if given, is called after each checkpoint."""
    checkpoints = tuple(sorted(checkpoints))
    rows: list[SweepRow] = []
    total, done = len(kl_weights) * len(init_stds) * len(checkpoints), 0
    for kl_weight in kl_weights:
        for init_std in init_stds:
            cfg = recipe_config("vi_talk", seed, kl_weight=kl_weight, init_std=init_std,
                                steps=checkpoints[-1], steps_per_chunk=steps_per_chunk)
            data = load_split(cfg.test_fraction, cfg.seed)
            run = engine.start_run(cfg, data.x_train, data.y_train)
            state, train_s = run.state, 0.0
            for target in checkpoints:
                while int(state.step) < target:
                    chunk = engine.advance(run.engine, state, run.batch, run.hyper,
                                           target - int(state.step))
                    state, train_s = chunk.state, train_s + chunk.seconds
                    if chunk.diverged or chunk.taken == 0:
                        break
                sigma = np.asarray(jax.nn.softplus(state.method_state.rho))
                ev = evidence(run, state, cfg, "vi_talk")
                by = {r.score: r for r in ev.scores}
                rows.append(SweepRow(
                    kl_weight, init_std, int(state.step), float(np.median(sigma)),
                    float(np.quantile(sigma, 0.9)), ev.test_acc, ev.test_nll,
                    by["predictive entropy"].auroc_letters,
                    by["predictive entropy"].auroc_noise,
                    by["mutual information"].auroc_letters, train_s))
                done += 1
                if progress is not None:
                    progress(done, total)
    return rows


def load_sweep(path: Path | str = SWEEP_FILE) -> dict | None:
    """The precomputed sweep written by `docs/digits_sigma_sweep.py` (its command, device and
    rows as dicts of `SweepRow` fields), or None when the file is missing or unreadable."""
    try:
        with open(path) as fh:
            payload = json.load(fh)
        rows = [SweepRow(**row) for row in payload["rows"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {**payload, "rows": rows}
