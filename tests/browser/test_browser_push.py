"""The live chart's push path in headless Chromium (issue 18): frames arrive on the WebSocket
route while training and the maps change; Pause stops them; a token copied into another
browser is refused; with the route switched off (`BNNLAB_PUSH=0`) the fragment path still
trains and redraws."""

import time

import pytest

from tests.browser.helpers import STEP_JS, open_playground
from tests.conftest import StreamlitServer

pytestmark = pytest.mark.browser

SMALL = "num_points=120&hidden=8&num_samples=2&steps_per_chunk=10&grid_size=24&steps=100000"
PUSHED = "Number(document.querySelector('.bnn-live')?.dataset.pushed || 0)"


def _value(page, expr: str):
    page.wait_for_function("document.querySelectorAll('.bnn-live').length === 1",
                           timeout=30_000)
    return page.evaluate(expr)


def _canvas(page) -> str:
    return page.evaluate("document.querySelector('.bnn-map canvas').toDataURL()")


def test_frames_arrive_pushed_while_training_and_pause_stops_them(app_server, page):
    open_playground(page, f"{app_server.url}/playground?{SMALL}")
    page.wait_for_function("document.querySelector('.bnn-live')?.dataset.push === 'open'")
    before = _canvas(page)
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function(f"{STEP_JS} >= 30", timeout=60_000)
    pushed = _value(page, PUSHED)
    step = _value(page, STEP_JS)
    page.wait_for_function(f"{PUSHED} > {pushed} + 5 && {STEP_JS} > {step}", timeout=30_000)
    assert _canvas(page) != before
    assert _value(page, "document.querySelector('.bnn-live')?.dataset.push") == "open"
    page.get_by_role("button", name="Pause", exact=True).click()
    page.get_by_role("button", name="Resume", exact=True).wait_for()
    time.sleep(1.0)
    paused_step, paused_frames = _value(page, STEP_JS), _value(page, PUSHED)
    time.sleep(1.5)
    assert _value(page, STEP_JS) == paused_step
    assert _value(page, PUSHED) <= paused_frames + 1  # at most the pause's own status frame


TRY_TOKEN = """async ([path, token]) => await new Promise((resolve) => {
  const ws = new WebSocket(`ws://${location.host}${path}`);
  ws.binaryType = 'arraybuffer';
  let frames = 0;
  ws.onopen = () => ws.send(token);
  ws.onmessage = () => { frames += 1; ws.send('k'); };
  ws.onclose = (ev) => resolve({code: ev.code, frames});
  setTimeout(() => { resolve({code: 'open', frames}); ws.close(); }, 4000);
})"""


def test_another_browsers_copy_of_the_token_is_refused(app_server, browser, page):
    open_playground(page, f"{app_server.url}/playground?{SMALL}")
    page.wait_for_function("document.querySelector('.bnn-live')?.dataset.push === 'open'")
    spec = page.evaluate("document.querySelector('.bnn-live').__transport.spec")
    # The owner's own browser may open a second stream with it (e.g. a remounted chart).
    assert page.evaluate(TRY_TOKEN, [spec["url"], spec["token"]])["frames"] >= 1
    other = browser.new_context()
    try:
        thief = other.new_page()
        open_playground(thief, f"{app_server.url}/playground?{SMALL}")
        result = thief.evaluate(TRY_TOKEN, [spec["url"], spec["token"]])
        assert result == {"code": 4403, "frames": 0}
    finally:
        other.close()


@pytest.fixture(scope="module")
def server_without_push(tmp_path_factory):
    server = StreamlitServer(tmp_path_factory.mktemp("nopush") / "streamlit.log",
                             extra_env={"BNNLAB_PUSH": "0"})
    yield server
    server.stop()
    assert "Traceback" not in server.log(), server.log()


@pytest.fixture
def page_without_push(server_without_push, browser):
    """A fresh browser context on the playground of the server without the push route."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        open_playground(page, f"{server_without_push.url}/playground?{SMALL}")
        yield page
    finally:
        context.close()


def test_without_the_route_the_fragment_path_trains_and_redraws(page_without_push):
    page = page_without_push
    assert page.evaluate("document.querySelector('.bnn-live')?.dataset.push") is None
    before = _canvas(page)
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function(f"{STEP_JS} >= 30", timeout=60_000)
    step = _value(page, STEP_JS)
    page.wait_for_function(f"{STEP_JS} > {step}", timeout=30_000)
    assert _canvas(page) != before
    assert _value(page, PUSHED) == 0


def test_a_refused_stream_falls_back_to_the_fragment_path(app_server, page):
    """Where the route does not work for this browser (here: every connection refused, as a
    proxy might), the chart says so to the page, which polls through reruns instead."""
    page.route_web_socket("**/bnnlab/frames", lambda ws: ws.close(code=4403))
    open_playground(page, f"{app_server.url}/playground?{SMALL}")
    page.wait_for_function("(document.querySelector('.bnn-live')?.dataset.push || '')"
                           ".startsWith('failed')", timeout=30_000)
    page.get_by_role("button", name="Train", exact=True).click()
    page.wait_for_function(f"{STEP_JS} >= 30", timeout=60_000)
    step = _value(page, STEP_JS)
    page.wait_for_function(f"{STEP_JS} > {step}", timeout=30_000)
    assert _value(page, PUSHED) == 0


COMMANDS = "Number(document.querySelector('.bnn-live')?.dataset.commands || 0)"
POINTS = "Number(document.querySelector('.bnn-live')?.dataset.trainPoints)"


def _add_mode(page) -> None:
    page.get_by_test_id("stSelectbox").filter(has_text="Click on the map to").click()
    page.get_by_role("option", name="Add class 1 (blue)").click()
    page.wait_for_function("document.querySelector('.bnn-map .bnn-title').textContent"
                           ".includes('click to add')")
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')")


def _click_map(page, fx: float, fy: float) -> None:
    """A real mouse click at (fx, fy) of the mean map's plot area."""
    box = page.locator(".bnn-map canvas").bounding_box()
    page.mouse.click(box["x"] + 38 + fx * (box["width"] - 46),
                     box["y"] + 6 + fy * (box["height"] - 30))


def test_train_pause_and_an_added_point_go_over_the_socket_once(app_server, page):
    """Train and Pause are sent on the push socket (and still reach Streamlit: the buttons
    follow); a point clicked onto the map goes over the socket and through the page with one
    id, and the run holds exactly one more training point."""
    open_playground(page, f"{app_server.url}/playground?{SMALL}")
    page.wait_for_function("document.querySelector('.bnn-live')?.dataset.push === 'open'")
    _add_mode(page)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_role("button", name="Pause", exact=True).wait_for()
    page.wait_for_function(f"{STEP_JS} >= 30", timeout=60_000)
    assert _value(page, COMMANDS) == 1
    points = _value(page, POINTS)
    _click_map(page, 0.3, 0.3)
    page.wait_for_function(f"{POINTS} === {points} + 1", timeout=30_000)
    assert _value(page, COMMANDS) == 2
    time.sleep(2.5)  # the page's rerun of the same click has come and gone
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')")
    assert _value(page, POINTS) == points + 1
    assert _value(page, "document.querySelector('.bnn-live').__live.pending.length") == 0
    page.get_by_role("button", name="Pause", exact=True).click()
    page.get_by_role("button", name="Resume", exact=True).wait_for()
    assert _value(page, COMMANDS) == 3
    time.sleep(1.0)
    paused_step = _value(page, STEP_JS)
    time.sleep(1.5)
    assert _value(page, STEP_JS) == paused_step
    page.get_by_role("button", name="Resume", exact=True).click()
    page.wait_for_function(f"{STEP_JS} > {paused_step}", timeout=30_000)
    assert _value(page, COMMANDS) == 4
    page.get_by_role("button", name="Pause", exact=True).click()
    page.get_by_role("button", name="Resume", exact=True).wait_for()


def test_without_the_route_a_click_adds_exactly_one_point(page_without_push):
    page = page_without_push
    _add_mode(page)
    points = _value(page, POINTS)
    _click_map(page, 0.3, 0.3)
    page.wait_for_function(f"{POINTS} === {points} + 1", timeout=30_000)
    time.sleep(1.5)
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')")
    assert _value(page, POINTS) == points + 1
    assert _value(page, COMMANDS) == 0
