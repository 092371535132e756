"""Spoken durations and times (skills/when.py): tables of what people say and what it must mean."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from skills.when import parse_duration, parse_when, speak_duration, speak_when, split_when

# Wednesday 5 March 2025, 2 pm: every table below is relative to this moment unless it says otherwise.
NOW = datetime(2025, 3, 5, 14, 0)
WED, THU, FRI = 5, 6, 7


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute)


# ------------------------------------------------------------------ parse_duration


@pytest.mark.parametrize(
    "text, expected",
    [
        ("10 minutes", timedelta(minutes=10)),
        ("10 minute", timedelta(minutes=10)),
        ("a 10 minute", timedelta(minutes=10)),
        ("set a 10 minute timer", timedelta(minutes=10)),
        ("5 and a half minutes", timedelta(minutes=5, seconds=30)),
        ("five and a half minutes", timedelta(minutes=5, seconds=30)),
        ("an hour and a half", timedelta(hours=1, minutes=30)),
        ("one hour and 30 minutes", timedelta(hours=1, minutes=30)),
        ("one hour and thirty minutes", timedelta(hours=1, minutes=30)),
        ("1 hour 30 minutes", timedelta(hours=1, minutes=30)),
        ("90 seconds", timedelta(seconds=90)),
        ("ninety seconds", timedelta(seconds=90)),
        ("two hours", timedelta(hours=2)),
        ("half an hour", timedelta(minutes=30)),
        ("a half hour", timedelta(minutes=30)),
        ("a minute and a half", timedelta(seconds=90)),
        ("quarter of an hour", timedelta(minutes=15)),
        ("a quarter of an hour", timedelta(minutes=15)),
        ("three quarters of an hour", timedelta(minutes=45)),
        ("1.5 hours", timedelta(hours=1, minutes=30)),
        ("one point five hours", timedelta(hours=1, minutes=30)),
        ("2 hrs", timedelta(hours=2)),
        ("an hour", timedelta(hours=1)),
        ("a minute", timedelta(minutes=1)),
        ("one second", timedelta(seconds=1)),
        ("30 secs", timedelta(seconds=30)),
        ("twenty-five minutes", timedelta(minutes=25)),
        ("forty five minutes and thirty seconds", timedelta(minutes=45, seconds=30)),
        ("one hour, thirty minutes and ten seconds", timedelta(hours=1, minutes=30, seconds=10)),
        ("10m", timedelta(minutes=10)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("a couple of minutes", timedelta(minutes=2)),
        ("two and a half hours", timedelta(hours=2, minutes=30)),
        ("2 days", timedelta(days=2)),
        ("Set a timer for Five Minutes, please.", timedelta(minutes=5)),
        ("0 minutes", timedelta(0)),
        # A bare number after a unit counts the next unit down; written fractions (issue 16).
        ("one hour thirty", timedelta(hours=1, minutes=30)),
        ("set a timer for two hours fifteen", timedelta(hours=2, minutes=15)),
        ("1 hour and 30", timedelta(hours=1, minutes=30)),
        ("two minutes ten", timedelta(minutes=2, seconds=10)),
        ("1/2 a minute", timedelta(seconds=30)),
        ("half a minute", timedelta(seconds=30)),
        ("1/2 an hour", timedelta(minutes=30)),
        ("1 and a 1/2 hours", timedelta(hours=1, minutes=30)),
        ("one and a half hours", timedelta(hours=1, minutes=30)),
        ("3/4 of an hour", timedelta(minutes=45)),
        ("1/4 hour", timedelta(minutes=15)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "buy oat milk", "set a timer", "what time is it", "call mom at five", "minutes", "half", "second hand shop"],
)
def test_parse_duration_none_without_a_duration(text: str) -> None:
    assert parse_duration(text) is None


def test_parse_duration_takes_the_first_duration_only() -> None:
    assert parse_duration("10 minutes for pasta then 5 minutes for sauce") == timedelta(minutes=10)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("in 2 hours 5 pm", timedelta(hours=2)),  # "5 pm" is a clock time, not 5 minutes
        ("1 hour 30 minutes", timedelta(hours=1, minutes=30)),  # the unit after the number is kept
        ("2 hours 15 minutes and 10 seconds", timedelta(hours=2, minutes=15, seconds=10)),
        ("5 seconds 30", timedelta(seconds=5)),  # nothing below seconds
        ("1 hour 75", timedelta(hours=1)),  # not a minute count
    ],
)
def test_a_trailing_number_is_only_the_next_unit_when_it_can_be(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_written_fractions_do_not_eat_dates_or_other_numbers() -> None:
    assert parse_duration("12/24") is None
    assert parse_duration("read page 1/2") is None  # a fraction with no unit is no duration


# ------------------------------------------------------------------ parse_when


@pytest.mark.parametrize(
    "text, expected",
    [
        ("in two hours", at(WED, 16)),
        ("in 10 minutes", at(WED, 14, 10)),
        ("in half an hour", at(WED, 14, 30)),
        ("in an hour and a half", at(WED, 15, 30)),
        ("10 minutes from now", at(WED, 14, 10)),
        ("in 2 days", at(FRI, 14)),
        ("tomorrow", at(THU, 9)),
        ("tomorrow at five", at(THU, 17)),  # bare 1-6 means pm
        ("tomorrow at 5", at(THU, 17)),
        ("tomorrow at 8", at(THU, 8)),  # bare 7-11 with a day means am
        ("tomorrow at five in the morning", at(THU, 5)),
        ("tomorrow at 5 am", at(THU, 5)),
        ("at 5 pm", at(WED, 17)),
        ("at 5 p.m.", at(WED, 17)),
        ("at 5:30 p.m.", at(WED, 17, 30)),
        ("at 17:30", at(WED, 17, 30)),
        ("at seventeen thirty", at(WED, 17, 30)),
        ("at noon", at(THU, 12)),  # noon has passed today: the next one
        ("at 9 am", at(THU, 9)),
        ("at 08:00", at(THU, 8)),
        ("at midnight", at(THU, 0)),
        ("tonight", at(WED, 20)),
        ("tonight at 11", at(WED, 23)),
        ("at 7 tonight", at(WED, 19)),
        ("at 11 at night", at(WED, 23)),
        ("this evening", at(WED, 19)),
        ("this afternoon", at(WED, 15)),
        ("tomorrow morning", at(THU, 9)),
        ("tomorrow afternoon", at(THU, 15)),
        ("tomorrow night", at(THU, 20)),
        ("at 9 tomorrow morning", at(THU, 9)),
        ("in the morning", at(THU, 9)),
        ("on friday", at(FRI, 9)),
        ("friday", at(FRI, 9)),
        ("friday at 3", at(FRI, 15)),
        ("Friday at 3:15 PM", at(FRI, 15, 15)),
        ("at 3 on friday", at(FRI, 15)),
        ("friday evening", at(FRI, 19)),
        ("next monday", at(10, 9)),
        ("on monday", at(10, 9)),
        ("wednesday", at(12, 9)),  # today is Wednesday: next week's
        ("the day after tomorrow", at(FRI, 9)),
        ("today at 3:15", at(WED, 15, 15)),
        ("today at three fifteen", at(WED, 15, 15)),
        ("today", at(WED, 18)),
        ("at half past four", at(WED, 16, 30)),
        ("at quarter past six", at(WED, 18, 15)),
        ("at quarter to five", at(WED, 16, 45)),
        ("at twenty past four", at(WED, 16, 20)),
        ("at ten to one", at(THU, 12, 50)),
        ("at five o'clock", at(WED, 17)),
        ("at 4 oh 5", at(WED, 16, 5)),
        ("at eight", at(WED, 20)),  # 8 am is gone, 8 pm is not
        ("at 12", at(THU, 12)),
        ("at 12 am", at(THU, 0)),
        ("at 12 pm", at(THU, 12)),
        ("by tomorrow", at(THU, 9)),
        ("due friday", at(FRI, 9)),
        ("Remind me to call mom tomorrow at five thirty.", at(THU, 17, 30)),
    ],
)
def test_parse_when(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize(
    "now, text, expected",
    [
        (datetime(2025, 3, 5, 8, 0), "at 5", at(WED, 17)),
        (datetime(2025, 3, 5, 7, 0), "at 8", at(WED, 8)),  # 8 am still ahead
        (datetime(2025, 3, 5, 21, 0), "at 8", at(THU, 8)),  # both gone: tomorrow morning
        (datetime(2025, 3, 5, 21, 0), "at 5 pm", at(THU, 17)),  # already past: next occurrence
        (datetime(2025, 3, 5, 8, 0), "at noon", at(WED, 12)),
        (datetime(2025, 3, 5, 16, 0), "today at 3:15", at(WED, 15, 15)),  # a named day is kept, even if past
        (datetime(2025, 3, 7, 10, 0), "on friday", datetime(2025, 3, 14, 9)),  # Friday on a Friday: next week
        (datetime(2025, 3, 31, 22, 0), "tomorrow at 9", datetime(2025, 4, 1, 9)),
        (datetime(2025, 12, 31, 23, 50), "in 20 minutes", datetime(2026, 1, 1, 0, 10)),
    ],
)
def test_parse_when_depends_on_now(now: datetime, text: str, expected: datetime) -> None:
    assert parse_when(text, now) == expected


@pytest.mark.parametrize(
    "text",
    ["", "buy oat milk", "call mom", "at 25:00", "at 5:75", "half past", "buy 5 apples", "in a while", "at the shop"],
)
def test_parse_when_none_without_a_time(text: str) -> None:
    assert parse_when(text, NOW) is None


# ------------------------------------------------------------------ split_when


@pytest.mark.parametrize(
    "text, task, when",
    [
        ("call mom tomorrow at five", "call mom", at(THU, 17)),
        ("buy oat milk", "buy oat milk", None),
        ("call mom, tomorrow.", "call mom", at(THU, 9)),
        ("tomorrow at 9 call the dentist", "call the dentist", at(THU, 9)),
        ("pay rent by friday", "pay rent", at(FRI, 9)),
        ("read chapter five in 10 minutes", "read chapter five", at(WED, 14, 10)),  # task keeps its own words
        ("take the bins out tonight", "take the bins out", at(WED, 20)),
        ("water the plants this evening", "water the plants", at(WED, 19)),
        ("book a table for friday at 7 pm", "book a table", at(FRI, 19)),
        ("stretch in half an hour", "stretch", at(WED, 14, 30)),
        ("look at 5 things", "look at 5 things", None),
        ("watch the 5 o'clock news", "watch the 5 o'clock news", None),
        ("tomorrow", "", at(THU, 9)),
        ("", "", None),
    ],
)
def test_split_when(text: str, task: str, when: datetime | None) -> None:
    assert split_when(text, NOW) == (task, when)


# ------------------------------------------------------------------ speaking


@pytest.mark.parametrize(
    "td, spoken",
    [
        (timedelta(minutes=5, seconds=30), "5 minutes 30 seconds"),
        (timedelta(hours=1, minutes=30), "1 hour and 30 minutes"),
        (timedelta(seconds=45), "45 seconds"),
        (timedelta(seconds=1), "1 second"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(hours=2), "2 hours"),
        (timedelta(hours=2, minutes=1, seconds=1), "2 hours, 1 minute and 1 second"),
        (timedelta(days=1, hours=3), "1 day and 3 hours"),
        (timedelta(seconds=59.6), "1 minute"),
        (timedelta(0), "0 seconds"),
        (timedelta(seconds=-5), "0 seconds"),
    ],
)
def test_speak_duration(td: timedelta, spoken: str) -> None:
    assert speak_duration(td) == spoken


@pytest.mark.parametrize(
    "dt, spoken",
    [
        (at(WED, 17), "today at 5 PM"),
        (at(THU, 9), "tomorrow at 9 AM"),
        (at(FRI, 15, 15), "Friday at 3:15 PM"),
        (at(WED, 12), "today at noon"),
        (at(THU, 0), "tonight at midnight"),
        (at(8, 0), "Friday at midnight"),
        (at(WED, 0, 30), "today at 12:30 AM"),
        (at(4, 9), "yesterday at 9 AM"),
        (at(20, 8, 5), "Thursday, March 20 at 8:05 AM"),
        (datetime(2026, 1, 2, 9), "Friday, January 2, 2026 at 9 AM"),
    ],
)
def test_speak_when(dt: datetime, spoken: str) -> None:
    assert speak_when(dt, NOW) == spoken


@pytest.mark.parametrize(
    "said, heard",
    [
        ("tomorrow at five", "tomorrow at 5 PM"),
        ("friday at 3:15", "Friday at 3:15 PM"),
        ("in ten minutes", "today at 2:10 PM"),
        ("tonight at midnight", "tonight at midnight"),
    ],
)
def test_what_is_said_back(said: str, heard: str) -> None:
    when = parse_when(said, NOW)
    assert when is not None
    assert speak_when(when, NOW) == heard


@pytest.mark.parametrize("text", ["10 minutes", "1 hour and 30 minutes", "5 minutes 30 seconds", "45 seconds"])
def test_speak_duration_round_trips(text: str) -> None:
    td = parse_duration(text)
    assert td is not None
    assert speak_duration(td) == text
