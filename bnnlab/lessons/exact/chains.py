"""Chapter 3's Markov chains on the tempered posterior P_T(θ | D), every transition recorded.

- NUTS, the table's sampler: blackjax's No-U-Turn kernel (Hoffman & Gelman 2014) with its
  dual-averaging step-size warm-up, every trajectory recomputed so that a learner can watch it
  grow until it turns back on itself;
- HMC with a fixed number of leapfrog steps (Neal 2011, "MCMC using Hamiltonian dynamics"),
  kept for comparison and tests.

`make_*_chain` builds a pure chain function; `compiled_*_chain` jits it once per static
configuration (a cache shared by every session) and `run_hmc` / `run_nuts` call it on
`ToyData`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
from blackjax.adaptation.step_size import dual_averaging_adaptation
from blackjax.mcmc import integrators, metrics

from bnnlab.lessons.exact.data import ToyData
from bnnlab.lessons.exact.fitting import pad_data
from bnnlab.lessons.exact.model import log_likelihood_terms, log_prior

HMC_WARMUP = 100  # dual-averaging transitions (drawn, marked as warm-up)
HMC_SAMPLES = 400  # transitions kept as samples
HMC_LEAPFROG = 16  # leapfrog steps per trajectory
HMC_INITIAL_STEP_SIZE = 0.1
HMC_TARGET_ACCEPTANCE = 0.8
HMC_DIVERGENCE = 1000.0  # an energy error above this (nats) counts as a divergence


class HMCTrace(NamedTuple):
    """Every transition of one HMC chain (float32, from JAX); T = warm-up + samples."""

    trajectories: np.ndarray  # float32[T, L + 1, 2]: leapfrog positions, start to proposal
    positions: np.ndarray  # float32[T, 2]: the chain's state after each transition
    accepted: np.ndarray  # bool[T]: the proposal was accepted
    acceptance: np.ndarray  # float32[T]: min(1, exp(−ΔH))
    step_size: np.ndarray  # float32[T]: the leapfrog step size used
    warmup: np.ndarray  # bool[T]: a warm-up (step-size adaptation) transition
    divergent: np.ndarray  # bool[T]: energy error above HMC_DIVERGENCE

    @property
    def samples(self) -> np.ndarray:
        """float64[S, 2]: the states after warm-up."""
        return np.asarray(self.positions[~self.warmup], np.float64)


def tempered_logdensity(model: str, data: Any, prior_std: Any, noise: Any,
                        temperature: Any) -> Callable:
    """θ float32[2] → (log P(D|θ) + log P(θ)) / T: the tempered posterior's log density (up to
    log P(D)) that the HMC and NUTS chains sample."""
    def logdensity(theta):  # noqa: ANN001, ANN202
        ll = log_likelihood_terms(jnp, model, theta[0], theta[1], data.x, data.y, noise)
        return (jnp.sum(ll * data.mask) + log_prior(jnp, theta[0], theta[1], prior_std)
                ) / temperature
    return logdensity


def make_hmc_chain(model: str, num_warmup: int, num_samples: int,
                   num_leapfrog: int) -> Callable:
    """fn(rng_key, padded data, prior_std, noise, temperature, init_position float32[2]) →
    HMCTrace leaves (jax); jit it where used."""
    total = num_warmup + num_samples
    metric = metrics.default_metric(jnp.ones(2))
    da_init, da_update, da_final = dual_averaging_adaptation(target=HMC_TARGET_ACCEPTANCE)

    def chain(rng_key, data, prior_std, noise, temperature, init_position):  # noqa: ANN001, ANN202
        logdensity = tempered_logdensity(model, data, prior_std, noise, temperature)

        leapfrog = integrators.velocity_verlet(logdensity, metric.kinetic_energy)

        def transition(carry, inputs):  # noqa: ANN001, ANN202
            position, da_state = carry
            key, index = inputs
            warm = index < num_warmup
            step_size = jnp.where(warm, jnp.exp(da_state.log_step_size), da_final(da_state))
            key_momentum, key_accept = jax.random.split(key)
            momentum = metric.sample_momentum(key_momentum, position)
            value, grad = jax.value_and_grad(logdensity)(position)
            start = integrators.IntegratorState(position, momentum, value, grad)

            def one(state, _):  # noqa: ANN001, ANN202
                new = leapfrog(state, step_size)
                return new, new.position

            end, path = jax.lax.scan(one, start, None, length=num_leapfrog)
            energy_start = -value + metric.kinetic_energy(momentum)
            energy_end = -end.logdensity + metric.kinetic_energy(end.momentum)
            delta = jnp.where(jnp.isfinite(energy_end), energy_end - energy_start, jnp.inf)
            accept_prob = jnp.minimum(1.0, jnp.exp(-delta))
            accepted = jax.random.uniform(key_accept) < accept_prob
            new_position = jnp.where(accepted, end.position, position)
            da_state = jax.lax.cond(warm, lambda s: da_update(s, accept_prob), lambda s: s,
                                    da_state)
            trajectory = jnp.concatenate([position[None], path], 0)
            return (new_position, da_state), (trajectory, new_position, accepted, accept_prob,
                                              step_size, warm, delta > HMC_DIVERGENCE)

        keys = jax.random.split(rng_key, total)
        _, out = jax.lax.scan(transition, (init_position, da_init(HMC_INITIAL_STEP_SIZE)),
                              (keys, jnp.arange(total)))
        return out

    return chain


@functools.lru_cache(maxsize=16)
def compiled_hmc_chain(model: str, num_warmup: int = HMC_WARMUP, num_samples: int = HMC_SAMPLES,
                       num_leapfrog: int = HMC_LEAPFROG) -> Callable:
    """`make_hmc_chain` jitted once per static configuration (shared by every session)."""
    return jax.jit(make_hmc_chain(model, num_warmup, num_samples, num_leapfrog))


def run_hmc(data: ToyData, model: str, prior_std: float, noise: float, temperature: float,
            init_position: tuple[float, float], seed: int = 0, num_warmup: int = HMC_WARMUP,
            num_samples: int = HMC_SAMPLES, num_leapfrog: int = HMC_LEAPFROG) -> HMCTrace:
    """One HMC chain on P_T(θ | D) from `init_position`, every transition recorded."""
    fn = compiled_hmc_chain(model, num_warmup, num_samples, num_leapfrog)
    out = fn(jax.random.PRNGKey(seed), pad_data(data), prior_std, noise, temperature,
             jnp.asarray(init_position, jnp.float32))
    return HMCTrace(*(np.asarray(a) for a in out))


# ---------------------------------------------------------------------------- NUTS

NUTS_MAX_DOUBLINGS = 6  # a trajectory holds at most 2^6 = 64 leapfrog steps
NUTS_WARMUP = 100
NUTS_SAMPLES = 400
NUTS_TARGET_ACCEPTANCE = 0.9  # above HMC's 0.8: smaller steps, fewer divergences (tanh_unit)


class NUTSTrace(NamedTuple):
    """Every transition of one NUTS chain (float32; T = warm-up + samples, M = 2^d + 1).

    NUTS (Hoffman & Gelman 2014; blackjax's iterative multinomial version, Betancourt 2017)
    doubles the trajectory forwards or backwards in time until its two ends turn back towards
    each other (the U-turn: p₋·(θ₊ − θ₋) < 0 or p₊·(θ₊ − θ₋) < 0), then draws the next state
    from the whole trajectory. blackjax reports the trajectory's two ends (position and
    momentum); the states between them are recomputed here by leapfrog from the leftmost end
    with the same step size (the integrator is deterministic and reversible)."""

    trajectories: np.ndarray  # float32[T, M, 2]: the kept trajectory, leftmost to rightmost
    lengths: np.ndarray  # int32[T]: states on it (≤ M; the rest is padding)
    momenta: np.ndarray  # float32[T, 2, 2]: momentum at the leftmost and rightmost end
    positions: np.ndarray  # float32[T, 2]: the chain's state after each transition
    accepted: np.ndarray  # bool[T]: the chain moved (NUTS draws from the trajectory)
    acceptance: np.ndarray  # float32[T]: blackjax's mean Metropolis probability on it
    step_size: np.ndarray  # float32[T]
    warmup: np.ndarray  # bool[T]
    divergent: np.ndarray  # bool[T]
    turning: np.ndarray  # bool[T]: stopped by a U-turn (else: the depth limit or divergence)
    doublings: np.ndarray  # int32[T]: trajectory expansions
    integration_steps: np.ndarray  # int32[T]: leapfrog steps computed (kept or not)

    @property
    def samples(self) -> np.ndarray:
        """float64[S, 2]: the states after warm-up."""
        return np.asarray(self.positions[~self.warmup], np.float64)


def make_nuts_chain(model: str, num_warmup: int, num_samples: int,
                    max_doublings: int = NUTS_MAX_DOUBLINGS) -> Callable:
    """fn(rng_key, padded data, prior_std, noise, temperature, init_position float32[2]) →
    NUTSTrace leaves (jax): blackjax's NUTS kernel with an identity metric and dual-averaging
    step-size warm-up (target acceptance NUTS_TARGET_ACCEPTANCE); jit it where used."""
    total = num_warmup + num_samples
    max_steps = 2 ** max_doublings
    inverse_mass = jnp.ones(2)
    metric = metrics.default_metric(inverse_mass)
    kernel = blackjax.nuts.build_kernel(divergence_threshold=int(HMC_DIVERGENCE))
    da_init, da_update, da_final = dual_averaging_adaptation(target=NUTS_TARGET_ACCEPTANCE)

    def chain(rng_key, data, prior_std, noise, temperature, init_position):  # noqa: ANN001, ANN202
        logdensity = tempered_logdensity(model, data, prior_std, noise, temperature)

        leapfrog = integrators.velocity_verlet(logdensity, metric.kinetic_energy)

        def transition(carry, inputs):  # noqa: ANN001, ANN202
            state, da_state = carry
            key, index = inputs
            warm = index < num_warmup
            step_size = jnp.where(warm, jnp.exp(da_state.log_step_size), da_final(da_state))
            new, info = kernel(key, state, logdensity, step_size, inverse_mass, max_doublings)
            da_state = jax.lax.cond(warm, lambda s: da_update(s, info.acceptance_rate),
                                    lambda s: s, da_state)
            left, right = info.trajectory_leftmost_state, info.trajectory_rightmost_state

            def one(s, _):  # noqa: ANN001, ANN202
                s = leapfrog(s, step_size)
                return s, s.position

            _, path = jax.lax.scan(one, left, None, length=max_steps)
            path = jnp.concatenate([left.position[None], path], 0)
            # The kept trajectory ends at the rightmost state: the path's closest point to it.
            length = jnp.argmin(jnp.sum((path - right.position) ** 2, -1)) + 1
            moved = jnp.any(new.position != state.position)
            out = (path, length.astype(jnp.int32), jnp.stack([left.momentum, right.momentum]),
                   new.position, moved, info.acceptance_rate, step_size, warm,
                   info.is_divergent, info.is_turning,
                   info.num_trajectory_expansions.astype(jnp.int32),
                   info.num_integration_steps.astype(jnp.int32))
            return (new, da_state), out

        keys = jax.random.split(rng_key, total)
        state = blackjax.mcmc.hmc.init(init_position, logdensity)
        _, out = jax.lax.scan(transition, (state, da_init(HMC_INITIAL_STEP_SIZE)),
                              (keys, jnp.arange(total)))
        return out

    return chain


@functools.lru_cache(maxsize=16)
def compiled_nuts_chain(model: str, num_warmup: int = NUTS_WARMUP,
                        num_samples: int = NUTS_SAMPLES,
                        max_doublings: int = NUTS_MAX_DOUBLINGS) -> Callable:
    """`make_nuts_chain` jitted once per static configuration (shared by every session)."""
    return jax.jit(make_nuts_chain(model, num_warmup, num_samples, max_doublings))


def run_nuts(data: ToyData, model: str, prior_std: float, noise: float, temperature: float,
             init_position: tuple[float, float], seed: int = 0, num_warmup: int = NUTS_WARMUP,
             num_samples: int = NUTS_SAMPLES,
             max_doublings: int = NUTS_MAX_DOUBLINGS) -> NUTSTrace:
    """One NUTS chain on P_T(θ | D) from `init_position`, every trajectory recorded."""
    fn = compiled_nuts_chain(model, num_warmup, num_samples, max_doublings)
    out = fn(jax.random.PRNGKey(seed), pad_data(data), prior_std, noise, temperature,
             jnp.asarray(init_position, jnp.float32))
    return NUTSTrace(*(np.asarray(a) for a in out))
