"""The live chart's push route: a WebSocket mounted beside the app by `st.App(routes=...)`
(app.py), on which the server sends each frame of a learner's session as one binary message
(`bnnlab.push.pack_frame`) when its chunk finishes. Settings, buttons and clicks still go
through Streamlit; only frames travel here.

Protocol (`ui/live_push.js` speaks it): the browser opens `<base>/bnnlab/frames`, sends its
token (issued to its own Streamlit session by `stream_for` on a page run) as the first text
message within `AUTH_TIMEOUT_S`, then receives frames and answers each with the text "k"
(one frame in flight: the server keeps only the newest frame while it waits, so a slow browser
gets fewer, fresher frames, never a queue).

Refusals (the connection is closed; nothing of any session is sent): Origin missing or not the
page's own host, or a Host outside `server.allowedHosts` (HTTP 403 before the handshake); a
first message that is not a live token for this browser (code 4403: unknown, malformed,
another server's, expired with its session, or issued to a browser with another XSRF
cookie); a message over `MAX_MESSAGE_CHARS` (1009) or anything but "k" afterwards (1003);
the session ending while connected (4401).

Where the route is not mounted (AppTest, `BNNLAB_PUSH=0`, a page run outside app.py),
`stream_for` returns None and the page polls through fragment reruns as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
from typing import Any
from urllib.parse import urlsplit

from bnnlab import push

ROUTE = "bnnlab/frames"
AUTH_TIMEOUT_S = 5.0
ACK_TIMEOUT_S = 30.0  # a browser that stops reading for this long is disconnected
ALIVE_CHECK_S = 1.0  # how often a connected stream re-checks that its session lives
MAX_MESSAGE_CHARS = 64
CLOSE_REFUSED, CLOSE_EXPIRED, CLOSE_TOO_BIG, CLOSE_UNSUPPORTED = 4403, 4401, 1009, 1003

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
def origin_allowed(origin: str | None, host: str | None) -> bool:
    """Same-origin only: the Origin's host:port must be the request's Host, and the Host must
    be allowed by `server.allowedHosts` (DNS rebinding). A missing Origin is refused (every
    browser sends one; the load clients send one too)."""
    if not origin or not host:
        return False
    if urlsplit(origin).netloc.lower() != host.lower():
        return False
    try:
        from streamlit.web.server.starlette.starlette_websocket import is_host_allowed
    except Exception:  # noqa: BLE001 - Streamlit moved it: the same-origin check stands
        return True
    return bool(is_host_allowed(host))


async def _close(ws: Any, code: int) -> None:
    with contextlib.suppress(Exception):
        await ws.close(code=code)


async def frames_endpoint(ws: Any) -> None:
    """The WebSocket handler (Starlette)."""
    if not origin_allowed(ws.headers.get("origin"), ws.headers.get("host")):
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
        while True:
            msg = await ws.receive()
            if msg.get("type") == "websocket.disconnect":
                return 0
            text, data = msg.get("text"), msg.get("bytes")
            size = len(text) if text is not None else len(data or b"")
            if size > MAX_MESSAGE_CHARS:
                return CLOSE_TOO_BIG
            if text != "k":
                return CLOSE_UNSUPPORTED
            acked.set()
            if latest[0] is not None:
                fresh.set()

    async def watch() -> int:
        while True:
            await asyncio.sleep(ALIVE_CHECK_S)
            if not sub.alive():
                return CLOSE_EXPIRED
            if not pump.running:
                return 1011 if pump.error else 1000

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
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
    if code:
        await _close(ws, code)
