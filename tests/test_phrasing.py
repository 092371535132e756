"""Shared phrasing helpers (skills/phrasing.py): one answer for noon, counts and lists."""

from __future__ import annotations

from datetime import datetime

import pytest

from skills.phrasing import capitalize, plural, spoken_clock, spoken_list


@pytest.mark.parametrize(
    "hour, minute, said",
    [(12, 0, "noon"), (0, 0, "midnight"), (9, 0, "9 AM"), (15, 15, "3:15 PM"), (0, 5, "12:05 AM"), (12, 30, "12:30 PM")],
)
def test_spoken_clock(hour: int, minute: int, said: str) -> None:
    assert spoken_clock(datetime(2026, 11, 30, hour, minute)) == said


def test_plural_and_list_and_capitalize() -> None:
    assert [plural(n, "task") for n in (0, 1, 2)] == ["0 tasks", "1 task", "2 tasks"]
    assert plural(2, "child", "children") == "2 children"
    assert spoken_list(["eggs", "", "bread", "butter"]) == "eggs, bread, and butter"
    assert spoken_list(["a", "b"], "or") == "a or b"
    assert capitalize("tea timer") == "Tea timer" and capitalize("") == ""


def test_the_clock_skill_says_noon_like_every_other_answer(tmp_path) -> None:
    from skills.clock import current_time
    from skills.registry import SkillContext

    ctx = SkillContext(config=None, data_dir=tmp_path, clock=lambda: datetime(2026, 11, 30, 12, 0))
    assert current_time(ctx) == "It's noon."
