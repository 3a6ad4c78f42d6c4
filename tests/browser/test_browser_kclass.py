"""A 3-class run in headless Chromium: the playground's mean-prediction map is painted in the
three palette colours (read back from the canvas pixels)."""

import pytest

from bnnlab.core import palette
from tests.browser.helpers import open_playground, wait_for_step

pytestmark = pytest.mark.browser

THREE = ("dataset=gaussians&num_classes=3&method=map&num_points=150&hidden=8&"
         "steps_per_chunk=25&grid_size=40&steps=400")

# For each class, the share of the mean map's pixels tinted towards it: a pixel p counts for
# class k when p − white points along light(colour_k) − white (cosine ≥ 0.97) and is at least
# a third of the way there.
COUNT_JS = """(tints) => {
  const c = document.querySelector('.bnn-map canvas');
  const img = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const white = [247, 247, 247];
  const dirs = tints.map((t) => t.map((v, i) => v - white[i]));
  const counts = tints.map(() => 0);
  let total = 0;
  for (let o = 0; o < img.length; o += 4) {
    total += 1;
    const d = [img[o] - white[0], img[o + 1] - white[1], img[o + 2] - white[2]];
    const nd = Math.hypot(...d);
    dirs.forEach((u, k) => {
      const nu = Math.hypot(...u);
      const cos = (d[0] * u[0] + d[1] * u[1] + d[2] * u[2]) / (nd * nu + 1e-9);
      if (cos >= 0.97 && nd >= nu / 3) counts[k] += 1;
    });
  }
  return counts.map((n) => n / total);
}"""


def _rgb(colour: str) -> list[int]:
    return [int(colour[i:i + 2], 16) for i in (1, 3, 5)]


def test_three_class_run_draws_a_three_colour_map(app_server, page):
    """Three Gaussian blobs trained to the end: each class's tint covers ≥ 5% of the mean map
    (the map colours a cell by its predicted class), and a fourth palette colour, absent from
    the data, covers < 0.5%."""
    open_playground(page, f"{app_server.url}/playground?{THREE}")
    page.get_by_role("button", name="Train", exact=True).click()
    wait_for_step(page, ">= 400", timeout_ms=120_000)
    page.wait_for_function("document.querySelectorAll('.bnn-live').length === 1")
    title = page.locator(".bnn-map .bnn-title").text_content()
    assert title.startswith("Predicted class")
    tints = [_rgb(palette.light(c)) for c in palette.CLASS_COLOURS[:4]]
    shares = page.evaluate(COUNT_JS, tints)
    assert min(shares[:3]) >= 0.05, shares
    assert shares[3] < 0.005, shares
    scale = page.locator(".bnn-unc .bnn-legend").inner_text()
    assert "ln 3" in scale and "every class equally likely" in scale and "coin" not in scale
