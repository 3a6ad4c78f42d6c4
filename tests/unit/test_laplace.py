"""Linearised Laplace (`bnnlab.laplace`) against closed forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bnnlab.core import likelihoods
from bnnlab.methods import laplace

jax.config.update("jax_enable_x64", False)


def _linear_problem(seed=0, n=40, d=3, noise_std=0.5, alpha=2.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    theta_true = rng.normal(size=d)
    y = (x @ theta_true + noise_std * rng.normal(size=n)).astype(np.float32)
    precision = x.T.astype(np.float64) @ x / noise_std**2 + alpha * np.eye(d)
    mean = np.linalg.solve(precision, x.T.astype(np.float64) @ y / noise_std**2)
    return x, y, mean, precision


def _linear_logits(theta, x):
    return x @ theta


@pytest.mark.slow
def test_linear_gaussian_posterior_is_exact():
    """On a conjugate linear-Gaussian model the Laplace Gaussian is the exact posterior."""
    noise_std, alpha = 0.5, 2.0
    x, y, mean, precision = _linear_problem(noise_std=noise_std, alpha=alpha)
    fit = laplace.fit(_linear_logits, jnp.asarray(mean, jnp.float32), jnp.asarray(x),
                      jnp.asarray(y), likelihoods.gaussian(noise_std), num_bayesian=3)
    np.testing.assert_allclose(laplace.covariance(fit, alpha), np.linalg.inv(precision),
                               rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_linear_gaussian_evidence_is_exact():
    """Its evidence equals the closed form log N(y; 0, σ²I + X Xᵀ/α)."""
    noise_std, alpha = 0.5, 2.0
    x, y, mean, _ = _linear_problem(noise_std=noise_std, alpha=alpha)
    fit = laplace.fit(_linear_logits, jnp.asarray(mean, jnp.float32), jnp.asarray(x),
                      jnp.asarray(y), likelihoods.gaussian(noise_std), num_bayesian=3)
    cov = noise_std**2 * np.eye(len(y)) + x.astype(np.float64) @ x.T / alpha
    sign, logdet = np.linalg.slogdet(cov)
    exact = -0.5 * (y @ np.linalg.solve(cov, y) + logdet + len(y) * np.log(2 * np.pi))
    assert sign > 0
    assert float(laplace.log_evidence(fit, alpha)) == pytest.approx(exact, abs=2e-3)


@pytest.mark.slow
def test_bernoulli_ggn_equals_hessian_of_logistic_regression():
    """For a GLM with its canonical link the GGN is the exact Hessian of −log P(D|θ)."""
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=(300, 4)), jnp.float32)  # > GGN_BLOCK: several blocks
    y = jnp.asarray(rng.integers(0, 2, 300), jnp.float32)
    theta = jnp.asarray(rng.normal(size=4), jnp.float32)
    lik = likelihoods.BERNOULLI
    fit = laplace.fit(_linear_logits, theta, x, y, lik, num_bayesian=4)
    hessian = jax.hessian(lambda t: -jnp.sum(lik.log_prob(x @ t, y)))(theta)
    ggn = (fit.eigenvectors * fit.eigenvalues) @ fit.eigenvectors.T
    np.testing.assert_allclose(ggn, hessian, rtol=1e-4, atol=1e-3)


@pytest.mark.slow
def test_mask_leaves_padded_rows_out():
    """Rows with mask 0 change neither the GGN nor the log-likelihood."""
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.normal(size=(50, 3)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 2, 50), jnp.float32)
    theta = jnp.asarray(rng.normal(size=3), jnp.float32)
    lik = likelihoods.BERNOULLI
    short = laplace.fit(_linear_logits, theta, x[:30], y[:30], lik, 3)
    mask = jnp.asarray(np.r_[np.ones(30), np.zeros(20)], jnp.float32)
    padded = laplace.fit(_linear_logits, theta, x, y, lik, 3, mask=mask)
    np.testing.assert_allclose(laplace.covariance(padded, 1.0), laplace.covariance(short, 1.0),
                               rtol=1e-4, atol=1e-6)
    assert float(padded.log_likelihood) == pytest.approx(float(short.log_likelihood), rel=1e-5)


@pytest.mark.slow
def test_categorical_with_two_classes_equals_bernoulli():
    """Logits (0, f) under the categorical likelihood give Bernoulli's GGN and log-likelihood."""
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.normal(size=(60, 3)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 2, 60), jnp.int32)
    theta = jnp.asarray(rng.normal(size=3), jnp.float32)

    def two_logits(t, xs):
        f = xs @ t
        return jnp.stack([jnp.zeros_like(f), f], axis=-1)

    binary = laplace.fit(_linear_logits, theta, x, y.astype(jnp.float32), likelihoods.BERNOULLI, 3)
    multi = laplace.fit(two_logits, theta, x, y, likelihoods.CATEGORICAL, 3)
    np.testing.assert_allclose(laplace.covariance(multi, 0.5), laplace.covariance(binary, 0.5),
                               rtol=1e-4, atol=1e-6)
    assert float(multi.log_likelihood) == pytest.approx(float(binary.log_likelihood), rel=1e-5)


@pytest.mark.slow
def test_linearised_predictive_moments():
    """Linearised samples have mean f(θ*) and variance diag(J Σ Jᵀ) (within MC error)."""
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.normal(size=(80, 2)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 2, 80), jnp.float32)
    theta = jnp.asarray(rng.normal(size=2), jnp.float32)
    fit = laplace.fit(_linear_logits, theta, x, y, likelihoods.BERNOULLI, 2)
    probe = jnp.asarray([[1.0, 0.5], [-2.0, 3.0]], jnp.float32)
    samples = laplace.linearised_logits(jax.random.key(0), fit, 1.0, _linear_logits, probe,
                                        20_000)
    cov = np.asarray(laplace.covariance(fit, 1.0))
    expected_var = np.einsum("nk,kl,nl->n", np.asarray(probe), cov, np.asarray(probe))
    error = np.abs(np.asarray(samples.mean(0)) - np.asarray(probe @ theta))
    assert np.all(error < 4 * np.sqrt(expected_var / 20_000))
    np.testing.assert_allclose(samples.var(0), expected_var, rtol=0.05)


@pytest.mark.slow
def test_last_layer_subset_is_the_trailing_parameters():
    """With k < d only the last k entries vary; the others stay at θ*."""
    rng = np.random.default_rng(5)
    x = jnp.asarray(rng.normal(size=(40, 4)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 2, 40), jnp.float32)
    theta = jnp.asarray(rng.normal(size=4), jnp.float32)
    fit = laplace.fit(_linear_logits, theta, x, y, likelihoods.BERNOULLI, num_bayesian=2)
    draws = laplace.sample_params(jax.random.key(1), fit, 1.0, 5)
    np.testing.assert_array_equal(draws[:, :2], np.broadcast_to(theta[:2], (5, 2)))
    assert np.all(np.std(np.asarray(draws[:, 2:]), axis=0) > 0)
    assert laplace.num_bayesian_params(100, 7) == 100
    assert laplace.num_bayesian_params(laplace.MAX_FULL_PARAMS + 1, 7) == 7


def test_evidence_curve_maximiser_is_on_the_curve():
    """The reported best prior σ is the grid point of highest evidence, and the curve is
    finite and jit-able."""
    x, y, mean, _ = _linear_problem()
    fit = laplace.fit(_linear_logits, jnp.asarray(mean, jnp.float32), jnp.asarray(x),
                      jnp.asarray(y), likelihoods.gaussian(0.5), 3)
    curve = jax.jit(laplace.evidence_curve)(fit)
    assert np.all(np.isfinite(curve.log_evidence))
    assert np.all(np.diff(np.asarray(curve.prior_std)) > 0)
    best = int(np.argmax(curve.log_evidence))
    assert float(curve.best_prior_std) == pytest.approx(float(curve.prior_std[best]))


# ------------------------------------------------------------------ the registry method

def _trained_laplace_run(steps=60):
    from bnnlab.data import toy
    from bnnlab.training import config, engine

    cfg = config.TrainConfig(method="laplace", hidden=(8,), num_points=64, steps=steps,
                             steps_per_chunk=20, lr=0.05)
    data = toy.prepare(*toy.make("moons", 64, 0.15, 0), 0.25, 0)
    return cfg, data, engine.fit(cfg, data.x_train, data.y_train)


@pytest.mark.slow
def test_registry_method_predictive_is_the_linearised_network():
    """`--method laplace`'s predictive is the linearised network f(x; θ*) + J(x)δ
    (`linearised_logits`'s formula) with δ ~ N(0, (GGN + α I)⁻¹): its draws' covariance equals
    `laplace.covariance` of the fit, and α maximises the evidence curve."""
    cfg, data, result = _trained_laplace_run()
    state = result.state.method_state
    assert bool(state.fitted)
    x_train = jnp.asarray(data.x_train)
    reference = laplace.fit(result.engine.logits_fn, state.map_state.position, x_train,
                            jnp.asarray(data.y_train, jnp.float32), likelihoods.BERNOULLI,
                            state.eigenvalues.shape[0])
    curve = laplace.evidence_curve(reference)
    np.testing.assert_allclose(float(state.prior_precision), float(curve.best_prior_std) ** -2,
                               rtol=1e-4)
    np.testing.assert_allclose(np.sort(state.eigenvalues), np.sort(reference.eigenvalues),
                               rtol=1e-3, atol=1e-3 * float(reference.eigenvalues.max()))
    # the draws' covariance: L⁻ᵀ L⁻¹ = (GGN + αI)⁻¹
    inverse = np.linalg.inv(np.asarray(state.cholesky, np.float64))
    np.testing.assert_allclose(inverse.T @ inverse,
                               laplace.covariance(reference, state.prior_precision),
                               rtol=2e-2, atol=1e-4)
    # the predictive: the linearised network at those draws, identical to the engine's
    x = jnp.asarray(data.x_test)
    key = jax.random.key(3)
    probs = np.asarray(result.engine.sample_probs(key, result.state, x, num_samples=7))
    deltas = laplace.posterior_deltas(key, state, 7)
    theta = state.map_state.position
    _, linear = jax.linearize(lambda t: result.engine.logits_fn(t, x), theta)
    logits = result.engine.logits_fn(theta, x) + jax.vmap(linear)(deltas)
    np.testing.assert_allclose(probs, np.asarray(jax.nn.sigmoid(logits)), atol=1e-5)
    assert np.std(probs, axis=0).max() > 1e-3  # a posterior, not a point


@pytest.mark.slow
def test_mode_offset_is_the_newton_step_in_posterior_sigmas():
    """Issue 24 (a Laplace fit at a MAP network that has not converged): the fit reports
    MAP's gradient g at θ* and how far one Newton step moves, in posterior σ:
    sqrt(gᵀ (GGN + αI)⁻¹ g), here recomputed in float64 from the finite-difference gradient
    of MAP's objective. A short run is far from its mode (the page says to train longer), a
    long one within a fraction of σ."""
    from bnnlab.methods import map_estimate
    from bnnlab.training import engine

    offsets = {}
    for steps in (20, 2000):
        cfg, data, result = _trained_laplace_run(steps)
        state = result.state.method_state
        theta = np.asarray(state.map_state.position, np.float64)
        x, y = np.asarray(data.x_train), np.asarray(data.y_train, np.float32)
        hyper = engine.make_hyper(cfg)

        def objective(t, logits_fn=result.engine.logits_fn, x=x, y=y, hyper=hyper):
            logits = logits_fn(jnp.asarray(t, jnp.float32), x)
            return float(jnp.sum(likelihoods.BERNOULLI.log_prob(logits, y))
                         - hyper.kl_weight * map_estimate.l2_penalty(t, hyper.prior_std))

        h = 1e-2  # float32 network: central differences at this step are good to ~1e-3
        grad = np.array([(objective(theta + h * e) - objective(theta - h * e)) / (2 * h)
                         for e in np.eye(theta.size)])
        cholesky = np.asarray(state.cholesky, np.float64)
        newton = np.linalg.solve(cholesky @ cholesky.T, grad)
        expected = float(np.sqrt(grad @ newton))
        assert float(state.map_grad_norm) == pytest.approx(np.linalg.norm(grad), rel=0.05,
                                                           abs=0.02)
        assert float(state.mode_offset) == pytest.approx(expected, rel=0.05, abs=0.02)
        details = laplace.fit_details(state)
        offsets[steps] = details["mode_offset"]
        assert ("train it longer" in laplace.fitted_text(details)) == (
            details["mode_offset"] > laplace.MODE_OFFSET_WARN)
    assert offsets[20] > laplace.MODE_OFFSET_WARN > 0.5 > offsets[2000]


@pytest.mark.slow
def test_training_after_a_fit_returns_to_the_map_network():
    """A chunk of training steps clears the fit: the predictive is the MAP network's again
    (and a chunk of 0 steps keeps it)."""
    from bnnlab.training import engine

    cfg, data, result = _trained_laplace_run()
    eng = result.engine
    batch = engine.make_batch(data.x_train, data.y_train, eng.static.data_bucket)
    hyper = engine.make_hyper(cfg)
    kept, _ = eng.run_chunk(result.state, batch, hyper, jnp.int32(0))
    assert bool(kept.method_state.fitted)
    moved, _ = eng.run_chunk(result.state, batch, hyper, jnp.int32(3))
    assert not bool(moved.method_state.fitted)
    x = jnp.asarray(data.x_test)
    probs = np.asarray(eng.sample_probs(jax.random.key(0), moved, x, num_samples=4))
    at_map = jax.nn.sigmoid(eng.logits_fn(moved.method_state.map_state.position, x))
    np.testing.assert_allclose(probs, np.broadcast_to(at_map, probs.shape), atol=1e-6)


@pytest.mark.slow
def test_weight_marginals_are_the_covariance_diagonal():
    """The weight view's σ for Laplace is sqrt(diag (GGN + αI)⁻¹) of the reference fit."""
    _, data, result = _trained_laplace_run()
    state = result.state.method_state
    mean, std = laplace.weight_marginals(state)
    reference = laplace.fit(result.engine.logits_fn, state.map_state.position,
                            jnp.asarray(data.x_train), jnp.asarray(data.y_train, jnp.float32),
                            likelihoods.BERNOULLI, state.eigenvalues.shape[0])
    cov = np.asarray(laplace.covariance(reference, state.prior_precision))
    np.testing.assert_allclose(std**2, np.diag(cov), rtol=2e-2, atol=1e-6)
    np.testing.assert_allclose(mean, np.asarray(state.map_state.position), rtol=1e-6)


@pytest.mark.slow
def test_last_layer_registry_predictive_matches_eager_jax():
    """Beyond MAX_FULL_PARAMS only the last layer is Bayesian; the engine's compiled predictive
    equals the linearised network computed eagerly (it once came out NaN under the engine's
    CPU compiler options)."""
    from bnnlab.data import toy
    from bnnlab.training import config, engine

    cfg = config.TrainConfig(method="laplace", hidden=(64, 48), num_points=64, steps=20,
                             steps_per_chunk=20)
    data = toy.prepare(*toy.make("moons", 64, 0.15, 0), 0.25, 0)
    result = engine.fit(cfg, data.x_train, data.y_train)
    state = result.state.method_state
    assert state.eigenvalues.shape[0] == 49 < result.engine.num_params
    x = jnp.asarray(data.x_test)
    key = jax.random.key(5)
    probs = np.asarray(result.engine.sample_probs(key, result.state, x, num_samples=4))
    deltas = laplace.posterior_deltas(key, state, 4)
    expected = jax.nn.sigmoid(laplace.linearised_at(result.engine.logits_fn,
                                                    state.map_state.position, deltas, x))
    np.testing.assert_allclose(probs, np.asarray(expected), atol=1e-5)
