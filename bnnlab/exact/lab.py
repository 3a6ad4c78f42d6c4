"""Chapter 3's live fit as a library object: a `FitRun` owns Q's optimiser state and the float64
history of every term, and `advance` runs one compiled chunk; the page only binds widgets."""

from __future__ import annotations

import functools
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import jax
import numpy as np

from bnnlab.exact import methods
from bnnlab.exact.data import ToyData
from bnnlab.exact.fitting import FitState, init, make_chunk_fn, pad_data
from bnnlab.exact.quadrature import (
    Decomposition,
    GaussianQ,
    PosteriorGrid,
    as_q64,
    decompose,
    mass_box,
    posterior_predictive,
    q_covariance,
)
from bnnlab.text import fmt
from bnnlab.wire import encode_floats, encode_grid

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


class Comparison:
    """Every method of `methods.METHODS` on P_T(θ | D): the rows of the table, computed lazily.

    Only the exact posterior is computed on construction (~0.1 s). `row(method)` runs one
    method on first use (the one a learner looks at), and `fill_in_background()` runs the rest
    on a thread so that the table fills without holding the page's script thread (not a
    daemon: a JAX call cut off at interpreter exit aborts the process).
    Thread-safe: one lock per method, so a row is computed once even when the page and the
    background thread ask for it together."""

    def __init__(self, problem: Problem, temperature: float, q0: GaussianQ, seed: int) -> None:
        from bnnlab.exact.quadrature import exact_posterior

        self.problem = problem
        self.temperature = methods.check_temperature(temperature)
        self.q0, self.seed = q0, seed
        p = problem
        self.grid = exact_posterior(p.data, p.model, p.prior_std, p.noise,
                                    temperature=self.temperature)
        self.rows: dict[str, methods.MethodResult] = {}
        self.errors: dict[str, str] = {}
        self._locks = {m: threading.Lock() for m in methods.METHODS}
        self._background: threading.Thread | None = None
        self.id = uuid.uuid4().hex[:12]  # the player reloads its image when this changes
        self._lines: dict[tuple[str, bytes], np.ndarray] = {}
        self._tables: dict[float, list[dict[str, object]]] = {}
        self._payloads: dict[tuple, dict] = {}
        self._density: dict[tuple, dict] = {}

    # ------------------------------------------------------------------ computing rows
    def row(self, method: str) -> methods.MethodResult | None:
        """The method's row, computed now if it is not yet (None if it failed: `errors`)."""
        if method not in self._locks:
            raise ValueError(f"unknown method {method!r}; choose one of {methods.METHODS}")
        with self._locks[method]:
            if method not in self.rows and method not in self.errors:
                p = self.problem
                try:
                    self.rows[method] = methods.run_method(
                        method, self.grid, p.data, p.model, p.prior_std, p.noise, 0.0,
                        self.q0, self.seed)
                except Exception as err:  # noqa: BLE001 - shown in the table, never raised
                    self.errors[method] = f"{type(err).__name__}: {err}"
        return self.rows.get(method)

    def fill_in_background(self) -> None:
        """Start (once) a thread computing every row not computed yet."""
        if self._background is None:
            self._background = threading.Thread(
                target=lambda: [self.row(m) for m in methods.METHODS], daemon=False,
                name=f"ch3-comparison-{self.id}")
            self._background.start()

    @property
    def done(self) -> int:
        """How many of the methods have a row (or an error)."""
        return len(self.rows) + len(self.errors)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the background thread (if any) has finished (tests, benchmarks)."""
        if self._background is not None:
            self._background.join(timeout)

    # --------------------------------------------------------------------- reading rows
    def line(self, method: str, x: np.ndarray) -> np.ndarray:
        """Predictive of `method` (or "exact") along x float64[m], memoised (NaN while the
        method has no row)."""
        key = (method, x.tobytes())
        if key not in self._lines:
            if method == "exact":
                value = posterior_predictive(self.grid, self.problem.model, x)
            elif (row := self.rows.get(method)) is None:
                return np.full(x.shape, np.nan)
            else:
                value = methods.line_predictive(row, self.problem.model, x)
            self._lines[key] = value
        return self._lines[key]

    def table(self, x_star: float) -> list[dict[str, object]]:
        """One dict per method (exact first), for st.dataframe; NaN where a method has no
        value, "computing…" in `evidence kind` while its row is not there yet. Memoised once
        every row is in."""
        key = float(x_star)
        if key in self._tables:
            return self._tables[key]
        rows = self._table(key)
        if self.done == len(methods.METHODS):
            self._tables[key] = rows
        return rows

    def _table(self, x_star: float) -> list[dict[str, object]]:
        p = self.problem
        exact_pred = methods.exact_predictive_at(self.grid, p.model, x_star)
        rows: list[dict[str, object]] = [{
            "method": "Exact (quadrature)", "KL(Q‖P)": 0.0, "KL(P‖Q)": 0.0,
            "log evidence": self.grid.log_evidence, "evidence kind": "exact",
            "pred. at x*": exact_pred, "error": 0.0,
            "far entropy": methods.far_entropy_exact(self.grid, p.data, p.model,
                                                              p.noise),
            "wall (s)": math.nan}]
        for name in methods.METHODS:
            row = self.rows.get(name)
            if row is None:
                rows.append({"method": methods.METHOD_LABELS[name], "KL(Q‖P)": math.nan,
                             "KL(P‖Q)": math.nan, "log evidence": math.nan,
                             "evidence kind": (f"failed: {self.errors[name]}"
                                               if name in self.errors else "computing…"),
                             "pred. at x*": math.nan, "error": math.nan,
                             "far entropy": math.nan, "wall (s)": math.nan})
                continue
            pred = methods.predictive_at(row, p.model, x_star)
            rows.append({"method": methods.METHOD_LABELS[name], "KL(Q‖P)": row.kl_reverse,
                         "KL(P‖Q)": row.kl_forward, "log evidence": row.evidence,
                         "evidence kind": row.evidence_kind, "pred. at x*": pred,
                         "error": pred - exact_pred,
                         "far entropy": methods.far_entropy(row, p.data, p.model,
                                                                      p.noise),
                         "wall (s)": row.wall_s})
        return rows

    # ------------------------------------------------------------ the posterior view
    def view_payload(self, method: str, box: tuple[float, float, float, float],
                     size: int = 96) -> dict:
        """What `ui.posterior_view` draws for `method` (compact base64 arrays), memoised:
        the posterior image (the browser keeps it while `density_id` is unchanged), and the
        method's Gaussian (mean, covariance) or its NUTS chain. Call `row(method)` first."""
        key = (method, tuple(float(b) for b in box), size)
        if key not in self._payloads:
            row = self.rows.get(method)
            payload = {**self._density_payload(box, size), "method": method,
                       "title": methods.METHOD_LABELS[method], "gaussian": None,
                       "chain": None, "note": ""}
            if row is None:
                payload["note"] = self.errors.get(method, "not computed")
            elif row.q is not None:
                payload["gaussian"] = {"mean": [float(v) for v in np.asarray(row.q.mean)],
                                       "cov": [float(v) for v in
                                               q_covariance(row.q).ravel()]}
            elif row.trace is not None:
                payload["chain"] = self._chain_payload(row.trace)
            else:
                payload["note"] = row.evidence_kind
            if row is None and method not in self.errors:
                return payload  # not computed yet: not memoised
            self._payloads[key] = payload
        return self._payloads[key]

    def _density_payload(self, box: tuple[float, float, float, float], size: int) -> dict:
        key = (tuple(float(b) for b in box), size)
        if key not in self._density:
            p = self.problem
            _, _, density = methods.display_density(self.grid, p.data, p.model, p.prior_std,
                                                    p.noise, box, size)
            self._density[key] = {
                "density_id": f"{self.id}-{hash(key) & 0xffffffff:x}",
                "box": [float(b) for b in box], "nx": size, "ny": size,
                "density": encode_grid(density, float(density.max()) or 1.0)}
        return self._density[key]

    def _chain_payload(self, trace: methods.NUTSTrace) -> dict:
        """The NUTS chain: each kept trajectory's states concatenated (offsets from
        `lengths`), the end momenta, the chain's states and the per-transition flags."""
        lengths = trace.lengths.astype(np.int64)
        paths = np.concatenate([trace.trajectories[t, :n] for t, n in enumerate(lengths)])

        def bits(a: np.ndarray) -> str:
            return "".join("1" if v else "0" for v in a)

        return {"id": self.id, "total": int(lengths.size), "warmup": int(trace.warmup.sum()),
                "init": [float(v) for v in np.asarray(self.q0.mean)],
                "max_doublings": methods.NUTS_MAX_DOUBLINGS,
                "lengths": [int(n) for n in lengths],
                "doublings": [int(n) for n in trace.doublings],
                "paths": encode_floats(paths.astype(np.float32)),
                "momenta": encode_floats(trace.momenta.astype(np.float32)),
                "positions": encode_floats(trace.positions.astype(np.float32)),
                "step_size": encode_floats(trace.step_size.astype(np.float32)),
                "moved": bits(trace.accepted), "divergent": bits(trace.divergent),
                "turning": bits(trace.turning)}


def derivation(run: FitRun, grid_nodes: tuple[int, int]) -> list[tuple[str, str]]:
    """The derivation of log P(D) = ELBO + KL with the run's latest numbers, as
    ("markdown" | "latex", text) items for the page to render in order."""
    t = {name: run.latest(name) for name in run.terms}
    gap = t["elbo"] + t["kl_posterior"] - t["log_evidence"]
    kl_rule = ("a sum over the posterior grid" if t["on_grid"] else
               "Q's own midpoint rule (Q reaches beyond the posterior grid)")
    return [
        ("markdown", f"At step {run.step}, with Q = N(μ, Σ), "
                     f"μ = ({fmt(run.q.mean[0])}, {fmt(run.q.mean[1])}):"),
        ("markdown", f"**1.** The evidence is an integral over θ; a {grid_nodes[0]}×"
                     f"{grid_nodes[1]} product rule evaluates it:"),
        ("latex", r"\log P(D) = \log \int P(Y\mid X,\theta)\,P(\theta)\,d\theta = "
                  f"{t['log_evidence']:.5f}"),
        ("markdown", "**2.** Bayes' rule, P(θ|D) = P(D, θ) / P(D), holds at every θ, so for any "
                     "density Q, taking E_Q of log P(D) = log P(D, θ) − log P(θ|D) and adding "
                     "and subtracting log Q(θ):"),
        ("latex", r"\log P(D) = \underbrace{\mathbb{E}_Q\!\left[\log\frac{P(D,\theta)}"
                  r"{Q(\theta)}\right]}_{\text{ELBO}} + \underbrace{\mathbb{E}_Q\!\left[\log"
                  r"\frac{Q(\theta)}{P(\theta\mid D)}\right]}"
                  r"_{\mathrm{KL}(Q\,\|\,P(\theta\mid D))}"),
        ("markdown", "**3.** The ELBO splits into a data-fit term and a prior term, neither of "
                     "which needs P(D):"),
        ("latex", r"\text{ELBO} = \mathbb{E}_Q[\log P(Y\mid X,\theta)] - \mathrm{KL}(Q\,\|\,"
                  rf"P(\theta)) = {fmt(t['expected_log_likelihood'], 5)} - "
                  rf"{fmt(t['kl_prior'], 5)} = {fmt(t['elbo'], 5)}"),
        ("markdown", "**4.** The gap is a KL divergence, so it is ≥ 0 and the ELBO is a lower "
                     "bound:"),
        ("latex", rf"{fmt(t['elbo'], 5)} + {fmt(t['kl_posterior'], 5)} = "
                  rf"{fmt(t['elbo'] + t['kl_posterior'], 5)} \;=\; \log P(D) = "
                  f"{t['log_evidence']:.5f}"),
        ("markdown", "How each number was computed, independently of the others: "
                     "E_Q[log P(Y|X,θ)] by a trapezoid rule in Q's own coordinates "
                     f"({t['num_nodes']:.0f}² nodes, refined until two levels agree); "
                     "KL(Q‖P(θ)) in closed form; KL(Q‖P(θ|D)) = Σ Q(θ) log(Q(θ)/P(θ|D)) w by "
                     f"its definition, on {kl_rule}; log P(D) on the posterior grid. They "
                     f"agree to {abs(gap):.1e}."),
        ("markdown", "**5.** log P(D) does not depend on Q. So **raising the ELBO is the same as "
                     "lowering KL(Q ‖ P(θ|D))** — an optimisation we can do with gradients, "
                     "without ever computing the intractable integral. This KL is the *reverse* "
                     "KL: it charges Q for putting mass where the posterior has little, so on a "
                     "two-mode posterior a Gaussian Q picks one mode rather than straddling "
                     "both (compare the forward-KL row below)."),
    ]
