"""The one verdict on a model's uncertainty: does it know where it has no data?

Every page and the CLI read a trained model through `judge`, from three numbers: its accuracy,
and its mean **epistemic** uncertainty (the mutual information between the label and the
weights: how much the posterior's networks disagree) near the data (the held-out test points)
and far from it (`predict.far_probe_points`, ≥ 2 standardised units from every training point).

Why epistemic and not the total predictive entropy: the total also holds the aleatoric part,
the noise the model attributes to the data. A network that predicts 50/50 along a boundary
that runs off to infinity has a high total entropy far away without any doubt about its
weights, and a model can be unsure everywhere simply because the classes overlap. "I don't
know" is the posterior's networks disagreeing where no data pinned them down; a single network
(MAP) has epistemic exactly 0 everywhere, whatever its probabilities.

Four outcomes, in this order:

* `not_learnt`: not trained yet, or accuracy less than a third of the way from chance (the
  largest class's share) to perfect. Its uncertainty says nothing about where the data end.
* `knows_where_no_data`: epistemic far ≥ `FAR_DOUBT` · ln K (a tenth of the most there is) and
  ≥ `RATIO` × epistemic near.
* `unsure_everywhere`: doubt far away but not `RATIO` times more than near, or doubt near the
  data ≥ `FAR_DOUBT` · ln K: the networks disagree about the data themselves.
* `confident_everywhere`: the networks agree near and far (epistemic far < `FAR_DOUBT` · ln K).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from bnnlab.core.text import fmt

KNOWS = "knows_where_no_data"
CONFIDENT = "confident_everywhere"
UNSURE = "unsure_everywhere"
NOT_LEARNT = "not_learnt"
KINDS = (KNOWS, CONFIDENT, UNSURE, NOT_LEARNT)
HEADLINES = {
    KNOWS: "It knows where it has no data",
    CONFIDENT: "Confident everywhere",
    UNSURE: "Unsure everywhere",
    NOT_LEARNT: "Has not learnt the data",
}

FAR_DOUBT = 0.1  # epistemic far ≥ this × ln K counts as doubt (0.069 nats for two classes)
RATIO = 2.0  # and ≥ this × epistemic near: more doubt where there are no data
LEARNT_SHARE = 1 / 3  # accuracy at least this share of the way from chance to 1


class Verdict(NamedTuple):
    kind: str  # one of KINDS
    headline: str  # HEADLINES[kind]
    sentence: str  # why, with the numbers
    reason: str = ""  # why in a few words, for a one-line display beside the numbers


def chance_accuracy(num_classes: int, labels=None) -> float:
    """The accuracy of always guessing the largest class: its share of `labels` (a sequence of
    class indices), or 1/K without them."""
    if labels is not None and len(labels):
        counts = np.bincount(np.asarray(labels, np.int64).reshape(-1))
        return float(counts.max() / counts.sum())
    return 1.0 / max(int(num_classes), 1)


def learnt(accuracy: float, chance: float) -> bool:
    """Accuracy at least `LEARNT_SHARE` of the way from `chance` to 1."""
    return math.isfinite(accuracy) and accuracy >= chance + LEARNT_SHARE * (1.0 - chance)


def judge(epistemic_near: float, epistemic_far: float, accuracy: float, num_classes: int,
          chance: float | None = None, trained: bool = True) -> Verdict:
    """The verdict (module docstring) from the mean epistemic uncertainty near and far (nats),
    the accuracy (test, or train where there is no test set), K, the chance accuracy (default
    1/K) and whether the model has been trained at all (step > 0)."""
    k = max(int(num_classes), 2)
    chance = 1.0 / k if chance is None else float(chance)
    top = math.log(k)
    doubt = FAR_DOUBT * top
    numbers = (f"epistemic near {fmt(epistemic_near)}, far {fmt(epistemic_far)} nats; "
               f"doubt counts from {doubt:.3f}, a tenth of ln {k}")
    if not trained:
        return Verdict(NOT_LEARNT, HEADLINES[NOT_LEARNT],
                       "Not trained yet: its uncertainty is its initialisation's, not knowledge.",
                       "not trained yet")
    if not learnt(accuracy, chance):
        return Verdict(NOT_LEARNT, HEADLINES[NOT_LEARNT], (
            f"Accuracy {fmt(accuracy)} against {chance:.3f} by always guessing the largest "
            f"class: its doubt is not knowledge of where the data end."),
            f"accuracy {fmt(accuracy)}, chance {chance:.2f}: its doubt means nothing yet")
    near = epistemic_near if math.isfinite(epistemic_near) else 0.0
    if not math.isfinite(epistemic_far):
        kind = UNSURE if near >= doubt else CONFIDENT
        return Verdict(kind, HEADLINES[kind], (
            f"No probe point lies ≥ 2 units from the data here, so only near can be read "
            f"({numbers})."), "no point lies far from the data here")
    if epistemic_far >= doubt and epistemic_far >= RATIO * near:
        times = f"{epistemic_far / near:.0f} times more" if near > 0 else "none near it"
        return Verdict(KNOWS, HEADLINES[KNOWS], (
            f"Its networks agree near the data and disagree far from it ({times} "
            f"doubt; {numbers})."),
            f"its networks agree near the data and disagree far from it ({times})")
    if epistemic_far >= doubt or near >= doubt:
        return Verdict(UNSURE, HEADLINES[UNSURE], (
            f"Its networks disagree near the data too, not {RATIO:g} times more far away "
            f"({numbers})."), "its networks disagree near the data too")
    return Verdict(CONFIDENT, HEADLINES[CONFIDENT], (
        f"Its networks agree far from the data as near it ({numbers}): it does not say "
        f"\"I don't know\"."), "its networks agree far from the data too: it never says "
        "\u201cI don\u2019t know\u201d")


def judge_metrics(metrics, num_classes: int, chance: float | None = None,
                  trained: bool = True) -> Verdict:
    """`judge` from a `predict.Metrics` (or a mapping with its fields): test accuracy, or
    train accuracy where there is no test set."""
    get = metrics.get if isinstance(metrics, dict) else lambda name: getattr(metrics, name)
    accuracy = get("test_acc")
    if accuracy is None or not math.isfinite(accuracy):
        accuracy = get("train_acc")
    return judge(get("epistemic_near"), get("epistemic_far"), accuracy, num_classes,
                 chance=chance, trained=trained)
