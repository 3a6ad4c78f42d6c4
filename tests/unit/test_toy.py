"""bnnlab.data.toy: the registry of toy sets, their geometry, splitting and standardising."""


import numpy as np
import pytest

from bnnlab import registry
from bnnlab.core import limits
from bnnlab.core.errors import DataError
from bnnlab.data import toy
from bnnlab.lessons import compare
from bnnlab.training import config, links


@pytest.mark.parametrize("name", list(toy.REGISTRY))
def test_make_shapes_labels_and_reproducibility(name):
    """Each dataset gives float32[n,2], int32[n] in {0,1} with both classes, same for same seed."""
    x, y = toy.make(name, 101, 0.1, seed=3)
    assert x.shape == (101, 2) and x.dtype == np.float32
    assert y.shape == (101,) and y.dtype == np.int32
    assert set(np.unique(y)) == {0, 1}
    x2, y2 = toy.make(name, 101, 0.1, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(x, toy.make(name, 101, 0.1, seed=4)[0])


def test_every_toy_set_is_well_formed_and_reaches_links_and_compare():
    """Every registered set has its label, noise and advice, a link may choose it (no notice),
    the Compare page's settings take it, and its recommended settings are a valid config."""
    for name, spec in toy.REGISTRY.items():
        assert registry.dataset_label(name) == spec.label
        cfg, notices = links.from_query_params({"dataset": name})
        assert cfg.dataset == name and notices == []
        assert compare.CompareSettings(dataset=name).dataset == name
        assert spec.label and spec.description and spec.noise_scale > 0
        assert 0 < spec.default_noise <= limits.MAX_NOISE
        assert bool(spec.advice) == bool(spec.recommended)  # a recommendation says why
        for method in spec.recommended:
            assert method in tuple(registry.METHODS)
            config.TrainConfig(**toy.recommended(name, method), method=method)  # valid
        assert toy.recommended(name, "hmc") == dict(spec.recommended.get("hmc", {}))


def _knn_accuracy(x: np.ndarray, y: np.ndarray, k: int = 15) -> float:
    """Leave-one-out k-nearest-neighbour accuracy: how cleanly the two classes separate."""
    d2 = ((x[:, None] - x[None]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    nearest = np.argsort(d2, axis=1)[:, :k]
    return float(np.mean((y[nearest].mean(1) > 0.5) == (y == 1)))


def _nearest_curve_rule(name: str, x: np.ndarray) -> np.ndarray:
    """The generative rule: the class whose noise-free shape is nearer (int[n])."""
    x = x.astype(np.float64)
    if name in ("moons", "moons_gap"):
        t = np.linspace(0, np.pi, 2001)
        outer = np.stack([np.cos(t), np.sin(t)], 1)
        inner = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)
        curves = (outer, inner)
    elif name == "spiral":
        r = np.linspace(0.05, 1.0, 4001)
        curves = (toy.spiral_arm(r, 0), toy.spiral_arm(r, 1))
    elif name == "circles":
        radius = np.hypot(x[:, 0], x[:, 1])
        return (np.abs(radius - 0.5) < np.abs(radius - 1.0)).astype(int)
    elif name == "xor":
        return (x[:, 0] * x[:, 1] < 0).astype(int)
    else:  # gaussians
        return (x.sum(1) > 0).astype(int)
    dist = [np.sqrt(((x[:, None] - c[None]) ** 2).sum(-1)).min(1) for c in curves]
    return (dist[1] < dist[0]).astype(int)


@pytest.mark.parametrize("name", list(toy.REGISTRY))
def test_default_noise_keeps_the_shape(name):
    """At its default noise every set looks like its name: its generative rule (nearest
    noise-free shape) and a 15-NN classifier get ≥ 0.9 of 512 points right, for three seeds.
    (The spiral at the old raw noise 0.15 scored 0.69 with 15-NN: a cloud.)"""
    noise = toy.REGISTRY[name].default_noise
    for seed in range(3):
        x, y = toy.make(name, 512, noise, seed)
        assert np.mean(_nearest_curve_rule(name, x) == y) >= 0.9
        assert _knn_accuracy(x, y) >= 0.9


@pytest.mark.parametrize("name", ["moons", "circles", "xor", "spiral"])
def test_noise_is_relative_to_the_class_gap(name):
    """The jitter's standard deviation is noise × noise_scale, and noise_scale is the class gap
    (least distance between the noise-free classes) over the moons' 0.5."""
    spec = toy.REGISTRY[name]
    clean, y = toy.make(name, 4000, 0.0, seed=5)
    a, b = clean[y == 0].astype(np.float64), clean[y == 1].astype(np.float64)
    gap = min(np.sqrt(((a[i:i + 500, None] - b[None]) ** 2).sum(-1)).min()
              for i in range(0, len(a), 500))
    if name == "spiral":  # arms meet at the centre; the gap is between neighbouring turns
        gap = 1 / (2 * toy.SPIRAL_TURNS)
    assert spec.noise_scale == pytest.approx(gap / toy.MOONS_GAP, rel=0.06)
    # Same rng stream: the noisy draw minus the clean one is exactly the jitter.
    rng_clean = np.random.default_rng(0)
    rng_noisy = np.random.default_rng(0)
    x0, _ = spec.generate(rng_clean, 20_000, 0.0)
    x1, _ = spec.generate(rng_noisy, 20_000, 0.2 * spec.noise_scale)
    assert np.std(x1 - x0) == pytest.approx(0.2 * spec.noise_scale, rel=0.02)


def test_noise_free_points_lie_on_the_documented_shapes():
    """At noise 0: circles on radii 1 and 0.5, spiral arms within radius 0.05 to 1, xor points
    at least XOR_OFFSET off both axes, moons on their two unit half-circles."""
    x, y = toy.make("circles", 300, 0.0, 1)
    np.testing.assert_allclose(np.hypot(*x.T), np.where(y == 0, 1.0, 0.5), atol=1e-6)
    x, _ = toy.make("spiral", 300, 0.0, 1)
    assert np.all((np.hypot(*x.T) >= 0.05 - 1e-6) & (np.hypot(*x.T) <= 1 + 1e-6))
    x, y = toy.make("xor", 300, 0.0, 1)
    assert np.all(np.abs(x) >= toy.XOR_OFFSET - 1e-6) and np.all(np.abs(x) <= 1.1 + 1e-6)
    x, y = toy.make("moons", 300, 0.0, 1)
    centre = np.where(y[:, None] == 0, [0.0, 0.0], [1.0, 0.5])
    np.testing.assert_allclose(np.hypot(*(x - centre).T), 1.0, atol=1e-6)


def test_moons_gap_leaves_its_box_empty():
    """moons_gap: the asked number of points, none in the registered band, reproducible; the
    standardised box maps back to the raw one, and compare finds the box from the registry."""
    x, y = toy.make("moons_gap", 300, 0.1, seed=2)
    assert x.shape == (300, 2) and set(np.unique(y)) == {0, 1}
    x_lo, x_hi, y_lo, y_hi = toy.REGISTRY["moons_gap"].box
    assert not np.any((x[:, 0] > x_lo) & (x[:, 0] < x_hi))
    assert y_lo < x[:, 1].min() + 0.5 and y_hi > x[:, 1].max() - 0.5  # the box spans the moons
    np.testing.assert_array_equal(x, toy.make("moons_gap", 300, 0.1, seed=2)[0])
    mean, scale = np.array([0.5, 0.2]), np.array([0.9, 0.5])
    lo0, hi0, lo1, hi1 = toy.gap_box("moons_gap", mean, scale)
    np.testing.assert_allclose([lo0 * 0.9 + 0.5, hi0 * 0.9 + 0.5, lo1 * 0.5 + 0.2,
                                hi1 * 0.5 + 0.2], [x_lo, x_hi, y_lo, y_hi], atol=1e-9)
    assert toy.gap_box("moons", mean, scale) is None
    assert compare.build_data("moons_gap", 300, 0.1, 0.25, 2).gap is not None
    assert compare.build_data("moons", 300, 0.1, 0.25, 2).gap is None


def test_make_rejects_bad_arguments():
    """Unknown names, too many points and bad noise raise DataError naming the problem."""
    with pytest.raises(DataError, match="unknown dataset"):
        toy.make("banana", 10, 0.1, 0)
    with pytest.raises(DataError, match="num_points"):
        toy.make("moons", limits.MAX_POINTS + 1, 0.1, 0)
    with pytest.raises(DataError, match="noise"):
        toy.make("moons", 10, float("nan"), 0)


def test_prepare_splits_and_standardises_with_train_statistics():
    """Split sizes follow test_fraction; the train part is standardised to mean 0, std 1."""
    x, y = toy.make("gaussians", 200, 0.2, 0)
    data = toy.prepare(x, y, 0.25, seed=0)
    assert len(data.x_train) == 150 and len(data.x_test) == 50
    np.testing.assert_allclose(data.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(data.x_train.std(0), 1, atol=1e-4)
    restored = np.concatenate([data.x_train, data.x_test]) * data.scale + data.mean
    np.testing.assert_allclose(np.sort(restored, axis=0), np.sort(x, axis=0), atol=1e-4)
