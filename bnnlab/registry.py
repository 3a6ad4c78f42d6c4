"""The one table of names: datasets, likelihoods, activations, uncertainty kinds, chapters and
inference methods. The CLI's argparse, the widgets' options and labels, the URL parser
(`config.from_query_params`), the Compare page and the engine's dispatch all read it, so a new
method, dataset or chapter is one file plus one line here (docs/ADDING_A_METHOD.md).

This module may import `config`; `config` reads the names from here lazily (import cycle).
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import NamedTuple

import jax
import jax.numpy as jnp

from bnnlab import datasets, dropout, ensemble, hmc, laplace, map_estimate, models, vi
from bnnlab.methods.base import Batch, MethodSpec

# ------------------------------------------------------------------ methods (one line each)

METHODS: MappingProxyType[str, MethodSpec] = MappingProxyType({spec.name: spec for spec in (
    vi.SPEC,
    map_estimate.SPEC,
    dropout.SPEC,
    ensemble.SPEC,
    hmc.SPEC,
    laplace.SPEC,
)})


def method(name: str) -> MethodSpec:
    """The spec of method `name` (KeyError naming the choices otherwise)."""
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; choose from {', '.join(METHODS)}") from None


def method_label(name: str) -> str:
    """The one text shown for a method, in every page, table and help text."""
    return method(name).label


def method_options(cfg) -> tuple[tuple[str, object], ...]:
    """The compiled-in settings of `cfg.method`, as (field, value) pairs (its `static_fields`)."""
    return tuple((field, getattr(cfg, field)) for field in method(cfg.method).static_fields)


def has_warmup(name: str) -> bool:
    """Whether method `name` adapts during a warm-up before it keeps draws (HMC/NUTS)."""
    return "hmc_warmup" in method(name).static_fields


def run_config(cfg, *, samples_after_warmup: int | None = None,
               steps_per_chunk: int | None = None):
    """The `TrainConfig` one method of a comparison trains with. A method with a warm-up
    (`static_fields` has `hmc_warmup`) counts warm-up transitions as steps: given
    `samples_after_warmup`, it runs warm-up + that many steps, in chunks of `steps_per_chunk`.
    Other methods train `cfg` as it is."""
    if has_warmup(cfg.method) and samples_after_warmup is not None:
        return cfg.replace(steps=cfg.hmc_warmup + samples_after_warmup,
                           steps_per_chunk=steps_per_chunk or cfg.steps_per_chunk)
    return cfg


def validate(cfg) -> None:
    """Raise `config.ConfigError` for a run its method cannot do (e.g. HMC with no draw kept)
    or a number of classes its dataset cannot draw."""
    from bnnlab.config import ConfigError

    if cfg.dataset in datasets.REGISTRY:
        try:
            datasets.check_num_classes(cfg.dataset, cfg.num_classes)
        except datasets.DataError as err:
            raise ConfigError(str(err)) from None
    method(cfg.method).validate(cfg)


# ------------------------------------------------------------------ datasets

DATASET_LABELS: dict[str, str] = {
    "moons": "two moons",
    "circles": "circles",
    "xor": "XOR",
    "spiral": "spiral",
    "gaussians": "Gaussian blobs",
    "moons_gap": "moons with a gap (in-between uncertainty)",
}


def dataset_names() -> tuple[str, ...]:
    """Every generator in `datasets.REGISTRY`, in its order."""
    return tuple(datasets.REGISTRY)


def dataset_label(name: str) -> str:
    return DATASET_LABELS.get(name, name.replace("_", " "))


class DataShape(NamedTuple):
    """What a dataset compiles into the engine: input dimension D, number of classes K and the
    likelihood that reads the network's outputs."""

    num_inputs: int
    num_classes: int
    likelihood: str


TOY_SHAPE = DataShape(2, 2, "bernoulli")
# Image datasets, beside the toy generators of `datasets.REGISTRY`: not offered where a page
# draws 2-D maps (playground, Compare), but accepted by `TrainConfig`, the CLI and the engine.
IMAGE_DATASETS: MappingProxyType[str, DataShape] = MappingProxyType({
    "digits": DataShape(64, 10, "categorical"),  # bnnlab.data.digits, 8×8 scaled to [0, 1]
})
DATASET_LABELS["digits"] = "8×8 handwritten digits (10 classes)"


def data_shape(dataset: str, num_classes: int = 2) -> DataShape:
    """D, K and the likelihood of `dataset`. Toy sets: 2-D points; two classes are the
    Bernoulli path (one logit, exactly as before K-class data existed), K > 2 classes a
    categorical softmax over K logits. Image sets have their own shape (`num_classes`
    ignored)."""
    if dataset in IMAGE_DATASETS:
        return IMAGE_DATASETS[dataset]
    if num_classes <= 2:
        return TOY_SHAPE
    return DataShape(2, int(num_classes), "categorical")


def max_classes(dataset: str) -> int:
    """The most classes `dataset` can have: its generator's (`DatasetSpec.max_classes`), the
    image set's K, else 2."""
    if dataset in IMAGE_DATASETS:
        return IMAGE_DATASETS[dataset].num_classes
    return datasets.max_classes(dataset)


def kclass_dataset_names() -> tuple[str, ...]:
    """The toy sets that take K > 2 classes."""
    return tuple(n for n, s in datasets.REGISTRY.items() if s.max_classes > 2)


def all_dataset_names() -> tuple[str, ...]:
    """Every dataset `TrainConfig` and the CLI accept: the toy generators, then the images."""
    return (*dataset_names(), *IMAGE_DATASETS)


# ------------------------------------------------------------------ likelihoods

class Likelihood(NamedTuple):
    name: str
    label: str
    # (logits float32[m] or [m, K], batch) -> Σ_i mask_i · log P(y_i | logit_i): float32[]
    log_likelihood: Callable[[jax.Array, Batch], jax.Array]
    # logits -> probabilities: P(y = 1) float32[...] (binary) or softmax float32[..., K]
    link: Callable[[jax.Array], jax.Array]
    # K classes -> network outputs (Bernoulli: one logit for two classes; categorical: K)
    num_outputs: Callable[[int], int]


def bernoulli_log_likelihood(logits: jax.Array, batch: Batch) -> jax.Array:
    """Σ_i mask_i · log Bernoulli(y_i | sigmoid(logit_i)): float32[]."""
    per_point = (batch.y * jax.nn.log_sigmoid(logits)
                 + (1.0 - batch.y) * jax.nn.log_sigmoid(-logits))
    return jnp.sum(batch.mask * per_point)


def categorical_log_likelihood(logits: jax.Array, batch: Batch) -> jax.Array:
    """Σ_i mask_i · log softmax(logits_i)[y_i] for `logits: float32[m, K]` and labels
    `batch.y` in 0..K−1 (stored as float32): the talk's "categorical softmax distribution on
    logits". With K = 2 and logits (0, f) it equals `bernoulli_log_likelihood` at f."""
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    labels = batch.y.astype(jnp.int32)
    per_point = jnp.take_along_axis(log_probs, labels[:, None], axis=-1)[:, 0]
    return jnp.sum(batch.mask * per_point)


LIKELIHOODS: MappingProxyType[str, Likelihood] = MappingProxyType({
    "bernoulli": Likelihood("bernoulli", "Bernoulli (two classes, sigmoid of one logit)",
                            bernoulli_log_likelihood, jax.nn.sigmoid, lambda k: 1),
    "categorical": Likelihood("categorical", "categorical (K classes, softmax of K logits)",
                              categorical_log_likelihood,
                              lambda logits: jax.nn.softmax(logits, axis=-1), lambda k: k),
})
DEFAULT_LIKELIHOOD = "bernoulli"

# ------------------------------------------------------------------ activations

ACTIVATION_LABELS: dict[str, str] = {"tanh": "tanh", "relu": "ReLU", "gelu": "GELU"}


def activation_names() -> tuple[str, ...]:
    """The activations of `models.ACTIVATIONS` (their one definition)."""
    return tuple(models.ACTIVATIONS)


# ------------------------------------------------------------------ uncertainty kinds

UNCERTAINTY_KINDS: MappingProxyType[str, str] = MappingProxyType({
    "total": "total (predictive entropy)",
    "aleatoric": "aleatoric (expected entropy)",
    "epistemic": "epistemic (mutual information)",
})

# ------------------------------------------------------------------ chapters


class Chapter(NamedTuple):
    """One page: its file under pages/, its URL path (empty for the home page), its title in
    the navigation, its group and a one-line description."""

    page: str
    url_path: str
    title: str
    group: str
    description: str
    icon: str


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("pages/home.py", "", "Home", "BNN Lab", "what the lab teaches and where to start",
            ":material/home:"),
    Chapter("pages/ch1_bayes.py", "bayes", "1 · Bayes' theorem", "Chapters",
            "prior, likelihood and posterior on a coin you can see", ":material/bug_report:"),
    Chapter("pages/ch2_bayesian_training.py", "bayesian-training",
            "2 · The Bayesian view of training", "Chapters",
            "a prior over weights is a prior over functions", ":material/casino:"),
    Chapter("pages/ch3_variational_inference.py", "variational-inference",
            "3 · Variational inference", "Chapters",
            "a Gaussian Q fitted to an exact 2-parameter posterior", ":material/trending_up:"),
    Chapter("pages/ch4_playground.py", "playground", "4 · Variational Bayes in code",
            "Chapters", "train a Bayesian network live and watch its uncertainty",
            ":material/science:"),
    Chapter("pages/digits.py", "digits", "5 · Digits and letters", "Chapters",
            "the talk's own example: does the network say \"I don't know\"?",
            ":material/draw:"),
    Chapter("pages/compare.py", "compare", "Compare inference methods", "More",
            "MAP, VI, dropout, ensembles and HMC side by side", ":material/compare:"),
    Chapter("pages/jax_in_code.py", "jax", "JAX in code", "More",
            "vmap, grad, jit and lax.scan, measured", ":material/bolt:"),
    Chapter("pages/what_next.py", "what-next", "What next", "More",
            "papers and libraries to read next", ":material/menu_book:"),
)
