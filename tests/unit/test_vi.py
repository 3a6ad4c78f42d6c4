"""bnnlab.vi against exact references: closed-form KL, the ELBO's parts, and a conjugate model
(Bayesian linear regression with known noise) whose posterior and evidence are known exactly."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from bnnlab.methods import vi


def test_kl_matches_monte_carlo():
    """Analytic KL(q‖prior) equals a 400k-sample Monte Carlo estimate within 4 standard errors."""
    rng = np.random.default_rng(0)
    mean = rng.normal(size=5)
    std = rng.uniform(0.2, 1.5, size=5)
    prior_std = 0.7
    analytic = float(vi.kl_to_prior(jnp.asarray(mean), jnp.asarray(std), prior_std))
    theta = mean + std * rng.normal(size=(400_000, 5))
    log_q = -0.5 * np.sum(((theta - mean) / std) ** 2 + 2 * np.log(std) + np.log(2 * np.pi), 1)
    log_p = -0.5 * np.sum((theta / prior_std) ** 2 + 2 * np.log(prior_std) + np.log(2 * np.pi), 1)
    diff = log_q - log_p
    assert abs(diff.mean() - analytic) < 4 * diff.std() / np.sqrt(len(diff))


def test_kl_is_zero_at_the_prior():
    """KL(q‖prior) is 0 when q is the prior itself."""
    kl = vi.kl_to_prior(jnp.zeros(7), jnp.full(7, 2.0), 2.0)
    assert abs(float(kl)) < 1e-6


def test_rho_std_round_trip():
    """softplus(rho_from_std(s)) = s from 1e-4 to 10."""
    std = jnp.geomspace(1e-4, 10.0, 20)
    np.testing.assert_allclose(vi.std_from_rho(vi.rho_from_std(std)), std, rtol=1e-4)


def test_elbo_terms_add_up():
    """Every step reports elbo = expected_log_likelihood − kl_weight · kl."""
    def log_lik(theta):
        return -jnp.sum((theta - 1.0) ** 2)

    opt = optax.scale_by_adam()
    state = vi.init(jnp.zeros(3), 0.5, opt)
    step = jax.jit(lambda k, s: vi.step(k, s, log_lik, optimizer=opt, learning_rate=0.05,
                                        num_samples=4, prior_std=1.5, kl_weight=0.3))
    for i in range(5):
        state, info = step(jax.random.key(i), state)
        np.testing.assert_allclose(info.elbo, info.expected_log_likelihood - 0.3 * info.kl,
                                   rtol=1e-6)


def test_sample_has_the_requested_moments():
    """sample() draws from N(mean, softplus(rho)²): empirical moments match."""
    opt = optax.scale_by_adam()
    state = vi.init(jnp.array([1.0, -2.0]), 0.3, opt)
    draws = np.asarray(vi.sample(jax.random.key(0), state, 100_000))
    np.testing.assert_allclose(draws.mean(0), [1.0, -2.0], atol=0.01)
    np.testing.assert_allclose(draws.std(0), [0.3, 0.3], rtol=0.02)


# --- Bayesian linear regression: y = X θ + ε, ε ~ N(0, σ²), θ ~ N(0, σ_p² I) ---------------

NOISE_STD, PRIOR_STD = 0.5, 1.0


def _regression_problem():
    rng = np.random.default_rng(1)
    x = np.stack([rng.normal(size=40), rng.normal(size=40) * 0.5 + 0.3], axis=1)
    theta_true = np.array([1.5, -0.7])
    y = x @ theta_true + NOISE_STD * rng.normal(size=40)
    precision = x.T @ x / NOISE_STD**2 + np.eye(2) / PRIOR_STD**2
    post_cov = np.linalg.inv(precision)
    post_mean = post_cov @ x.T @ y / NOISE_STD**2
    cov_y = NOISE_STD**2 * np.eye(40) + PRIOR_STD**2 * x @ x.T
    sign, logdet = np.linalg.slogdet(cov_y)
    log_evidence = -0.5 * (y @ np.linalg.solve(cov_y, y) + logdet + 40 * np.log(2 * np.pi))
    return x, y, precision, post_mean, post_cov, log_evidence


def _exact_elbo(x, y, mean, std):
    """ELBO of q = N(mean, diag std²) in closed form (float64)."""
    resid = y - x @ mean
    ell = -0.5 * np.sum(resid**2 + (x**2) @ std**2) / NOISE_STD**2 \
        - 0.5 * len(y) * np.log(2 * np.pi * NOISE_STD**2)
    kl = 0.5 * np.sum(std**2 / PRIOR_STD**2 + mean**2 / PRIOR_STD**2 - 1
                      - np.log(std**2 / PRIOR_STD**2))
    return ell - kl


def _kl_gaussians(mean_q, cov_q, mean_p, cov_p):
    inv_p = np.linalg.inv(cov_p)
    d = mean_p - mean_q
    return 0.5 * (np.trace(inv_p @ cov_q) + d @ inv_p @ d - len(d)
                  + np.linalg.slogdet(cov_p)[1] - np.linalg.slogdet(cov_q)[1])


def test_exact_elbo_plus_kl_to_posterior_is_log_evidence():
    """For any Gaussian q: ELBO(q) + KL(q‖posterior) = log P(D), to 1e-9 (closed forms)."""
    x, y, _, post_mean, post_cov, log_z = _regression_problem()
    rng = np.random.default_rng(2)
    for _ in range(20):
        mean = rng.normal(size=2)
        std = rng.uniform(0.05, 2.0, size=2)
        total = _exact_elbo(x, y, mean, std) + _kl_gaussians(mean, np.diag(std**2),
                                                             post_mean, post_cov)
        assert abs(total - log_z) < 1e-9 * max(1.0, abs(log_z))


@pytest.fixture(scope="module")
def fitted_regression():
    x, y, precision, post_mean, post_cov, log_z = _regression_problem()
    xj, yj = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)

    def log_lik(theta):
        resid = yj - xj @ theta
        return -0.5 * jnp.sum(resid**2) / NOISE_STD**2 \
            - 0.5 * len(y) * jnp.log(2 * jnp.pi * NOISE_STD**2)

    opt = optax.scale_by_adam()
    state = vi.init(jnp.zeros(2), 1.0, opt)

    @jax.jit
    def run(state, key, lr):
        def body(s, k):
            return vi.step(k, s, log_lik, optimizer=opt, learning_rate=lr, num_samples=32,
                           prior_std=PRIOR_STD, kl_weight=1.0)
        return jax.lax.scan(body, state, jax.random.split(key, 500))

    trajectory = []
    for i, lr in enumerate([0.05] * 4 + [0.01] * 2 + [0.002] * 2):
        state, _ = run(state, jax.random.key(i), lr)
        trajectory.append((np.asarray(state.mean, np.float64),
                           np.asarray(vi.std_from_rho(state.rho), np.float64)))
    return x, y, precision, post_mean, log_z, trajectory


def test_vi_recovers_the_mean_field_optimum(fitted_regression):
    """On a Gaussian posterior, VI finds the exact posterior mean (±0.02) and the mean-field
    optimum std = 1/sqrt(diag precision) (±5%), the known answer for reverse-KL mean-field."""
    _, _, precision, post_mean, _, trajectory = fitted_regression
    mean, std = trajectory[-1]
    np.testing.assert_allclose(mean, post_mean, atol=0.02)
    np.testing.assert_allclose(std, 1 / np.sqrt(np.diag(precision)), rtol=0.05)


def test_elbo_never_exceeds_log_evidence(fitted_regression):
    """The exact ELBO of every q along the fit is ≤ log P(D), and ends within 0.5 nats of it
    (the gap is the mean-field KL to the correlated posterior)."""
    x, y, _, _, log_z, trajectory = fitted_regression
    elbos = [_exact_elbo(x, y, m, s) for m, s in trajectory]
    assert max(elbos) <= log_z
    assert log_z - elbos[-1] < 0.5
