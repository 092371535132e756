"""`hark tasks ...` and `hark history`: the task lists and the audit log from a terminal.

Typing a command is the user's explicit instruction, so these change data
without a spoken confirmation; they go through the same store (and undo
journal) as the voice skills, and each change is written to the audit log by the
gate's own writer (intent before, outcome after, `chosen_by: keyboard`), so
`hark history` shows it.  Errors print one clear line and exit 1.
"""

from __future__ import annotations

import json as jsonlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from skills.store import Task, TaskStore

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="Config file (default: the user's config.yaml).")
]
ListOption = Annotated[str | None, typer.Option("--list", "-l", help="List name, like 'shopping'.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

tasks_app = typer.Typer(
    help="Your task lists: add, list, complete, delete, undo and export tasks.",
    no_args_is_help=True,
)


class _State:
    config: Path | None = None


@tasks_app.callback()
def _tasks_options(config: ConfigOption = None) -> None:
    # `hark tasks --config X list` and `hark tasks list --config X` both work.
    _State.config = config


def _echo(text: object, err: bool = False, nl: bool = True) -> None:
    """Print text holding the user's words: control characters never reach the terminal."""
    from voice.terminal import clean

    typer.echo(clean(text), err=err, nl=nl)


def _fail(message: str) -> typer.Exit:
    _echo(f"Error: {message}", err=True)
    return typer.Exit(1)


def _open_store(config: Path | None) -> TaskStore:
    from skills.registry import SkillError
    from skills.store import TaskStore
    from voice.build import data_dir_problem
    from voice.config import ConfigError, data_dir, load_config

    try:
        cfg = load_config(config or _State.config)
    except ConfigError as e:
        raise _fail(str(e)) from None
    # A read-only or full folder is said as such, before SQLite's own error (which cannot
    # tell it from a damaged file) could suggest moving a healthy database aside.
    problem = data_dir_problem()
    if problem:
        raise _fail(problem)
    try:
        return TaskStore(data_dir() / "hark.db", default_list=cfg.skills.default_list)
    except SkillError as e:
        raise _fail(str(e)) from None


def _run(store: TaskStore, action, *, audit: tuple[str, dict] | None = None):
    """Run one store call; a store error becomes a clear message and exit code 1.

    `audit` = (skill name, arguments): a change, recorded as one typed at the keyboard.
    """
    from skills.registry import SkillError

    try:
        if audit is None:
            return action()
        return keyboard_change(audit[0], audit[1], action)
    except SkillError as e:
        raise _fail(str(e)) from None
    finally:
        store.close()


def keyboard_change(skill: str, arguments: dict, action):
    """Run `action` (a change typed at the keyboard) between an audit intent and outcome line.

    Same writer and format as the gate (`skills.gate.append_audit`); the confirmation is the
    typed command itself. An audit log that can't be written stops the change before it runs.
    """
    import uuid

    from skills.gate import AuditError, append_audit
    from voice.config import data_dir

    path = data_dir() / "audit.jsonl"
    record = {
        "time": datetime.now().astimezone().isoformat(timespec="seconds"),
        "skill": skill,
        "arguments": arguments,
        "transcript": "",
        "confirmation": "typed at the keyboard",
        "chosen_by": "keyboard",
    }
    entry_id = uuid.uuid4().hex[:16]
    try:
        append_audit(path, {**record, "phase": "intent", "id": entry_id, "plan": None})
    except AuditError as e:
        raise _fail(f"{e}, so I did nothing.") from None
    try:
        result = action()
    except Exception as e:
        _outcome_line(path, record, entry_id, False, str(e))
        raise
    _outcome_line(path, record, entry_id, True, "done")
    return result


def _outcome_line(path: Path, record: dict, entry_id: str, ok: bool, text: str) -> None:
    from skills.gate import AuditError, append_audit

    try:
        append_audit(path, {**record, "phase": "outcome", "id": entry_id, "ok": ok, "executed": ok, "text": text})
    except AuditError as e:  # the change is made: say so, keep it
        _echo(f"Warning: {e}; this change is not recorded.", err=True)


def _parse_due(text: str) -> datetime:
    from skills.when import parse_when

    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        pass
    when = parse_when(text, datetime.now())
    if when is None:
        raise _fail(f"I don't understand the due time {text!r}. Try 'tomorrow at 5pm' or '2026-11-24 17:00'.")
    return when


def _show_time(dt: datetime | None) -> str:
    if dt is None:
        return ""
    return dt.strftime("%Y-%m-%d") if (dt.hour, dt.minute) == (0, 0) else dt.strftime("%Y-%m-%d %H:%M")


def _print_tasks_table(tasks: list[Task], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from voice.terminal import shown

    table = Table(title=shown(title))
    for column in ("ID", "List", "Task", "Due", "Done"):
        table.add_column(column, justify="right" if column == "ID" else "left")
    for t in tasks:  # shown(): a task's "[/b]" or "[link=...]" is printed, never parsed as markup
        table.add_row(str(t.id), shown(t.list), shown(t.text), _show_time(t.due), "yes" if t.done else "")
    Console().print(table)


@tasks_app.command("add")
def add_cmd(
    text: Annotated[list[str], typer.Argument(help="The task's words (quotes optional).")],
    list_name: ListOption = None,
    due: Annotated[
        str | None, typer.Option("--due", "-d", help="When it is due: 'tomorrow 5pm', '2026-11-24 17:00'.")
    ] = None,
    json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Add a task."""
    when = _parse_due(due) if due else None
    store = _open_store(config)
    item = " ".join(text)
    task = _run(
        store,
        lambda: store.add(item, list_name, due=when),
        audit=("add_task", {"item": item, "list_name": list_name, "due": due}),
    )
    if json:
        typer.echo(jsonlib.dumps(task.to_dict(), ensure_ascii=False))
    else:
        suffix = f" (due {_show_time(task.due)})" if task.due else ""
        _echo(f"Added #{task.id} to {task.list}: {task.text}{suffix}")


@tasks_app.command("list")
def list_cmd(
    list_name: ListOption = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Include finished tasks.")] = False,
    json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """List open tasks (every list unless --list is given)."""
    store = _open_store(config)
    tasks = _run(store, lambda: store.list_tasks(list_name, include_done=all_))
    if json:
        typer.echo(jsonlib.dumps([t.to_dict() for t in tasks], ensure_ascii=False, indent=2))
    elif not tasks:
        _echo("No tasks." if not list_name else f"No tasks on {list_name}.")
    else:
        _print_tasks_table(tasks, "Tasks" if not list_name else f"Tasks on {tasks[0].list}")


def _on_list(store: TaskStore, task_id: int, list_name: str | None) -> None:
    """With --list, refuse a task number from another list (a typo must not touch the wrong task)."""
    from skills.store import StoreError

    if list_name is None:
        return
    task, wanted = store.get(task_id), store.list_name(list_name)
    if task.list != wanted:
        raise StoreError(f"task #{task_id} is on the {task.list} list, not {wanted}.")


@tasks_app.command("done")
def done_cmd(
    task_id: Annotated[int, typer.Argument(help="The task's number (see `hark tasks list`).")],
    list_name: ListOption = None,
    config: ConfigOption = None,
) -> None:
    """Mark a task as done."""
    store = _open_store(config)

    def complete() -> Task:
        _on_list(store, task_id, list_name)
        return store.complete(task_id)

    task = _run(store, complete, audit=("complete_task", {"task_id": task_id, "list_name": list_name}))
    _echo(f"Done #{task.id}: {task.text}")


@tasks_app.command("delete")
def delete_cmd(
    task_id: Annotated[int, typer.Argument(help="The task's number (see `hark tasks list`).")],
    list_name: ListOption = None,
    config: ConfigOption = None,
) -> None:
    """Delete a task (`hark tasks undo` brings it back)."""
    store = _open_store(config)

    def delete() -> Task:
        _on_list(store, task_id, list_name)
        return store.delete(task_id)

    task = _run(store, delete, audit=("delete_task", {"task_id": task_id, "list_name": list_name}))
    _echo(f"Deleted #{task.id}: {task.text}")


@tasks_app.command("undo")
def undo_cmd(config: ConfigOption = None) -> None:
    """Undo the last change to the task lists (made by voice or here)."""
    store = _open_store(config)
    undone = _run(store, store.undo, audit=("undo", {}))
    if undone is None:
        raise _fail("there is nothing to undo.")
    _echo(f"Undid {undone}.")


def tasks_markdown(tasks: list[Task]) -> str:
    """Markdown checklists, one section per list."""
    lines = ["# Tasks"]
    for name in dict.fromkeys(t.list for t in tasks):
        lines += ["", f"## {name}", ""]
        for t in (t for t in tasks if t.list == name):
            due = f" (due {_show_time(t.due)})" if t.due else ""
            lines.append(f"- [{'x' if t.done else ' '}] {t.text}{due}")
    return "\n".join(lines) + "\n"


def tasks_todotxt(tasks: list[Task]) -> str:
    """todo.txt lines: `x done-date created-date text +list due:YYYY-MM-DD`."""
    lines = []
    for t in tasks:
        parts = ["x", t.completed.strftime("%Y-%m-%d")] if t.done and t.completed else (["x"] if t.done else [])
        parts += [t.created.strftime("%Y-%m-%d"), " ".join(t.text.split()), "+" + t.list.replace(" ", "_")]
        if t.due:
            parts.append(f"due:{t.due.strftime('%Y-%m-%d')}")
        lines.append(" ".join(parts))
    return "\n".join(lines) + ("\n" if lines else "")


@tasks_app.command("export")
def export_cmd(
    format: Annotated[str, typer.Option("--format", "-f", help="markdown or todotxt.")] = "markdown",
    list_name: ListOption = None,
    config: ConfigOption = None,
) -> None:
    """Print every task (finished ones too) as Markdown or todo.txt."""
    writers = {"markdown": tasks_markdown, "md": tasks_markdown, "todotxt": tasks_todotxt, "todo.txt": tasks_todotxt}
    writer = writers.get(format.lower())
    if writer is None:
        raise _fail(f"unknown format {format!r}; use markdown or todotxt.")
    store = _open_store(config)
    tasks = _run(store, lambda: store.list_tasks(list_name, include_done=True))
    _echo(writer(tasks), nl=False)


def read_audit(path: Path, limit: int) -> tuple[list[dict], int]:
    """The last `limit` actions in the audit log (oldest first) and how many lines could not be read.

    The gate writes two lines per action, an `intent` before it runs and an `outcome` after,
    sharing an `id`: they are merged into one record (the outcome's fields win).  An intent
    with no outcome stays as it is (the action started, its end was never recorded); a line
    of the older one-line format is one action.
    """
    records: list[dict] = []
    by_id: dict[str, int] = {}
    bad = 0
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    record = jsonlib.loads(line)
                except ValueError:
                    bad += 1
                    continue
                if not isinstance(record, dict):
                    bad += 1
                elif record.get("phase") == "outcome" and record.get("id") in by_id:
                    i = by_id.pop(record["id"])
                    records[i] = {**records[i], **record}
                else:
                    if record.get("phase") == "intent" and isinstance(record.get("id"), str):
                        by_id[record["id"]] = len(records)
                    records.append(record)
    except FileNotFoundError:
        return [], 0
    return (records[-limit:] if limit > 0 else []), bad


def _outcome(record: dict) -> str:
    """How an action ended, as the history table says it."""
    if record.get("phase") == "intent":
        return "started; no outcome recorded (Hark stopped?)"
    if record.get("phase") == "outcome" and not record.get("ok"):
        return ("failed: " if record.get("executed") else "not done: ") + str(record.get("text", ""))
    return "done"


def _short_time(value: object) -> str:
    """'2026-11-23T14:05:09+01:00' -> '2026-11-23 14:05:09' (the zone is the user's own)."""
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return str(value or "")


def history(
    json: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many recent actions to show.")] = 20,
    config: ConfigOption = None,
) -> None:
    """Show the audit log: every consequential action Hark took, and how it was confirmed."""
    from rich.console import Console
    from rich.table import Table

    from voice.config import ConfigError, data_dir, load_config
    from voice.terminal import shown

    try:
        load_config(config)  # a broken config is reported here as everywhere else
    except ConfigError as e:
        raise _fail(str(e)) from None
    path = data_dir() / "audit.jsonl"
    try:
        records, bad = read_audit(path, limit)
    except OSError as e:
        raise _fail(f"cannot read the audit log {path}: {e}") from None
    if bad:
        _echo(f"Warning: skipped {bad} unreadable line(s) in {path}.", err=True)
    if json:
        typer.echo(jsonlib.dumps(records, ensure_ascii=False, indent=2, default=str))
        return
    if not records:
        _echo(f"No actions recorded yet ({path}).")
        return
    table = Table(title="Last action" if len(records) == 1 else f"Last {len(records)} actions")
    table.add_column("Time", no_wrap=True)
    table.add_column("Skill", no_wrap=True)
    for column in ("Arguments", "Transcript", "Confirmation", "Outcome"):
        table.add_column(column, overflow="fold")
    for r in records:
        args = r.get("arguments")
        args_text = args
        if isinstance(args, dict):  # unset optional arguments are noise in a table
            args_text = ", ".join(f"{k}={v}" for k, v in args.items() if v is not None)
        table.add_row(  # every cell literal text: transcripts and arguments are the user's words
            shown(_short_time(r.get("time"))),
            shown(r.get("skill", "")),
            shown(
                args_text if isinstance(args_text, str) else jsonlib.dumps(args_text, ensure_ascii=False, default=str)
            ),
            shown(r.get("transcript", "")),
            shown(r.get("confirmation", "")),
            shown(_outcome(r)),
        )
    Console().print(table)
