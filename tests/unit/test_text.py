"""bnnlab.text.fmt: numbers for pages and the CLI, never a negative zero."""

import math

import pytest

from bnnlab.core.text import fmt


@pytest.mark.parametrize("value,kwargs,expected", [
    (-1e-9, {}, "0.000"),  # f"{-1e-9:.3f}" is "-0.000"
    (-0.0, {}, "0.000"),
    (-0.0004, {}, "0.000"),
    (-0.0005001, {}, "-0.001"),
    (-0.0006, {"minus": "−"}, "−0.001"),
    (1.23456, {}, "1.235"),
    (1.23456, {"digits": 1}, "1.2"),
    (-1e-7, {"digits": 5}, "0.00000"),
    (-0.0, {"spec": "g"}, "0"),
    (-1e-9, {"spec": "g"}, "-1e-09"),  # significant digits: not zero
    (-0.0, {"digits": 2, "spec": "e"}, "0.00e+00"),
    (0.0, {"sign": "+", "digits": 4}, "0.0000"),  # no "+0.0000" either
    (-3e-5, {"sign": "+", "digits": 4}, "0.0000"),
    (0.25, {"sign": "+", "digits": 4}, "+0.2500"),
    (-0.25, {"sign": "+", "digits": 4}, "-0.2500"),
    (None, {}, "—"),
    (math.nan, {}, "—"),
    (math.nan, {"missing": "n/a"}, "n/a"),
    (math.inf, {}, "∞"),
    (-math.inf, {}, "−∞"),
])
def test_fmt_never_prints_a_negative_zero(value, kwargs, expected):
    """Each case against its exact string: a value that rounds to zero prints unsigned."""
    assert fmt(value, **kwargs) == expected


def test_fmt_matches_format_away_from_zero():
    """Where the result is not zero, fmt is Python's own format (values and digits swept)."""
    for value in (-123.456, -2.25, -1.5, 0.02, 7.0, 1e6):
        for digits in (0, 1, 3, 5):
            assert fmt(value, digits) == format(value, f".{digits}f")
