"""bnnlab.data: the shipped digits, the split, the optdigits rendering, the generated OOD set
and the canvas's strokes, checked against exact references where there is one."""

from __future__ import annotations

import numpy as np
import pytest

from bnnlab.core.errors import DataError
from bnnlab.data import digits as digits_module
from bnnlab.data import drawing, ood, render
from bnnlab.data.digits import load_digits, split_digits


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def ood_set():
    return ood.make_ood_set(0)


def test_load_digits_shapes_values_and_classes(digits):
    """1,797 images of 64 integer pixels in 0..16, labels 0–9 with the UCI class counts."""
    x, y = digits
    assert x.shape == (1797, 64) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int32
    assert x.min() == 0 and x.max() == 16 and np.all(x == np.round(x))
    np.testing.assert_array_equal(np.bincount(y),
                                  [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])


def test_missing_file_is_a_clear_data_error(tmp_path):
    """A missing file raises DataError naming the file and how to restore it."""
    with pytest.raises(DataError, match="is missing.*restore"):
        load_digits(tmp_path / "nope.npz")


def test_corrupt_file_is_a_clear_data_error(tmp_path):
    """Garbage bytes and a truncated archive raise DataError, not a zipfile/numpy error."""
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(DataError, match="cannot be read"):
        load_digits(garbage)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(digits_module.DIGITS_PATH.read_bytes()[:5000])
    with pytest.raises(DataError):
        load_digits(truncated)


def test_modified_contents_fail_the_checksum(tmp_path, digits):
    """A readable archive whose pixels differ by one count is rejected by the checksum;
    wrong shapes are rejected by name."""
    x, y = digits
    changed = x.astype(np.uint8).copy()
    changed[0, 0] += 1
    path = tmp_path / "changed.npz"
    np.savez_compressed(path, images=changed, labels=y.astype(np.uint8))
    with pytest.raises(DataError, match="checksum"):
        load_digits(path)
    np.savez_compressed(path, images=changed[:10], labels=y[:10].astype(np.uint8))
    with pytest.raises(DataError, match="shapes"):
        load_digits(path)


def test_split_is_stratified_disjoint_and_seeded(digits):
    """Train and test partition the indices; per class round(n_c / 4) test images; the same
    seed gives the same split and another seed another."""
    _, y = digits
    train, test = split_digits(y, 0.25, seed=3)
    assert len(np.intersect1d(train, test)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(y)))
    np.testing.assert_array_equal(np.bincount(y[test]), np.round(np.bincount(y) * 0.25))
    again_train, again_test = split_digits(y, 0.25, seed=3)
    np.testing.assert_array_equal(test, again_test)
    np.testing.assert_array_equal(train, again_train)
    assert not np.array_equal(test, split_digits(y, 0.25, seed=4)[1])
    with pytest.raises(ValueError):
        split_digits(y, 1.0)


def test_ink_constants_match_the_shipped_digits(digits):
    """render.DIGIT_INK_MEAN/STD are the digits' on-pixels per bitmap (sum of the counts)."""
    ink = digits[0].sum(axis=1)
    assert ink.mean() == pytest.approx(render.DIGIT_INK_MEAN, abs=0.05)
    assert ink.std() == pytest.approx(render.DIGIT_INK_STD, abs=0.05)


def test_block_counts_counts_each_4x4_block():
    """A bitmap with k pixels on in block k (k = 0..15 over the first 16 blocks) counts k."""
    bitmap = np.zeros((32, 32), dtype=bool)
    for k in range(16):
        br, bc = divmod(k, 8)
        block = np.zeros(16, dtype=bool)
        block[:k] = True
        bitmap[4 * br:4 * br + 4, 4 * bc:4 * bc + 4] = block.reshape(4, 4)
    bitmap[28:32, 28:32] = True
    counts = render.block_counts(bitmap)
    np.testing.assert_array_equal(counts[:16], np.arange(16))
    assert counts[63] == 16 and counts[16:63].sum() == 0


def test_rasterize_horizontal_line_exact_pixels():
    """A pen of radius 1.75 along y = 6 from x = 4 to 28 covers rows 4–7, columns 3–28 plus
    the round caps (pixel centres within 1.75 of the segment)."""
    bitmap = render.rasterize_strokes([np.array([[4.0, 6.0], [28.0, 6.0]])], 1.75)
    cy, cx = np.mgrid[0:32, 0:32] + 0.5
    dx = np.maximum(np.maximum(4.0 - cx, cx - 28.0), 0.0)
    expected = np.hypot(dx, cy - 6.0) <= 1.75
    np.testing.assert_array_equal(bitmap, expected)
    assert set(np.flatnonzero(bitmap.any(axis=1))) == {4, 5, 6, 7}


def test_grid_distance_equals_brute_force_and_thicken_hits_the_ink():
    """The offset-based distance equals the brute-force one within its reach; thickening gives
    exactly `ink` pixels, all of the core first when the core is lighter, the deepest core
    pixels when it is heavier."""
    rng = np.random.default_rng(0)
    for density in (0.003, 0.05, 0.4):
        core = rng.random((32, 32)) < density
        core[5, 5] = True
        fast = render.grid_distance(core)
        slow = render.point_distance(render._CENTRES[core.reshape(-1)])
        finite = np.isfinite(fast)
        np.testing.assert_allclose(fast[finite], slow[finite])
        assert np.all(slow[~finite] > 8)
    core = np.zeros((32, 32), dtype=bool)
    core[8:24, 14:18] = True  # 64 pixels
    grown = render.thicken_to_ink(render.signed_grid_distance(core, 300), 300)
    assert grown.sum() == 300 and np.all(grown[core])
    thinned = render.thicken_to_ink(render.signed_grid_distance(core), 32)
    assert thinned.sum() == 32 and np.all(thinned <= core)
    assert thinned[9:23, 15:17].all()  # the 28 pixels at depth 2 (the rest are at depth 1)


def test_normalize_strokes_fills_the_box_and_centres():
    """A vertical line drawn in a corner is scaled to span the box less the 2-pixel pen margin
    and moved to the centre column."""
    (line,) = render.normalize_strokes([np.array([[2.0, 1.0], [2.0, 9.0]])])
    np.testing.assert_allclose(line, [[16.0, 1.0], [16.0, 31.0]])
    (dot,) = render.normalize_strokes([np.array([[3.0, 3.0]])], offset=(1.0, -1.0))
    np.testing.assert_allclose(dot, [[17.0, 15.0]])


@pytest.mark.slow
def test_ood_set_kinds_shapes_and_value_range(ood_set):
    """Every kind is float32[n, 64], integer-valued in 0..16, with the documented sizes."""
    assert tuple(ood_set) == ood.OOD_KINDS
    sizes = {kind: len(v) for kind, v in ood_set.items()}
    assert sizes == {"letters": 1170, "noise": 200, "blank": 20, "inverted": 200,
                     "rotated": 200}
    for kind, images in ood_set.items():
        assert images.dtype == np.float32 and images.shape[1] == 64, kind
        assert images.min() >= 0 and images.max() <= 16, kind
        assert np.all(images == np.round(images)), kind
    assert np.all(ood_set["blank"][0] == 0) and ood_set["blank"].sum(axis=1).max() <= 12


@pytest.mark.slow
def test_letters_carry_the_digits_ink(ood_set, digits):
    """Letters are stroke-width normalised like the digits: mean ink within 2% and the share
    of empty blocks within 0.05 of the digits'."""
    letters, x = ood_set["letters"], digits[0]
    assert letters.sum(axis=1).mean() == pytest.approx(x.sum(axis=1).mean(), rel=0.02)
    assert (letters == 0).mean() == pytest.approx((x == 0).mean(), abs=0.05)
    assert np.all(letters.sum(axis=1) > 150)  # no glyph came out (nearly) empty


@pytest.mark.slow
def test_ood_generation_is_deterministic_per_seed():
    """Same seed, same images; another seed, other placements."""
    a, letters_a, styles_a = ood.make_letters(7, num_variants=1)
    b, letters_b, styles_b = ood.make_letters(7, num_variants=1)
    np.testing.assert_array_equal(a, b)
    assert letters_a == letters_b and styles_a == styles_b
    assert not np.array_equal(a, ood.make_letters(8, num_variants=1)[0])
    np.testing.assert_array_equal(ood.make_noise(7), ood.make_noise(7))
    assert not np.array_equal(ood.make_noise(7), ood.make_noise(8))


@pytest.mark.slow
def test_inverted_and_rotated_digits_come_from_the_test_split(ood_set, digits):
    """16 − inverted and the un-rotated images are test-split digits (seed 0), and rotations
    of 180° never apply to 0, 1, 6, 8, 9."""
    x, y = digits
    _, test_idx = split_digits(y, 0.25, seed=0)
    test_rows = {row.tobytes() for row in x[test_idx]}
    assert all((16 - img).tobytes() in test_rows for img in ood_set["inverted"])
    by_row = {x[i].tobytes(): y[i] for i in test_idx}
    for img in ood_set["rotated"]:
        square = img.reshape(8, 8)
        sources = {k: by_row.get(np.rot90(square, -k).astype(np.float32).reshape(64).tobytes())
                   for k in (1, 2, 3)}
        matches = {k: label for k, label in sources.items() if label is not None}
        assert matches, "a rotated image that is no rotated test digit"
        if set(matches) == {2}:
            assert matches[2] not in (0, 1, 6, 8, 9)


def test_parse_strokes_accepts_drawings_and_rejects_the_rest():
    """None and [] are empty; points are clamped to the bitmap; wrong types, NaN, booleans
    and oversized drawings raise DrawingError."""
    assert drawing.parse_strokes(None) == [] and drawing.parse_strokes([]) == []
    (s,) = drawing.parse_strokes([[[-3, 5], [40.5, 6]], []])
    np.testing.assert_array_equal(s, [[0, 5], [32, 6]])
    for bad in ("x", {"a": 1}, [1, 2], [[[1, 2, 3]]], [[[float("nan"), 1]]], [[[True, 1]]],
                [[["1", 2]]], [[[0, 0]]] * (drawing.MAX_STROKES + 1),
                [[[1, 1]] * (drawing.MAX_POINTS + 1)]):
        with pytest.raises(drawing.DrawingError):
            drawing.parse_strokes(bad)


def test_the_canvas_sends_only_what_parse_strokes_accepts():
    """ui/draw_canvas.js checks a value before sending it (a hostile one broke Streamlit's
    JSON decoding on the server, issue 29) with the same limits as parse_strokes."""
    import re
    from pathlib import Path

    js = (Path(__file__).resolve().parents[2] / "ui" / "draw_canvas.js").read_text()
    limits = dict(re.findall(r"const (MAX_STROKES|MAX_POINTS) = (\d+);", js))
    assert limits == {"MAX_STROKES": str(drawing.MAX_STROKES),
                      "MAX_POINTS": str(drawing.MAX_POINTS)}


def test_drawing_empty_and_saturated():
    """An empty drawing is zeros in both forms; a canvas scribbled over everywhere is 16
    everywhere as drawn, and its normalised form is thinned to the digits' ink."""
    empty = drawing.drawing_from_strokes([])
    assert not empty.image.any() and not empty.normalized.any()
    zigzag = np.array([[x, y] for i, y in enumerate(np.arange(0, 32.5, 1.0))
                       for x in ((0, 32) if i % 2 == 0 else (32, 0))])
    full = drawing.drawing_from_strokes([zigzag])
    np.testing.assert_array_equal(full.image, 16)
    assert full.normalized.sum() == round(render.DIGIT_INK_MEAN)


def test_drawing_normalized_centres_a_stroke_drawn_off_centre():
    """A short vertical stroke at the left edge: `image` has ink only in block column 0;
    `normalized` is centred (columns 3 and 4) with the digits' ink."""
    d = drawing.drawing_from_strokes([np.array([[2.0, 10.0], [2.0, 20.0]])])
    image = d.image.reshape(8, 8)
    assert image[:, 0].sum() > 0 and image[:, 1:].sum() == 0
    normalized = d.normalized.reshape(8, 8)
    assert normalized.sum() == round(render.DIGIT_INK_MEAN)
    assert normalized[:, 3:5].sum() > 0.8 * normalized.sum()
    # Symmetric up to the one pixel that equal distances give to the lower index (313 is odd).
    assert abs(normalized[:, :3].sum() - normalized[:, 5:].sum()) <= 1


@pytest.mark.slow
def test_windowed_stroke_distance_is_exact_within_reach():
    """`stroke_distance(..., reach=r)` equals the all-pixel distance wherever that is ≤ r and
    is inf elsewhere (random polylines, some leaving the bitmap)."""
    rng = np.random.default_rng(5)
    for _ in range(30):
        strokes = [rng.uniform(-2, 34, size=(rng.integers(1, 30), 2))
                   for _ in range(rng.integers(1, 4))]
        full = render.stroke_distance(strokes)
        part = render.stroke_distance(strokes, reach=3.0)
        np.testing.assert_array_equal(np.isfinite(part), full <= 3.0)
        np.testing.assert_allclose(part[np.isfinite(part)], full[full <= 3.0])
