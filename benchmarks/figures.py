"""What a benchmark produces: figures (runs of one quantity) collected per section in a `Report`."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from voice.bench.progress import say  # progress on stderr, shared with `hark bench`

__all__ = ["Figure", "Report", "fig", "perf", "say"]


@dataclass
class Figure:
    """One measured quantity: its runs, shown as the median with min and max."""

    label: str
    unit: str  # "s", "ms", "µs", "%", "MB", "" (a ratio such as WER or RTF)
    values: list[float]
    facts: str = ""  # the comparable figure in FACTS.md (the anchor), as text
    value: float | None = None  # shown instead of the median (e.g. a 10 s average)
    lo: float | None = None  # min/max overrides (e.g. the 1 s windows of that average)
    hi: float | None = None

    @property
    def main(self) -> float:
        return self.value if self.value is not None else statistics.median(self.values)

    @property
    def low(self) -> float | None:
        return self.lo if self.lo is not None else (min(self.values) if len(self.values) > 1 else None)

    @property
    def high(self) -> float | None:
        return self.hi if self.hi is not None else (max(self.values) if len(self.values) > 1 else None)

    def fmt(self, v: float | None) -> str:
        """A value in this figure's unit, rounded as the report shows it."""
        if v is None:
            return "–"
        if self.unit == "ms":
            return f"{v:.0f} ms"
        if self.unit == "s":
            return f"{v:.2f} s" if v < 10 else f"{v:.1f} s"
        if self.unit == "µs":
            return f"{v:.1f} µs"
        if self.unit == "%":
            return f"{v:.1f} %"
        if self.unit == "MB":
            return f"{v:.0f} MB"
        return f"{v:.3f}"


def fig(label: str, unit: str, values: list[float], facts: str = "", **kw: Any) -> Figure:
    """A figure from any numbers (numpy scalars included)."""
    return Figure(label, unit, [float(v) for v in values], facts, **kw)


@dataclass
class Report:
    """Everything one benchmark run measured, section by section."""

    runs: int
    quick: bool
    started: datetime = field(default_factory=lambda: datetime.now().astimezone())
    figures: dict[str, dict[str, Figure]] = field(default_factory=dict)  # section -> key -> figure
    errors: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # per-file tables, per-turn rows (JSON-friendly)
    seconds: dict[str, float] = field(default_factory=dict)
    background: dict[str, float] = field(default_factory=dict)  # section -> % of the CPU used by other programs

    def add(self, section: str, key: str, figure: Figure) -> Figure:
        self.figures.setdefault(section, {})[key] = figure
        return figure

    def get(self, section: str, key: str) -> Figure | None:
        return self.figures.get(section, {}).get(key)

    def value(self, section: str, key: str) -> float | None:
        """The figure's main value, or None if it was not measured."""
        f = self.get(section, key)
        return f.main if f else None


def perf() -> float:
    return time.perf_counter()
