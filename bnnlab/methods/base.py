"""What a method is, in blackjax's shape, and what the engine gives it.

A method is a `MethodSpec` (one per module, e.g. `bnnlab.vi.SPEC`): a label, the `TrainConfig`
fields compiled into its engine (`static_fields`), and `build(problem) -> Algorithm`. An
`Algorithm` is a bundle of pure functions for one compiled configuration:

* `init(rng_key, init_std) -> State`
* `step(rng_key, state, batch, hyper) -> (State, Info)`, with the method's own `Info`
* `predictive_samples(rng_key, state, n) -> float32[n, d]` (posterior draws of θ)

plus what the engine needs around them: `draw_noise` / `step_from_noise` (a whole chunk's
random numbers in one draw, cheaper than K draws inside `lax.scan`), `trace` (the three numbers
every chart plots) and `checked` (the arrays a non-finite step would spoil). Nothing here jits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from bnnlab import models


class Batch(NamedTuple):
    """Training data padded to the bucket size; padded rows have mask 0."""

    x: jax.Array  # float32[m, 2]
    y: jax.Array  # float32[m], labels in {0, 1}
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


# log_likelihood(logits float32[m], batch) -> float32[]: Σ_i mask_i · log P(y_i | logit_i).
LikelihoodFn = Callable[[jax.Array, Batch], jax.Array]


@dataclasses.dataclass(frozen=True)
class Problem:
    """Everything static a method builds on: the network, the likelihood, the sample count and
    the method's own compiled-in settings (`options`, the spec's `static_fields`)."""

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

    def log_likelihood_fn(self, batch: Batch) -> Callable[[jax.Array], jax.Array]:
        """θ float32[d] -> log P(Y | X, θ) summed over the batch: float32[]."""
        return lambda theta: self.log_likelihood(self.flat.logits_fn(theta, batch.x), batch)

    def log_prior_fn(self, hyper: Hyper) -> Callable[[jax.Array], jax.Array]:
        """θ -> log N(θ; 0, σ² I), with its constant: float32[]."""
        def log_prior(theta: jax.Array) -> jax.Array:
            sigma = hyper.prior_std
            return (-0.5 * jnp.sum(jnp.square(theta / sigma))
                    - theta.shape[-1] * jnp.log(sigma * jnp.sqrt(2 * jnp.pi)))
        return log_prior


class Algorithm(NamedTuple):
    """One method compiled for one `Problem`: pure functions, jitted by the caller."""

    # (rng_key, init_std float32[]) -> State
    init: Callable[..., Any]
    # (rng_key, state, batch, hyper) -> (State, Info)
    step: Callable[..., tuple[Any, Any]]
    # (rng_key, state, num_samples static) -> θ float32[num_samples, d]
    predictive_samples: Callable[..., jax.Array]
    # (rng_key, num_steps static) -> noise with a leading axis num_steps
    draw_noise: Callable[..., Any]
    # (noise for one step, state, batch, hyper) -> (State, Info)
    step_from_noise: Callable[..., tuple[Any, Any]]
    # Info -> Trace
    trace: Callable[[Any], Trace]
    # State -> list of arrays that must stay finite
    checked: Callable[[Any], list[jax.Array]]
    # Optional post-training fit, (state, batch, hyper) -> State: a posterior built once the
    # training steps are done (linearised Laplace around the MAP network). The engine jits it
    # as `Engine.fit_posterior`; the CLI calls it after the last step, the playground at the
    # end of a run and on "Make this network Bayesian". None: nothing to fit.
    fit: Callable[..., Any] | None = None
    # Optional predictive that is not "the network at sampled θ": (rng_key, state,
    # x float32[n, D], num_samples static) -> logits float32[S, n] (or [S, n, K]), e.g. the
    # linearised network of Laplace. None: the network evaluated at `predictive_samples`.
    predictive_logits: Callable[..., jax.Array] | None = None
    # Optional: the part of State that training steps change, `trained_part(State) -> Part`,
    # and `join_part(State, Part, moved bool[]) -> State`. When given, `step`,
    # `step_from_noise`, `trace` and `checked` work on the Part, and the engine's scan carries
    # only it (Laplace: the MAP state, not the fit's k×k eigenvectors).
    trained_part: Callable[[Any], Any] | None = None
    join_part: Callable[..., Any] | None = None


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


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """A registry entry: what the CLI, the widgets, the URL parser and the engine read.

    name: the key in URLs, the CLI and `TrainConfig.method`.
    label: the one text shown for the method everywhere.
    description: one line for help texts.
    static_fields: `TrainConfig` fields compiled into the engine (changing one recompiles).
    uses_samples: whether `num_samples` draws enter each training step (else the engine is
      built with 1, so the slider does not recompile it).
    build: Problem -> Algorithm.
    num_draws: (options, requested samples) -> distinct posterior draws behind a predictive
      (MAP: 1, an ensemble: M).
    trace_labels: chart names of `Trace`'s objective, log-likelihood and regulariser.
    report: (cfg, state) -> extra CLI JSON fields (e.g. HMC's acceptance rate).
    validate: cfg -> None, raising `config.ConfigError` for a run that cannot do what it says.
    The cost model (`config.chunk_cost`) reads the last four:
    gradient_evaluations: options -> likelihood gradients per step (HMC: one per leapfrog step
      of the longest trajectory, and one at its start).
    parallel_copies: options -> networks evaluated side by side per draw (an ensemble: M).
    noise_floats: (options, num_samples, num_params, num_units) -> random numbers per step.
    state_floats: (options, num_params) -> float32 numbers in the method's state.
    fit_label: the button that runs the algorithm's post-training `fit` (None: it has none).
    fit_details: method state -> dict for the page after a fit (e.g. Laplace's evidence curve).
    weight_marginals: method state -> (mean float[d], std float[d]) of the weight posterior when
      the method has them in closed form (VI, Laplace, MAP: std 0); None: estimated from
      `predictive_samples` (HMC's kept draws, an ensemble's members).
    """

    name: str
    label: str
    description: str
    build: Callable[[Problem], Algorithm]
    static_fields: tuple[str, ...] = ()
    uses_samples: bool = True
    num_draws: Callable[[dict, int], int] = lambda options, num_samples: num_samples
    trace_labels: tuple[str, str, str] = ("objective", "log-likelihood", "regulariser")
    report: Callable[[Any, Any], dict] = lambda cfg, state: {}
    validate: Callable[[Any], None] = lambda cfg: None
    gradient_evaluations: Callable[[dict], int] = lambda options: 1
    parallel_copies: Callable[[dict], int] = lambda options: 1
    noise_floats: Callable[[dict, int, int, int], int] = (
        lambda options, num_samples, num_params, num_units: 0)
    state_floats: Callable[[dict, int], int] = lambda options, num_params: 3 * num_params
    fit_label: str | None = None
    # methods whose trained network this one can take over and fit (Laplace: ("map",))
    fits_from: tuple[str, ...] = ()
    fit_details: Callable[[Any], dict] | None = None
    weight_marginals: Callable[[Any], tuple[Any, Any]] | None = None
