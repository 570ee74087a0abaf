"""Number formatting of the report: figures, counts, intervals and parameters as people write them
(``fmt_num``, ``fmt_count``), and the one-line text of an exception for error messages."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def _float(value: Any) -> float | None:
    """A finite float, or None for None / NaN / inf / non-numbers."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _g(value: float) -> str:
    """Short form of a parameter such as a tolerance or an FMR target (1e-3, 0.95, 2)."""
    v = float(value)
    if v != 0 and abs(v) < 1e-2:
        mantissa, exponent = f"{v:.0e}".split("e")
        if float(mantissa) * 10 ** int(exponent) == v:
            return f"{mantissa}e{int(exponent)}"
    return f"{v:g}"


def _target(value: float) -> str:
    """An FMR target as people write it: 1e-3, 1e-2, 0.1."""
    v = float(value)
    if 0 < v < 0.1:
        mantissa, exponent = f"{v:.0e}".split("e")
        if float(f"{mantissa}e{exponent}") == v:
            return f"{mantissa}e{int(exponent)}"
    return f"{v:g}"


def fmt_num(value: Any, *, digits: int = 4, missing: str = "n/a") -> str:
    """Format a number for a table or a sentence.

    Integers get thousands separators; rates below 1e-3 scientific notation
    (``9.99e-04``); other numbers ``digits`` significant digits; None and NaN
    become ``missing``.
    """
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (numbers.Integral, np.integer)):
        return f"{int(value):,}"
    v = _float(value)
    if v is None:
        if isinstance(value, str):
            return value
        return missing
    if v == 0:
        return "0"
    a = abs(v)
    if a < 1e-3:
        return f"{v:.{max(digits - 2, 1)}e}"
    if a >= 10 ** digits:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def fmt_count(value: Any) -> str:
    """An integer count with thousands separators (floats from JSON included)."""
    v = _float(value)
    return "n/a" if v is None else f"{int(round(v)):,}"


def _fmt_like(value: Any, ref: Any) -> str:
    """``value`` with as many decimals as 3 significant digits of ``ref`` need.

    So that a value and its interval read alike: ``0.832 (0.800–0.864)``
    rather than ``0.832 (0.8–0.864)``. Rates below 1e-3 stay scientific.
    """
    v, r = _float(value), _float(ref)
    if v is None:
        return fmt_num(value, digits=3)
    if r is None or r == 0 or abs(r) < 1e-3 or abs(r) >= 1e4:
        return fmt_num(v, digits=3)
    decimals = min(max(2 - int(math.floor(math.log10(abs(r)))), 0), 6)
    return f"{v:.{decimals}f}"


def _ci_text(low: Any, high: Any, level: float | None, *, ref: Any = None) -> str:
    lo, hi = _float(low), _float(high)
    if lo is None or hi is None:
        return ""
    pct = f"{100 * level:g} % " if level else ""
    if ref is None:
        return f"{pct}CI {fmt_num(lo, digits=3)}–{fmt_num(hi, digits=3)}"
    return f"{pct}CI {_fmt_like(lo, ref)}–{_fmt_like(hi, ref)}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
