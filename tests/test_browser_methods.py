"""Chapter 4's methods in headless Chromium: the "Say I don't know" preset, trained to its end,
shows far/near entropy ≥ 2 in the page's own metrics, and `python -m bnnlab train` with the
preset's settings gives the same two numbers (one definition, same seed, same chain)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bnnlab import presets
from tests.browser_helpers import open_playground, wait_for_script_run

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
SHOTS = os.environ.get("BNNLAB_SCREENSHOTS")  # a folder: save what the learner sees


def _metric(page, label: str) -> float:
    metric = page.get_by_test_id("stMetric").filter(has_text=label).first
    text = metric.get_by_test_id("stMetricValue").inner_text()
    return float(re.search(r"[-\d.]+", text).group())


def test_say_i_dont_know_preset_says_it_and_matches_the_cli(app_server, page):
    """Preset → Train → finished: the page's own near/far entropies read far/near ≥ 2 at
    test accuracy ≥ 0.95, and the CLI with the preset's settings prints the same numbers."""
    open_playground(page, app_server.url + "/playground")
    page.get_by_role("button", name="Say I don't know").click()
    page.wait_for_function("location.search.includes('method=hmc') && "
                           "location.search.includes('hidden=16%2C16')", timeout=60_000)
    wait_for_script_run(page)  # the preset's rerun has finished: Train belongs to the HMC run
    page.get_by_role("button", name="Train", exact=True).click()
    steps = presets.SAY_I_DONT_KNOW["steps"]
    page.get_by_role("button", name="Pause").or_(
        page.get_by_text(f"Finished: the run has taken all {steps:,} steps")).first.wait_for(
        timeout=60_000)  # training started (or already ended)
    page.get_by_text(f"Finished: the run has taken all {steps:,} steps").wait_for(
        timeout=240_000)
    page.get_by_text(f"(step {steps:,})").wait_for(timeout=60_000)
    near = _metric(page, "Entropy near data")
    far = _metric(page, "Entropy far away")
    reading = page.get_by_text("far/near =").first.inner_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/say_i_dont_know.png", full_page=True)
    assert far >= 2 * near, (near, far, reading)
    assert "it knows where it has no data" in reading
    cli = subprocess.run([sys.executable, "-m", "bnnlab", "train", "--json",
                          *presets.cli_args(presets.SAY_I_DONT_KNOW)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, check=True)
    report = json.loads(cli.stdout.strip().splitlines()[-1])
    assert report["steps"] == steps and report["test_acc"] >= 0.95
    assert round(report["entropy_near"], 3) == pytest.approx(near, abs=1e-9)
    assert round(report["entropy_far"], 3) == pytest.approx(far, abs=1e-9)
