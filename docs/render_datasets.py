"""Render every registered dataset at its default noise (and the spiral at the old raw noise
0.15) as one PNG, with Pillow only: `python3 docs/render_datasets.py docs/toy.png`."""

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python docs/…` from anywhere

from bnnlab.data import toy  # noqa: E402

PANEL, PAD = 260, 24
COLOURS = ((31, 119, 180), (214, 39, 40))


def panel(title: str, x: np.ndarray, y: np.ndarray) -> Image.Image:
    img = Image.new("RGB", (PANEL, PANEL + PAD), "white")
    draw = ImageDraw.Draw(img)
    draw.text((6, 4), title, fill="black")
    lo, hi = x.min(0), x.max(0)
    span = float((hi - lo).max()) or 1.0
    centre = (lo + hi) / 2
    pix = (x - centre) / span * (PANEL - 20) + PANEL / 2
    for (u, v), c in zip(pix, y, strict=True):
        v = PANEL - v + PAD
        draw.ellipse((u - 2, v - 2, u + 2, v + 2), fill=COLOURS[int(c)])
    return img


def main(out: str) -> None:
    panels = []
    for name, spec in toy.REGISTRY.items():
        x, y = toy.make(name, 512, spec.default_noise, seed=0)
        panels.append(panel(f"{name}, noise {spec.default_noise:g}", x, y))
    x, y = toy.make("spiral", 512, 0.15 / toy.REGISTRY["spiral"].noise_scale, seed=0)
    panels.append(panel("spiral before (raw std 0.15)", x, y))
    cols = 4
    rows = -(-len(panels) // cols)
    sheet = Image.new("RGB", (cols * PANEL, rows * (PANEL + PAD)), "white")
    for i, p in enumerate(panels):
        sheet.paste(p, ((i % cols) * PANEL, (i // cols) * (PANEL + PAD)))
    sheet.save(out)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/toy.png")
