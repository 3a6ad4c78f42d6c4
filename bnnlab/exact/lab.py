"""Chapter 3's live fit as a library object: a `FitRun` owns Q's optimiser state and the float64
history of every term, and `advance` runs one compiled chunk; the page only binds widgets."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import numpy as np

from bnnlab.exact.data import ToyData
from bnnlab.exact.fitting import FitState, init, make_chunk_fn, pad_data
from bnnlab.exact.quadrature import (
    Decomposition,
    GaussianQ,
    PosteriorGrid,
    as_q64,
    decompose,
    mass_box,
    q_covariance,
)

MAX_STEPS = 3000  # a run pauses itself here


@functools.lru_cache(maxsize=64)
def compiled_chunk(model: str, full_covariance: bool, estimator: str, num_samples: int,
                   num_steps: int) -> Callable:
    """One jitted K-step chunk per static configuration, shared by every session (lr, prior σ,
    noise and data are arguments, so they never recompile)."""
    return jax.jit(make_chunk_fn(model=model, full_covariance=full_covariance,
                                 estimator=estimator, num_samples=num_samples,
                                 num_steps=num_steps))


@dataclass(frozen=True)
class Problem:
    """The posterior being approximated: the data, the model and its hyperparameters."""

    data: ToyData
    model: str
    prior_std: float
    noise: float


@dataclass(frozen=True)
class FitSettings:
    """How Q is fitted (static ones pick a compiled chunk)."""

    full_covariance: bool
    estimator: str
    num_samples: int
    steps_per_chunk: int
    learning_rate: float
    seed: int


@dataclass
class FitRun:
    """One fit of Q: the optimiser state, and per recorded step Q's mean and every term."""

    state: FitState
    q: GaussianQ  # the latest Q (float64)
    steps: list[int] = field(default_factory=list)
    means: list[np.ndarray] = field(default_factory=list)  # float64[2] each
    terms: dict[str, list[float]] = field(default_factory=dict)
    chunks: int = 0
    error: str | None = None

    @property
    def step(self) -> int:
        return self.steps[-1]

    @property
    def finished(self) -> bool:
        return self.step >= MAX_STEPS or self.error is not None

    def latest(self, name: str) -> float:
        return self.terms[name][-1]

    def record(self, step: int, q: GaussianQ, dec: Decomposition) -> None:
        self.q = q
        self.steps.append(step)
        self.means.append(np.asarray(q.mean, np.float64))
        for name, values in dec._asdict().items():
            self.terms.setdefault(name, []).append(values[0].item())


def start(problem: Problem, grid: PosteriorGrid, q0: GaussianQ) -> FitRun:
    """A fresh run from `q0`, its terms recorded at step 0."""
    q0 = as_q64(q0)
    run = FitRun(init(q0), q0)
    run.record(0, q0, decompose(q0, grid, problem.model, problem.data, problem.prior_std,
                                problem.noise))
    return run


def advance(run: FitRun, problem: Problem, grid: PosteriorGrid, settings: FitSettings) -> None:
    """One compiled chunk of `steps_per_chunk` steps; the chunk's last Q is decomposed in
    float64 and recorded. A non-finite Q stops the run with `run.error` set."""
    if run.finished:
        return
    fn = compiled_chunk(problem.model, settings.full_covariance, settings.estimator,
                        settings.num_samples, settings.steps_per_chunk)
    key = jax.random.fold_in(jax.random.PRNGKey(settings.seed), run.chunks)
    run.chunks += 1
    state, _ = fn(key, run.state, pad_data(problem.data), problem.prior_std, problem.noise,
                  settings.learning_rate)
    q = as_q64(state.q)
    if not all(np.isfinite(a).all() for a in q):
        run.error = "The step diverged (non-finite Q); lower the learning rate and Reset."
        return
    run.state = state
    run.record(run.step + settings.steps_per_chunk, q,
               decompose(q, grid, problem.model, problem.data, problem.prior_std,
                         problem.noise))


def view_box(grid: PosteriorGrid, q0: GaussianQ) -> tuple[float, float, float, float]:
    """The plotted box: where the posterior has mass and where Q starts (±2.5 σ)."""
    box = mass_box(grid, tail_mass=1e-4, pad=0.3)
    mean = np.asarray(q0.mean, np.float64)
    reach = 2.5 * np.sqrt(np.diag(q_covariance(q0)))
    return (min(box[0], mean[0] - reach[0]), max(box[1], mean[0] + reach[0]),
            min(box[2], mean[1] - reach[1]), max(box[3], mean[1] + reach[1]))


def plot_line(data: ToyData) -> np.ndarray:
    """The x values at which the predictives are drawn: float64[160] covering the data."""
    return np.linspace(min(data.x.min(), -3.0) - 0.5, max(data.x.max(), 3.0) + 0.5, 160)
