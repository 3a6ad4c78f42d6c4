"""Chapter 3's live fit as a library object: a `FitRun` owns Q's optimiser state and the float64
history of every term, and `advance` runs one compiled chunk; `exact_view`, `view_box`,
`run_signature` and `history` shape what the page draws, so that the page only binds widgets
(its words are in `text`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import numpy as np

from bnnlab.lessons.exact.data import ExactProblem, ToyData
from bnnlab.lessons.exact.decomposition import Decomposition, decompose
from bnnlab.lessons.exact.fitting import FitState, compiled_chunk, init, pad_data
from bnnlab.lessons.exact.gaussian import GaussianQ, as_q64, is_finite, q_covariance
from bnnlab.lessons.exact.quadrature import (
    PosteriorGrid,
    exact_posterior,
    mass_box,
    posterior_predictive,
)

MAX_STEPS = 3000  # a run pauses itself here
# The fitter's choices offered to a learner.
LEARNING_RATES = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
STEPS_PER_FRAME = (1, 2, 5, 10, 20, 50)
NODE_CHOICES = (4, 8, 16, 32)  # Gauss–Hermite nodes per axis, or Monte Carlo draws
# The terms `history` returns, named as `bnnlab.figures.toy.decomposition_figure` takes them.
HISTORY_TERMS = ("log_evidence", "elbo", "kl_posterior", "expected_log_likelihood", "kl_prior")


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


def start(problem: ExactProblem, grid: PosteriorGrid, q0: GaussianQ) -> FitRun:
    """A fresh run from `q0`, its terms recorded at step 0."""
    q0 = as_q64(q0)
    run = FitRun(init(q0), q0)
    run.record(0, q0, decompose(q0, grid, problem.model, problem.data, problem.prior_std,
                                problem.noise))
    return run


def advance(run: FitRun, problem: ExactProblem, grid: PosteriorGrid,
            settings: FitSettings) -> None:
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
    if not is_finite(q):
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


class ExactView(NamedTuple):
    """What the live section draws of the exact posterior (at T = 1)."""

    grid: PosteriorGrid
    x_line: np.ndarray  # float64[160]: `plot_line(data)`
    predictive: np.ndarray  # float64[160]: the exact predictive along x_line
    density: np.ndarray  # float32[G2, G1]: P(θ|D) at the grid's nodes (half float64's bytes)


def exact_view(problem: ExactProblem) -> ExactView:
    """The posterior grid, the x values of the data chart, the exact predictive there and the
    density to draw."""
    p = problem
    grid = exact_posterior(p.data, p.model, p.prior_std, p.noise)
    x_line = plot_line(p.data)
    return ExactView(grid, x_line, posterior_predictive(grid, p.model, x_line),
                     grid.density.astype(np.float32))


def run_signature(problem: ExactProblem, full_covariance: bool, q0: GaussianQ) -> tuple:
    """What a run depends on beyond its settings: a new dataset, model, prior, noise, Q family
    or starting Q gives a new signature, and the page then starts Q afresh."""
    p = problem
    return (p.model, p.data.x.tobytes(), p.data.y.tobytes(), p.prior_std, p.noise,
            full_covariance, *(np.asarray(a, np.float64).tobytes() for a in q0))


def history(run: FitRun) -> dict[str, np.ndarray]:
    """`steps` int[T] and each of HISTORY_TERMS float64[T], per recorded step."""
    return {"steps": np.asarray(run.steps),
            **{name: np.asarray(run.terms[name]) for name in HISTORY_TERMS}}


