"""The live chart stays mounted when a run finishes: the "Finished" notice that appears above it
takes a placeholder that was always there, so Streamlit never remounts the chart (a remounted
chart is a new canvas, drawn again from nothing)."""

from __future__ import annotations

from tests.browser.helpers import live_step, open_page


def test_the_chart_is_not_remounted_when_the_run_finishes(page, app_server):
    open_page(page, f"{app_server.url}/playground?num_points=64&hidden=8&steps=150"
                    "&steps_per_chunk=10")
    page.wait_for_function("document.querySelector('.bnn-live')")
    page.evaluate("window.__bnnChart = document.querySelector('.bnn-live')")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Finished: the run has taken all").wait_for(timeout=120_000)
    page.get_by_role("button", name="Continue", exact=True).wait_for()
    assert page.evaluate("document.querySelector('.bnn-live') === window.__bnnChart")
    assert live_step(page) == 150
