"""What a method is, in blackjax's shape, and what the engine gives it.

A method is one module ending with its `SPEC`, a `MethodSpec`: a label, its own settings
(`bnnlab.core.settings.Setting`: each becomes a `TrainConfig` field, a CLI flag, a URL key and a
widget), and `build(problem) -> Algorithm`. An `Algorithm` is a bundle of pure functions for one
compiled configuration:

* `init(rng_key, init_std) -> State`
* `step(rng_key, state, batch, hyper) -> (State, Info)`, with the method's own `Info`
* `predictive_samples(rng_key, state, n) -> float32[n, d]` (posterior draws of θ)

plus what the engine needs around them: `draw_noise` / `step_from_noise` (a whole chunk's
random numbers in one draw, cheaper than K draws inside `lax.scan`), `trace` (the three numbers
every chart plots) and `checked` (the arrays a non-finite step would spoil). Nothing here jits.
Behaviour that cuts across methods is a wrapper around an `Algorithm` (`bnnlab.methods.wrappers`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from bnnlab.core import models
from bnnlab.core.settings import Setting


class Batch(NamedTuple):
    """Training data padded to the bucket size; padded rows have mask 0."""

    x: jax.Array  # float32[m, D]
    y: jax.Array  # float32[m], labels in 0…K−1
    mask: jax.Array  # float32[m]


class Hyper(NamedTuple):
    """Per-run hyperparameters, traced (float32[] each, or float32[B] batched): changing them
    never recompiles."""

    learning_rate: jax.Array
    kl_weight: jax.Array  # β: weight of the KL (VI) or of the prior penalty (MAP family)
    prior_std: jax.Array  # σ of the Gaussian prior N(0, σ² I) on every weight


class Trace(NamedTuple):
    """The three per-step numbers every method reports for the charts and the CLI (float32[]).

    objective: what the method ascends (VI: the ELBO; MAP, dropout, ensemble: log-likelihood −
      β · penalty; HMC: the log target density at the new position, up to a constant).
    log_likelihood: its data term (VI and dropout: a Monte Carlo average over draws).
    regulariser: its prior term (VI: KL(q ‖ p); MAP family: ‖θ‖² / (2σ²); HMC: −log p(θ)).
    `MethodSpec.trace_labels` names them for each method.
    """

    objective: jax.Array
    log_likelihood: jax.Array
    regulariser: jax.Array


# (logits float32[m] or [m, K], batch) -> float32[]: Σ_i mask_i · log P(y_i | logit_i).
LikelihoodFn = Callable[[jax.Array, Batch], jax.Array]
# θ float32[d] -> float32[]: log P(Y | X, θ) summed over the data.
LogLikelihoodFn = Callable[[jax.Array], jax.Array]


@dataclasses.dataclass(frozen=True)
class Problem:
    """Everything static a method builds on: the network, the likelihood, the sample count and
    the method's own compiled-in settings (`options`: its settings' names and values)."""

    model: models.MLP
    flat: models.FlatMLP
    log_likelihood: LikelihoodFn
    num_samples: int
    options: dict[str, Any]
    optimizer: optax.GradientTransformation

    @property
    def num_params(self) -> int:
        return self.flat.num_params

    def initial_position(self, rng_key: jax.Array) -> jax.Array:
        """Flax's default initialisation, flattened: float32[d]."""
        return models.initial_position(self.model, rng_key)

    def log_likelihood_fn(self, batch: Batch) -> LogLikelihoodFn:
        """θ float32[d] -> log P(Y | X, θ) summed over the batch: float32[]."""
        return lambda theta: self.log_likelihood(self.flat.logits_fn(theta, batch.x), batch)

    def log_prior_fn(self, hyper: Hyper) -> Callable[[jax.Array], jax.Array]:
        """θ -> log N(θ; 0, σ² I), with its constant: float32[]."""
        def log_prior(theta: jax.Array) -> jax.Array:
            sigma = hyper.prior_std
            return (-0.5 * jnp.sum(jnp.square(theta / sigma))
                    - theta.shape[-1] * jnp.log(sigma * jnp.sqrt(2 * jnp.pi)))
        return log_prior


def _whole(state: Any) -> tuple[Any, None]:
    return state, None


def _join_whole(rest: None, trained: Any, moved: jax.Array) -> Any:
    del rest, moved
    return trained


class Algorithm(NamedTuple):
    """One method compiled for one `Problem`: pure functions, jitted by the caller.

    `split` and `join` say which part of the state training steps change: by default all of
    it. A method that keeps a fitted posterior beside what it trains (Laplace) is built with
    `wrappers.trained_part`, so that the engine's scan carries only the trained part.
    """

    # (rng_key, init_std float32[]) -> State
    init: Callable[..., Any]
    # (rng_key, trained, batch, hyper) -> (trained, Info)
    step: Callable[..., tuple[Any, Any]]
    # (rng_key, state, num_samples static) -> θ float32[num_samples, d]
    predictive_samples: Callable[..., jax.Array]
    # (rng_key, num_steps static) -> noise with a leading axis num_steps
    draw_noise: Callable[..., Any]
    # (noise for one step, trained, batch, hyper) -> (trained, Info)
    step_from_noise: Callable[..., tuple[Any, Any]]
    # Info -> Trace
    trace: Callable[[Any], Trace]
    # trained -> list of arrays that must stay finite
    checked: Callable[[Any], list[jax.Array]]
    # Optional post-training fit, (state, batch, hyper) -> State: a posterior built once the
    # training steps are done (linearised Laplace around the MAP network). None: nothing to fit.
    fit: Callable[..., Any] | None = None
    # Optional predictive that is not "the network at sampled θ": (rng_key, state,
    # x float32[n, D], num_samples static) -> logits float32[S, n] (or [S, n, K]), e.g. the
    # linearised network of Laplace. None: the network evaluated at `predictive_samples`.
    predictive_logits: Callable[..., jax.Array] | None = None
    # state -> (trained, rest); (rest, trained, moved bool[]) -> state
    split: Callable[[Any], tuple[Any, Any]] = _whole
    join: Callable[[Any, Any, jax.Array], Any] = _join_whole


def keyed_step(draw_noise, step_from_noise):
    """`step(rng_key, …)` from a chunk-wise noise draw: one step's worth of noise."""
    def step(rng_key, state, batch, hyper):
        noise = jax.tree.map(lambda a: a[0], draw_noise(rng_key, 1))
        return step_from_noise(noise, state, batch, hyper)
    return step


def split_keys(rng_key: jax.Array, num_steps: int) -> jax.Array:
    """One PRNG key per step: the default noise for methods that draw inside their step."""
    return jax.random.split(rng_key, num_steps)


def no_noise(rng_key: jax.Array, num_steps: int) -> jax.Array:
    """For deterministic steps: float32[num_steps, 0]."""
    del rng_key
    return jnp.zeros((num_steps, 0), jnp.float32)


# ------------------------------------------------------------------ what the pages read


class CostModel(NamedTuple):
    """What one step of the method costs, for the cost budget (`bnnlab.training.cost`).
    `options`: the method's settings, name -> value."""

    # likelihood gradients per step (HMC: one per leapfrog step of the longest trajectory)
    gradient_evaluations: Callable[[dict], int] = lambda options: 1
    # networks evaluated side by side per draw (an ensemble: M)
    parallel_copies: Callable[[dict], int] = lambda options: 1
    # (options, num_samples, num_params, num_units) -> random numbers drawn per step
    noise_floats: Callable[[dict, int, int, int], int] = (
        lambda options, num_samples, num_params, num_units: 0)
    # (options, num_params) -> float32 numbers in the method's state
    state_floats: Callable[[dict, int], int] = lambda options, num_params: 3 * num_params


class Stat(NamedTuple):
    """One number a method shows about its run, beside the maps (e.g. HMC's acceptance)."""

    label: str
    value: str
    help: str = ""


class Progress(NamedTuple):
    """How far a run has come in the method's own terms (e.g. HMC's warm-up, then draws)."""

    fraction: float  # 0 to 1
    text: str


class Warmup(NamedTuple):
    """A sampler's warm-up: transitions that adapt it before it keeps draws. Its steps count
    the warm-up; on the Compare page it runs warm-up + the draws asked for."""

    setting: str  # the TrainConfig field holding the number of warm-up steps
    unit: str = "transitions"  # what one step is called on the pages
    steps_per_chunk: int = 20  # steps per chunk on the Compare page (each is costly)


class Temper(NamedTuple):
    """How a method takes a posterior temperature T (Wenzel et al. 2020): `apply(cfg, T) ->
    cfg`, and what that means, in a phrase for the page ("samples p(θ|D)^(1/T)")."""

    apply: Callable[[Any, float], Any]
    says: str


class Curve(NamedTuple):
    """A curve a fit draws (Laplace: the log evidence over prior σ): float arrays and labels."""

    x: Any
    y: Any
    best: float  # the x the fit chose
    x_label: str
    y_label: str
    title: str
    subtitle: str = ""


class Fit(NamedTuple):
    """A posterior fitted once training is done (`Algorithm.fit`), and what the page says of it.

    label: the button that runs it ("Make this network Bayesian").
    takes_over: methods whose trained network it can fit (Laplace: MAP).
    details: method state -> dict (`fitted` at least), e.g. the evidence curve.
    before: what the page says before the fit (markdown).
    after: details -> what the page says once fitted (markdown, after "fitted in … ms: ").
    prior_std: details -> the prior σ the fitted posterior was built with (None: the run's).
    curve: details -> the `Curve` to draw, or None.
    caption: a line under it (the method's references).
    """

    label: str
    details: Callable[[Any], dict]
    before: str
    after: Callable[[dict], str]
    takes_over: tuple[str, ...] = ()
    prior_std: Callable[[dict], float | None] = lambda details: None
    curve: Callable[[dict], Curve | None] = lambda details: None
    caption: str = ""


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """A registry entry: everything the CLI, the pages, the URL parser and the engine know of a
    method comes from here (docs/ADDING_A_METHOD.md).

    The maths:
      build: Problem -> Algorithm.
      settings: its own `TrainConfig` fields (compiled into its engine: changing one
        recompiles); each is a CLI flag, a URL key and a widget.
      uses_samples: whether `num_samples` draws enter each training step (else the engine is
        built with 1, so the slider does not recompile it).
      uses_init_std: whether `init_std` sets its initial posterior σ (VI).
      num_draws: (options, requested samples) -> distinct posterior draws behind a predictive
        (MAP: 1, an ensemble: M).
      weight_marginals: method state -> (mean float[d], std float[d]) of the weight posterior
        when the method has them in closed form (VI, Laplace, MAP: std 0); None: estimated
        from `predictive_samples` (HMC's kept draws, an ensemble's members).
      validate: cfg -> None, raising ConfigError for a run that cannot do what it says.
      cost: the cost model's view of one step (`CostModel`).
    What it says of a run:
      trace_labels: chart names of `Trace`'s objective, log-likelihood and regulariser.
      weighs_regulariser: whether β (`kl_weight`) multiplies the regulariser in its
        objective (VI's KL, the MAP family's penalty); HMC's target ignores β.
      report: (cfg, train state) -> extra CLI JSON fields (e.g. HMC's acceptance rate).
      stats: (cfg, train state) -> `Stat`s shown beside the live maps (None: none).
      progress: (cfg, train state) -> `Progress` (None: steps against the step budget).
    What it can do:
      warmup: a sampler's `Warmup` (None: every step counts).
      temper: how it takes a posterior temperature (None: it ignores one).
      fit: a posterior fitted after training (`Fit`; None: none).
    """

    name: str
    label: str
    description: str
    build: Callable[[Problem], Algorithm]
    settings: tuple[Setting, ...] = ()
    uses_samples: bool = True
    uses_init_std: bool = False
    num_draws: Callable[[dict, int], int] = lambda options, num_samples: num_samples
    weight_marginals: Callable[[Any], tuple[Any, Any]] | None = None
    validate: Callable[[Any], None] = lambda cfg: None
    cost: CostModel = CostModel()
    trace_labels: tuple[str, str, str] = ("objective", "log-likelihood", "regulariser")
    weighs_regulariser: bool = True
    report: Callable[[Any, Any], dict] = lambda cfg, state: {}
    stats: Callable[[Any, Any], list[Stat]] | None = None
    progress: Callable[[Any, Any], Progress] | None = None
    warmup: Warmup | None = None
    temper: Temper | None = None
    fit: Fit | None = None

    def regulariser_term(self, kl_weight: float) -> tuple[float, str]:
        """The objective's third line as the chart draws it: the factor on the regulariser
        (−β, or −1 where β does nothing) and its name ("−β·KL(q ‖ prior)", or for HMC's
        "−log prior" regulariser "log prior")."""
        name = self.trace_labels[2]
        if self.weighs_regulariser:
            return -float(kl_weight), ("β·" + name[1:] if name.startswith("−") else "−β·" + name)
        return -1.0, (name[1:] if name.startswith("−") else "−" + name)

    @property
    def static_fields(self) -> tuple[str, ...]:
        """The `TrainConfig` fields compiled into this method's engine: its settings."""
        return tuple(setting.name for setting in self.settings)

    def options(self, cfg: Any) -> dict[str, Any]:
        """Its settings' values in `cfg`, name -> value."""
        return {name: getattr(cfg, name) for name in self.static_fields}
