"""Words for the ear, shared by every skill: lists, counts, clock times, capitals.

One home for each of these, so "noon" or "1 task" reads the same in every answer.
Pure functions; `voice/` imports them too (the arrow runs voice -> skills, never back).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime


def spoken_list(items: Sequence[str], conjunction: str = "and") -> str:
    """'a', 'a and b', 'a, b, and c' ("" for none); blank items are dropped.

    The Oxford comma keeps the last two items apart when heard ("eggs, bread, and butter").
    Blank items are dropped so a missing name never becomes a stray ", , and".
    """
    kept = [item for item in items if item and item.strip()]
    if len(kept) <= 2:
        return f" {conjunction} ".join(kept)
    return ", ".join(kept[:-1]) + f", {conjunction} " + kept[-1]


def plural(n: int, noun: str, plural_form: str | None = None, *, one: str = "1") -> str:
    """'1 task', '3 tasks', '0 tasks'; irregular nouns pass their plural ("1 child", "2 children").

    `one` spells the count 1, for a sentence that starts with it ("One timer running").
    """
    return f"{one} {noun}" if n == 1 else f"{n} {plural_form or noun + 's'}"


def spoken_clock(dt: datetime) -> str:
    """'9 AM', '3:15 PM', 'noon', 'midnight': a clock time as people say it."""
    if dt.minute == 0 and dt.hour in (0, 12):
        return "noon" if dt.hour == 12 else "midnight"
    hour = dt.hour % 12 or 12
    suffix = "AM" if dt.hour < 12 else "PM"
    return f"{hour} {suffix}" if dt.minute == 0 else f"{hour}:{dt.minute:02d} {suffix}"


def capitalize(text: str) -> str:
    """First letter upper-case, the rest untouched ("tea timer" -> "Tea timer", "iPhone" stays)."""
    return text[:1].upper() + text[1:]
