"""Tests for bnnlab.lessons.bayes: the bug-free example, sequential updates and its ELBO."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bnnlab.lessons import bayes

GRID = np.linspace(0.0, 1.0, 101)


def _random_cases(num_cases: int, seed: int = 0) -> np.ndarray:
    """float64[num_cases, 4] rows (x, a, b, φ) with x, a, b, φ strictly inside (0, 1)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.01, 0.99, size=(num_cases, 4))


def test_posterior_is_two_x_over_one_plus_x_on_a_grid():
    """With a = 1 and b = 1/2 the posterior is 2x/(1+x) for every prior x on a grid."""
    for x in GRID:
        assert bayes.posterior(x, 1.0, 0.5) == pytest.approx(2 * x / (1 + x), abs=1e-15)


def test_posterior_of_prior_point_three_is_six_thirteenths():
    """The AppTest reference: prior 0.3 gives 0.6/1.3 = 6/13."""
    assert bayes.posterior(0.3, 1.0, 0.5) == pytest.approx(6 / 13, abs=1e-15)


def test_update_shows_every_intermediate_number():
    """The joint probabilities and the evidence are P(T|F)P(F), P(T|¬F)P(¬F) and their sum."""
    result = bayes.update(0.3, 1.0, 0.5)
    assert result.joint == pytest.approx(0.3)
    assert result.joint_alt == pytest.approx(0.35)
    assert result.evidence == pytest.approx(0.65)
    assert result.is_possible


def test_posterior_curve_matches_scalar_posterior():
    """The vectorised curve equals the scalar posterior at every grid point."""
    curve = bayes.posterior_curve(GRID, 0.8, 0.3)
    expected = [bayes.posterior(x, 0.8, 0.3) for x in GRID]
    np.testing.assert_allclose(curve, expected, rtol=0, atol=1e-15)


def test_failure_update_uses_complementary_likelihoods():
    """P(F|¬T) = (1−a)x / ((1−a)x + (1−b)(1−x)): 0.2·0.5/(0.2·0.5 + 0.6·0.5) = 0.25."""
    result = bayes.update(0.5, 0.8, 0.4, tests_passed=False)
    assert result.posterior == pytest.approx(0.25, abs=1e-15)


def test_failure_with_certain_pass_under_f_refutes_bug_free():
    """With P(T|F) = 1 one failure makes P(F|¬T) exactly 0, whatever the prior."""
    for x in (0.01, 0.5, 0.999):
        assert bayes.update(x, 1.0, 0.5, tests_passed=False).posterior == 0.0


def test_sequential_formula_equals_repeated_single_updates():
    """x·aⁿ/(x·aⁿ + (1−x)·bⁿ) equals n repeated single updates, for n = 0..20."""
    for x, a, b, _ in _random_cases(20):
        closed_form = bayes.posterior_after_runs(x, a, b, np.arange(21))
        current = x
        for n in range(21):
            assert closed_form[n] == pytest.approx(current, rel=1e-12, abs=1e-300)
            current = bayes.update(current, a, b).posterior


def test_sequential_with_a_failure_equals_updates_in_any_order():
    """n passes then one failure equals one failure then n passes (independent runs)."""
    x, a, b = 0.4, 0.9, 0.6
    closed_form = bayes.posterior_after_runs(x, a, b, [5], num_failures=1)[0]
    after_fail = bayes.update(x, a, b, tests_passed=False).posterior
    expected = bayes.posterior_after_runs(after_fail, a, b, [5])[0]
    assert closed_form == pytest.approx(expected, rel=1e-12)


def test_zero_passes_gives_back_the_prior():
    """n = 0 is no evidence: the posterior is the prior, also at x = 0 and x = 1."""
    for x in (0.0, 0.3, 1.0):
        assert bayes.posterior_after_runs(x, 1.0, 0.5, [0])[0] == x


def test_prior_zero_and_one_never_move():
    """Cromwell's rule: a prior of exactly 0 or 1 is the posterior for any evidence."""
    np.testing.assert_array_equal(bayes.posterior_after_runs(0.0, 1.0, 0.5, range(21)), 0.0)
    np.testing.assert_array_equal(bayes.posterior_after_runs(1.0, 1.0, 0.5, range(21)), 1.0)
    assert bayes.posterior(0.0, 0.9, 0.1) == 0.0
    assert bayes.posterior(1.0, 0.1, 0.9) == 1.0


def test_both_likelihoods_zero_is_impossible_evidence():
    """P(T|F) = P(T|¬F) = 0 gives P(T) = 0: no posterior, a typed error, NaN in curves."""
    result = bayes.update(0.5, 0.0, 0.0)
    assert result.evidence == 0.0 and result.posterior is None and not result.is_possible
    with pytest.raises(bayes.ImpossibleEvidence):
        bayes.posterior(0.5, 0.0, 0.0)
    assert np.all(np.isnan(bayes.posterior_curve(GRID, 0.0, 0.0)))
    assert np.all(np.isnan(bayes.posterior_after_runs(0.5, 0.0, 0.0, [1, 2])))


def test_prior_one_with_zero_likelihood_under_f_is_impossible():
    """x = 1 and P(T|F) = 0: the tests cannot pass, so P(T) = 0 and there is no posterior."""
    assert bayes.update(1.0, 0.0, 0.7).posterior is None


def test_probabilities_outside_unit_interval_are_rejected():
    """NaN, negative and > 1 inputs raise ValueError instead of computing nonsense."""
    for bad in (float("nan"), -0.1, 1.5, float("inf"), "abc"):
        with pytest.raises(ValueError):
            bayes.update(bad, 1.0, 0.5)


def test_natural_frequencies_talk_example():
    """Prior 0.3, a = 1, b = 0.5: of 1,000 programs 300 bug-free pass, 350 buggy pass."""
    freqs = bayes.natural_frequencies(0.3, 1.0, 0.5)
    assert freqs == bayes.NaturalFrequencies(300, 0, 350, 350)
    assert freqs.passing == 650


def test_natural_frequencies_always_add_up_to_population():
    """Largest-remainder rounding makes the four counts sum to exactly 1,000."""
    for x, a, b, _ in _random_cases(200, seed=1):
        freqs = bayes.natural_frequencies(x, a, b)
        assert freqs.population == 1000
        exact = 1000 * np.array([x * a, x * (1 - a), (1 - x) * b, (1 - x) * (1 - b)])
        assert np.all(np.abs(np.array(freqs) - exact) < 1.0)


def test_elbo_plus_kl_to_posterior_is_log_evidence():
    """ELBO(φ) + KL(q‖P(H|T)) = log P(T) to 1e-9 for 500 random (x, a, b, φ)."""
    for x, a, b, phi in _random_cases(500, seed=2):
        terms = bayes.elbo_terms(phi, x, a, b)
        log_evidence = math.log(a * x + b * (1 - x))
        assert terms.log_evidence == pytest.approx(log_evidence, abs=1e-12)
        assert abs(terms.elbo[0] + terms.kl_to_posterior[0] - log_evidence) < 1e-9


def test_elbo_identity_holds_at_phi_zero_and_one():
    """At the ends φ = 0, 1 (0·log 0 = 0) the identity still holds to 1e-9."""
    terms = bayes.elbo_terms([0.0, 1.0], 0.3, 0.9, 0.4)
    np.testing.assert_allclose(terms.elbo + terms.kl_to_posterior, terms.log_evidence, atol=1e-9)


def test_elbo_maximiser_is_the_posterior():
    """On a fine φ grid the ELBO peaks at P(F|T), where KL(q‖posterior) is 0."""
    phis = np.linspace(0.0, 1.0, 100_001)
    for x, a, b in [(0.3, 1.0, 0.5), (0.8, 0.2, 0.9), (0.05, 0.99, 0.01)]:
        terms = bayes.elbo_terms(phis, x, a, b)
        best = phis[np.argmax(terms.elbo)]
        assert best == pytest.approx(bayes.elbo_maximiser(x, a, b), abs=1e-5)
        at_posterior = bayes.elbo_terms(bayes.posterior(x, a, b), x, a, b)
        assert at_posterior.kl_to_posterior[0] == pytest.approx(0.0, abs=1e-12)


def test_elbo_is_minus_infinity_where_q_leaves_the_support():
    """log 0 in the ELBO: with a = 0 any φ > 0 has ELBO −∞ and KL(q‖posterior) +∞, no NaN."""
    terms = bayes.elbo_terms([0.0, 0.5], 0.5, 0.0, 0.5)
    assert terms.elbo[0] == pytest.approx(math.log(0.25))
    assert terms.elbo[1] == -np.inf and terms.kl_to_posterior[1] == np.inf
    assert not np.any(np.isnan(terms.elbo))


def test_elbo_with_prior_zero_is_finite_only_at_phi_zero():
    """Prior 0: KL(q‖prior) is +∞ for φ > 0, and ELBO(0) = log P(T) = log b."""
    terms = bayes.elbo_terms([0.0, 0.2], 0.0, 1.0, 0.5)
    assert terms.elbo[0] == pytest.approx(math.log(0.5)) and terms.elbo[1] == -np.inf


def test_elbo_of_impossible_evidence_raises():
    """P(T) = 0 has no posterior, so elbo_terms raises ImpossibleEvidence."""
    with pytest.raises(bayes.ImpossibleEvidence):
        bayes.elbo_terms([0.5], 0.5, 0.0, 0.0)


def test_jax_elbo_matches_numpy_elbo():
    """The float32 JAX ELBO of logit φ agrees with the float64 reference to 1e-5."""
    for x, a, b, phi in _random_cases(20, seed=3):
        value = bayes.elbo_of_logit(jnp.float32(math.log(phi / (1 - phi))), x, a, b)
        assert float(value) == pytest.approx(bayes.elbo_terms(phi, x, a, b).elbo[0], abs=1e-5)


def test_jitted_gradient_ascent_reaches_the_posterior():
    """Jitted vi_step from φ = 0.01 reaches P(F|T) = 6/13 within 1e-4 in 40 steps."""
    step = jax.jit(bayes.vi_step)
    state = bayes.vi_init(0.01)
    elbos = []
    for _ in range(40):
        state, info = step(state, jnp.float32(0.3), jnp.float32(1.0), jnp.float32(0.5))
        elbos.append(float(info.elbo))
    assert float(jax.nn.sigmoid(state.phi_logit)) == pytest.approx(6 / 13, abs=1e-4)
    assert int(state.step) == 40
    assert all(later >= earlier - 1e-6 for earlier, later in zip(elbos, elbos[1:], strict=False))


@pytest.mark.slow
def test_gradient_ascent_state_and_info_are_the_bernoulli_q_types():
    """vi_step keeps a BernoulliQState and reports BernoulliQInfo, not the names of
    bnnlab.methods.vi's Gaussian q."""
    state, info = bayes.vi_step(bayes.vi_init(0.2), jnp.float32(0.3), jnp.float32(1.0),
                                jnp.float32(0.5))
    assert isinstance(state, bayes.BernoulliQState) and isinstance(info, bayes.BernoulliQInfo)
    assert float(info.phi) == pytest.approx(0.2, abs=1e-6)
    assert not hasattr(bayes, "VIState") and not hasattr(bayes, "VIInfo")


def test_vi_init_clips_the_ends():
    """φ = 0 and φ = 1 start at a finite logit (±log 999) instead of ±∞."""
    assert float(bayes.vi_init(0.0).phi_logit) == pytest.approx(-math.log(999), rel=1e-5)
    assert float(bayes.vi_init(1.0).phi_logit) == pytest.approx(math.log(999), rel=1e-5)


def test_ascent_reaches_the_posterior_and_stops():
    """advance_ascent, tick after tick, takes φ from 0.1 monotonically to P(F|T) = 6/13 and
    stops within its tolerance; the path records φ before each step."""
    ascent = bayes.start_ascent(0.1)
    ticks = 0
    while ascent.running and ticks < 200:
        ascent = bayes.advance_ascent(ascent, 0.3, 1.0, 0.5)
        ticks += 1
    assert not ascent.running
    assert abs(ascent.phi - 6 / 13) < 5e-4
    assert ascent.phis[0] == pytest.approx(0.1, abs=1e-6)
    assert list(ascent.phis) == sorted(ascent.phis) and len(ascent.phis) == ascent.state.step


def test_moved_by_hand_ignores_the_sliders_rounding():
    """A finished ascent counts φ as moved by hand only beyond 0.01 from its own rounded φ;
    a running one never does (the optimiser writes φ itself)."""
    ascent = bayes.start_ascent(0.1)
    while ascent.running:
        ascent = bayes.advance_ascent(ascent, 0.3, 1.0, 0.5)
    assert not ascent.moved_by_hand(round(ascent.phi, 3))
    assert not ascent.moved_by_hand(round(ascent.phi, 3) + 0.005)
    assert ascent.moved_by_hand(0.2)
    assert not bayes.start_ascent(0.1).moved_by_hand(0.9)


def test_talks_case_and_failure_proof():
    """Only (a, b) = (1, ½) is the talk's case; one failure proves a bug iff a = 1 and x > 0,
    which is exactly when P(F|¬T) is 0 while the prior was not."""
    assert bayes.is_talks_case(1.0, 0.5) and not bayes.is_talks_case(1.0, 0.4)
    for x, a in [(0.5, 1.0), (0.0, 1.0), (0.5, 0.9)]:
        failed = bayes.update(x, a, 0.5, tests_passed=False).posterior
        assert bayes.failure_proves_a_bug(x, a) == (failed == 0.0 and x > 0.0)


def test_ascent_stops_at_once_on_a_certain_posterior():
    """With P(T|F) = 0 the posterior is 0: no step is taken and the ascent is over."""
    ascent = bayes.advance_ascent(bayes.start_ascent(0.1), 0.3, 0.0, 0.5)
    assert not ascent.running and ascent.phis == ()


def test_formatting_of_probabilities_and_nats():
    """Probabilities lose trailing zeros; nats get a real minus sign and ±∞ in words."""
    assert bayes.format_probability(0.35) == "0.35" and bayes.format_probability(1.0) == "1"
    assert bayes.format_nats(-0.5) == "−0.5000" and bayes.format_nats(-math.inf) == "−∞"
