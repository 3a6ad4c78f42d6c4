"""The one table of names: inference methods, datasets, likelihoods, activations, uncertainty kinds
and chapters. The CLI, the widgets, the URL parser, the Compare page, the engine and the
navigation all read them here, so a new method, dataset or chapter is one file plus one line
(docs/ADDING_A_METHOD.md). Names only: a method's settings live in its file, the settings of a
run in `bnnlab.training.config`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import NamedTuple

from bnnlab.core import likelihoods, models
from bnnlab.data import digits, toy
from bnnlab.data.spec import DataShape
from bnnlab.methods import dropout, ensemble, hmc, laplace, map_estimate, vi
from bnnlab.methods.base import MethodSpec

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


# ------------------------------------------------------------------ datasets (one line each)

# The toy 2-D sets (`data.toy`, drawn as maps on the playground and Compare), then image sets,
# which `TrainConfig`, the CLI and the engine accept but no page draws as a map.
DATASETS: MappingProxyType = MappingProxyType({**toy.REGISTRY, "digits": digits.SPEC})
MAP_DATASETS: tuple[str, ...] = tuple(toy.REGISTRY)


def dataset(name: str):
    """The spec of dataset `name` (`data.toy.DatasetSpec` or `data.digits.ImageSpec`)."""
    try:
        return DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}") from None


def dataset_label(name: str) -> str:
    return dataset(name).label


def data_shape(name: str, num_classes: int = 2) -> DataShape:
    """D inputs, K classes and the likelihood of dataset `name` with `num_classes` classes."""
    return dataset(name).shape(num_classes)


def max_classes(name: str) -> int:
    """The most classes dataset `name` can have (2 for a binary set or an unknown name)."""
    spec = DATASETS.get(name)
    return spec.max_classes if spec is not None else 2


def kclass_datasets() -> tuple[str, ...]:
    """The toy sets that take K > 2 classes."""
    return tuple(n for n in MAP_DATASETS if DATASETS[n].max_classes > 2)


# ------------------------------------------------------------------ the rest

LIKELIHOODS: MappingProxyType[str, likelihoods.Likelihood] = MappingProxyType({
    likelihoods.BERNOULLI.name: likelihoods.BERNOULLI,
    likelihoods.CATEGORICAL.name: likelihoods.CATEGORICAL,
})
ACTIVATIONS: tuple[str, ...] = tuple(models.ACTIVATIONS)
UNCERTAINTY_KINDS: MappingProxyType[str, str] = MappingProxyType({
    "total": "total (predictive entropy)",
    "aleatoric": "aleatoric (expected entropy)",
    "epistemic": "epistemic (mutual information)",
})


class Chapter(NamedTuple):
    """One page: its file under app_pages/, its URL path (empty for the home page), its title in
    the navigation, its group, its icon, a one-line description and, for the five chapters of
    the talk, the sentence of its card on the home page and any extra links there (label, query
    parameters, icon)."""

    page: str
    url_path: str
    title: str
    group: str
    description: str
    icon: str
    card: str = ""
    links: tuple[tuple[str, tuple[tuple[str, str], ...], str], ...] = ()


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("app_pages/home.py", "", "Home", "BNN Lab", "what the lab teaches and where to start",
            ":material/home:"),
    Chapter("app_pages/ch1_bayes.py", "bayes", "1 · Bayes' theorem", "Chapters",
            "prior, likelihood and posterior on a coin you can see", ":material/bug_report:",
            "Is my code bug-free after the tests pass? Prior, likelihood and evidence turn into "
            "a posterior you can push around with sliders."),
    Chapter("app_pages/ch2_bayesian_training.py", "bayesian-training",
            "2 · The Bayesian view of training", "Chapters",
            "a prior over weights is a prior over functions", ":material/casino:",
            "Training as inference: instead of one best set of weights, a whole distribution "
            "over the network's weights, and why the exact posterior is out of reach."),
    Chapter("app_pages/ch3_variational_inference.py", "variational-inference",
            "3 · Variational inference", "Chapters",
            "a Gaussian Q fitted to an exact 2-parameter posterior", ":material/trending_up:",
            "Fit a simple Q to the posterior by maximising the ELBO, on a model small enough "
            "that every term, even log P(D), is computed exactly."),
    Chapter("app_pages/ch4_playground.py", "playground", "4 · Variational Bayes in code",
            "Chapters", "train a Bayesian network live and watch its uncertainty",
            ":material/science:",
            "Bayes by Backprop in JAX, beside MAP, Laplace, dropout, an ensemble and HMC: train "
            "a Bayesian neural network live and see which of them says \"I don't know\" far "
            "from the data.",
            # the playground applies its "Say I don't know" preset on this link, also when the
            # learner has been there before (a link with the settings would be ignored then)
            (("See a network say \"I don't know\" (HMC preset)",
              (("preset", "say-i-dont-know"),), ":material/help:"),)),
    Chapter("app_pages/ch5_digits.py", "digits", "5 · Digits and letters", "Chapters",
            "the talk's own example: does the network say \"I don't know\"?",
            ":material/draw:",
            "The talk's own example: a softmax Bayesian network on handwritten digits, tested on "
            "letters and on your own drawing. Is it unsure where it should be?"),
    Chapter("app_pages/compare.py", "compare", "Compare inference methods", "More",
            "MAP, VI, dropout, ensembles and HMC side by side", ":material/compare:"),
    Chapter("app_pages/jax_in_code.py", "jax", "JAX in code", "More",
            "vmap, grad, jit and lax.scan, measured", ":material/bolt:"),
    Chapter("app_pages/what_next.py", "what-next", "What next", "More",
            "papers and libraries to read next", ":material/menu_book:"),
)


def chapter(url_path: str) -> Chapter:
    """The chapter served at `url_path` ("" for Home)."""
    return next(c for c in CHAPTERS if c.url_path == url_path)
