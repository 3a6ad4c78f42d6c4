"""What chapter 5's page says in words and tables: its prose, every figure in it computed from
the library or from the stored results of `docs/digits_table.py` and
`docs/digits_sigma_sweep.py` (the same text as docs/DIGITS.md), and the rows of its tables."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bnnlab.core import verdict
from bnnlab.data import ood
from bnnlab.lessons import digits
from bnnlab.lessons.digits import Evidence, Reading, ScoreRow
from bnnlab.lessons.digits_sweep import SweepRow
from bnnlab.live.status import Status


def _counts() -> dict[str, int]:
    """The sizes the text quotes, from the library (no OOD rendering needed)."""
    data = digits.load_split()
    return {"train": len(data.x_train), "test": len(data.x_test),
            "all": len(data.x_train) + len(data.x_test), "letters": len(ood.letter_names()),
            "noise": ood.NUM_NOISE, "draws": digits.EVAL_SAMPLES,
            "members": digits.recipe_config("ensemble").ensemble_size}


def intro() -> str:
    n = _counts()
    return (
        "The talk's own example: a Bayesian MLP with a **categorical (softmax) likelihood** "
        f"trained on the 8×8 handwritten digits ({n['all']:,} images; {n['train']:,} to train, "
        f"{n['test']:,} to test; pixels 0–16 divided by 16). Does it say *I don't know* when "
        "shown a letter or noise it never saw? Train it, draw on it, and read the measured "
        "evidence below.")


def evidence_intro() -> str:
    n = _counts()
    return (
        f"Each trained model predicts the {n['test']:,} test digits, {n['letters']:,} rendered "
        f"letters and {n['noise']:,} noise images ({n['draws']} posterior draws; an ensemble "
        f"its {n['members']} members). **AUROC** is the chance that an OOD image scores more "
        "uncertain than a test digit (0.5: no better than a coin, 1: perfect). The model-free "
        "baseline scores each image by its distance to the nearest training digit.\n\n"
        "**The verdict** reads the whole model, as on every page (`bnnlab.core.verdict`): do "
        "its posterior's networks agree on the test digits (near) and disagree on the letters "
        "and noise (far)? It reads the mean *epistemic* uncertainty (mutual information, nats) "
        "near and far, with the test accuracy. It is not the per-drawing answer above "
        "(\"It's a 7\" or \"I don't know\" from one image's top-class probability).")


def preparing(kind: str) -> str:
    """The status line while an example's images render (once per server process)."""
    n = _counts()
    return (f"Preparing the {kind} example: rendering the {n['letters']:,} letters and "
            f"{n['noise']:,} noise images the first time this server shows one (seconds)…")


def measuring() -> str:
    """The spinner while the evidence is measured."""
    n = _counts()
    return (f"Predicting {n['test'] + n['letters'] + n['noise']:,} images with every trained "
            "model…")


def data_paragraph() -> str:
    """DIGITS.md's data paragraph, its counts from the library."""
    n = _counts()
    cfg = digits.recipe_config("vi_talk")
    return (
        f"Data: the 8×8 optdigits set shipped in `bnnlab/data/` ({n['all']:,} images), split "
        f"stratified with `split_digits(y, {cfg.test_fraction:g}, seed)` ({n['train']:,} train "
        f"/ {n['test']:,} test); inputs are pixels / 16 everywhere "
        f"(`bnnlab.lessons.digits.scale`). OOD: `data.ood.make_ood_set(seed)`: "
        f"{n['letters']:,} rendered letters, {n['noise']:,} noise images. The network: 64 → "
        f"{','.join(map(str, cfg.hidden))} (tanh) → 10 softmax logits "
        f"(`registry.LIKELIHOODS[\"categorical\"]`), Adam lr {cfg.lr:g}, N(0, "
        f"{cfg.prior_std:g}) prior, {cfg.steps:,} full-batch steps, {cfg.steps_per_chunk} steps "
        "per chunk asked for. Recipes: `bnnlab/lessons/digits.py:RECIPES`.")


STATUS = {Status.IDLE: "not trained yet: press Train", Status.COMPILING: "compiling",
          Status.WAITING: "waiting for the accelerator", Status.TRAINING: "training",
          Status.PAUSED: "paused", Status.FINISHED: "done", Status.DIVERGED: "stopped",
          Status.ERROR: "stopped"}
HEADLINE = verdict.HEADLINES


def reading_lines(label: str, readings: dict[str, Reading]) -> list[str]:
    """The page's lines on one model's verdicts: the headline and sentence per far set, and,
    where it does not say "I don't know" on the letters, a sentence saying so."""
    lines = []
    for far, reading in readings.items():
        lines.append(f"**{label}**, far = {far}: **{reading.verdict.headline}.** "
                     f"{reading.verdict.sentence}")
    letters = readings.get("letters")
    if letters is not None and letters.verdict.kind != verdict.KNOWS:
        lines.append(f"So {label} does **not** say \"I don't know\" on letters as a model: "
                     f"its networks' mean disagreement there is {letters.epistemic_far:.3f} "
                     f"nats (± {_error(letters.epistemic_far_se)}), against "
                     f"{letters.epistemic_near:.3f} on the test digits.")
    return lines


SHORT = {"vi_talk": "VI at β = 0.001", "vi_full": "full Bayes (β = 1)", "map": "MAP",
         "ensemble": "the ensemble"}  # names inside running text


def _short(name: str) -> str:
    return SHORT.get(name, digits.RECIPES[name].label)


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _verb(names: list[str], one: str, many: str) -> str:
    """A sentence's start: the names (first letter capitalised) and the verb's number."""
    text = f"{_join(names)} {one if len(names) == 1 else many}"
    return text[0].upper() + text[1:]


def _letters_verdicts(results: dict) -> list[str]:
    """Sentences on who says "I don't know" on letters: never, always, in some seeds."""
    groups: dict[str, list[str]] = {"never": [], "always": [], "some": []}
    for name in digits.RECIPES:
        said = [k == verdict.KNOWS for k in values(results, name, "verdict_letters")]
        groups["always" if all(said) else "some" if any(said) else "never"].append(name)
    out = []
    if groups["never"]:
        out.append(
            "**The verdict on letters**: "
            + _verb([_short(n) for n in groups["never"]], "does", "do")
            + " not say \"I don't know\" on letters in any seed (mean epistemic on letters "
            + "; ".join(f"{span(values(results, n, 'epistemic_far_letters'))} nats for "
                        f"{_short(n)}: {kinds(results, n, 'verdict_letters', headline=True)}"
                        for n in groups["never"])
            + f"; doubt counts from {verdict.FAR_DOUBT * math.log(10):.3f}).")
    if groups["some"]:
        out.append(_verb([_short(n) for n in groups["some"]], "says", "say")
                   + " it in some seeds only.")
    if groups["always"]:
        out.append(_verb([_short(n) for n in groups["always"]], "knows", "know")
                   + " where it has no data on letters in every seed ("
                   + "; ".join(f"{span(values(results, n, 'epistemic_far_letters'))} nats on "
                               f"letters against {span(values(results, n, 'epistemic_near'))} "
                               f"on digits for {_short(n)}" for n in groups["always"]) + ").")
    return out


def what_we_measured(results: dict) -> str:
    """The page's and DIGITS.md's summary of the stored results (`digits_report`): every
    figure a range over the stored seeds; every claim chosen by the figures."""
    names = list(digits.RECIPES)
    seeds = sorted({row["seed"] for row in results["rows"]})

    def every(field: str) -> list[float]:
        return [v for n in names for v in values(results, n, field)]

    cfg = digits.recipe_config("vi_talk")
    noise = every("ood_auroc_noise")
    caught = "**Noise is caught**" if min(noise) >= 0.95 else "Noise is mostly caught"
    letters = {n: values(results, n, "ood_auroc_letters") for n in names}
    best = max(v for vs in letters.values() for v in vs)
    nearest = [r["nearest_auroc_letters"] for r in results["rows"]]
    parts = [
        f"**What we measured** ({len(seeds)} seeds, {cfg.steps:,} steps, hidden "
        f"{','.join(map(str, cfg.hidden))}; `python docs/digits_table.py`, figures in "
        f"docs/DIGITS.md): the four methods reach {span(every('test_acc'))} on the test "
        f"digits. {caught} (AUROC {span(noise)} by predictive entropy); letters much less "
        "(" + "; ".join(f"{_short(n)} {span(letters[n])}" for n in names) + "), and many "
        "letters still get a digit with P ≥ 0.9 ("
        + "; ".join(f"{_short(n)} {span(values(results, n, 'letters_confident'), percent=True)}"
                    for n in names) + ")."]
    parts += _letters_verdicts(results)
    ens_mi, ens_h = (values(results, "ensemble", f) for f in ("ood_auroc_mi_letters",
                                                              "ood_auroc_letters"))
    if min(ens_mi) > max(ens_h):
        parts.append(
            f"The ensemble's mutual information ranks letters above digits better than its "
            f"entropy (AUROC {span(ens_mi)} against {span(ens_h)}), yet its members barely "
            f"disagree on letters ({span(values(results, 'ensemble', 'epistemic_far_letters'))}"
            " nats): a ranking, not a doubt.")
    full, talk = "vi_full", "vi_talk"
    parts.append(
        f"**Full Bayes (β = 1)** reaches {span(values(results, full, 'test_acc'))} with NLL "
        f"{span(values(results, full, 'test_nll'))} and ECE "
        f"{span(values(results, full, 'ece'))}, against NLL "
        f"{span(values(results, talk, 'test_nll'))} and ECE "
        f"{span(values(results, talk, 'ece'))} at β = 0.001: it pays for its doubt with "
        "under-confidence on the digits.")
    compare = "better than every network here" if min(nearest) > best else (
        "not better than the best network here")
    parts.append(f"The model-free distance to the nearest training digit reaches "
                 f"{span(nearest)} on letters: {compare} (best network {best:.3f}).")
    return " ".join(parts)


def sweep_reading(rows: list[SweepRow]) -> str:
    """What the σ sweep shows, its figures from the sweep's rows."""
    steps = sorted({r.steps for r in rows})

    def run(beta: float, sigma0: float) -> list[SweepRow]:
        return sorted((r for r in rows if (r.kl_weight, r.init_std) == (beta, sigma0)),
                      key=lambda r: r.steps)

    talk, small, tenfold, full = (run(1e-3, 0.03), run(1e-3, 1e-3), run(1e-2, 0.03),
                                  run(1.0, 0.03))
    if not (talk and small and tenfold and full):
        return ""
    median = " → ".join(f"{r.sigma_median:.2f} at {r.steps:,}" for r in talk)
    settle = next((r for r in full if r.sigma_median >= 0.9), None)
    p90 = next((r for r in talk if r.sigma_p90 >= 0.9), None)
    return (
        f"**Read it**: at β = 0.001 from σ₀ = 0.03 the median σ does not settle: {median}; "
        f"from σ₀ = 0.001 it grows the same way ({small[0].sigma_median:.2f} → "
        f"{small[-1].sigma_median:.2f}). A tenfold β makes it grow faster "
        f"({tenfold[-1].sigma_median:.2f} at {steps[-1]:,}); with the whole KL (β = 1) σ "
        + (f"is {settle.sigma_median:.2f} by {settle.steps:,} steps, near the prior's 1"
           if settle else f"is {full[-1].sigma_median:.2f} at {steps[-1]:,}") + ". "
        + (f"At β = 0.001, 10% of all σ are ≥ {p90.sigma_p90:.2f} by {p90.steps:,} steps: the "
           "weights the data barely constrain go first. " if p90 else "")
        + "A likely reason (not measured here): Adam scales every gradient to about the same "
        "step size, so even the KL's pull at β = 0.001 moves σ by about the learning rate per "
        f"step. The letters AUROC moves with σ ({talk[0].auroc_letters:.2f} → "
        f"{talk[-1].auroc_letters:.2f} at β = 0.001 from {steps[0]:,} to {steps[-1]:,} "
        "steps): the uncertainty you read depends on how long you trained.")


def score_table(results: dict[str, Evidence], nearest: ScoreRow,
               labels: dict[str, str]) -> list[dict]:
    """The AUROC table: every model's scores, then the model-free baseline."""
    rows = [{"model": labels.get(r.model, "no model (nearest training digit)"),
             "score": r.score, "AUROC letters": round(r.auroc_letters, 3),
             "AUROC noise": round(r.auroc_noise, 3)}
            for ev in results.values() for r in ev.scores]
    rows.append({"model": "no model", "score": nearest.score,
                 "AUROC letters": round(nearest.auroc_letters, 3),
                 "AUROC noise": round(nearest.auroc_noise, 3)})
    return rows


def summary_table(results: dict[str, Evidence], labels: dict[str, str]) -> list[dict]:
    """Accuracy, NLL, ECE, the share of confident letters, the epistemic uncertainty near and
    on the letters (± its Monte Carlo error) and the verdicts, per model."""
    return [{"model": labels[n], "test accuracy": round(ev.test_acc, 3),
             "test NLL": round(ev.test_nll, 3), "ECE": round(ev.ece, 3),
             "letters with P ≥ 0.9": f"{ev.confident_letters:.0%}",
             "epistemic near": _nats(ev.readings["letters"], "near"),
             "epistemic far (letters)": _nats(ev.readings["letters"], "far"),
             "verdict (letters and noise)": ev.readings["letters and noise"].verdict.headline,
             "verdict (letters)": ev.readings["letters"].verdict.headline}
            for n, ev in results.items()]


def _nats(reading: Reading, where: str) -> str:
    value, error = (getattr(reading, f"epistemic_{where}{s}") for s in ("", "_se"))
    return f"{value:.3f}" if error == 0 else f"{value:.3f} ± {_error(error)}"


def _error(error: float) -> str:
    """A Monte Carlo standard error at the figures' precision: "0.002", or "< 0.001"."""
    return f"{error:.3f}" if error >= 5e-4 else "< 0.001"


def sweep_table(rows: list[SweepRow]) -> list[dict]:
    """The σ sweep as a table."""
    return [{"β": r.kl_weight, "σ₀": r.init_std, "steps": r.steps,
             "median σ": round(r.sigma_median, 3), "90% σ": round(r.sigma_p90, 3),
             "test acc": round(r.test_acc, 3), "NLL": round(r.test_nll, 3),
             "AUROC letters H": round(r.auroc_letters, 3),
             "AUROC letters MI": round(r.auroc_letters_mi, 3),
             "AUROC noise H": round(r.auroc_noise, 3)} for r in rows]


# ------------------------------------------------------------------ figures over seeds
def values(results: dict, name: str, field: str) -> list[float]:
    """`field` of recipe `name` over the stored seeds."""
    return [row[field] for row in results["rows"] if row["recipe"] == name]


def span(numbers: Sequence[float], digits_: int = 3, percent: bool = False) -> str:
    """A figure over seeds as the docs quote it: "0.958–0.967" (min–max), or one number when
    they agree at that precision; `percent`: "47–57%"."""
    if percent:
        low, high = (f"{100 * v:.0f}" for v in (min(numbers), max(numbers)))
        return f"{low}%" if low == high else f"{low}–{high}%"
    low, high = (f"{v:.{digits_}f}" for v in (min(numbers), max(numbers)))
    return low if low == high else f"{low}–{high}"


def with_error(results: dict, name: str, field: str) -> str:
    """A Monte Carlo figure: its range over seeds and the largest standard error over the
    posterior draws (`field + "_se"`), "0.012–0.015 (± ≤ 0.001)"; one network: no error."""
    spread = span(values(results, name, field))
    error = max(values(results, name, field + "_se"))
    return spread if error == 0 else f"{spread} (± ≤ {max(error, 5e-4):.3f})"


def kinds(results: dict, name: str, field: str, headline: bool = False) -> str:
    """The verdict kinds of recipe `name` over the seeds, each once, in the order met; their
    headlines ("Confident everywhere") with `headline`."""
    found = dict.fromkeys(values(results, name, field))
    return " / ".join(verdict.HEADLINES[k] if headline else k for k in found)
