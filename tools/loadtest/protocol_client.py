"""A lightweight learner: speaks Streamlit's own WebSocket protocol (BackMsg / ForwardMsg
protobufs from `streamlit.proto`) to run the playground page and press its buttons, and the
app's push route (`ui/push_route.py`) to receive the live chart's frames. No browser: the
server is what a load test with these measures. Loopback only (`base_url` must be 127.0.0.1 or
localhost), every wait bounded.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bnnlab.live import push

XSRF_COOKIE = "_streamlit_xsrf"
LIVE = ("training", "waiting", "compiling")
FULL_RUN_ENDS = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR)


class ProtocolError(RuntimeError):
    """The server answered something a learner would see as broken."""


@dataclass
class Frames:
    """What one learner's push stream delivered."""

    times: list[float] = field(default_factory=list)  # monotonic arrival of each frame
    steps: list[int] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    closed_code: int | None = None


def _loopback(base_url: str) -> str:
    host = urlsplit(base_url).hostname
    if host not in ("127.0.0.1", "localhost"):
        raise ValueError(f"load clients speak to loopback only, not {host!r}")
    return base_url.rstrip("/")


class Learner:
    """One simulated learner on `page` (a URL path, e.g. "playground") with `query`."""

    def __init__(self, base_url: str, page: str = "playground", query: str = "",
                 timeout: float = 120.0) -> None:
        self.base = _loopback(base_url)
        self.host = urlsplit(self.base).netloc
        self.page = page
        self.query = query
        self.timeout = timeout
        self.cookie = self._xsrf_cookie()
        self.errors: list[str] = []
        self.buttons: dict[str, str] = {}  # label -> widget id
        self.component: dict | None = None  # the live chart's last data
        self.page_hash = ""
        self.debug = False
        self._ws = connect(
            f"ws://{self.host}/_stcore/stream", origin=self.base,
            subprotocols=["streamlit", self.cookie],
            additional_headers={"Cookie": f"{XSRF_COOKIE}={self.cookie}"},
            open_timeout=timeout, max_size=2**26)
        self.frames = Frames()
        self._push_thread: threading.Thread | None = None
        self._push_stop = threading.Event()

    def _xsrf_cookie(self) -> str:
        with urllib.request.urlopen(f"{self.base}/_stcore/health", timeout=self.timeout) as r:
            for header in r.headers.get_all("Set-Cookie") or []:
                name, _, rest = header.partition("=")
                if name.strip() == XSRF_COOKIE:
                    return rest.split(";", 1)[0]
        raise ProtocolError("no XSRF cookie from /_stcore/health")

    # ------------------------------------------------------------------ Streamlit protocol
    def _rerun(self, trigger: str | None = None) -> None:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_script_hash = self.page_hash
        state.page_name = "" if self.page_hash else self.page
        ctx = state.context_info
        ctx.timezone, ctx.locale, ctx.url = "UTC", "en-US", f"{self.base}/{self.page}"
        if trigger is not None:
            widget = state.widget_states.widgets.add()
            widget.id = trigger
            widget.trigger_value = True
        self._ws.send(msg.SerializeToString())

    def run_page(self, press: str | None = None) -> float:
        """Run the page (pressing the button labelled `press`) until its script run ends;
        returns the seconds it took. Errors the page shows are collected in `errors`."""
        trigger = None
        if press is not None:
            if press not in self.buttons:
                raise ProtocolError(f"no button {press!r} on the page ({sorted(self.buttons)})")
            trigger = self.buttons[press]
        started = time.monotonic()
        self._rerun(trigger)
        self.buttons = {}
        deadline = started + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError(f"script run did not finish within {self.timeout} s")
            raw = self._ws.recv(timeout=left)
            if isinstance(raw, str):
                continue
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "navigation":
                for app_page in fwd.navigation.app_pages:
                    if app_page.url_pathname.strip("/") == self.page:
                        self.page_hash = app_page.page_script_hash
            elif kind == "page_not_found":
                raise ProtocolError(f"page not found: {self.page}")
            elif kind == "delta":
                self._read_delta(fwd)
            elif kind == "script_finished":
                if self.debug:
                    print("script_finished", fwd.script_finished, self.buttons.keys())
                if fwd.script_finished in FULL_RUN_ENDS and self.buttons:
                    return time.monotonic() - started
            if self.debug:
                print(kind)

    def _read_delta(self, fwd: ForwardMsg) -> None:
        delta = fwd.delta
        if self.debug:
            el = delta.new_element.WhichOneof("type") if delta.HasField("new_element") else ""
            print(" ", delta.WhichOneof("type"), el, str(delta)[:150].replace("\n", " "))
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind == "button":
            self.buttons[element.button.label] = element.button.id
        elif kind == "exception":
            self.errors.append(f"exception: {element.exception.message[:200]}")
        elif kind == "alert" and element.alert.format == 1:  # ERROR
            self.errors.append(f"error shown: {element.alert.body[:200]}")
        elif kind == "bidi_component":
            comp = element.bidi_component
            text = comp.json or (comp.mixed.json if comp.HasField("mixed") else "")
            if text:
                try:
                    parsed = json.loads(text)
                except ValueError:
                    return
                data = parsed.get("data", parsed) if isinstance(parsed, dict) else None
                if isinstance(data, dict) and "grid" in data:
                    self.component = data

    def step_shown(self) -> int:
        return int(self.component.get("step", -1)) if self.component else -1

    # ------------------------------------------------------------------ push route
    @property
    def push_spec(self) -> dict | None:
        return (self.component or {}).get("push")

    def subscribe(self) -> None:
        """Receive the session's frames on the push route (a background thread), acking each
        one as the chart does."""
        spec = self.push_spec
        if not spec:
            raise ProtocolError("the page offered no push stream")
        if self._push_thread is not None and self._push_thread.is_alive():
            return
        self._push_stop.clear()
        ws = connect(f"ws://{self.host}{spec['url']}", origin=self.base,
                     additional_headers={"Cookie": f"{XSRF_COOKIE}={self.cookie}"},
                     open_timeout=self.timeout, max_size=2**24)
        ws.send(spec["token"])

        def read() -> None:
            try:
                while not self._push_stop.is_set():
                    try:
                        raw = ws.recv(timeout=0.5)
                    except TimeoutError:
                        continue
                    ws.send("k")
                    frame = push.unpack_frame(raw)
                    payload = frame.get("payload") or {}
                    self.frames.times.append(time.monotonic())
                    self.frames.steps.append(int(payload.get("step", -1)))
                    self.frames.statuses.append(frame["status"])
                    if frame["status"] == "error":
                        self.errors.append("push: status error")
            except ConnectionClosed as closed:
                self.frames.closed_code = closed.rcvd.code if closed.rcvd else -1
                if not self._push_stop.is_set():
                    self.errors.append(f"push closed: {self.frames.closed_code}")
            except Exception as err:  # noqa: BLE001 - recorded as the learner's error
                self.errors.append(f"push: {type(err).__name__}: {err}")
            finally:
                ws.close()

        self._push_thread = threading.Thread(target=read, name="learner-push", daemon=True)
        self._push_thread.start()

    def wait_frames(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.frames.times) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return len(self.frames.times) >= count

    def wait_step(self, above: int, timeout: float) -> float | None:
        """Seconds until a pushed frame shows a step above `above` (None: not within)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.frames.steps and self.frames.steps[-1] > above:
                return time.monotonic() - started
            time.sleep(0.005)
        return None

    def unsubscribe(self) -> None:
        self._push_stop.set()
        if self._push_thread is not None:
            self._push_thread.join(5)

    def close(self) -> None:
        self.unsubscribe()
        try:
            self._ws.close()
        except Exception:  # noqa: BLE001 - closing anyway
            pass
