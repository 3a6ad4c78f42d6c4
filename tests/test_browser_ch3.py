"""Browser check of chapter 3's live fit: "Fit" animates the ELBO chart and "Pause" stops it."""

import time

import pytest

pytestmark = pytest.mark.browser

# Points on the ELBO trace of the decomposition chart (the second Plotly chart on the page).
CHART_POINTS = """() => {
  const plots = document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot');
  if (plots.length < 2 || !plots[1]._fullData || !plots[1]._fullData.length) return -1;
  return plots[1]._fullData[0]._length ?? plots[1]._fullData[0].x.length;
}"""


def _open_chapter(page, url: str) -> None:
    page.goto(f"{url}/variational-inference")
    page.get_by_text("Exact posterior P(θ | D)").first.wait_for()
    # Streamlit can flash a "Page not found" dialog on a server's very first page load.
    if page.get_by_text("Page not found").count():
        page.keyboard.press("Escape")
    page.wait_for_function(f"({CHART_POINTS})() > 0")


def test_fit_animates_and_pause_stops(app_server, page):
    """After Fit the ELBO chart gains points frame after frame; after Pause it stops growing."""
    _open_chapter(page, app_server.url)
    start = page.evaluate(CHART_POINTS)
    page.get_by_role("button", name="Fit").click()
    page.wait_for_function(f"({CHART_POINTS})() > {start}")
    first = page.evaluate(CHART_POINTS)
    page.wait_for_function(f"({CHART_POINTS})() > {first}")  # a later frame: it animates
    page.get_by_role("button", name="Pause").click()
    fit = page.get_by_role("button", name="Fit")
    page.wait_for_function("() => [...document.querySelectorAll('button')].some("
                           "b => b.innerText.includes('Fit') && !b.disabled)")
    assert fit.is_enabled()
    time.sleep(1.0)  # let a frame that was in flight land
    paused = page.evaluate(CHART_POINTS)
    time.sleep(2.0)  # several fragment periods
    assert page.evaluate(CHART_POINTS) == paused > first
