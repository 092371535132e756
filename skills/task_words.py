"""From the user's words to a task and a due time, and from tasks back to words.

Pure helpers for `skills/tasks.py`: which task "the milk one" means (or a
`SkillError` that says what to say instead), what "call mom tomorrow at five"
splits into, what "change it to friday" sets, and how a task list is read
aloud.  No skill is defined here.
"""

from __future__ import annotations

import re
from datetime import datetime

from skills.phrasing import spoken_list
from skills.registry import SkillError
from skills.store import Task, TaskStore
from skills.when import parse_when, speak_when, split_when

# Reading more than this aloud is a lecture, not an answer.
MAX_SPOKEN_TASKS = 10
_EVERY_LIST = re.compile(r"^\s*(all|every|everything)\b", re.IGNORECASE)
NO_DUE = {"none", "no date", "no due date", "nothing", "never", "no deadline", "no time"}


def say_task(task: Task, now: datetime) -> str:
    """'call mom due tomorrow at 5 PM' (the words alone when it has no due time)."""
    return task.text if task.due is None else f"{task.text} due {speak_when(task.due, now)}"


def say_tasks(tasks: list[Task], now: datetime) -> str:
    """Tasks as one spoken list; past MAX_SPOKEN_TASKS the rest are counted ("and 4 more")."""
    spoken = [say_task(t, now) for t in tasks[:MAX_SPOKEN_TASKS]]
    if len(tasks) > MAX_SPOKEN_TASKS:
        spoken.append(f"{len(tasks) - MAX_SPOKEN_TASKS} more")
    return spoken_list(spoken)


def is_every_list(list_name: str | None) -> bool:
    """'all', 'every list', 'everything': the user means all lists, not one named so."""
    return bool(list_name and _EVERY_LIST.match(list_name))


def describe_matches(tasks: list[Task], store: TaskStore) -> str:
    """The tasks words could mean, as a spoken list (with their lists when their words are the same)."""
    texts = [t.text for t in tasks]
    same = len(set(t.lower() for t in texts)) < len(texts)
    shown = [f"'{t.text}' on {store.spoken_list_name(t.list)}" if same else f"'{t.text}'" for t in tasks[:5]]
    return spoken_list(shown)


def resolve_task(store: TaskStore, item: str, *, open_only: bool, list_name: str | None = None) -> Task:
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
            f"'{item}' could be {len(matches)} tasks: {describe_matches(matches, store)}. "
            "Which one? Say more of its words."
        )
    return matches[0]


def task_and_due(item: str, due: str | None, now: datetime) -> tuple[str, datetime | None, str | None]:
    """(task text, due time, due words that were not understood).

    An explicit `due` is parsed as a time; otherwise a time phrase at the end of the
    item ("call mom tomorrow at five") is split off.  Words that are not a time stay
    in the task text, so nothing the user said is lost.
    """
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


def say_due(when: datetime, now: datetime) -> str:
    """'due tomorrow at 5 PM', with ', which has already passed' for a time gone by."""
    # when.py keeps a named day even if that moment has passed; say so rather than hide it.
    return f"due {speak_when(when, now)}" + (", which has already passed" if when <= now else "")


def edit_from_words(new_text: str | None, due: str | None, now: datetime) -> tuple[str | None, datetime | None, bool]:
    """(new text or None, new due time or None, clear the due time)."""
    text = new_text.strip() if new_text and new_text.strip() else None
    if not due or not due.strip():
        if text is None:
            raise SkillError("What should the task say instead? Say something like: change milk to oat milk.")
        return text, None, False
    if due.strip().lower() in NO_DUE:
        return text, None, True
    when = parse_when(due, now)
    if when is None:
        raise SkillError(f"I didn't understand '{due.strip()}' as a time. Try something like: tomorrow at 5 pm.")
    return text, when, False
