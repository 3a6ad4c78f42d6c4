"""Toy 2-D classification data: a registry of generators, splitting, standardising and CSV
loading with validation.

Every generator has the signature `(rng: np.random.Generator, num_points, jitter, num_classes)`
and returns `(x float[n, 2], y [n])` with labels in 0…K−1 (K = `num_classes`: 2 for most sets;
the spiral and the Gaussian blobs take up to `MAX_CLASSES`, `DatasetSpec.max_classes`);
`REGISTRY` holds one `DatasetSpec` per set (its generator, label, description, the noise scale and
default, recommended training overrides and, for moons_gap, the empty box) and drives the widgets,
the URL and the CLI, as in TensorFlow Playground's `dataset.ts`. Per-set figures: docs/DATASETS.md.
Uploaded CSV files are parsed in `bnnlab.data.upload`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from bnnlab.core import limits
from bnnlab.core.errors import DataError
from bnnlab.data.spec import DataShape, toy_shape

MAX_CLASSES = limits.MAX_CLASSES

Generator = Callable[[np.random.Generator, int, float, int], tuple[np.ndarray, np.ndarray]]


def class_sizes(num_points: int, num_classes: int) -> list[int]:
    """Points per class: ⌊n/K⌋ each, the remainder to the last class (K = 2: n//2, n − n//2)."""
    base = num_points // num_classes
    return [base] * (num_classes - 1) + [num_points - base * (num_classes - 1)]


def _moons(rng: np.random.Generator, num_points: int, jitter: float,
           num_classes: int = 2):
    n_out = num_points // 2
    n_in = num_points - n_out
    t_out = rng.uniform(0.0, np.pi, n_out)
    t_in = rng.uniform(0.0, np.pi, n_in)
    outer = np.stack([np.cos(t_out), np.sin(t_out)], axis=1)
    inner = np.stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)], axis=1)
    x = np.concatenate([outer, inner]) + jitter * rng.normal(size=(num_points, 2))
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    return x, y


def _circles(rng: np.random.Generator, num_points: int, jitter: float,
             num_classes: int = 2):
    n_out = num_points // 2
    n_in = num_points - n_out
    t = rng.uniform(0.0, 2 * np.pi, num_points)
    radius = np.concatenate([np.full(n_out, 1.0), np.full(n_in, 0.5)])
    x = radius[:, None] * np.stack([np.cos(t), np.sin(t)], axis=1)
    x = x + jitter * rng.normal(size=(num_points, 2))
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)])
    return x, y


XOR_OFFSET = 0.1  # xor: points are pushed this far off the axes (the class gap is twice it)


def _xor(rng: np.random.Generator, num_points: int, jitter: float,
         num_classes: int = 2):
    x = rng.uniform(-1.0, 1.0, size=(num_points, 2))
    # Keep points off the axes so the four quadrants are visible clusters.
    x = x + XOR_OFFSET * np.sign(x)
    y = (x[:, 0] * x[:, 1] < 0).astype(np.float64)
    return x + jitter * rng.normal(size=x.shape), y


SPIRAL_TURNS = 1.75  # turns of each arm of the two-arm spiral, from r = 0.05 to r = 1


def spiral_turns(num_classes: int = 2) -> float:
    """Turns of each arm of a K-arm spiral: 3.5 / K, so that neighbouring arms stay
    1 / (2 · SPIRAL_TURNS) apart along a radius whatever K (K = 2: `SPIRAL_TURNS`)."""
    return 2 * SPIRAL_TURNS / num_classes


def spiral_arm(r: np.ndarray, arm: int, num_classes: int = 2) -> np.ndarray:
    """The noise-free spiral: arm 0…K−1 at radii `r: float[n]` -> points float[n, 2]; the K
    arms are rotated 2π/K from each other."""
    t = spiral_turns(num_classes) * r * 2 * np.pi + arm * 2 * np.pi / num_classes
    return np.stack([r * np.sin(t), r * np.cos(t)], axis=1)


def _spiral(rng: np.random.Generator, num_points: int, jitter: float, num_classes: int = 2):
    sizes = class_sizes(num_points, num_classes)
    arms = [spiral_arm(rng.uniform(0.05, 1.0, n), arm, num_classes)
            for arm, n in enumerate(sizes)]
    x = np.concatenate(arms) + jitter * rng.normal(size=(num_points, 2))
    y = np.concatenate([np.full(n, k) for k, n in enumerate(sizes)])
    return x, y


BLOB_RADIUS = float(np.sqrt(2.0))  # the blobs' centres lie on this circle


def blob_centres(num_classes: int = 2) -> np.ndarray:
    """Centres of the K Gaussian blobs, float[K, 2]: evenly spaced on a circle of radius √2
    starting at 225°, so K = 2 gives (−1, −1) and (1, 1)."""
    angle = np.deg2rad(225.0) + 2 * np.pi * np.arange(num_classes) / num_classes
    return BLOB_RADIUS * np.stack([np.cos(angle), np.sin(angle)], axis=1)


def _gaussians(rng: np.random.Generator, num_points: int, jitter: float, num_classes: int = 2):
    scale = 0.3 + jitter  # the blobs widen with the noise
    sizes = class_sizes(num_points, num_classes)
    blobs = [rng.normal(loc=c, scale=scale, size=(n, 2))
             for c, n in zip(blob_centres(num_classes), sizes, strict=True)]
    return np.concatenate(blobs), np.concatenate([np.full(n, k) for k, n in enumerate(sizes)])


GAP_HALF_WIDTH = 0.3  # moons_gap: points with |x₁ − 0.5| < this (raw units) are removed
GAP_BOX = (0.5 - GAP_HALF_WIDTH, 0.5 + GAP_HALF_WIDTH, -0.6, 1.1)  # raw (x lo, x hi, y lo, y hi)


def _moons_gap(rng: np.random.Generator, num_points: int, jitter: float,
               num_classes: int = 2):
    """Two moons with the band |x₁ − 0.5| < GAP_HALF_WIDTH removed, where the moons interleave.
    It draws about 1.5 × `num_points` so that `num_points` remain (fewer only near
    `limits.MAX_POINTS` or with huge noise)."""
    draw = min(limits.MAX_POINTS, int(num_points * 1.5) + 16)
    x, y = _moons(rng, draw, jitter)
    order = rng.permutation(draw)  # _moons returns the classes in blocks
    x, y = x[order], y[order]
    keep = np.abs(x[:, 0] - 0.5) >= GAP_HALF_WIDTH
    return x[keep][:num_points], y[keep][:num_points]


class DatasetSpec(NamedTuple):
    """One toy dataset in the registry: how to draw it and how to present it.

    `make` draws with Gaussian jitter of standard deviation `noise × noise_scale` (raw units).
    `noise_scale` is the dataset's class gap (the least distance between the noise-free classes)
    relative to the moons' 0.5, so one noise value blurs every boundary by the same share of
    its gap: at noise 0.15 the jitter is 0.3 of the gap everywhere. (gaussians has no gap: its
    noise widens the two blobs, standard deviation 0.3 + noise.)
    """

    generate: Generator  # (rng, num_points, jitter std in raw units) -> (x float[n, 2], y [n])
    label: str  # for a widget
    description: str  # one line for the page
    noise_scale: float  # raw jitter std per unit of noise
    default_noise: float  # the noise the widgets, URL and CLI start from
    # per method, the TrainConfig overrides it needs to learn this set (docs/DATASETS.md)
    recommended: Mapping[str, Mapping[str, Any]] = MappingProxyType({})
    advice: str = ""  # what to change when the defaults do not learn it; "" when they do
    box: tuple[float, float, float, float] | None = None  # raw region left empty on purpose
    max_classes: int = 2  # K the generator can draw (2…max_classes; `TrainConfig.num_classes`)

    def shape(self, num_classes: int = 2) -> DataShape:
        """D = 2 inputs, K classes and the likelihood (`data.spec.toy_shape`)."""
        return toy_shape(num_classes)


MOONS_GAP = 0.5  # least distance between the two noise-free moons: the unit of noise_scale

REGISTRY: dict[str, DatasetSpec] = {
    "moons": DatasetSpec(
        _moons, "Two moons", "Two interleaving half-circles, one per class.",
        noise_scale=1.0, default_noise=0.15),
    "circles": DatasetSpec(
        _circles, "Circles", "A ring of radius 1 around a ring of radius 0.5.",
        noise_scale=0.5 / MOONS_GAP, default_noise=0.15,
        recommended=MappingProxyType({"vi": MappingProxyType({"kl_weight": 0.1})}),
        advice="Mean-field VI at full Bayes (β = 1) underfits the circles: right on 94% of the "
               "training points, but with P ≈ 0.75 on the rings, so the rings look uncertain "
               "(ECE 0.27). Set β (KL weight) to 0.1: the doubt moves between the rings. (Not for "
               "MAP or ensembles: there β weighs the L2 penalty, and 0.1 overfits.)"),
    "xor": DatasetSpec(
        _xor, "XOR", "Four square clusters; opposite quadrants share a class.",
        noise_scale=2 * XOR_OFFSET / MOONS_GAP, default_noise=0.15),
    "spiral": DatasetSpec(
        _spiral, "Spiral", f"K interleaved arms, one per class (two arms: {SPIRAL_TURNS:g} turns "
                           "each; K arms: 3.5/K turns, the same distance apart).",
        # neighbouring arms are 1 / (2 · turns) apart along a radius
        noise_scale=1 / (2 * SPIRAL_TURNS) / MOONS_GAP, default_noise=0.1,
        recommended=MappingProxyType({"vi": MappingProxyType({"kl_weight": 0.1,
                                                              "steps": 6000})}),
        advice="Mean-field VI at full Bayes (β = 1) learns nothing here: the KL to the prior "
               "outweighs the fit and every point stays at the maximum entropy (ln 2; ln K "
               "with K arms). Set β (KL weight) to 0.1 and "
               "train 6,000 steps (MAP, dropout and ensembles learn it at the defaults).",
        max_classes=MAX_CLASSES),
    "gaussians": DatasetSpec(
        _gaussians, "Gaussian blobs",
        "K round blobs, one per class, on a circle of radius √2 (two: centred at (−1, −1) and "
        "(1, 1)).",
        noise_scale=1.0, default_noise=0.15, max_classes=MAX_CLASSES),
    "moons_gap": DatasetSpec(
        _moons_gap, "Moons with a gap",
        "Two moons with the band where they interleave cut out: the class there is unknown "
        "(in-between uncertainty, Foong et al. 2019).",
        noise_scale=1.0, default_noise=0.1, box=GAP_BOX),
}


def recommended(name: str, method: str) -> dict[str, Any]:
    """The `TrainConfig` overrides registered for `method` on dataset `name` (empty when the
    defaults learn it)."""
    return dict(REGISTRY[name].recommended.get(method, {}))


def gap_box(name: str, data_mean: np.ndarray,
            data_scale: np.ndarray) -> tuple[float, float, float, float] | None:
    """Dataset `name`'s empty box in standardised units `(x_lo, x_hi, y_lo, y_hi)`, or None."""
    box = REGISTRY[name].box
    if box is None:
        return None
    lo = (np.array([box[0], box[2]]) - data_mean) / data_scale
    hi = (np.array([box[1], box[3]]) - data_mean) / data_scale
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def max_classes(name: str) -> int:
    """The most classes dataset `name` can draw (2 for a binary set; 2 for an unknown name)."""
    spec = REGISTRY.get(name)
    return spec.max_classes if spec is not None else 2


def check_num_classes(name: str, num_classes: int) -> None:
    """Raise `DataError` unless dataset `name` can draw `num_classes` classes."""
    most = max_classes(name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or not 2 <= num_classes <= most:
        which = ", ".join(n for n, s in REGISTRY.items() if s.max_classes > 2)
        raise DataError(f"{name} has 2 classes; num_classes {num_classes!r} needs a dataset "
                        f"with K classes ({which})" if most == 2 else
                        f"{name} takes 2 to {most} classes; got num_classes {num_classes!r}")


def make(name: str, num_points: int, noise: float, seed: int,
         num_classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Draw a registered toy set: `(x float32[n, 2], y int32[n])` with labels 0…K−1 (K =
    `num_classes`, which the set must allow: `DatasetSpec.max_classes`), shuffled,
    reproducible.

    `noise` is relative to the set's geometry: the jitter's standard deviation in raw units is
    `noise × REGISTRY[name].noise_scale` (see `DatasetSpec`). n = `num_points`, except for a
    set that removes points (moons_gap) near `limits.MAX_POINTS`."""
    if name not in REGISTRY:
        raise DataError(f"unknown dataset {name!r}; choose from {', '.join(REGISTRY)}")
    check_num_classes(name, num_classes)
    if not 2 <= num_points <= limits.MAX_POINTS:
        raise DataError(f"num_points must be between 2 and {limits.MAX_POINTS}, got {num_points}")
    if not (math.isfinite(noise) and 0.0 <= noise <= limits.MAX_NOISE):
        raise DataError(f"noise must be between 0 and {limits.MAX_NOISE}, got {noise}")
    spec = REGISTRY[name]
    rng = np.random.default_rng(seed)
    x, y = spec.generate(rng, int(num_points), float(noise) * spec.noise_scale, int(num_classes))
    order = rng.permutation(len(x))
    return x[order].astype(np.float32), y[order].astype(np.int32)


class Dataset(NamedTuple):
    """A train/test split in standardised coordinates, with the transform that made them."""

    x_train: np.ndarray  # float32[n_train, 2], standardised
    y_train: np.ndarray  # int32[n_train]
    x_test: np.ndarray  # float32[n_test, 2], standardised
    y_test: np.ndarray  # int32[n_test]
    mean: np.ndarray  # float32[2]: raw = standardised * scale + mean
    scale: np.ndarray  # float32[2]


def split(
    x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random split: `(x_train, y_train, x_test, y_test)`; at least one point in each part
    when there are two or more points and `test_fraction > 0`."""
    n = len(x)
    num_test = int(round(test_fraction * n))
    if test_fraction > 0 and n >= 2:
        num_test = min(max(num_test, 1), n - 1)
    order = np.random.default_rng(seed + 1).permutation(n)
    test, train = order[:num_test], order[num_test:]
    return x[train], y[train], x[test], y[test]


def standardize(
    x_train: np.ndarray, *others: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Zero-mean, unit-variance per axis using the training set's statistics.

    Returns `(mean float32[2], scale float32[2], [standardised x_train, *others])`.
    """
    mean = x_train.mean(axis=0).astype(np.float32)
    scale = x_train.std(axis=0).astype(np.float32)
    scale = np.where(scale > 1e-6, scale, 1.0).astype(np.float32)
    return mean, scale, [((a - mean) / scale).astype(np.float32) for a in (x_train, *others)]


def prepare(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int) -> Dataset:
    """Split, then standardise both parts with the training statistics."""
    x_tr, y_tr, x_te, y_te = split(x, y, test_fraction, seed)
    mean, scale, (x_tr, x_te) = standardize(x_tr, x_te)
    return Dataset(x_tr, y_tr.astype(np.int32), x_te, y_te.astype(np.int32), mean, scale)


def num_classes_of(y: np.ndarray) -> int:
    """K of labels `y: int[n]` in 0…K−1 (at least 2)."""
    return max(2, int(np.max(y)) + 1) if len(y) else 2
