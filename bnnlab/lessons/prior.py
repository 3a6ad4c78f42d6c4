"""Chapter 2's mathematics: the pieces of a BNN and why its evidence is intractable.

A Bayesian neural network has three pieces:

- data D = (X, Y);
- a likelihood P(Y | X, θ): Bernoulli (two classes, one logit) or categorical (softmax over
  K logits) on the network's outputs;
- a prior P(θ) = N(0, prior_std² I) over every weight and bias.

Drawing θ from the prior and plotting the network's output is the prior predictive: it shows
which functions the model believes in before seeing any data (Neal 1996, ch. 2; Wilson &
Izmailov 2020). The network is `bnnlab.models`' MLP through its flat parameter vector, so the
prior over every weight and bias is one normal vector θ ~ N(0, σ² I_d).
"""

from __future__ import annotations

import concurrent.futures
import functools
import math
import threading
import time
from collections.abc import Callable
from typing import NamedTuple, TypeVar

import jax
import numpy as np
from numpy.typing import ArrayLike

from bnnlab import registry
from bnnlab.core import models, runtime
from bnnlab.lessons.exact import data as exact_data
from bnnlab.lessons.exact import quadrature

T = TypeVar("T")

LOG10_ATOMS_IN_UNIVERSE = 80.0
EVALUATIONS_PER_SECOND = 1e9  # a generous machine: one likelihood evaluation per ns
SECONDS_PER_YEAR = 365.25 * 24 * 3600
ACTIVATIONS = registry.ACTIVATIONS


def likelihood_name(num_classes: int) -> str:
    """The likelihood on the network's outputs, in words: one logit for two classes, else K."""
    return "Bernoulli on σ(f(x))" if num_classes == 2 else "categorical on softmax(f(x))"


def layer_sizes(input_dim: int, hidden: tuple[int, ...], num_classes: int) -> tuple[int, ...]:
    """Widths from input to output; two classes use one logit (Bernoulli), K > 2 use K."""
    return (input_dim, *hidden, 1 if num_classes == 2 else num_classes)


def count_parameters(sizes: tuple[int, ...]) -> int:
    """Number of weights and biases d = Σ (d_in + 1)·d_out."""
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


@functools.cache
def make_network(hidden: tuple[int, ...], activation: str, num_classes: int) -> models.FlatMLP:
    """The chapter's network `2 -> hidden -> 1` (two classes) or `-> K`: `bnnlab.models`' MLP
    seen through its flat parameter vector θ float32[d]."""
    if num_classes < 2:
        raise ValueError(f"need at least two classes, got {num_classes}")
    return models.make_flat_mlp(models.make_mlp(
        hidden, activation, num_outputs=1 if num_classes == 2 else num_classes))


def draw_logits(rng_key: jax.Array, network: models.FlatMLP, prior_std: float | jax.Array,
                points: jax.Array, num_draws: int) -> tuple[jax.Array, jax.Array]:
    """θ₁..θ_k ~ N(0, prior_std² I) over every weight and bias, and each network's logits at
    points float32[m, 2]. Returns (thetas float32[k, d], logits float32[k, m, K']) with
    K' = 1 for two classes (one Bernoulli logit), else K."""
    thetas = prior_std * jax.random.normal(rng_key, (num_draws, network.num_params))
    logits = network.batched_logits(thetas, points)
    return thetas, logits[..., None] if logits.ndim == 2 else logits


@functools.cache
def compiled_draw_logits(hidden: tuple[int, ...], activation: str, num_classes: int,
                         num_draws: int):
    """`draw_logits` for one architecture, compiled once per process: prior σ, the key and the
    points are traced, so only a new architecture (or number of points) compiles again.
    Called as fn(rng_key, prior_std, points)."""
    network = make_network(hidden, activation, num_classes)

    def draw(rng_key: jax.Array, prior_std: jax.Array, points: jax.Array):
        return draw_logits(rng_key, network, prior_std, points, num_draws)

    return jax.jit(draw, compiler_options=runtime.compiler_options())


def class_probabilities(logits: ArrayLike) -> np.ndarray:
    """P(y = k | x, θ) for every class: logits float[..., 1] (Bernoulli) or float[..., K]
    → float[..., K]."""
    z = np.asarray(logits, np.float64)
    if z.shape[-1] == 1:
        p1 = np.exp(-np.logaddexp(0.0, -z))
        return np.concatenate([1.0 - p1, p1], -1)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def log_likelihood_per_point(logits: ArrayLike, y: ArrayLike) -> np.ndarray:
    """log P(y_i | x_i, θ): Bernoulli on one logit or categorical (log-softmax) on K.
    logits float[n, 1 | K], y int[n] → float64[n]."""
    z, y = np.asarray(logits, np.float64), np.asarray(y)
    if z.shape[-1] == 1:
        z = z[:, 0]
        return -(y * np.logaddexp(0.0, -z) + (1 - y) * np.logaddexp(0.0, z))
    log_softmax = z - z.max(-1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(-1, keepdims=True))
    return np.take_along_axis(log_softmax, y[:, None], -1)[:, 0]


def log_prior(theta: ArrayLike, prior_std: float) -> float:
    """log N(θ; 0, prior_std² I) of a flat parameter vector float[d]."""
    theta = np.asarray(theta, np.float64)
    d = theta.size
    return float(-0.5 * np.sum(theta**2) / prior_std**2 - d * math.log(prior_std)
                 - 0.5 * d * math.log(2 * math.pi))


class NetworkView(NamedTuple):
    """One network drawn from the prior, seen through the three pieces of a BNN."""

    theta: np.ndarray  # float32[d]: all its weights and biases
    log_prior: float  # log P(θ)
    plane_probs: np.ndarray  # float64[m, K]: P(class | x, θ) at the plane points
    point_log_lik: np.ndarray  # float64[n]: log P(y_i | x_i, θ)


def view_network(theta: ArrayLike, logits: ArrayLike, num_plane_points: int, y: ArrayLike,
                 prior_std: float) -> NetworkView:
    """The three pieces for one drawn network: θ float[d], its logits float[m + n', K'] at
    the plane's m points followed by the data's points (padding after the first n = len(y)
    data points is ignored), and the labels y int[n]."""
    logits = np.asarray(logits)
    y = np.asarray(y)
    data_logits = logits[num_plane_points:num_plane_points + y.size]
    return NetworkView(np.asarray(theta), log_prior(theta, prior_std),
                       class_probabilities(logits[:num_plane_points]),
                       log_likelihood_per_point(data_logits, y))


class PriorPicture(NamedTuple):
    """k networks drawn from the prior, evaluated where the chapter draws them."""

    axis: np.ndarray  # float32[G]: both axes of the plane
    thetas: np.ndarray  # float32[k, d]
    plane_logits: np.ndarray  # float32[k, G·G, K'], row-major over (x₂, x₁)
    line_x: np.ndarray  # float32[L]: x₁ along the line x₂ = 0
    line_logits: np.ndarray  # float32[k, L, K']
    data_logits: np.ndarray  # float32[k, n, K'] at the data points


def draw_prior_picture(rng_key: jax.Array, hidden: tuple[int, ...], activation: str,
                       num_classes: int, prior_std: float, data_x: np.ndarray, *,
                       num_draws: int, plane_extent: float, plane_res: int,
                       line_points: int, max_points: int) -> PriorPicture:
    """Draw `num_draws` networks θ ~ N(0, prior_std² I) and evaluate each on the plane
    [-plane_extent, plane_extent]² (plane_res² points), on the line x₂ = 0 and at the data
    data_x float32[n, 2] (n ≤ max_points). One compiled call: the points are padded to a
    fixed count, so data of any size, the prior σ and the key never recompile."""
    axis = np.linspace(-plane_extent, plane_extent, plane_res, dtype=np.float32)
    g1, g2 = np.meshgrid(axis, axis)
    line_x = np.linspace(-plane_extent, plane_extent, line_points, dtype=np.float32)
    points = np.concatenate([np.stack([g1.ravel(), g2.ravel()], 1),
                             np.stack([line_x, np.zeros_like(line_x)], 1),
                             pad_points(np.asarray(data_x, np.float32), max_points)])
    draw = compiled_draw_logits(tuple(hidden), activation, num_classes, num_draws)
    thetas, logits = draw(rng_key, np.float32(prior_std), points)
    thetas, logits = np.asarray(thetas), np.asarray(logits)
    m, n = plane_res * plane_res, len(data_x)
    return PriorPicture(axis, thetas, logits[:, :m], line_x, logits[:, m:m + line_points],
                        logits[:, m + line_points:m + line_points + n])


def view_drawn_network(picture: PriorPicture, index: int, y: ArrayLike,
                       prior_std: float) -> NetworkView:
    """`view_network` of the picture's network `index` (0-based), with the labels y int[n] of
    the data it was evaluated at."""
    logits = np.concatenate([picture.plane_logits[index], picture.data_logits[index]])
    return view_network(picture.thetas[index], logits, picture.plane_logits.shape[1], y,
                        prior_std)


def boundary_probabilities(picture: PriorPicture, num_draws: int) -> np.ndarray:
    """P(class 1 | x, θ) of the picture's first `num_draws` networks on the plane:
    float64[k, G, G], row = x₂."""
    res = len(picture.axis)
    probs = class_probabilities(picture.plane_logits[:num_draws])[..., 1]
    return probs.reshape(-1, res, res)


_WARMED_UP: set[tuple] = set()
_WARM_UP_LOCK = threading.Lock()


def warm_up_in_background(hidden: tuple[int, ...], activation: str, num_classes: int,
                          **picture_kwargs) -> None:
    """Compile `draw_prior_picture` for that architecture in a daemon thread (same keyword
    arguments), so that a learner who switches to it later finds it ready: XLA compiles
    outside the GIL, and the compiled function is cached per process. Once per process and
    architecture."""
    key = (tuple(hidden), activation, num_classes, tuple(sorted(picture_kwargs.items())))
    with _WARM_UP_LOCK:
        if key in _WARMED_UP:
            return
        _WARMED_UP.add(key)
    threading.Thread(target=draw_prior_picture, daemon=True, name="bnnlab-prior-warm-up",
                     args=(jax.random.key(0), tuple(hidden), activation, num_classes, 1.0,
                           np.zeros((0, 2), np.float32)), kwargs=picture_kwargs).start()


class ToyClassification(NamedTuple):
    """A small 2-D dataset for the chapter's pictures."""

    x: np.ndarray  # float32[n, 2]
    y: np.ndarray  # int32[n]


def make_blobs(num_points: int, num_classes: int, spread: float, seed: int) -> ToyClassification:
    """`num_classes` Gaussian blobs of std `spread` with centres on a circle of radius 1.5."""
    rng = np.random.default_rng(seed)
    y = np.arange(num_points) % num_classes
    angle = 2 * np.pi * y / num_classes + 0.3
    centres = 1.5 * np.stack([np.cos(angle), np.sin(angle)], 1)
    x = centres + spread * rng.standard_normal((num_points, 2))
    return ToyClassification(x.astype(np.float32), y.astype(np.int32))


class Intractability(NamedTuple):
    """What integrating the evidence on a grid would cost."""

    num_params: int  # d
    points_per_axis: int  # G
    log10_grid_points: float  # log10(G^d) = d·log10(G)
    log10_years: float  # log10 of the years at EVALUATIONS_PER_SECOND
    times_atoms: float  # log10(G^d / 10^80): how many universes' worth of atoms, as a power


def grid_cost(num_params: int, points_per_axis: int) -> Intractability:
    """The cost of the evidence ∫ P(D|θ)P(θ)dθ on a grid of G points per axis in d dims,
    in log10 so that it never overflows."""
    if num_params < 1 or points_per_axis < 2:
        raise ValueError("need num_params ≥ 1 and points_per_axis ≥ 2")
    log10_points = num_params * math.log10(points_per_axis)
    log10_years = log10_points - math.log10(EVALUATIONS_PER_SECOND * SECONDS_PER_YEAR)
    return Intractability(num_params, points_per_axis, log10_points, log10_years,
                          log10_points - LOG10_ATOMS_IN_UNIVERSE)


def grid_time_sentence(cost: Intractability) -> str:
    """How long the grid would take at `EVALUATIONS_PER_SECOND`, in words: years (as a power of
    ten, next to the age of the universe) when it is more than one, else seconds."""
    if cost.log10_years > 0:
        return (f"At 10⁹ likelihood evaluations a second this takes "
                f"**{format_power_of_ten(cost.log10_years)} years** (the universe is about "
                "1.4 × 10¹⁰ years old).")
    return (f"At 10⁹ likelihood evaluations a second this takes "
            f"{10 ** cost.log10_years * SECONDS_PER_YEAR:.2g} s.")


def format_power_of_ten(log10_value: float) -> str:
    """A human number for 10^log10_value: '12,345' when small, '10^123' (as 10¹²³) when not."""
    if log10_value < 6:
        return f"{10 ** log10_value:,.0f}" if log10_value >= 0 else f"{10 ** log10_value:.2g}"
    exponent = math.floor(log10_value)
    mantissa = 10 ** (log10_value - exponent)
    sup = str(exponent).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"{mantissa:.1f} × 10{sup}"


def pad_points(x: np.ndarray, size: int) -> np.ndarray:
    """x float32[n, 2] padded with zeros to float32[size, 2] (n ≤ size), so that a compiled
    function sees one shape whatever the number of points."""
    if len(x) > size:
        raise ValueError(f"{len(x)} points do not fit in {size}")
    return np.concatenate([x, np.zeros((size - len(x), x.shape[1]), x.dtype)])


def in_background(fn: Callable[[], T]) -> concurrent.futures.Future[T]:
    """Start fn() in a daemon thread now; the future holds its result (or its exception)."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def work() -> None:
        try:
            future.set_result(fn())
        except BaseException as err:  # noqa: BLE001 - handed to whoever reads the future
            future.set_exception(err)

    threading.Thread(target=work, daemon=True, name="bnnlab-background").start()
    return future


def time_warm(fn: Callable[[], T], repeats: int = 3) -> tuple[T, float]:
    """(fn(), the median seconds of `repeats` calls after a first, untimed one): the cost of
    the computation itself, without first-call costs (compilation, allocation)."""
    result = fn()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        seconds.append(time.perf_counter() - start)
    return result, float(np.median(seconds))


# ------------------------------------------------------------------ for d = 2 it is easy
# Chapter 3's logistic regression y ~ Bernoulli(σ(w·x + b)): two parameters, so its evidence is a
# 2-D integral that a grid computes in milliseconds.
EVIDENCE_GRIDS = (5, 10, 20, 50, 100, 200)  # points per axis G
EVIDENCE_NUM_POINTS = 40
EVIDENCE_LABEL_NOISE = 0.05  # label-flip probability of the drawn data
EVIDENCE_PRIOR_STD = 1.5
EVIDENCE_HALF_WIDTH = 7.5  # the grid covers [−7.5, 7.5]²


def evidence_on_grids(grids: tuple[int, ...] = EVIDENCE_GRIDS) -> list[tuple[int, float, float]]:
    """(G, log P(D), seconds) of the logistic regression's log evidence on a G×G grid, for each
    G in `grids`; the seconds are of warm calls (`time_warm`)."""
    data = exact_data.make_data("logistic", EVIDENCE_NUM_POINTS, EVIDENCE_LABEL_NOISE, seed=0)
    box = (-EVIDENCE_HALF_WIDTH, EVIDENCE_HALF_WIDTH, -EVIDENCE_HALF_WIDTH, EVIDENCE_HALF_WIDTH)
    rows = []
    for g in grids:
        grid, seconds = time_warm(functools.partial(
            quadrature.exact_posterior, data, "logistic", EVIDENCE_PRIOR_STD, size=g,
            num_refinements=0, box=box))
        rows.append((g, grid.log_evidence, seconds))
    return rows


def evidence_table_markdown(rows: list[tuple[int, float, float]]) -> str:
    """What `evidence_on_grids` shows, in words, and its rows as a markdown table."""
    lines = [f"| {g} × {g} = {g * g:,} | {log_evidence:.8f} | {seconds * 1000:.1f} ms |"
             for g, log_evidence, seconds in rows]
    return (
        "Logistic regression on 1-D data, y ~ Bernoulli(σ(w·x + b)), has two parameters. Here "
        f"is its log evidence on ever finer grids over [−{EVIDENCE_HALF_WIDTH:g}, "
        f"{EVIDENCE_HALF_WIDTH:g}]² (prior σ = {EVIDENCE_PRIOR_STD:g}, {EVIDENCE_NUM_POINTS} "
        "points): by G = 100 it has stopped changing, after only 10⁴ likelihood evaluations. "
        "The times were measured on this server (numpy, the median of three calls after a first "
        "one).\n\n| grid | log P(D) | time |\n|---|---|---|\n" + "\n".join(lines)
    )
