"""ui/push_route.py, the live chart's WebSocket route, served by uvicorn on 127.0.0.1 and spoken
to by a plain client: same-origin only (scheme included), a token only for its own browser and
session, garbage, oversized, late and too frequent messages refused, one frame in flight, no
thread left after 100 cycles."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any, NamedTuple

import pytest
import uvicorn
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from bnnlab.live import push
from tests.conftest import eventually
from ui import push_route


class _Snap(NamedTuple):
    serial: int


class _Run:
    """The parts of `session.Run` the pump reads."""

    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.snapshot = _Snap(1)
        self.data_version = 1
        self.step = 0

    def wait_for_step_after(self, step: int, timeout: float) -> bool:
        time.sleep(timeout)
        return False


class _Trainer:
    running = False

    def touch(self) -> None:
        pass


class FakeSession:
    """A session whose every tick returns a frame naming it (`marker`)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.run = _Run(abs(hash(marker)) % 1000)
        self.trainer = _Trainer()
        self.status = "paused"
        self.message = None
        self.added: list = []
        self.probe = None
        self.ticks = 0
        self.calls = []
        self.threads: set[str] = set()
        self.pause_s = 0.0

    def advance(self) -> None:
        self.run.snapshot = _Snap(self.run.snapshot.serial + 1)

    # The commands (ui/push_route.execute): recorded, in the order they ran, and by which thread.
    calls: list

    def train(self) -> None:
        self._record(("train",))
        self.status = "training"

    def pause(self) -> None:
        self._record(("pause",))
        time.sleep(self.pause_s)
        self.status = "paused"

    def click(self, x: float, y: float, mode: str, click_id: str | None = None) -> str | None:
        self._record(("click", x, y, mode, click_id))
        self.added.append((x, y, int(mode[3:])))
        return None

    def _record(self, call: tuple) -> None:
        self.calls.append(call)
        self.threads.add(threading.current_thread().name)

    def tick(self, view: Any, wait_s: float = 0.0) -> tuple[dict, str]:
        self.ticks += 1
        return {"frame_id": f"{self.run.serial}-{self.run.snapshot.serial}",
                "who": self.marker, "mean": "AAEC"}, self.status


class _Alive:
    def __init__(self) -> None:
        self.value = True

    def __call__(self) -> bool:
        return self.value


@pytest.fixture(scope="module")
def server():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = Starlette(routes=push_route.routes())
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error",
                                        ws_max_size=2**20))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    assert eventually(lambda: srv.started, 20)
    yield port
    srv.should_exit = True
    thread.join(10)


def _url(port: int) -> str:
    return f"ws://127.0.0.1:{port}{push_route.route_path()}"


def _open(port: int, origin: str | None = "same", cookie: str | None = None):
    headers = {}
    if cookie:
        headers["Cookie"] = f"{push_route.XSRF_COOKIE}={cookie}"
    origin = f"http://127.0.0.1:{port}" if origin == "same" else origin
    return connect(_url(port), origin=origin, additional_headers=headers, open_timeout=10,
                   max_size=2**22)


def _closed_code(ws) -> int:
    """Read until the server closes; the close code."""
    try:
        while True:
            ws.recv(timeout=10)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else -1
    except TimeoutError:
        return -2


def _issue(marker: str = "a", binding: str | None = None, alive=None):
    live = FakeSession(marker)
    sub = push_route.HUB.issue(f"sid-{marker}-{time.monotonic_ns()}", live,
                               alive or (lambda: True), binding=binding)
    return live, sub


@pytest.mark.slow
def test_a_valid_token_streams_its_own_sessions_frames_one_in_flight(server):
    live_a, sub_a = _issue("a")
    live_b, sub_b = _issue("b")
    with _open(server) as ws_a, _open(server) as ws_b:
        ws_a.send(sub_a.token)
        ws_b.send(sub_b.token)
        frame_a = push.unpack_frame(ws_a.recv(timeout=10))
        frame_b = push.unpack_frame(ws_b.recv(timeout=10))
        assert frame_a["payload"]["who"] == "a" and frame_b["payload"]["who"] == "b"
        assert frame_a["payload"]["mean"] == b"\x00\x01\x02"  # raw bytes, not base64
        live_a.advance()
        live_a.advance()
        with pytest.raises(TimeoutError):  # no ack yet: nothing more is sent
            ws_a.recv(timeout=0.8)
        ws_a.send("k")
        newest = push.unpack_frame(ws_a.recv(timeout=10))
        assert newest["payload"]["frame_id"].endswith(f"-{live_a.run.snapshot.serial}")


@pytest.mark.parametrize("origin", [None, "http://evil.example", "null"])
def test_cross_origin_or_no_origin_is_refused_before_the_handshake(server, origin):
    with pytest.raises(InvalidStatus) as err:
        _open(server, origin=origin)
    assert err.value.response.status_code == 403


@pytest.mark.parametrize("first", ["not-a-token", "", "x" * 10_000, b"\x00\xff\x10binary"])
def test_garbage_or_oversized_first_message_is_refused(server, first):
    with _open(server) as ws:
        ws.send(first)
        assert _closed_code(ws) == push_route.CLOSE_REFUSED


def test_an_https_origin_for_an_http_host_is_refused_before_the_handshake(server):
    """Same host:port, another scheme: another origin (an https page may not read an http
    server's frames, nor the reverse)."""
    with pytest.raises(InvalidStatus) as err:
        _open(server, origin=f"https://127.0.0.1:{server}")
    assert err.value.response.status_code == 403


def test_behind_a_trusted_tls_proxy_the_origin_must_be_https(server):
    """uvicorn applies `X-Forwarded-Proto` from a proxy it trusts (127.0.0.1 by default, as
    Streamlit runs it) to the request's scheme: wss, so an https page is same-origin and an
    http one is not."""
    forwarded = {"X-Forwarded-Proto": "https"}
    with pytest.raises(InvalidStatus) as err:
        connect(_url(server), origin=f"http://127.0.0.1:{server}", open_timeout=10,
                additional_headers=forwarded)
    assert err.value.response.status_code == 403
    _, sub = _issue("tls")
    with connect(_url(server), origin=f"https://127.0.0.1:{server}", open_timeout=10,
                 additional_headers=forwarded, max_size=2**22) as ws:
        ws.send(sub.token)
        assert push.unpack_frame(ws.recv(timeout=10))["payload"]["who"] == "tls"


def test_no_token_within_the_auth_timeout_is_refused(server, monkeypatch):
    monkeypatch.setattr(push_route, "AUTH_TIMEOUT_S", 0.3)
    with _open(server) as ws:
        assert _closed_code(ws) == push_route.CLOSE_REFUSED


def test_garbage_and_oversized_messages_after_the_token_close_the_stream(server):
    for message, code in (("hello", push_route.CLOSE_UNSUPPORTED),
                          (b"\x01\x02", push_route.CLOSE_UNSUPPORTED),
                          ("k" * 1000, push_route.CLOSE_TOO_BIG)):
        _, sub = _issue("g")
        with _open(server) as ws:
            ws.send(sub.token)
            ws.recv(timeout=10)
            ws.send(message)
            assert _closed_code(ws) == code


def test_a_stolen_token_is_refused_in_another_browser(server):
    """Bound to its browser's XSRF secret: the same token without, or with another, cookie is
    refused; with its own cookie it streams."""
    cookie = "token-of-browser-a"
    _, sub = _issue("s", binding=push_route.browser_binding(cookie))
    for other in (None, "token-of-browser-b"):
        with _open(server, cookie=other) as ws:
            ws.send(sub.token)
            assert _closed_code(ws) == push_route.CLOSE_REFUSED
    with _open(server, cookie=cookie) as ws:
        ws.send(sub.token)
        assert push.unpack_frame(ws.recv(timeout=10))["payload"]["who"] == "s"


@pytest.mark.slow
def test_an_expired_token_is_refused_and_a_live_stream_ends_with_its_session(server):
    alive = _Alive()
    _, sub = _issue("e", alive=alive)
    with _open(server) as ws:
        ws.send(sub.token)
        ws.recv(timeout=10)
        alive.value = False  # the learner's Streamlit session ended
        assert _closed_code(ws) == push_route.CLOSE_EXPIRED
    with _open(server) as ws:
        ws.send(sub.token)
        assert _closed_code(ws) == push_route.CLOSE_REFUSED


def _pump_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "bnnlab-push" and t.is_alive())


def test_100_connect_disconnect_cycles_leave_no_pump_behind(server):
    live, sub = _issue("c")
    before = _pump_threads()
    for k in range(100):
        with _open(server) as ws:
            ws.send(sub.token)
            if k % 10 == 0:
                ws.recv(timeout=10)
    assert eventually(lambda: _pump_threads() == before and not sub.pumping, 10)
    with _open(server) as ws:  # and the token still works
        ws.send(sub.token)
        assert push.unpack_frame(ws.recv(timeout=10))["payload"]["who"] == "c"


# ---------------------------------------------------------------------------- commands
@pytest.mark.parametrize("text, parsed", [
    ('{"c":"train"}', {"c": "train"}),
    ('{"c": "pause"}', {"c": "pause"}),
    ('{"c":"sync"}', {"c": "sync"}),
    ('{"c":"click","x":0.25,"y":-1,"mode":"add1","id":"m1x-_9"}',
     {"c": "click", "x": 0.25, "y": -1.0, "mode": "add1", "id": "m1x-_9"}),
    ('{"c":"click","x":1e3,"y":2.5,"mode":"probe","id":"p"}',
     {"c": "click", "x": 1000.0, "y": 2.5, "mode": "probe", "id": "p"}),
])
def test_valid_commands_parse(text, parsed):
    assert push_route.parse_command(text) == parsed


@pytest.mark.parametrize("text", [
    "", "train", "[]", "null", "1", '"train"', '{"c":"reset"}', '{"c":"train","x":1}',
    '{"c":"TRAIN"}', '{"c":["train"]}', '{"c":"sync","x":1}',
    '{"c":"click","x":0,"y":0,"mode":"add1"}',  # no id
    '{"c":"click","x":0,"y":0,"mode":"add1","id":"a","extra":1}',
    '{"c":"click","x":NaN,"y":0,"mode":"add1","id":"a"}',
    '{"c":"click","x":Infinity,"y":0,"mode":"add1","id":"a"}',
    '{"c":"click","x":1e999,"y":0,"mode":"add1","id":"a"}',  # overflows to inf
    '{"c":"click","x":"1","y":0,"mode":"add1","id":"a"}',
    '{"c":"click","x":true,"y":0,"mode":"add1","id":"a"}',
    '{"c":"click","x":null,"y":0,"mode":"add1","id":"a"}',
    '{"c":"click","x":0,"y":0,"mode":"add9","id":"a"}',
    '{"c":"click","x":0,"y":0,"mode":"view","id":"a"}',
    '{"c":"click","x":0,"y":0,"mode":"add1","id":""}',
    '{"c":"click","x":0,"y":0,"mode":"add1","id":"' + "a" * 33 + '"}',
    '{"c":"click","x":0,"y":0,"mode":"add1","id":"<b>"}',
    '{"c":"click","x":0,"y":0,"mode":"add1","id":7}',
    "[" * 300,
    '{"c":"train"' + " " * 300 + "}",
])
def test_malformed_or_unknown_commands_are_refused(text):
    assert push_route.parse_command(text) is None


@contextlib.contextmanager
def _streaming(server, marker: str):
    """A connection authenticated for a new FakeSession, its first frame read."""
    live, sub = _issue(marker)
    with _open(server) as ws:
        ws.send(sub.token)
        push.unpack_frame(ws.recv(timeout=10))
        yield live, ws


def test_commands_act_on_their_own_session_in_order_on_one_worker_and_a_frame_follows(server):
    other, _ = _issue("bystander")
    with _streaming(server, "cmd") as (live, ws):
        ws.send("k")
        ws.send('{"c":"train"}')
        frame = push.unpack_frame(ws.recv(timeout=10))  # woken by the command
        assert frame["status"] == "training"
        ws.send('{"c":"click","x":0.5,"y":-0.25,"mode":"add1","id":"c1"}')
        ws.send('{"c":"click","x":0.5,"y":0.25,"mode":"probe","id":"p1"}')  # left to the page
        ws.send('{"c":"pause"}')
        ws.send("k")
        assert eventually(lambda: len(live.calls) >= 3, 10)
        assert live.calls == [("train",), ("click", 0.5, -0.25, "add1", "c1"), ("pause",)]
        assert len(live.threads) == 1 and next(iter(live.threads)).startswith("bnnlab-command")
        assert other.calls == []
        ws.send('{"c":"fly"}')
        assert _closed_code(ws) == push_route.CLOSE_UNSUPPORTED
    assert eventually(lambda: _command_threads() == 0, 10)  # the worker ends with its connection


def test_sync_sends_the_current_frame_again_though_nothing_changed(server):
    """The page's buttons flipped after the status it reports was pushed (the run finished
    while the page's rerun was on its way): `sync` gets the frame and its status once more,
    and nothing else is sent while nothing changes."""
    with _streaming(server, "sync") as (live, ws):
        ws.send("k")
        with pytest.raises(TimeoutError):  # nothing changed: nothing is sent
            ws.recv(timeout=0.8)
        ws.send('{"c":"sync"}')
        again = push.unpack_frame(ws.recv(timeout=10))
        assert again["payload"]["who"] == "sync" and again["status"] == live.status == "paused"
        assert live.calls == []  # not a command on the session
        ws.send("k")
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.8)


def _command_threads() -> int:
    return sum(1 for t in threading.enumerate()
               if t.name.startswith("bnnlab-command") and t.is_alive())


def test_a_backlog_of_commands_closes_the_stream(server):
    """Pause blocks until the chunk ends; a browser that floods commands is cut off (1008),
    not queued without bound."""
    with _streaming(server, "flood") as (live, ws):
        live.pause_s = 0.5
        for _ in range(push_route.MAX_PENDING_COMMANDS + 3):
            ws.send('{"c":"pause"}')
        assert _closed_code(ws) == push_route.CLOSE_POLICY
    assert len(live.calls) <= 3  # queued ones were dropped with the connection


def test_a_command_as_the_first_message_is_not_a_token(server):
    live, _ = _issue("first")
    with _open(server) as ws:
        ws.send('{"c":"train"}')
        assert _closed_code(ws) == push_route.CLOSE_REFUSED
    assert live.calls == []


# ---------------------------------------------------------------------------- origin and rate
@pytest.mark.parametrize("origin, scheme, allowed", [
    ("http://127.0.0.1:8621", "ws", True),
    ("https://127.0.0.1:8621", "wss", True),
    ("HTTP://127.0.0.1:8621", "WS", True),
    ("https://127.0.0.1:8621", "ws", False),  # an https page, an http server
    ("http://127.0.0.1:8621", "wss", False),
    ("ws://127.0.0.1:8621", "ws", False),  # not a page's scheme
    ("ftp://127.0.0.1:8621", "ws", False),
    ("http://127.0.0.1:8621", "ftp", False),
    ("http://127.0.0.1:8621", None, False),
    ("http://127.0.0.1:8622", "ws", False),
    ("//127.0.0.1:8621", "ws", False),  # no scheme at all
])
def test_origin_must_have_the_requests_scheme_and_host(origin, scheme, allowed):
    assert push_route.origin_allowed(origin, "127.0.0.1:8621", scheme) is allowed


def test_budget_allows_a_burst_then_refuses_until_it_refills():
    """`MESSAGE_BURST` at one instant, then none; one more each 1/rate s."""
    rate, burst = push_route.MESSAGE_RATE_PER_S, push_route.MESSAGE_BURST
    budget = push_route.MessageBudget(rate, burst, now=100.0)
    assert all(budget.allow(100.0) for _ in range(burst))
    assert not budget.allow(100.0)
    assert not budget.allow(100.0 + 0.5 / rate)
    assert budget.allow(100.0 + 1.01 / rate)
    assert not budget.allow(100.0 + 1.02 / rate)


def test_budget_never_exceeds_its_burst_after_a_long_idle():
    budget = push_route.MessageBudget(10.0, 5, now=0.0)
    assert sum(budget.allow(3600.0) for _ in range(50)) == 5


def test_a_browsers_pace_never_runs_out_of_budget():
    """A minute of the most a browser sends: an ack for each of 60 frames/s, a command each
    0.1 s, arriving in bunches of 1 s (an event loop that stalled)."""
    budget = push_route.MessageBudget(push_route.MESSAGE_RATE_PER_S, push_route.MESSAGE_BURST,
                                      now=0.0)
    for second in range(1, 61):
        assert all(budget.allow(float(second)) for _ in range(60 + 10))


def test_a_flood_runs_out_of_budget_within_the_burst():
    """~16k "k"/s (the flood that cost 0.3 core): refused after about `MESSAGE_BURST`."""
    budget = push_route.MessageBudget(push_route.MESSAGE_RATE_PER_S, push_route.MESSAGE_BURST,
                                      now=0.0)
    allowed = 0
    for k in range(16_000):
        if not budget.allow(k / 16_000):
            break
        allowed += 1
    assert push_route.MESSAGE_BURST <= allowed < 1.1 * push_route.MESSAGE_BURST


def test_refusal_checks_the_rate_then_the_size():
    budget = push_route.MessageBudget(1.0, 2, now=0.0)
    assert push_route.refusal({"text": "k"}, budget, 0.0) == 0
    assert push_route.refusal({"text": "k" * 1000}, budget, 0.0) == push_route.CLOSE_TOO_BIG
    assert push_route.refusal({"text": "k"}, budget, 0.0) == push_route.CLOSE_POLICY
    assert push_route.refusal({"bytes": b"x" * 1000}, budget, 0.0) == push_route.CLOSE_POLICY


def test_a_flood_of_acks_closes_the_stream_as_a_policy_violation(server):
    """Many "k" at once, past the burst: the connection is closed (1008), not served."""
    with _streaming(server, "ackflood") as (live, ws):
        with contextlib.suppress(ConnectionClosed):  # the server may close while we send
            for _ in range(20 * push_route.MESSAGE_BURST):
                ws.send("k")
        assert _closed_code(ws) == push_route.CLOSE_POLICY
    assert live.calls == []


def _drain(ws, quiet_s: float) -> None:
    """Read frames until none comes for `quiet_s` (a close raises ConnectionClosed)."""
    with contextlib.suppress(TimeoutError):
        while True:
            ws.recv(timeout=quiet_s)


@pytest.mark.slow  # a few seconds: the fast tier stays under 2 minutes
def test_acks_and_commands_at_a_browsers_pace_keep_the_stream_open(server):
    """60 "k"/s with a `sync` now and then, more messages in all than the burst: still open,
    and a `sync` after them still gets its frame."""
    with _streaming(server, "pace") as (live, ws):
        sent = 150
        assert sent > push_route.MESSAGE_BURST  # the budget's refill is needed
        for k in range(sent):
            ws.send('{"c":"sync"}' if k % 30 == 29 else "k")
            time.sleep(1 / 60)  # relative: the pace is never faster than 60/s
        _drain(ws, 0.5)
        ws.send("k")
        ws.send('{"c":"sync"}')
        assert push.unpack_frame(ws.recv(timeout=10))["payload"]["who"] == "pace"
