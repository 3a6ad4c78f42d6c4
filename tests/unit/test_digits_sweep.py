"""digits_sweep.sigma_sweep and the precomputed sweep the chapter-5 page shows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bnnlab.lessons import digits_sweep


@pytest.mark.slow
def test_sweep_rows_follow_the_runs():
    """A tiny sweep: one row per (β, σ₀, checkpoint), σ starts at σ₀ and AUROCs are in [0, 1]."""
    calls = []
    rows = digits_sweep.sigma_sweep(kl_weights=(1e-3,), init_stds=(0.03, 0.5),
                                  checkpoints=(1, 20), steps_per_chunk=10,
                                  progress=lambda i, n: calls.append((i, n)))
    assert [(r.init_std, r.steps) for r in rows] == [(0.03, 1), (0.03, 20), (0.5, 1), (0.5, 20)]
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    # after one Adam step of size lr = 0.01 in ρ, σ = softplus(ρ) is still within ~1% of σ₀
    assert rows[0].sigma_median == pytest.approx(0.03, rel=0.02)
    assert rows[2].sigma_median == pytest.approx(0.5, rel=0.02)
    for r in rows:
        assert 0 <= r.auroc_letters <= 1 and 0 <= r.auroc_noise <= 1
        assert r.sigma_p90 >= r.sigma_median > 0


def test_shipped_sweep_loads_and_covers_the_grid():
    """The JSON in the repo holds every (β, σ₀, steps) of the default grid, with its command."""
    sweep = digits_sweep.load_sweep()
    assert sweep is not None and "digits_sigma_sweep.py" in sweep["command"]
    grid = {(r.kl_weight, r.init_std, r.steps) for r in sweep["rows"]}
    assert grid == {(b, s, n) for b in digits_sweep.SWEEP_KL_WEIGHTS
                    for s in digits_sweep.SWEEP_INIT_STDS for n in digits_sweep.SWEEP_CHECKPOINTS}
    assert all(np.isfinite(r.sigma_median) for r in sweep["rows"])


def test_load_sweep_of_a_bad_file_is_none(tmp_path):
    """A missing or malformed file gives None (the page shows how to make it), not an error."""
    assert digits_sweep.load_sweep(tmp_path / "missing.json") is None
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rows": [{"steps": 1}]}))
    assert digits_sweep.load_sweep(bad) is None
