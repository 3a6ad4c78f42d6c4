"""Chapter 5 in headless Chromium: train a short run, draw a stroke on the canvas, and the
verdict and the class bars update; a screenshot at 1366×768 goes to docs/screenshots/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser.helpers import open_page, wait_for_script_run
from tests.conftest import ROOT

pytestmark = pytest.mark.browser
SCREENSHOT = Path(os.environ.get("BNNLAB_SCREENSHOT_DIR", ROOT / "docs" / "screenshots"))


def _verdict(page) -> str:
    return page.locator("[data-testid=stAlert]", has_text="I don't know").or_(
        page.locator("[data-testid=stAlert]", has_text="It's a")).or_(
        page.locator("[data-testid=stAlert]", has_text="Nothing drawn yet")).first.inner_text()


def test_stroke_updates_verdict_and_bars(browser, app_server):
    """Before drawing: 'Nothing drawn yet'; after a stroke: a verdict on the drawing ('It's a
    …' or "I don't know") with bars for the model and for MAP; no exception on the page."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        open_page(page, f"{app_server.url}/digits?recipe=vi_talk&steps=100")
        page.get_by_role("heading", name="5 · Digits, letters and your drawing").wait_for()
        page.get_by_role("button", name="Train").click()
        page.wait_for_function(
            "() => document.body.innerText.includes('done, step 100 of 100')"
            " && document.body.innerText.includes('MAP alongside: step 600')",
            timeout=240_000)
        wait_for_script_run(page)
        page.wait_for_function("() => document.body.innerText.includes('Nothing drawn yet')")
        assert "Nothing drawn yet" in _verdict(page)
        canvas = page.locator(".bnn-draw canvas")
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()

        def at(x, y):
            return box["x"] + x / 32 * box["width"], box["y"] + y / 32 * box["height"]

        page.mouse.move(*at(16, 4))
        page.mouse.down()
        page.mouse.move(*at(16, 28), steps=15)
        page.mouse.up()
        page.wait_for_function(
            "() => !document.body.innerText.includes('Nothing drawn yet')", timeout=60_000)
        wait_for_script_run(page)
        verdict = _verdict(page)
        assert "It's a" in verdict or "I don't know" in verdict, verdict
        assert "MAP says" in page.locator("[data-testid=stMain]").inner_text()
        bars = page.locator("[data-testid=stPlotlyChart]")
        assert bars.count() >= 3  # the training chart, the model's bars, MAP's bars
        assert not page.locator("[data-testid=stException]").count()
        SCREENSHOT.mkdir(parents=True, exist_ok=True)
        page.locator(".bnn-draw").scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOT / "digits.png"))
    except Exception:
        page.screenshot(path="/tmp/digits_failure.png", full_page=True)
        raise
    finally:
        context.close()
