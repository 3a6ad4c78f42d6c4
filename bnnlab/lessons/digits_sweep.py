"""Chapter 5's measured sweep: how VI's learned σ, and with it the OOD AUROC, moves with β, the
initial σ₀ and the number of steps (`sigma_sweep`), and the precomputed result the page shows
(`load_sweep`, written by `docs/digits_sigma_sweep.py`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from bnnlab.lessons.digits import evidence, load_split, recipe_config
from bnnlab.training import engine

SWEEP_KL_WEIGHTS = (1e-3, 1e-2, 1.0)
SWEEP_INIT_STDS = (1e-3, 0.03)
SWEEP_CHECKPOINTS = (600, 1000, 3000, 6000)
SWEEP_FILE = Path(__file__).resolve().parents[1] / "data" / "digits_sigma_sweep.json"


class SweepRow(NamedTuple):
    """VI on the digits at one (β, σ₀) after `steps` steps: the learned σ and what it does."""

    kl_weight: float
    init_std: float
    steps: int
    sigma_median: float  # median over all weights and biases of the posterior std
    sigma_p90: float  # its 90th percentile
    test_acc: float
    test_nll: float
    auroc_letters: float  # by predictive entropy
    auroc_noise: float
    auroc_letters_mi: float  # by mutual information
    seconds: float  # training wall time up to this checkpoint (evaluation excluded)


def sigma_sweep(kl_weights: tuple[float, ...] = SWEEP_KL_WEIGHTS,
                init_stds: tuple[float, ...] = SWEEP_INIT_STDS,
                checkpoints: tuple[int, ...] = SWEEP_CHECKPOINTS, seed: int = 0,
                steps_per_chunk: int | None = None,
                progress: Any = None) -> list[SweepRow]:
    """How VI's learned σ, and with it the OOD AUROC, moves with β, the initial σ₀ and the
    number of steps. One run per (β, σ₀) of the talk's recipe (everything else as
    `RECIPES["vi_talk"]`, its steps per chunk too unless `steps_per_chunk` is given: VI
    draws its noise once per chunk, so the chunk length changes the result), measured at each
    checkpoint with `evidence` (`EVAL_SAMPLES` draws).
    β is traced (no recompile) and σ₀ an argument of `init`, so all runs share one engine.
    `progress(done, total)`, if given, is called after each checkpoint."""
    checkpoints = tuple(sorted(checkpoints))
    rows: list[SweepRow] = []
    total, done = len(kl_weights) * len(init_stds) * len(checkpoints), 0
    for kl_weight in kl_weights:
        for init_std in init_stds:
            chunk = {} if steps_per_chunk is None else {"steps_per_chunk": steps_per_chunk}
            cfg = recipe_config("vi_talk", seed, kl_weight=kl_weight, init_std=init_std,
                                steps=checkpoints[-1], **chunk)
            data = load_split(cfg.test_fraction, cfg.seed)
            run = engine.start_run(cfg, data.x_train, data.y_train)
            state, train_s = run.state, 0.0
            for target in checkpoints:
                while int(state.step) < target:
                    chunk = engine.advance(run.engine, state, run.batch, run.hyper,
                                           target - int(state.step))
                    state, train_s = chunk.state, train_s + chunk.seconds
                    if chunk.diverged or chunk.taken == 0:
                        break
                sigma = np.asarray(jax.nn.softplus(state.method_state.rho))
                ev = evidence(run, state, cfg, "vi_talk")
                by = {r.score: r for r in ev.scores}
                rows.append(SweepRow(
                    kl_weight, init_std, int(state.step), float(np.median(sigma)),
                    float(np.quantile(sigma, 0.9)), ev.test_acc, ev.test_nll,
                    by["predictive entropy"].auroc_letters,
                    by["predictive entropy"].auroc_noise,
                    by["mutual information"].auroc_letters, train_s))
                done += 1
                if progress is not None:
                    progress(done, total)
    return rows


def load_sweep(path: Path | str = SWEEP_FILE) -> dict | None:
    """The precomputed sweep written by `docs/digits_sigma_sweep.py` (its command, device and
    rows as dicts of `SweepRow` fields), or None when the file is missing or unreadable."""
    try:
        with open(path) as fh:
            payload = json.load(fh)
        rows = [SweepRow(**row) for row in payload["rows"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {**payload, "rows": rows}
