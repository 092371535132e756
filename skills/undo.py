"""Undo by voice: "undo that" reverses the user's most recent change, to tasks or to timers.

Tasks and timers each keep a journal (`skills.store`, `skills.timer_store`);
"the last change" is whichever of the two is newer.  Undoing is
`always_confirm`: the preview names exactly what will be reversed, and the
plan fixes both journals' newest entries, so a change made while Hark was
asking makes the skill raise `StateChanged` and undo nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from skills.registry import Plan, SkillContext, SkillError, SkillResult, StateChanged, skill
from skills.store import JournalEntry
from skills.tasks import confirmed_plan, task_store
from skills.timer_service import TimerService
from skills.timer_store import TimerChange
from skills.timers import service_for


@dataclass(frozen=True)
class _UndoPlan:
    target: Literal["tasks", "timers"]
    task_entry: int | None  # the newest task journal entry when the user was asked
    timer_change: int | None  # the newest timer/reminder change then


def _timer_service(ctx: SkillContext) -> TimerService:
    return service_for(ctx)


def _latest(ctx: SkillContext) -> tuple[JournalEntry | None, TimerChange | None]:
    """The newest task change and the newest timer or reminder change (either may be None)."""
    return task_store(ctx).last_entry(), _timer_service(ctx).last_change()


def _preview_undo(ctx: SkillContext) -> Plan:
    entry, change = _latest(ctx)
    timer_id = None if change is None else change.id
    if change is not None and (entry is None or change.at > entry.at):
        if not change.undoable:
            # The newest change is what "undo that" means: never fall back to an older one.
            why = change.why_not.rstrip(" .")
            raise SkillError(
                f"The last change you made was that you {change.description}, and I can't undo it"
                + (f": {why}." if why else ".")
            )
        return Plan(
            f"You {change.description} last. I'll undo that and {change.undo_text}.",
            _UndoPlan("timers", None if entry is None else entry.id, timer_id),
        )
    if entry is None:
        raise SkillError("There's nothing to undo.")  # nothing to ask about
    return Plan(f"I'll undo {entry.description}.", _UndoPlan("tasks", entry.id, timer_id))


@skill(
    always_confirm=True,
    preview=_preview_undo,
    sentences=[
        "undo [that|this|it|the last change|the last thing|my last change]",
        "undo the last (task|change|thing) [you did]",
        "take that back",
        "revert [that|the last change]",
    ],
)
def undo_last_change(ctx: SkillContext) -> SkillResult:
    """Undo the user's most recent change, to a task list or to a timer or reminder.

    A task change is an add, completion, edit, delete or clear; a timer change is starting,
    cancelling, pausing, resuming or changing the length of a timer or reminder.
    """
    plan = confirmed_plan(ctx, _UndoPlan, lambda: _preview_undo(ctx))
    entry, change = _latest(ctx)
    # Any newer change (to tasks or to timers) means "the last change" is no longer what was read back.
    if (None if entry is None else entry.id) != plan.task_entry:
        raise StateChanged("Your list changed while I was asking, so I undid nothing.")
    if (None if change is None else change.id) != plan.timer_change:
        raise StateChanged("Your timers changed while I was asking, so I undid nothing.")
    if plan.target == "timers":
        assert plan.timer_change is not None
        done = _timer_service(ctx).undo(plan.timer_change)
        return SkillResult(done, {"undone": "timer", "change": plan.timer_change})
    undone = task_store(ctx).undo(expected_entry=plan.task_entry)
    if undone is None:
        raise SkillError("There's nothing to undo.")
    return SkillResult(f"Okay, I undid {undone}.", {"undone": undone})
