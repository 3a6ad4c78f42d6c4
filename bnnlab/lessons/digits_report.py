"""Chapter 5 from the command line: `python -m bnnlab train --dataset digits` trains a recipe
and reports the contract's metrics with OOD AUROC and the one verdict (`run_report`); the
benchmark times a recipe to a test accuracy (`time_to_accuracy`).

And the chapter's measured figures, one source for docs/DIGITS.md and the page: every recipe of
`digits.RECIPES` trained with the CLI's own command over a few seeds (`measure`, run by
`docs/digits_table.py`), stored in `RESULTS_FILE`, and read back as ranges over the seeds
(`span`) by the markdown (`markdown_sections`) and the page text (`digits_text`). CI checks the
markdown against the stored results and a cheap subset of the results against the library
(tests/contract/test_digits_figures.py)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from bnnlab import registry
from bnnlab.core import ood_metrics, predict, runtime
from bnnlab.data.digits import NUM_CLASSES
from bnnlab.lessons import digits, digits_text
from bnnlab.lessons.digits import load_split, ood_set, readings, sample_probs
from bnnlab.lessons.digits_text import kinds, span, values, with_error
from bnnlab.training import cost, engine
from bnnlab.training.config import TrainConfig


def run_report(cfg: TrainConfig, out: str | None = None) -> dict:
    """Train and evaluate on the digits; the CLI's contract dict (DESIGN.md §4): test
    accuracy, NLL, ECE, `num_classes`, and `ood_auroc` by predictive entropy (digits against
    letters and noise together), with `ood_auroc_letters`, `ood_auroc_noise` apart.
    `entropy_near` is the mean predictive entropy on the test digits, `entropy_far` on the
    letters and noise; `epistemic_near` / `epistemic_far` the mean mutual information on the
    same images, each of the four with its Monte Carlo standard error (`*_se`), and `verdict` /
    `verdict_sentence` the one verdict (`core.verdict.judge`, K = 10) read from them
    (`digits.read_model`). The same with far = the letters alone carries the suffix
    `_letters` (`verdict_letters`, `epistemic_far_letters`, …)."""
    data = load_split(cfg.test_fraction, cfg.seed)
    cfg, _ = cost.check_cost(cfg, len(data.x_train))
    result = engine.fit(cfg, data.x_train, data.y_train)
    state, history = result.state, result.history
    images = ood_set(cfg.seed, cfg.test_fraction)
    x_all = np.concatenate([data.x_train, data.x_test, images["letters"], images["noise"]])
    probs = sample_probs(result.engine, state, x_all, jax.random.key(cfg.seed + 10_000))
    ends = np.cumsum([len(data.x_train), len(data.x_test), len(images["letters"])])
    train_p, test_p, letters_p, noise_p = np.split(probs, ends, axis=1)
    test = predict.categorical_metrics(test_p, data.y_test)
    train = predict.categorical_metrics(train_p, data.y_train)
    u_test, u_let, u_noise = (ood_metrics.uncertainty_scores(p) for p in (test_p, letters_p,
                                                                           noise_p))
    said = readings({"digits": test_p, "letters": letters_p, "noise": noise_p}, test.test_acc)
    steps_done = int(state.step)
    timed = max(steps_done - result.engine.static.steps_per_chunk, 0)

    def last(values: np.ndarray) -> float | None:
        return float(values[-1]) if len(values) else None

    report = {
        "dataset": cfg.dataset, "method": cfg.method, "steps": steps_done,
        "elbo": last(history.objective),
        "expected_log_likelihood": last(history.log_likelihood),
        "kl": last(history.regulariser),
        "trace_labels": list(registry.method(cfg.method).trace_labels),
        "train_acc": train.test_acc, "test_acc": test.test_acc, "test_nll": test.test_nll,
        "ece": test.ece,
        # entropy_near/far, epistemic_near/far, their *_se, verdict and verdict_sentence
        **said["letters and noise"].fields(),
        **said["letters"].fields("_letters"),
        "num_classes": NUM_CLASSES,
        "ood_auroc": ood_metrics.auroc(u_test.total, np.concatenate([u_let.total,
                                                                    u_noise.total])),
        "ood_auroc_letters": ood_metrics.auroc(u_test.total, u_let.total),
        "ood_auroc_noise": ood_metrics.auroc(u_test.total, u_noise.total),
        "ood_auroc_mi_letters": ood_metrics.auroc(u_test.epistemic, u_let.epistemic),
        "ood_auroc_mi_noise": ood_metrics.auroc(u_test.epistemic, u_noise.epistemic),
        "letters_confident": float(np.mean(u_let.max_prob >= 0.9)),
        "steps_per_s": timed / result.train_s if result.train_s > 0 else None,
        "compile_s": result.compile_s, "device": runtime.device_label(),
        "diverged": bool(state.diverged), "num_params": result.engine.num_params,
        "steps_per_chunk": result.engine.static.steps_per_chunk,
        **dict(cfg.method_values()),
        **registry.method(cfg.method).report(cfg, state),
    }
    if out:
        np.savez_compressed(
            out, x_train=data.x_train, y_train=data.y_train, x_test=data.x_test,
            y_test=data.y_test, test_mean_prob=u_test.mean_prob, test_total=u_test.total,
            test_aleatoric=u_test.total - u_test.epistemic, test_epistemic=u_test.epistemic,
            history_elbo=history.objective,
            history_expected_log_likelihood=history.log_likelihood,
            history_kl=history.regulariser, report=json.dumps(report))
    return report


def time_to_accuracy(cfg: TrainConfig, target: float = 0.95,
                     max_seconds: float = 60.0) -> dict:
    """Train `cfg` from scratch, one chunk at a time, and measure the wall time (compile
    included) until the test accuracy of the mean predictive first reaches `target`
    (checked after every chunk with `EVAL_SAMPLES` draws; evaluation time excluded)."""
    data = load_split(cfg.test_fraction, cfg.seed)
    start = time.perf_counter()
    run = engine.start_run(cfg, data.x_train, data.y_train)
    state, train_s, eval_s, acc = run.state, 0.0, 0.0, 0.0
    while state is not None:
        chunk = engine.advance(run.engine, state, run.batch, run.hyper, cfg.steps)
        state = chunk.state
        tick = time.perf_counter()
        acc = predict.categorical_metrics(sample_probs(run, state, data.x_test),
                                          data.y_test).test_acc
        eval_s += time.perf_counter() - tick
        train_s = time.perf_counter() - start - eval_s
        if acc >= target or chunk.step >= cfg.steps or train_s > max_seconds or chunk.taken == 0:
            return {"seconds_to_target": train_s if acc >= target else None,
                    "test_acc": acc, "steps": chunk.step, "target": target}
    return {"seconds_to_target": None, "test_acc": acc, "steps": 0, "target": target}


# ------------------------------------------------------------------ the documented figures

RESULTS_FILE = Path(__file__).resolve().parents[1] / "data" / "digits_results.json"
SEEDS = (0, 1, 2)
# The CLI flags of a recipe: every field the recipe sets or the CLI's defaults would change.
# `steps_per_chunk` among them: VI draws its noise once per chunk, so the chunk length changes
# the result; the page trains the recipe's (as `cost.check_cost` shortens it), so does the CLI.
FLAGS = ("method", "hidden", "lr", "prior_std", "kl_weight", "init_std", "num_samples",
         "ensemble_size", "steps", "steps_per_chunk", "test_fraction")
KEEP = ("test_acc", "test_nll", "ece", "ood_auroc_letters", "ood_auroc_noise",
        "ood_auroc_mi_letters", "letters_confident", "steps_per_chunk",
        "verdict", "verdict_letters",
        "entropy_near", "entropy_far", "epistemic_near", "epistemic_far",
        "entropy_near_se", "entropy_far_se", "epistemic_near_se", "epistemic_far_se",
        "epistemic_far_letters", "epistemic_far_letters_se")
BEGIN = "<!-- generated by docs/digits_table.py: {name} -->"
END = "<!-- end of generated {name} -->"


def command(name: str, seed: int) -> list[str]:
    """The arguments of `python -m bnnlab train` that train recipe `name` with `seed` exactly
    as the page does, ending in `--json`."""
    cfg = digits.recipe_config(name, seed=seed)
    out = ["train", "--dataset", "digits", "--seed", str(seed)]
    for field in FLAGS:
        value = getattr(cfg, field)
        value = ",".join(map(str, value)) if isinstance(value, tuple) else value
        out += ["--" + field.replace("_", "-"), f"{value:g}" if isinstance(value, float)
                else str(value)]
    return [*out, "--json"]


def load_results(path: Path | str = RESULTS_FILE) -> dict | None:
    """The stored results (`{"device", "seeds", "rows"}`), or None when missing or unreadable."""
    try:
        with open(path) as fh:
            payload = json.load(fh)
        payload["rows"] = list(payload["rows"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return payload


def _label(name: str) -> str:
    return digits.RECIPES[name].label


def _recipe_table(head: str, row: Callable[[str], list[str]]) -> str:
    """A markdown table with one row per recipe: its label, then `row(name)`'s cells."""
    return "\n".join([head, *(f"| {_label(name)} | " + " | ".join(row(name)) + " |"
                              for name in digits.RECIPES)])


def results_table(results: dict) -> str:
    """The markdown table of the recipes' figures, ranges over the stored seeds."""
    def row(name: str) -> list[str]:
        mi = values(results, name, "ood_auroc_mi_letters")
        return [*(span(values(results, name, field)) for field in
                  ("test_acc", "test_nll", "ece", "ood_auroc_letters", "ood_auroc_noise")),
                "— (MI 0)" if all(v == 0.5 for v in mi) else span(mi),
                span(values(results, name, "letters_confident"), percent=True)]

    return _recipe_table("| recipe | test acc | NLL | ECE | AUROC letters H | AUROC noise H | "
                         "AUROC letters MI | letters P ≥ 0.9 |\n|---|---|---|---|---|---|---|---|",
                         row)


def verdict_table(results: dict) -> str:
    """The markdown table of the one verdict per recipe: the mean epistemic uncertainty (nats)
    near (test digits) and far (letters and noise; letters alone), and the kinds."""
    return _recipe_table(
        "| recipe | epistemic near | far: letters and noise | far: letters | verdict "
        "(letters and noise) | verdict (letters) |\n|---|---|---|---|---|---|",
        lambda name: [*(with_error(results, name, field) for field in
                        ("epistemic_near", "epistemic_far", "epistemic_far_letters")),
                      kinds(results, name, "verdict", True),
                      kinds(results, name, "verdict_letters", True)])


def sweep_table(sweep: dict) -> str:
    """The markdown table of the σ sweep (`digits_sweep.load_sweep`): median σ per checkpoint
    (90th percentile at the last), letters AUROC first → last and accuracy at the last."""
    rows = sweep["rows"]
    steps = sorted({r.steps for r in rows})
    lines = [f"| β | σ₀ | median σ at {' / '.join(f'{s:,}' for s in steps)} | AUROC letters "
             f"{steps[0]:,} → {steps[-1]:,} | test acc at {steps[-1]:,} |\n|---|---|---|---|---|"]
    for beta, sigma0 in dict.fromkeys((r.kl_weight, r.init_std) for r in rows):
        run = sorted((r for r in rows if (r.kl_weight, r.init_std) == (beta, sigma0)),
                     key=lambda r: r.steps)
        lines.append(
            f"| {beta:g} | {sigma0:g} | {' / '.join(f'{r.sigma_median:.3f}' for r in run)} "
            f"({run[-1].sigma_p90:.2f}) | {run[0].auroc_letters:.3f} → "
            f"{run[-1].auroc_letters:.3f} | {run[-1].test_acc:.3f} |")
    return "\n".join(lines)


def chunks_paragraph() -> str:
    """Why the CLI command carries `--steps-per-chunk`, with each recipe's chunk as trained."""
    from bnnlab.core import limits
    from bnnlab.training import cost

    asked = digits.recipe_config("vi_talk").steps_per_chunk
    num_train = len(digits.load_split().x_train)
    taken = {digits.RECIPES[n].label: cost.check_cost(digits.recipe_config(n), num_train)[0]
             .steps_per_chunk for n in digits.RECIPES}
    return (
        "**Steps per chunk.** VI draws its noise once per chunk of steps, so the chunk length "
        "changes VI's result (MAP and the ensemble draw none). The recipes ask for "
        f"{asked} steps per chunk and `cost.check_cost` shortens that to what its cost model "
        f"says fits in {limits.MAX_CHUNK_SECONDS:g} s, here: "
        + "; ".join(f"{label}: {k}" for label, k in taken.items())
        + " (the JSON's `steps_per_chunk`). The page's runs take whole chunks of that length, "
        "never sized by the measured time (`digits_lab.Lab`), so **the command above and the page "
        "train the same network**, bit for bit on one machine (checked by "
        "`tests/contract/test_digits_figures.py`). The CLI's own default is "
        f"{config_default('steps_per_chunk')} steps per chunk: without `--steps-per-chunk "
        f"{asked}` VI gives other figures.")


def config_default(name: str) -> Any:
    """The CLI's default for TrainConfig field `name`."""
    from bnnlab.training.config import SETTINGS

    return SETTINGS[name].default


def markdown_sections(results: dict, sweep: dict | None) -> dict[str, str]:
    """The generated parts of docs/DIGITS.md, by name."""
    seeds = sorted({row["seed"] for row in results["rows"]})
    first = results["rows"][0]
    sections = {
        "data": digits_text.data_paragraph(),
        "chunks": chunks_paragraph(),
        "results": (
            f"Measured on {results['device']}, seeds {', '.join(map(str, seeds))}: each "
            "figure is the range over the seeds (min–max). AUROC: digits (negatives) against "
            "letters or noise (positives); \"H\" = predictive entropy, \"MI\" = mutual "
            "information.\n\n" + results_table(results) + "\n\n"
            "Model-free baseline, distance to the nearest training digit "
            "(`bnnlab.lessons.digits.nearest_rows`): AUROC letters "
            f"{span([r['nearest_auroc_letters'] for r in results['rows']])}, noise "
            f"{span([r['nearest_auroc_noise'] for r in results['rows']])}.\n\n"
            "The one verdict (`bnnlab.core.verdict.judge`, K = 10, the CLI's `verdict` and "
            "`verdict_letters`): mean epistemic uncertainty (mutual information, nats) on the "
            "450 test digits (near) and on the out-of-distribution images (far), range over "
            "the seeds, ± the largest Monte Carlo standard error over the posterior draws "
            f"(`predict.jackknife_se`; MAP is one network: 0). Doubt counts from "
            f"{0.1 * math.log(10):.3f} nats, a tenth of ln 10.\n\n" + verdict_table(results)
            + "\n\n" + digits_text.what_we_measured(results)),
        "command": (
            "    python docs/digits_table.py --seeds "
            f"{','.join(map(str, seeds))}   # writes bnnlab/data/digits_results.json and "
            "this file's tables\n    # one of its runs, the page's VI recipe with seed "
            f"{first['seed']}:\n    {first['command']}"),
    }
    if sweep is not None:
        sections["sweep"] = (
            f"    {sweep['command']}   # writes bnnlab/data/digits_sigma_sweep.json\n\n"
            f"Measured on {sweep['device']} in {sweep['wall_s']:.0f} s (one seed). Median "
            "posterior σ (90th percentile in brackets at the last checkpoint) and letters "
            "AUROC by entropy:\n\n" + sweep_table(sweep) + "\n\n"
            + digits_text.sweep_reading(sweep["rows"]))
    return sections


def fill(markdown: str, sections: dict[str, str]) -> str:
    """`markdown` with each generated section (between `BEGIN` and `END` markers of its name)
    replaced by `sections[name]`; KeyError for a section the text lacks."""
    for name, body in sections.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        start, stop = markdown.index(begin), markdown.index(end)
        markdown = markdown[:start] + begin + "\n" + body.strip("\n") + "\n" + markdown[stop:]
    return markdown


def generated(markdown: str) -> dict[str, str]:
    """The generated sections of `markdown`, by name (their text between the markers)."""
    out: dict[str, Any] = {}
    head = BEGIN.split("{name}")[0]
    for piece in markdown.split(head)[1:]:
        name = piece.split(" -->", 1)[0]
        body = piece.split(" -->\n", 1)[1].split(END.format(name=name))[0]
        out[name] = body.strip("\n")
    return out
