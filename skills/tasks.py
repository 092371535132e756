"""Task lists by voice: add, read, complete, edit, delete, clear ("undo that" is skills/undo.py).

Dictated text is data: whatever the user says after "add" is stored as the
task's words and never read as an instruction.  Every change is
consequential (the gate asks first); the preview names the exact task and,
for bulk changes, the list and the count.

What is confirmed is what runs.  Each preview returns a `Plan` whose data
fixes the exact task (as it was read back), the exact rows of a bulk delete,
or the journal entry (or timer change) an undo reverts.  The skill executes
that plan; if its target changed while Hark was asking, the store refuses
inside the same transaction and the skill raises `StateChanged` ("Your list
changed while I was asking, so I deleted nothing.").  Deleting and clearing
are `always_confirm`: configuration cannot waive their question.  Undo is in `skills/undo.py`;
resolving words to a task and a due time in `skills/task_words.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from skills.phrasing import plural, spoken_list
from skills.registry import Plan, SkillContext, SkillError, SkillResult, skill
from skills.store import Task, TaskStore, normalize_list_name
from skills.task_words import edit_from_words, is_every_list, resolve_task, say_due, say_tasks, task_and_due


def task_store(ctx: SkillContext) -> TaskStore:
    """The process-wide task store for this context."""
    return TaskStore.for_context(ctx)


_P = TypeVar("_P")


def confirmed_plan(ctx: SkillContext, kind: type[_P], make: Callable[[], Plan]) -> _P:
    """The plan the user confirmed (`ctx.plan`, set by the gate), or, outside the gate, one made now."""
    plan = ctx.plan
    if plan is None or not isinstance(plan.data, kind):
        plan = make()
    return plan.data


# ---- add ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _AddPlan:
    text: str
    list: str
    due: datetime | None
    not_understood: str | None


def _preview_add(ctx: SkillContext, item: str, list_name: str | None = None, due: str | None = None) -> Plan:
    store = task_store(ctx)
    text, when, not_understood = task_and_due(item, due, ctx.now())
    name = store.list_name(list_name)
    preview = f"I'll add '{text}' to {store.spoken_list_name(name)}"
    if when is not None:
        preview += f", {say_due(when, ctx.now())}"
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
def add_task(ctx: SkillContext, item: str, list_name: str | None = None, due: str | None = None) -> SkillResult:
    """Add a task to a to-do list. The item is stored exactly as dictated.

    Args:
        item: The task's words, exactly as the user said them.
        list_name: Which list, like "shopping"; the default to-do list when not given.
        due: When it is due, in the user's words, like "tomorrow at 5 pm"; omit if not said.
    """
    store = task_store(ctx)
    plan = confirmed_plan(ctx, _AddPlan, lambda: _preview_add(ctx, item, list_name, due))
    task = store.add(plan.text, plan.list, due=plan.due)
    reply = f"Added '{task.text}' to {store.spoken_list_name(task.list)}"
    if task.due is not None:
        reply += f", {say_due(task.due, ctx.now())}"
    elif plan.not_understood:
        reply += f". I didn't understand '{plan.not_understood}' as a time, so it has no due time"
    return SkillResult(reply + ".", task.to_dict())


# ---- read -----------------------------------------------------------------------------------------


def _list_all(store: TaskStore, list_name: str | None, now: datetime) -> str:
    if list_name is not None and not is_every_list(list_name):
        name = store.list_name(list_name)
        tasks = store.list_tasks(name)
        if not tasks:
            return f"{store.spoken_list_name(name).capitalize()} is empty."
        where = "" if name == store.default_list else f" on {store.spoken_list_name(name)}"
        return f"You have {plural(len(tasks), 'task')}{where}: {say_tasks(tasks, now)}."
    tasks = store.list_tasks(None)
    if not tasks:
        return "You have no tasks."
    by_list: dict[str, list[Task]] = {}
    for t in tasks:
        by_list.setdefault(t.list, []).append(t)
    if len(by_list) == 1:
        ((name, only),) = by_list.items()
        where = "" if name == store.default_list else f" on {store.spoken_list_name(name)}"
        return f"You have {plural(len(only), 'task')}{where}: {say_tasks(only, now)}."
    parts = [
        f"On {store.spoken_list_name(name)}: {say_tasks(group, now)}."
        for name, group in sorted(by_list.items(), key=lambda kv: (kv[0] != store.default_list, kv[0]))
    ]
    return f"You have {plural(len(tasks), 'task')}. " + " ".join(parts)


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
    list_name: str | None = None,
    which: Literal["all", "today", "overdue"] = "all",
) -> SkillResult:
    """Read out open tasks: all of them, those due today, or those overdue.

    Args:
        list_name: Which list, like "shopping"; every list when not given.
        which: "all" for every open task, "today" for tasks due today, "overdue" for tasks past their due time.
    """
    store = task_store(ctx)
    now = ctx.now()
    every = list_name is None or is_every_list(list_name)
    name = None if every else store.list_name(list_name)
    where = "" if name is None else f" on {store.spoken_list_name(name)}"

    def on_list(tasks: list[Task]) -> list[Task]:
        return tasks if every else [t for t in tasks if t.list == name]

    if which == "today":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        tasks = on_list(store.due_between(start, start + timedelta(days=1)))
        earlier = on_list(store.overdue(start))
        if tasks:
            text = f"Due today{where}: {say_tasks(tasks, now)}."
        else:
            others = len(on_list(store.list_tasks(None))) - len(earlier)
            text = f"Nothing is due today{where}." + (
                f" You have {plural(others, 'other open task')}." if others > 0 else ""
            )
        if earlier:
            text += f" Also overdue from before today: {say_tasks(earlier, now)}."
        tasks = tasks + earlier
    elif which == "overdue":
        tasks = on_list(store.overdue(now))
        if tasks:
            verb = "is" if len(tasks) == 1 else "are"
            text = f"{plural(len(tasks), 'task')}{where} {verb} overdue: {say_tasks(tasks, now)}."
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
    task = resolve_task(task_store(ctx), item, open_only=True)
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
    store = task_store(ctx)
    plan = confirmed_plan(ctx, _OneTask, lambda: _preview_complete(ctx, item))
    task = store.complete(plan.task.id, expected=plan.task)
    left = len(store.list_tasks(task.list))
    tail = "" if left else f" {store.spoken_list_name(task.list).capitalize()} is now empty."
    return SkillResult(f"Done: '{task.text}'.{tail}", task.to_dict())


@dataclass(frozen=True)
class _EditPlan:
    task: Task
    text: str | None
    due: datetime | None
    clear_due: bool


def _preview_edit(ctx: SkillContext, item: str, new_text: str | None = None, due: str | None = None) -> Plan:
    task = resolve_task(task_store(ctx), item, open_only=False)
    text, when, clear_due = edit_from_words(new_text, due, ctx.now())
    changes = []
    if text is not None:
        changes.append(f"say '{text}'")
    if when is not None:
        changes.append(f"be {say_due(when, ctx.now())}")
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
def edit_task(ctx: SkillContext, item: str, new_text: str | None = None, due: str | None = None) -> SkillResult:
    """Change what a task says, or when it is due.

    Args:
        item: Words from the task as it is now.
        new_text: What the task should say instead; omit to keep its words.
        due: A new due time in the user's words, like "friday at noon", or "none" to remove it.
    """
    store = task_store(ctx)
    plan = confirmed_plan(ctx, _EditPlan, lambda: _preview_edit(ctx, item, new_text, due))
    task = plan.task
    changed = store.edit(task.id, text=plan.text, due=plan.due, clear_due=plan.clear_due, expected=task)
    reply = f"Changed '{task.text}'" + (f" to '{changed.text}'" if changed.text != task.text else "")
    if plan.due is not None:
        reply += f", {say_due(plan.due, ctx.now())}"
    elif plan.clear_due:
        reply += ", with no due time"
    return SkillResult(reply + ".", changed.to_dict())


def _preview_delete(ctx: SkillContext, item: str, list_name: str | None = None) -> Plan:
    store = task_store(ctx)
    task = resolve_task(store, item, open_only=False, list_name=list_name)
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
def delete_task(ctx: SkillContext, item: str, list_name: str | None = None) -> SkillResult:
    """Delete one task (done or not) from its list.

    Args:
        item: Words from the task, as the user said them.
        list_name: The list the user named, if any; it is searched first, then every list.
    """
    store = task_store(ctx)
    plan = confirmed_plan(ctx, _OneTask, lambda: _preview_delete(ctx, item, list_name))
    task = store.delete(plan.task.id, expected=plan.task)
    return SkillResult(f"Deleted '{task.text}' from {store.spoken_list_name(task.list)}.", task.to_dict())


# ---- bulk -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ClearPlan:
    list: str | None  # None: every list
    tasks: tuple[Task, ...]  # exactly the rows the user agreed to delete


def _clear_scope(store: TaskStore, list_name: str | None) -> tuple[str | None, list[Task]]:
    """(store list name, or None for every list; the tasks it holds, finished ones too)."""
    if is_every_list(list_name):
        return None, store.list_tasks(None, include_done=True)
    name = store.list_name(list_name)
    return name, store.list_tasks(name, include_done=True)


def _nothing_to_clear(store: TaskStore, name: str | None) -> str:
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
        parts.append(plural(open_count, "open task"))
    if done_count:
        parts.append(plural(done_count, "finished task"))
    return " and ".join(parts)


def _preview_clear(ctx: SkillContext, list_name: str | None = None) -> Plan:
    store = task_store(ctx)
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
        text = f"I'll delete {what} on every list: " + spoken_list(
            [
                f"{_open_and_done(sum(not t.done for t in group), sum(t.done for t in group))} on your {lst} list"
                for lst, group in sorted(per_list.items(), key=lambda kv: (kv[0] != store.default_list, kv[0]))
            ]
        )
        return Plan(text + ".", plan)
    elsewhere = _open_elsewhere(store, name)
    if not elsewhere:
        # Nothing else anywhere: "all of your tasks" is unambiguous.
        if open_count == 0:
            return Plan(f"I'll delete the {plural(done_count, 'finished task')} on your {name} list.", plan)
        if name == store.default_list:
            what = f"all {open_count} of your tasks" if open_count > 1 else "your one task"
            where = ""
        else:
            what = f"all {open_count} tasks" if open_count > 1 else "the one task"
            where = f" on {store.spoken_list_name(name)}"
        text = f"I'll delete {what}{where}"
        if done_count:
            text += f", and {plural(done_count, 'finished one')}"
        return Plan(text + ".", plan)
    if open_count == 0 and normalize_list_name(list_name, "") == "":
        # "Delete all my tasks" while the default list holds only finished ones: the user
        # surely means the open tasks elsewhere, so ask which list instead of guessing.
        others = spoken_list([f"{plural(n, 'open task')} on your {lst} list" for lst, n in elsewhere.items()])
        raise SkillError(
            f"Your {name} list has only {plural(done_count, 'finished task')}, and you have {others}. "
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
def clear_tasks(ctx: SkillContext, list_name: str | None = None) -> SkillResult:
    """Delete every task on one list, open and finished ones alike; other lists are kept.

    With no list named this is the default list, and the question names it and
    what the other lists keep; "all" means every list.  The count read back is
    exactly what is deleted: if the list changed meanwhile, nothing is.

    Args:
        list_name: Which list, like "shopping"; the default to-do list when not given; "all" for every list.
    """
    store = task_store(ctx)
    plan = confirmed_plan(ctx, _ClearPlan, lambda: _preview_clear(ctx, list_name))
    deleted = store.clear(plan.list, expected=plan.tasks)
    where = "every list" if plan.list is None else f"your {plan.list} list"
    return SkillResult(
        f"Deleted {plural(deleted, 'task')} from {where}. Say 'undo' if that was a mistake.", {"deleted": deleted}
    )
