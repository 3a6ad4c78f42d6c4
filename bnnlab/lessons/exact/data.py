"""Chapter 3's data: the three two-parameter models' names, a generator drawing D from each,
the parser for points a learner types in (every input validated, messages fit to show), and
`ExactProblem`, the data with the model and hyperparameters that fix a posterior."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

MODELS: tuple[str, ...] = ("tanh_unit", "logistic", "linear")
MODEL_LABELS: dict[str, str] = {
    "tanh_unit": "One hidden unit: y = σ(w₂·tanh(w₁x))  (bimodal)",
    "logistic": "Logistic regression: y = σ(w·x + b)",
    "linear": "Linear regression: y = w·x + b + noise  (conjugate)",
}
PARAM_NAMES: dict[str, tuple[str, str]] = {
    "tanh_unit": ("w₁", "w₂"),
    "logistic": ("w", "b"),
    "linear": ("w", "b"),
}
CLASSIFICATION: frozenset[str] = frozenset({"tanh_unit", "logistic"})
TRUE_PARAMS: dict[str, tuple[float, float]] = {
    "tanh_unit": (1.2, 3.0),
    "logistic": (1.5, 0.5),
    "linear": (0.8, -0.3),
}
MAX_POINTS = 200  # data are padded to this size so the jitted step never recompiles
X_LIMIT = 10.0  # |x| bound for user-entered points
Y_LIMIT = 50.0  # |y| bound for user-entered regression targets


class ToyData(NamedTuple):
    """A 1-D dataset D = (X, Y)."""

    x: np.ndarray  # float64[n]
    y: np.ndarray  # float64[n]: labels in {0, 1} for classification, reals for "linear"


@dataclass(frozen=True)
class ExactProblem:
    """The posterior being approximated: the data, the model and its hyperparameters."""

    data: ToyData
    model: str
    prior_std: float
    noise: float  # σ_y of "linear"'s likelihood; unused by the classifiers


def make_data(model: str, num_points: int, noise: float, seed: int) -> ToyData:
    """Draw a dataset from the model at `TRUE_PARAMS[model]`.

    For the classifiers `noise` is a label-flip probability in [0, 0.5]; for "linear" it is
    the observation noise standard deviation (the same one the likelihood uses).
    Returns `ToyData` with x, y float64[num_points].
    """
    check_model(model)
    rng = np.random.default_rng(seed)
    t1, t2 = TRUE_PARAMS[model]
    if model == "linear":
        x = rng.uniform(-2.0, 2.0, num_points)
        y = t1 * x + t2 + noise * rng.standard_normal(num_points)
        return ToyData(x, y)
    x = rng.uniform(-3.0, 3.0, num_points)
    logits = t1 * x + t2 if model == "logistic" else t2 * np.tanh(t1 * x)
    y = (rng.uniform(size=num_points) < 1.0 / (1.0 + np.exp(-logits))).astype(np.float64)
    flip = rng.uniform(size=num_points) < noise
    y = np.where(flip, 1.0 - y, y)
    return ToyData(x, y)


def parse_points(text: str, model: str, max_points: int = MAX_POINTS) -> ToyData:
    """Parse user text, one "x, y" pair a line, into `ToyData`; raise ValueError with a
    message fit to show the user when anything is off (never returns NaN or inf)."""
    check_model(model)
    xs: list[float] = []
    ys: list[float] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p for p in line.replace(";", ",").replace("\t", ",").replace(" ", ",")
                 .split(",") if p]
        if len(parts) != 2:
            raise ValueError(f"line {line_no}: expected two numbers 'x, y', got {len(parts)}")
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(f"line {line_no}: not a number") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"line {line_no}: numbers must be finite")
        if abs(x) > X_LIMIT:
            raise ValueError(f"line {line_no}: x must lie in [-{X_LIMIT:g}, {X_LIMIT:g}]")
        if model in CLASSIFICATION and y not in (0.0, 1.0):
            raise ValueError(f"line {line_no}: y must be 0 or 1 for a classifier")
        if model == "linear" and abs(y) > Y_LIMIT:
            raise ValueError(f"line {line_no}: y must lie in [-{Y_LIMIT:g}, {Y_LIMIT:g}]")
        xs.append(x)
        ys.append(y)
        if len(xs) > max_points:
            raise ValueError(f"too many points: at most {max_points}")
    if not xs:
        raise ValueError("no points: enter at least one line 'x, y'")
    return ToyData(np.asarray(xs, np.float64), np.asarray(ys, np.float64))


def format_points(data: ToyData) -> str:
    """The inverse of `parse_points`: one "x, y" line per point."""
    return "\n".join(f"{x:.3f}, {y:.3f}" if y % 1 else f"{x:.3f}, {int(y)}"
                     for x, y in zip(data.x, data.y, strict=True))


def use_points(text: str, model: str, generated: ToyData,
               last_valid: dict[bool, ToyData]) -> tuple[ToyData, str | None]:
    """The learner's points, remembered in `last_valid` (keyed by whether the model is a
    classifier); when `text` does not parse, the last valid points (else the generated data)
    with a message saying what was wrong and what is used instead."""
    kind = model in CLASSIFICATION
    try:
        data = last_valid[kind] = parse_points(text, model)
        return data, None
    except ValueError as err:
        previous = last_valid.get(kind)
        fallback = ("Keeping the last valid points." if previous is not None
                    else "Using the generated data instead.")
        return (previous if previous is not None else generated,
                f"Could not use these points ({err}). {fallback}")


def check_model(model: str) -> None:
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {MODELS}")
