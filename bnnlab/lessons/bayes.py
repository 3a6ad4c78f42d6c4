"""Discrete Bayes: the bug-free code example, sequential updates, and its ELBO.

The talk's opening example. Two hypotheses, F = "my code is bug-free" and ¬F; one kind of
evidence, T = "the tests pass". With prior P(F) = x and likelihoods a = P(T|F),
b = P(T|¬F), Bayes' theorem gives

    P(F|T) = a·x / (a·x + b·(1−x)),

which for the talk's a = 1, b = 1/2 is 2x / (1+x).

Everything here is exact float64 numpy except the optimiser at the end (`vi_init`,
`vi_step`), which is JAX float32 and runs gradient ascent on q(F) = φ through its logit,
the bridge to variational inference (chapter 3). `vi_step` is pure and unjitted; the
animation chapter 1 runs (`advance_ascent`) compiles it once per process.

Conventions: probabilities are plain floats in [0, 1] (checked by `check_probability`);
`0·log 0 = 0`; a quantity that is undefined because the evidence has probability 0 raises
`ImpossibleEvidence` in the scalar API and is NaN in the vectorised curves (documented per
function), so a plot can leave a gap and a page can say why in words.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike, NDArray

from bnnlab.core.text import fmt

Float64Array = NDArray[np.float64]
# The talk's likelihoods (P(T|F), P(T|¬F)): bug-free code always passes, buggy code half the time.
TALKS_LIKELIHOODS = (1.0, 0.5)


class ImpossibleEvidence(ValueError):
    """The observed evidence has probability 0 under the model, so no posterior exists."""


def check_probability(name: str, value: float) -> float:
    """Return `value` as a float if it is a finite number in [0, 1], else raise ValueError."""
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}") from err
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return number


# --------------------------------------------------------------------------------------
# One update
# --------------------------------------------------------------------------------------


class BayesUpdate(NamedTuple):
    """Every number in one application of Bayes' theorem, for showing the derivation.

    `likelihood` and `likelihood_alt` are P(obs|F) and P(obs|¬F) for the observation that
    was made (the tests passed, or failed).
    """

    prior: float  # P(F)
    likelihood: float  # P(obs | F)
    likelihood_alt: float  # P(obs | ¬F)
    joint: float  # P(obs, F) = P(obs|F)·P(F)
    joint_alt: float  # P(obs, ¬F) = P(obs|¬F)·P(¬F)
    evidence: float  # P(obs) = joint + joint_alt
    posterior: float | None  # P(F | obs); None iff evidence == 0

    @property
    def is_possible(self) -> bool:
        """Whether the observation has positive probability under the model."""
        return self.evidence > 0.0


def update(
    prior: float, lik_pass_bug_free: float, lik_pass_buggy: float, tests_passed: bool = True
) -> BayesUpdate:
    """Bayes' theorem for one test run: P(F | T) if `tests_passed`, else P(F | ¬T).

    Args:
      prior: P(F), in [0, 1].
      lik_pass_bug_free: a = P(T|F), in [0, 1].
      lik_pass_buggy: b = P(T|¬F), in [0, 1].
      tests_passed: which outcome was observed; a failure uses 1−a and 1−b.

    Returns:
      A `BayesUpdate` whose `posterior` is None when the observation is impossible
      (P(obs) = 0, e.g. a = b = 0 and the tests passed).
    """
    prior = check_probability("P(F)", prior)
    a = check_probability("P(T|F)", lik_pass_bug_free)
    b = check_probability("P(T|¬F)", lik_pass_buggy)
    likelihood, likelihood_alt = (a, b) if tests_passed else (1.0 - a, 1.0 - b)
    joint = likelihood * prior
    joint_alt = likelihood_alt * (1.0 - prior)
    evidence = joint + joint_alt
    posterior = joint / evidence if evidence > 0.0 else None
    return BayesUpdate(prior, likelihood, likelihood_alt, joint, joint_alt, evidence, posterior)


def posterior(prior: float, lik_pass_bug_free: float, lik_pass_buggy: float) -> float:
    """P(F | T) = a·x / (a·x + b·(1−x)); raises `ImpossibleEvidence` when P(T) = 0."""
    result = update(prior, lik_pass_bug_free, lik_pass_buggy)
    if result.posterior is None:
        raise ImpossibleEvidence("the tests passing has probability 0 under this model")
    return result.posterior


def is_talks_case(lik_pass_bug_free: float, lik_pass_buggy: float) -> bool:
    """Whether the likelihoods are the talk's a = P(T|F) = 1 and b = P(T|¬F) = ½, where
    P(F|T) = 2x / (1 + x)."""
    return (lik_pass_bug_free, lik_pass_buggy) == TALKS_LIKELIHOODS


def failure_proves_a_bug(prior: float, lik_pass_bug_free: float) -> bool:
    """Whether one failing run makes P(F|¬T) exactly 0: bug-free code always passes (a = 1),
    so a failure rules F out, and the prior x > 0 left F something to lose."""
    return lik_pass_bug_free == 1.0 and prior > 0.0


def posterior_curve(
    priors: ArrayLike, lik_pass_bug_free: float, lik_pass_buggy: float
) -> Float64Array:
    """P(F | T) as a function of the prior, for fixed likelihoods.

    Args:
      priors: float64[m] values of P(F) in [0, 1].
      lik_pass_bug_free: a = P(T|F).
      lik_pass_buggy: b = P(T|¬F).

    Returns:
      float64[m] posteriors; NaN where P(T) = 0 for that prior (no posterior exists).
    """
    x = np.asarray(priors, dtype=np.float64)
    a = check_probability("P(T|F)", lik_pass_bug_free)
    b = check_probability("P(T|¬F)", lik_pass_buggy)
    joint = a * x
    evidence = joint + b * (1.0 - x)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(evidence > 0.0, joint / evidence, np.nan)


# --------------------------------------------------------------------------------------
# Evidence arriving over time
# --------------------------------------------------------------------------------------


def posterior_after_runs(
    prior: float,
    lik_pass_bug_free: float,
    lik_pass_buggy: float,
    num_passes: ArrayLike,
    num_failures: int = 0,
) -> Float64Array:
    """Posterior after independent runs: n passes and m failures, in any order.

        P(F | n passes, m failures) = x·aⁿ(1−a)ᵐ / (x·aⁿ(1−a)ᵐ + (1−x)·bⁿ(1−b)ᵐ)

    which equals n + m repeated single updates (`update`), since the runs are independent
    given the hypothesis. `0⁰ = 1`, so n = m = 0 gives back the prior.

    Args:
      prior: P(F) = x.
      lik_pass_bug_free: a = P(T|F).
      lik_pass_buggy: b = P(T|¬F).
      num_passes: int[k] numbers of passing runs n ≥ 0.
      num_failures: m ≥ 0 failing runs, the same for every n.

    Returns:
      float64[k] posteriors; NaN where that sequence of outcomes is impossible.
    """
    x = check_probability("P(F)", prior)
    a = check_probability("P(T|F)", lik_pass_bug_free)
    b = check_probability("P(T|¬F)", lik_pass_buggy)
    n = np.asarray(num_passes, dtype=np.float64)
    if np.any(n < 0) or num_failures < 0:
        raise ValueError("numbers of runs must be ≥ 0")
    # Underflow is not a concern for the page's n ≤ 20; the direct product keeps the
    # formula recognisable and makes 0⁰ = 1 come out right.
    joint = x * a**n * (1.0 - a) ** num_failures
    joint_alt = (1.0 - x) * b**n * (1.0 - b) ** num_failures
    evidence = joint + joint_alt
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(evidence > 0.0, joint / evidence, np.nan)


# --------------------------------------------------------------------------------------
# Natural frequencies
# --------------------------------------------------------------------------------------


class NaturalFrequencies(NamedTuple):
    """Whole numbers of programs out of `population`, by hypothesis and test outcome."""

    bug_free_pass: int
    bug_free_fail: int
    buggy_pass: int
    buggy_fail: int

    @property
    def population(self) -> int:
        """Total number of programs."""
        return sum(self)

    @property
    def passing(self) -> int:
        """Programs whose tests pass."""
        return self.bug_free_pass + self.buggy_pass


def natural_frequencies(
    prior: float, lik_pass_bug_free: float, lik_pass_buggy: float, population: int = 1000
) -> NaturalFrequencies:
    """Split `population` programs by the joint probabilities, in whole numbers.

    The four cells are P(F)·a, P(F)·(1−a), P(¬F)·b, P(¬F)·(1−b) times `population`,
    rounded by the largest-remainder method so that they always add up to `population`
    (plain rounding can give 999 or 1,001).
    """
    x = check_probability("P(F)", prior)
    a = check_probability("P(T|F)", lik_pass_bug_free)
    b = check_probability("P(T|¬F)", lik_pass_buggy)
    if population < 1:
        raise ValueError(f"population must be ≥ 1, got {population}")
    shares = np.array([x * a, x * (1.0 - a), (1.0 - x) * b, (1.0 - x) * (1.0 - b)])
    exact = shares * population
    counts = np.floor(exact).astype(np.int64)
    shortfall = population - int(counts.sum())
    # Stable sort: ties go to the earlier cell, so the result is deterministic.
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:shortfall]] += 1
    return NaturalFrequencies(*(int(c) for c in counts))


# --------------------------------------------------------------------------------------
# The same example as variational inference
# --------------------------------------------------------------------------------------


class ElboTerms(NamedTuple):
    """The pieces of log P(T) = ELBO(q) + KL(q‖P(H|T)) for q(F) = φ, all float64[k].

    Infinite values are real, not errors: a q that puts mass where the prior or the
    likelihood is 0 has ELBO = −∞ and KL(q‖posterior) = +∞.
    """

    expected_log_likelihood: Float64Array  # E_q[log P(T|H)], float64[k], ≤ 0
    kl_to_prior: Float64Array  # KL(q‖P(H)), float64[k], ≥ 0
    elbo: Float64Array  # expected_log_likelihood − kl_to_prior, float64[k]
    kl_to_posterior: Float64Array  # KL(q‖P(H|T)), float64[k], ≥ 0
    log_evidence: float  # log P(T), the same for every φ


def _xlogy(x: Float64Array, y: Float64Array | float) -> Float64Array:
    """x·log y with 0·log y = 0 (also for y = 0), as in `scipy.special.xlogy`."""
    x, y = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0.0, 0.0, x * np.log(y))


def _bernoulli_kl(q: Float64Array, p: float) -> Float64Array:
    """KL(Bern(q)‖Bern(p)) = q·log(q/p) + (1−q)·log((1−q)/(1−p)); +∞ off the support."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _xlogy(q, q) - _xlogy(q, p) + _xlogy(1.0 - q, 1.0 - q) - _xlogy(1.0 - q, 1.0 - p)


def elbo_terms(
    phi: ArrayLike, prior: float, lik_pass_bug_free: float, lik_pass_buggy: float
) -> ElboTerms:
    """ELBO and KLs of the Bernoulli q(F) = φ over H ∈ {F, ¬F}, given T observed.

        ELBO(φ) = E_q[log P(T|H)] − KL(q‖P(H))
                = φ·log a + (1−φ)·log b − φ·log(φ/x) − (1−φ)·log((1−φ)/(1−x))
        log P(T) = ELBO(φ) + KL(q‖P(H|T))      for every φ

    (the evidence decomposition, e.g. Blei, Kucukelbir & McAuliffe 2017, eq. 13).

    Args:
      phi: float64[k] values of q(F) in [0, 1].
      prior: P(F) = x.
      lik_pass_bug_free: a = P(T|F).
      lik_pass_buggy: b = P(T|¬F).

    Returns:
      `ElboTerms` with float64[k] fields, ±∞ where q leaves the support.

    Raises:
      ImpossibleEvidence: if P(T) = 0; then log P(T) = −∞ and there is no posterior.
      ValueError: if any φ is outside [0, 1].
    """
    q = np.atleast_1d(np.asarray(phi, dtype=np.float64))
    if not np.all(np.isfinite(q)) or np.any(q < 0.0) or np.any(q > 1.0):
        raise ValueError("φ must lie in [0, 1]")
    result = update(prior, lik_pass_bug_free, lik_pass_buggy)
    if result.posterior is None:
        raise ImpossibleEvidence("the tests passing has probability 0 under this model")
    x, a, b = result.prior, result.likelihood, result.likelihood_alt
    expected_log_likelihood = _xlogy(q, a) + _xlogy(1.0 - q, b)
    kl_to_prior = _bernoulli_kl(q, x)
    elbo = expected_log_likelihood - kl_to_prior
    kl_to_posterior = _bernoulli_kl(q, result.posterior)
    return ElboTerms(
        expected_log_likelihood, kl_to_prior, elbo, kl_to_posterior, math.log(result.evidence)
    )


def elbo_maximiser(prior: float, lik_pass_bug_free: float, lik_pass_buggy: float) -> float:
    """argmax_φ ELBO(φ), which is the posterior P(F|T): there KL(q‖posterior) = 0."""
    return posterior(prior, lik_pass_bug_free, lik_pass_buggy)


# --------------------------------------------------------------------------------------
# Gradient ascent on φ, in JAX
# --------------------------------------------------------------------------------------


class BernoulliQState(NamedTuple):
    """What the next gradient-ascent step on q(F) = φ, a Bernoulli over "bug-free", needs."""

    phi_logit: jax.Array  # float32[], θ with φ = sigmoid(θ), so φ stays in (0, 1)
    step: jax.Array  # int32[], steps taken so far


class BernoulliQInfo(NamedTuple):
    """Diagnostics of one gradient-ascent step on φ, evaluated at the state before the step."""

    phi: jax.Array  # float32[], q(F)
    elbo: jax.Array  # float32[], ELBO(φ)
    grad: jax.Array  # float32[], dELBO/dθ


def elbo_of_logit(
    phi_logit: jax.Array, prior: jax.Array, lik_pass_bug_free: jax.Array, lik_pass_buggy: jax.Array
) -> jax.Array:
    """ELBO(sigmoid(θ)) in JAX, float32[] → float32[]; differentiable in θ.

    Needs 0 < x < 1 and a, b > 0 (a non-degenerate posterior), otherwise it is −∞.
    log φ and log(1−φ) come from `log_sigmoid`, which stays finite for large |θ|.
    """
    phi = jax.nn.sigmoid(phi_logit)
    log_phi = jax.nn.log_sigmoid(phi_logit)
    log_one_minus_phi = jax.nn.log_sigmoid(-phi_logit)
    expected_log_likelihood = phi * jnp.log(lik_pass_bug_free) + (1.0 - phi) * jnp.log(
        lik_pass_buggy
    )
    kl_to_prior = phi * (log_phi - jnp.log(prior)) + (1.0 - phi) * (
        log_one_minus_phi - jnp.log1p(-prior)
    )
    return expected_log_likelihood - kl_to_prior


def vi_init(phi: float, margin: float = 1e-3) -> BernoulliQState:
    """Start gradient ascent at q(F) = φ, clipped to [margin, 1 − margin] (θ must be finite)."""
    clipped = min(max(float(phi), margin), 1.0 - margin)
    return BernoulliQState(
        phi_logit=jnp.asarray(math.log(clipped / (1.0 - clipped)), dtype=jnp.float32),
        step=jnp.asarray(0, dtype=jnp.int32),
    )


def vi_step(
    state: BernoulliQState,
    prior: jax.Array,
    lik_pass_bug_free: jax.Array,
    lik_pass_buggy: jax.Array,
    learning_rate: float | jax.Array = 4.0,
) -> tuple[BernoulliQState, BernoulliQInfo]:
    """One step of gradient ascent on the ELBO in θ = logit φ: θ ← θ + η·dELBO/dθ.

    Here dELBO/dθ = φ(1−φ)·(logit P(F|T) − θ) and φ(1−φ) ≤ 1/4, so η = 4 is the largest
    step size that never overshoots the maximiser: φ glides monotonically to P(F|T).
    Pure; jit it in the caller (the likelihoods and prior are traced, so changing them
    does not recompile).
    """
    elbo, grad = jax.value_and_grad(elbo_of_logit)(
        state.phi_logit, prior, lik_pass_bug_free, lik_pass_buggy
    )
    info = BernoulliQInfo(phi=jax.nn.sigmoid(state.phi_logit), elbo=elbo, grad=grad)
    new_state = BernoulliQState(phi_logit=state.phi_logit + learning_rate * grad,
                                step=state.step + 1)
    return new_state, info


# --------------------------------------------------------------------------------------
# The animated ascent of chapter 1
# --------------------------------------------------------------------------------------


class Ascent(NamedTuple):
    """Gradient ascent on φ as chapter 1 animates it: the state and the path so far."""

    state: BernoulliQState
    phis: tuple[float, ...]  # φ before each step taken
    elbos: tuple[float, ...]  # ELBO(φ) there
    running: bool

    @property
    def phi(self) -> float:
        """q(F) = φ now."""
        return float(jax.nn.sigmoid(self.state.phi_logit))

    def moved_by_hand(self, phi: float, tolerance: float = 0.01) -> bool:
        """Whether a finished ascent's φ was since moved to `phi` by hand: by more than
        `tolerance`, which covers the slider's rounding of the optimiser's value to 0.001."""
        return not self.running and abs(phi - round(self.phi, 3)) > tolerance


@functools.cache
def _compiled_vi_step():
    """`vi_step`, compiled once per process; the prior, likelihoods and η are traced."""
    return jax.jit(vi_step)


def start_ascent(phi: float) -> Ascent:
    """An ascent from q(F) = φ that has not taken a step yet."""
    return Ascent(vi_init(phi), (), (), True)


def advance_ascent(ascent: Ascent, prior: float, lik_pass_bug_free: float,
                   lik_pass_buggy: float, learning_rate: float = 2.0,
                   tolerance: float = 5e-4, max_steps: int = 2000) -> Ascent:
    """One animation tick: 1 + step // 10 steps of `vi_step` (more as the run goes on, so a
    slow ascent still ends soon), then stop within `tolerance` of P(F|T) or at `max_steps`.

    η = 2 is half the never-overshooting 4, so the glide is visible. A degenerate posterior
    (0 or 1, where the ELBO is −∞ almost everywhere) stops the ascent without a step.
    """
    target = posterior(prior, lik_pass_bug_free, lik_pass_buggy)
    if not ascent.running or target in (0.0, 1.0):
        return ascent._replace(running=False)
    step = _compiled_vi_step()
    args = (jnp.float32(prior), jnp.float32(lik_pass_bug_free), jnp.float32(lik_pass_buggy),
            jnp.float32(learning_rate))
    state, phis, elbos = ascent.state, list(ascent.phis), list(ascent.elbos)
    for _ in range(1 + int(state.step) // 10):
        state, info = step(state, *args)
        phis.append(float(info.phi))
        elbos.append(float(info.elbo))
    done = abs(float(jax.nn.sigmoid(state.phi_logit)) - target) < tolerance
    return Ascent(state, tuple(phis), tuple(elbos), not done and int(state.step) < max_steps)


def format_probability(value: float) -> str:
    """A probability for prose and LaTeX: up to 4 decimals, no trailing zeros ('0.35', '1')."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def format_nats(value: float) -> str:
    """A log-probability for display, with a real minus sign and −∞ / +∞ written out."""
    if value == -math.inf:
        return "−∞"
    if value == math.inf:
        return "+∞"
    return fmt(value, 4, minus="−")
