"""bnnlab.training.config and .links: a configuration assembled from the settings, strict
validation, and the lenient URL door."""

import pytest

from bnnlab.core import limits
from bnnlab.training import links
from bnnlab.training.config import ConfigError, TrainConfig


def test_defaults_are_valid_and_hashable():
    """The default config validates and can key a cache."""
    assert hash(TrainConfig()) == hash(TrainConfig())


@pytest.mark.parametrize(("field", "value"), [
    ("num_points", limits.MAX_POINTS + 1), ("num_samples", 0), ("num_samples", 65),
    ("lr", 2.0), ("lr", float("nan")), ("grid_size", 151), ("steps", 100_001),
    ("dataset", "banana"), ("method", "sgld"), ("hidden", (32,) * 5), ("hidden", (129,)),
    ("hidden", ()), ("seed", -1), ("num_points", 10.5), ("noise", "x"),
])
def test_out_of_bounds_values_are_rejected(field, value):
    """Every bound in config is enforced on construction, naming the setting."""
    with pytest.raises(ConfigError, match=field if field != "hidden" else "hidden"):
        TrainConfig(**{field: value})


def test_query_params_round_trip():
    """to_query_params then from_query_params reproduces the config with no notices."""
    cfg = TrainConfig(dataset="spiral", hidden=(16, 8, 4), lr=0.003, kl_weight=0.001, seed=7)
    back, notices = links.from_query_params(links.to_query_params(cfg))
    assert back == cfg and notices == []


def test_query_params_clamp_ignore_and_explain():
    """Out-of-range values are clamped, garbage and unknown keys ignored, each with a notice."""
    cfg, notices = links.from_query_params({
        "num_points": "999999", "lr": "banana", "dataset": "<script>", "foo": "1",
        "hidden": "500,500,500,500,500", "num_samples": "2.5",
    })
    assert cfg.num_points == limits.MAX_POINTS
    assert cfg.lr == TrainConfig().lr and cfg.dataset == "moons"
    assert cfg.hidden == (128,) * 4
    assert cfg.num_samples == TrainConfig().num_samples
    assert len(notices) == 6
    assert any("num_points" in n and "clamped" in n for n in notices)
    assert any("foo" in n for n in notices)


def test_every_setting_is_a_field_with_its_bound():
    """Each declared setting (common or a method's own) is a TrainConfig field whose default is
    the setting's, and one past either end of its bound is refused naming it."""
    from bnnlab.training import config

    cfg = TrainConfig()
    for name, setting in config.SETTINGS.items():
        assert getattr(cfg, name) == setting.default
        below = setting.lo - 1 if setting.kind is int else setting.lo - max(setting.lo, 1e-3)
        for outside in (below, setting.hi + max(1, setting.hi)):
            with pytest.raises(ConfigError, match=name):
                TrainConfig(**{name: setting.kind(outside)})
