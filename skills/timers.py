"""Timers and reminders by voice, on top of `skills.timer_service.TimerService` (a `TimerStore` that fires).

Which skills ask first: starting, adding time, pausing, resuming and
cancelling ONE timer are the user's own scheduling when a sentence template
chose them (a spoken slip is fixed by saying it again), so they run at once.
When the language model chose to cancel, shorten or pause a timer
(`confirm_if_model`), Hark says exactly what will happen and waits for a yes.
Cancelling all timers, all reminders or one reminder removes things the user
set up, possibly days ago, so it is always confirmed.  Starting a new timer or
reminder is never confirmed.

Every confirmed change is plan-locked: its preview returns a `Plan` naming the
exact timer ids (and, for "all", the whole set); after the yes the skill acts
on exactly those, or raises `StateChanged` and changes nothing if they moved
while Hark was asking.  With no confirmation (`ctx.plan` is None) the skill
computes the plan itself and acts on it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from skills.phrasing import capitalize, plural, spoken_list
from skills.registry import Plan, SkillContext, SkillError, SkillResult, skill
from skills.timer_service import TimerService, deliver
from skills.timer_store import REMINDER, TIMER, Timer, describe_left, left_words
from skills.timer_words import (
    SpokenDuration,
    clean_timer_name,
    find_reminder,
    find_timer,
    parse_length,
    resolve_reminder_time,
    spoken_due,
)
from skills.when import speak_duration

log = logging.getLogger("hark.timers")


# ---- the service for a context ----------------------------------------------------------------


def service_for(ctx: SkillContext) -> TimerService:
    """The process-wide timer service (created on first use; `on_start` starts its thread in the live loop)."""
    # The lambda reads ctx.announce when a timer fires: the voice loop may replace it after start.
    return ctx.resource(
        "timers",
        lambda: TimerService(
            ctx.data_dir / "timers.db", lambda text, on_played: deliver(ctx.announce, text, on_played)
        ),
    )


def on_start(ctx: SkillContext) -> None:
    """Called once when Hark starts: the live loop starts firing timers.

    Only the live loop fires timers (and announces what was missed): a one-shot `hark ask`/`run`
    must not claim a due timer that it would never say out loud.
    """
    if ctx.live:
        service_for(ctx).start()


def locked_plan(ctx: SkillContext, skill_name: str) -> dict | None:
    """The data of the plan the user confirmed for this skill, or None when nothing was confirmed."""
    plan = ctx.plan
    if isinstance(plan, Plan) and isinstance(plan.data, dict) and plan.data.get("skill") == skill_name:
        return plan.data
    return None


def _left_said(t: Timer, now: float) -> str:
    return left_words(t.seconds_left(now))


# ---- skills -----------------------------------------------------------------------------------


@skill(
    sentences=[
        "set a timer for {duration}",
        "start a timer for {duration}",
        "set [a|the] timer for {duration}",
        "timer for {duration}",
        "set a {duration} timer",
        "start a {duration} timer",
        "{duration} timer",
        "set a {name} timer for {duration}",
        "start a {name} timer for {duration}",
        "{name} timer for {duration}",
        "set a timer for {duration} (called|named|for) [the] {name}",
    ]
)
def start_timer(ctx: SkillContext, duration: SpokenDuration, name: str | None = None) -> SkillResult:
    """Start a countdown timer; Hark says when it is done.

    Args:
        duration: How long, in words, for example "10 minutes" or "an hour and a half".
        name: A name for the timer, for example "pizza"; leave out for an unnamed timer.
    """
    length = parse_length(duration)
    t = service_for(ctx).add_timer(length, clean_timer_name(name))
    said = speak_duration(length)
    text = f"{capitalize(t.name)} timer set for {said}." if t.name else f"Timer set for {said}."
    return SkillResult(text, {"id": t.id, "seconds": t.duration_s, "name": t.name})


@skill(
    sentences=[
        "how much time is left",
        "how much time is left on [the|my] [{name}] timer",
        "how much time (is left|do I have) on [the|my] [{name}] timer",
        "how long (is left|left)",
        "how long is left on [the|my] [{name}] timer",
        "how long until [the|my] [{name}] timer (is done|goes off|finishes)",
        "time left on [the|my] [{name}] timer",
    ]
)
def time_left(ctx: SkillContext, name: str | None = None) -> SkillResult:
    """Tell how much time is left on a timer, or on every timer when there are several.

    Args:
        name: Which timer, for example "pizza"; leave out to hear about all of them.
    """
    service = service_for(ctx)
    timers = service.active(TIMER)
    now = service.now()
    if not timers:
        return SkillResult("You have no timers running.", [])
    if name is None and len(timers) > 1:
        parts = [describe_left(t, now) for t in timers]
        return SkillResult(f"You have {len(timers)} timers: " + "; ".join(parts) + ".", [t.id for t in timers])
    t = find_timer(timers, name, "check", now)
    left = _left_said(t, now)
    text = f"Your {t.label} is paused with {left} left." if t.paused else f"Your {t.label} has {left} left."
    return SkillResult(text, {"id": t.id, "seconds_left": round(t.seconds_left(now), 1)})


def _adjusted(service: TimerService, t: Timer, length: timedelta, add: bool) -> SkillResult:
    left = _left_said(t, service.now())
    verb = "Added" if add else "Took"
    where = "to" if add else "off"
    return SkillResult(
        f"{verb} {speak_duration(length)} {where} your {t.label}; {left} left.",
        {"id": t.id, "seconds_left": round(t.seconds_left(service.now()), 1)},
    )


@skill(
    sentences=[
        "add {duration} to [the|my] [{name}] timer",
        "add {duration} [more] to [the|my] [{name}] timer",
        "add another {duration} to [the|my] [{name}] timer",
        "give [the|my] [{name}] timer {duration} more",
        "extend [the|my] [{name}] timer by {duration}",
    ]
)
def adjust_timer(ctx: SkillContext, duration: str, name: str | None = None) -> SkillResult:
    """Add time to a running or paused timer (to take time off, use shorten_timer).

    Args:
        duration: How much time to add, in words, for example "5 minutes".
        name: Which timer, for example "pizza"; leave out when there is only one.
    """
    # Only adds: shortening is shorten_timer's job, which asks first when the model chose it.
    length = parse_length(duration)
    service = service_for(ctx)
    t = find_timer(service.active(TIMER), name, "change", service.now())
    return _adjusted(service, service.adjust(t.id, length), length, True)


def _preview_shorten(ctx: SkillContext, duration: str, name: str | None = None) -> Plan:
    length = parse_length(duration)
    service = service_for(ctx)
    now = service.now()
    t = find_timer(service.active(TIMER), name, "change", now)
    left = t.seconds_left(now) - length.total_seconds()
    if left <= 0:  # say so instead of asking for a yes that would change nothing
        raise SkillError(
            f"Your {t.label} has only {_left_said(t, now)} left, so I can't take "
            f"{speak_duration(length)} off. Say cancel the timer to stop it."
        )
    return Plan(
        f"I'll take {speak_duration(length)} off your {t.label}, leaving {left_words(left)}.",
        {"skill": "shorten_timer", "id": t.id, "state": t.state, "delta_s": -length.total_seconds()},
    )


@skill(
    confirm_if_model=True,
    preview=_preview_shorten,
    sentences=[
        "take {duration} off [the|my] [{name}] timer",
        "remove {duration} from [the|my] [{name}] timer",
        "(shorten|reduce) [the|my] [{name}] timer by {duration}",
    ],
)
def shorten_timer(ctx: SkillContext, duration: str, name: str | None = None) -> SkillResult:
    """Take time off a running or paused timer.

    Args:
        duration: How much time to take off, in words, for example "2 minutes".
        name: Which timer; leave out when there is only one.
    """
    locked = locked_plan(ctx, "shorten_timer")
    plan = locked or _preview_shorten(ctx, duration, name).data
    service = service_for(ctx)
    delta = timedelta(seconds=plan["delta_s"])
    t = service.adjust(plan["id"], delta, expect_state=plan["state"] if locked else None)
    return _adjusted(service, t, -delta, False)


def _preview_pause(ctx: SkillContext, name: str | None = None) -> Plan:
    service = service_for(ctx)
    now = service.now()
    running = [t for t in service.active(TIMER) if not t.paused]
    if not running and service.active(TIMER):
        raise SkillError("Your timers are all paused already.")
    t = find_timer(running, name, "pause", now)
    return Plan(
        f"I'll pause your {t.label} with {_left_said(t, now)} left.",
        {"skill": "pause_timer", "id": t.id, "state": t.state},
    )


@skill(
    confirm_if_model=True,
    preview=_preview_pause,
    sentences=["pause [the|my] [{name}] timer", "hold [the|my] [{name}] timer"],
)
def pause_timer(ctx: SkillContext, name: str | None = None) -> SkillResult:
    """Pause a running timer; resume_timer continues it.

    Args:
        name: Which timer; leave out when only one is running.
    """
    service = service_for(ctx)
    locked = locked_plan(ctx, "pause_timer")
    plan = locked or _preview_pause(ctx, name).data
    t = service.pause(plan["id"], expect_state=plan["state"] if locked else None)
    left = _left_said(t, service.now())
    return SkillResult(f"Paused your {t.label} with {left} left.", {"id": t.id})


@skill(
    sentences=[
        "resume [the|my] [{name}] timer",
        "continue [the|my] [{name}] timer",
        "unpause [the|my] [{name}] timer",
    ]
)
def resume_timer(ctx: SkillContext, name: str | None = None) -> SkillResult:
    """Continue a paused timer.

    Args:
        name: Which timer; leave out when only one is paused.
    """
    service = service_for(ctx)
    paused = [t for t in service.active(TIMER) if t.paused]
    if not paused:
        raise SkillError("No timer is paused." if service.active(TIMER) else "You have no timers running.")
    t = service.resume(find_timer(paused, name, "resume", service.now()).id)
    left = _left_said(t, service.now())
    return SkillResult(f"Resumed your {t.label}; {left} left.", {"id": t.id})


def _preview_cancel_timer(ctx: SkillContext, name: str | None = None) -> Plan:
    service = service_for(ctx)
    now = service.now()
    t = find_timer(service.active(TIMER), name, "cancel", now)
    left = f"is paused with {_left_said(t, now)} left" if t.paused else f"has {_left_said(t, now)} left"
    return Plan(f"I'll cancel your {t.label}, which {left}.", {"skill": "cancel_timer", "ids": [t.id]})


@skill(
    confirm_if_model=True,
    preview=_preview_cancel_timer,
    sentences=[
        "(cancel|stop|delete|remove) [the|my] [{name}] timer",
        "turn off [the|my] [{name}] timer",
    ],
)
def cancel_timer(ctx: SkillContext, name: str | None = None) -> SkillResult:
    """Cancel one timer (not a reminder; use cancel_reminder for those).

    Args:
        name: Which timer; leave out when there is only one.
    """
    locked = locked_plan(ctx, "cancel_timer")
    if locked:
        (t,) = service_for(ctx).cancel_exact(locked["ids"])
    else:
        service = service_for(ctx)
        t = service.cancel(find_timer(service.active(TIMER), name, "cancel", service.now()).id)
    return SkillResult(f"Cancelled your {t.label}.", {"id": t.id})


def _count_phrase(items: list[Timer], noun: str) -> str:
    if len(items) == 1:
        return f"your one {noun}, the {items[0].label}" if noun == "timer" else f"your one {noun}: {items[0].text}"
    shown = [t.label if noun == "timer" else (t.text or "") for t in items[:4]]
    if len(items) > 4:
        shown.append(f"{len(items) - 4} more")
    return f"all {plural(len(items), noun)}: " + spoken_list(shown)


def _nothing_to_cancel(kind: str) -> SkillError:
    return SkillError(f"You have no {kind}s, so there is nothing to cancel.")


def _preview_cancel_all(ctx: SkillContext, kind: str) -> Plan:
    items = service_for(ctx).active(kind)
    if not items:
        raise _nothing_to_cancel(kind)  # the gate says so instead of asking a pointless question
    return Plan(
        f"I'll cancel {_count_phrase(items, kind)}.",
        {"skill": f"cancel_all_{kind}s", "kind": kind, "ids": [t.id for t in items], "count": len(items)},
    )


def _cancel_all(ctx: SkillContext, kind: str) -> SkillResult:
    locked = locked_plan(ctx, f"cancel_all_{kind}s")
    service = service_for(ctx)
    # As confirmed: exactly the timers named when asking, or nothing if that set changed meanwhile.
    items = service.cancel_exact(locked["ids"], kind) if locked else service.cancel_all(kind)
    if not items:
        return SkillResult(f"You had no {kind}s to cancel.", [])
    return SkillResult(f"Cancelled {plural(len(items), kind)}.", [t.id for t in items])


@skill(
    consequential=True,
    preview=lambda ctx: _preview_cancel_all(ctx, TIMER),
    sentences=[
        "(cancel|stop|delete|remove|clear) all [of] [the|my] timers",
        "(cancel|stop|delete|remove|clear) every timer",
    ],
)
def cancel_all_timers(ctx: SkillContext) -> SkillResult:
    """Cancel every running and paused timer (reminders stay)."""
    return _cancel_all(ctx, TIMER)


@skill(
    consequential=True,
    preview=lambda ctx: _preview_cancel_all(ctx, REMINDER),
    sentences=[
        "(cancel|delete|remove|clear) all [of] [the|my] reminders",
        "(cancel|delete|remove|clear) every reminder",
    ],
)
def cancel_all_reminders(ctx: SkillContext) -> SkillResult:
    """Delete every reminder that has not come due yet."""
    return _cancel_all(ctx, REMINDER)


def _reminder_to_cancel(service: TimerService, what: str | None) -> Timer:
    """The one reminder meant, or a SkillError (nothing to cancel, no such reminder, which one?)."""
    reminders = service.active(REMINDER)
    if not reminders:
        raise _nothing_to_cancel(REMINDER)
    return find_reminder(reminders, what)


def _preview_cancel_reminder(ctx: SkillContext, what: str | None = None) -> Plan:
    service = service_for(ctx)
    r = _reminder_to_cancel(service, what)  # raises instead of asking when it cannot work
    due = datetime.fromtimestamp(r.due_at or service.now())
    return Plan(
        f"I'll delete your reminder to {r.text}, due {spoken_due(due, ctx.now())}.",
        {"skill": "cancel_reminder", "ids": [r.id]},
    )


@skill(
    consequential=True,
    preview=_preview_cancel_reminder,
    sentences=[
        "(cancel|delete|remove) [the|my] reminder (to|about) {what}",
        "(cancel|delete|remove) [the|my] {what} reminder",
        "(cancel|delete|remove) [the|my] reminder",
        "never mind the reminder (to|about) {what}",
    ],
)
def cancel_reminder(ctx: SkillContext, what: str | None = None) -> SkillResult:
    """Delete one reminder before it comes due.

    Args:
        what: Words from the reminder, for example "call mom"; leave out when there is only one.
    """
    service = service_for(ctx)
    locked = locked_plan(ctx, "cancel_reminder")
    ids = locked["ids"] if locked else [_reminder_to_cancel(service, what).id]
    (r,) = service.cancel_exact(ids)
    return SkillResult(f"Deleted your reminder to {r.text}.", {"id": r.id, "text": r.text})


@skill(
    sentences=[
        "what timers (do I have|are running|are set)",
        "(list|show) [the|my] timers",
        "what reminders do I have",
        "(list|show) [the|my] reminders",
        "what are my (timers|reminders)",
        "(do I have|are there) any (timers|reminders)",
    ]
)
def list_timers(ctx: SkillContext) -> SkillResult:
    """List running and paused timers and upcoming reminders."""
    service = service_for(ctx)
    now = service.now()
    timers, reminders = service.active(TIMER), service.active(REMINDER)
    if not timers and not reminders:
        return SkillResult("You have no timers or reminders.", [])
    parts = []
    if timers:
        parts.append(
            f"{plural(len(timers), 'timer', one='One')}: " + "; ".join(describe_left(t, now) for t in timers) + "."
        )
    if reminders:
        wall_now = datetime.fromtimestamp(now)
        said = [f"{r.text}, {spoken_due(datetime.fromtimestamp(r.due_at or now), wall_now)}" for r in reminders]
        parts.append(f"{plural(len(reminders), 'reminder', one='One')}: " + "; ".join(said) + ".")
    data = [
        {
            "id": t.id,
            "kind": t.kind,
            "name": t.name,
            "text": t.text,
            "seconds_left": round(t.seconds_left(now), 1),
            "paused": t.paused,
        }
        for t in timers + reminders
    ]
    return SkillResult(" ".join(parts), data)


@skill(
    sentences=[
        # The time keeps its "in"/"at"/"on" ("remind me in 10 minutes to ..." gives when="in 10 minutes");
        # "remind me to call mom at 5" leaves the time inside `what`, where split_when finds it.
        "remind me to {what}",
        "remind me {when} to {what}",
        "set a reminder to {what}",
        "set a reminder {when} to {what}",
        "set a reminder for {when} to {what}",
    ]
)
def remind_me(ctx: SkillContext, what: str, when: str | None = None) -> SkillResult:
    """Set a reminder; Hark says it out loud when it comes due.

    Args:
        what: What to be reminded of, for example "call mom".
        when: When, in words, for example "at 5 PM", "in 20 minutes" or "tomorrow at 9".
    """
    now = ctx.now()
    text, due = resolve_reminder_time(what, when, now)
    r = service_for(ctx).add_reminder(text, due)
    return SkillResult(
        f"Okay, I'll remind you to {r.text} {spoken_due(due, now)}.",
        {"id": r.id, "text": r.text, "due": due.isoformat(timespec="seconds")},
    )
