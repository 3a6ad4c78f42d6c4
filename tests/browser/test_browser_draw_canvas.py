"""The drawing canvas in headless Chromium: strokes drawn with the mouse come back to Python as
an 8×8 image with ink exactly in the blocks the strokes crossed; an empty or cleared canvas
returns zeros. Runs `tests/browser/draw_canvas_app.py` (a test-only script) on its own server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import StreamlitServer

pytestmark = pytest.mark.browser
SCREENSHOT = os.environ.get("BNNLAB_SCREENSHOT_DIR")


@pytest.fixture(scope="module")
def canvas_server(tmp_path_factory):
    server = StreamlitServer(tmp_path_factory.mktemp("draw") / "streamlit.log",
                             script="tests/browser/draw_canvas_app.py")
    yield server.url
    server.stop()
    assert "Traceback" not in server.log(), server.log()


def _reading(page) -> dict:
    return json.loads(page.locator("[data-testid=stCode] code").inner_text())


def _wait_strokes(page, count: int) -> dict:
    page.wait_for_function(
        "n => { const c = document.querySelector('[data-testid=stCode] code');"
        " return c && JSON.parse(c.innerText).strokes === n &&"
        " !document.querySelector('[data-testid=stStatusWidget]'); }", arg=count,
        timeout=30_000)
    return _reading(page)


def _stroke(page, box, points) -> None:
    """Drag the mouse through `points` given in 32×32 bitmap coordinates."""
    to_px = [(box["x"] + x / 32 * box["width"], box["y"] + y / 32 * box["height"])
             for x, y in points]
    page.mouse.move(*to_px[0])
    page.mouse.down()
    for px in to_px[1:]:
        page.mouse.move(*px, steps=12)
    page.mouse.up()


def test_strokes_come_back_as_ink_where_drawn_and_clear_gives_zeros(browser, canvas_server):
    """Empty canvas -> zeros; a horizontal stroke at y = 6 inks block row 1 only; a vertical
    stroke at x = 22 from y = 14 to 30 adds block column 5, rows 3–7; Clear -> zeros."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(canvas_server)
        canvas = page.locator(".bnn-draw canvas")
        canvas.wait_for()
        empty = _wait_strokes(page, 0)
        assert empty["image"] == [0] * 64 and empty["normalized"] == [0] * 64
        box = canvas.bounding_box()
        assert 200 <= box["width"] <= 300 and box["width"] == pytest.approx(box["height"], abs=1)

        _stroke(page, box, [(4, 6), (28, 6)])
        image = np.array(_wait_strokes(page, 1)["image"]).reshape(8, 8)
        expected_rows = np.zeros((8, 8), dtype=bool)
        expected_rows[1, :] = True
        assert np.all(image[~expected_rows] == 0), image
        assert np.all(image[1, 1:7] > 0), image  # the stroke spans x = 4..28

        _stroke(page, box, [(22, 14), (22, 30)])
        reading = _wait_strokes(page, 2)
        image = np.array(reading["image"]).reshape(8, 8)
        expected = expected_rows.copy()
        expected[3:8, 5] = True
        assert np.all(image[~expected] == 0), image
        assert np.all(image[3:8, 5] > 0), image
        assert sum(reading["normalized"]) > 0
        if SCREENSHOT:
            page.screenshot(path=str(Path(SCREENSHOT) / "draw_canvas_1366x768.png"))

        page.get_by_role("button", name="Clear").click()
        cleared = _wait_strokes(page, 0)
        assert cleared["image"] == [0] * 64 and cleared["normalized"] == [0] * 64
        assert not page.locator("[data-testid=stException]").count()
    finally:
        context.close()


def test_a_hostile_value_gets_a_message_and_the_canvas_works_on(browser, canvas_server):
    """Issue 29: a value 5,000 arrays deep, sent through the canvas's state setter (what anyone
    can do from the browser's console), made Streamlit's JSON decoding raise RecursionError on
    the server before the page ran, and the page broke until a reload. The canvas now sends
    only a drawing's shape (strokes of [x, y] pairs, within the limits): the hostile value is
    refused in the page with a message, the server logs no traceback (the fixture checks),
    and the next real stroke is read as usual."""
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(canvas_server)
    page.locator(".bnn-draw canvas").wait_for(timeout=60_000)
    _wait_strokes(page, 0)
    page.evaluate("""() => {
        let deep = [];
        for (let i = 0; i < 5000; i++) deep = [deep];
        const pad = document.querySelector('.bnn-draw').__draw;
        pad.setState('strokes', deep);
        pad.setState('strokes', [[[1, 2, 3]]]);
        pad.setState('other', []);
    }""")
    page.get_by_text("That is not a drawing: it was not sent.").wait_for(timeout=10_000)
    box = page.locator(".bnn-draw canvas").bounding_box()
    _stroke(page, box, [(8, 16), (24, 16)])
    reading = _wait_strokes(page, 1)
    assert sum(reading["image"]) > 0
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.get_by_text("That is not a drawing").count() == 0
    page.close()
