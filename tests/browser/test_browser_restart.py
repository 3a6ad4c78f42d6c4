"""Issue 29 (4): a server restart under an open tab. Streamlit reconnects, and the learner's
next click opens a fresh session from the page's link, but the live chart ordered frames by a
counter that restarts with the process: it dropped every new frame as stale and stayed at the
old run's step while the new run trained."""

from __future__ import annotations

import pytest

from tests.browser.helpers import STEP_JS, open_playground, wait_for_step
from tests.conftest import StreamlitServer

pytestmark = pytest.mark.browser

SETTINGS = "num_points=120&hidden=8&num_samples=2&steps_per_chunk=10&grid_size=16&steps=100000"


def test_the_chart_follows_the_new_server_and_says_the_run_was_lost(browser, tmp_path):
    first = StreamlitServer(tmp_path / "first.log")
    port = first.port
    second = None
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    try:
        open_playground(page, f"{first.url}/playground?{SETTINGS}")
        page.get_by_role("button", name="Train", exact=True).click()
        wait_for_step(page, ">= 300", timeout_ms=60_000)  # an old run far ahead of a new one
        page.get_by_role("button", name="Pause", exact=True).click()
        page.get_by_role("button", name="Resume", exact=True).wait_for(timeout=30_000)
        old_step = page.evaluate(STEP_JS)
        first.stop()
        second = StreamlitServer(tmp_path / "second.log", port=port)
        # The learner, back at the old page, presses its button again: the page reruns as a
        # fresh session from its link, at step 0, and the chart shows that run, saying why.
        page.locator(".st-key-pg_run button").click(timeout=60_000)
        wait_for_step(page, "=== 0", timeout_ms=60_000)
        page.get_by_text("The server restarted: the run you had is gone.").wait_for(
            timeout=30_000)
        page.get_by_role("button", name="Train", exact=True).click(timeout=60_000)
        wait_for_step(page, ">= 30", timeout_ms=60_000)
        assert page.evaluate(STEP_JS) < old_step
        # the verdict again, from the fresh run's next metrics (refreshed less often while
        # other sessions wait for the slots)
        page.get_by_text("The server restarted").wait_for(state="detached", timeout=30_000)
    finally:
        page.close()
        if second is not None:
            second.stop()
        else:
            first.stop()
