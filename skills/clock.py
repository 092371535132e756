"""Time and date: the harmless skill every turn can call."""

from __future__ import annotations

from skills.phrasing import spoken_clock
from skills.registry import SkillContext, skill


@skill(sentences=["what time is it", "what's the time", "tell me the time"])
def current_time(ctx: SkillContext) -> str:
    """Tell the current local time."""
    return f"It's {spoken_clock(ctx.now())}."


@skill(
    sentences=["what's the date [today]", "what day is it [today]", "what is today's date", "what is the date [today]"]
)
def current_date(ctx: SkillContext) -> str:
    """Tell today's date and day of the week."""
    now = ctx.now()
    return f"Today is {now.strftime('%A, %B')} {now.day}, {now.year}."
