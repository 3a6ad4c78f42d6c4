"""Uploaded CSV data: `x1,x2,label` rows, validated line by line, every rejection a `DataError`
that names the problem and the line."""

from __future__ import annotations

import csv
import io
import math

import numpy as np

from bnnlab.core import limits
from bnnlab.core.errors import DataError

MAX_ABS_COORD = 1e6  # larger values overflow float32 statistics when standardising
CSV_NUM_CLASSES = limits.MAX_CLASSES  # labels 0…K−1 with 2 ≤ K ≤ this


def load_csv(data: bytes | str, max_rows: int = limits.MAX_POINTS,
             max_bytes: int = limits.MAX_UPLOAD_BYTES) -> tuple[np.ndarray, np.ndarray]:
    """Parse a CSV of `x1,x2,label` rows (an optional header line) into `(x, y)`.

    Labels are whole numbers 0…K−1 (`parse_label`), K = the largest label + 1, 2 ≤ K ≤
    `CSV_NUM_CLASSES` (5), each class present at least once: K follows from the file. Raises
    `DataError` naming the problem and the line for: too large, not UTF-8, wrong number of
    columns, non-numeric or non-finite coordinates, formula-like cells, a label that is not a
    class (0.5, nan, -1, 5, a word), no rows, too many rows, one class only, a gap in the
    classes (labels 0 and 2 but no 1).
    """
    if isinstance(data, bytes):
        if len(data) > max_bytes:
            raise DataError(f"file is {len(data) / 1e6:.1f} MB; the limit is "
                            f"{max_bytes / 1e6:.0f} MB")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise DataError(f"file is not UTF-8 text (bad byte at offset {err.start})") from None
    else:
        text = data
        if len(text.encode("utf-8")) > max_bytes:
            raise DataError(f"file is larger than {max_bytes / 1e6:.0f} MB")
    coords: list[tuple[float, float]] = []
    labels: list[int] = []
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:
            line = reader.line_num
            cells = [c.strip() for c in row]
            if not any(cells):
                continue
            if len(cells) != 3:
                raise DataError(f"line {line}: expected 3 columns (x1,x2,label), "
                                f"found {len(cells)}")
            if any(c[:1] in ("=", "+", "@") or c.startswith("-=") for c in cells):
                if not _is_number(cells[0]) or not _is_number(cells[1]):
                    raise DataError(f"line {line}: a cell looks like a spreadsheet formula; "
                                    "only numbers are allowed")
            if not coords and not labels and not _is_number(cells[0]) and not _is_number(cells[1]):
                continue  # a header line such as "x1,x2,label"
            try:
                x1, x2 = float(cells[0]), float(cells[1])
            except ValueError:
                bad = cells[0] if not _is_number(cells[0]) else cells[1]
                raise DataError(f"line {line}: {bad[:40]!r} is not a number") from None
            if not (math.isfinite(x1) and math.isfinite(x2)):
                raise DataError(f"line {line}: coordinates must be finite (no NaN or inf)")
            if max(abs(x1), abs(x2)) > MAX_ABS_COORD:
                raise DataError(f"line {line}: coordinates must be within ±{MAX_ABS_COORD:g}")
            if cells[2] == "" or cells[2][:1] in ("=", "+", "@"):
                raise DataError(f"line {line}: the label must be a plain value")
            coords.append((x1, x2))
            labels.append(parse_label(cells[2], line))
            if len(coords) > max_rows:
                raise DataError(f"more than {max_rows} rows (the limit); line {line} is one too "
                                "many")
    except csv.Error as err:
        raise DataError(f"line {reader.line_num}: not valid CSV ({err})") from None
    if not coords:
        raise DataError("no data rows: expected lines of x1,x2,label")
    num_classes = max(labels) + 1
    if num_classes < 2:
        raise DataError("every row has label 0: expected at least two classes (labels 0…K−1, "
                        f"K from 2 to {CSV_NUM_CLASSES})")
    missing = sorted(set(range(num_classes)) - set(labels))
    if missing:
        raise DataError(f"labels must be 0…K−1 with no gap: the largest label is "
                        f"{num_classes - 1}, but no row has label "
                        f"{', '.join(map(str, missing))}")
    y = np.array(labels, np.int32)
    return np.array(coords, np.float32), y


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def parse_label(cell: str, line: int, num_classes: int | None = None) -> int:
    """A CSV label: a whole number 0…K−1 (K = `num_classes`, default `CSV_NUM_CLASSES`); '1',
    '1.0' and '1e0' are all class 1. Anything else (0.5, nan, -1, 2, a word) raises `DataError`
    naming the line, rather than becoming a class of its own."""
    k = CSV_NUM_CLASSES if num_classes is None else num_classes
    expected = f"labels must be whole numbers 0…{k - 1}"
    try:
        value = float(cell)
    except ValueError:
        raise DataError(f"line {line}: label {cell[:40]!r} is not a number; {expected}") from None
    if not math.isfinite(value) or value != int(value) or not 0 <= value < k:
        raise DataError(f"line {line}: label {cell[:40]!r} is not a class; {expected}")
    return int(value)


def to_csv(x: np.ndarray, y: np.ndarray) -> str:
    """The inverse of `load_csv` (labels 0…K−1)."""
    lines = ["x1,x2,label"] + [f"{a:.6g},{b:.6g},{int(c)}" for (a, b), c in zip(x, y, strict=True)]
    return "\n".join(lines) + "\n"
