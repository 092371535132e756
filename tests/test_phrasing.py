"""Shared phrasing helpers (skills/phrasing.py): one answer for noon, counts and lists."""

from __future__ import annotations

from datetime import datetime

import pytest

from skills.phrasing import capitalize, plural, spoken_clock, spoken_list


@pytest.mark.parametrize(
    "hour, minute, said",
    [
        (12, 0, "noon"),
        (0, 0, "midnight"),
        (9, 0, "9 AM"),
        (15, 15, "3:15 PM"),
        (0, 5, "12:05 AM"),
        (12, 30, "12:30 PM"),
    ],
)
def test_spoken_clock(hour: int, minute: int, said: str) -> None:
    assert spoken_clock(datetime(2026, 11, 30, hour, minute)) == said


def test_plural_and_list_and_capitalize() -> None:
    assert [plural(n, "task") for n in (0, 1, 2)] == ["0 tasks", "1 task", "2 tasks"]
    assert plural(2, "child", "children") == "2 children"
    assert plural(1, "timer", one="One") == "One timer" and plural(3, "timer", one="One") == "3 timers"
    assert spoken_list(["eggs", "", "bread", "butter"]) == "eggs, bread, and butter"
    assert spoken_list(["a", "b"], "or") == "a or b"
    assert capitalize("tea timer") == "Tea timer" and capitalize("") == ""


def test_the_clock_skill_says_noon_like_every_other_answer(tmp_path) -> None:
    from skills.clock import current_time
    from skills.registry import SkillContext

    ctx = SkillContext(config=None, data_dir=tmp_path, clock=lambda: datetime(2026, 11, 30, 12, 0))
    assert current_time(ctx) == "It's noon."


def test_noon_and_midnight_read_the_same_in_every_skill() -> None:
    from skills.status import time_sentence
    from skills.when import speak_when

    noon, midnight = datetime(2026, 11, 30, 12, 0), datetime(2026, 11, 30, 0, 0)
    assert time_sentence(noon).startswith("It's noon on") and time_sentence(midnight).startswith("It's midnight on")
    assert speak_when(noon, datetime(2026, 11, 30, 9, 0)) == "today at noon"
    assert speak_when(datetime(2026, 11, 30, 12, 30), noon) == "today at 12:30 PM"


# ------------------------------------------------------------------ spoken_list


@pytest.mark.parametrize(
    "items, conjunction, spoken",
    [
        ([], "and", ""),
        (["eggs"], "and", "eggs"),
        (["eggs", "bread"], "and", "eggs and bread"),
        (["eggs", "bread", "butter"], "and", "eggs, bread, and butter"),
        (("a", "b", "c", "d"), "and", "a, b, c, and d"),
        (["tea", "coffee", "water"], "or", "tea, coffee, or water"),
        (["eggs", "", "  ", "butter"], "and", "eggs and butter"),
    ],
)
def test_spoken_list(items: list[str], conjunction: str, spoken: str) -> None:
    assert spoken_list(items, conjunction) == spoken
