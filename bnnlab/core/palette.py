"""Class colours shared by every page, so a class looks the same everywhere.

One palette, defined here only: the first five colours of Okabe & Ito's colour-blind-safe set
("Color Universal Design", 2008), in an order that keeps the two binary classes orange and blue.
Chapter 2's figures, chapter 4's live maps and the Compare page's maps read it (the canvas
components through the payload's `classes` field, `class_legend`), so nothing in JavaScript
repeats it.

The mean-prediction map colours a cell by its predicted class, with the confidence as
saturation: white where the classes are equally likely (p̄_max = 1/K), the class's light tint
(`light`) where the network is certain. For two classes this is the familiar P(class 1) scale
from orange through white to blue (`PROBABILITY_COLORSCALE`).
"""

from __future__ import annotations

MAX_CLASSES = 5
# Okabe–Ito: orange, blue, bluish green, reddish purple, vermillion.
CLASS_COLOURS = ("#e69f00", "#0072b2", "#009e73", "#cc79a7", "#d55e00")
# for widget labels ("Add class 0 (orange)")
COLOUR_NAMES = ("orange", "blue", "green", "pink", "red")
NEUTRAL = "#f7f7f7"  # the map's colour where every class is equally likely
LIGHTEN = 0.35  # a certain cell is the class colour this far towards white (points stay visible)


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def light(colour: str, amount: float = LIGHTEN) -> str:
    """`colour` ('#rrggbb') mixed `amount` of the way towards white, as '#rrggbb'."""
    return "#" + "".join(f"{round(c + amount * (255 - c)):02x}" for c in _rgb(colour))


def class_colour(k: int) -> str:
    """The colour of class `k` (0 ≤ k < MAX_CLASSES)."""
    return CLASS_COLOURS[int(k)]


def class_name(k: int) -> str:
    """'class k (colour)': how a widget names class `k`."""
    return f"class {k} ({COLOUR_NAMES[int(k)]})"


def class_legend(num_classes: int, labels: tuple[str, ...] | None = None) -> list[dict]:
    """`[{"label": str, "color": "#rrggbb"}, ...]` with K = `num_classes` entries: what the
    canvas components colour classes by and draw their legends from."""
    if not 2 <= num_classes <= MAX_CLASSES:
        raise ValueError(f"num_classes must be between 2 and {MAX_CLASSES}; got {num_classes}")
    names = labels or tuple(f"class {k}" for k in range(num_classes))
    return [{"label": names[k], "color": CLASS_COLOURS[k]} for k in range(num_classes)]


def _css(colour: str) -> str:
    return "rgb({},{},{})".format(*_rgb(colour))


# P(class 1) from 0 to 1 (two classes): class 0's tint → white → class 1's tint.
PROBABILITY_COLORSCALE = [[0.0, _css(light(CLASS_COLOURS[0]))], [0.5, _css(NEUTRAL)],
                          [1.0, _css(light(CLASS_COLOURS[1]))]]
