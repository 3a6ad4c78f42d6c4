"""bnnlab.session: the resumable run and its snapshots, the chunk loop sized by time, the
background trainer and its slots, the live Session (apply / click / tick / status), and a
regression test for each race of issue 13."""

from __future__ import annotations

import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bnnlab import registry
from bnnlab.core import contour, limits, predict
from bnnlab.lessons import playground
from bnnlab.live import frames, scheduler, wire
from bnnlab.live import run as run_module
from bnnlab.live.run import Run
from bnnlab.live.status import Status
from bnnlab.live.trainer import Trainer
from bnnlab.training import config, cost, engine
from bnnlab.training.config import TrainConfig

CFG = TrainConfig(num_points=120, hidden=(8,), num_samples=2, steps_per_chunk=10, steps=35,
                  grid_size=16)


@pytest.fixture
def run():
    return Run(CFG, playground.build_data(CFG))


def _finish(trainer: Trainer, timeout: float = 120) -> None:
    """Wait for the trainer's thread to end (it stops by itself at the budget)."""
    thread = trainer._thread
    assert thread is not None
    thread.join(timeout)
    assert not thread.is_alive()


# ---------------------------------------------------------------- Run
@pytest.mark.parametrize("method, fitted_at_the_end", [("laplace", True), ("map", False)])
def test_the_laplace_fit_runs_by_itself_only_on_a_laplace_run(method, fitted_at_the_end):
    """What Laplace's text says: a Laplace run fits its Gaussian by itself when its training
    ends; a MAP run ends as one network, waiting for *Make this network Bayesian*."""
    cfg = CFG.replace(method=method)
    finished = Run(cfg, playground.build_data(cfg))
    while finished.advance():
        pass
    assert finished.step == cfg.steps
    details = finished.fit_details()
    assert bool(details and details["fitted"]) is fitted_at_the_end
    assert "A MAP run waits for this button" in registry.method("laplace").fit.before


def test_advance_stops_at_the_step_budget(run):
    """Chunks of 10 with a budget of 35 stop at exactly 35 steps, then do nothing."""
    while run.advance():
        pass
    assert run.step == 35 and run.finished
    assert len(run.history_arrays()[0]) == 35


def test_live_settings_do_not_reset_or_recompile(run):
    """lr, β and prior σ apply to a running run without resetting it or retracing."""
    run.advance()
    key = ("run_chunk", run.engine.static)
    traced = engine.TRACE_COUNTS[key]
    run.update_hyper(CFG.replace(lr=0.003, kl_weight=0.001, prior_std=0.5))
    run.advance()
    assert run.step == 20 and engine.TRACE_COUNTS[key] == traced
    assert float(run.hyper.learning_rate) == pytest.approx(0.003)


def test_set_data_keeps_the_parameters(run):
    """Adding a point swaps the data but keeps the learned parameters and the step."""
    run.advance()
    mean = np.asarray(run.state.method_state.mean)
    run.set_data(playground.build_data(CFG, [(0.0, 0.0, 1)]))
    np.testing.assert_array_equal(run.state.method_state.mean, mean)
    assert int(jnp.sum(run.batch.mask)) == len(run.data.x_train)
    assert run.advance() == 10


def test_frame_payload(run):
    """A frame has the grids, 10 samples' boundaries for VI, points and the history."""
    run.advance()
    frame = frames.frame(run, 16, 1.0, "epistemic")
    assert frame["grid"]["nx"] == 16 and frame["step"] == 10
    mean = wire.decode_grid(frame["mean"], (16, 16), 1.0)
    assert 0 <= mean.min() and mean.max() <= 1
    segments = wire.decode_segments(frame["boundaries"])
    assert segments.shape == (frame["boundaries"]["n"], 4) and len(segments) > 0
    box = frame["boundaries"]
    assert box["x0"] <= segments[:, 0].min() and segments[:, 2].max() <= box["x1"]
    assert frame["train"]["n"] == len(run.data.x_train) == len(frame["train"]["c"])
    np.testing.assert_array_equal(wire.decode_floats(frame["train"]["x"]),
                                  run.data.x_train[:, 0])
    assert frame["train"]["c"] == "".join(str(int(c)) for c in run.data.y_train)
    elbo, _, _ = run.history_arrays()
    history = frames.history_payload(run)
    n = len(run.data.x_train)  # the chart is in nats per training point
    assert history["per_point"] == n
    np.testing.assert_allclose(wire.decode_floats(history["elbo"]), elbo / n, rtol=1e-6)
    np.testing.assert_array_equal(wire.decode_floats(history["step"]), np.arange(1, 11))
    assert history["last_step"] == 10 and "history" not in frame


@pytest.mark.slow
@pytest.mark.parametrize("changes", [{}, {"dataset": "spiral", "num_classes": 3},
                                     {"method": "laplace"}],
                         ids=["vi-binary", "vi-3-classes", "laplace"])
def test_one_call_frame_equals_its_parts_computed_apart(changes):
    """The frame's one compiled call (`engine.frame`: predictive, split, boundary contours)
    gives what the separate functions give: `predictive_summary` on the grid, and
    `contour.segments` of each of the ten boundary draws' fields (binary P(y=1); K classes one
    field per class), as the same set of segments up to the wire's uint16 quantisation."""
    cfg = CFG.replace(**changes)
    run = Run(cfg, playground.build_data(cfg))
    run.advance()
    if run.can_fit:
        run.fit_posterior()
    frame = frames.frame(run, 16, 1.0, "epistemic")
    snap = run.snapshot
    every = np.concatenate([run.data.x_train, run.data.x_test])
    xs, ys, grid = predict.make_grid(every, 16, margin=0.5)
    pred, _ = predict.summary_parts(run.engine.predictive_summary(
        run.display_key, snap.state, grid, predict.MAP_SAMPLES), run.num_classes)
    vmax = float(np.log(run.num_classes))
    np.testing.assert_array_equal(frame["uncertainty"],
                                  wire.encode_grid(pred.epistemic.reshape(16, 16), vmax))
    np.testing.assert_allclose(wire.decode_grid(frame["mean"], (16, 16), 1.0),
                               pred.mean.reshape(16, 16), atol=1 / 255)
    bx, by, bgrid = predict.make_grid(every, frames.BOUNDARY_GRID, margin=0.5)
    probs = run.sample_probs(bgrid, frames.NUM_BOUNDARY_SAMPLES, run.boundary_key, snap)
    fields = contour.boundary_fields(probs).reshape(-1, len(by), len(bx))
    sx, sy = contour.segments(fields, float(bx[0]), float(bx[1] - bx[0]), float(by[0]),
                              float(by[1] - by[0]))
    apart = wire.decode_segments(wire.encode_segments(sx, sy, (bx[0], bx[-1], by[0], by[-1])))
    together = wire.decode_segments(frame["boundaries"])
    assert len(apart) > 0 and together.shape == apart.shape
    tolerance = 3 * max(bx[-1] - bx[0], by[-1] - by[0]) / 65535
    gap = np.abs(together[:, None, :] - apart[None, :, :]).max(axis=-1)
    assert gap.min(axis=1).max() <= tolerance and gap.min(axis=0).max() <= tolerance


@pytest.mark.slow
def test_map_frame_has_zero_epistemic_and_no_sample_boundaries():
    """For MAP the epistemic map is exactly zero and no posterior-sample boundaries are drawn."""
    cfg = CFG.replace(method="map")
    run = Run(cfg, playground.build_data(cfg))
    run.advance()
    frame = frames.frame(run, 16, 1.0, "epistemic")
    assert wire.decode_grid(frame["uncertainty"], (16, 16), 1.0).max() == 0
    assert frame["boundaries"]["n"] == 0


def test_zoom_widens_the_grid(run):
    """Zoom 4 spans four times the width."""
    a = frames.frame(run, 16, 1.0, "total")["grid"]
    b = frames.frame(run, 16, 4.0, "total")["grid"]
    assert b["dx"] == pytest.approx(4 * a["dx"], rel=1e-5)


def test_probe_gives_one_probability_per_posterior_sample(run):
    """Probing a point returns 64 probabilities in [0, 1]."""
    probs = run.probe(0.1, 0.2)
    assert probs.shape == (64,) and np.all((probs >= 0) & (probs <= 1))


def test_frame_is_reused_until_something_changes(run):
    """Asked again with nothing changed, `frame` returns the same frame (same `frame_id`)
    without computing; a new chunk, another uncertainty kind or new data give a new one."""
    first = frames.frame(run, 16, 1.0, "total")
    again = frames.frame(run, 16, 1.0, "total")
    assert again == first and again is not first  # a copy: the page adds its own keys
    assert frames.frame(run, 16, 1.0, "epistemic")["frame_id"] != first["frame_id"]
    run.advance()
    after = frames.frame(run, 16, 1.0, "total")
    assert after["frame_id"] != first["frame_id"] and after["step"] == first["step"] + 10
    run.set_data(playground.build_data(run.cfg, [(0.1, 0.2, 1)]))
    moved = frames.frame(run, 16, 1.0, "total")
    assert moved["data_version"] != after["data_version"]
    assert moved["train"]["n"] == after["train"]["n"] + 1


def test_metrics_are_predict_evaluate(run):
    """The live metrics are `predict.evaluate` of the published state (the CLI's definition,
    far probes from `predict.far_probe_points`), plus the step and snapshot they belong to,
    and the reliability bins behind their ECE."""
    run.advance()
    metrics = run.metrics()
    reference = predict.evaluate(run.engine, run.state, run.data, run.display_key)
    bins = metrics.pop("reliability")
    assert metrics == {"step": 10, "serial": run.snapshot.serial, **reference._asdict()}
    assert np.isfinite(metrics["entropy_far"]) and np.isfinite(metrics["epistemic_far_se"])
    # ECE is the count-weighted distance of the bins from the diagonal
    count = np.array(bins["count"])
    gap = np.abs(np.array([a - c if n else 0.0 for a, c, n in zip(
        bins["accuracy"], bins["confidence"], bins["count"], strict=True)]))
    assert (count * gap).sum() / count.sum() == pytest.approx(metrics["ece"], abs=1e-12)


def test_chunks_are_sized_by_time(run, monkeypatch):
    """After a warm chunk of 10 steps that took 2 s, the next asks for 10 · 0.5 / 2 = 2 steps
    (`num_steps` is traced: no recompile); a fast chunk asks for the whole `steps_per_chunk`."""
    run.advance()  # compiles
    clock = iter([100.0, 102.0, 200.0, 200.001])
    monkeypatch.setattr(run_module.time, "perf_counter", lambda: next(clock))
    key = ("run_chunk", run.engine.static)
    traced = engine.TRACE_COUNTS[key]
    assert run.advance() == 10 and run.next_steps == 2
    assert run.advance() == 2 and run.next_steps == 10
    assert engine.TRACE_COUNTS[key] == traced


@pytest.mark.slow
def test_a_slow_step_gives_short_chunks_from_the_first(monkeypatch):
    """With a cost model that makes a step slow (0.1 s modelled), the run's first chunk asks
    for `cost.max_steps_per_chunk_for` = 5 steps of its 10-step engine, and takes exactly
    those (a chunk of n steps runs n steps; no compile of another engine)."""
    monkeypatch.setitem(cost.ASSUMED_FLOPS_PER_S, jax.default_backend(), 1.0)
    monkeypatch.setattr(cost, "STEP_OVERHEAD_S", 0.0)
    monkeypatch.setattr(limits, "MAX_RUN_SECONDS", 1e12)
    cfg = CFG.replace(steps_per_chunk=10)
    data = playground.build_data(cfg)
    flops = cost.chunk_cost(cfg, len(data.x_train)).step_flops
    monkeypatch.setitem(cost.ASSUMED_FLOPS_PER_S, jax.default_backend(), flops / 0.1)
    limit = cost.max_steps_per_chunk_for(cfg, len(data.x_train))
    assert 1 < limit < 10  # 0.5 s of 0.1-s steps
    run = Run(cfg, data)
    assert run.engine.static.steps_per_chunk == limit and run.notices  # the budget shortened it
    assert run.next_steps == limit
    assert run.advance() == limit and run.step == limit
    assert run.advance(max_steps=1) == 1 and run.step == limit + 1
    assert run.history_arrays()[0].shape == (limit + 1,)


# ---------------------------------------------------------------- races (issue 13)
@pytest.mark.slow
def test_every_frame_and_its_metrics_belong_to_one_step():
    """Frames read while a trainer publishes chunks: each frame's metrics equal the metrics of
    the state published at that frame's step (a reader never mixes two states)."""
    cfg = CFG.replace(steps=100_000, steps_per_chunk=3)
    run = Run(cfg, playground.build_data(cfg))
    states: dict[int, engine.TrainState] = {0: run.state}
    original = run.advance

    def recording_advance(max_steps=None):
        taken = original(max_steps)
        states[run.snapshot.step] = run.snapshot.state
        return taken

    run.advance = recording_advance
    trainer = Trainer(run, scheduler.Slots(1, "test"))
    trainer.start()
    seen = []
    try:
        while len({f for f, _ in seen}) < 6:
            snap = run.snapshot
            frame = frames.frame(run, 12, 1.0, "total", snap)
            seen.append((frame["step"], run.metrics(snap)))
    finally:
        trainer.stop()
    for step, metrics in seen:
        assert metrics["step"] == step
        reference = Run(cfg, run.data)
        reference.snapshot = reference.snapshot._replace(state=states[step], step=step,
                                                         serial=-step - 1)
        assert {**reference.metrics(), "serial": None} == {**metrics, "serial": None}


def test_start_after_a_stop_that_outlived_its_join_resumes_training():
    """stop() during a chunk longer than its join timeout, then start(): training resumes
    (the old thread used to exit and leave training silently stopped)."""
    inside, release = threading.Event(), threading.Event()
    calls = []

    class SlowTarget:
        compiled = True
        finished = False

        def advance(self, max_steps=None):
            calls.append(threading.current_thread())
            if len(calls) == 1:
                inside.set()
                release.wait(30)
            return 1

    trainer = Trainer(SlowTarget(), scheduler.Slots(2, "test"), join_timeout=0.01)
    trainer.start()
    assert inside.wait(30)
    trainer.stop()  # returns after 0.01 s: the chunk is still running
    assert not trainer.running
    trainer.start()
    release.set()
    resumed = threading.Event()
    deadline = threading.Timer(30, resumed.set)
    deadline.start()
    while len(calls) < 5 and not resumed.is_set():
        resumed.wait(0.01)
    deadline.cancel()
    assert len(calls) >= 5 and trainer.running
    assert calls[-1] is not calls[0]  # the new thread trains; the old one ended
    trainer.stop()


@pytest.mark.slow
def test_a_new_architecture_compiles_once_inside_a_slot():
    """Two sessions with a new architecture warm up at once: the chunk is traced once, and
    only while a slot of the pool is held."""
    cfg = TrainConfig(num_points=40, hidden=(3, 7), num_samples=2, steps_per_chunk=7)
    slots = scheduler.Slots(1, "test")
    runs = [Run(cfg, playground.build_data(cfg)) for _ in range(2)]
    key = ("run_chunk", runs[0].engine.static)
    assert engine.TRACE_COUNTS[key] == 0  # an architecture no other test compiles
    with slots.hold(1.0):  # every slot busy: nobody compiles
        with pytest.raises(scheduler.SlotTimeout):
            runs[0].ensure_compiled(slots, timeout=0.05)
        assert engine.TRACE_COUNTS[key] == 0
    threads = [threading.Thread(target=r.ensure_compiled, args=(slots, 60)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert engine.TRACE_COUNTS[key] == 1 and all(r.compiled for r in runs)
    assert runs[0].step == 0 and runs[0].advance() == 7


def test_step_with_every_slot_busy_does_not_block_and_shows_waiting():
    """The Step button's chunk runs on the trainer thread: with every slot held the call
    returns at once, the status says waiting, and the step happens once a slot frees."""
    slots = scheduler.Slots(1, "test")
    s = playground.Session(CFG.replace(steps=1000), slots=slots)
    s.run.ensure_compiled(slots, 60)
    with slots.hold(1.0):
        s.step()  # must not wait for the slot
        seen = threading.Event()
        while not s.trainer.waiting:
            seen.wait(0.01)
        assert s.status == Status.WAITING and s.run.step == 0
    s.wait_for_step(60)
    assert s.run.step == 10 and s.status == Status.PAUSED


# ---------------------------------------------------------------- Trainer
def test_trainer_runs_in_the_background_until_the_budget(run):
    """A Trainer advances the run on its own thread and stops at the step budget."""
    trainer = Trainer(run)
    trainer.start()
    _finish(trainer)
    assert run.step == 35 and not trainer.running and trainer.error is None


def test_trainer_stops_on_request_and_when_its_session_goes_quiet():
    """stop() halts training; without touch() for idle_timeout seconds it halts by itself."""
    cfg = CFG.replace(steps=100_000)
    run = Run(cfg, playground.build_data(cfg))
    trainer = Trainer(run)
    trainer.start()
    assert run.wait_for_step_after(0, 60)
    trainer.stop()
    _finish(trainer)
    stopped = run.step
    assert not run.wait_for_step_after(stopped, 0.2) and run.step == stopped
    quiet = Trainer(run, idle_timeout=0.2)
    quiet.start()
    _finish(quiet, 30)
    assert not quiet.running


def test_a_resource_error_becomes_a_message(run):
    """An out-of-memory error inside a chunk stops the trainer with a message that says what
    to lower; the Session reports the error status."""

    def exhausted(*args, **kwargs):
        raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory allocating 51250280664 bytes")

    s = playground.Session(CFG)
    s.run.ensure_compiled()
    s.run.engine = s.run.engine._replace(run_chunk=exhausted)
    s.train()
    _finish(s.trainer)
    assert s.status == Status.ERROR
    assert "ran out of memory" in s.message and "Reset" in s.message
    assert "51250280664" not in s.message
    s.reset()
    assert s.status == Status.IDLE and s.message is None


def test_stopping_a_trainer_whose_thread_failed_to_start_does_not_raise(monkeypatch, run):
    """A trainer whose thread could not start can still be stopped (Pause/Reset must work)."""
    trainer = Trainer(run)

    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    with pytest.raises(RuntimeError, match="start new thread"):
        trainer.start()
    monkeypatch.undo()
    trainer.stop()
    assert not trainer.running


# ---------------------------------------------------------------- Session
def test_session_status_goes_idle_training_paused_finished():
    """The explicit status follows the buttons and the budget."""
    s = playground.Session(CFG)
    assert s.status == Status.IDLE
    s.step()
    s.wait_for_step(120)
    assert s.run.step == 10 and s.status == Status.PAUSED
    s.train()
    _finish(s.trainer)
    payload, status = s.tick()
    assert status == Status.FINISHED and payload["step"] == 35
    s.train()  # a finished run does not start again
    assert not s.trainer.running and s.status == Status.FINISHED


def test_apply_keeps_the_run_for_live_settings_and_resets_for_others():
    """apply(lr) keeps the run and its step; apply(hidden) starts a new one."""
    s = playground.Session(CFG)
    s.step()
    s.wait_for_step(120)
    run = s.run
    assert s.apply(CFG.replace(lr=0.003)) is False and s.run is run and run.step == 10
    assert s.apply(CFG.replace(lr=0.003, hidden=(6,))) is True and s.run is not run
    assert s.run.step == 0 and s.run.cfg.hidden == (6,)


def _budget_below(monkeypatch, num_points: int) -> None:
    """A cost budget that refuses runs on more than `num_points` training points."""
    real = cost.check_cost

    def check_cost(cfg, n):
        if n > num_points:
            raise config.ConfigError(f"over the test budget: lower num_points to {num_points}")
        return real(cfg, n)

    monkeypatch.setattr(cost, "check_cost", check_cost)


def test_the_cost_budget_applies_when_data_or_settings_change(monkeypatch):
    """A click, an added-points restart or new settings that put the run over the budget are
    refused with the ConfigError's message; the run, its data and its settings stay."""
    s = playground.Session(CFG)
    n = len(s.run.data.x_train)
    run, version = s.run, s.run.data_version
    _budget_below(monkeypatch, n)
    message = s.click(0.5, -0.25, "add1")
    assert message is not None and "lower num_points" in message
    assert s.run is run and s.run.data_version == version and s.added == []
    assert len(run.data.x_train) == n
    with pytest.raises(config.ConfigError):
        s.apply(CFG.replace(num_points=CFG.num_points + 40))
    assert s.run is run and s.cfg == CFG
    with pytest.raises(config.ConfigError):
        run.set_data(playground.build_data(CFG, [(0.0, 0.0, 1)]))
    assert run.data_version == version and len(run.data.x_train) == n


def test_click_adds_points_probes_and_refuses_far_clicks():
    """A click adds a point of its class (parameters kept), probes, or is refused beyond the
    bound that the link reader uses, with a message."""
    s = playground.Session(CFG)
    n = len(s.run.data.x_train)
    run = s.run
    assert s.click(0.5, -0.25, "add1") is None
    assert s.run is run and len(run.data.x_train) == n + 1 and s.added == [(0.5, -0.25, 1)]
    assert s.click(0.1, 0.2, "probe") is None and s.probe[2].shape == (64,)
    for x in (374.831, 3.4e38, float("nan")):
        message = s.click(x, -0.145, "add0")
        assert message is not None and "±50" in message
    assert len(s.added) == 1
    assert s.click(1.0, 1.0, "view") is None and len(s.added) == 1


def test_a_click_with_an_id_adds_its_point_once_and_a_refused_one_is_not_remembered():
    """The push route and the page may both deliver a click (same id): the point is added
    once; a refused click is not remembered, so its second arrival is refused again (the page
    says why); the frame lists the applied ids (the chart's pending points)."""
    s = playground.Session(CFG)
    n = len(s.run.data.x_train)
    assert s.click(0.5, -0.25, "add1", click_id="abc") is None
    assert s.click(0.5, -0.25, "add1", click_id="abc") is None
    assert len(s.run.data.x_train) == n + 1 and s.applied_click("abc")
    assert s.click(0.6, -0.25, "add1", click_id="other") is None  # another id: another point
    assert len(s.added) == 2
    for _ in range(2):
        assert "±50" in s.click(400.0, 0.0, "add0", click_id="far")
    assert not s.applied_click("far") and len(s.added) == 2
    assert s.click(0.1, 0.2, "add0", click_id=["not", "a", "string"]) is None
    assert s.click(0.1, 0.2, "add0", click_id=["not", "a", "string"]) is None
    assert len(s.added) == 4  # a malformed id counts as none: no dedup
    payload, _ = s.tick(wait_s=0.0)
    assert payload["clicks"] == ["abc", "other"]


def test_an_added_point_does_not_compile_the_metrics_again():
    """The metrics' predictive pads its points (`engine.sample_probs`): n and n + 1 points
    share one compiled function (each new n compiled again before: ~0.14 s per click)."""
    s = playground.Session(CFG)
    s.run.metrics()
    key = ("sample_probs", s.run.engine.static)
    traced = engine.TRACE_COUNTS[key]
    assert s.click(0.5, -0.25, "add1") is None
    s.run.metrics()
    assert engine.TRACE_COUNTS[key] == traced


def test_train_and_pause_twice_are_harmless_and_concurrent_trains_start_one_thread():
    """Train/Pause arrive from the push route and again from the page: the second is a no-op;
    two Trains at once start one trainer thread."""
    s = playground.Session(CFG.replace(steps=100_000))
    before = {t for t in threading.enumerate() if t.name == "bnnlab-trainer"}
    barrier = threading.Barrier(4)

    def press() -> None:
        barrier.wait()
        s.train()

    threads = [threading.Thread(target=press) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    trainers = [t for t in threading.enumerate()
                if t.name == "bnnlab-trainer" and t.is_alive() and t not in before]
    assert s.trainer.running and len(trainers) == 1
    s.train()
    assert s.trainer._thread is trainers[0]
    s.pause()
    s.pause()
    assert not s.trainer.running and s.status in (Status.PAUSED, Status.IDLE)
    trainers[0].join(10)
    assert not trainers[0].is_alive()


def test_tick_payload_is_one_snapshot_with_view_keys():
    """tick() draws the current snapshot with the view's mode; its metrics row names the
    step it belongs to."""
    s = playground.Session(CFG)
    payload, status = s.tick(frames.View(zoom=4.0, kind="epistemic", mode="add1"))
    assert status == Status.IDLE and payload["step"] == 0
    assert payload["mode"] == "add" and payload["add_class"] == "1"
    assert payload["uncertainty_kind"] == "epistemic" and "history" in payload
    assert payload["metrics"][0] == {"label": "Step", "value": "0"}
    assert s.shown_metrics["step"] == 0


def test_a_failing_frame_is_a_message_not_an_exception(monkeypatch):
    """An error while drawing (e.g. out of memory) comes back as status error and a message."""
    s = playground.Session(CFG)

    def boom(*args, **kwargs):
        raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory")

    monkeypatch.setattr(frames, "frame", boom)
    payload, status = s.tick()
    assert payload is None and status == Status.ERROR and "memory" in s.message


def test_snapshots_are_published_whole(run):
    """The snapshot is replaced, never mutated: an old reference keeps its own step/state."""
    before = run.snapshot
    run.advance()
    assert before.step == 0 and run.snapshot.step == 10
    assert run.snapshot.serial != before.serial
    leaves_before = jax.tree.leaves(before.state.method_state)
    assert not all(np.array_equal(a, b) for a, b in
                   zip(leaves_before, jax.tree.leaves(run.state.method_state), strict=True))


def test_a_link_starts_a_session_and_the_session_writes_the_same_link():
    """from_link validates a link (notices for what it drops), and link() reproduces it."""
    fields = ("dataset", "num_points", "hidden", "lr", "method", "steps_per_chunk")
    s, notices = playground.Session.from_link(
        {"num_points": "120", "hidden": "8", "lr": "0.05", "method": "map",
         "steps_per_chunk": "10", "added": "0.1:0.2:1;1e9:0:0"}, fields)
    assert s.cfg.hidden == (8,) and s.cfg.lr == 0.05 and s.cfg.method == "map"
    assert s.added == [(0.1, 0.2, 1)]
    assert any("malformed" in n for n in notices)
    again, more = playground.Session.from_link(s.link(fields), fields)
    assert again.cfg == s.cfg and again.added == s.added and more == []


@pytest.mark.slow
def test_a_link_without_noise_starts_from_the_datasets_own():
    """`?dataset=spiral` alone gives the spiral its registered noise (its arms stay visible);
    a link that names the noise keeps it."""
    from bnnlab.data import toy

    fields = ("dataset", "noise", "num_points")
    live, _ = playground.Session.from_link({"dataset": "spiral", "num_points": "64"}, fields)
    assert live.cfg.noise == toy.REGISTRY["spiral"].default_noise
    live.close()
    live, _ = playground.Session.from_link({"dataset": "spiral", "noise": "0.3",
                                         "num_points": "64"}, fields)
    assert live.cfg.noise == 0.3
    live.close()


# ---------------------------------------------------------------- training that keeps going
def test_extend_continues_a_finished_run_by_another_budget():
    """Continue: a finished run's budget becomes step + extra and it trains on to it; the
    learner's *Training steps* (`cfg.steps`, the widget and the link) stays as typed, and by
    default Continue trains that many more."""
    s = playground.Session(CFG)
    s.train()
    _finish(s.trainer)
    assert s.status == Status.FINISHED
    assert s.extend(20) is None and s.cfg.steps == 35 and s.budget == s.run.cfg.steps == 55
    _finish(s.trainer)
    assert s.run.step == 55 and s.status == Status.FINISHED
    assert s.extend() is None and s.budget == 90
    _finish(s.trainer)
    assert s.run.step == 90 and s.link(("steps",))["steps"] == "35"


def test_settings_applied_later_keep_the_steps_granted_and_a_new_run_drops_them():
    """A page run re-applies the widgets (steps as typed): the steps Continue granted stay in
    the budget; a typed change moves it by as much; a new run trains *Training steps* again."""
    s = playground.Session(CFG)
    s.train()
    _finish(s.trainer)
    s.extend(20)
    _finish(s.trainer)
    s.apply(s.cfg.replace(lr=0.02))  # the page's next run: the widget still says 35
    assert s.budget == 55 and s.status == Status.FINISHED
    s.apply(s.cfg.replace(steps=40))
    assert s.budget == 60 and s.cfg.steps == 40
    s.reset()
    assert s.budget == 40 and s.extra == 0


def test_extend_at_the_step_limit_says_so(monkeypatch):
    """At limits.MAX_STEPS a run cannot continue: a message, nothing changes."""
    monkeypatch.setattr(limits, "MAX_STEPS", 35)
    s = playground.Session(CFG)
    s.train()
    _finish(s.trainer)
    message = s.extend(20)
    assert message is not None and "Reset" in message and s.at_step_limit
    assert not s.trainer.running and s.budget == 35


def test_step_on_a_finished_run_takes_one_more_chunk():
    """Step is never dead: on a finished run it adds one chunk to the budget and trains it."""
    s = playground.Session(CFG)
    s.train()
    _finish(s.trainer)
    s.step()
    s.wait_for_step(120)
    assert s.run.step == 45 and s.budget == 45 and s.cfg.steps == 35


def test_a_click_on_a_finished_run_trains_on_the_new_data(monkeypatch):
    """Issue 15: a point added after the run finished trains CLICK_TRAIN_STEPS more steps from
    the current parameters, on data that include the point, and the maps change."""
    monkeypatch.setattr(limits, "CLICK_TRAIN_STEPS", 30)
    s = playground.Session(CFG)
    s.train()
    _finish(s.trainer)
    before, _ = s.tick()
    run = s.run
    assert s.click(0.5, -0.25, "add1") is None
    assert s.run is run and s.budget == 65 and s.cfg.steps == 35 and s.trainer.running
    _finish(s.trainer)
    after, status = s.tick()
    assert run.step == 65 and status == Status.FINISHED
    assert after["train"]["n"] == before["train"]["n"] + 1
    assert after["mean"] != before["mean"]


def test_a_click_on_a_paused_run_trains_a_bounded_number_of_steps(monkeypatch):
    """Paused: the click trains CLICK_TRAIN_STEPS steps and the run is paused again."""
    monkeypatch.setattr(limits, "CLICK_TRAIN_STEPS", 20)
    s = playground.Session(CFG.replace(steps=1000))
    s.step()
    s.wait_for_step(120)
    assert s.status == Status.PAUSED
    s.click(0.5, -0.25, "add0")
    _finish(s.trainer)
    assert s.run.step == 30 and s.status == Status.PAUSED and s.budget == 1000


def test_a_click_before_the_first_train_only_adds_the_point():
    """Before Train the learner may be placing points: a click trains nothing."""
    s = playground.Session(CFG)
    s.click(0.5, -0.25, "add1")
    assert not s.trainer.running and s.run.step == 0 and s.status == Status.IDLE


def _run_to_end(live: playground.Session, timeout: float = 120.0) -> None:
    import time

    live.train()
    deadline = time.monotonic() + timeout
    while live.status != Status.FINISHED and time.monotonic() < deadline:
        live.tick(wait_s=0.05)
    assert live.status == Status.FINISHED


@pytest.mark.slow
def test_make_bayesian_turns_a_map_run_into_laplace_on_the_same_network():
    """"Make this network Bayesian" on a finished MAP run: a Laplace run on the same
    parameters, step and history, fitted (a spread predictive), the method's label in the
    history; training on clears the fit until the end of the run fits again."""
    live = playground.Session(TrainConfig(method="map", hidden=(6,), num_points=64, steps=40,
                                       steps_per_chunk=20, lr=0.05))
    _run_to_end(live)
    theta = np.asarray(live.run.state.method_state.position)
    history = live.run.history_arrays()[0].copy()
    assert live.fit_target() == "laplace"
    assert live.make_bayesian() == "laplace"
    run = live.run
    assert live.cfg.method == run.cfg.method == "laplace" and run.step == 40
    np.testing.assert_array_equal(np.asarray(run.state.method_state.map_state.position), theta)
    np.testing.assert_array_equal(run.history_arrays()[0], history)
    details = run.fit_details()
    assert details["fitted"] and details["num_bayesian"] == run.engine.num_params
    assert details["best_prior_std"] > 0 and np.isfinite(details["log_evidence"]).all()
    probs = run.sample_probs(np.zeros((1, 2), np.float32), 16)
    assert probs.std() > 0  # a posterior now, not one network
    summary = run.weight_summary()
    assert summary.num_weights == run.engine.num_params and summary.std.max() > 0
    live.apply(live.cfg.replace(steps=60))
    _run_to_end(live)
    assert run.step == 60 and run.fit_details()["fitted"]  # fitted again at the end
    live.close()


@pytest.mark.slow
def test_weight_view_of_map_is_a_point_and_of_hmc_from_its_draws():
    """MAP's weights have σ = 0 (a point); HMC's come from its kept draws (σ > 0)."""
    point = playground.Session(TrainConfig(method="map", hidden=(4,), num_points=64, steps=20,
                                        steps_per_chunk=10))
    _run_to_end(point)
    assert point.run.weight_summary().std.max() == 0
    point.close()
    chain = playground.Session(TrainConfig(method="hmc", hidden=(4,), num_points=64, steps=30,
                                        hmc_warmup=10, hmc_max_doublings=3, steps_per_chunk=10))
    _run_to_end(chain)
    report = chain.run.method_report()
    assert report["hmc_samples"] == 20 and 0 <= report["acceptance_rate"] <= 1
    assert chain.run.weight_summary().std.min() > 0
    chain.close()


@pytest.mark.slow
def test_a_run_replaced_during_a_tick_does_not_mix_runs(monkeypatch):
    """A full-page rerun may replace the run (a preset switching VI to HMC) while the live
    fragment's tick is drawing the old one: the tick's metrics belong to the run it read, so no
    HMC code sees a VI state."""
    live = playground.Session(CFG)
    old = live.run
    draw = frames.frame

    def frame_while_a_rerun_replaces_the_run(run, *args, **kwargs):
        if run is old:
            live.apply(live.cfg.replace(method="hmc", hmc_warmup=10, steps=30))
        return draw(run, *args, **kwargs)

    monkeypatch.setattr(frames, "frame", frame_while_a_rerun_replaces_the_run)
    payload, status = live.tick(wait_s=0.0)
    assert payload is not None and live.message is None, live.message
    assert live.run is not old and live.run.cfg.method == "hmc"
    assert live.tick(wait_s=0.0)[0] is not None and live.message is None
    live.close()


@pytest.mark.slow
def test_after_make_bayesian_the_metrics_and_verdict_are_laplaces_at_once():
    """Issue 24: the map redrew as Laplace's predictive while NLL, ECE, the entropies and the
    verdict stayed MAP's for 30 s and more. The next tick's metrics row and verdict belong to
    the fitted snapshot (MAP's epistemic is 0; the Laplace posterior's is not)."""
    live = playground.Session(TrainConfig(method="map", hidden=(6,), num_points=64, steps=40,
                                          steps_per_chunk=20, lr=0.05))
    _run_to_end(live)
    payload, _ = live.tick(wait_s=0.0)
    assert live.shown_metrics["epistemic_far"] < 1e-9
    assert live.make_bayesian() == "laplace"
    payload, _ = live.tick(wait_s=0.0)
    shown = live.shown_metrics
    assert shown["serial"] == live.run.snapshot.serial
    assert shown["epistemic_far"] > 1e-4 and shown == live.run.metrics()
    far = next(m for m in payload["metrics"] if m["label"] == "Epistemic far")
    assert far["value"] == f"{shown['epistemic_far']:.3f}"
    assert payload["verdict"]["step"] == 40
    live.close()


def test_hmc_objective_chart_draws_log_prior_without_beta():
    """β does nothing for HMC: its third line is the log prior itself, named so, whatever
    `kl_weight` says; VI's is −β·KL."""
    hmc = registry.method("hmc")
    assert hmc.regulariser_term(0.001) == (-1.0, "log prior")
    assert registry.method("vi").regulariser_term(0.5) == (-0.5, "−β·KL(q ‖ prior)")
    cfg = TrainConfig(method="hmc", hidden=(4,), num_points=64, steps=30, hmc_warmup=10,
                      steps_per_chunk=10, kl_weight=0.001)
    run = Run(cfg, playground.build_data(cfg))
    run.advance()
    history = frames.history_payload(run)
    assert history["trace_names"][2] == "log prior"
    _, _, regulariser = run.history_arrays()
    drawn = wire.decode_floats(history["neg_kl"])
    np.testing.assert_allclose(drawn, -regulariser[:len(drawn)] / history["per_point"],
                               rtol=1e-6)


def test_undo_removes_the_last_clicked_point_and_trains_on_without_it(monkeypatch):
    """Issue 24: Undo takes back the last point only (Clear takes them all and starts
    again): the parameters stay, the data lose the point, a started run trains on."""
    monkeypatch.setattr(limits, "CLICK_TRAIN_STEPS", 20)
    s = playground.Session(CFG)
    s.train()
    _finish(s.trainer)
    n = len(s.run.data.x_train)
    s.click(0.5, -0.25, "add1")
    s.click(-0.5, 0.25, "add0")
    _finish(s.trainer)
    run, step = s.run, s.run.step
    s.undo_point()
    assert s.run is run and s.added == [(0.5, -0.25, 1)]
    assert len(s.run.data.x_train) == n + 1 and s.budget == step + 20
    _finish(s.trainer)
    assert s.run.step == step + 20
    s.undo_point()
    s.undo_point()  # nothing left: a no-op
    assert s.added == [] and len(s.run.data.x_train) == n
    s.close()
