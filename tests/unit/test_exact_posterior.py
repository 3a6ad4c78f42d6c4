"""Tests for bnnlab.lessons.exact: exact quadrature references, the ELBO decomposition and the
Gaussian Q fit."""

import functools
import math

import jax
import numpy as np
import pytest

from bnnlab.lessons.exact import data as exact_data
from bnnlab.lessons.exact import decomposition, fitting, gaussian, quadrature
from bnnlab.lessons.exact import model as exact_model


@functools.cache
def _grid(model: str,
          size: int = 200) -> tuple[exact_data.ToyData, quadrature.PosteriorGrid, float, float]:
    prior_std, noise = (1.5, 0.5) if model == "linear" else (1.5, 1.0)
    noise_gen = noise if model == "linear" else 0.05
    data = exact_data.make_data(model, 40, noise_gen, seed=0)
    grid = quadrature.exact_posterior(data, model, prior_std, noise, size=size)
    return data, grid, prior_std, noise


def _fit(model: str, q0: gaussian.GaussianQ, *, full_covariance: bool, num_chunks: int,
         estimator: str = "gauss_hermite", num_samples: int = 8, learning_rate: float = 0.02):
    data, _, prior_std, noise = _grid(model)
    chunk = jax.jit(fitting.make_chunk_fn(model=model, full_covariance=full_covariance,
                                     estimator=estimator, num_samples=num_samples,
                                     num_steps=50))
    state = fitting.init(q0)
    for i in range(num_chunks):
        state, info = chunk(jax.random.PRNGKey(i), state, fitting.pad_data(data), prior_std, noise,
                            learning_rate)
    return state, info


def test_quadrature_evidence_matches_closed_form():
    """Grid log P(D) for Bayesian linear regression equals the closed form to 1e-6 relative."""
    data, grid, prior_std, noise = _grid("linear")
    exact = quadrature.linear_regression_log_evidence(data, prior_std, noise)
    assert abs(grid.log_evidence / exact - 1.0) < 1e-6


def test_grid_posterior_integrates_to_one():
    """The grid posterior density sums to 1 over the grid for every model."""
    for model in exact_data.MODELS:
        grid = _grid(model)[1]
        assert abs(np.sum(grid.mass) - 1.0) < 1e-12


def test_grid_posterior_moments_match_conjugate_posterior():
    """The grid posterior's mean and covariance equal linear regression's closed form."""
    data, grid, prior_std, noise = _grid("linear")
    mean, cov = quadrature.linear_regression_posterior(data, prior_std, noise)
    t1, t2 = np.meshgrid(grid.theta1, grid.theta2)
    w = grid.mass
    m = np.array([np.sum(w * t1), np.sum(w * t2)])
    c = np.array([[np.sum(w * (t1 - m[0]) ** 2), np.sum(w * (t1 - m[0]) * (t2 - m[1]))],
                  [np.sum(w * (t1 - m[0]) * (t2 - m[1])), np.sum(w * (t2 - m[1]) ** 2)]])
    np.testing.assert_allclose(m, mean, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(c, cov, rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize("model", exact_data.MODELS)
def test_elbo_plus_kl_equals_log_evidence_for_random_q(model):
    """ELBO + KL(Q‖posterior) = log P(D) to 1e-5 for random Q, most of them summed on the grid."""
    data, grid, prior_std, noise = _grid(model)
    rng = np.random.default_rng(1)
    box = quadrature.mass_box(grid, tail_mass=1e-2, pad=0.0)
    edges = np.array([[grid.theta1[0], grid.theta1[-1]], [grid.theta2[0], grid.theta2[-1]]])
    cell = max(np.median(np.diff(grid.theta1)), np.median(np.diff(grid.theta2)))
    on_grid = 0
    for _ in range(10):
        mean = np.array([rng.uniform(box[0], box[1]), rng.uniform(box[2], box[3])])
        room = np.min(np.abs(edges - mean[:, None]), axis=1) / 8.0  # Q's ±8σ inside the grid
        std = tuple(rng.uniform(3 * cell, np.maximum(room, 3.5 * cell)))
        q = gaussian.make_q(tuple(mean), std, rng.uniform(-0.8, 0.8))
        dec = decomposition.decompose(q, grid, model, data, prior_std, noise)
        on_grid += int(dec.on_grid[0])
        assert abs(dec.elbo[0] + dec.kl_posterior[0] - dec.log_evidence[0]) < 1e-5
        assert dec.kl_posterior[0] > 0
    assert on_grid >= 5


def test_q_rule_and_grid_expectations_agree():
    """For a Q inside the grid, E_Q[log lik] by Q's rule equals the sum over the grid to 1e-6."""
    data, grid, prior_std, noise = _grid("logistic")
    q = gaussian.make_q((2.0, 0.0), (0.3, 0.3), 0.3)
    fits, _, weight = decomposition.q_fits_grid(q, grid)
    assert fits
    on_grid = np.sum(weight * grid.log_likelihood)
    dec = decomposition.decompose(q, grid, "logistic", data, prior_std, noise)
    assert abs(dec.expected_log_likelihood[0] - on_grid) < 1e-6


def test_kl_to_prior_closed_form_matches_grid_sum():
    """The closed-form KL(Q‖P(θ)) equals Σ Q log(Q/P(θ)) ΔA on a fine grid."""
    q = gaussian.make_q((0.5, -0.7), (0.6, 0.9), 0.4)
    axis = np.linspace(-9, 9, 401)
    t1, t2 = np.meshgrid(axis, axis)
    log_q = gaussian.q_log_density(q, t1, t2)
    log_p = exact_model.log_prior(np, t1, t2, 1.3)
    grid_kl = np.sum(np.exp(log_q) * (log_q - log_p)) * (axis[1] - axis[0]) ** 2
    assert abs(gaussian.kl_to_prior(np, q, 1.3) - grid_kl) < 1e-9


def test_fit_increases_elbo_and_decreases_kl():
    """Fitting a full-covariance Q raises the exact ELBO and lowers KL(Q‖posterior)."""
    data, grid, prior_std, noise = _grid("logistic")
    q0 = gaussian.make_q((-1.0, 1.0), (1.0, 1.0))
    state, _ = _fit("logistic", q0, full_covariance=True, num_chunks=6)
    before = decomposition.decompose(q0, grid, "logistic", data, prior_std, noise)
    after = decomposition.decompose(state.q, grid, "logistic", data, prior_std, noise)
    assert after.elbo[0] > before.elbo[0] + 1.0
    assert after.kl_posterior[0] < 0.1 * before.kl_posterior[0]


@pytest.mark.slow
def test_monte_carlo_fit_increases_elbo():
    """The reparameterised Monte Carlo estimator also raises the exact ELBO."""
    data, grid, prior_std, noise = _grid("logistic")
    q0 = gaussian.make_q((-1.0, 1.0), (1.0, 1.0))
    state, _ = _fit("logistic", q0, full_covariance=False, num_chunks=6,
                    estimator="monte_carlo", num_samples=16)
    before = decomposition.decompose(q0, grid, "logistic", data, prior_std, noise)
    after = decomposition.decompose(state.q, grid, "logistic", data, prior_std, noise)
    assert np.isfinite(after.elbo[0]) and after.elbo[0] > before.elbo[0] + 1.0


def test_conjugate_full_covariance_q_reaches_the_posterior():
    """On linear regression a full-covariance Q converges to the exact Gaussian posterior."""
    data, grid, prior_std, noise = _grid("linear")
    state, _ = _fit("linear", gaussian.make_q((0.0, 0.0), (0.5, 0.5)), full_covariance=True,
                    num_chunks=20, learning_rate=0.05)
    dec = decomposition.decompose(state.q, grid, "linear", data, prior_std, noise)
    assert dec.kl_posterior[0] < 1e-3


def test_bimodal_posterior_has_two_mirror_modes():
    """The one-hidden-unit posterior has two modes, θ and −θ, each holding half the mass."""
    _, grid, _, _ = _grid("tanh_unit")
    modes = quadrature.posterior_modes(grid)
    assert len(modes) == 2
    np.testing.assert_allclose(modes[0], -modes[1], atol=2 * np.max(np.diff(grid.theta1)))
    t1, t2 = np.meshgrid(grid.theta1, grid.theta2)
    mass = np.sum(grid.mass * (t1 * modes[0][0] + t2 * modes[0][1] > 0))
    assert abs(mass - 0.5) < 1e-3


def test_mean_field_q_locks_onto_one_mode():
    """Fitted from between the modes, a mean-field Q puts > 99.9% of its mass in one mode."""
    data, grid, prior_std, noise = _grid("tanh_unit")
    state, _ = _fit("tanh_unit", gaussian.make_q((-1.0, 1.0), (1.0, 1.0)), full_covariance=False,
                    num_chunks=10)
    mode = quadrature.posterior_modes(grid)[0]
    mean = np.asarray(state.q.mean, np.float64)
    cov = gaussian.q_covariance(gaussian.GaussianQ(*(np.asarray(a, np.float64) for a in state.q)))
    # Q's mass on each side of the line through 0 that separates θ from −θ (a 1-D normal).
    proj_mean, proj_std = mean @ mode, math.sqrt(mode @ cov @ mode)
    minority = 0.5 * math.erfc(abs(proj_mean) / proj_std / math.sqrt(2))
    assert minority < 1e-3
    assert np.isclose(float(state.q.off_diagonal), 0.0)
    dec = decomposition.decompose(state.q, grid, "tanh_unit", data, prior_std, noise)
    assert dec.kl_posterior[0] > 0.5


def test_jitted_step_is_finite_and_keeps_mean_field_diagonal():
    """One jitted step returns finite float32 leaves and leaves off_diagonal at 0 for mean-field."""
    data = exact_data.make_data("logistic", 30, 0.1, seed=3)
    step = jax.jit(functools.partial(fitting.step, model="logistic", full_covariance=False,
                                     estimator="monte_carlo", num_samples=4))
    state, info = step(jax.random.PRNGKey(0), fitting.init(gaussian.make_q((0.0, 0.0), (1.0, 1.0))),
                       fitting.pad_data(data), prior_std=1.0, noise=1.0, learning_rate=0.1)
    assert all(np.isfinite(np.asarray(a)).all() for a in state.q)
    assert state.q.mean.dtype == np.float32 and float(state.q.off_diagonal) == 0.0
    assert int(state.step) == 1 and np.isfinite(float(info.elbo))


@pytest.mark.slow
def test_padding_does_not_change_the_objective():
    """Padded points (mask 0) contribute nothing: the ELBO equals the unpadded float64 value."""
    data, _, prior_std, noise = _grid("logistic")
    q = gaussian.make_q((1.0, 0.2), (0.5, 0.4))
    nodes, weights = gaussian.gauss_hermite_rule(8)
    padded = fitting.pad_data(data)
    loss, _ = fitting.negative_elbo(fitting.init(q).q, padded, nodes.astype(np.float32),
                               weights.astype(np.float32), model="logistic",
                               prior_std=prior_std, noise=noise)
    ref = gaussian.expected_log_likelihood(np, q, "logistic", data.x, data.y, np.ones_like(data.x),
                                     noise, nodes, weights) - gaussian.kl_to_prior(np, q, prior_std)
    assert abs(-float(loss) - ref) < 1e-4 * abs(ref)


@pytest.mark.parametrize("text, message", [
    ("", "no points"),
    ("1, 0\nabc, 1", "line 2: not a number"),
    ("1, 0, 3", "expected two numbers"),
    ("nan, 1", "finite"),
    ("1, 0.5", "0 or 1"),
    ("99, 1", "x must lie"),
    ("\n".join(["0.1, 1"] * (exact_data.MAX_POINTS + 1)), "too many"),
])
def test_parse_points_rejects_bad_input(text, message):
    """Bad point lists raise ValueError with a message naming the problem."""
    with pytest.raises(ValueError, match=message):
        exact_data.parse_points(text, "logistic")


def test_parse_points_round_trips_format_points():
    """format_points then parse_points returns the same data (to the printed precision)."""
    data = exact_data.make_data("linear", 12, 0.3, seed=2)
    back = exact_data.parse_points(exact_data.format_points(data), "linear")
    np.testing.assert_allclose(back.x, data.x, atol=5e-4)
    np.testing.assert_allclose(back.y, data.y, atol=5e-4)


# ------------------------------------------------------- a wide Q that spills off the grid


def _wide_q_case():
    data = exact_data.make_data("tanh_unit", 40, 0.05, 0)
    grid = quadrature.exact_posterior(data, "tanh_unit", 1.5)
    return data, grid, gaussian.make_q((-1.0, 1.0), (2.0, 2.0))


@pytest.mark.slow
def test_wide_q_terms_match_a_fine_independent_rule():
    """A Q spilling outside the grid: ELBO and KL(Q‖P(θ|D)) match a 513² unwarped trapezoid
    reference (E_Q[log lik] = −45.3871)."""
    data, grid, q = _wide_q_case()
    nodes, weights = gaussian.whitened_rule(513)
    ell_ref = float(gaussian.expected_log_likelihood(np, q, "tanh_unit", data.x, data.y,
                                               np.ones_like(data.x), 1.0, nodes, weights))
    assert abs(ell_ref + 45.3871) < 1e-3  # the reference itself is the known value
    dec = decomposition.decompose(q, grid, "tanh_unit", data, 1.5)
    kl_prior = float(gaussian.kl_to_prior(np, q, 1.5))
    assert not dec.on_grid[0] and dec.converged[0]
    assert abs(dec.elbo[0] - (ell_ref - kl_prior)) < 1e-5
    assert abs(dec.kl_posterior[0] - (kl_prior - ell_ref + grid.log_evidence)) < 1e-5


def test_identity_check_compares_independent_terms(monkeypatch):
    """KL(Q‖P(θ|D)) is not derived from the ELBO: an error in E_Q[log lik] shows in the check."""
    data, grid, q = _wide_q_case()
    honest = decomposition.decompose(q, grid, "tanh_unit", data, 1.5)
    assert abs(honest.elbo[0] + honest.kl_posterior[0] - honest.log_evidence[0]) < 1e-6
    real = gaussian.expected_log_likelihood_converged
    monkeypatch.setattr(decomposition, "expected_log_likelihood_converged",
                        lambda *a, **k: real(*a, **k)._replace(value=real(*a, **k).value + 0.01))
    broken = decomposition.decompose(q, grid, "tanh_unit", data, 1.5)
    assert abs(broken.elbo[0] + broken.kl_posterior[0] - broken.log_evidence[0] - 0.01) < 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tanh_unit", "logistic"])
@pytest.mark.parametrize("num_points, prior_std", [(5, 0.3), (5, 3.0), (200, 0.3), (200, 3.0),
                                                   (120, 3.0)])
def test_log_evidence_correct_at_slider_extremes(model, num_points, prior_std):
    """log P(D) on the default grid equals a 3× finer grid's to 5e-6 (every shown decimal)."""
    data = exact_data.make_data(model, num_points, 0.05, 0)
    grid = quadrature.exact_posterior(data, model, prior_std)
    fine = quadrature.exact_posterior(data, model, prior_std, size=601)
    assert abs(grid.log_evidence - fine.log_evidence) < 5e-6


@pytest.mark.parametrize("num_points, prior_std, noise", [(5, 0.3, 0.1), (200, 3.0, 0.1),
                                                          (5, 3.0, 2.0), (200, 0.3, 2.0)])
def test_linear_log_evidence_at_slider_extremes(num_points, prior_std, noise):
    """Linear regression's grid log P(D) equals the closed form at the sliders' extremes."""
    data = exact_data.make_data("linear", num_points, noise, 0)
    grid = quadrature.exact_posterior(data, "linear", prior_std, noise)
    exact = quadrature.linear_regression_log_evidence(data, prior_std, noise)
    assert abs(grid.log_evidence - exact) < 5e-6


@pytest.mark.slow
@pytest.mark.parametrize("model", exact_data.MODELS)
def test_full_covariance_fit_reaches_the_mean_field_optimum(model):
    """Full covariance contains mean-field: from the page's default start (Q at (−1, 1), σ 1,
    8 nodes, lr 0.02) its fitted ELBO is at least mean-field's."""
    noise = 0.5 if model == "linear" else 1.0
    data = exact_data.make_data(model, 40, noise if model == "linear" else 0.05, 0)
    grid = quadrature.exact_posterior(data, model, 1.0, noise)
    elbos = {}
    for full in (False, True):
        chunk = jax.jit(fitting.make_chunk_fn(model=model, full_covariance=full,
                                         estimator="gauss_hermite", num_samples=8, num_steps=100))
        state = fitting.init(gaussian.make_q((-1.0, 1.0), (1.0, 1.0)))
        for i in range(30):
            state, _ = chunk(jax.random.PRNGKey(i), state, fitting.pad_data(data), 1.0, noise, 0.02)
        elbos[full] = decomposition.decompose(state.q, grid, model, data, 1.0, noise).elbo[0]
    assert elbos[True] >= elbos[False] - 1e-3


def test_use_points_keeps_the_last_valid_points():
    """Bad text falls back to the generated data, then, once points parsed, to those points,
    with a message saying which; classifiers and regression remember their own points."""
    generated = exact_data.make_data("logistic", 10, 0.1, seed=0)
    memory: dict = {}
    data, error = exact_data.use_points("abc", "logistic", generated, memory)
    assert data is generated and error.endswith("Using the generated data instead.")
    good, error = exact_data.use_points("0.5, 1\n-1, 0", "logistic", generated, memory)
    assert error is None and good.x.tolist() == [0.5, -1.0]
    data, error = exact_data.use_points("1, 0.3", "tanh_unit", generated, memory)
    assert data is good and "0 or 1" in error and error.endswith("Keeping the last valid points.")
    data, error = exact_data.use_points("", "linear", generated, memory)
    assert data is generated and "no points" in error
