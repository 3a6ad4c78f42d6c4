"""bnnlab.push: the binary frame format, tokens bound to a session and a browser, the fair-share
pacing and priority, and the pump that computes a session's frames inside the slots."""

from __future__ import annotations

import base64
import threading
import time

import numpy as np
import pytest

from bnnlab.lessons import playground
from bnnlab.live import frames, push, scheduler, wire
from bnnlab.training.config import TrainConfig

TINY = TrainConfig(num_points=40, hidden=(4,), num_samples=2, steps=40, steps_per_chunk=5,
                   grid_size=12)


def test_pack_frame_moves_base64_fields_to_raw_bytes_and_round_trips():
    """Binary fields arrive as the bytes their base64 encoded; the rest of the payload as is."""
    grid = np.linspace(0, 1, 12).reshape(3, 4)
    payload = {"mean": wire.encode_grid(grid, 1.0), "step": 7, "frame_id": "3-9",
               "train": wire.points_payload(np.zeros((2, 2), np.float32), np.array([0, 1])),
               "boundaries": {"q": base64.b64encode(b"\x01\x02").decode(), "n": 0}}
    message = push.pack_frame(payload, "training", 5)
    assert message[:4] == push.MAGIC
    frame = push.unpack_frame(message)
    assert frame["status"] == "training" and frame["seq"] == 5
    body = frame["payload"]
    assert body["mean"] == base64.b64decode(payload["mean"])
    assert body["boundaries"]["q"] == b"\x01\x02" and body["boundaries"]["n"] == 0
    assert body["train"]["x"] == base64.b64decode(payload["train"]["x"])
    assert body["train"]["c"] == "01" and body["step"] == 7 and body["frame_id"] == "3-9"
    assert isinstance(payload["mean"], str)  # the session's cached payload is not mutated
    assert isinstance(payload["train"]["x"], str)


def test_pack_frame_without_payload_carries_the_status():
    """A failed drawing still tells the browser the status."""
    assert push.unpack_frame(push.pack_frame(None, "error", 0))["payload"] is None


def test_unpack_refuses_other_bytes():
    with pytest.raises(ValueError):
        push.unpack_frame(b"garbage!")


def test_frame_interval_full_rate_alone_budgeted_when_others_wait():
    """Alone a session draws at display rate; while others queue, drawing is at most
    CONTENDED_FRAME_SHARE of its time."""
    assert push.frame_interval(0.2, 0) == push.MIN_FRAME_INTERVAL_S
    assert push.frame_interval(0.2, 3) == pytest.approx(0.2 / push.CONTENDED_FRAME_SHARE)
    assert push.frame_interval(0.0001, 1) == push.MIN_FRAME_INTERVAL_S


def test_metrics_refresh_less_often_only_while_others_wait():
    assert push.refresh_interval(0) == frames.REFRESH_S
    assert push.refresh_interval(2) == push.CONTENDED_REFRESH_S > frames.REFRESH_S


def test_priority_waiter_gets_the_next_slot_before_earlier_waiters():
    """Fair share: a first chunk/frame after Train (priority) waits for the running work only,
    not behind every session queued before it."""
    slots = scheduler.Slots(1)
    order: list[str] = []
    release = threading.Event()

    def holder():
        with slots.hold(5):
            release.wait(5)

    def waiter(name: str, priority: bool):
        with slots.hold(5, priority=priority):
            order.append(name)

    first = threading.Thread(target=holder)
    first.start()
    threads = []
    for name, prio in (("plain1", False), ("plain2", False), ("prio", True)):
        t = threading.Thread(target=waiter, args=(name, prio))
        t.start()
        threads.append(t)
        assert slots.wait_for_waiting(len(threads), 5)
    release.set()
    for t in [first, *threads]:
        t.join(5)
    assert order == ["prio", "plain1", "plain2"]


def test_the_session_with_least_recent_slot_time_goes_first():
    """Fair share: when a slot frees, a light session's chunk goes before a heavy session's
    that queued earlier (both plain, not priority); without accounts it stays first come."""
    slots = scheduler.Slots(1)
    with slots.hold(1, account="heavy"):
        time.sleep(0.3)  # the heavy account has used the slot for a while
    assert slots.usage("heavy") > 0.2 and slots.usage("light") == 0.0
    order: list[str] = []
    release = threading.Event()
    held = threading.Event()

    def holder():
        with slots.hold(5):
            held.set()
            release.wait(5)

    def waiter(name: str):
        with slots.hold(5, account=name):
            order.append(name)

    threading.Thread(target=holder).start()
    held.wait(5)
    threads = []
    for name in ("heavy", "light"):
        thread = threading.Thread(target=waiter, args=(name,))
        thread.start()
        threads.append(thread)
        assert slots.wait_for_waiting(len(threads), 5)
    release.set()
    for thread in threads:
        thread.join(5)
    assert order == ["light", "heavy"]


def test_short_work_takes_the_short_lane_without_queueing():
    """Fair share: with every slot held by long work, work expected to be short runs at once
    in the short lane (one place), longer or unestimated work waits."""
    slots = scheduler.Slots(1, short_capacity=1)
    with slots.hold(1):
        with slots.hold(0.05, cost_s=scheduler.SHORT_WORK_S / 2):
            with pytest.raises(scheduler.SlotTimeout):  # the lane is full now
                with slots.hold(0.05, cost_s=0.001):
                    pass
        for cost in (None, scheduler.SHORT_WORK_S * 2):
            with pytest.raises(scheduler.SlotTimeout):
                with slots.hold(0.05, cost_s=cost):
                    pass
    assert slots.in_use() == 0


class _Alive:
    def __init__(self) -> None:
        self.value = True

    def __call__(self) -> bool:
        return self.value


def test_tokens_are_unguessable_stable_per_session_and_expire_with_it():
    hub = push.Hub()
    alive = _Alive()
    owner_a, owner_b = object(), object()
    sub = hub.issue("sid-a", owner_a, alive)
    assert len(sub.token) >= 43  # 256 bits, url-safe base64
    assert hub.issue("sid-a", owner_a, alive) is sub
    other = hub.issue("sid-b", owner_b, lambda: True)
    assert other.token != sub.token
    assert hub.find(sub.token) is sub and hub.find(other.token) is other
    for bad in ("", "x" * 500, None, 42, sub.token[:-1], sub.token + "A"):
        assert hub.find(bad) is None
    alive.value = False  # the Streamlit session ended
    assert hub.find(sub.token) is None
    alive.value = True  # and its token stays dead
    assert hub.find(sub.token) is None
    assert hub.issue("sid-a", owner_a, alive).token != sub.token


def test_a_token_bound_to_a_browser_is_refused_elsewhere():
    """A token copied into another browser (another XSRF cookie, or none) is refused."""
    hub = push.Hub()
    sub = hub.issue("sid", object(), lambda: True, binding="cookie-digest-a")
    assert hub.find(sub.token, "cookie-digest-a") is sub
    assert hub.find(sub.token, "cookie-digest-b") is None
    assert hub.find(sub.token) is None


def test_issuing_sweeps_ended_sessions_so_their_objects_can_be_freed(monkeypatch):
    """A closed tab's Session is not kept alive by its subscription."""
    import gc
    import weakref

    class Live:
        pass

    hub = push.Hub()
    alive = _Alive()
    live = Live()
    ref = weakref.ref(live)
    hub.issue("gone", live, alive)
    del live
    alive.value = False
    monkeypatch.setattr(push, "SWEEP_EVERY_S", 0.0)
    hub.issue("other", object(), lambda: True)
    gc.collect()
    assert ref() is None and len(hub) == 1


def test_sweep_forgets_ended_sessions():
    hub = push.Hub()
    alive = _Alive()
    for k in range(5):
        hub.issue(f"sid{k}", object(), alive)
    alive.value = False
    assert hub.sweep() == 5 and len(hub) == 0


# ---------------------------------------------------------------------------- the pump
@pytest.fixture(scope="module")
def two_sessions():
    slots = scheduler.Slots(2)
    a = playground.Session(TINY, slots=slots)
    b = playground.Session(TINY.replace(seed=5, dataset="circles"), slots=slots)
    yield a, b, slots
    a.close()
    b.close()


def _collect(sub: push.Subscription, count: int, timeout: float = 60.0) -> list[dict]:
    """The first `count` frames the subscription's pump sends (fewer only on a timeout): once it
    has them, the receiver refuses more and the pump ends."""
    frames: list[dict] = []
    done = threading.Event()

    def emit(message: bytes) -> bool:
        if len(frames) >= count:
            return False
        frames.append(push.unpack_frame(message))
        if len(frames) >= count:
            done.set()
        return True

    pump = sub.attach(emit)
    done.wait(timeout)
    sub.detach(pump)
    pump.join(5)
    return frames


@pytest.mark.slow
def test_each_stream_carries_only_its_own_sessions_frames(two_sessions):
    a, b, slots = two_sessions
    hub = push.Hub()
    sub_a = hub.issue("sid-a", a, lambda: True)
    sub_b = hub.issue("sid-b", b, lambda: True)
    got_a, got_b = _collect(sub_a, 1), _collect(sub_b, 1)
    assert got_a and got_b
    assert all(f["payload"]["frame_id"].startswith(f"{a.run.serial}-") for f in got_a)
    assert all(f["payload"]["frame_id"].startswith(f"{b.run.serial}-") for f in got_b)
    train_a = np.frombuffer(got_a[0]["payload"]["train"]["x"], "<f4")
    assert np.allclose(train_a, a.run.data.x_train[:, 0])


def test_pump_sends_new_frames_while_training_and_stops_with_its_session(two_sessions):
    a, _, slots = two_sessions
    alive = _Alive()
    sub = push.Hub().issue("sid", a, alive)
    a.apply(a.cfg.replace(steps=100_000))  # never finishes within the test
    a.train()
    frames = _collect(sub, 3)
    a.pause()
    steps = [f["payload"]["step"] for f in frames]
    assert len(frames) == 3 and steps == sorted(steps) and steps[-1] > steps[0]
    pump = sub.attach(lambda m: True)
    alive.value = False
    pump.join(5)
    assert not pump.running


def test_pump_computes_frames_inside_the_slots(two_sessions):
    """No slot, no frame: frames share the accelerator's slots with every chunk (here without
    a short lane, which a light session's frames may take: see the short-lane test)."""
    a, _, _ = two_sessions
    slots = scheduler.Slots(1)  # no short lane (the server's pool has one)
    sub = push.Hub().issue("sid", a, lambda: True, slots=slots)
    got: list[bytes] = []
    release = threading.Event()
    held = threading.Event()

    def hog():
        with slots.hold(5):
            held.set()
            release.wait(10)

    threading.Thread(target=hog, daemon=True).start()
    held.wait(5)
    arrived = threading.Event()

    def receive(message: bytes) -> bool:
        got.append(message)
        arrived.set()
        return True

    pump = sub.attach(receive)
    assert slots.wait_for_waiting(1, 30)  # the frame waits for the slot the hog holds
    assert got == [] and slots.waiting() == 1
    release.set()
    assert arrived.wait(30)
    sub.detach(pump)
    assert got
