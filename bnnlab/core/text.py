"""Number formatting shared by the pages and the CLI: never a negative zero.

Python formats a tiny negative number as "-0.000" (`f"{-1e-9:.3f}"`), which a reader takes for a
sign error (and `st.metric` draws a red arrow for a "-0.000" delta). `fmt` formats, then drops
the sign of a result that reads as zero.
"""

from __future__ import annotations

import math

MISSING = "—"  # what None or NaN prints as


def fmt(value: float | None, digits: int = 3, spec: str = "f", sign: str = "",
        missing: str = MISSING, minus: str = "-") -> str:
    """`value` formatted as `format(value, f"{sign}.{digits}{spec}")` (`spec` "f", "e" or "g";
    `sign` "" or "+"), except that a result reading as zero carries no sign: "0.000", never
    "-0.000" or "+0.000". None or NaN -> `missing`; ±inf -> "∞" / "−∞". `minus` replaces the
    ASCII minus of a negative result (e.g. "−" for prose; keep "-" for `st.metric` deltas, whose
    arrow reads the ASCII sign)."""
    if value is None:
        return missing
    value = float(value)
    if math.isnan(value):
        return missing
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    out = format(value, f"{sign}.{digits}{spec}")
    if out[:1] in ("-", "+") and _reads_as_zero(out[1:]):
        return out[1:]
    return minus + out[1:] if out.startswith("-") else out


def _reads_as_zero(text: str) -> bool:
    """'0', '0.000', '0e+00', '0.00e+00' read as zero; '0.001' and '1e-09' do not."""
    mantissa = text.lower().split("e")[0]
    return set(mantissa) <= {"0", "."} and "0" in mantissa
