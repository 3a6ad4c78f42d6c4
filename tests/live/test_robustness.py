"""The bad-input corpus through bnnlab (issue 7): malformed CSVs, garbage and out-of-range URL
settings, clicked points in links, and extreme combinations of settings. Each is refused with a
message naming the problem (or clamped with a notice) and never raises anything else."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from bnnlab import registry
from bnnlab.core import limits
from bnnlab.core.errors import DataError
from bnnlab.data import toy, upload
from bnnlab.lessons import playground
from bnnlab.live import frames, wire
from bnnlab.live.run import Run
from bnnlab.training import cost, engine, links
from bnnlab.training.config import SETTINGS, ConfigError, TrainConfig

# ---------------------------------------------------------------- CSV corpus
# name -> (bytes, a fragment the DataError message must contain)
CSV_CORPUS: dict[str, tuple[bytes, str]] = {
    "two columns": (b"x1,x2\n1,2\n3,4\n", "expected 3 columns"),
    "four columns": (b"1,2,0,9\n3,4,1,9\n", "expected 3 columns"),
    "tab separated": (b"1\t2\t0\n3\t4\t1\n", "expected 3 columns"),
    "text in a number": (b"x1,x2,label\n1,abc,0\n2,3,1\n", "'abc' is not a number"),
    "NUL byte in a number": (b"1,2,0\n3\x00,4,1\n", "is not a number"),
    "NaN": (b"1,nan,0\n2,3,1\n", "finite"),
    "inf": (b"1,inf,0\n2,3,1\n", "finite"),
    "-inf": (b"-inf,1,0\n2,3,1\n", "finite"),
    "overflowing float": (b"1e400,2,0\n3,4,1\n", "finite"),
    "one class only": (b"1,2,0\n3,4,0\n5,6,0\n", "expected at least two classes"),
    "six classes": (b"1,2,0\n3,4,1\n5,6,5\n", "line 3: label '5' is not a class"),
    "a gap in the classes": (b"1,2,0\n3,4,2\n5,6,2\n", "no row has label 1"),
    "label 0.5": (b"1,2,0\n3,4,0.5\n5,6,1\n", "line 2: label '0.5' is not a class"),
    "label nan": (b"1,2,0\n3,4,1\n5,6,nan\n", "line 3: label 'nan' is not a class"),
    "0 bytes": (b"", "no data rows"),
    "header only": (b"x1,x2,label\n", "no data rows"),
    "blank lines only": (b"\n\n  \n", "no data rows"),
    "100k rows": ("".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(100_000)).encode(),
                  f"more than {limits.MAX_POINTS} rows"),
    "6 MB": (b"1,2,0\n" * 1_000_000, "limit is 5 MB"),
    "non-UTF-8 bytes": (b"1,2,0\n\xff\xfe,3,1\n", "not UTF-8"),
    "Latin-1 label": ("1,2,caf\xe9\n3,4,0\n".encode("latin-1"), "not UTF-8"),
    "UTF-16": ("x1,x2,label\n1,2,0\n3,4,1\n".encode("utf-16"), "not UTF-8"),
    "formula injection in the label": (b"1,2,0\n3,4,=cmd|'/c calc'!A0\n", "plain value"),
    "formula injection in x1": (b"=cmd|'/c calc'!A0,2,0\n3,4,1\n", "spreadsheet formula"),
    "@ formula in the label": (b"1,2,@SUM(A1)\n3,4,1\n", "plain value"),
    "100 kB number": (b"1," + b"9" * 100_000 + b",0\n3,4,1\n", "finite"),
}


@pytest.mark.parametrize("name", list(CSV_CORPUS))
def test_bad_csv_is_refused_with_a_clear_message(name):
    """Each malformed CSV raises DataError (only) with a message that names the problem."""
    data, fragment = CSV_CORPUS[name]
    with pytest.raises(DataError) as caught:
        upload.load_csv(data)
    message = str(caught.value)
    assert fragment in message
    assert len(message) < 300 and "Traceback" not in message


def test_bad_csv_as_text_is_refused_too():
    """The same checks apply to a str (e.g. pasted text), including the size limit."""
    with pytest.raises(toy.DataError, match="larger than 5 MB"):
        upload.load_csv("1,2,0\n" * 1_000_000)
    with pytest.raises(toy.DataError, match="finite"):
        upload.load_csv("1,nan,0\n2,3,1\n")


def test_html_in_labels_is_refused_not_echoed_whole():
    """Labels must be class numbers: markup in one is refused, quoted at most 40 characters."""
    markup = "<script>alert(1)</script>" * 4
    with pytest.raises(toy.DataError, match="line 1: label .* is not a number") as caught:
        upload.load_csv(f"1,2,{markup}\n3,4,1\n".encode())
    assert markup not in str(caught.value)


def test_error_message_quotes_at_most_40_characters_of_a_cell():
    """A huge bad cell is quoted short, so a message cannot flood the page."""
    with pytest.raises(DataError) as caught:
        upload.load_csv(b"1," + b"x" * 50_000 + b",0\n3,4,1\n")
    assert len(str(caught.value)) < 120


@pytest.mark.parametrize("big", ["1e308", "1e39", "1e20"])
def test_coordinates_too_large_for_float32_are_refused(big):
    """Coordinates whose float32 statistics overflow are refused with a message, not trained on."""
    text = f"{big},1,0\n-{big},2,1\n1,3,0\n2,4,1\n"
    try:
        x, y = upload.load_csv(text)
    except toy.DataError as err:
        assert "line" in str(err)
        return
    data = toy.prepare(x, y, 0.25, 0)
    assert np.all(np.isfinite(data.scale)) and np.all(np.isfinite(data.x_train))
    assert np.ptp(data.x_train[:, 0]) > 0.1, "the large axis collapsed to a constant"


# ---------------------------------------------------------------- URL corpus
GARBAGE = ["", "abc", "nan", "NaN", "inf", "-inf", "1e999", "0x10", "1,5", "１２", "None",
           "<script>alert(1)</script>", "'; DROP TABLE runs;--", "=cmd|'/c calc'!A0",
           "\x00", "9" * 5000, "[]", "{}", "true"]
OUT_OF_RANGE = {name: [bound.lo - 1 - abs(bound.lo) * 10, bound.hi * 1000 + 1]
                for name, bound in SETTINGS.items()}


@pytest.mark.parametrize("setting", [f.name for f in dataclasses.fields(TrainConfig)])
def test_garbage_url_values_keep_the_default_with_a_notice(setting):
    """Every setting: garbage keeps the base value and says so; the result is a valid config."""
    base = TrainConfig()
    for raw in GARBAGE:
        cfg, notices = links.from_query_params({setting: raw}, base)
        assert isinstance(cfg, TrainConfig)
        if getattr(cfg, setting) != getattr(base, setting):
            # a few garbage strings parse as numbers ("1e999" no, "１２" yes): they must be valid
            assert notices or raw in ("１２", "0x10", "1,5"), (setting, raw)
        else:
            assert notices, (setting, raw)
        assert all(len(n) < 400 for n in notices)


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_out_of_range_url_values_are_clamped_with_a_notice(setting):
    """Every numeric setting: values beyond either bound are clamped and explained."""
    bound = SETTINGS[setting]
    # num_classes: on a set that takes K classes (a binary set keeps 2, with its own notice)
    base = TrainConfig(dataset="gaussians") if setting == "num_classes" else None
    for value, expected in zip(OUT_OF_RANGE[setting], (bound.lo, bound.hi), strict=True):
        raw = str(int(value)) if bound.kind is int else repr(value)
        cfg, notices = links.from_query_params({setting: raw}, base)
        assert getattr(cfg, setting) == bound.kind(expected)
        assert len(notices) == 1 and "clamped" in notices[0]


@pytest.mark.parametrize("raw, expected", [
    ("0", None), ("-5", None), ("1,2,3,4,5,6,7,8", (1, 2, 3, 4)), ("500", (128,)),
    ("0,0", (1, 1)), ("a,b", None), (",,,", None), ("1.5", None), ("9" * 400, None),
])
def test_hidden_layers_from_the_url(raw, expected):
    """hidden: too many layers or too wide is clamped; garbage keeps the default; always a
    notice unless the value was valid."""
    cfg, notices = links.from_query_params({"hidden": raw})
    assert notices
    if expected is not None:
        assert cfg.hidden == expected
    assert 1 <= len(cfg.hidden) <= limits.MAX_LAYERS
    assert all(1 <= w <= limits.MAX_WIDTH for w in cfg.hidden)


def test_unknown_keys_are_ignored_with_a_notice():
    """Keys that are not settings change nothing."""
    cfg, notices = links.from_query_params({"__class__": "x", "steps_per_chunk_": "9"})
    assert cfg == TrainConfig() and len(notices) == 2


def test_a_flood_of_unknown_keys_gives_a_bounded_notice():
    """A link with 1000 long unknown keys yields a short, bounded set of notices."""
    params = {f"k{i}_" + "x" * 1000: "1" for i in range(1000)}
    _, notices = links.from_query_params(params)
    assert len(notices) <= 20 and sum(map(len, notices)) < 5_000


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_direct_construction_cannot_bypass_the_bounds(setting):
    """TrainConfig itself (what a direct call or the CLI uses) rejects out-of-range values."""
    bound = SETTINGS[setting]
    odd = (float("nan"), float("inf")) if bound.kind is float else ()
    for value in (*OUT_OF_RANGE[setting], *odd, 2.5 if bound.kind is int else "1", "1", None,
                  True):
        with pytest.raises(ConfigError, match=setting):
            TrainConfig(**{setting: value})


def test_non_finite_whole_number_settings_raise_config_error():
    """NaN/inf for any whole-number setting is a ConfigError naming the setting."""
    for setting in [n for n, b in SETTINGS.items() if b.kind is int]:
        for value in (float("nan"), float("inf")):
            with pytest.raises(ConfigError, match=setting):
                TrainConfig(**{setting: value})


@pytest.mark.parametrize("hidden", [(), (8,) * 5, (0,), (129,), (8.5,), (True,), ("8",)])
def test_direct_construction_rejects_bad_architectures(hidden):
    with pytest.raises(ConfigError, match="hidden"):
        TrainConfig(hidden=hidden)


@pytest.mark.parametrize("text, kept, notice", [
    ("1:2:0;3:4:1", 2, False),
    ("1:2:0;x:y:z;3:4:1", 2, True),
    ("1:2:7", 0, True),
    ("nan:1:0;inf:1:1;1e9:0:0", 0, True),
    ("1:2", 0, True),
    ("1:2:0:9", 0, True),
    (";;;", 0, False),
    ("<script>:1:0", 0, True),
    (";".join(["0.1:0.2:1"] * 2000), limits.MAX_ADDED_POINTS, True),
])
def test_clicked_points_from_a_link(text, kept, notice):
    """The `added` URL parameter: malformed or out-of-range points are dropped with a notice,
    at most MAX_ADDED_POINTS are kept, all kept points are finite."""
    points, message = links.decode_added(text)
    assert len(points) == kept
    assert (message is not None) == notice
    assert all(np.isfinite([x, y]).all() and c in (0, 1) for x, y, c in points)


# ---------------------------------------------------------------- extreme settings
EXTREMES = {
    # Each entry is one compilation; together they touch every bound at both ends.
    "widest, deepest, most samples, wildest hyperparameters": dict(
        num_points=8, hidden=(limits.MAX_WIDTH,) * limits.MAX_LAYERS,
        num_samples=limits.MAX_SAMPLES, lr=limits.MAX_LR, prior_std=SETTINGS["prior_std"].hi,
        init_std=SETTINGS["init_std"].hi, kl_weight=SETTINGS["kl_weight"].hi, noise=1.0,
        grid_size=limits.MAX_GRID, test_fraction=0.9),
    "every limit at the bottom": dict(
        num_points=8, noise=0.0, test_fraction=0.05, num_samples=1, prior_std=1e-3,
        init_std=1e-5, kl_weight=0.0, lr=limits.MIN_LR, steps=1, steps_per_chunk=1,
        grid_size=limits.MIN_GRID, hidden=(1,)),
    "MAP on the most points at lr 1": dict(
        method="map", num_points=limits.MAX_POINTS, lr=limits.MAX_LR, prior_std=100.0,
        hidden=(4,), noise=1.0, steps=limits.MAX_STEPS),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXTREMES))
def test_extreme_settings_train_and_draw_without_errors(name):
    """Extreme but valid combinations build, train a few steps, draw a frame and compute
    metrics; parameters stay finite (or the run is flagged as diverged)."""
    cfg = TrainConfig(**{"steps_per_chunk": 5, "grid_size": 20, **EXTREMES[name]})
    run = Run(cfg, playground.build_data(cfg))
    for _ in range(2):
        run.advance()
    frame = frames.frame(run, cfg.grid_size, 1.0, "epistemic")
    assert frame["step"] == run.step <= cfg.steps
    leaves = jax.tree.leaves(run.state.method_state)
    assert run.diverged or all(np.isfinite(np.asarray(leaf)).all() for leaf in leaves)
    metrics = run.metrics()
    assert 0.0 <= metrics["train_acc"] <= 1.0


@pytest.mark.slow
def test_grid_size_is_clamped_even_if_asked_directly():
    """Run.frame clamps a grid request beyond MAX_GRID (a direct call bypassing the config)."""
    cfg = TrainConfig(num_points=16, hidden=(4,), steps_per_chunk=5)
    run = Run(cfg, playground.build_data(cfg))
    assert frames.frame(run, 10_000, 1.0, "total")["grid"]["nx"] == limits.MAX_GRID
    assert frames.frame(run, -5, 1.0, "total")["grid"]["nx"] == limits.MIN_GRID


@pytest.mark.slow
def test_divergence_keeps_the_last_finite_state_and_stops_advancing():
    """Data that makes the ELBO non-finite flags the run as diverged, keeps finite parameters,
    and further chunks do nothing."""
    cfg = TrainConfig(num_points=16, hidden=(4,), steps_per_chunk=5, lr=1.0)
    data = playground.build_data(cfg)
    x_bad = data.x_train.copy()
    x_bad[0, 0] = np.inf
    run = Run(cfg, data._replace(x_train=x_bad))
    before = np.asarray(run.state.method_state.mean).copy()
    assert run.advance() == 0 and run.diverged and run.finished
    assert run.advance() == 0 and run.step == 0
    np.testing.assert_array_equal(np.asarray(run.state.method_state.mean), before)
    frame = frames.frame(run, cfg.grid_size, 1.0, "total")
    assert frame["step"] == 0
    assert not np.isinf(wire.decode_floats(frames.history_payload(run)["elbo"])).any()


def test_compiled_engines_are_shared_not_rebuilt():
    """Two runs with the same static settings share one engine object (one compilation)."""
    a = TrainConfig(num_points=16, hidden=(4,), steps_per_chunk=5, lr=0.1, seed=1)
    b = a.replace(lr=0.001, kl_weight=0.5, seed=2, noise=0.3)
    run_a = Run(a, playground.build_data(a))
    hits = engine.compiled.cache_info().hits
    run_b = Run(b, playground.build_data(b))
    assert run_a.engine is run_b.engine
    assert engine.compiled.cache_info().hits > hits
    assert not np.array_equal(np.asarray(run_a.state.method_state.mean),
                              np.asarray(run_b.state.method_state.mean))  # own seeds, own state


# ---------------------------------------------------------------- hostile settings (issue 14)
HOSTILE_MAXIMA = {"width": limits.MAX_WIDTH, "depth": limits.MAX_LAYERS,
                  "num_samples": limits.MAX_SAMPLES, "num_points": limits.MAX_POINTS,
                  "steps_per_chunk": limits.MAX_STEPS_PER_CHUNK}


def _hostile(mask: int, method: str) -> TrainConfig:
    """Setting i at its maximum when bit i of `mask` is set, else the default."""
    at_max = {name: bool(mask >> i & 1) for i, name in enumerate(HOSTILE_MAXIMA)}
    d = TrainConfig()
    width = limits.MAX_WIDTH if at_max["width"] else d.hidden[0]
    depth = limits.MAX_LAYERS if at_max["depth"] else len(d.hidden)
    return d.replace(method=method, hidden=(width,) * depth, test_fraction=0.05, **{
        name: HOSTILE_MAXIMA[name] if at_max[name] else getattr(d, name)
        for name in ("num_samples", "num_points", "steps_per_chunk")})


@pytest.mark.parametrize("method", tuple(registry.METHODS))
@pytest.mark.parametrize("mask", range(2 ** len(HOSTILE_MAXIMA)))
def test_hostile_settings_are_refused_or_shortened(mask, method):
    """Every combination of the maxima of width, depth, samples, points and steps per redraw:
    a ConfigError that names a setting to lower, or a chunk shortened to fit the budget (memory
    and time by the cost model) — never an unbounded chunk."""
    cfg = _hostile(mask, method)
    num_train = cfg.num_points - round(cfg.test_fraction * cfg.num_points)
    try:
        fixed, _ = cost.check_cost(cfg, num_train)
    except ConfigError as err:
        assert "lower" in str(err) or "fewer" in str(err)
        return
    modelled = cost.chunk_cost(fixed, num_train)
    assert modelled.bytes <= limits.MAX_CHUNK_BYTES
    assert modelled.chunk_seconds <= limits.MAX_CHUNK_SECONDS


def test_hostile_settings_are_refused_before_anything_compiles():
    """The issue's URL (4×128, 64 samples, 5,000 points, 1,000 steps a redraw) reaches
    engine.start_run and is refused there: no engine is built or traced."""
    cfg = _hostile(2 ** len(HOSTILE_MAXIMA) - 1, "vi")
    data = playground.build_data(cfg)
    built = engine.compiled.cache_info().misses
    with pytest.raises(ConfigError, match="lower num_samples"):
        engine.start_run(cfg, data.x_train, data.y_train)
    assert engine.compiled.cache_info().misses == built
