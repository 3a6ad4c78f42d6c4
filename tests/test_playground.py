"""bnnlab.playground: data assembly, resumable runs, live reconfiguration, frames, URL points."""

import time

import jax.numpy as jnp
import numpy as np
import pytest

from bnnlab import contour, playground, predict, train
from bnnlab.config import TrainConfig

CFG = TrainConfig(num_points=120, hidden=(8,), num_samples=2, steps_per_chunk=10, steps=35,
                  grid_size=16)


@pytest.fixture
def run():
    return playground.Run(CFG, playground.build_data(CFG))


def test_build_data_appends_clicked_points_to_training_set():
    """Clicked points join the training set with their labels; the test set is unchanged."""
    plain = playground.build_data(CFG)
    added = playground.build_data(CFG, [(0.5, 0.5, 1), (-1.0, 2.0, 0)])
    assert len(added.x_train) == len(plain.x_train) + 2
    np.testing.assert_array_equal(added.y_train[-2:], [1, 0])
    np.testing.assert_array_equal(added.x_test, plain.x_test)


def test_grid_encoding_round_trip():
    """encode_grid/decode_grid round-trip within the uint8 quantisation step."""
    values = np.random.default_rng(0).uniform(0, 0.69, size=(7, 9))
    back = playground.decode_grid(playground.encode_grid(values, 0.69), (7, 9), 0.69)
    assert np.abs(back - values).max() <= 0.69 / 510 + 1e-7


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
    traced = train.TRACE_COUNTS[key]
    new = CFG.replace(lr=0.003, kl_weight=0.001, prior_std=0.5)
    assert not playground.needs_reset(run.cfg, new)
    playground.reconfigure(run, new)
    run.advance()
    assert run.step == 20 and train.TRACE_COUNTS[key] == traced
    assert float(run.hyper.learning_rate) == pytest.approx(0.003)


def test_data_or_architecture_changes_need_a_reset():
    """Changing the dataset, the widths or the method starts a new run."""
    for change in ({"dataset": "xor"}, {"hidden": (16,)}, {"method": "map"}, {"seed": 3}):
        assert playground.needs_reset(CFG, CFG.replace(**change))


def test_set_data_keeps_the_parameters(run):
    """Adding a point swaps the data but keeps the learned parameters and the step."""
    run.advance()
    mean = np.asarray(run.state.method_state.mean)
    playground.set_data(run, playground.build_data(CFG, [(0.0, 0.0, 1)]))
    np.testing.assert_array_equal(run.state.method_state.mean, mean)
    assert int(jnp.sum(run.batch.mask)) == len(run.data.x_train)
    assert run.advance() == 10


def test_frame_payload(run):
    """A frame has the grids, 10 samples' boundaries for VI, points and the history."""
    run.advance()
    frame = run.frame(16, 1.0, "epistemic")
    assert frame["grid"]["nx"] == 16 and frame["step"] == 10
    mean = playground.decode_grid(frame["mean"], (16, 16), 1.0)
    assert 0 <= mean.min() and mean.max() <= 1
    segments = playground.decode_segments(frame["boundaries"])
    assert segments.shape == (frame["boundaries"]["n"], 4) and len(segments) > 0
    box = frame["boundaries"]
    assert box["x0"] <= segments[:, 0].min() and segments[:, 2].max() <= box["x1"]
    assert frame["train"]["n"] == len(run.data.x_train) == len(frame["train"]["c"])
    np.testing.assert_array_equal(playground.decode_floats(frame["train"]["x"]),
                                  run.data.x_train[:, 0])
    assert frame["train"]["c"] == "".join(str(int(c)) for c in run.data.y_train)
    elbo, _, _ = run.history_arrays()
    history = run.history_payload()
    np.testing.assert_array_equal(playground.decode_floats(history["elbo"]), elbo)
    np.testing.assert_array_equal(playground.decode_floats(history["step"]), np.arange(1, 11))
    assert history["last_step"] == 10 and "history" not in frame


def test_encode_segments_round_trips_within_the_quantisation():
    """Segments (start, end, NaN) from `contour.segments` come back as (x0, y0, x1, y1) rows,
    within box/65535 of the originals; the NaN separators are dropped."""
    z = np.add.outer(np.linspace(-1, 1, 12), np.linspace(-1, 1, 9))  # level set: a line
    xs, ys = contour.segments(z, -2.0, 0.5, 1.0, 0.25, level=0.1)
    box = (-2.0, -2.0 + 0.5 * 8, 1.0, 1.0 + 0.25 * 11)
    back = playground.decode_segments(playground.encode_segments(xs, ys, box))
    expected = np.stack([xs[0::3], ys[0::3], xs[1::3], ys[1::3]], axis=-1)
    assert back.shape == expected.shape and len(back) > 0
    np.testing.assert_allclose(back, expected, atol=4.0 / 65535 + 1e-12)
    empty = playground.encode_segments(np.zeros(0), np.zeros(0), box)
    assert empty["n"] == 0 and playground.decode_segments(empty).shape == (0, 4)


def test_encode_floats_round_trips_and_turns_non_finite_into_nan():
    values = np.array([0.0, -1.5, 3.25e10, np.inf, -np.inf, np.nan, 1e-7])
    decoded = playground.decode_floats(playground.encode_floats(values))
    np.testing.assert_array_equal(decoded[[0, 1, 2, 6]], values[[0, 1, 2, 6]].astype(np.float32))
    assert np.isnan(decoded[3:6]).all()
    assert len(playground.decode_floats(playground.encode_floats(np.zeros(0)))) == 0


def test_map_frame_has_zero_epistemic_and_no_sample_boundaries():
    """For MAP the epistemic map is exactly zero and no posterior-sample boundaries are drawn."""
    cfg = CFG.replace(method="map")
    run = playground.Run(cfg, playground.build_data(cfg))
    run.advance()
    frame = run.frame(16, 1.0, "epistemic")
    assert playground.decode_grid(frame["uncertainty"], (16, 16), 1.0).max() == 0
    assert frame["boundaries"]["n"] == 0


def test_zoom_widens_the_grid(run):
    """Zoom 4 spans four times the width."""
    a = run.frame(16, 1.0, "total")["grid"]
    b = run.frame(16, 4.0, "total")["grid"]
    assert b["dx"] == pytest.approx(4 * a["dx"], rel=1e-5)


def test_added_points_url_round_trip_and_garbage():
    """Clicked points survive the URL; malformed entries are dropped with a notice."""
    points = [(0.123, -1.5, 1), (2.0, 0.0, 0)]
    assert playground.decode_added(playground.encode_added(points)) == (points, None)
    kept, notice = playground.decode_added("1:2:1;x:y:z;3:4:7;1e9:0:1;;5:6")
    assert kept == [(1.0, 2.0, 1)] and "Ignored 4" in notice


def test_probe_gives_one_probability_per_posterior_sample(run):
    """Probing a point returns 64 probabilities in [0, 1]."""
    probs = run.probe(0.1, 0.2)
    assert probs.shape == (64,) and np.all((probs >= 0) & (probs <= 1))


def test_training_slots_bound_concurrency():
    """With one slot taken, another request waits (and times out); after release it succeeds."""
    slots = playground.TrainingSlots(1)
    with slots.slot() as first:
        assert first
        with slots.slot(timeout=0.05) as second:
            assert not second
    with slots.slot(timeout=0.05) as third:
        assert third


def test_trainer_runs_in_the_background_until_the_budget(run):
    """A Trainer advances the run on its own thread and stops at the step budget."""
    trainer = playground.Trainer(run)
    trainer.start()
    for _ in range(300):
        if not trainer.running:
            break
        trainer.touch()
        time.sleep(0.05)
    assert run.step == 35 and not trainer.running and trainer.error is None


def test_trainer_stops_on_request_and_when_its_session_goes_quiet():
    """stop() halts training; without touch() for idle_timeout seconds it halts by itself."""
    cfg = CFG.replace(steps=100_000)
    run = playground.Run(cfg, playground.build_data(cfg))
    trainer = playground.Trainer(run)
    trainer.start()
    time.sleep(0.3)
    trainer.stop()
    stopped = run.step
    time.sleep(0.3)
    assert run.step == stopped and not trainer.running
    quiet = playground.Trainer(run, idle_timeout=0.2)
    quiet.start()
    time.sleep(1.5)
    assert not quiet.running


def test_frame_is_reused_until_something_changes(run):
    """Asked again with nothing changed, `frame` returns the same frame (same `frame_id`) without
    computing; a new chunk, another uncertainty kind or new data give a new one."""
    first = run.frame(16, 1.0, "total")
    again = run.frame(16, 1.0, "total")
    assert again == first and again is not first  # a copy: the page adds its own keys
    assert run.frame(16, 1.0, "epistemic")["frame_id"] != first["frame_id"]
    run.advance()
    after = run.frame(16, 1.0, "total")
    assert after["frame_id"] != first["frame_id"] and after["step"] == first["step"] + 10
    playground.set_data(run, playground.build_data(run.cfg, [(0.1, 0.2, 1)]))
    moved = run.frame(16, 1.0, "total")
    assert moved["frame_id"] != after["frame_id"]
    assert moved["data_version"] != after["data_version"]
    assert moved["train"]["n"] == after["train"]["n"] + 1


def test_warm_up_compiles_the_chunk_in_the_background_and_leaves_the_state():
    """`warm_up` compiles the training chunk in a thread without changing the run; the first
    `advance` waits for it, so the chunk is traced once."""
    cfg = TrainConfig(num_points=40, hidden=(3, 5), num_samples=2, steps_per_chunk=7, lr=0.05)
    run = playground.Run(cfg, playground.build_data(cfg))
    key = ("run_chunk", run.engine.static)
    assert train.TRACE_COUNTS[key] == 0  # an architecture no other test compiles
    before = np.asarray(run.state.method_state.mean).copy()
    run.warm_up()
    thread = run._warm_up
    run.warm_up()  # a second call starts nothing
    assert run._warm_up is thread
    thread.join(timeout=120)
    assert train.TRACE_COUNTS[key] == 1 and run.step == 0
    np.testing.assert_array_equal(np.asarray(run.state.method_state.mean), before)
    assert run.advance() == 7 and run.step == 7
    assert train.TRACE_COUNTS[key] == 1
    fresh = playground.Run(cfg, playground.build_data(cfg))
    fresh.warm_up()  # already compiled: no thread
    assert fresh._warm_up is None


def test_metrics_and_far_entropy_match_separate_predictives(run):
    """Metrics and near/far entropy come from one predictive call over train, test and far
    points; they equal the summaries computed on each set alone (the same posterior draws)."""
    run.advance()
    metrics = run.metrics()
    near, far = playground.far_entropy(run)
    test_mean = run.summary(run.data.x_test).mean
    assert metrics["test_acc"] == predict.accuracy(test_mean, run.data.y_test)
    assert metrics["train_acc"] == predict.accuracy(run.summary(run.data.x_train).mean,
                                                    run.data.y_train)
    assert metrics["test_nll"] == pytest.approx(predict.nll(test_mean, run.data.y_test), rel=1e-6)
    assert near == pytest.approx(float(run.summary(run.data.x_test).total.mean()), rel=1e-6)
    far_points = predict.far_probe_points(run.data.x_train, size=21)
    assert len(far_points) > 0
    assert far == pytest.approx(float(run.summary(far_points).total.mean()), rel=1e-6)
