"""Task lists by voice: add, read, complete, edit, delete, clear, undo.

Dictated text is data: whatever the user says after "add" is stored as the
task's words and never read as an instruction.  Every change is
consequential (the gate asks first); the preview names the exact task and,
for bulk changes, the list and the count.

What is confirmed is what runs.  Each preview returns a `Plan` whose data
fixes the exact task (as it was read back), the exact rows of a bulk delete,
or the journal entry (or timer change) an undo reverts.  The skill executes
that plan; if its target changed while Hark was asking, the store refuses
inside the same transaction and the skill raises `StateChanged` ("Your list
changed while I was asking, so I deleted nothing.").  Deleting, clearing
and undoing are `always_confirm`: configuration cannot waive their question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Callable, Literal, Optional, TypeVar

from skills.registry import Plan, SkillContext, SkillError, SkillResult, StateChanged, skill
from skills.store import JournalEntry, Task, TaskStore, normalize_list_name
from skills.when import parse_when, speak_when, split_when
from voice.text import spoken_list

if TYPE_CHECKING:
    from skills.timer_service import TimerChange, TimerService

# Reading more than this aloud is a lecture, not an answer.
MAX_SPOKEN_TASKS = 10
_EVERY_LIST = re.compile(r"^\s*(all|every|everything)\b", re.IGNORECASE)
_NO_DUE = {"none", "no date", "no due date", "nothing", "never", "no deadline", "no time"}


def _count(n: int, noun: str = "task") -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _store(ctx: SkillContext) -> TaskStore:
    return TaskStore.for_context(ctx)


def _say_task(task: Task, now: datetime) -> str:
    return task.text if task.due is None else f"{task.text} due {speak_when(task.due, now)}"


def _say_tasks(tasks: list[Task], now: datetime) -> str:
    spoken = [_say_task(t, now) for t in tasks[:MAX_SPOKEN_TASKS]]
    if len(tasks) > MAX_SPOKEN_TASKS:
        spoken.append(f"{len(tasks) - MAX_SPOKEN_TASKS} more")
    return spoken_list(spoken)


def _is_every_list(list_name: Optional[str]) -> bool:
    return bool(list_name) and bool(_EVERY_LIST.match(list_name))  # type: ignore[arg-type]


_P = TypeVar("_P")


def _locked(ctx: SkillContext, kind: type[_P], make: Callable[[], Plan]) -> _P:
    """The plan the user confirmed (`ctx.plan`, set by the gate), or, outside the gate, one made now."""
    plan = ctx.plan
    if plan is None or not isinstance(plan.data, kind):
        plan = make()
    return plan.data


# ---- resolving spoken words to one task -----------------------------------------------------------

def _describe_matches(tasks: list[Task], store: TaskStore) -> str:
    texts = [t.text for t in tasks]
    same = len(set(t.lower() for t in texts)) < len(texts)
    shown = [f"'{t.text}' on {store.spoken_list_name(t.list)}" if same else f"'{t.text}'" for t in tasks[:5]]
    return spoken_list(shown)


def _resolve(store: TaskStore, item: str, *, open_only: bool, list_name: Optional[str] = None) -> Task:
    """The one task the words mean, or a SkillError that says what to say instead.

    Open tasks are preferred over finished ones; a named list is searched first.
    """
    if not item or not item.strip():
        raise SkillError("Which task? Say some of its words.")
    matches = store.find(item, store.list_name(list_name)) if list_name else []
    if not matches:
        matches = store.find(item)
    if not matches:
        done = store.find(item, include_done=True)
        if done and open_only:
            raise SkillError(f"'{done[0].text}' is already done.")
        matches = done
    if not matches:
        raise SkillError(f"I couldn't find a task like '{item}'. Ask what's on your list to hear your tasks.")
    if len(matches) > 1:
        raise SkillError(
            f"'{item}' could be {len(matches)} tasks: {_describe_matches(matches, store)}. "
            "Which one? Say more of its words."
        )
    return matches[0]


# ---- add ------------------------------------------------------------------------------------------

def _plan_add(ctx: SkillContext, item: str, due: Optional[str]) -> tuple[str, Optional[datetime], Optional[str]]:
    """(task text, due time, due words that were not understood).

    An explicit `due` is parsed as a time; otherwise a time phrase at the end of the
    item ("call mom tomorrow at five") is split off.  Words that are not a time stay
    in the task text, so nothing the user said is lost.
    """
    now = ctx.now()
    text = (item or "").strip()
    if due and due.strip():
        due = due.strip()
        when = parse_when(due, now)
        # Models often repeat the time in both fields ("buy milk tomorrow", due "tomorrow").
        if when is not None and len(text) > len(due) and text.lower().endswith(due.lower()):
            text = text[: -len(due)].rstrip(" ,;-")
        return text, when, None if when is not None else due
    rest, when = split_when(text, now)
    if when is not None and rest.strip():
        return rest.strip(), when, None
    return text, None, None


def _say_due(when: datetime, now: datetime) -> str:
    # when.py keeps a named day even if that moment has passed; say so rather than hide it.
    return f"due {speak_when(when, now)}" + (", which has already passed" if when <= now else "")


@dataclass(frozen=True)
class _AddPlan:
    text: str
    list: str
    due: Optional[datetime]
    not_understood: Optional[str]


def _preview_add(ctx: SkillContext, item: str, list_name: Optional[str] = None, due: Optional[str] = None) -> Plan:
    store = _store(ctx)
    text, when, not_understood = _plan_add(ctx, item, due)
    name = store.list_name(list_name)
    preview = f"I'll add '{text}' to {store.spoken_list_name(name)}"
    if when is not None:
        preview += f", {_say_due(when, ctx.now())}"
    elif not_understood:
        preview += f" with no due time, because I didn't understand '{not_understood}' as a time"
    # The due time is fixed now: "in 10 minutes" means 10 minutes from when it was read back.
    return Plan(preview + ".", _AddPlan(text, name, when, not_understood))


@skill(
    consequential=True,
    preview=_preview_add,
    sentences=[
        "add {item} to my [task|tasks|to do|todo] list",
        "add {item} to (my|the) {list_name} list",
        "put {item} on my [task|tasks|to do|todo] list",
        "put {item} on (my|the) {list_name} list",
        "add [a|the] [new] task [that says|saying|called|to] {item}",
        "new task {item}",
    ],
)
def add_task(ctx: SkillContext, item: str, list_name: Optional[str] = None, due: Optional[str] = None) -> SkillResult:
    """Add a task to a to-do list. The item is stored exactly as dictated.

    Args:
        item: The task's words, exactly as the user said them.
        list_name: Which list, like "shopping"; the default to-do list when not given.
        due: When it is due, in the user's words, like "tomorrow at 5 pm"; omit if not said.
    """
    store = _store(ctx)
    plan = _locked(ctx, _AddPlan, lambda: _preview_add(ctx, item, list_name, due))
    task = store.add(plan.text, plan.list, due=plan.due)
    reply = f"Added '{task.text}' to {store.spoken_list_name(task.list)}"
    if task.due is not None:
        reply += f", {_say_due(task.due, ctx.now())}"
    elif plan.not_understood:
        reply += f". I didn't understand '{plan.not_understood}' as a time, so it has no due time"
    return SkillResult(reply + ".", task.to_dict())


# ---- read -----------------------------------------------------------------------------------------

def _list_all(store: TaskStore, list_name: Optional[str], now: datetime) -> str:
    if list_name is not None and not _is_every_list(list_name):
        name = store.list_name(list_name)
        tasks = store.list_tasks(name)
        if not tasks:
            return f"{store.spoken_list_name(name).capitalize()} is empty."
        where = "" if name == store.default_list else f" on {store.spoken_list_name(name)}"
        return f"You have {_count(len(tasks))}{where}: {_say_tasks(tasks, now)}."
    tasks = store.list_tasks(None)
    if not tasks:
        return "You have no tasks."
    by_list: dict[str, list[Task]] = {}
    for t in tasks:
        by_list.setdefault(t.list, []).append(t)
    if len(by_list) == 1:
        (name, only), = by_list.items()
        where = "" if name == store.default_list else f" on {store.spoken_list_name(name)}"
        return f"You have {_count(len(only))}{where}: {_say_tasks(only, now)}."
    parts = [f"On {store.spoken_list_name(name)}: {_say_tasks(group, now)}." for name, group in
             sorted(by_list.items(), key=lambda kv: (kv[0] != store.default_list, kv[0]))]
    return f"You have {_count(len(tasks))}. " + " ".join(parts)


@skill(
    sentences=[
        "(what's|what is|whats) on (my|the) [task|tasks|to do|todo] list",
        "(what's|what is|whats) on (my|the) {list_name} list",
        "(read|list|show) [me] (my|the) [task|tasks|to do|todo] list",
        "(read|list|show) [me] (my|the) {list_name} list",
        "(read|list|show) [me] my tasks",
        "what (are|were) my tasks",
        "what do I (have|need) to do [{which}]",
        "what (have I|do I have) got to do [{which}]",
        "(what's|what is|whats) due {which}",
        "(what's|what is|whats|is anything) {which}",
    ],
)
def list_tasks(
    ctx: SkillContext,
    list_name: Optional[str] = None,
    which: Literal["all", "today", "overdue"] = "all",
) -> SkillResult:
    """Read out open tasks: all of them, those due today, or those overdue.

    Args:
        list_name: Which list, like "shopping"; every list when not given.
        which: "all" for every open task, "today" for tasks due today, "overdue" for tasks past their due time.
    """
    store = _store(ctx)
    now = ctx.now()
    every = list_name is None or _is_every_list(list_name)
    name = None if every else store.list_name(list_name)
    where = "" if every else f" on {store.spoken_list_name(name)}"  # type: ignore[arg-type]

    def on_list(tasks: list[Task]) -> list[Task]:
        return tasks if every else [t for t in tasks if t.list == name]

    if which == "today":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        tasks = on_list(store.due_between(start, start + timedelta(days=1)))
        earlier = on_list(store.overdue(start))
        if tasks:
            text = f"Due today{where}: {_say_tasks(tasks, now)}."
        else:
            others = len(on_list(store.list_tasks(None))) - len(earlier)
            text = f"Nothing is due today{where}." + (
                f" You have {_count(others, 'other open task')}." if others > 0 else "")
        if earlier:
            text += f" Also overdue from before today: {_say_tasks(earlier, now)}."
        tasks = tasks + earlier
    elif which == "overdue":
        tasks = on_list(store.overdue(now))
        if tasks:
            verb = "is" if len(tasks) == 1 else "are"
            text = f"{_count(len(tasks))}{where} {verb} overdue: {_say_tasks(tasks, now)}."
        else:
            text = f"Nothing{where} is overdue."
    else:
        text = _list_all(store, list_name, now)
        tasks = store.list_tasks(name)
    return SkillResult(text, [t.to_dict() for t in tasks])


# ---- complete / edit / delete ---------------------------------------------------------------------

# Previews resolve exactly as the skill would and let its SkillError through: the gate then
# says why ("'milk' could be 3 tasks ...") instead of asking a question whose yes would fail.
# The plan holds the task as it was read back; the store refuses if it is no longer that.

@dataclass(frozen=True)
class _OneTask:
    task: Task


def _preview_complete(ctx: SkillContext, item: str) -> Plan:
    task = _resolve(_store(ctx), item, open_only=True)
    return Plan(f"I'll mark '{task.text}' as done.", _OneTask(task))


@skill(
    consequential=True,
    preview=_preview_complete,
    sentences=[
        "(mark|check) [off] {item} [as] (done|complete|completed|finished)",
        "check off {item}",
        "cross off {item}",
        "(complete|finish) [the] task {item}",
        "I (finished|completed|have finished|have completed|'ve finished|'ve completed) {item}",
    ],
)
def complete_task(ctx: SkillContext, item: str) -> SkillResult:
    """Mark an open task as done.

    Args:
        item: Words from the task, as the user said them.
    """
    store = _store(ctx)
    plan = _locked(ctx, _OneTask, lambda: _preview_complete(ctx, item))
    task = store.complete(plan.task.id, expected=plan.task)
    left = len(store.list_tasks(task.list))
    tail = "" if left else f" {store.spoken_list_name(task.list).capitalize()} is now empty."
    return SkillResult(f"Done: '{task.text}'.{tail}", task.to_dict())


@dataclass(frozen=True)
class _EditPlan:
    task: Task
    text: Optional[str]
    due: Optional[datetime]
    clear_due: bool


def _plan_edit(ctx: SkillContext, new_text: Optional[str], due: Optional[str]) -> tuple[Optional[str], Optional[datetime], bool]:
    """(new text or None, new due time or None, clear the due time)."""
    text = new_text.strip() if new_text and new_text.strip() else None
    if not due or not due.strip():
        if text is None:
            raise SkillError("What should the task say instead? Say something like: change milk to oat milk.")
        return text, None, False
    if due.strip().lower() in _NO_DUE:
        return text, None, True
    when = parse_when(due, ctx.now())
    if when is None:
        raise SkillError(f"I didn't understand '{due.strip()}' as a time. Try something like: tomorrow at 5 pm.")
    return text, when, False


def _preview_edit(ctx: SkillContext, item: str, new_text: Optional[str] = None, due: Optional[str] = None) -> Plan:
    task = _resolve(_store(ctx), item, open_only=False)
    text, when, clear_due = _plan_edit(ctx, new_text, due)
    changes = []
    if text is not None:
        changes.append(f"say '{text}'")
    if when is not None:
        changes.append(f"be {_say_due(when, ctx.now())}")
    if clear_due:
        changes.append("have no due time")
    return Plan(f"I'll change '{task.text}' to {spoken_list(changes)}.", _EditPlan(task, text, when, clear_due))


@skill(
    consequential=True,
    preview=_preview_edit,
    sentences=[
        # "task" or "say" is required: a bare "change X to Y" is too often about something else (a timer).
        "(change|edit|rename) [the] task {item} to [say|read] {new_text}",
        "(change|edit) {item} to (say|read) {new_text}",
    ],
)
def edit_task(ctx: SkillContext, item: str, new_text: Optional[str] = None, due: Optional[str] = None) -> SkillResult:
    """Change what a task says, or when it is due.

    Args:
        item: Words from the task as it is now.
        new_text: What the task should say instead; omit to keep its words.
        due: A new due time in the user's words, like "friday at noon", or "none" to remove it.
    """
    store = _store(ctx)
    plan = _locked(ctx, _EditPlan, lambda: _preview_edit(ctx, item, new_text, due))
    task = plan.task
    changed = store.edit(task.id, text=plan.text, due=plan.due, clear_due=plan.clear_due, expected=task)
    reply = f"Changed '{task.text}'" + (f" to '{changed.text}'" if changed.text != task.text else "")
    if plan.due is not None:
        reply += f", {_say_due(plan.due, ctx.now())}"
    elif plan.clear_due:
        reply += ", with no due time"
    return SkillResult(reply + ".", changed.to_dict())


def _preview_delete(ctx: SkillContext, item: str, list_name: Optional[str] = None) -> Plan:
    store = _store(ctx)
    task = _resolve(store, item, open_only=False, list_name=list_name)
    return Plan(f"I'll delete '{task.text}' from {store.spoken_list_name(task.list)}.", _OneTask(task))


@skill(
    always_confirm=True,
    preview=_preview_delete,
    sentences=[
        "(delete|remove) {item} from (my|the) [task|tasks|to do|todo] list",
        "(delete|remove) {item} from (my|the) {list_name} list",
        "(delete|remove) [the] task {item}",
        "take {item} off (my|the) [task|tasks|to do|todo] list",
        "take {item} off (my|the) {list_name} list",
    ],
)
def delete_task(ctx: SkillContext, item: str, list_name: Optional[str] = None) -> SkillResult:
    """Delete one task (done or not) from its list.

    Args:
        item: Words from the task, as the user said them.
        list_name: The list the user named, if any; it is searched first, then every list.
    """
    store = _store(ctx)
    plan = _locked(ctx, _OneTask, lambda: _preview_delete(ctx, item, list_name))
    task = store.delete(plan.task.id, expected=plan.task)
    return SkillResult(f"Deleted '{task.text}' from {store.spoken_list_name(task.list)}.", task.to_dict())


# ---- bulk -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _ClearPlan:
    list: Optional[str]          # None: every list
    tasks: tuple[Task, ...]      # exactly the rows the user agreed to delete


def _clear_scope(store: TaskStore, list_name: Optional[str]) -> tuple[Optional[str], list[Task]]:
    """(store list name, or None for every list; the tasks it holds, finished ones too)."""
    if _is_every_list(list_name):
        return None, store.list_tasks(None, include_done=True)
    name = store.list_name(list_name)
    return name, store.list_tasks(name, include_done=True)


def _nothing_to_clear(store: TaskStore, name: Optional[str]) -> str:
    if name is None:
        return "You have no tasks on any list, so there is nothing to delete."
    return f"{store.spoken_list_name(name).capitalize()} is already empty, so there is nothing to delete."


def _open_elsewhere(store: TaskStore, name: str) -> dict[str, int]:
    """Open tasks on every other list, by list (default list first, then by name)."""
    counts: dict[str, int] = {}
    for t in store.list_tasks(None):
        if t.list != name:
            counts[t.list] = counts.get(t.list, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (kv[0] != store.default_list, kv[0])))


def _open_and_done(open_count: int, done_count: int) -> str:
    """'3 open tasks and 1 finished task' / '2 finished tasks'."""
    parts = []
    if open_count:
        parts.append(_count(open_count, "open task"))
    if done_count:
        parts.append(_count(done_count, "finished task"))
    return " and ".join(parts)


def _preview_clear(ctx: SkillContext, list_name: Optional[str] = None) -> Plan:
    store = _store(ctx)
    name, tasks = _clear_scope(store, list_name)
    if not tasks:
        raise SkillError(_nothing_to_clear(store, name))
    open_count = sum(not t.done for t in tasks)
    done_count = len(tasks) - open_count
    plan = _ClearPlan(name, tuple(tasks))
    # Bulk changes say the list and the count: they are what the user is agreeing to.
    if name is None:
        per_list: dict[str, list[Task]] = {}
        for t in tasks:
            per_list.setdefault(t.list, []).append(t)
        what = f"all {len(tasks)} of your tasks" if len(tasks) > 1 else "your one task"
        text = f"I'll delete {what} on every list: " + spoken_list([
            f"{_open_and_done(sum(not t.done for t in group), sum(t.done for t in group))} on your {lst} list"
            for lst, group in sorted(per_list.items(), key=lambda kv: (kv[0] != store.default_list, kv[0]))])
        return Plan(text + ".", plan)
    elsewhere = _open_elsewhere(store, name)
    if not elsewhere:
        # Nothing else anywhere: "all of your tasks" is unambiguous.
        if open_count == 0:
            return Plan(f"I'll delete the {_count(done_count, 'finished task')} on your {name} list.", plan)
        if name == store.default_list:
            what = f"all {open_count} of your tasks" if open_count > 1 else "your one task"
            where = ""
        else:
            what = f"all {open_count} tasks" if open_count > 1 else "the one task"
            where = f" on {store.spoken_list_name(name)}"
        text = f"I'll delete {what}{where}"
        if done_count:
            text += f", and {_count(done_count, 'finished one')}"
        return Plan(text + ".", plan)
    if open_count == 0 and normalize_list_name(list_name, "") == "":
        # "Delete all my tasks" while the default list holds only finished ones: the user
        # surely means the open tasks elsewhere, so ask which list instead of guessing.
        others = spoken_list([f"{_count(n, 'open task')} on your {lst} list" for lst, n in elsewhere.items()])
        raise SkillError(
            f"Your {name} list has only {_count(done_count, 'finished task')}, and you have {others}. "
            "Say which list to clear, like: clear my shopping list, or: delete every task on every list."
        )
    keeps = spoken_list([f"your {lst} list keeps its {n}" for lst, n in elsewhere.items()])
    return Plan(f"I'll delete the {_open_and_done(open_count, done_count)} on your {name} list; {keeps}.", plan)


@skill(
    always_confirm=True,
    preview=_preview_clear,
    sentences=[
        "(clear|empty) (my|the) [task|tasks|to do|todo] list",
        "(clear|empty) (my|the) {list_name} list",
        "(delete|remove|clear) (all|every one of|everything on) (my|the) {list_name} list",
        "(delete|remove|clear) all [of] my tasks",
        "(delete|remove|clear) every task",
    ],
)
def clear_tasks(ctx: SkillContext, list_name: Optional[str] = None) -> SkillResult:
    """Delete every task on one list, open and finished ones alike; other lists are kept.

    With no list named this is the default list, and the question names it and
    what the other lists keep; "all" means every list.  The count read back is
    exactly what is deleted: if the list changed meanwhile, nothing is.

    Args:
        list_name: Which list, like "shopping"; the default to-do list when not given; "all" for every list.
    """
    store = _store(ctx)
    plan = _locked(ctx, _ClearPlan, lambda: _preview_clear(ctx, list_name))
    deleted = store.clear(plan.list, expected=plan.tasks)
    where = "every list" if plan.list is None else f"your {plan.list} list"
    return SkillResult(
        f"Deleted {_count(deleted)} from {where}. Say 'undo' if that was a mistake.", {"deleted": deleted}
    )


# ---- undo -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _UndoPlan:
    target: Literal["tasks", "timers"]
    task_entry: Optional[int]     # the newest task journal entry when the user was asked
    timer_change: Optional[int]   # the newest timer/reminder change then


def _timer_service(ctx: SkillContext) -> TimerService:
    from skills.timers import service_for  # imported late: the timer skills module loads after this one

    return service_for(ctx)


def _latest(ctx: SkillContext) -> tuple[Optional[JournalEntry], Optional[TimerChange]]:
    """The newest task change and the newest timer or reminder change (either may be None)."""
    return _store(ctx).last_entry(), _timer_service(ctx).last_change()


def _preview_undo(ctx: SkillContext) -> Plan:
    entry, change = _latest(ctx)
    timer_id = None if change is None else change.id
    if change is not None and (entry is None or change.at > entry.at):
        if not change.undoable:
            # The newest change is what "undo that" means: never fall back to an older one.
            why = change.why_not.rstrip(" .")
            raise SkillError(f"The last change you made was that you {change.description}, and I can't undo it"
                             + (f": {why}." if why else "."))
        return Plan(f"You {change.description} last. I'll undo that and {change.undo_text}.",
                    _UndoPlan("timers", None if entry is None else entry.id, timer_id))
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
    plan = _locked(ctx, _UndoPlan, lambda: _preview_undo(ctx))
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
    undone = _store(ctx).undo(expected_entry=plan.task_entry)
    if undone is None:
        raise SkillError("There's nothing to undo.")
    return SkillResult(f"Okay, I undid {undone}.", {"undone": undone})
