"""Spoken durations and times: "five and a half minutes", "tomorrow at five".

Transcripts spell numbers both ways ("five" / "5"), so every phrase is first
normalised: lower case, punctuation dropped (except inside "5:30" and "1.5"),
"a.m." -> "am", and number words turned into digits by text2num's
`alpha2digit`.  The grammar below then only has to deal with digits.

Rules where spoken English is ambiguous (documented because users will hit them):

* A bare hour with no am/pm and no part of day: 12 is noon, 1-6 mean pm
  ("tomorrow at five" -> 17:00), 7-11 mean am -- except when no day was named
  and that morning hour has already passed today while the evening one has not
  ("at eight" said at 14:00 -> 20:00). "morning"/"am" force am;
  "afternoon"/"evening"/"tonight"/"at night"/"pm" force pm.  Hours 13-23, 0
  and a leading zero ("08:00") are 24-hour clock times.
* A time with no day that has already passed today means its next occurrence
  (tomorrow).  A named day ("today", "this morning", "tonight") is kept even if
  that moment has passed: the caller should check `result <= now` and say so.
* A day with no time: 9:00 on that day ("tomorrow", "on friday"), except
  "today" alone, which means 18:00.  Parts of the day: morning 9:00,
  afternoon 15:00, evening 19:00, tonight/night 20:00.
* A weekday ("friday", "on friday", "this friday", "next friday") is the
  next such day strictly after today (1-7 days ahead).
* "midnight" is the end of the named day (today if none): 00:00 the day after.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from skills.phrasing import plural, spoken_clock

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

DEFAULT_HOUR = 9  # a day named without a time
TODAY_HOUR = 18  # "today" named without a time: before the evening
PART_HOURS = {"morning": 9, "afternoon": 15, "evening": 19, "night": 20}

_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_WRITTEN_FRACTIONS = {"1/2": "half", "1/4": "quarter", "3/4": "3 quarters"}


# ---------------------------------------------------------------- normalising


def _unit_key(unit: str) -> str:
    return unit[0]  # day/days -> d, hour/hrs/h -> h, minute/mins/m -> m, secs/s -> s


def _prep(text: str) -> str:
    """Lower-case, punctuation-free text with numbers as digits."""
    from text_to_num import alpha2digit  # compiled extension; imported on first use

    t = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    t = re.sub(r"\b([ap])\.? ?m\b\.?", r"\1m", t)  # "p.m." / "p. m." -> "pm"
    t = re.sub(r"\bo'? ?clock\b", " oclock", t)  # before alpha2digit reads "o" as 0
    # text2num reads "second" as the ordinal 2nd ("one second" -> "1 2nd"), so say "sec".
    t = re.sub(r"\bseconds\b", "secs", t)
    t = re.sub(r"\bsecond\b", "sec", t)
    # Written fractions: "1/2 an hour", "1 and a 1/2 hours" (before "/" is dropped as punctuation).
    t = re.sub(
        r"(?<![\d/])[13]\s*/\s*[24](?![\d/])",
        lambda m: _WRITTEN_FRACTIONS.get(m.group(0).replace(" ", ""), m.group(0)),
        t,
    )
    t = re.sub(r"(?<=\d):(?=\d)", "\x00", t)  # keep 5:30 and 1.5
    t = re.sub(r"(?<=\d)\.(?=\d)", "\x01", t)
    t = re.sub(r"[^\w\s\x00\x01]|_", " ", t)
    t = t.replace("\x00", ":").replace("\x01", ".")
    t = " ".join(t.split())
    if not t:
        return ""
    t = alpha2digit(t, "en", threshold=0)
    t = re.sub(r"(?<=\d)(?=[a-z])", " ", t)  # "10am" -> "10 am", "2hrs" -> "2 hrs"
    return " ".join(t.split())


# ---------------------------------------------------------------- durations

_FRACTIONS = {"a half": 0.5, "a quarter": 0.25, "3 quarters": 0.75, "half": 0.5, "quarter": 0.25}
_LONG_UNIT = r"(?:days?|hours?|hrs?|minutes?|mins?|secs?)"
_COMPONENT = re.compile(
    rf"""\b(?:
        (?P<num>\d+(?:\.\d+)?|an?|a\ couple\ of|couple\ of|a\ couple)
        (?:\ and\ (?P<frac_in>(?:a\ )?half|(?:a\ )?quarter|3\ quarters))?
        \ (?P<unit>{_LONG_UNIT})
        (?:\ and\ (?P<frac_after>(?:a\ )?half|(?:a\ )?quarter|3\ quarters)
          # "one hour thirty", "two hours fifteen": a bare number after a unit counts the next unit down
          | (?:\ and)?\ (?P<tail>[1-5]?\d)(?!\ ?(?:\d|:|\.\d|{_LONG_UNIT}\b|[hms]\b|am\b|pm\b|oclock\b|and\ a\b)))?
      | (?P<dnum>\d+(?:\.\d+)?)\ (?P<short>[hms])
      | (?P<part>a\ half|half|a\ quarter|quarter|3\ quarters)
        \ (?:of\ )?(?:(?:an?|1)\ )?(?P<punit>{_LONG_UNIT})
    )\b""",
    re.X,
)
_NEXT_UNIT = {"h": "m", "m": "s"}  # "one hour thirty" is 1 h 30 min; "two minutes ten" is 2 min 10 s
_GAP = re.compile(r"^(?:\s|,|and)*$")


def _component_value(m: re.Match[str]) -> float:
    if m.group("dnum"):
        return float(m.group("dnum")) * _SECONDS[m.group("short")]
    if m.group("part"):
        return _FRACTIONS[m.group("part")] * _SECONDS[_unit_key(m.group("punit"))]
    num = m.group("num")
    count = 1.0 if num in ("a", "an") else 2.0 if "couple" in num else float(num)
    count += _FRACTIONS.get(m.group("frac_in") or "", 0.0) + _FRACTIONS.get(m.group("frac_after") or "", 0.0)
    unit = _unit_key(m.group("unit"))
    tail = float(m.group("tail")) * _SECONDS[_NEXT_UNIT[unit]] if m.group("tail") and unit in _NEXT_UNIT else 0.0
    return count * _SECONDS[unit] + tail


def _duration_groups(t: str) -> list[tuple[int, int, float]]:
    """(start, end, seconds) of each run of adjacent components ("1 hour and 30 minutes")."""
    groups: list[tuple[int, int, float]] = []
    for m in _COMPONENT.finditer(t):
        if groups and _GAP.match(t[groups[-1][1] : m.start()]):
            start, _, total = groups[-1]
            groups[-1] = (start, m.end(), total + _component_value(m))
        else:
            groups.append((m.start(), m.end(), _component_value(m)))
    return groups


def _as_timedelta(seconds: float) -> timedelta:
    return timedelta(seconds=round(seconds))


def parse_duration(text: str) -> timedelta | None:
    """The first spoken duration in `text` ("an hour and a half", "90 seconds"), or None.

    "0 minutes" gives timedelta(0): a duration was said; the caller decides if it is usable.
    """
    groups = _duration_groups(_prep(text or ""))
    return _as_timedelta(groups[0][2]) if groups else None


def parse_whole_duration(text: str) -> timedelta | None:
    """The duration when ALL of `text` is one ("10 minutes", "for an hour and a half"), else None.

    "10 minutes called pasta" is None: a template slot that swallowed a timer's name is no duration.
    """
    t = re.sub(r"^(?:for|about|around|roughly|like) ", "", _prep(text or ""))
    return _full_duration(t)


def _full_duration(t: str) -> timedelta | None:
    groups = _duration_groups(t)
    if len(groups) == 1 and groups[0][0] == 0 and groups[0][1] == len(t):
        return _as_timedelta(groups[0][2])
    return None


# ---------------------------------------------------------------- points in time

_PREFIX = re.compile(r"(?:due (?:on |by )?|by |on |for )")
_RELATIVE = re.compile(r"(?:(?:in|after) (?P<a>.+?)(?: from now| time)?|(?P<b>.+?) from now)")
_DAY = re.compile(
    r"(?:(?P<today>today)|(?P<tonight>tonight)|(?P<dat>(?:the )?day after tomorrow)|(?P<tomorrow>tomorrow)"
    r"|(?:on )?(?:this coming |coming |this |next )?(?P<wd>" + "|".join(WEEKDAYS) + r"))"
)
_PART = re.compile(r"(?:(?P<this>this )|in the |at |during the )?(?P<part>morning|afternoon|evening|night)")
_CLOCK = re.compile(
    r"""(?P<at>(?:at|around|about|by)\ )?(?:
        (?:12\ )?(?P<noon>noon|midday)
      | (?:12\ )?(?P<midnight>midnight)
      | half\ (?:past|after)\ (?P<hh>\d{1,2})
      | (?:a\ )?quarter\ (?P<qdir>past|after|to|till|before|of)\ (?P<qh>\d{1,2})
      | (?P<mins>\d{1,2})\ (?:minutes?\ )?(?P<mdir>past|after|to|till|before)\ (?P<mh>\d{1,2})
      | (?P<h>\d{1,2})(?::(?P<m>\d{2})|\.(?P<mdot>\d{2})|\ (?P<m2>\d{2})|\ oh\ (?P<m3>\d))?(?:\ (?P<ampm>am|pm|oclock))?
    )""",
    re.X,
)


def _clock_time(m: re.Match[str]) -> tuple[int, int, str, bool] | None:
    """(hour, minute, am/pm/"", is_24h) for a clock match; None when no time was really said."""
    if m.group("noon"):
        return 12, 0, "", True
    if m.group("midnight"):
        return 24, 0, "", True
    if m.group("hh"):
        return int(m.group("hh")), 30, "", False
    if m.group("qh"):
        h = int(m.group("qh"))
        return (h, 15, "", False) if m.group("qdir") in ("past", "after") else (h - 1 or 12, 45, "", False)
    if m.group("mh"):
        h, mins = int(m.group("mh")), int(m.group("mins"))
        if not 0 < mins < 60:
            return None
        return (h, mins, "", False) if m.group("mdir") in ("past", "after") else (h - 1 or 12, 60 - mins, "", False)
    hour_text = m.group("h")
    minute_text = m.group("m") or m.group("mdot") or m.group("m2") or m.group("m3")
    ampm = m.group("ampm") or ""
    # A bare number is only a time with "at", am/pm, o'clock or a colon: "buy 5" is not 5 o'clock.
    if not (m.group("at") or ampm or m.group("m") or m.group("mdot")):
        return None
    if m.group("mdot") and not (m.group("at") or ampm):
        return None  # "1.30" alone is more likely a number than half past one
    h, mins = int(hour_text), int(minute_text or 0)
    is_24h = h == 0 or h >= 13 or (len(hour_text) == 2 and hour_text.startswith("0"))
    if ampm == "oclock":
        ampm = ""
    return h, mins, ampm, is_24h


def _hour_24(h: int, ampm: str, is_24h: bool, part: str, day_named: bool, now: datetime, minute: int) -> int | None:
    if ampm and 1 <= h <= 12:
        is_24h = False  # "08:00 am": the am/pm wins over the leading zero
    if is_24h:
        return h if h <= 24 and not ampm else None
    if not 1 <= h <= 12:
        return None
    if ampm == "am" or (not ampm and part == "morning"):
        return h % 12
    if ampm == "pm" or part in ("afternoon", "evening"):
        return h % 12 + 12
    if part == "night":
        return 24 if h == 12 else h % 12 + 12
    if h == 12:
        return 12
    if h <= 6:
        return h + 12
    if not day_named:  # 7-11: morning, unless the morning one is gone and the evening one is not
        morning = now.replace(hour=h, minute=minute, second=0, microsecond=0)
        if morning <= now < morning + timedelta(hours=12):
            return h + 12
    return h


def _parse_phrase(t: str, now: datetime) -> datetime | None:
    """A datetime when all of `t` (already _prep'ed) is a time phrase, else None."""
    if not t:
        return None
    rel = _RELATIVE.fullmatch(t)
    if rel:
        dur = _full_duration(rel.group("a") or rel.group("b"))
        if dur is not None:
            return now + dur
    pos = 0
    prefix = _PREFIX.match(t)
    if prefix:
        pos = prefix.end()
    found: dict[str, re.Match[str]] = {}
    while pos < len(t):
        for name, rx in (("day", _DAY), ("clock", _CLOCK), ("part", _PART)):
            if name in found:
                continue
            m = rx.match(t, pos)
            if not m or (m.end() < len(t) and t[m.end()] != " "):
                continue
            if name == "part" and not (m.group("this") or m.group(0) != m.group("part") or "day" in found):
                continue  # a bare "morning" only right after a day: "tomorrow morning"
            if name == "clock" and _clock_time(m) is None:
                continue
            found[name] = m
            pos = m.end() + 1
            break
        else:
            return None
    if not found:
        return None
    return _resolve(found, now)


def _resolve(found: dict[str, re.Match[str]], now: datetime) -> datetime | None:
    day, clock, part_m = found.get("day"), found.get("clock"), found.get("part")
    part = part_m.group("part") if part_m else ""
    offset: int | None = None
    if day:
        if day.group("wd"):
            offset = (WEEKDAYS.index(day.group("wd")) - now.weekday()) % 7 or 7
        else:
            offset = 0 if (day.group("today") or day.group("tonight")) else 2 if day.group("dat") else 1
        if day.group("tonight") and not part:
            part = "night"
    elif part_m and part_m.group("this"):
        offset = 0  # "this evening" names today
    day_named = offset is not None

    if clock:
        parsed = _clock_time(clock)
        assert parsed is not None  # checked while matching
        h, minute, ampm, is_24h = parsed
        hour = _hour_24(h, ampm, is_24h, part, day_named, now, minute)
        if hour is None or minute > 59 or (hour == 24 and minute):
            return None
    elif part:
        hour, minute = PART_HOURS[part], 0
    elif day and day.group("today"):
        hour, minute = TODAY_HOUR, 0
    else:
        hour, minute = DEFAULT_HOUR, 0

    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    when = midnight + timedelta(days=offset or 0, hours=hour, minutes=minute)
    if not day_named and when <= now:
        when += timedelta(days=1)  # a time already gone today: its next occurrence
    return when


def _words(text: str) -> list[str]:
    return text.split()


def parse_when(text: str, now: datetime) -> datetime | None:
    """The moment named in `text` ("tomorrow at five", "in 10 minutes"), relative to `now`.

    The longest phrase anywhere in the text wins, so a whole request works too.
    """
    words = _words(text or "")
    for length in range(min(len(words), 12), 0, -1):
        for start in range(0, len(words) - length + 1):
            when = _parse_phrase(_prep(" ".join(words[start : start + length])), now)
            if when is not None:
                return when
    return None


def _tidy(task: str) -> str:
    return task.strip(" \t\n,;:-\u2013\u2014")


def split_when(text: str, now: datetime) -> tuple[str, datetime | None]:
    """Split a trailing or leading time phrase off a task.

    "call mom tomorrow at five" -> ("call mom", tomorrow 17:00); "buy oat milk" -> ("buy oat milk", None).
    The task keeps the user's own words (numbers are not rewritten).
    """
    words = _words(text or "")
    for start in range(len(words)):  # longest trailing phrase first
        when = _parse_phrase(_prep(" ".join(words[start:])), now)
        if when is not None:
            return _tidy(" ".join(words[:start])), when
    for end in range(len(words) - 1, 0, -1):  # then the longest leading phrase
        when = _parse_phrase(_prep(" ".join(words[:end])), now)
        if when is not None:
            return _tidy(" ".join(words[end:])), when
    return _tidy(text or ""), None


# ---------------------------------------------------------------- speaking


def speak_duration(td: timedelta) -> str:
    """A length as said: "1 hour and 30 minutes", "5 minutes 30 seconds", "45 seconds" (negative is 0)."""
    total = max(0, round(td.total_seconds()))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    units = ((days, "day"), (hours, "hour"), (minutes, "minute"), (seconds, "second"))
    parts = [plural(n, u) for n, u in units if n]
    if not parts:
        return "0 seconds"
    if not (days or hours) and minutes and seconds:
        return " ".join(parts)  # read like a countdown: "5 minutes 30 seconds"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _speak_day(dt: datetime, now: datetime) -> str:
    days = (dt.date() - now.date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "yesterday"
    name = WEEKDAYS[dt.weekday()].capitalize()
    if 1 < days < 7:
        return name
    text = f"{name}, {_MONTHS[dt.month - 1]} {dt.day}"
    return text if dt.year == now.year else f"{text}, {dt.year}"


def speak_when(dt: datetime, now: datetime) -> str:
    """A moment as said: "today at 5 PM", "tomorrow at 9 AM", "Friday at 3:15 PM", "tonight at midnight"."""
    if dt.hour == 0 and dt.minute == 0:
        # 00:00 is heard as the end of the day before: "Friday at midnight", not "Saturday at midnight".
        before = dt - timedelta(days=1)
        day = "tonight" if before.date() == now.date() else _speak_day(before, now)
        return f"{day} at midnight"
    return f"{_speak_day(dt, now)} at {spoken_clock(dt)}"
