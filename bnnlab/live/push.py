"""Frames pushed to the browser when a chunk finishes, instead of polled through reruns.

* `pack_frame` / `unpack_frame`: one binary message per frame (`ui/live_push.js` reads it): a
  JSON header with the large base64 fields of `Session.tick`'s payload moved, as raw bytes,
  behind it (uint8 maps, float32 points, uint16 boundary segments: `bnnlab.wire`).
* `Hub`: subscriptions. A page asks for one per learner session (`issue`): an unguessable
  token (256 bits, `secrets`) bound to that Session object and to a liveness check (its
  Streamlit session still connected). A connection presents the token; `find` returns the
  subscription only while its owner lives, so a token expires with its session.
* `Pump`: one thread per connected subscription. It waits for the session's next chunk (or a
  change of view or status), computes the frame inside a slot of the session's `scheduler.Slots`
  (the same slots training takes, so frames share the server fairly with every chunk), and hands
  the packed bytes to the connection, which sends only the latest (stale frames are dropped,
  never queued).

Fair share: frames and chunks of one session are charged to one account (its run)
in the slots, and waiters are served least-recent-usage first (`Slots.hold(account=...)`), so a
light session is not queued behind every heavy session's next chunk and frame; a session's
first chunk and first frame after Train go before all of them (`priority`), so they wait only
for the work already running. While others wait for a slot, a session's frames are spaced so
that drawing takes at most `CONTENDED_FRAME_SHARE` of its time (`frame_interval`) and its
metrics refresh every `CONTENDED_REFRESH_S`; alone it draws at full rate. Chunks and frames
expected to take at most `scheduler.SHORT_WORK_S` (a light session's) take the slots' short lane
and never queue behind a heavy session's multi-second work. The library never imports
Streamlit: the route is `ui/push_route.py`.
"""

from __future__ import annotations

import json
import secrets
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from bnnlab.live import scheduler
from bnnlab.live.status import LIVE

MAGIC = b"BNF1"
TOKEN_BYTES = 32  # 256 bits: `secrets.token_urlsafe(32)` is 43 characters
MAX_TOKEN_CHARS = 64  # a longer first message is not a token (refused unread)
# Payload fields sent as raw bytes (base64 strings in `Session.tick`'s payload): dotted paths.
BINARY_FIELDS = ("mean", "uncertainty", "boundaries.q", "train.x", "train.y", "test.x",
                 "test.y", "history.step", "history.elbo", "history.ell", "history.neg_kl",
                 "far_probes.mask")
MIN_FRAME_INTERVAL_S = 1 / 60  # never more frames than a display shows
# While others wait for a slot, frames take at most this share of a session's time. Frames are
# charged to the session's own account in the slots, so a larger share slows only its own
# training (the measured trade-off: docs/BENCHMARKS.md, "Fair share").
CONTENDED_FRAME_SHARE = 0.5
CONTENDED_REFRESH_S = 2.0  # metrics/history refresh while others wait for a slot
IDLE_POLL_S = 0.25  # how often an idle pump re-checks liveness, status and view
SWEEP_EVERY_S = 10.0  # `Hub.issue` forgets ended sessions (and frees their Session) this often
SLOT_WAIT_S = 60.0  # a frame keeps its place in the slots' queue this long


# ---------------------------------------------------------------------------- wire format
def pack_frame(payload: dict | None, status: str, seq: int) -> bytes:
    """`payload` (`Session.tick`'s, or None when drawing failed) and `status` as one binary
    message: b"BNF1", uint32 LE header length, JSON header, then the raw bytes of the
    `BINARY_FIELDS` (each replaced in the header by {"$b": [offset, length]} into them)."""
    import base64

    header: dict[str, Any] = {"status": status, "seq": seq,
                              "payload": None if payload is None else dict(payload)}
    blobs: list[bytes] = []
    offset = 0
    if payload is not None:
        body = header["payload"]
        for path in BINARY_FIELDS:
            *parents, leaf = path.split(".")
            holder = body
            for name in parents:
                child = holder.get(name) if isinstance(holder, dict) else None
                if not isinstance(child, dict):
                    holder = None
                    break
                holder[name] = child = dict(child)  # never mutate the session's cached frame
                holder = child
            if not isinstance(holder, dict) or not isinstance(holder.get(leaf), str):
                continue
            raw = base64.b64decode(holder[leaf])
            holder[leaf] = {"$b": [offset, len(raw)]}
            blobs.append(raw)
            offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    return MAGIC + struct.pack("<I", len(text)) + text + b"".join(blobs)


def unpack_frame(message: bytes) -> dict:
    """Inverse of `pack_frame` (tests, load clients): the header with each binary field as
    `bytes`."""
    if message[:4] != MAGIC or len(message) < 8:
        raise ValueError("not a frame")
    (size,) = struct.unpack("<I", message[4:8])
    header = json.loads(message[8:8 + size])
    blob = message[8 + size:]

    def restore(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"$b"}:
                start, length = node["$b"]
                return blob[start:start + length]
            return {k: restore(v) for k, v in node.items()}
        return node

    return restore(header)


def frame_interval(cost_s: float, others_waiting: int) -> float:
    """Seconds between a session's frames, given the last frame's cost: alone, as fast as a
    display shows; while `others_waiting` sessions queue for a slot, long enough that drawing
    takes at most `CONTENDED_FRAME_SHARE` of the session's time. The slots' fair share charges
    frames to the session's own account, so its drawing slows only its own training."""
    if others_waiting <= 0:
        return MIN_FRAME_INTERVAL_S
    return max(MIN_FRAME_INTERVAL_S, cost_s / CONTENDED_FRAME_SHARE)


def refresh_interval(others_waiting: int) -> float:
    """How often a training session's metrics and objective history refresh: as the page
    always did alone (`frames.REFRESH_S`), every `CONTENDED_REFRESH_S` while others wait."""
    from bnnlab.live import frames

    return frames.REFRESH_S if others_waiting <= 0 else CONTENDED_REFRESH_S


# ---------------------------------------------------------------------------- subscriptions
class Subscription:
    """One learner session's stream: its token, Session, liveness check and current view."""

    def __init__(self, token: str, owner: str, session: Any, alive: Callable[[], bool],
                 slots: scheduler.Slots | None = None, binding: str | None = None) -> None:
        self.token = token
        self.owner = owner
        self.binding = binding  # the browser's own secret (a digest of a cookie), if any
        self.session = session
        self._alive = alive
        self.slots = slots or getattr(session, "slots", None) or scheduler.ACCELERATOR
        self.view: Any = None  # a `frames.View`; None: the session's default
        self.poke = threading.Event()  # the view, a button or a click changed something
        self.resend = threading.Event()  # the page asked for the current frame and status
        self.revoked = False
        self._lock = threading.Lock()
        self._pump: Pump | None = None

    def alive(self) -> bool:
        if self.revoked:
            return False
        try:
            return bool(self._alive())
        except Exception:  # noqa: BLE001 - a failing check is a dead session
            return False

    def set_view(self, view: Any) -> None:
        if view != self.view:
            self.view = view
        self.poke.set()

    def resync(self) -> None:
        """Send the current frame (with the current status) again, changed or not: the page
        asks when its buttons changed, since a status pushed before then reached it too early
        to count (`ui/live_push.js`)."""
        self.resend.set()
        self.poke.set()

    def attach(self, emit: Callable[[bytes], bool]) -> Pump:
        """Start pumping frames to `emit` (returns False once the receiver is gone); a previous
        receiver of this subscription is detached (one stream per session)."""
        with self._lock:
            if self._pump is not None:
                self._pump.stop()
            self._pump = Pump(self, emit)
            self._pump.start()
            return self._pump

    def detach(self, pump: Pump) -> None:
        with self._lock:
            pump.stop()
            if self._pump is pump:
                self._pump = None

    @property
    def pumping(self) -> bool:
        pump = self._pump
        return pump is not None and pump.running


class Hub:
    """Tokens for sessions' streams. Thread-safe; entries of dead sessions are swept."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._by_token: dict[str, Subscription] = {}
        self._by_owner: dict[tuple[str, int], Subscription] = {}
        self.max_entries = max_entries
        self._swept = time.monotonic()

    def issue(self, owner: str, session: Any, alive: Callable[[], bool],
              slots: scheduler.Slots | None = None,
              binding: str | None = None) -> Subscription:
        """The subscription of `session` owned by `owner` (a Streamlit session id): the same
        one on every call while it lives, a new token otherwise. With `binding` (a secret of
        the owner's browser, e.g. a digest of its XSRF cookie) `find` wants it too."""
        key = (owner, id(session))
        with self._lock:
            now = time.monotonic()
            if now - self._swept > SWEEP_EVERY_S:  # let ended sessions' objects go
                self._swept = now
                self._sweep_locked()
            sub = self._by_owner.get(key)
            if sub is not None and sub.session is session and sub.binding == binding \
                    and sub.alive():
                return sub
            if len(self._by_token) >= self.max_entries:
                self._sweep_locked()
            token = secrets.token_urlsafe(TOKEN_BYTES)
            sub = Subscription(token, owner, session, alive, slots, binding)
            self._by_token[token] = sub
            self._by_owner[key] = sub
            return sub

    def find(self, token: Any, binding: str | None = None) -> Subscription | None:
        """The live subscription of `token`, else None (unknown, malformed, expired, or bound
        to another browser than the one presenting `binding`: an expired one is removed)."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
            return None
        with self._lock:
            sub = self._by_token.get(token)
        if sub is None or not secrets.compare_digest(sub.token, token):
            return None
        if sub.binding is not None and not (
                binding is not None and secrets.compare_digest(sub.binding, binding)):
            return None
        if not sub.alive():
            self.revoke(token)
            return None
        return sub

    def revoke(self, token: str) -> None:
        with self._lock:
            sub = self._by_token.pop(token, None)
            if sub is not None:
                sub.revoked = True
                if self._by_owner.get((sub.owner, id(sub.session))) is sub:
                    del self._by_owner[(sub.owner, id(sub.session))]

    def sweep(self) -> int:
        """Remove the subscriptions whose sessions ended; returns how many."""
        with self._lock:
            return self._sweep_locked()

    def _sweep_locked(self) -> int:
        dead = [t for t, s in self._by_token.items() if not s.alive()]
        for token in dead:
            sub = self._by_token.pop(token)
            sub.revoked = True
            self._by_owner.pop((sub.owner, id(sub.session)), None)
        return len(dead)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_token)


# ---------------------------------------------------------------------------- the pump
class Pump:
    """Computes a subscription's frames on its own thread and hands them to `emit`."""

    def __init__(self, sub: Subscription, emit: Callable[[bytes], bool]) -> None:
        self.sub = sub
        self.emit = emit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bnnlab-push", daemon=True)
        self.frames = 0
        self.compute_s = 0.0  # time spent computing frames (inside slots)
        self.error: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.sub.poke.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _expected_cost(self, costs: list[float]) -> float | None:
        """What the next frame should cost, for the slots' short lane: the cheapest recent
        frame (measured times stretch while heavy sessions hold the cores), at most twice the
        session's modelled frame (`cost.frame_cost`); the model alone before the first frame.
        A frame is not a chunk: a run of one step a chunk may still draw a five-second map."""
        model = getattr(self.sub.session, "expected_frame_s", None)
        if not costs:
            return model
        return min(costs) if model is None else min(min(costs), 2 * model)

    def _signature(self) -> tuple:
        live = self.sub.session
        run = live.run
        return (run.serial, run.snapshot.serial, run.data_version, self.sub.view,
                str(live.status), live.message, len(live.added), live.probe is not None)

    def _loop(self) -> None:
        from bnnlab.live.frames import View  # frames import JAX: keep this module light

        stop, sub = self._stop, self.sub
        sent: tuple | None = None
        costs: list[float] = []
        last_status = None
        next_at = 0.0
        try:
            while not stop.is_set():
                if not sub.alive():
                    break
                live = sub.session
                live.trainer.touch()  # a connected viewer keeps its trainer alive
                sig = self._signature()
                if sig == sent and not sub.resend.is_set():
                    run = live.run
                    if live.trainer.running:
                        run.wait_for_step_after(run.step, timeout=IDLE_POLL_S)
                    else:
                        sub.poke.wait(IDLE_POLL_S)
                    sub.poke.clear()
                    continue
                delay = next_at - time.monotonic()
                if delay > 0 and stop.wait(delay):
                    break
                view = sub.view or View()
                # The first frame after Train (or of a stream) jumps the slot queue.
                priority = last_status not in LIVE
                try:
                    # Keep the place in the queue while waiting (re-queueing starves).
                    started = time.monotonic()
                    with sub.slots.hold(SLOT_WAIT_S, priority=priority,
                                        account=id(live.run),  # the trainer's account
                                        cost_s=self._expected_cost(costs),
                                        give_up=lambda: stop.is_set() or not sub.alive()):
                        began = time.perf_counter()
                        sub.resend.clear()
                        sig = self._signature()
                        payload, status = live.tick(view, wait_s=0.0)
                        cost = time.perf_counter() - began
                except scheduler.SlotTimeout:
                    continue
                self.compute_s += cost
                costs = (costs + [cost])[-8:]  # a light session's frames take the short lane
                message = pack_frame(payload, str(status), self.frames)
                if not self.emit(message):
                    break
                self.frames += 1
                sent = sig
                last_status = str(status)
                waiting = sub.slots.waiting()
                # Paced from this frame's start: alone, a frame every display refresh at most
                # (its own cost included, not added to the wait).
                next_at = started + frame_interval(cost, waiting)
                # The metrics row (~20 ms) and the objective's history refresh less often
                # while others wait for a slot.
                live.refresh_s = refresh_interval(waiting)
        except Exception as err:  # noqa: BLE001 - the stream ends; the page's path remains
            self.error = f"{type(err).__name__}: {err}"
        finally:
            stop.set()
            if hasattr(sub.session, "refresh_s"):
                sub.session.refresh_s = refresh_interval(0)
