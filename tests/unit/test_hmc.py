"""HMC/NUTS with windowed warm-up (bnnlab.hmc) against the exact quadrature posterior of
chapter 3's 2-parameter logistic regression."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bnnlab.lessons.exact import data as exact_data
from bnnlab.lessons.exact import model as exact_model
from bnnlab.lessons.exact import quadrature
from bnnlab.methods import hmc

PRIOR_STD = 2.0
NUM_WARMUP = 300
NUM_SAMPLES = 700


def _logdensity_fn(data: exact_data.ToyData):
    x = jnp.asarray(data.x, jnp.float32)
    y = jnp.asarray(data.y, jnp.float32)

    def logdensity(theta):
        terms = exact_model.log_likelihood_terms(jnp, "logistic", theta[0], theta[1], x, y, 1.0)
        return jnp.sum(terms) + exact_model.log_prior(jnp, theta[0], theta[1], PRIOR_STD)

    return logdensity


def _run_chain(data, seed: int):
    logdensity = _logdensity_fn(data)
    schedule = hmc.make_schedule(NUM_WARMUP)

    @jax.jit
    def run(key):
        state = hmc.init(jnp.zeros(2), num_buffer=NUM_SAMPLES)

        def body(state, k):
            state, info = hmc.step(k, state, logdensity, num_warmup=NUM_WARMUP,
                                   schedule=schedule, max_num_doublings=5)
            return state, (state.position, info)

        keys = jax.random.split(key, NUM_WARMUP + NUM_SAMPLES)
        return jax.lax.scan(body, state, keys)

    return run(jax.random.key(seed))


def _effective_sample_size(chain: np.ndarray) -> float:
    """Geyer's initial positive sequence estimate for one scalar chain."""
    x = chain - chain.mean()
    n = len(x)
    acf = np.correlate(x, x, "full")[n - 1:] / (x.var() * n)
    total = 0.0
    for lag in range(1, n - 1, 2):
        pair = acf[lag] + acf[lag + 1]
        if pair < 0:
            break
        total += pair
    return n / (1 + 2 * total)


@pytest.mark.slow
def test_hmc_matches_quadrature_posterior_within_monte_carlo_error():
    """Sample mean and std of NUTS draws equal the exact posterior's within 4 MC standard errors."""
    data = exact_data.make_data("logistic", 40, 0.0, seed=3)
    grid = quadrature.exact_posterior(data, "logistic", PRIOR_STD)
    density = grid.density * grid.cell_area
    t1, t2 = np.meshgrid(grid.theta1, grid.theta2)
    exact_mean = np.array([(density * t1).sum(), (density * t2).sum()])
    exact_std = np.sqrt(np.array([(density * (t1 - exact_mean[0]) ** 2).sum(),
                                  (density * (t2 - exact_mean[1]) ** 2).sum()]))
    state, (positions, info) = _run_chain(data, seed=0)
    draws = np.asarray(positions)[NUM_WARMUP:]
    assert int(state.num_kept) == NUM_SAMPLES
    np.testing.assert_allclose(np.asarray(state.samples), draws, rtol=0, atol=0)
    for i in range(2):
        ess = _effective_sample_size(draws[:, i])
        assert ess > 100, ess
        mean_error = exact_std[i] / np.sqrt(ess)
        assert abs(draws[:, i].mean() - exact_mean[i]) < 4 * mean_error
        # The std of a sample std is ≈ std / sqrt(2 ESS) for a near-Gaussian posterior.
        assert abs(draws[:, i].std() - exact_std[i]) < 4 * exact_std[i] / np.sqrt(2 * ess)
    acceptance = float(hmc.acceptance_rate(state))
    assert 0.6 < acceptance < 0.97, acceptance
    assert int(state.num_divergent) == 0


@pytest.mark.slow
def test_warmup_adapts_step_size_and_mass_matrix():
    """After warm-up the step size moved from its start and the mass matrix follows the posterior
    variances (the slow windows' Welford estimate)."""
    data = exact_data.make_data("logistic", 40, 0.0, seed=3)
    state, (_, info) = _run_chain(data, seed=1)
    assert float(state.step_size) != hmc.INITIAL_STEP_SIZE
    assert np.all(np.asarray(state.inverse_mass_matrix) != 1.0)
    assert bool(info.is_warmup[NUM_WARMUP - 1]) and not bool(info.is_warmup[NUM_WARMUP])


@pytest.mark.slow
def test_sample_before_any_draw_repeats_the_position_and_after_spreads_over_the_buffer():
    """`sample` returns the current position while warming up, then evenly spaced kept draws."""
    state = hmc.init(jnp.array([1.0, -2.0]), num_buffer=8)
    draws = hmc.sample(jax.random.key(0), state, 4)
    np.testing.assert_array_equal(np.asarray(draws), np.tile([1.0, -2.0], (4, 1)))
    filled = state._replace(samples=jnp.arange(16.0).reshape(8, 2), num_kept=jnp.int32(4))
    draws = np.asarray(hmc.sample(jax.random.key(0), filled, 2))
    np.testing.assert_array_equal(draws, [[0.0, 1.0], [4.0, 5.0]])


def test_schedule_has_one_entry_per_warmup_transition():
    """The window schedule is blackjax's, as arrays; zero warm-up still gives a valid array."""
    schedule = hmc.make_schedule(300)
    assert schedule.stage.shape == (300,) and int(schedule.window_end.sum()) >= 1
    assert hmc.make_schedule(0).stage.shape == (1,)


@pytest.mark.slow
def test_the_chain_does_not_depend_on_how_it_is_cut_into_chunks():
    """Same seed, same chain: chunks of 6 steps (the CLI's fixed K) and chunks of 1, 2 and 3
    (the playground sizes its chunks by time) reach the same position and kept draws."""
    from bnnlab.data import toy
    from bnnlab.training import config, engine

    cfg = config.TrainConfig(method="hmc", hidden=(4,), num_points=40, hmc_warmup=3, steps=6,
                             steps_per_chunk=6, hmc_max_doublings=3)
    data = toy.prepare(*toy.make("moons", 40, 0.15, 0), 0.25, 0)
    start = engine.start_run(cfg, data.x_train, data.y_train)
    whole, _ = start.engine.run_chunk(start.state, start.batch, start.hyper, jnp.int32(6))
    cut = start.state
    for n in (1, 2, 3):
        cut, _ = start.engine.run_chunk(cut, start.batch, start.hyper, jnp.int32(n))
    assert int(cut.step) == int(whole.step) == 6
    np.testing.assert_array_equal(np.asarray(cut.method_state.position),
                                  np.asarray(whole.method_state.position))
    np.testing.assert_array_equal(np.asarray(cut.method_state.samples),
                                  np.asarray(whole.method_state.samples))


@pytest.mark.slow
def test_trace_labels_say_what_the_trace_holds_and_beta_does_nothing():
    """HMC's chart labels are true of its trace: the objective is (log-likelihood + log
    prior)/T, the regulariser −log prior; and the KL weight β, which no label names, changes
    neither the chain nor its trace."""
    from bnnlab.data import toy
    from bnnlab.training import config, engine

    labels = hmc.SPEC.trace_labels
    assert labels == ("log target (log-likelihood + log prior)/T", "log-likelihood",
                      "−log prior")
    assert not any("β" in label for label in labels)
    data = toy.prepare(*toy.make("moons", 40, 0.15, 0), 0.25, 0)
    traces, positions = [], []
    for kl_weight in (1.0, 0.001):
        cfg = config.TrainConfig(method="hmc", hidden=(4,), num_points=40, hmc_warmup=3,
                                 steps=4, steps_per_chunk=4, hmc_max_doublings=3,
                                 temperature=2.0, kl_weight=kl_weight)
        start = engine.start_run(cfg, data.x_train, data.y_train)
        state, info = start.engine.run_chunk(start.state, start.batch, start.hyper,
                                             jnp.int32(4))
        trace = np.stack([np.asarray(info.objective), np.asarray(info.log_likelihood),
                          np.asarray(info.regulariser)]).astype(np.float64)
        np.testing.assert_allclose(2.0 * trace[0], trace[1] - trace[2], rtol=1e-5)
        traces.append(trace)
        positions.append(np.asarray(state.method_state.position))
    np.testing.assert_array_equal(traces[0], traces[1])
    np.testing.assert_array_equal(positions[0], positions[1])
