"""The live chart's push route: a WebSocket mounted beside the app by `st.App(routes=...)`
(app.py), on which the server sends each frame of a learner's session as one binary message
(`bnnlab.push.pack_frame`) when its chunk finishes. Settings, buttons and clicks still go
through Streamlit; only frames travel here.

Protocol (`ui/live_push.js` speaks it): the browser opens `<base>/bnnlab/frames`, sends its
token (issued to its own Streamlit session by `stream_for` on a page run) as the first text
message within `AUTH_TIMEOUT_S`, then receives frames and answers each with the text "k"
(one frame in flight: the server keeps only the newest frame while it waits, so a slow browser
gets fewer, fresher frames, never a queue).

Commands (Train, Pause and a point added on the map take effect without waiting for
a Streamlit rerun): after the token the browser may also send `{"c": "train"}`,
`{"c": "pause"}`, `{"c": "sync"}` (send the current frame and status again: the page's buttons
changed) or `{"c": "click", "x": float, "y": float, "mode": "add0"…"add4" | "probe",
"id": str}` (`parse_command` says exactly what is accepted). They act on the token's own
Session only, in order, on one worker thread per connection (Pause blocks until the chunk in
flight ends), and each wakes the pump for a fresh frame. The same button press or map click
still reaches the page through Streamlit, where it is harmless: Train is a no-op while
training, Pause while paused, and a click whose id the Session already applied is skipped
(`Session.click`); a refused click is not applied here, so the page's run refuses it again and
says why. A probe click is accepted and left to the page (its histogram is a Streamlit chart).

Refusals (the connection is closed; nothing of any session is sent): Origin missing, or not
the page's own origin (its scheme must be the request's, http for ws and https for wss, and its
host:port the request's Host), or a Host outside `server.allowedHosts` (HTTP 403 before the
handshake); a first message that is not a live token for this browser (code 4403: unknown,
malformed, another server's, expired with its session, or issued to a browser with another
XSRF cookie); a message over `MAX_MESSAGE_CHARS` (1009) or anything but "k" or a valid command
afterwards (1003); messages ("k" and commands together) faster than `MESSAGE_RATE_PER_S` beyond
a burst of `MESSAGE_BURST` (1008); more than `MAX_PENDING_COMMANDS` commands waiting (1008);
the session ending while connected (4401).

The request's scheme is the ASGI scope's; this route reads no forwarding header itself. Behind
a TLS-terminating proxy it is wss only where the proxy sends `X-Forwarded-Proto` and uvicorn
(as Streamlit runs it) trusts the proxy: env `FORWARDED_ALLOW_IPS`, 127.0.0.1 and ::1 by default.

Where the route is not mounted (AppTest, `BNNLAB_PUSH=0`, a page run outside app.py),
`stream_for` returns None and the page polls through fragment reruns as before.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from bnnlab.core import limits
from bnnlab.live import push

ROUTE = "bnnlab/frames"
AUTH_TIMEOUT_S = 5.0
ACK_TIMEOUT_S = 30.0  # a browser that stops reading for this long is disconnected
ALIVE_CHECK_S = 1.0  # how often a connected stream re-checks that its session lives
MAX_MESSAGE_CHARS = 256  # "k" and the commands; a click with full-precision floats is ~110
MAX_PENDING_COMMANDS = 16  # commands queued behind the one running: more closes (1008)
# Messages per connection after the token, "k" and commands together. A browser sends one "k"
# per frame (at most 60 frames/s: `push.MIN_FRAME_INTERVAL_S`, one in flight) and a command per
# button press or map click; 240/s is four times that. Past it the connection is closed, not
# the excess dropped: receiving each message is the cost, and dropping would still pay it. So
# a connection costs at most about four times a browser's own acks. The burst (2 s of acks)
# absorbs messages that arrive bunched after a stall of either side's event loop.
MESSAGE_RATE_PER_S = 240.0
MESSAGE_BURST = 120
CLICK_MODES = ("probe", *(f"add{k}" for k in range(limits.MAX_CLASSES)))
CLICK_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
CLOSE_REFUSED, CLOSE_EXPIRED, CLOSE_TOO_BIG, CLOSE_UNSUPPORTED = 4403, 4401, 1009, 1003
CLOSE_POLICY = 1008
_log = logging.getLogger(__name__)

XSRF_COOKIE = "_streamlit_xsrf"
HUB = push.Hub()
_state = {"mounted": False}


def enabled() -> bool:
    """The operator's switch: `BNNLAB_PUSH=0` keeps every page on the fragment path."""
    return os.environ.get("BNNLAB_PUSH", "1").strip().lower() not in ("0", "false", "no", "off")


def mark_mounted() -> None:
    """Called by app.py's lifespan: the route is being served by this process."""
    _state["mounted"] = enabled()


def available() -> bool:
    return _state["mounted"]


def route_path() -> str:
    """`/<server.baseUrlPath>/bnnlab/frames`."""
    try:
        from streamlit import config

        base = (config.get_option("server.baseUrlPath") or "").strip("/")
    except Exception:  # noqa: BLE001 - outside a Streamlit process
        base = ""
    return "/" + "/".join(p for p in (base, ROUTE) if p)


def routes() -> list:
    """The Starlette routes for `st.App(routes=...)` (none when `BNNLAB_PUSH=0`)."""
    from starlette.routing import WebSocketRoute

    return [WebSocketRoute(route_path(), frames_endpoint)] if enabled() else []


# ---------------------------------------------------------------------------- page side
def stream_for(live: Any, view: Any) -> dict | None:
    """For the page: `{"url", "token"}` of this Streamlit session's stream of `live` (a
    `session.Session`), with `view` as what it shows; None where the route is unavailable."""
    if not available():
        return None
    try:
        from streamlit.runtime import Runtime
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        runtime = Runtime.instance()
    except Exception:  # noqa: BLE001 - no runtime (e.g. a bare script run): poll instead
        return None
    if ctx is None:
        return None
    session_id = ctx.session_id
    try:
        import streamlit as st

        cookie = st.context.cookies.get(XSRF_COOKIE)
    except Exception:  # noqa: BLE001 - no cookies to bind to: the token alone
        cookie = None
    sub = HUB.issue(session_id, live, lambda: runtime.is_active_session(session_id),
                    binding=browser_binding(cookie))
    sub.set_view(view)
    return {"url": route_path(), "token": sub.token}


def browser_binding(xsrf_cookie: str | None) -> str | None:
    """A digest of the browser's XSRF token (the secret inside Streamlit's `_streamlit_xsrf`
    cookie, stable across its re-masked values), or None without one (XSRF protection off).
    A token copied into another browser is refused: that browser has another cookie."""
    if not xsrf_cookie:
        return None
    try:
        from streamlit.web.server.starlette.starlette_app_utils import (
            decode_xsrf_token_string,
        )

        secret, _ = decode_xsrf_token_string(xsrf_cookie)
    except Exception:  # noqa: BLE001 - an unreadable cookie binds as it is
        secret = None
    raw = secret if secret else xsrf_cookie.encode()
    return hashlib.sha256(b"bnnlab-push:" + raw).hexdigest()


# ---------------------------------------------------------------------------- route side
PAGE_SCHEMES = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def origin_allowed(origin: str | None, host: str | None, scheme: str | None) -> bool:
    """Same-origin only: the Origin's scheme must be the page's for the request's `scheme`
    (`PAGE_SCHEMES`: http for ws, https for wss), its host:port the request's Host, and the
    Host must be allowed by `server.allowedHosts` (DNS rebinding). A missing Origin is refused
    (every browser sends one; the load clients send one too)."""
    if not origin or not host:
        return False
    parts = urlsplit(origin)
    if parts.scheme != PAGE_SCHEMES.get((scheme or "").lower()):
        return False  # e.g. an https page for an http server: not the same origin
    if parts.netloc.lower() != host.lower():
        return False
    try:
        from streamlit.web.server.starlette.starlette_websocket import is_host_allowed
    except Exception:  # noqa: BLE001 - Streamlit moved it: the same-origin check stands
        return True
    return bool(is_host_allowed(host))


class MessageBudget:
    """A token bucket (one per connection): `burst` messages at once, refilled at `rate_per_s`;
    `allow(now)` spends one, or says False when none is left. `now`: `time.monotonic()` s."""

    __slots__ = ("rate_per_s", "burst", "tokens", "stamp")

    def __init__(self, rate_per_s: float, burst: int, now: float) -> None:
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = now

    def allow(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate_per_s)
        self.stamp = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


def refusal(msg: dict, budget: MessageBudget, now: float) -> int:
    """The close code for a message after the token that is refused before it is read (over
    the rate, then over the size), or 0."""
    if not budget.allow(now):
        return CLOSE_POLICY
    text, data = msg.get("text"), msg.get("bytes")
    size = len(text) if text is not None else len(data or b"")
    return CLOSE_TOO_BIG if size > MAX_MESSAGE_CHARS else 0


# ---------------------------------------------------------------------------- commands
def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def parse_command(text: Any) -> dict | None:
    """A browser's command, validated, or None when `text` is not exactly one of:
    `{"c": "train"}`, `{"c": "pause"}`, `{"c": "sync"}`, or
    `{"c": "click", "x": x, "y": y, "mode": m, "id": i}` with finite numbers x, y (not
    booleans), m in `CLICK_MODES` and i matching `CLICK_ID`; no other keys. Whether the click
    lies on the map or its class exists is the Session's to say."""
    if not isinstance(text, str) or len(text) > MAX_MESSAGE_CHARS:
        return None
    try:
        obj = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    kind = obj.get("c")
    if kind in ("train", "pause", "sync"):
        return {"c": kind} if set(obj) == {"c"} else None
    if kind != "click" or set(obj) != {"c", "x", "y", "mode", "id"}:
        return None
    x, y, mode, click_id = obj["x"], obj["y"], obj["mode"], obj["id"]
    if any(type(v) not in (int, float) or not math.isfinite(v) for v in (x, y)):
        return None
    if mode not in CLICK_MODES or not isinstance(click_id, str) \
            or not CLICK_ID.fullmatch(click_id):
        return None
    return {"c": "click", "x": float(x), "y": float(y), "mode": mode, "id": click_id}


def execute(sub: push.Subscription, command: dict) -> None:
    """Apply a parsed command to the subscription's own Session (on the connection's worker
    thread), then wake its pump so that a frame with the new status or point goes out now."""
    if not sub.alive():
        return
    live = sub.session
    try:
        if command["c"] == "train":
            live.train()
        elif command["c"] == "pause":
            live.pause()
        elif command["c"] == "sync":
            sub.resync()
        elif command["mode"].startswith("add"):
            # Refused (off the map, too many points, over the budget): nothing changes here and
            # the page's run of the same click shows the reason.
            live.click(command["x"], command["y"], command["mode"], click_id=command["id"])
        # "probe": the page draws the probe's histogram (a Streamlit chart): left to it.
    except Exception:  # noqa: BLE001 - the page's path of the same command reports errors
        _log.debug("push command %s failed", command["c"], exc_info=True)
    finally:
        sub.poke.set()


async def _close(ws: Any, code: int) -> None:
    with contextlib.suppress(Exception):
        await ws.close(code=code)


async def frames_endpoint(ws: Any) -> None:
    """The WebSocket handler (Starlette)."""
    if not origin_allowed(ws.headers.get("origin"), ws.headers.get("host"), ws.url.scheme):
        await ws.close(code=CLOSE_REFUSED)  # before accept: an HTTP 403
        return
    await ws.accept()
    try:
        first = await asyncio.wait_for(ws.receive(), AUTH_TIMEOUT_S)
    except TimeoutError:
        await _close(ws, CLOSE_REFUSED)
        return
    if first.get("type") != "websocket.receive":
        return
    text = first.get("text")
    binding = browser_binding(ws.cookies.get(XSRF_COOKIE))
    sub = HUB.find(text, binding) if isinstance(text, str) else None
    if sub is None:
        await _close(ws, CLOSE_REFUSED)
        return
    await _stream(ws, sub)


async def _stream(ws: Any, sub: push.Subscription) -> None:
    loop = asyncio.get_running_loop()
    latest: list[bytes | None] = [None]
    fresh = asyncio.Event()
    acked = asyncio.Event()
    acked.set()
    gone = threading.Event()

    def emit(message: bytes) -> bool:  # on the pump's thread
        if gone.is_set():
            return False
        latest[0] = message
        try:
            loop.call_soon_threadsafe(fresh.set)
        except RuntimeError:  # the loop is closed
            return False
        return True

    async def send() -> int:
        while True:
            await fresh.wait()
            fresh.clear()
            try:
                await asyncio.wait_for(acked.wait(), ACK_TIMEOUT_S)
            except TimeoutError:
                return CLOSE_UNSUPPORTED
            message, latest[0] = latest[0], None
            if message is None:
                continue
            acked.clear()
            await ws.send_bytes(message)

    async def receive() -> int:
        budget = MessageBudget(MESSAGE_RATE_PER_S, MESSAGE_BURST, time.monotonic())
        while True:
            msg = await ws.receive()
            if msg.get("type") == "websocket.disconnect":
                return 0
            code = refusal(msg, budget, time.monotonic())
            if code:
                return code
            text = msg.get("text")
            if text == "k":
                acked.set()
                if latest[0] is not None:
                    fresh.set()
                continue
            command = parse_command(text)
            if command is None:
                return CLOSE_UNSUPPORTED
            pending[:] = [f for f in pending if not f.done()]
            if len(pending) > MAX_PENDING_COMMANDS:
                return CLOSE_POLICY
            if not workers:  # one thread per connection, started by its first command
                workers.append(concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix="bnnlab-command"))
            pending.append(workers[0].submit(execute, sub, command))

    async def watch() -> int:
        while True:
            await asyncio.sleep(ALIVE_CHECK_S)
            if not sub.alive():
                return CLOSE_EXPIRED
            if not pump.running:
                return 1011 if pump.error else 1000

    pending: list[concurrent.futures.Future] = []
    workers: list[concurrent.futures.ThreadPoolExecutor] = []
    pump = sub.attach(emit)
    tasks = [asyncio.ensure_future(c) for c in (send(), receive(), watch())]
    code = 0
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            with contextlib.suppress(Exception):
                code = task.result() or code
    finally:
        gone.set()
        sub.detach(pump)
        for worker in workers:  # a command already running (a Pause) finishes on its own
            worker.shutdown(wait=False, cancel_futures=True)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
    if code:
        await _close(ws, code)
