"""Shipped and generated image data: the 8×8 digits (`digits`), the optdigits rendering
(`render`), out-of-distribution images (`ood`) and the drawing canvas's strokes (`drawing`)."""

from bnnlab.data.digits import DataError, load_digits, split_digits

__all__ = ["DataError", "load_digits", "split_digits"]
