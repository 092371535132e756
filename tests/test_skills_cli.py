"""`hark tasks ...` and `hark history` against a real task database and audit log in HARK_DATA_DIR."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import typer
from typer.testing import CliRunner

import skills.tasks
from skills.gate import ConfirmationGate
from skills.registry import SkillContext, SkillRegistry
from skills.store import TaskStore
from voice.cli_tasks import history, tasks_app
from voice.config import Config, data_dir
from voice.events import EventBus

ROOT = Path(__file__).resolve().parent.parent

# Mounted the way voice/cli.py mounts them.
app = typer.Typer()
app.add_typer(tasks_app, name="tasks")
app.command("history")(history)


def hark(*args: str):
    # Wide enough that rich does not fold table cells mid-word.
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def tasks_json(*args: str) -> list[dict]:
    result = hark("tasks", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_add_list_done_delete_undo():
    assert hark("tasks", "add", "buy", "oat", "milk", "--list", "my shopping list").exit_code == 0
    result = hark("tasks", "add", "call mom", "--due", "2026-11-24 17:00", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["due"] == "2026-11-24T17:00:00"
    spoken_due = hark("tasks", "add", "pay rent", "--due", "tomorrow at 9am")
    assert spoken_due.exit_code == 0, spoken_due.output

    tasks = tasks_json()
    assert [(t["id"], t["text"], t["list"], t["done"]) for t in tasks] == [
        (1, "buy oat milk", "shopping", False),
        (2, "call mom", "inbox", False),
        (3, "pay rent", "inbox", False),
    ]
    tomorrow_9 = (datetime.now() + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    assert [t["due"] for t in tasks] == [None, "2026-11-24T17:00:00", tomorrow_9.isoformat()]
    assert [t["text"] for t in tasks_json("--list", "shopping")] == ["buy oat milk"]

    done = hark("tasks", "done", "2")
    assert done.exit_code == 0 and "call mom" in done.stdout
    assert [t["id"] for t in tasks_json()] == [1, 3]
    assert [(t["id"], t["done"]) for t in tasks_json("--all")] == [(1, False), (2, True), (3, False)]

    assert hark("tasks", "delete", "1").exit_code == 0
    assert [t["id"] for t in tasks_json()] == [3]
    undo = hark("tasks", "undo")
    assert undo.exit_code == 0 and "deleting 'buy oat milk'" in undo.stdout
    assert [t["id"] for t in tasks_json()] == [1, 3]

    table = hark("tasks", "list")
    assert table.exit_code == 0 and "buy oat milk" in table.stdout and "pay rent" in table.stdout


def test_errors_exit_1_with_a_clear_message_and_lose_nothing():
    hark("tasks", "add", "keep me")
    for args, message in [
        (("tasks", "done", "42"), "There is no task number 42."),
        (("tasks", "delete", "42"), "There is no task number 42."),
        (("tasks", "add", "   "), "The task has no words."),
        (("tasks", "add", "later", "--due", "when pigs fly"), "I don't understand the due time 'when pigs fly'"),
        (("tasks", "export", "--format", "pdf"), "unknown format 'pdf'"),
    ]:
        result = hark(*args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
    wrong_list = hark("tasks", "done", "1", "--list", "shopping")
    assert wrong_list.exit_code == 1 and "task #1 is on the inbox list, not shopping" in wrong_list.stderr
    assert hark("tasks", "delete", "1", "--list", "my shopping list").exit_code == 1
    assert hark("tasks", "done", "1", "--list", "inbox").exit_code == 0
    again = hark("tasks", "done", "1")
    assert again.exit_code == 1 and "'keep me' is already done." in again.stderr
    assert [(t["text"], t["done"]) for t in tasks_json("--all")] == [("keep me", True)]


def test_config_is_used_and_a_bad_one_is_reported(tmp_path):
    good = tmp_path / "config.yaml"
    good.write_text("skills:\n  default_list: chores\n")
    assert hark("tasks", "add", "sweep", "--config", str(good)).exit_code == 0
    assert hark("tasks", "--config", str(good), "add", "mop").exit_code == 0  # on the group works too
    assert [t["list"] for t in tasks_json("--config", str(good))] == ["chores", "chores"]

    bad = tmp_path / "bad.yaml"
    bad.write_text("skills:\n  defualt_list: chores\n")
    result = hark("tasks", "list", "--config", str(bad))
    assert result.exit_code == 1 and "unknown key 'skills.defualt_list'" in result.stderr
    missing = hark("history", "--config", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 1 and "does not exist" in missing.stderr


def test_export_markdown_and_todotxt():
    store = TaskStore(data_dir() / "hark.db")
    store.add("buy oat milk", "shopping")
    store.add("call mom", None, due=datetime(2026, 11, 24, 17, 0))
    store.complete(store.add("fix the bike", None).id)
    store.close()
    today = date.today().isoformat()

    md = hark("tasks", "export", "--format", "markdown")
    assert md.exit_code == 0
    assert md.stdout == (
        "# Tasks\n\n## shopping\n\n- [ ] buy oat milk\n\n"
        "## inbox\n\n- [ ] call mom (due 2026-11-24 17:00)\n- [x] fix the bike\n"
    )
    todo = hark("tasks", "export", "--format", "todotxt")
    assert todo.exit_code == 0
    assert todo.stdout.splitlines() == [
        f"{today} buy oat milk +shopping",
        f"{today} call mom +inbox due:2026-11-24",
        f"x {today} {today} fix the bike +inbox",
    ]
    only = hark("tasks", "export", "--format", "todotxt", "--list", "shopping")
    assert only.stdout == f"{today} buy oat milk +shopping\n"


def _gate_run(name: str, arguments: dict, transcript: str) -> None:
    registry = SkillRegistry()
    registry.add_module(skills.tasks)
    ctx = SkillContext(config=Config(), data_dir=data_dir())
    gate = ConfirmationGate(registry, ctx, EventBus(), lambda question: "yes, go ahead", data_dir() / "audit.jsonl")
    assert gate.execute(name, arguments, transcript=transcript).ok
    ctx.close()


def test_history_shows_the_audit_log():
    empty = hark("history")
    assert empty.exit_code == 0 and "No actions recorded yet" in empty.stdout

    _gate_run("add_task", {"item": "buy oat milk"}, "add buy oat milk to my list")
    _gate_run("clear_tasks", {}, "delete all my tasks")
    with (data_dir() / "audit.jsonl").open("a") as f:
        f.write("{not json\n")

    result = hark("history", "--json")
    assert result.exit_code == 0
    records = json.loads(result.stdout)
    assert [(r["skill"], r["transcript"]) for r in records] == [
        ("add_task", "add buy oat milk to my list"),
        ("clear_tasks", "delete all my tasks"),
    ]
    assert records[0]["arguments"]["item"] == "buy oat milk"
    assert records[0]["confirmation"] == "spoken yes: 'yes, go ahead'"
    assert "skipped 1 unreadable line" in result.stderr

    latest = json.loads(hark("history", "--json", "--limit", "1").stdout)
    assert [r["skill"] for r in latest] == ["clear_tasks"]

    table = hark("history")
    assert table.exit_code == 0
    assert "add_task" in table.stdout and "clear_tasks" in table.stdout and "buy oat milk" in table.stdout


def test_the_hark_command_mounts_tasks_and_history(tmp_path):
    env = {"HARK_DATA_DIR": str(tmp_path / "cli-data"), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "voice.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    added = run("tasks", "add", "water the plants", "--list", "garden")
    assert added.returncode == 0, added.stderr
    listed = run("tasks", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(t["text"], t["list"], t["done"], t["due"]) for t in json.loads(listed.stdout)] == [
        ("water the plants", "garden", False, None)
    ]
    assert (tmp_path / "cli-data" / "hark.db").exists()
    failed = run("tasks", "done", "7")
    assert failed.returncode == 1 and "There is no task number 7." in failed.stderr
    # Changes typed at the keyboard are in the history too (the failed one as not done).
    history = json.loads(run("history", "--json").stdout)
    assert [(r["skill"], r["ok"], r["chosen_by"]) for r in history] == [
        ("add_task", True, "keyboard"),
        ("complete_task", False, "keyboard"),
    ]


def test_history_merges_intent_and_outcome_lines():
    """The gate writes an intent line before an action and an outcome line after: one row per action."""
    base = {
        "time": "2026-11-30T10:00:00+00:00",
        "arguments": {},
        "confirmation": "spoken yes: 'yes'",
        "chosen_by": "template",
    }
    lines = [
        {**base, "skill": "clear_tasks", "transcript": "delete all my tasks", "phase": "intent", "id": "a"},
        {**base, "skill": "undo_last_change", "transcript": "undo that", "phase": "intent", "id": "b"},
        {
            **base,
            "skill": "clear_tasks",
            "transcript": "delete all my tasks",
            "phase": "outcome",
            "id": "a",
            "ok": True,
            "executed": True,
            "text": "Deleted 3 tasks.",
        },
        {**base, "skill": "delete_task", "transcript": "delete milk", "phase": "intent", "id": "c"},
        {
            **base,
            "skill": "delete_task",
            "transcript": "delete milk",
            "phase": "outcome",
            "id": "c",
            "ok": False,
            "executed": False,
            "text": "Your list changed while I was asking, so I deleted nothing.",
        },
    ]
    (data_dir() / "audit.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    records = json.loads(hark("history", "--json").stdout)
    assert [(r["skill"], r["phase"], r.get("ok")) for r in records] == [
        ("clear_tasks", "outcome", True),
        ("undo_last_change", "intent", None),
        ("delete_task", "outcome", False),
    ]
    table = hark("history")
    assert table.exit_code == 0, table.output
    assert "done" in table.stdout and "no outcome recorded" in table.stdout
    assert "not done: Your list changed while I was asking" in table.stdout
