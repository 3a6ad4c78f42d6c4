"""Browser check of the comparison page: after Train every chosen method's map appears, and the
maps and the table update while the methods train."""

import pytest

pytestmark = pytest.mark.browser

# Subplot titles of the small multiples, and a signature of the first map's colours.
TITLES = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .gtitle,'
  + '[data-testid="stPlotlyChart"] .annotation-text')].map(e => e.textContent)"""
MAP_SIGNATURE = """() => {
  const plot = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
  if (!plot || !plot._fullData) return null;
  return JSON.stringify(plot._fullData.filter(t => t.type === 'heatmap')
    .map(t => Array.from(t.z[Math.floor(t.z.length / 2)] || [])));
}"""


def test_maps_appear_and_update(app_server, page):
    """Train shows one map per method (five by default) and they change from tick to tick."""
    page.goto(f"{app_server.url}/compare")
    if page.get_by_text("Page not found").count():
        page.keyboard.press("Escape")
    page.get_by_role("button", name="▶ Train").click()
    page.wait_for_function(f"({TITLES})().includes('HMC (reference)')", timeout=180_000)
    titles = page.evaluate(TITLES)
    for name in ("MAP", "Mean-field VI", "MC dropout", "Deep ensemble", "HMC (reference)"):
        assert name in titles
    first = page.evaluate(MAP_SIGNATURE)
    page.wait_for_function(f"({MAP_SIGNATURE})() !== {first!r}", timeout=120_000)
    page.get_by_text("HMC warm-up").or_(page.get_by_text("HMC samples drawn")).first.wait_for()
    page.get_by_role("button", name="⏹ Stop").click()
    page.get_by_role("button", name="▶ Resume").wait_for()
