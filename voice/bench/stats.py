"""Summaries of measured times: the median and the 90th percentile of whatever was measured, and nothing else.

Pure functions on plain numbers; `None` stands for "not measured" (a turn without that figure) and is left out.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def present(values: Iterable[float | None]) -> list[float]:
    """The values that were measured, in order."""
    return [float(v) for v in values if v is not None]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation between the closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0–100")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def median(values: Iterable[float | None]) -> float | None:
    """The median of the measured values; None when there are none."""
    got = present(values)
    return statistics.median(got) if got else None


def p90(values: Iterable[float | None]) -> float | None:
    """The 90th percentile of the measured values; None when there are none."""
    got = present(values)
    return percentile(got, 90) if got else None


def summarize(
    rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """({key: median}, {key: p90}) over the rows' values of each key, rounded to 0.1 (ms)."""

    def rounded(v: float | None) -> float | None:
        return None if v is None else round(v, 1)

    medians = {k: rounded(median(r.get(k) for r in rows)) for k in keys}
    p90s = {k: rounded(p90(r.get(k) for r in rows)) for k in keys}
    return medians, p90s
