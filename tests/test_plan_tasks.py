"""Plan-locked task changes: what Hark read back is exactly what runs, or nothing does.

Real SQLite on disk, the real gate and the real yes/no classifier.  "Meanwhile"
changes come from a second connection to the same database file (as another
Hark process would make them) or from a real `hark tasks add` subprocess.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

import skills.notes
import skills.tasks
import skills.undo
from skills.confirm import question
from skills.gate import ConfirmationGate
from skills.intents import IntentMatcher
from skills.registry import SkillContext, SkillRegistry, StateChanged
from skills.store import TaskStore
from tests.support.cli import run_hark
from voice.config import Config, ConfigError, data_dir
from voice.events import EventBus

NOW = datetime(2026, 11, 23, 14, 5)


class Hark:
    """The task skills behind a real gate; `meanwhile` runs while the question is being asked."""

    def __init__(self, *answers: str | None, not_required: frozenset[str] = frozenset()) -> None:
        self.data = data_dir()
        self.ctx = SkillContext(config=Config(), data_dir=self.data, clock=lambda: NOW)
        self.registry = SkillRegistry()
        self.registry.add_module(skills.tasks)
        self.registry.add_module(skills.undo)
        self.registry.add_module(skills.notes)
        self.answers = list(answers)
        self.questions: list[str] = []
        self.meanwhile: Callable[[], None] | None = None
        self.events = EventBus()
        self.gate = ConfirmationGate(
            self.registry, self.ctx, self.events, self.ask, self.data / "audit.jsonl", not_required=not_required
        )

    def ask(self, q: str) -> str | None:
        self.questions.append(q)
        if self.meanwhile is not None:
            change, self.meanwhile = self.meanwhile, None
            change()
        answer = self.answers.pop(0) if self.answers else None
        return q if answer == "<echo>" else answer  # "<echo>": Hark hears its own question back

    @property
    def store(self) -> TaskStore:
        return TaskStore.for_context(self.ctx)

    def other(self) -> TaskStore:
        """A second connection to the same file: another Hark process."""
        return TaskStore(self.data / "hark.db", clock=lambda: NOW)

    def run(self, name: str, source: str = "model", **arguments):
        return self.gate.execute(name, arguments, transcript=f"(test) {name}", source=source)

    def snapshot(self):
        return ([t.to_dict() for t in self.store.list_tasks(None, include_done=True)], self.store.last_entry())

    def spoken(self) -> list[str]:
        return [e.data["text"] for e in self.events.history if e.name == "action_result"]

    def close(self) -> None:
        self.ctx.close()


@pytest.fixture
def hark():
    made: list[Hark] = []

    def make(*answers, **kw) -> Hark:
        h = Hark(*answers, **kw)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


# ---- the reproduced bugs ------------------------------------------------------------------------------


def test_undo_read_back_as_milk_does_not_undo_eggs_added_meanwhile_by_another_process(hark):
    h = hark("yes")
    h.store.add("milk", None)

    def add_eggs_from_a_terminal():
        done = run_hark("tasks", "add", "eggs", timeout=120)
        assert done.returncode == 0, done.stderr

    h.meanwhile = add_eggs_from_a_terminal
    out = h.run("undo_last_change")
    assert h.questions == [question("I'll undo adding 'milk' to your list.")]
    assert not out.ok and not out.executed
    assert out.text == "Your list changed while I was asking, so I undid nothing."
    assert h.spoken() == [out.text]
    assert [t.text for t in h.store.list_tasks()] == ["milk", "eggs"]  # eggs NOT undone, milk kept
    outcome = [line for line in (h.data / "audit.jsonl").read_text().splitlines()][-1]
    assert '"ok": false' in outcome and "undid nothing" in outcome


def test_undo_without_interference_undoes_exactly_what_it_named(hark):
    h = hark("yes")
    h.store.add("milk", None)
    h.store.add("eggs", "shopping")
    out = h.run("undo_last_change")
    assert h.questions == [question("I'll undo adding 'eggs' to your shopping list.")]
    assert out.ok and out.text == "Okay, I undid adding 'eggs' to your shopping list."
    assert [t.text for t in h.store.list_tasks()] == ["milk"]


@pytest.mark.parametrize("change", ["edit", "delete", "complete", "delete and re-add"])
def test_delete_one_is_locked_to_the_task_read_back(hark, change):
    h = hark("yes")
    milk = h.store.add("buy milk", None)
    h.store.add("call mom", None)

    def meanwhile():
        other = h.other()
        if change == "edit":
            other.edit(milk.id, text="buy oat milk")
        elif change == "complete":
            other.complete(milk.id)
        else:
            other.delete(milk.id)
            if change == "delete and re-add":
                other.add("buy milk", None)  # same words, a different task the user never heard about
        other.close()

    h.meanwhile = meanwhile
    out = h.run("delete_task", item="buy milk")
    assert h.questions == [question("I'll delete 'buy milk' from your list.")]
    assert not out.ok and not out.executed
    assert out.text == "Your list changed while I was asking, so I deleted nothing."
    expected = {
        "edit": ["buy oat milk", "call mom"],
        "complete": ["buy milk", "call mom"],
        "delete": ["call mom"],
        "delete and re-add": ["call mom", "buy milk"],
    }[change]
    assert [t.text for t in h.store.list_tasks(include_done=True)] == expected


def test_delete_one_deletes_the_task_it_named_even_if_the_words_now_fit_two(hark):
    h = hark("yes")
    milk = h.store.add("buy milk", None)

    def another_buy_milk():
        other = h.other()
        other.add("buy milk", "shopping")
        other.close()

    h.meanwhile = another_buy_milk
    out = h.run("delete_task", item="buy milk")
    assert out.ok and out.text == "Deleted 'buy milk' from your list."
    assert [(t.text, t.list) for t in h.store.list_tasks(None)] == [("buy milk", "shopping")]
    assert out.data["id"] == milk.id


@pytest.mark.parametrize(
    "name, arguments, did",
    [
        ("complete_task", {"item": "buy milk"}, "marked nothing done"),
        ("edit_task", {"item": "buy milk", "new_text": "buy bread"}, "changed nothing"),
    ],
)
def test_complete_and_edit_are_locked_to_the_task_read_back(hark, name, arguments, did):
    h = hark("yes")
    milk = h.store.add("buy milk", None)

    def meanwhile():
        other = h.other()
        other.edit(milk.id, text="buy milk and eggs")
        other.close()

    h.meanwhile = meanwhile
    out = h.run(name, **arguments)
    assert not out.ok and not out.executed and out.text == f"Your list changed while I was asking, so I {did}."
    assert [(t.text, t.done) for t in h.store.list_tasks(include_done=True)] == [("buy milk and eggs", False)]


def test_an_edit_keeps_the_due_time_it_read_back(hark):
    h = hark("yes")
    h.store.add("call mom", None)
    out = h.run("edit_task", item="call mom", due="tomorrow at 9 am")
    assert h.questions == [question("I'll change 'call mom' to be due tomorrow at 9 AM.")]
    assert out.ok and out.data["due"] == "2026-11-24T09:00:00"


@pytest.mark.parametrize(
    "change, left",
    [
        ("add", ["a", "b", "c", "eggs"]),
        ("delete", ["b", "c"]),
        ("complete", ["a", "b", "c"]),
    ],
)
def test_clear_all_is_locked_to_the_count_read_back(hark, change, left):
    h = hark("yes")
    tasks = [h.store.add(t, None) for t in ("a", "b", "c")]

    def meanwhile():
        other = h.other()
        if change == "add":
            other.add("eggs", None)
        elif change == "delete":
            other.delete(tasks[0].id)
        else:
            other.complete(tasks[0].id)
        other.close()

    h.meanwhile = meanwhile
    out = h.run("clear_tasks")
    assert h.questions == [question("I'll delete all 3 of your tasks.")]
    assert not out.ok and not out.executed
    assert out.text == "Your list changed while I was asking, so I deleted nothing."
    assert [t.text for t in h.store.list_tasks(include_done=True)] == left


# ---- bulk scope -----------------------------------------------------------------------------------------


def test_delete_all_of_my_tasks_names_the_list_and_what_the_others_keep(hark):
    h = hark("yes")
    for text in ("a", "b", "c"):
        h.store.add(text, None)
    h.store.add("eggs", "shopping")
    h.store.add("bread", "shopping")
    match = IntentMatcher(h.registry).match("Delete all of my tasks.")
    assert match is not None and (match.name, match.arguments) == ("clear_tasks", {})
    out = h.run(match.name, source="template", **match.arguments)
    assert h.questions == [question("I'll delete the 3 open tasks on your inbox list; your shopping list keeps its 2.")]
    assert out.ok and out.text == "Deleted 3 tasks from your inbox list. Say 'undo' if that was a mistake."
    assert [t.text for t in h.store.list_tasks(None)] == ["eggs", "bread"]


def test_only_finished_tasks_on_the_default_list_while_others_hold_open_ones_asks_which_list(hark):
    h = hark("yes")
    done = h.store.add("old thing", None)
    h.store.complete(done.id)
    h.store.add("eggs", "shopping")
    h.store.add("bread", "shopping")
    h.store.add("report", "work")
    before = h.snapshot()
    out = h.run("clear_tasks")
    assert h.questions == []  # never "I'll delete 1 finished task" while other lists hold open ones
    assert out.text == (
        "Your inbox list has only 1 finished task, and you have 2 open tasks on your shopping list "
        "and 1 open task on your work list. Say which list to clear, like: clear my shopping list, "
        "or: delete every task on every list."
    )
    assert not out.executed and h.snapshot() == before
    # Naming the list is unambiguous: then its finished task is what is deleted.
    out = h.run("clear_tasks", list_name="inbox")
    assert h.questions == [
        question(
            "I'll delete the 1 finished task on your inbox list; your shopping list keeps "
            "its 2 and your work list keeps its 1."
        )
    ]
    assert out.ok and out.text.startswith("Deleted 1 task from your inbox list.")


def test_every_list_says_the_count_on_each_list_open_and_finished(hark):
    h = hark("yes")
    for text in ("a", "b", "c"):
        h.store.add(text, None)
    h.store.add("eggs", "shopping")
    h.store.add("bread", "shopping")
    h.store.complete(h.store.add("milk", "shopping").id)
    out = h.run("clear_tasks", list_name="all of them")
    assert h.questions == [
        question(
            "I'll delete all 6 of your tasks on every list: 3 open tasks on your inbox list "
            "and 2 open tasks and 1 finished task on your shopping list."
        )
    ]
    assert out.ok and out.text.startswith("Deleted 6 tasks from every list.")
    assert h.store.list_tasks(None, include_done=True) == []


# ---- adversarial answers, for every consequential task path ---------------------------------------------

PATHS = [
    ("add_task", {"item": "buy stamps"}),
    ("complete_task", {"item": "buy milk"}),
    ("edit_task", {"item": "buy milk", "new_text": "buy oat milk"}),
    ("delete_task", {"item": "buy milk"}),
    ("clear_tasks", {}),
    ("clear_tasks", {"list_name": "all"}),
    ("undo_last_change", {}),
]
ANSWERS = {
    "no": ["no"],
    "unclear twice": ["hmm, maybe", "I'm not sure"],
    "silence": [None, None],
    "a sentence holding a yes-word": ["Remind me to confirm the dentist appointment", "Turn right at the light"],
    "Hark's own question": ["<echo>", "<echo>"],
}


@pytest.mark.parametrize("answers", list(ANSWERS.values()), ids=list(ANSWERS))
@pytest.mark.parametrize("name, arguments", PATHS, ids=[f"{n}{'-' + str(a) if a else ''}" for n, a in PATHS])
def test_anything_but_a_real_yes_changes_nothing(hark, name, arguments, answers):
    h = hark(*answers)
    h.store.add("buy milk", None)
    h.store.add("call mom", "family")
    before = h.snapshot()
    out = h.run(name, **arguments)
    assert len(h.questions) in (1, 2) and h.questions[0].startswith("I'll")
    assert not out.ok and not out.executed and out.text == "Okay, I won't."
    assert h.snapshot() == before
    assert not (h.data / "audit.jsonl").exists()
    assert "confirmed" not in h.events.names() and "cancelled" in h.events.names()


@pytest.mark.parametrize("name, arguments", PATHS, ids=[f"{n}{'-' + str(a) if a else ''}" for n, a in PATHS])
def test_a_real_yes_changes_it(hark, name, arguments):
    h = hark("uh, yes please")
    h.store.add("buy milk", None)
    h.store.add("call mom", "family")
    before = h.snapshot()
    out = h.run(name, **arguments)
    assert out.ok and out.executed and h.snapshot() != before


# ---- which skills are always confirmed ------------------------------------------------------------------


def test_deleting_and_undoing_are_always_confirmed(hark):
    h = hark()
    flags = {s.name: s.always_confirm for s in h.registry}
    assert {n for n, always in flags.items() if always} == {"delete_task", "clear_tasks", "undo_last_change"}
    for name in ("delete_task", "clear_tasks", "undo_last_change"):
        with pytest.raises(
            ConfigError,
            match=rf"^confirm.not_required_for: '{name}' .*, so it is always "
            r"confirmed; remove it\.$",
        ):
            hark(not_required=frozenset({name}))
    with pytest.raises(ConfigError) as e:
        hark(not_required=frozenset({"add_tasks"}))
    assert str(e.value) == (
        "confirm.not_required_for: no skill called 'add_tasks' (skills that ask first and may "
        "be named here: add_task, complete_task, edit_task, take_note)."
    )


# ---- the journal's time, for "undo" across tasks and timers ----------------------------------------------


def test_a_version_1_database_is_upgraded_and_its_journal_still_undoes(tmp_path):
    import sqlite3

    from skills.store import _MIGRATIONS

    path = tmp_path / "hark.db"
    raw = sqlite3.connect(path)
    raw.executescript(_MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    raw.execute("INSERT INTO lists(name, created) VALUES ('inbox', '2026-11-23T14:00:00')")
    raw.execute("INSERT INTO tasks(list, text, done, created) VALUES ('inbox', 'old milk', 0, '2026-11-23T14:00:00')")
    raw.execute(
        "INSERT INTO journal(time, description, task_ids, before, new_lists) "
        "VALUES ('2026-11-23T14:00:00', 'adding ''old milk'' to your list', '[1]', '[]', '[]')"
    )
    raw.commit()
    raw.close()
    store = TaskStore(path, clock=lambda: NOW)
    entry = store.last_entry()
    assert entry is not None and entry.description == "adding 'old milk' to your list"
    assert entry.at == datetime(2026, 11, 23, 14, 0).timestamp()  # from its local time, as written then
    store.add("eggs", None)
    newer = store.last_entry()
    assert newer is not None and newer.at > entry.at and newer.id > entry.id
    with pytest.raises(StateChanged, match=r"^Your list changed while I was asking, so I undid nothing.$"):
        store.undo(expected_entry=entry.id)
    assert store.undo(expected_entry=newer.id) == "adding 'eggs' to your list"
    assert store.undo(expected_entry=entry.id) == "adding 'old milk' to your list"
    store.close()
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 2
    raw.close()
