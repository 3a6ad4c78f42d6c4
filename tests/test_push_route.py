"""ui/push_route.py, the live chart's WebSocket route, served by uvicorn on 127.0.0.1 and spoken
to by a plain client: same-origin only, a token only for its own browser and session, garbage,
oversized and late messages refused, one frame in flight, no thread left after 100 cycles."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, NamedTuple

import pytest
import uvicorn
from starlette.applications import Starlette
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from bnnlab import push
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

    def advance(self) -> None:
        self.run.snapshot = _Snap(self.run.snapshot.serial + 1)

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
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
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
    deadline = time.monotonic() + 10
    while (_pump_threads() > before or sub.pumping) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pump_threads() == before and not sub.pumping
    with _open(server) as ws:  # and the token still works
        ws.send(sub.token)
        assert push.unpack_frame(ws.recv(timeout=10))["payload"]["who"] == "c"
