"""Browser check of the comparison page: after Train every chosen method's map appears, and the
maps update in place (never blank) while the methods train."""

import pytest

from bnnlab.lessons.compare import MAX_SAMPLES_AFTER_WARMUP
from tests.browser.helpers import wait_for_script_run

pytestmark = pytest.mark.browser

# Titles of the canvas small multiples, and a signature of the first map's pixels.
TITLES = """() => [...document.querySelectorAll('.bnn-cmp-title')].map(e => e.textContent)"""
MAP_SIGNATURE = """() => {
  const c = document.querySelector('.bnn-cmp-cell canvas');
  if (!c || !c.width) return null;
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let h = 0;
  for (let k = 0; k < px.length; k += 97) h = (h * 31 + px[k]) | 0;
  return h;
}"""
# Counts animation frames in which a map's centre pixel is unpainted (a blank, flickering map).
WATCH_BLANK = """() => {
  window.__cmpBlank = 0; window.__cmpFrames = 0;
  const tick = () => {
    const c = document.querySelector('.bnn-cmp-cell canvas');
    window.__cmpFrames += 1;
    if (!c || !c.width || c.getContext('2d').getImageData(c.width >> 1, c.height >> 1, 1, 1)
        .data[3] === 0) window.__cmpBlank += 1;
    if (window.__cmpFrames < 100000) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def test_maps_appear_and_update(app_server, page):
    """Train shows one map per method (five by default); they change from tick to tick and are
    repainted in place, so no animation frame shows a blank map."""
    page.goto(f"{app_server.url}/compare")
    if page.get_by_text("Page not found").count():
        page.keyboard.press("Escape")
    # HMC keeps the most draws, so the comparison is still training when Stop is pressed below
    # (with the default 500 it finished first on a fast machine: Train, not Resume, came back).
    draws = page.get_by_role("spinbutton", name="Samples after warm-up")
    draws.fill(str(MAX_SAMPLES_AFTER_WARMUP))
    draws.press("Enter")
    wait_for_script_run(page)
    page.get_by_role("button", name="▶ Train").click()
    page.wait_for_function(f"({TITLES})().includes('HMC (reference)')", timeout=180_000)
    titles = page.evaluate(TITLES)
    for name in ("MAP", "Mean-field VI", "MC dropout", "Deep ensemble", "HMC (reference)"):
        assert name in titles
    page.evaluate(WATCH_BLANK)
    first = page.evaluate(MAP_SIGNATURE)
    page.wait_for_function(f"({MAP_SIGNATURE})() !== {first!r}", timeout=120_000)
    redraws = int(page.locator(".bnn-cmp").get_attribute("data-redraws"))
    page.wait_for_function(
        f"Number(document.querySelector('.bnn-cmp').dataset.redraws) > {redraws + 2}",
        timeout=120_000)
    blank, frames = page.evaluate("[window.__cmpBlank, window.__cmpFrames]")
    assert frames > 10 and blank == 0  # the maps are repainted in place: never blank
    page.locator(".bnn-cmp-cell canvas").first.hover()  # the centre of the MAP map
    readout = page.locator(".bnn-cmp-readout").inner_text()
    assert readout.startswith("MAP · x = ") and "nats" in readout
    page.get_by_text("HMC warm-up").or_(page.get_by_text("HMC samples drawn")).first.wait_for()
    page.get_by_role("button", name="⏹ Stop").click()
    page.get_by_role("button", name="▶ Resume").wait_for()


def test_settings_and_results_survive_a_visit_to_home(app_server, page):
    """Compare: chosen settings and the trained comparison are still there after Home →
    Compare (issue 14: they fell back to 16,16 / 1500 / 0)."""
    page.goto(f"{app_server.url}/compare")
    if page.get_by_text("Page not found").count():
        page.keyboard.press("Escape")
    hidden = page.get_by_role("textbox", name="Hidden layers (widths)")
    hidden.fill("8")
    hidden.press("Enter")
    seed = page.get_by_role("spinbutton", name="Seed")
    seed.fill("5")
    seed.press("Enter")
    page.get_by_test_id("stMultiSelect").get_by_role("button", name="Remove").last.wait_for()
    page.get_by_role("button", name="▶ Train").click()
    page.wait_for_function(f"({TITLES})().length > 0", timeout=180_000)
    page.get_by_role("button", name="⏹ Stop").click()
    page.get_by_role("button", name="▶ Resume").wait_for()
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_role("link", name="Home").click()
    page.get_by_role("heading", name="BNN Lab").first.wait_for()
    nav.get_by_role("link", name="Compare inference methods").click()
    page.get_by_role("button", name="▶ Resume").wait_for(timeout=60_000)
    assert page.get_by_role("textbox", name="Hidden layers (widths)").input_value() == "8"
    assert page.get_by_role("spinbutton", name="Seed").input_value() == "5"
    page.wait_for_function(f"({TITLES})().length > 0", timeout=60_000)
