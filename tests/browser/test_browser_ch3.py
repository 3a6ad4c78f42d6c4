"""Browser check of chapter 3's live fit: "Fit" animates the ELBO chart and "Pause" stops it."""

import time

import pytest

pytestmark = pytest.mark.browser

# Points on the ELBO trace of the decomposition chart (found by its key: the page has five).
CHART_POINTS = """() => {
  const plot = document.querySelector('.st-key-ch3_decomposition_chart .js-plotly-plot');
  if (!plot || !plot._fullData || !plot._fullData.length) return -1;
  return plot._fullData[0]._length ?? plot._fullData[0].x.length;
}"""


def _open_chapter(page, url: str) -> None:
    page.goto(f"{url}/variational-inference")
    page.get_by_text("Exact posterior P(θ | D)").first.wait_for()
    # Streamlit can flash a "Page not found" dialog on a server's very first page load.
    if page.get_by_text("Page not found").count():
        page.keyboard.press("Escape")
    page.wait_for_function(f"({CHART_POINTS})() > 0")
    # The comparison section runs every method once per server (compiles included): wait for
    # its table and for the script to finish before clicking.
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=180_000)
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')",
                           timeout=60_000)


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
    # A tick already running when Pause landed may still draw its chunk (on a loaded machine
    # more than a second later): wait until the chart holds still, then it must stay still.
    paused, deadline = page.evaluate(CHART_POINTS), time.monotonic() + 15
    while time.monotonic() < deadline:
        time.sleep(1.5)
        now = page.evaluate(CHART_POINTS)
        if now == paused:
            break
        paused = now
    time.sleep(2.0)  # several fragment periods
    assert page.evaluate(CHART_POINTS) == paused > first


def test_hmc_animation_advances_and_table_fills(app_server, page):
    """With HMC shown, the player draws trajectory after trajectory, and the comparison table
    has the exact row and one row per method."""
    _open_chapter(page, app_server.url)
    table = page.locator('[data-testid="stDataFrame"]')
    table.first.wait_for(timeout=180_000)
    # The rows fill in the background with a progress bar; it goes once every method is in.
    page.wait_for_function("!document.querySelector('[data-testid=stProgress]')",
                           timeout=180_000)
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stDataFrame\"] "
                           "[role=\"row\"]').length >= 7", timeout=60_000)
    methods = page.get_by_role("radiogroup", name="Show on the posterior")
    methods.get_by_text("HMC with NUTS (blackjax)").click()
    page.wait_for_function("(e => e && Number(e.dataset.frames) > 5)"
                           "(document.querySelector('.bnn-post'))", timeout=60_000)
    first = int(page.locator(".bnn-post").get_attribute("data-transition"))
    time.sleep(1.0)
    later = int(page.locator(".bnn-post").get_attribute("data-transition"))
    assert later > first
    info = page.locator(".bnn-post-info").inner_text()
    assert "ε =" in info and "doubling" in info
