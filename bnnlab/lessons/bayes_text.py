"""Chapter 1's formulas and verdicts filled in with the learner's numbers (LaTeX and markdown).

Everything is computed by `bnnlab.lessons.bayes`; here it is only written out, so the page reads
like a description of its UI and every sentence that depends on the numbers is tested here.
"""

from __future__ import annotations

import math

from bnnlab.lessons.bayes import (
    BayesUpdate,
    ElboTerms,
    NaturalFrequencies,
    format_nats,
    format_probability,
    is_talks_case,
    posterior,
)

num, nats = format_probability, format_nats

INTRO = (
    "You wrote some code and the tests pass. How sure should you now be that it is bug-free? "
    "Let **F** = *my code is bug-free* and **T** = *the tests pass*. Bayes' theorem turns "
    "your belief **before** the tests, the prior P(F), into your belief **after** them, "
    "the posterior P(F | T). Drag the sliders and watch it move."
)
BAYES_LATEX = r"P(F \mid T) = \frac{P(T \mid F)\,P(F)}{P(T)}"
IMPOSSIBLE_EVIDENCE = (
    "**This evidence is impossible under your model.** With these numbers the tests can "
    "never pass: P(T) = 0, because every program you consider possible fails them. "
    "Bayes' theorem would divide by zero, so there is no posterior. If the tests did "
    "pass, your model is wrong: give some probability to passing (raise P(T | F) or "
    "P(T | ¬F), or move the prior away from 0 and 1)."
)
IMPOSSIBLE_FAILURE = (
    "**A failure is impossible under your model**: with these numbers every program you "
    "consider possible passes (P(¬T) = 0), so P(F | ¬T) does not exist. If you ever see one "
    "fail, your model was wrong."
)
FAILURE_PROVES_A_BUG = (
    "**One failure proves there is a bug.** Bug-free code always passes (P(T | F) = 1), so a "
    "failing run is impossible if F is true: the posterior drops to exactly 0, no matter how "
    "many passes came before (the dotted red line stays at 0). Passing tests can never prove "
    "code correct; one failing test proves it wrong."
)
ELBO_INTRO = (
    "Chapter 3 will approximate a posterior we cannot compute. Here we can compute it, so "
    "we can watch the approximation work. Choose a distribution **q** over the two "
    "hypotheses H ∈ {F, ¬F} with q(F) = φ, and score it with the **ELBO**:"
)
ELBO_LATEX = (r"\mathrm{ELBO}(\varphi) = \mathbb{E}_q[\log P(T \mid H)] - \mathrm{KL}(q \,"
              r"\Vert\, P(H)) \qquad\text{and}\qquad \log P(T) = \mathrm{ELBO}(\varphi) + "
              r"\mathrm{KL}(q \,\Vert\, P(H \mid T))")
ELBO_MAXIMISER = (
    "log P(T) does not depend on φ, and KL ≥ 0 with equality only at q = posterior, so "
    "**maximising the ELBO is the same as making q equal to the posterior**."
)


def evidence_latex(passed: BayesUpdate) -> str:
    """P(T) = a·x + b·(1 − x), with the learner's numbers."""
    a, b, x = num(passed.likelihood), num(passed.likelihood_alt), num(passed.prior)
    return (rf"\begin{{aligned}} P(T) &= P(T \mid F)\,P(F) + P(T \mid \neg F)\,P(\neg F) \\"
            rf" &= {a}\cdot{x} + {b}\cdot{num(1 - passed.prior)} = {num(passed.joint)} + "
            rf"{num(passed.joint_alt)} = {num(passed.evidence)} \end{{aligned}}")


def posterior_latex(passed: BayesUpdate) -> str:
    """P(F | T) = a·x / P(T) = …; needs a posterior."""
    return (rf"P(F \mid T) = \frac{{{num(passed.likelihood)}\cdot{num(passed.prior)}}}"
            rf"{{{num(passed.evidence)}}} = {passed.posterior:.4f}")


def talks_case_latex(passed: BayesUpdate) -> str:
    """The talk's a = 1, b = ½: P(F | T) = 2x / (1 + x)."""
    x = num(passed.prior)
    return (rf"P(F \mid T) = \frac{{x}}{{x + \tfrac12 (1 - x)}} = \frac{{2x}}{{1 + x}}"
            rf" = \frac{{2\cdot{x}}}{{1 + {x}}} = {passed.posterior:.4f}")


def prior_note(prior: float, lik_bug_free: float, lik_buggy: float,
               posterior: float) -> str | None:
    """Why the posterior did not move, or why it is certain; None when neither."""
    if prior in (0.0, 1.0):
        return (f"**A prior of exactly {num(prior)} never moves.** You are certain the code is "
                f"{'bug-free' if prior == 1.0 else 'buggy'}, so no test result can change your "
                "mind: the posterior equals the prior whatever the likelihoods (Cromwell's "
                "rule: never give a possibility probability 0 or 1 unless you mean it).")
    if lik_bug_free == lik_buggy:
        return ("**These tests tell you nothing.** Bug-free and buggy code pass them equally "
                "often (P(T | F) = P(T | ¬F)), so passing is no evidence: the posterior equals "
                "the prior.")
    if posterior in (0.0, 1.0):
        return (f"**The tests settle it.** P(T | {'F' if posterior == 0.0 else '¬F'}) = 0: "
                f"{'bug-free' if posterior == 0.0 else 'buggy'} code never passes, so passing "
                f"proves the code is {'buggy' if posterior == 0.0 else 'bug-free'}.")
    return None


def natural_frequency_latex(freqs: NaturalFrequencies, posterior: float) -> str:
    """The share of bug-free programs among the passing ones, next to P(F | T); two lines, so
    that it fits a 2/5 column at 1366 px."""
    return (rf"\begin{{aligned}} \frac{{{freqs.bug_free_pass}}}{{{freqs.bug_free_pass} + "
            rf"{freqs.buggy_pass}}} &= {freqs.bug_free_pass / freqs.passing:.4f} \\"
            rf" &\approx P(F \mid T) = {posterior:.4f} \end{{aligned}}")


def after_runs_latex(prior: float, lik_bug_free: float, lik_buggy: float, num_passes: int,
                     value: float) -> str:
    """P(F | T₁…Tₙ) = x·aⁿ / (x·aⁿ + (1 − x)·bⁿ), with the learner's numbers."""
    a, b, x, n = num(lik_bug_free), num(lik_buggy), num(prior), num_passes
    return (rf"\begin{{aligned}} P(F \mid T_1,\dots,T_n) &= \frac{{x\,a^n}}"
            rf"{{x\,a^n + (1-x)\,b^n}} \\ &= \frac{{{x}\cdot{a}^{{{n}}}}}{{{x}\cdot{a}^{{{n}}}"
            rf" + {num(1 - prior)}\cdot{b}^{{{n}}}}} \\ &= {value:.4f} \end{{aligned}}")


def bayes_factor_note(prior: float, lik_bug_free: float, lik_buggy: float) -> str | None:
    """What each pass does to the odds; None where the odds or the factor are undefined."""
    if not (0.0 < prior < 1.0 and lik_buggy > 0.0 and lik_bug_free > 0.0):
        return None
    factor = num(lik_bug_free / lik_buggy)
    trend = ("So the posterior climbs towards 1 but never reaches it."
             if lik_bug_free > lik_buggy else "So the posterior sinks towards 0."
             if lik_bug_free < lik_buggy else "So it never moves.")
    return (f"Each pass multiplies the odds P(F) : P(¬F) by the Bayes factor a / b = {factor}; "
            f"after n passes, by {factor}ⁿ. {trend}")


def no_passing_note(population: int) -> str:
    """Why the natural-frequency share is missing when no whole program passes."""
    return (f"Passing is so rare here that none of {population:,} whole programs pass; the "
            "exact posterior above still holds.")


def failure_not_proof(lik_bug_free: float) -> str:
    """A failure lowers P(F) but, since bug-free code can fail too, does not rule F out."""
    return ("A failure is evidence against F, but since bug-free code can fail too "
            f"(P(¬T | F) = {num(1 - lik_bug_free)}), it is not proof.")


def failure_latex(failed: BayesUpdate) -> str:
    """P(F | ¬T) = (1 − a)·x / P(¬T); needs a posterior."""
    return (rf"\begin{{aligned}} P(F \mid \neg T) &= \frac{{(1-a)\,x}}{{(1-a)\,x + (1-b)"
            rf"(1-x)}} \\ &= \frac{{{num(failed.likelihood)}\cdot{num(failed.prior)}}}"
            rf"{{{num(failed.evidence)}}} = {failed.posterior:.4f} \end{{aligned}}")


def identity_latex(elbo: float, kl_to_posterior: float, log_evidence: float) -> str:
    """ELBO + KL(q ‖ P(H | T)) = log P(T), each term as computed."""
    return (rf"\mathrm{{ELBO}} + \mathrm{{KL}}(q \,\Vert\, P(H \mid T)) = {nats(elbo)} + "
            rf"{nats(kl_to_posterior)} = {nats(elbo + kl_to_posterior)} = "
            rf"\log {num(math.exp(log_evidence))} = \log P(T)")


def elbo_metrics(current: ElboTerms) -> list[tuple[str, str]]:
    """(label, value in nats) of each term of log P(T) = ELBO + KL at one φ (float64[1] fields)."""
    return [(label, nats(float(value))) for label, value in (
        ("E_q[log P(T|H)]", current.expected_log_likelihood[0]),
        ("KL(q ‖ prior)", current.kl_to_prior[0]),
        ("ELBO(φ)", current.elbo[0]),
        ("KL(q ‖ posterior)", current.kl_to_posterior[0]),
        ("log P(T)", current.log_evidence))]


def ascent_summary(num_steps: int, phi: float, posterior_value: float) -> str:
    """Where gradient ascent on φ ended, next to the exact posterior."""
    return (f"Gradient ascent took {num_steps} steps to φ = {phi:.4f}; the exact posterior is "
            f"P(F | T) = {posterior_value:.4f}. The ELBO's maximiser is the posterior.")


def curve_markdown(lik_bug_free: float, lik_buggy: float) -> str:
    """How to read the posterior-against-prior curve, for these likelihoods."""
    words = ("The blue curve is the posterior for every possible prior with your likelihoods "
             f"(P(T | F) = {num(lik_bug_free)}, P(T | ¬F) = {num(lik_buggy)}); the red dot is "
             "you. Above the dashed diagonal, passing tests raised your belief; on it, they "
             "changed nothing.")
    if is_talks_case(lik_bug_free, lik_buggy):
        words += ("\n\nWith the talk's numbers the curve is **2x / (1 + x)**: a sceptic at 0.1 "
                  f"moves to {num(posterior(0.1, 1.0, 0.5))}, an optimist at 0.9 to "
                  f"{num(posterior(0.9, 1.0, 0.5))}. Passing tests help most when you were "
                  "unsure.")
    elif lik_bug_free < lik_buggy:
        words += ("\n\nHere buggy code passes *more* often than bug-free code, so passing tests "
                  "are evidence **against** bug-free code: the curve lies below the diagonal.")
    return words


def natural_frequencies_markdown(freqs: NaturalFrequencies) -> str:
    """The four counts in words, ending at the share that is the posterior."""
    bug_free = freqs.bug_free_pass + freqs.bug_free_fail
    return (f"Imagine {freqs.population:,} programs like yours. **{bug_free}** are bug-free "
            f"and **{freqs.population - bug_free}** are buggy.\n\n"
            f"- bug-free, tests pass: **{freqs.bug_free_pass}**\n"
            f"- buggy, tests pass: **{freqs.buggy_pass}**\n"
            f"- buggy, tests fail: **{freqs.buggy_fail}**\n"
            f"- bug-free, tests fail: **{freqs.bug_free_fail}**\n\n"
            f"Your tests passed, so you are one of the **{freqs.passing}** dark squares on the "
            "left. The posterior is simply the share of bug-free programs among them:")


def certain_posterior_note(posterior_value: float) -> str:
    """Why there is nothing to optimise when P(F | T) is 0 or 1."""
    other = "F" if posterior_value == 1.0 else "¬F"
    return (f"**The posterior is certain** (P(F | T) = {num(posterior_value)}): it gives "
            f"{other} probability 1. Any q that gives the other hypothesis some probability "
            "has ELBO = −∞, because the prior or the likelihood there is 0 and log 0 = −∞. "
            f"Only φ = {num(posterior_value)} has a finite ELBO, and there it equals log P(T). "
            "There is nothing to optimise.")


def infinite_elbo_note(phi: float, posterior_value: float) -> str:
    """Why the ELBO is −∞ at this φ."""
    return (f"At φ = {num(phi)} the ELBO is −∞ and KL(q ‖ posterior) is +∞: q puts mass on a "
            "hypothesis that the prior or the likelihood rules out (log 0). Move φ to "
            f"{num(posterior_value)}.")
