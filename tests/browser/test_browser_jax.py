"""The JAX page under rapid clicks: one learner pressing the three Measure buttons a second apart
must not lock the page for anyone else."""

import pytest

from tests.browser.helpers import open_page

pytestmark = pytest.mark.browser


def test_rapid_measure_clicks_then_another_session_measures(app_server, browser):
    """Session A presses the three Measure buttons ~1 s apart (each click reruns its script);
    session B, in another browser context, then measures and gets its result, and A's three
    queued measurements all finish too."""
    first = browser.new_context(viewport={"width": 1366, "height": 768})
    second = browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        a = first.new_page()
        open_page(a, f"{app_server.url}/jax")
        buttons = a.get_by_role("button", name="Measure")
        buttons.nth(2).wait_for(timeout=120_000)
        assert buttons.count() == 3
        for i in range(3):
            buttons.nth(i).click()
            a.wait_for_timeout(1000)

        b = second.new_page()
        open_page(b, f"{app_server.url}/jax")
        b.get_by_role("button", name="Measure").nth(2).click(timeout=120_000)  # lax.scan
        b.get_by_text("steps/s, 1 step per call").wait_for(timeout=240_000)
        assert b.get_by_text("Another visitor").count() == 0

        for label in ("median step, jax.jit", "vmap, S = 64", "steps/s, 1 step per call"):
            a.get_by_text(label).first.wait_for(timeout=240_000)
        assert a.locator("[data-testid=stAlert]", has_text="failed").count() == 0
    finally:
        first.close()
        second.close()
