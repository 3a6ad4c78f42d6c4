"""Chapter 4's methods in headless Chromium: the "Say I don't know" preset, trained to its end,
gets the verdict "It knows where it has no data" on the page, and `python -m bnnlab train` with
the preset's settings gives the same verdict and epistemic numbers (one definition)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bnnlab.lessons import presets
from tests.browser.helpers import open_playground, wait_for_script_run

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
SHOTS = os.environ.get("BNNLAB_SCREENSHOTS")  # a folder: save what the learner sees


def _metric(page, label: str) -> float:
    """A number of the live chart's metrics row (the cell whose label is `label`)."""
    cell = page.locator(f".bnn-metric[data-label='{label}'] .bnn-metric-number")
    return float(re.search(r"[-\d.]+", cell.inner_text()).group())


def test_say_i_dont_know_preset_says_it_and_matches_the_cli(app_server, page):
    """Preset → Train → finished: the verdict above the maps says it knows where it has no
    data, and the CLI with the preset's settings prints the same verdict and the same epistemic
    near and far the page's metrics row shows (one definition, same seed, same chain)."""
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
    page.wait_for_function("document.querySelector('.bnn-verdict').textContent"
                           f".includes('(step {steps:,})')", timeout=60_000)
    verdict = page.locator(".bnn-verdict")
    near = _metric(page, "Epistemic near")
    far = _metric(page, "Epistemic far")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/say_i_dont_know.png", full_page=True)
    assert verdict.get_attribute("data-kind") == "knows_where_no_data", verdict.inner_text()
    assert "It knows where it has no data" in verdict.inner_text()
    cli = subprocess.run([sys.executable, "-m", "bnnlab", "train", "--json",
                          *presets.cli_args(presets.SAY_I_DONT_KNOW)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600, check=True)
    report = json.loads(cli.stdout.strip().splitlines()[-1])
    assert report["steps"] == steps and report["test_acc"] >= 0.95
    assert report["verdict"] == "knows_where_no_data"
    assert round(report["epistemic_near"], 3) == pytest.approx(near, abs=1e-9)
    assert round(report["epistemic_far"], 3) == pytest.approx(far, abs=1e-9)
