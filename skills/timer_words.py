"""From the user's words to a timer, a reminder, a length of time or a due time.

Pure functions over `Timer` rows (no database, no clock of their own): which
timer "the pizza one" means, which reminder "call mom" means, what "in 10
minutes" or "tomorrow at 9" is, and how to say a due time back.  Anything that
can't be resolved is a `SkillError` whose message tells the user what to say
instead ("You have 2 timers: ... Which one?").  The skills are in
`skills/timers.py`.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from skills.matching import best_match
from skills.phrasing import capitalize, spoken_list
from skills.registry import SkillError
from skills.timer_store import Timer, describe_left, rounded_left
from skills.when import parse_duration, parse_when, speak_duration, speak_when, split_when

_LEADING = re.compile(r"^(?:(?:the|my|a|an|your|that|this)\s+)+")
_TRAILING_TIMER = re.compile(r"\s*\btimers?$")
_ALL_WORDS = {"all", "all the", "all of the", "every", "each", "all my", "all of my"}


def clean_timer_name(name: str | None) -> str | None:
    """'the Pizza timer' -> 'pizza'; '' / 'timer' -> None."""
    if name is None:
        return None
    text = re.sub(r"[^\w' ]+", " ", name.lower().replace("’", "'"))
    text = " ".join(text.split())
    text = _TRAILING_TIMER.sub("", _LEADING.sub("", text)).strip()
    return text or None


def _key(text: str) -> str:
    return re.sub(r"[^\w ]+", "", text.lower())


def find_timer(timers: list[Timer], name: str | None, action: str, now: float) -> Timer:
    """The one timer a request means, or a speakable SkillError that says which ones exist."""
    wanted = clean_timer_name(name)
    if wanted in _ALL_WORDS:
        raise SkillError(f"To {action} every timer, say: {action} all timers.")
    if not timers:
        raise SkillError("You have no timers running.")
    if wanted is None:
        if len(timers) == 1:
            return timers[0]
        raise SkillError(
            f"You have {len(timers)} timers: {spoken_list([describe_left(t, now) for t in timers])}. Which one?"
        )
    matches = [t for t in timers if t.name and _key(clean_timer_name(t.name) or "") == _key(wanted)]
    if not matches:
        # "the 10 minute timer": an unnamed timer is named by its length.
        length = parse_duration(wanted)
        if length is not None:
            matches = [t for t in timers if not t.name and abs(t.duration_s - length.total_seconds()) < 1]
    if not matches:
        # Speech-to-text slips ("piza"): one clearly closest name.
        closest = best_match(_key(wanted), [t for t in timers if t.name], lambda t: _key(t.name or "")).winner
        matches = [closest] if closest else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise SkillError(
            f"You have {len(matches)} {wanted} timers: {spoken_list([describe_left(t, now) for t in matches])}. "
            "Which one? Say it by its time left, or cancel and set them again with different names."
        )
    names = spoken_list([t.label for t in timers])
    raise SkillError(f"I don't have a {wanted} timer. You have: {names}.")


def find_reminder(reminders: list[Timer], what: str | None) -> Timer:
    """The one reminder the words mean, or a speakable SkillError listing the reminders."""
    if not reminders:
        raise SkillError("You have no reminders set.")
    if not what or not what.strip():
        if len(reminders) == 1:
            return reminders[0]
        raise SkillError(
            f"You have {len(reminders)} reminders: {spoken_list([r.text or '' for r in reminders])}. Which one?"
        )
    wanted = _key(re.sub(r"^(?:to|about|for)\s+", "", " ".join(what.lower().split())))
    wanted = _TRAILING_REMINDER.sub("", _LEADING.sub("", wanted)).strip()
    exact = [r for r in reminders if _key(r.text or "") == wanted]
    contained = exact or [r for r in reminders if wanted and re.search(rf"\b{re.escape(wanted)}\b", _key(r.text or ""))]
    if len(contained) == 1:
        return contained[0]
    if not contained:
        closest = best_match(wanted, reminders, lambda r: _key(r.text or "")).winner
        if closest is not None:
            return closest
        raise SkillError(
            f"I don't have a reminder about {what.strip()}. "
            f"Your reminders are: {spoken_list([r.text or '' for r in reminders])}."
        )
    raise SkillError(f"Several reminders fit that: {spoken_list([r.text or '' for r in contained])}. Which one?")


_TRAILING_REMINDER = re.compile(r"\s*\breminders?$")


def resolve_reminder_time(what: str, when: str | None, now: datetime) -> tuple[str, datetime]:
    """(reminder text, due time) from what the model or a template gave.

    A template like "remind me in {when} to {what}" hands over "10 minutes" without
    its "in", and "remind me to {what}" leaves the time inside `what`; both work.
    """
    what = " ".join((what or "").split())
    what = re.sub(r"^(?:to|that)\s+", "", what, flags=re.I)
    if when and when.strip():
        spoken = " ".join(when.split())
        due = parse_when(spoken, now)
        if due is None:
            length = parse_duration(spoken)
            due = now + length if length is not None else None
        if due is None:
            text, due = split_when(f"{what} {spoken}", now)
            what = text if due is not None and text else what
        if due is None:
            raise SkillError(
                f"I heard '{spoken}' as the time, which I couldn't understand. "
                "Try something like in 10 minutes, at 5 PM, or tomorrow at 9."
            )
    else:
        text, due = split_when(what, now)
        if due is None:
            raise SkillError(
                f"When should I remind you to {what or 'do that'}? "
                "Say it with a time, like: remind me to call mom at 5 PM."
            )
        what = text
    what = re.sub(r"^(?:to|that)\s+", "", what.strip(" ,."), flags=re.I)
    if not what:
        raise SkillError("What should I remind you about? Say, for example: remind me to call mom at 5 PM.")
    if due <= now:
        raise SkillError(f"{capitalize(speak_when(due, now))} has already passed. Give me a time in the future.")
    return what, due


def spoken_due(due: datetime, now: datetime) -> str:
    """'in 10 minutes' for soon (easier to check than a clock time), else 'tomorrow at 5 PM'."""
    ahead = (due - now).total_seconds()
    if 0 < ahead < 3600:
        return f"in {speak_duration(rounded_left(ahead))}"
    return speak_when(due, now)


def parse_length(spoken: str) -> timedelta:
    """A spoken length ('10 minutes') as a timedelta, or a SkillError saying how to say it."""
    length = parse_duration(spoken or "")
    if length is None:
        raise SkillError(
            f"I heard '{(spoken or '').strip()}', which isn't a length of time I understand. "
            "Try something like 10 minutes or an hour and a half."
        )
    return length


_NUMBER_START = re.compile(
    r"^(?:for\s+|about\s+|around\s+)?(?:\d|an?\b|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|half|quarter|couple)",
    re.IGNORECASE,
)


class SpokenDuration(str):
    """A duration slot that starts like a duration ("10 minutes", "an hour and a half").

    Why: the template "{duration} timer" would otherwise swallow "add 5 minutes to the
    pizza timer" whole (one wildcard beats two); refusing words that cannot begin a
    duration lets the template matcher pick the right skill.  The schema stays a string.
    """

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(cls._check, core_schema.str_schema())

    @staticmethod
    def _check(value: str) -> str:
        if not _NUMBER_START.match(value.strip()):
            raise ValueError(f"'{value}' is not a length of time; say it like 10 minutes")
        return value
