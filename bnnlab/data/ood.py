"""Out-of-distribution images in the digits' own format (8×8, integers 0..16), generated
locally and deterministically per seed: letters, noise, blank, inverted and rotated digits.

Letters are made the way optdigits was (`bnnlab.data.render`): a glyph is size-normalised into
the 32×32 box (height filled, aspect kept, centred), its stroke grown until the bitmap carries
as many on-pixels as a digit (a per-image target drawn from the digits' own ink distribution),
and counted in 4×4 blocks. Glyph sources need nothing beyond the pip dependencies, so the set is
the same on a fresh machine with no system fonts:
- Pillow's embedded scalable font (Aileron Regular, `ImageFont.load_default(size=...)`), as
  regular, bold (Pillow's `stroke_width`) and italic (a 0.25 shear) glyphs;
- Pillow's embedded bitmap font (`ImageFont.load_default_imagefont()`), a blocky second design;
- a single-stroke capital alphabet drawn from polylines below (handwriting-like, the way a
  learner draws on the canvas), with a random aspect ratio.
Each glyph is also rotated by a random angle in ±8°, placed in a box of 32, 30 or 28 pixels and
moved by −1, 0 or +1 pixel in x and y.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bnnlab.data import render
from bnnlab.data.digits import load_digits, split_digits

LETTERS = string.ascii_uppercase + string.ascii_lowercase  # 52
PIL_STYLES = ("regular", "bold", "italic", "bitmap")
BOX_HEIGHTS = (32, 30, 28)
MAX_ROTATION_DEG = 8.0
NUM_VARIANTS = 5  # per (letter, style): 52 × 4 × 5 + 26 × 5 = 1,170 letters
NUM_NOISE = 200
NUM_BLANK = 20
NUM_INVERTED = 200
NUM_ROTATED = 200
OOD_KINDS = ("letters", "noise", "blank", "inverted", "rotated")
_GLYPH_SIZE = 64  # font size for the scalable glyphs before normalisation
# Digits whose 180° rotation is (close to) a digit: left out of the 180° rotations.
_SELF_SIMILAR_180 = (0, 1, 6, 8, 9)


def _arc(cx: float, cy: float, rx: float, ry: float, deg0: float, deg1: float,
         num: int = 16) -> list[tuple[float, float]]:
    """Points on an ellipse arc; angles in degrees, 0 = right, 90 = down (y points down)."""
    t = np.radians(np.linspace(deg0, deg1, num))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in t]


# Single-stroke capitals in a unit box (x right, y down): lists of polylines.
STROKE_LETTERS: dict[str, list[list[tuple[float, float]]]] = {
    "A": [[(0, 1), (0.5, 0), (1, 1)], [(0.25, 0.55), (0.75, 0.55)]],
    "B": [[(0, 0), (0, 1)], [(0, 0), (0.55, 0)] + _arc(0.55, 0.25, 0.35, 0.25, -90, 90)
          + [(0, 0.5)], [(0, 0.5), (0.6, 0.5)] + _arc(0.6, 0.75, 0.4, 0.25, -90, 90) + [(0, 1)]],
    "C": [_arc(0.5, 0.5, 0.5, 0.5, -45, -315)],
    "D": [[(0, 0), (0, 1)], [(0, 0), (0.4, 0)] + _arc(0.4, 0.5, 0.6, 0.5, -90, 90) + [(0, 1)]],
    "E": [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.8, 0.5)]],
    "F": [[(1, 0), (0, 0), (0, 1)], [(0, 0.5), (0.8, 0.5)]],
    "G": [_arc(0.5, 0.5, 0.5, 0.5, -45, -360) + [(0.55, 0.5)]],
    "H": [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],
    "I": [[(0.5, 0), (0.5, 1)], [(0.2, 0), (0.8, 0)], [(0.2, 1), (0.8, 1)]],
    "J": [[(0.8, 0), (0.8, 0.7)] + _arc(0.45, 0.7, 0.35, 0.3, 0, 180)],
    "K": [[(0, 0), (0, 1)], [(0.9, 0), (0, 0.6)], [(0.3, 0.4), (1, 1)]],
    "L": [[(0, 0), (0, 1), (0.9, 1)]],
    "M": [[(0, 1), (0, 0), (0.5, 0.6), (1, 0), (1, 1)]],
    "N": [[(0, 1), (0, 0), (1, 1), (1, 0)]],
    "O": [_arc(0.5, 0.5, 0.5, 0.5, 0, 360, 24)],
    "P": [[(0, 1), (0, 0), (0.6, 0)] + _arc(0.6, 0.27, 0.4, 0.27, -90, 90) + [(0, 0.54)]],
    "Q": [_arc(0.5, 0.5, 0.5, 0.5, 0, 360, 24), [(0.6, 0.7), (1, 1.05)]],
    "R": [[(0, 1), (0, 0), (0.6, 0)] + _arc(0.6, 0.27, 0.4, 0.27, -90, 90) + [(0, 0.54)],
          [(0.4, 0.54), (1, 1)]],
    "S": [_arc(0.5, 0.25, 0.45, 0.25, -20, -270) + _arc(0.5, 0.75, 0.45, 0.25, -90, 160)],
    "T": [[(0, 0), (1, 0)], [(0.5, 0), (0.5, 1)]],
    "U": [[(0, 0), (0, 0.6)] + _arc(0.5, 0.6, 0.5, 0.4, 180, 0) + [(1, 0)]],
    "V": [[(0, 0), (0.5, 1), (1, 0)]],
    "W": [[(0, 0), (0.25, 1), (0.5, 0.3), (0.75, 1), (1, 0)]],
    "X": [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],
    "Y": [[(0, 0), (0.5, 0.5), (1, 0)], [(0.5, 0.5), (0.5, 1)]],
    "Z": [[(0, 0), (1, 0), (0, 1), (1, 1)]],
}


@lru_cache(maxsize=1)
def _fonts() -> tuple[ImageFont.FreeTypeFont, ImageFont.ImageFont]:
    return ImageFont.load_default(size=_GLYPH_SIZE), ImageFont.load_default_imagefont()


def _glyph_image(letter: str, style: str) -> Image.Image:
    """The letter as a greyscale 'L' image, white on black, before normalisation."""
    scalable, bitmap_font = _fonts()
    if style == "bitmap":
        image = Image.new("L", (24, 24), 0)
        ImageDraw.Draw(image).text((6, 4), letter, font=bitmap_font, fill=255)
        # Each font pixel becomes 8×8, so the glyph is blocky but has the same core size.
        return image.resize((24 * 8, 24 * 8), Image.NEAREST)
    side = 2 * _GLYPH_SIZE
    image = Image.new("L", (side, side), 0)
    stroke = 3 if style == "bold" else 0
    ImageDraw.Draw(image).text((side // 2, side // 2), letter, font=scalable, fill=255,
                               anchor="mm", stroke_width=stroke, stroke_fill=255)
    if style == "italic":
        shear = 0.25
        image = image.transform(image.size, Image.AFFINE, (1, shear, -shear * side / 2, 0, 1, 0),
                                resample=Image.BICUBIC, fillcolor=0)
    return image


def _glyph_to_image(glyph: Image.Image, angle_deg: float, box_height: float,
                    offset: tuple[float, float], ink: float) -> np.ndarray:
    """A glyph image -> float32[64] the optdigits way: rotated by `angle_deg`, its bounding
    box scaled to `box_height` pixels high (or 32 wide, whichever binds first; box-filtered
    coverage), centred and offset in the 32×32 bitmap; the pixels at least half covered are
    its core, grown or thinned to `ink` on-pixels by `render.thicken_to_ink`."""
    rotated = glyph.rotate(angle_deg, resample=Image.BICUBIC, expand=True, fillcolor=0)
    bbox = rotated.point(lambda v: 255 if v >= 128 else 0).getbbox()
    if bbox is None:
        return np.zeros(64, dtype=np.float32)
    cropped = rotated.crop(bbox)
    width, height = cropped.size
    scale = min((box_height - 1) / height, (render.BITMAP - 1) / width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    small = np.asarray(cropped.resize((new_w, new_h), Image.BOX), dtype=np.float64) / 255.0
    coverage = np.zeros((render.BITMAP, render.BITMAP))
    left = int(np.clip(round((render.BITMAP - new_w) / 2 + offset[0]), 0, render.BITMAP - new_w))
    top = int(np.clip(round((render.BITMAP - new_h) / 2 + offset[1]), 0, render.BITMAP - new_h))
    coverage[top:top + new_h, left:left + new_w] = small
    core = coverage >= 0.5
    if not core.any():
        core = coverage >= coverage.max()
    distance = render.signed_grid_distance(core, min_reach=int(round(ink)))
    bitmap = render.thicken_to_ink(distance, int(round(ink)), tie_break=coverage)
    return render.block_counts(bitmap)


def _rotate_strokes(strokes: list[np.ndarray], angle_deg: float) -> list[np.ndarray]:
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return [s @ rot.T for s in strokes]


def _draw_params(rng: np.random.Generator) -> tuple[float, float, tuple[float, float], float]:
    """(rotation in degrees, box height, (dx, dy) offset, ink target) for one glyph."""
    angle = float(rng.uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG))
    box = float(rng.choice(BOX_HEIGHTS))
    offset = (float(rng.integers(-1, 2)), float(rng.integers(-1, 2)))
    ink = float(np.clip(rng.normal(render.DIGIT_INK_MEAN, render.DIGIT_INK_STD), 200, 450))
    return angle, box, offset, ink


def letter_names(num_variants: int = NUM_VARIANTS) -> list[str]:
    """The letter of each image `make_letters` renders, in its order, without rendering."""
    return ([letter for _ in PIL_STYLES for letter in LETTERS for _ in range(num_variants)]
            + [letter for letter in STROKE_LETTERS for _ in range(num_variants)])


def make_letters(seed: int = 0, num_variants: int = NUM_VARIANTS,
                 ) -> tuple[np.ndarray, list[str], list[str]]:
    """-> (images float32[n, 64] in 0..16, letter per image, style per image): every letter of
    `LETTERS` in every style of `PIL_STYLES`, and every capital of `STROKE_LETTERS` as the
    'strokes' style, `num_variants` random placements each (seeded)."""
    rng = np.random.default_rng([seed, 1])
    images, letters, styles = [], [], []
    for style in PIL_STYLES:
        for letter in LETTERS:
            glyph = _glyph_image(letter, style)
            for _ in range(num_variants):
                angle, box, offset, ink = _draw_params(rng)
                images.append(_glyph_to_image(glyph, angle, box, offset, ink))
                letters.append(letter)
                styles.append(style)
    for letter, polylines in STROKE_LETTERS.items():
        for _ in range(num_variants):
            angle, box, offset, ink = _draw_params(rng)
            aspect = float(rng.uniform(0.6, 0.95))
            strokes = [np.asarray(p, dtype=np.float64) * [aspect, 1.0] for p in polylines]
            placed = render.normalize_strokes(_rotate_strokes(strokes, angle), box, offset)
            bitmap = render.thicken_to_ink(render.stroke_distance(placed), int(round(ink)))
            images.append(render.block_counts(bitmap))
            letters.append(letter)
            styles.append("strokes")
    return np.stack(images).astype(np.float32), letters, styles


def make_noise(seed: int = 0, num: int = NUM_NOISE) -> np.ndarray:
    """float32[num, 64]: random 32×32 bitmaps (each pixel on with a per-image probability
    drawn from U(0.1, 0.5); the digits' ink is 0.31 of the bitmap) counted in 4×4 blocks."""
    rng = np.random.default_rng([seed, 2])
    density = rng.uniform(0.1, 0.5, size=(num, 1, 1))
    bitmaps = rng.random((num, render.BITMAP, render.BITMAP)) < density
    return np.stack([render.block_counts(b) for b in bitmaps]).astype(np.float32)


def make_blank(seed: int = 0, num: int = NUM_BLANK) -> np.ndarray:
    """float32[num, 64]: the first image empty, the rest near-empty (1 to 12 stray on-pixels
    of the 32×32 bitmap at random places), as an empty or barely touched canvas gives."""
    rng = np.random.default_rng([seed, 3])
    out = np.zeros((num, 64), dtype=np.float32)
    for i in range(1, num):
        bitmap = np.zeros(render.BITMAP * render.BITMAP, dtype=bool)
        bitmap[rng.choice(bitmap.size, size=int(rng.integers(1, 13)), replace=False)] = True
        out[i] = render.block_counts(bitmap.reshape(render.BITMAP, render.BITMAP))
    return out


def make_inverted(x_source: np.ndarray, seed: int = 0, num: int = NUM_INVERTED) -> np.ndarray:
    """float32[num, 64]: 16 − x for `num` digits drawn without replacement from
    `x_source` float[m, 64] (white digit on a full-ink background)."""
    rng = np.random.default_rng([seed, 4])
    pick = rng.choice(len(x_source), size=min(num, len(x_source)), replace=False)
    return (render.MAX_VALUE - np.asarray(x_source, dtype=np.float32)[pick]).astype(np.float32)


def make_rotated(x_source: np.ndarray, y_source: np.ndarray, seed: int = 0,
                 num: int = NUM_ROTATED) -> np.ndarray:
    """float32[num, 64]: digits from `x_source` rotated by 90°, 180° or 270° (exact on the 8×8
    grid). 0, 1, 6, 8 and 9 are never rotated by 180°: they would be digits again."""
    rng = np.random.default_rng([seed, 5])
    x_source = np.asarray(x_source, dtype=np.float32).reshape(-1, 8, 8)
    y_source = np.asarray(y_source)
    out = []
    for i in rng.choice(len(x_source), size=min(num, len(x_source)), replace=False):
        quarter_turns = int(rng.choice([1, 3] if y_source[i] in _SELF_SIMILAR_180 else [1, 2, 3]))
        out.append(np.rot90(x_source[i], k=quarter_turns).reshape(64))
    return np.stack(out).astype(np.float32)


def make_ood_set(seed: int = 0, test_fraction: float = 0.25,
                 ) -> dict[str, np.ndarray]:
    """The fixed OOD test set: kind -> float32[n, 64] in 0..16, for kinds `OOD_KINDS`.
    Deterministic per seed. Inverted and rotated digits come from the test part of
    `split_digits(y, test_fraction, seed)`, so they never derive from that split's training
    digits. Sizes with the defaults: letters 1,170, noise 200, blank 20, inverted 200,
    rotated 200."""
    x, y = load_digits()
    _, test_idx = split_digits(y, test_fraction=test_fraction, seed=seed)
    makers: dict[str, Callable[[], np.ndarray]] = {
        "letters": lambda: make_letters(seed)[0],
        "noise": lambda: make_noise(seed),
        "blank": lambda: make_blank(seed),
        "inverted": lambda: make_inverted(x[test_idx], seed),
        "rotated": lambda: make_rotated(x[test_idx], y[test_idx], seed),
    }
    return {kind: makers[kind]() for kind in OOD_KINDS}
