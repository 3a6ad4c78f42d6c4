"""The reference posterior: the No-U-Turn Sampler (Hoffman & Gelman 2014) from blackjax, with
Stan's windowed warm-up (step size by dual averaging, a diagonal mass matrix from the samples of
expanding "slow" windows; Stan Reference Manual, "HMC algorithm parameters"), run one transition
per `step` so that a caller can show progress and stop at any chunk boundary.

The sampler is blackjax's: `blackjax.mcmc.nuts.build_kernel` for a transition,
`dual_averaging_adaptation` and `mass_matrix_adaptation` for the warm-up, and blackjax's own
`build_schedule` for the windows. `blackjax.window_adaptation` runs the same warm-up as one
`lax.scan` to the end; here it is split into steps because a learner watches it.

Target: log P(θ | D) = log P(Y | X, θ) + log N(θ; 0, prior_std² I) + const (the true posterior
of the same BNN that VI approximates; a KL weight β ≠ 1 is not applied).

After `num_warmup` adaptation transitions each transition's position is kept in a ring buffer
of `buffer_size` draws (the latest ones); `sample` returns evenly spaced draws from it.

Shape of the API (as `bnnlab.vi`): `init`, `step(rng_key, state, ...) -> (HMCState, HMCInfo)`,
`sample(rng_key, state, num_samples)`; nothing here calls `jit`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from blackjax.adaptation.mass_matrix import MassMatrixAdaptationState, mass_matrix_adaptation
from blackjax.adaptation.staged_adaptation import build_schedule
from blackjax.adaptation.step_size import (
    DualAveragingAdaptationState,
    dual_averaging_adaptation,
)
from blackjax.mcmc import hmc as blackjax_hmc
from blackjax.mcmc import nuts as blackjax_nuts

from bnnlab.core.errors import ConfigError
from bnnlab.core.settings import Setting
from bnnlab.methods.base import (
    Algorithm,
    Batch,
    CostModel,
    Hyper,
    MethodSpec,
    Problem,
    Progress,
    Stat,
    Temper,
    Trace,
    Warmup,
    keyed_step,
    split_keys,
)

# logdensity_fn(theta float32[d]) -> float32[]: log P(Y|X,θ) + log P(θ), up to a constant.
LogDensityFn = Callable[[jax.Array], jax.Array]

WARMUP = Setting("hmc_warmup", int, 500, 0, 5_000, "HMC warm-up transitions",
                 help="Stan's adaptation of the step size and mass matrix; draws are kept after "
                      "it (steps in total include it)", step=50)
MAX_DOUBLINGS = Setting("hmc_max_doublings", int, 6, 1, 10, "NUTS max tree doublings",
                        help="A NUTS trajectory has at most 2^this leapfrog steps",
                        widget="slider", cost="doublings")
# Posterior temperature T (Wenzel et al. 2020): the chain samples p(θ|D)^{1/T}, its log density
# divided by T. The Compare page sets it for every method that takes one (`MethodSpec.temper`).
TEMPERATURE = Setting("temperature", float, 1.0, 0.1, 10.0, "Posterior temperature T",
                      help="HMC samples p(θ|D)^(1/T); 1 is Bayes", step=0.1, format="%.2f",
                      pages=())
TARGET_ACCEPTANCE = 0.8  # Stan's default for NUTS
INITIAL_STEP_SIZE = 0.1
MAX_BUFFER_FLOATS = 4_000_000  # the kept-draw buffer holds at most this many float32 (16 MB)


class Schedule(NamedTuple):
    """Stan's warm-up windows, one entry per warm-up transition (at least one entry)."""

    stage: jax.Array  # int32[W]: 0 fast window (step size only), 1 slow (mass matrix too)
    window_end: jax.Array  # bool[W]: a slow window ends here (update the mass matrix)


class HMCState(NamedTuple):
    """What the next transition needs, and the draws kept so far."""

    position: jax.Array  # float32[d]
    step_size: jax.Array  # float32[]
    inverse_mass_matrix: jax.Array  # float32[d] (diagonal)
    step_size_state: DualAveragingAdaptationState  # dual averaging (Hoffman & Gelman 2014)
    mass_matrix_state: MassMatrixAdaptationState  # Welford variance of the current window
    samples: jax.Array  # float32[C, d]: ring buffer of kept positions
    num_transitions: jax.Array  # int32[]: warm-up and sampling transitions so far
    num_kept: jax.Array  # int32[]: draws kept (may exceed C; the buffer keeps the latest)
    acceptance_sum: jax.Array  # float32[]: Σ acceptance rate over the current phase
    phase_transitions: jax.Array  # int32[]: transitions in the current phase
    num_divergent: jax.Array  # int32[]: divergent transitions after warm-up
    # PRNG key of the chain: transition t draws from fold_in(chain_key, t), so the chain is the
    # same however its transitions are cut into chunks (the CLI's fixed chunks, the
    # playground's chunks sized by time)
    chain_key: jax.Array


class HMCInfo(NamedTuple):
    """Diagnostics of one transition."""

    logdensity: jax.Array  # float32[]: log target at the new position
    acceptance_rate: jax.Array  # float32[]: mean Metropolis acceptance along the trajectory
    is_divergent: jax.Array  # bool[]
    num_integration_steps: jax.Array  # int32[]: leapfrog steps (≈ gradient evaluations)
    is_warmup: jax.Array  # bool[]: this transition adapted the step size / mass matrix


def buffer_size(dim: int, max_draws: int = 512) -> int:
    """Kept-draw capacity for d = `dim` parameters: ≤ `max_draws`, ≤ 16 MB, at least 16."""
    return int(np.clip(MAX_BUFFER_FLOATS // max(dim, 1), 16, max_draws))


def make_schedule(num_warmup: int) -> Schedule:
    """blackjax's (Stan's) window schedule for `num_warmup` transitions as arrays."""
    entries = np.asarray(build_schedule(num_warmup), np.int32).reshape(-1, 2) if num_warmup \
        else np.zeros((0, 2), np.int32)
    if len(entries) == 0:
        entries = np.zeros((1, 2), np.int32)
    return Schedule(jnp.asarray(entries[:, 0], jnp.int32), jnp.asarray(entries[:, 1] == 1))


def _adaptation():
    da = dual_averaging_adaptation(TARGET_ACCEPTANCE)
    mm = mass_matrix_adaptation(is_diagonal_matrix=True)
    return da, mm


def _as_float32(tree):
    return jax.tree.map(lambda v: jnp.asarray(v, jnp.float32)
                        if jnp.issubdtype(jnp.asarray(v).dtype, jnp.floating) else jnp.asarray(v),
                        tree)


def init(position: jax.Array, num_buffer: int,
         initial_step_size: float | jax.Array = INITIAL_STEP_SIZE,
         chain_key: jax.Array | None = None) -> HMCState:
    """Start a chain at `position: float32[d]` with room for `num_buffer` kept draws
    (`chain_key`: see `HMCState`; only the registry's algorithm draws from it)."""
    position = jnp.asarray(position, jnp.float32)
    dim = position.shape[-1]
    (da_init, _, _), (mm_init, _, _) = _adaptation()
    step_size = jnp.asarray(initial_step_size, jnp.float32)
    return HMCState(
        position=position,
        step_size=step_size,
        inverse_mass_matrix=jnp.ones(dim, jnp.float32),
        step_size_state=_as_float32(da_init(step_size)),
        mass_matrix_state=_as_float32(mm_init(dim)),
        samples=jnp.zeros((num_buffer, dim), jnp.float32),
        num_transitions=jnp.int32(0),
        num_kept=jnp.int32(0),
        acceptance_sum=jnp.float32(0.0),
        phase_transitions=jnp.int32(0),
        num_divergent=jnp.int32(0),
        chain_key=jax.random.key(0) if chain_key is None else chain_key,
    )


def step(
    rng_key: jax.Array,
    state: HMCState,
    logdensity_fn: LogDensityFn,
    *,
    num_warmup: int,
    schedule: Schedule,
    max_num_doublings: int,
) -> tuple[HMCState, HMCInfo]:
    """One NUTS transition; during the first `num_warmup` transitions also one step of the
    windowed adaptation (`schedule = make_schedule(num_warmup)`), afterwards the new position
    is kept. The log density and its gradient are recomputed at the start (one extra gradient
    per transition) so the data or prior may change between calls."""
    (da_init, da_update, da_final), (_, mm_update, mm_final) = _adaptation()
    kernel = blackjax_nuts.build_kernel()
    start = blackjax_hmc.init(state.position, logdensity_fn)
    new, info = kernel(rng_key, start, logdensity_fn, state.step_size,
                       state.inverse_mass_matrix, max_num_doublings)
    acceptance = jnp.asarray(info.acceptance_rate, jnp.float32)
    t = state.num_transitions
    in_warmup = t < num_warmup

    def adapt(_):
        index = jnp.minimum(t, schedule.stage.shape[0] - 1)
        da_state = _as_float32(da_update(state.step_size_state, acceptance))
        mm_state = jax.lax.cond(
            schedule.stage[index] == 1,
            lambda: _as_float32(mm_update(state.mass_matrix_state, new.position)),
            lambda: state.mass_matrix_state)
        step_size = jnp.exp(da_state.log_step_size)
        imm = state.inverse_mass_matrix

        def end_slow_window():
            # As blackjax's window adaptation: new mass matrix, dual averaging restarted.
            mm_new = _as_float32(mm_final(mm_state))
            da_new = _as_float32(da_init(da_final(da_state)))
            return da_new, mm_new, jnp.exp(da_new.log_step_size), mm_new.inverse_mass_matrix

        da_state, mm_state, step_size, imm = jax.lax.cond(
            schedule.window_end[index], end_slow_window,
            lambda: (da_state, mm_state, step_size, imm))
        # The last warm-up transition fixes the step size to the dual-averaging average.
        step_size = jnp.where(t == num_warmup - 1, jnp.exp(da_state.log_step_size_avg), step_size)
        return da_state, mm_state, step_size.astype(jnp.float32), imm.astype(jnp.float32)

    def keep(_):
        return (state.step_size_state, state.mass_matrix_state, state.step_size,
                state.inverse_mass_matrix)

    da_state, mm_state, step_size, imm = jax.lax.cond(in_warmup, adapt, keep, None)
    slot = state.num_kept % state.samples.shape[0]
    samples = jnp.where(in_warmup, state.samples,
                        jax.lax.dynamic_update_slice(state.samples, new.position[None], (slot, 0)))
    phase_start = t == num_warmup  # the first sampling transition starts the sampling phase
    acceptance_sum = jnp.where(phase_start, 0.0, state.acceptance_sum) + acceptance
    phase_transitions = jnp.where(phase_start, 0, state.phase_transitions) + 1
    divergent = jnp.asarray(info.is_divergent)
    new_state = HMCState(
        position=new.position.astype(jnp.float32),
        step_size=step_size,
        inverse_mass_matrix=imm,
        step_size_state=da_state,
        mass_matrix_state=mm_state,
        samples=samples,
        num_transitions=t + 1,
        num_kept=state.num_kept + jnp.where(in_warmup, 0, 1).astype(jnp.int32),
        acceptance_sum=acceptance_sum.astype(jnp.float32),
        phase_transitions=phase_transitions.astype(jnp.int32),
        num_divergent=state.num_divergent + (divergent & ~in_warmup).astype(jnp.int32),
        chain_key=state.chain_key,
    )
    return new_state, HMCInfo(jnp.asarray(new.logdensity, jnp.float32), acceptance, divergent,
                              jnp.asarray(info.num_integration_steps, jnp.int32), in_warmup)


def acceptance_rate(state: HMCState) -> jax.Array:
    """Mean acceptance over the current phase (warm-up, then sampling): float32[]."""
    return state.acceptance_sum / jnp.maximum(state.phase_transitions, 1)


def sample(rng_key: jax.Array, state: HMCState, num_samples: int) -> jax.Array:
    """`num_samples` evenly spaced kept draws, float32[num_samples, d]; before any draw is kept
    (still warming up), the current position repeated."""
    del rng_key
    filled = jnp.minimum(state.num_kept, state.samples.shape[0])
    index = (jnp.arange(num_samples) * jnp.maximum(filled, 1)) // num_samples
    draws = state.samples[index]
    return jnp.where(filled > 0, draws, jnp.broadcast_to(state.position, draws.shape))


# ------------------------------------------------------------------ the registry's algorithm

class TransitionInfo(NamedTuple):
    """What the engine records of one transition: `HMCInfo` and the target's two terms at the
    new position (float32[] each)."""

    logdensity: jax.Array  # log P(Y|X,θ) + log P(θ), with the prior's constant
    log_likelihood: jax.Array
    log_prior: jax.Array
    acceptance_rate: jax.Array
    is_divergent: jax.Array  # bool[]
    num_integration_steps: jax.Array  # int32[]
    is_warmup: jax.Array  # bool[]


def make_algorithm(problem: Problem) -> Algorithm:
    """NUTS with `problem.options["hmc_warmup"]` adaptation transitions and trajectories of at
    most 2**`hmc_max_doublings` leapfrog steps; one transition per step. With
    `problem.options["temperature"]` T the target is the tempered posterior p(θ|D)^{1/T}: the
    log density (log-likelihood + log prior) divided by T (Wenzel et al. 2020); T = 1 is
    today's posterior, operation for operation."""
    num_warmup = problem.options[WARMUP.name]
    max_doublings = problem.options[MAX_DOUBLINGS.name]
    temperature = float(problem.options[TEMPERATURE.name])
    schedule = make_schedule(num_warmup)
    num_buffer = buffer_size(problem.num_params)

    def step_key(rng_key: jax.Array, state: HMCState, batch: Batch, hyper: Hyper):
        del rng_key  # the chain's own key: the same chain whatever the chunking
        rng_key = jax.random.fold_in(state.chain_key, state.num_transitions)
        log_likelihood_fn = problem.log_likelihood_fn(batch)
        log_prior_fn = problem.log_prior_fn(hyper)
        if temperature == 1.0:
            target = lambda t: log_likelihood_fn(t) + log_prior_fn(t)  # noqa: E731
        else:
            target = lambda t: (log_likelihood_fn(t) + log_prior_fn(t)) / temperature  # noqa: E731
        new_state, info = step(rng_key, state, target, num_warmup=num_warmup, schedule=schedule,
                               max_num_doublings=max_doublings)
        log_prior = log_prior_fn(new_state.position)
        # info.logdensity is the tempered target; the charts' terms are the untempered parts.
        return new_state, TransitionInfo(info.logdensity, info.logdensity * temperature
                                         - log_prior, log_prior, *info[1:])

    return Algorithm(
        init=lambda rng_key, init_std: init(problem.initial_position(rng_key), num_buffer,
                                            chain_key=jax.random.fold_in(rng_key, 1)),
        step=keyed_step(split_keys, lambda keys, *a: step_key(keys, *a)),
        predictive_samples=sample, draw_noise=split_keys, step_from_noise=step_key,
        trace=lambda info: Trace(info.logdensity, info.log_likelihood, -info.log_prior),
        checked=lambda state: [state.position])


def report(cfg, state) -> dict:
    """The chain's diagnostics for the CLI's JSON."""
    chain = state.method_state
    return {"hmc_warmup": cfg.hmc_warmup, "hmc_samples": int(chain.num_kept),
            "acceptance_rate": float(acceptance_rate(chain)),
            "num_divergent": int(chain.num_divergent), "step_size": float(chain.step_size)}


def stats(cfg, state) -> list[Stat]:
    """What the playground shows beside the maps while the chain runs."""
    chain = report(cfg, state)
    return [
        Stat("Warm-up", f"{min(int(state.step), cfg.hmc_warmup):,} / {cfg.hmc_warmup:,}",
             "Adaptation transitions (step size, mass matrix); the map shows the chain's "
             "current position until draws are kept"),
        Stat("Draws kept", f"{chain['hmc_samples']:,}"),
        Stat("Acceptance", f"{chain['acceptance_rate']:.2f}",
             "Mean acceptance over the current phase (warm-up, then sampling); the warm-up "
             f"aims at {TARGET_ACCEPTANCE:g}"),
        Stat("Divergences", f"{chain['num_divergent']:,}",
             "Divergent transitions after warm-up: the sampler missed part of the posterior "
             "where they happen"),
    ]


def progress(cfg, state) -> Progress:
    """Warm-up, then draws kept, as a fraction and a line of text."""
    chain = report(cfg, state)
    done = int(state.step)
    if done < cfg.hmc_warmup:
        return Progress(done / max(cfg.hmc_warmup, 1), (
            f"HMC warm-up: {done:,} / {cfg.hmc_warmup:,} transitions · acceptance "
            f"{chain['acceptance_rate']:.2f} (target {TARGET_ACCEPTANCE:g}) · step size "
            f"{chain['step_size']:.3g}"))
    wanted = cfg.steps - cfg.hmc_warmup
    return Progress(min(chain["hmc_samples"] / max(wanted, 1), 1.0), (
        f"HMC samples drawn: {chain['hmc_samples']:,} / {wanted:,} · acceptance "
        f"{chain['acceptance_rate']:.2f} · step size {chain['step_size']:.3g} · divergent "
        f"{chain['num_divergent']}"))


def validate(cfg) -> None:
    """A run must keep at least one draw: more transitions than warm-up."""
    if cfg.steps <= cfg.hmc_warmup:
        raise ConfigError(f"HMC keeps no sample: steps ({cfg.steps}) must exceed hmc_warmup "
                          f"({cfg.hmc_warmup}); raise steps or lower hmc_warmup")


SPEC = MethodSpec(
    name="hmc", label="HMC (reference)",
    description="the No-U-Turn sampler (blackjax) with Stan's warm-up: the reference posterior",
    build=make_algorithm, settings=(WARMUP, MAX_DOUBLINGS, TEMPERATURE), uses_samples=False,
    # What HMC has: the tempered log target it samples, its two parts, and no KL weight β
    # (the sampler ignores it).
    trace_labels=("log target (log-likelihood + log prior)/T", "log-likelihood", "−log prior"),
    weighs_regulariser=False,  # β is VI's and the MAP family's; the chain targets prior × L
    report=report, stats=stats, progress=progress, validate=validate,
    cost=CostModel(
        # the trajectory's leapfrog steps plus the gradient at its start
        gradient_evaluations=lambda options: 2 ** options[MAX_DOUBLINGS.name] + 1,
        # position, mass matrix, Welford state and the kept-draw buffer
        state_floats=lambda options, num_params: (5 + buffer_size(num_params)) * num_params),
    warmup=Warmup(WARMUP.name, unit="transitions", steps_per_chunk=20),
    temper=Temper(lambda cfg, temperature: cfg.replace(temperature=float(temperature)),
                  "samples p(θ|D)^(1/T)"))
