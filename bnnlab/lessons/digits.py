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

import functools
import threading
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import numpy as np

from bnnlab import registry
from bnnlab.core import ood_metrics, predict
from bnnlab.core import verdict as verdict_lib
from bnnlab.core.errors import ConfigError
from bnnlab.data import ood, toy
from bnnlab.data.digits import MAX_VALUE, NUM_CLASSES, load_digits, split_digits
from bnnlab.training import cost, engine, links
from bnnlab.training.config import TrainConfig

DIGITS_SCALE = float(MAX_VALUE)  # inputs are pixels / 16, in [0, 1], everywhere
EVAL_SAMPLES = predict.EVAL_SAMPLES  # posterior draws behind every number shown
SPREAD_QUANTILES = (0.1, 0.9)  # the interval drawn around each class's mean probability
DEFAULT_THRESHOLD = 0.9  # "it's a 7" when the mean probability of the top class reaches this
OOD_SCORED = ("letters", "noise")  # kinds with their own AUROC (the contract's two)
GALLERY_SIZE = 8
HISTOGRAM_BINS = 30


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
def load_split(test_fraction: float = 0.25, seed: int = 0) -> toy.Dataset:
    """The digits split (stratified, seeded) as a `toy.Dataset` of scaled inputs
    float32[n, 64] in [0, 1]: raw = x · scale + mean, with mean 0 and scale 16. Raises
    `DataError` if the shipped data is missing."""
    x, y = load_digits()
    train_idx, test_idx = split_digits(y, test_fraction, seed)
    return toy.Dataset(scale(x[train_idx]), y[train_idx].astype(np.int32),
                            scale(x[test_idx]), y[test_idx].astype(np.int32),
                            np.zeros(64, np.float32), np.full(64, DIGITS_SCALE, np.float32))


_OOD_SETS: dict[tuple[int, float], dict[str, np.ndarray]] = {}
_OOD_LOCK = threading.Lock()  # one rendering at a time: a second caller waits for the first


def ood_set(seed: int = 0, test_fraction: float = 0.25) -> dict[str, np.ndarray]:
    """`data.ood.make_ood_set`, scaled like the digits: kind -> float32[n, 64] in [0, 1].
    Rendered once per process (seconds: 1,170 letters); a caller arriving while another renders
    it waits for that rendering instead of starting its own."""
    with _OOD_LOCK:
        key = (int(seed), float(test_fraction))
        if key not in _OOD_SETS:
            _OOD_SETS[key] = {kind: scale(x)
                              for kind, x in ood.make_ood_set(seed, test_fraction).items()}
        return _OOD_SETS[key]


def ood_ready(seed: int = 0, test_fraction: float = 0.25) -> bool:
    """Whether `ood_set(seed, test_fraction)` is rendered (a call returns at once)."""
    return (int(seed), float(test_fraction)) in _OOD_SETS


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


def article(number: int) -> str:
    """"an" before a number spoken with a vowel sound ("an 8", "an 11", "an 18", "an 80"),
    else "a"; the digits 0–9 need only "an 8"."""
    spoken = str(abs(int(number)))
    return "an" if spoken.startswith("8") or spoken in ("11", "18") else "a"


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
        verdict = f"It's {article(top)} {top}."
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


def uncertainty_means(probs: np.ndarray) -> dict[str, float]:
    """Mean predictive entropy and mean epistemic uncertainty (mutual information,
    `predict.categorical_split`) over the images of `probs: float[S, n, 10]`, in nats, each
    with its Monte Carlo standard error over the S posterior draws (`predict.jackknife_se`;
    0 for one network): keys `entropy`, `epistemic`, `entropy_se`, `epistemic_se`."""
    probs = np.asarray(probs, np.float64)

    def means(p: np.ndarray) -> np.ndarray:
        _, total, _, epistemic = predict.categorical_split(p)
        return np.array([np.mean(total), np.mean(epistemic)])

    (entropy, epistemic), (entropy_se, epistemic_se) = means(probs), predict.jackknife_se(
        probs, means)
    return {"entropy": float(entropy), "epistemic": float(epistemic),
            "entropy_se": float(entropy_se), "epistemic_se": float(epistemic_se)}


class Reading(NamedTuple):
    """The model-level verdict (`core.verdict.judge`): near = the test digits, far = `far`
    (the letters and the noise, or the letters alone), K = 10; with its inputs in nats and their
    Monte Carlo standard errors. Not the per-image answer ("It's a 7" / "I don't know")."""

    far: str  # what "far" is: "letters and noise" or "letters"
    verdict: verdict_lib.Verdict
    entropy_near: float
    entropy_far: float
    epistemic_near: float
    epistemic_far: float
    entropy_near_se: float
    entropy_far_se: float
    epistemic_near_se: float
    epistemic_far_se: float

    def fields(self, suffix: str = "") -> dict[str, Any]:
        """The CLI's JSON fields: `verdict` (the kind), `verdict_sentence` and the eight
        numbers, `suffix` added to each name (before `_se`: `epistemic_far_letters_se`)."""

        def named(field: str) -> str:
            return (field[:-3] + suffix + "_se") if field.endswith("_se") else field + suffix

        return {"verdict" + suffix: self.verdict.kind,
                "verdict_sentence" + suffix: f"{self.verdict.headline}. {self.verdict.sentence}",
                **{named(k): getattr(self, k) for k in self._fields[2:]}}


def read_model(probs_near: np.ndarray, probs_far: np.ndarray, accuracy: float, far: str,
               chance: float | None = None) -> Reading:
    """`Reading` of a model from its draws on the test digits and on the far images
    (`float[S, n, 10]` each) and its test accuracy; `chance` defaults to the share of the
    largest class among the training digits, as the CLI's verdict."""
    if chance is None:
        chance = verdict_lib.chance_accuracy(NUM_CLASSES, load_split().y_train)
    near, away = uncertainty_means(probs_near), uncertainty_means(probs_far)
    said = verdict_lib.judge(near["epistemic"], away["epistemic"], accuracy, NUM_CLASSES,
                             chance=chance)
    return Reading(far, said, near["entropy"], away["entropy"], near["epistemic"],
                   away["epistemic"], near["entropy_se"], away["entropy_se"],
                   near["epistemic_se"], away["epistemic_se"])


FAR_SETS = {"letters and noise": OOD_SCORED, "letters": ("letters",)}  # the verdict's "far"


def readings(parts: Mapping[str, np.ndarray], accuracy: float) -> dict[str, Reading]:
    """One `Reading` per entry of `FAR_SETS`, from the draws per kind (`parts["digits"]`, the
    test digits, and one entry per OOD kind: float[S, n, 10])."""
    return {far: read_model(parts["digits"], np.concatenate([parts[k] for k in kinds], axis=1),
                            accuracy, far)
            for far, kinds in FAR_SETS.items()}


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
    readings: dict[str, Reading]  # the model-level verdict, per `FAR_SETS` entry


def score_rows(model: str, cfg: TrainConfig, scores: dict[str, ood_metrics.Uncertainty]
               ) -> list[ScoreRow]:
    """AUROC rows for one model: the max probability and the predictive entropy, and, for a
    method with more than one posterior draw, the mutual information (one network's is 0
    everywhere: left out)."""
    kinds = {"max probability": lambda u: 1.0 - u.max_prob,
             "predictive entropy": lambda u: u.total}
    spec = registry.method(cfg.method)
    if spec.num_draws(spec.options(cfg), EVAL_SAMPLES) > 1:
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
        score_rows(name, cfg, scores),
        {k: u.total for k, u in scores.items()},
        {k: u.epistemic for k, u in scores.items()},
        {k: u.max_prob for k, u in scores.items()},
        ood_metrics.selective_accuracy(scores["digits"].total, correct),
        float(np.mean(scores["letters"].max_prob >= 0.9)),
        readings(dict(zip(images, parts, strict=True)), metrics.test_acc))


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


# The settings a chapter-5 link may carry beside `recipe` (`?recipe=vi_talk&steps=800`).
URL_FIELDS = ("steps", "seed", "lr", "kl_weight", "init_std", "prior_std", "num_samples")
DEFAULT_RECIPE = "vi_talk"


def recipe_from_link(params: Mapping[str, str], default: str = DEFAULT_RECIPE
                     ) -> tuple[str, TrainConfig, list[str]]:
    """The recipe and its settings from a link's query parameters, validated: `(name, cfg,
    notices)`. An unknown recipe falls back to the talk's; settings over the cost budget to the
    recipe's own, each with a notice."""
    params = dict(params)
    notices: list[str] = []
    name = params.pop("recipe", default)
    if name not in RECIPES:
        notices.append(f"Ignored recipe={str(name)[:30]!r}: choose from {', '.join(RECIPES)}.")
        name = DEFAULT_RECIPE
    base = recipe_config(name)
    known = {k: v for k, v in params.items() if k in URL_FIELDS}
    cfg, more = links.from_query_params(known, base=base, fields=URL_FIELDS,
                                        datasets=("digits",))
    try:
        cost.check_cost(cfg, len(load_split(cfg.test_fraction, cfg.seed).x_train))
    except ConfigError as err:
        notices.append(f"Settings from the link refused: {err}")
        cfg = base
    return name, cfg, notices + more


def recipe_link(name: str, cfg: TrainConfig) -> dict[str, str]:
    """The query parameters of recipe `name` with `cfg` (the inverse of `recipe_from_link`)."""
    return {"recipe": name, **links.to_query_params(cfg, URL_FIELDS)}


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
    if kind == "letter":
        images = ood_set(seed)["letters"]
        i = index % len(images)
        return (images[i] * DIGITS_SCALE,
                f"Letter: {ood.letter_names()[i]} (#{i}, never seen in training)")
    if kind == "noise":
        images = ood_set(seed)["noise"]
        i = index % len(images)
        return images[i] * DIGITS_SCALE, f"Noise #{i} (never seen in training)"
    if kind == "blank":
        return np.zeros(64, np.float32), "a blank image"
    if kind == "saturated":
        return np.full(64, DIGITS_SCALE, np.float32), "ink everywhere (a saturated canvas)"
    raise KeyError(f"unknown example {kind!r}; choose from {', '.join(EXAMPLE_KINDS)}")


def example_ready(kind: str, seed: int = 0) -> bool:
    """Whether `example_image(kind, …)` returns at once: letters and noise need the OOD set
    rendered (`ood_ready`), seconds the first time in a process."""
    return kind not in ("letter", "noise") or ood_ready(seed)


def wait_for_examples(timeout_s: float, seed: int = 0) -> bool:
    """Render the OOD set if no other thread is (else wait for it), up to `timeout_s`; whether
    it is ready. A page calls this under a status line instead of blocking silently."""
    done = threading.Event()

    def render() -> None:
        _warm_ood_set(seed)
        done.set()

    threading.Thread(target=render, daemon=True, name="bnnlab-ood-wait").start()
    done.wait(timeout_s)
    return ood_ready(seed)


def _warm_ood_set(seed: int = 0) -> None:
    try:
        ood_set(seed)
    except Exception:  # noqa: BLE001 - the page reports the error when it needs the set
        pass
