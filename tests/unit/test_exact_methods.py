"""Tests for chapter 3's approximations, chains and scoring (bnnlab.lessons.exact): every
approximation scored against exact references."""

import functools

import numpy as np
import pytest

from bnnlab.lessons.exact import approximations, chains, gaussian, scoring, target, text
from bnnlab.lessons.exact import data as exact_data
from bnnlab.lessons.exact import quadrature as quad
from bnnlab.lessons.exact.table import MethodTable, shown


@functools.cache
def _case(model: str, temperature: float = 1.0):
    noise = 0.5 if model == "linear" else 1.0
    data = exact_data.make_data(model, 40, noise if model == "linear" else 0.05, 0)
    grid = quad.exact_posterior(data, model, 1.5, noise, temperature=temperature)
    return data, grid, noise


def _independent_grid(grid: quad.PosteriorGrid, data, model, noise, size=401):
    """An even grid over the same box: a different rule from the (warped) default one."""
    box = (grid.theta1[0], grid.theta1[-1], grid.theta2[0], grid.theta2[-1])
    return quad.exact_posterior(data, model, 1.5, noise, size=size, box=box,
                                temperature=grid.temperature)


@pytest.mark.parametrize("model", exact_data.MODELS)
def test_moment_matched_q_has_the_quadrature_moments(model):
    """The forward-KL Gaussian's mean and covariance equal the posterior's, by quadrature."""
    data, grid, noise = _case(model)
    mean, cov = quad.posterior_moments(grid)
    q = approximations.moment_matched_q(grid)
    np.testing.assert_allclose(q.mean, mean, atol=1e-12)
    np.testing.assert_allclose(gaussian.q_covariance(q), cov, rtol=1e-10, atol=1e-14)
    if model == "linear":  # and those are the closed form's
        exact_mean, exact_cov = quad.linear_regression_posterior(data, 1.5, noise)
        np.testing.assert_allclose(q.mean, exact_mean, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(gaussian.q_covariance(q), exact_cov, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["logistic", "linear"])
@pytest.mark.parametrize("method", ["forward_kl", "laplace", "vi_full"])
def test_table_kls_match_an_independent_quadrature(model, method):
    """The table's KL(Q‖P) and KL(P‖Q) equal sums over an independent even 401² grid."""
    data, grid, noise = _case(model)
    problem = exact_data.ExactProblem(data, model, 1.5, noise)
    row = approximations.run_method(method, problem, grid,
                                    gaussian.make_q((-1.0, 1.0), (1.0, 1.0)), 1.0)
    ref = _independent_grid(grid, data, model, noise)
    t1, t2 = np.meshgrid(ref.theta1, ref.theta2)
    log_q = gaussian.q_log_density(row.q, t1, t2)
    log_p = ref.log_joint - ref.log_evidence
    q_mass = np.exp(log_q) * ref.weights
    assert abs(q_mass.sum() - 1.0) < 1e-6
    assert abs(row.kl_reverse - np.sum(q_mass * (log_q - log_p))) < 1e-5
    assert abs(row.kl_forward - np.sum(ref.mass * (log_p - log_q))) < 1e-5


def test_laplace_is_exact_on_the_conjugate_model():
    """On linear regression Laplace's Gaussian and evidence equal the closed forms."""
    data, grid, noise = _case("linear")
    fit = approximations.laplace(grid, data, "linear", 1.5, noise)
    mean, cov = quad.linear_regression_posterior(data, 1.5, noise)
    np.testing.assert_allclose(fit.q.mean, mean, rtol=1e-9)
    np.testing.assert_allclose(gaussian.q_covariance(fit.q), cov, rtol=1e-9)
    assert abs(fit.log_evidence - quad.linear_regression_log_evidence(data, 1.5, noise)) < 1e-9


def test_laplace_hessian_matches_finite_differences():
    """The analytic gradient and Hessian of the one-hidden-unit log joint match differences."""
    data, _, noise = _case("tanh_unit")
    theta, h = np.array([0.7, -1.3]), 1e-5
    _, grad, hess = target.log_target_derivatives(theta, data, "tanh_unit", 1.5, noise, 2.0)
    f = lambda t: target.log_target_derivatives(t, data, "tanh_unit", 1.5, noise, 2.0)  # noqa: E731
    for k in range(2):
        e = np.eye(2)[k] * h
        assert abs((f(theta + e)[0] - f(theta - e)[0]) / (2 * h) - grad[k]) < 1e-5
        np.testing.assert_allclose((f(theta + e)[1] - f(theta - e)[1]) / (2 * h), hess[k],
                                   atol=1e-4)


def _reference_moments(model: str, grid, samples: np.ndarray):  # noqa: ANN001
    """The exact posterior's mean and covariance; for the bimodal tanh unit, those of the
    half-plane (through the origin, normal to the first mode) the chain's samples lie in."""
    if model != "tanh_unit":
        return quad.posterior_moments(grid)
    mode = quad.posterior_modes(grid)[0]
    side = np.sign(samples.mean(0) @ mode)
    t1, t2 = np.meshgrid(grid.theta1, grid.theta2)
    half = grid.mass * (np.sign(t1 * mode[0] + t2 * mode[1]) == side)
    half /= half.sum()
    mean = np.array([np.sum(half * t1), np.sum(half * t2)])
    d1, d2 = t1 - mean[0], t2 - mean[1]
    cov = np.array([[np.sum(half * d1 * d1), np.sum(half * d1 * d2)],
                    [np.sum(half * d1 * d2), np.sum(half * d2 * d2)]])
    return mean, cov


def _mc_close(samples: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> None:
    """Sample moments within Monte Carlo error: 5 standard errors with an effective sample
    size of a quarter of the draws (HMC draws are correlated); covariances to 25%."""
    ess = samples.shape[0] / 4
    se = np.sqrt(np.diag(cov) / ess)
    assert np.all(np.abs(samples.mean(0) - mean) < 5 * se), (samples.mean(0), mean, se)
    np.testing.assert_allclose(np.cov(samples.T), cov, rtol=0.25, atol=0.1 * np.abs(cov).max())


@pytest.mark.slow
@pytest.mark.parametrize("model", exact_data.MODELS)
def test_hmc_moments_match_the_quadrature(model):
    """HMC's samples have the posterior's mean and covariance within Monte Carlo error; on
    the two mirror modes, those of the mode the chain is in (HMC does not cross between them)."""
    data, grid, noise = _case(model)
    trace = chains.run_hmc(data, model, 1.5, noise, 1.0, (-1.0, 1.0), seed=0, num_samples=1600)
    samples = trace.samples
    assert samples.shape == (1600, 2) and 0.6 < trace.accepted[~trace.warmup].mean() <= 1.0
    if model == "tanh_unit":  # the chain stays in one mode's half-plane
        mode = quad.posterior_modes(grid)[0]
        assert np.all(np.sign(samples @ mode) == np.sign(samples.mean(0) @ mode))
    _mc_close(samples, *_reference_moments(model, grid, samples))


@pytest.mark.slow
def test_hmc_trace_records_trajectories_and_warmup():
    """Every transition keeps its leapfrog path (start = previous state), warm-up comes first,
    and a rejected proposal leaves the chain where it was."""
    data, _, noise = _case("logistic")
    trace = chains.run_hmc(data, "logistic", 1.5, noise, 1.0, (-1.0, 1.0), num_samples=50)
    total = chains.HMC_WARMUP + 50
    assert trace.trajectories.shape == (total, chains.HMC_LEAPFROG + 1, 2)
    assert trace.warmup[:chains.HMC_WARMUP].all() and not trace.warmup[chains.HMC_WARMUP:].any()
    np.testing.assert_allclose(trace.trajectories[1:, 0], trace.positions[:-1], atol=0)
    rejected = ~trace.accepted[1:]
    np.testing.assert_allclose(trace.positions[1:][rejected], trace.positions[:-1][rejected])
    assert np.isfinite(trace.step_size).all() and (trace.step_size > 0).all()


@pytest.mark.parametrize("model", exact_data.MODELS)
def test_temperature_one_is_the_untempered_posterior(model):
    """The tempered posterior at T = 1 is today's posterior, node for node."""
    data, grid, noise = _case(model)
    default = quad.exact_posterior(data, model, 1.5, noise)
    assert grid.log_evidence == default.log_evidence
    np.testing.assert_array_equal(grid.log_joint, default.log_joint)


def test_temperature_sharpens_and_flattens():
    """T < 1 shrinks the posterior's covariance, T > 1 widens it (linear: exactly by T)."""
    data, cold, noise = _case("linear", 0.5)
    _, hot, _ = _case("linear", 2.0)
    _, cov = quad.linear_regression_posterior(data, 1.5, noise)
    np.testing.assert_allclose(quad.posterior_moments(cold)[1], 0.5 * cov, rtol=1e-5)
    np.testing.assert_allclose(quad.posterior_moments(hot)[1], 2.0 * cov, rtol=1e-5)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), 11.0])
def test_temperature_is_validated(bad):
    """Temperatures outside [0.1, 10] are refused with a message."""
    with pytest.raises(ValueError, match="temperature"):
        target.check_temperature(bad)


@pytest.mark.slow
@pytest.mark.parametrize("model,temperature", [("tanh_unit", 0.5), ("tanh_unit", 1.0),
                                               ("tanh_unit", 3.0), ("tanh_unit", 10.0),
                                               ("logistic", 3.0)])
def test_full_covariance_vi_reaches_the_mean_field_elbo(model, temperature):
    """Full-covariance VI ends at least at the mean-field ELBO at every T (it contains it;
    the full fit starts from the mean-field optimum)."""
    data, grid, noise = _case(model, temperature)
    q0 = gaussian.make_q((-1.0, 1.0), (1.0, 1.0))
    problem = exact_data.ExactProblem(data, model, 1.5, noise)
    mf, full = (approximations.run_method(m, problem, grid, q0, 1.0)
                for m in ("vi_mean_field", "vi_full"))
    assert full.evidence >= mf.evidence - 1e-4, (full.evidence, mf.evidence)
    assert full.kl_reverse <= mf.kl_reverse + 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("model", exact_data.MODELS)
def test_nuts_moments_match_the_quadrature(model):
    """NUTS's samples have the posterior's mean and covariance within Monte Carlo error (on
    the mirror modes, those of the chain's mode), and its trajectories stop by U-turns."""
    data, grid, noise = _case(model)
    trace = chains.run_nuts(data, model, 1.5, noise, 1.0, (-1.0, 1.0), seed=0, num_samples=1600)
    samples = trace.samples
    assert samples.shape == (1600, 2) and trace.turning[~trace.warmup].mean() > 0.9
    _mc_close(samples, *_reference_moments(model, grid, samples))


@pytest.mark.slow
def test_nuts_trajectories_pass_through_the_start_and_the_drawn_state():
    """Each recomputed trajectory contains the state it started from and the state NUTS drew
    (so what the player draws is the trajectory the sampler used); warm-up comes first."""
    data, _, noise = _case("logistic")
    trace = chains.run_nuts(data, "logistic", 1.5, noise, 1.0, (-1.0, 1.0), num_samples=50)
    total = chains.NUTS_WARMUP + 50
    assert trace.trajectories.shape == (total, 2 ** chains.NUTS_MAX_DOUBLINGS + 1, 2)
    assert trace.warmup[:chains.NUTS_WARMUP].all() and not trace.warmup[chains.NUTS_WARMUP:].any()
    starts = np.concatenate([[[-1.0, 1.0]], trace.positions[:-1]])
    for t in range(total):
        path = trace.trajectories[t, :trace.lengths[t]]
        assert np.min(np.linalg.norm(path - starts[t], axis=1)) < 1e-3
        assert np.min(np.linalg.norm(path - trace.positions[t], axis=1)) < 1e-3
    assert (trace.lengths <= 2 ** trace.doublings).all() and (trace.step_size > 0).all()


@pytest.mark.slow
def test_method_table_is_lazy_and_fills_in_the_background():
    """A new method table computes no method; `row` computes one; the background thread the
    rest; the table then has a row per method and the view payload each method's overlay."""
    data, _, noise = _case("logistic")
    comparison = MethodTable(exact_data.ExactProblem(data, "logistic", 1.5, noise), 1.0,
                             gaussian.make_q((-1.0, 1.0), (1.0, 1.0)), 0)
    assert comparison.done == 0
    assert comparison.table(1.0)[1]["evidence kind"] == "computing…"
    assert comparison.row("laplace") is not None and comparison.done == 1
    comparison.fill_in_background()
    comparison.wait(300)
    assert comparison.done == len(approximations.METHODS) and not comparison.errors
    box = quad.mass_box(comparison.grid, tail_mass=1e-4, pad=0.3)
    hmc = comparison.view_payload("hmc", box)
    assert hmc["gaussian"] is None and hmc["chain"]["total"] == len(hmc["chain"]["lengths"])
    laplace = comparison.view_payload("laplace", box)
    assert laplace["chain"] is None and len(laplace["gaussian"]["cov"]) == 4
    assert laplace["density_id"] == hmc["density_id"]  # the image is sent once, kept by id


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_far_entropy_on_the_conjugate_model_is_the_closed_form(temperature):
    """Linear regression: the exact far entropy is ½ log 2πe(σ_y² + T·xᵀΣx) with Σ the closed-form
    posterior covariance (tempering scales it by T exactly)."""
    data, grid, noise = _case("linear", temperature)
    _, cov = quad.linear_regression_posterior(data, 1.5, noise)
    x = scoring.far_points(data)
    var = temperature * (cov[0, 0] * x**2 + 2 * cov[0, 1] * x + cov[1, 1])
    expected = np.mean(0.5 * np.log(2 * np.pi * np.e * (noise**2 + var)))
    assert abs(scoring.far_entropy_exact(grid, data, "linear", noise) - expected) < 1e-5


@pytest.mark.parametrize("model", exact_data.MODELS)
def test_warmer_posteriors_are_less_sure_far_from_the_data(model):
    """The exact tempered posterior's far-from-data entropy grows with T (on each
    model, at T = 0.25, 1 and 4), and stays within [0, ln 2] for the classifiers."""
    values = []
    for temperature in (0.25, 1.0, 4.0):
        data, grid, noise = _case(model, temperature)
        values.append(scoring.far_entropy_exact(grid, data, model, noise))
    assert values[0] < values[1] < values[2], values
    if model != "linear":
        assert 0.0 <= values[0] and values[2] <= np.log(2)


def test_laplace_without_curvature_is_an_undefined_row(monkeypatch):
    """A Laplace fit with no Gaussian gives a row with NaN scores and the reason, not an error."""
    data, grid, noise = _case("logistic")
    monkeypatch.setattr(approximations, "laplace",
                        lambda *a, **k: approximations.LaplaceResult(None, np.nan, np.zeros(2)))
    problem = exact_data.ExactProblem(data, "logistic", 1.5, noise)
    row = approximations.run_method("laplace", problem, grid,
                                    gaussian.make_q((-1.0, 1.0), (1.0, 1.0)))
    assert row.q is None and row.samples is None
    assert row.evidence_kind == approximations.NO_CURVATURE
    assert np.isnan([row.kl_reverse, row.kl_forward, row.evidence, row.predictive]).all()


def test_run_method_refuses_an_unknown_name():
    """An approximation not in the table is refused with the names that are."""
    data, grid, noise = _case("logistic")
    with pytest.raises(ValueError, match="vi_mean_field"):
        approximations.run_method("sgld", exact_data.ExactProblem(data, "logistic", 1.5, noise),
                                  grid, gaussian.make_q((0.0, 0.0), (1.0, 1.0)))


def test_view_caption_adds_the_chain_legend_only_for_a_chain():
    """The posterior view's caption names the axes' ranges; only a sampler adds its legend."""
    names, box = ("w", "b"), (-1.0, 2.0, -3.0, 4.0)
    gaussian_caption = text.view_caption(names, box, "laplace")
    assert "w from -1.0 to 2.0; up: b from -3.0 to 4.0." in gaussian_caption
    assert "trajectory" not in gaussian_caption
    assert text.view_caption(names, box, "hmc").startswith(gaussian_caption)
    assert "kept trajectory" in text.view_caption(names, box, "hmc")


def test_table_shows_a_missing_number_as_a_dash():
    """The table as shown: numbers to 4 decimals, a NaN as "—" (the caption's promise, where
    st.dataframe would draw "None"), text columns untouched, no negative zero."""
    rows = [{"method": "Exact", "KL(Q‖P)": 0.0, "evidence kind": "exact",
             "error": -1e-9, "wall (s)": float("nan")},
            {"method": "HMC", "KL(Q‖P)": float("nan"), "evidence kind": "computing…",
             "error": -0.0584, "wall (s)": 1.234567}]
    assert shown(rows) == [
        {"method": "Exact", "KL(Q‖P)": "0.0000", "evidence kind": "exact", "error": "0.0000",
         "wall (s)": "—"},
        {"method": "HMC", "KL(Q‖P)": "—", "evidence kind": "computing…", "error": "-0.0584",
         "wall (s)": "1.2346"}]


def test_view_payload_names_the_axes():
    """The posterior view's payload carries the model's parameter names as its axes' titles,
    also before the method has run."""
    data, _, noise = _case("logistic")
    comparison = MethodTable(exact_data.ExactProblem(data, "logistic", 1.5, noise), 1.0,
                             gaussian.make_q((-1.0, 1.0), (1.0, 1.0)), 0)
    payload = comparison.view_payload("laplace", comparison.view_box, size=8)
    assert payload["axes"] == list(exact_data.PARAM_NAMES["logistic"]) == ["w", "b"]


def test_methods_intro_says_why_one_mode_is_enough():
    """Where the modes are discussed, the page says why VI on one mode loses nothing in the
    predictive: θ and −θ (and swapped hidden units) predict the same."""
    assert "θ and −θ predict the same" in text.METHODS_INTRO
    assert "swapping hidden units" in text.METHODS_INTRO


@pytest.mark.slow  # seconds: the fast tier stays under 2 minutes
def test_table_rows_are_computed_in_a_slot_and_a_left_table_stops(monkeypatch):
    """Chapter 3's rows go through the server-wide slots like training (issue 29 item 3): with
    every slot held by others no row runs; the method the page shows runs first when a slot
    frees; a table no page looks at for `IDLE_S` stops after its row (superseded settings)."""
    import time

    from bnnlab.lessons.exact import table as table_module
    from bnnlab.live import scheduler
    from tests.conftest import slot_held

    ran: list[tuple[str, int]] = []
    slots = scheduler.Slots(1)
    monkeypatch.setattr(table_module, "run_method",
                        lambda method, *a: ran.append((method, slots.in_use())) or "row")
    monkeypatch.setattr(table_module, "IDLE_S", 0.3)
    data, _, noise = _case("logistic")
    comparison = MethodTable(exact_data.ExactProblem(data, "logistic", 1.5, noise), 1.0,
                             gaussian.make_q((-1.0, 1.0), (1.0, 1.0)), 0, slots=slots)
    shown_method = approximations.METHODS[-1]
    with slot_held(slots) as release:
        comparison.fill_in_background(first=shown_method)
        assert not comparison.wait_for(shown_method, 0.2) and ran == []  # no slot: none ran
        release()
        assert comparison.wait_for(shown_method, 10)
    assert ran[0] == (shown_method, 1)  # the page's method first, inside a slot
    comparison.wait(30)  # looked at: the rest fill in
    assert comparison.done == len(approximations.METHODS)
    assert all(in_use == 1 for _, in_use in ran)

    idle = MethodTable(exact_data.ExactProblem(data, "logistic", 1.5, noise), 1.0,
                       gaussian.make_q((-1.0, 1.0), (1.0, 1.0)), 1, slots=slots)
    monkeypatch.setattr(table_module, "run_method",
                        lambda *a: time.sleep(0.2) or "row")
    idle.fill_in_background()
    time.sleep(1.5)  # nobody looks at it: it stops after the row it was on
    assert 0 < idle.done < len(approximations.METHODS)
    assert not idle._background.is_alive()
