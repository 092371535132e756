"""The gate's step API: the question is a state of the dialogue (begin -> answer | cancel).

The real gate over the real task and timer skills, a real SQLite task store on disk, the real
yes/no classifier and a real audit log.  "Meanwhile" changes come from a second connection to
the same database file (another Hark process) or from another call through the same gate.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

import skills.notes
import skills.tasks
import skills.timers
import skills.undo
from skills.confirm import question, reask
from skills.gate import ActionOutcome, ConfirmationGate, PendingAction
from skills.registry import SkillContext, SkillRegistry
from skills.store import TaskStore
from skills.timers import service_for
from voice.config import Config
from voice.events import EventBus

NOW = datetime(2026, 11, 23, 14, 5)
DELETE_MILK = question("I'll delete 'buy milk' from your list.")
CHANGED = "Your list changed while I was asking, so I deleted nothing."


class Steps:
    """A gate whose `ask` must never be called: these tests drive the question themselves."""

    def __init__(self, data, **kw: Any) -> None:
        self.data = data
        self.ctx = SkillContext(config=Config(), data_dir=data, clock=lambda: NOW)
        self.registry = SkillRegistry()
        for module in (skills.tasks, skills.undo, skills.notes, skills.timers):
            self.registry.add_module(module)
        self.events = EventBus()
        self.states: list[str] = []
        self.gate = ConfirmationGate(
            self.registry, self.ctx, self.events, self._ask, data / "audit.jsonl", set_state=self.states.append, **kw
        )

    def _ask(self, q: str) -> str | None:
        raise AssertionError(f"the step API never blocks on ask(), but it asked {q!r}")

    @property
    def store(self) -> TaskStore:
        return TaskStore.for_context(self.ctx)

    def other(self) -> TaskStore:
        """A second connection to the same file: another Hark process."""
        return TaskStore(self.data / "hark.db", clock=lambda: NOW)

    def snapshot(self):
        return [t.to_dict() for t in self.store.list_tasks(None, include_done=True)], self.store.last_entry()

    def audit(self) -> list[dict]:
        f = self.data / "audit.jsonl"
        return [json.loads(line) for line in f.read_text().splitlines()] if f.exists() else []

    def history(self) -> list[tuple[str, dict]]:
        return [(e.name, dict(e.data)) for e in self.events.history]

    def close(self) -> None:
        self.ctx.close()


@pytest.fixture
def steps(tmp_path):
    made: list[Steps] = []

    def make(**kw: Any) -> Steps:
        s = Steps(tmp_path, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


def begin_delete_milk(s: Steps) -> PendingAction:
    """Two tasks, then "delete buy milk" as the model would call it; nothing has changed yet."""
    s.store.add("buy milk", None)
    s.store.add("call mom", None)
    before = s.snapshot()
    pending = s.gate.begin("delete_task", {"item": "buy milk"}, transcript="delete buy milk", source="model")
    assert isinstance(pending, PendingAction)
    assert s.snapshot() == before and s.audit() == []  # asking changes nothing and audits nothing
    return pending


def test_begin_then_yes_runs_exactly_the_plan_read_back(steps):
    s = steps()
    pending = begin_delete_milk(s)
    milk = s.store.find("buy milk")[0]
    assert (pending.name, pending.arguments["item"], pending.question) == ("delete_task", "buy milk", DELETE_MILK)
    assert (pending.transcript, pending.source, pending.attempt) == ("delete buy milk", "model", 1)
    assert pending.plan.text == "I'll delete 'buy milk' from your list."
    assert s.gate.open_questions() == [pending]

    out = s.gate.answer(pending, "Yes, please.")
    assert isinstance(out, ActionOutcome)
    assert out.ok and out.executed and out.text == "Deleted 'buy milk' from your list."
    assert out.data["id"] == milk.id and out.confirmation == "spoken yes: 'Yes, please.'"
    assert [t.text for t in s.store.list_tasks(include_done=True)] == ["call mom"]
    assert s.gate.open_questions() == [] and s.ctx.plan is None

    intent, outcome = s.audit()
    assert (intent["phase"], intent["plan"], intent["transcript"]) == ("intent", pending.plan.text, "delete buy milk")
    assert (outcome["phase"], outcome["id"], outcome["ok"]) == ("outcome", intent["id"], True)
    assert outcome["confirmation"] == "spoken yes: 'Yes, please.'" and outcome["chosen_by"] == "model"
    assert s.history() == [
        ("tool_call", {"name": "delete_task", "arguments": {"item": "buy milk"}, "source": "model"}),
        ("confirm_request", {"text": DELETE_MILK}),
        ("confirm_answer", {"text": "Yes, please.", "verdict": "yes"}),
        ("confirmed", {"name": "delete_task", "answer": "Yes, please."}),
        ("action_result", {"name": "delete_task", "ok": True, "text": out.text}),
    ]
    assert s.states == ["confirming", "acting"]


@pytest.mark.parametrize(
    "answers, reason",
    [
        (["no"], "you said no"),
        ([None], "no answer"),
        (["yes... no, wait"], "you said no"),
        (["I'm sure you misheard me", "I'm sure you misheard me"], "the answer was unclear"),
        (["what?", "hmm"], "the answer was unclear"),
        (["Delete buy milk.", None], "no answer"),  # a barge-in that was no answer, then silence
    ],
)
def test_anything_but_a_clear_yes_cancels_and_changes_nothing(steps, answers, reason):
    s = steps()
    pending = begin_delete_milk(s)
    before = s.snapshot()
    step: ActionOutcome | PendingAction = pending
    for i, text in enumerate(answers):
        assert isinstance(step, PendingAction) and step.attempt == i + 1
        step = s.gate.answer(step, text)
    assert isinstance(step, ActionOutcome)
    assert not step.ok and not step.executed and step.text == "Okay, I won't." and step.confirmation is None
    assert s.snapshot() == before and s.audit() == [] and s.gate.open_questions() == []
    names = [name for name, _ in s.history()]
    assert names.count("confirm_request") == len(answers) and names.count("confirm_answer") == len(answers)
    assert "confirmed" not in names and "action_result" not in names
    assert s.history()[-1] == ("cancelled", {"name": "delete_task", "reason": reason, "answer": answers[-1]})
    assert "acting" not in s.states


def test_one_unclear_answer_cancels_when_reasking_is_off(steps):
    s = steps(reask_on_unclear=False)
    pending = begin_delete_milk(s)
    out = s.gate.answer(pending, "I'm sure you misheard me")
    assert isinstance(out, ActionOutcome) and not out.executed
    assert [t.text for t in s.store.list_tasks()] == ["buy milk", "call mom"]


def test_unclear_then_yes_reasks_once_and_runs_the_same_plan(steps):
    s = steps()
    pending = begin_delete_milk(s)
    again = s.gate.answer(pending, "I'm sure you misheard me")
    assert isinstance(again, PendingAction)
    assert again.attempt == 2 and again.question == reask("I'll delete 'buy milk' from your list.")
    assert again.plan is pending.plan and again.arguments == pending.arguments
    assert s.gate.open_questions() == [again]
    assert s.history()[-2:] == [
        ("confirm_answer", {"text": "I'm sure you misheard me", "verdict": "unclear"}),
        ("confirm_request", {"text": again.question}),
    ]
    out = s.gate.answer(again, "yeah, do it")
    assert isinstance(out, ActionOutcome) and out.ok and out.executed
    assert [t.text for t in s.store.list_tasks(include_done=True)] == ["call mom"]
    assert s.states == ["confirming", "confirming", "acting"]


@pytest.mark.parametrize("change", ["edit", "delete and re-add"])
def test_a_change_by_another_process_between_begin_and_answer_changes_nothing(steps, change):
    s = steps()
    pending = begin_delete_milk(s)
    other = s.other()
    milk = other.find("buy milk")[0]
    if change == "edit":
        other.edit(milk.id, text="buy oat milk")
    else:
        other.delete(milk.id)
        other.add("buy milk", None)  # the same words, a task the user never heard about
    other.close()
    after_change = s.snapshot()

    out = s.gate.answer(pending, "yes")
    assert isinstance(out, ActionOutcome)
    assert not out.ok and not out.executed and out.text == CHANGED
    assert s.snapshot() == after_change  # nothing changed by the gate
    intent, outcome = s.audit()
    assert (outcome["id"], outcome["ok"], outcome["executed"], outcome["text"]) == (intent["id"], False, False, CHANGED)
    assert s.history()[-1] == ("action_result", {"name": "delete_task", "ok": False, "text": CHANGED})


def test_another_call_through_the_same_gate_while_asking_is_caught_by_the_plan(steps):
    # The lock is held within each step only: a second question can be asked and answered
    # while the first waits, and the first's plan notices what the second did.
    s = steps()
    first = begin_delete_milk(s)
    second = s.gate.begin("complete_task", {"item": "buy milk"}, transcript="buy milk is done", source="template")
    assert isinstance(second, PendingAction)
    assert s.gate.open_questions() == [first, second]
    done = s.gate.answer(second, "yes")
    assert isinstance(done, ActionOutcome) and done.ok
    out = s.gate.answer(first, "yes")
    assert isinstance(out, ActionOutcome) and not out.executed and out.text == CHANGED
    assert [(t.text, t.done) for t in s.store.list_tasks(include_done=True)] == [
        ("buy milk", True),
        ("call mom", False),
    ]
    # Each call is audited with its own words, whichever ran in between.
    assert [(a["skill"], a["phase"], a["transcript"], a["chosen_by"]) for a in s.audit()] == [
        ("complete_task", "intent", "buy milk is done", "template"),
        ("complete_task", "outcome", "buy milk is done", "template"),
        ("delete_task", "intent", "delete buy milk", "model"),
        ("delete_task", "outcome", "delete buy milk", "model"),
    ]


def test_cancel_runs_nothing_and_is_evented_as_cancelled(steps):
    s = steps()
    pending = begin_delete_milk(s)
    before = s.snapshot()
    out = s.gate.cancel(pending, "a new instruction")
    assert not out.ok and not out.executed and out.confirmation is None
    assert s.history()[-1] == ("cancelled", {"name": "delete_task", "reason": "a new instruction", "answer": None})
    assert "confirm_answer" not in [name for name, _ in s.history()]
    # A cancelled call ran nothing, so the audit log (every action taken) has no line for it.
    assert s.snapshot() == before and s.audit() == [] and s.gate.open_questions() == []
    assert "acting" not in s.states

    # A yes arriving after the question was dropped runs nothing either.
    late = s.gate.answer(pending, "yes")
    assert isinstance(late, ActionOutcome) and not late.executed
    assert s.snapshot() == before and s.audit() == []
    assert "confirmed" not in [name for name, _ in s.history()]
    s.gate.cancel(pending, "shutdown")  # cancelling again does nothing more
    assert [name for name, _ in s.history()].count("cancelled") == 1


def test_each_question_is_settled_once(steps):
    s = steps()
    s.store.add("a", None)
    s.store.add("b", None)
    pending = s.gate.begin("add_task", {"item": "eggs"}, source="model")
    assert isinstance(pending, PendingAction)
    first = s.gate.answer(pending, "yes")
    again = s.gate.answer(pending, "yes")  # answered twice (a late duplicate event): runs once
    assert isinstance(first, ActionOutcome) and first.executed
    assert isinstance(again, ActionOutcome) and not again.executed
    assert [t.text for t in s.store.list_tasks()] == ["a", "b", "eggs"]
    # A copy the gate did not hand out is not an open question.
    import dataclasses

    other = s.gate.begin("add_task", {"item": "bread"}, source="model")
    assert isinstance(other, PendingAction)
    forged = dataclasses.replace(other, plan=dataclasses.replace(other.plan, text="I'll add 'cake'."))
    assert not s.gate.answer(forged, "yes").executed
    assert s.gate.open_questions() == [other]
    assert [t.text for t in s.store.list_tasks()] == ["a", "b", "eggs"]


def test_calls_with_no_question_run_inside_begin(steps):
    s = steps(not_required={"add_task"})
    s.store.add("call mom", None)
    read = s.gate.begin("list_tasks", {}, transcript="what's on my list", source="model")
    assert isinstance(read, ActionOutcome) and read.ok and "call mom" in read.text
    assert read.confirmation == "not consequential"
    added = s.gate.begin("add_task", {"item": "eggs"}, source="model")  # waived by config
    assert isinstance(added, ActionOutcome) and added.executed and added.confirmation == "not required by config"
    assert [t.text for t in s.store.list_tasks()] == ["call mom", "eggs"]
    assert "confirm_request" not in [name for name, _ in s.history()]
    assert [a["phase"] for a in s.audit()] == ["intent", "outcome"]  # the change is audited, the read is not
    assert s.states == ["acting", "acting"]


@pytest.mark.parametrize("source, asks", [("model", True), ("template", False)])
def test_confirm_if_model_asks_only_for_the_model(steps, source, asks):
    s = steps()
    service_for(s.ctx).add_timer(timedelta(minutes=10), "pizza")
    step = s.gate.begin("cancel_timer", {"name": "pizza"}, source=source)
    if asks:
        assert isinstance(step, PendingAction)
        assert step.question == question("I'll cancel your pizza timer, which has 10 minutes left.")
        assert len(service_for(s.ctx).active()) == 1
        step = s.gate.answer(step, "yes")
    assert isinstance(step, ActionOutcome) and step.ok and step.executed
    assert service_for(s.ctx).active() == []
    assert step.confirmation == ("spoken yes: 'yes'" if asks else "chosen by a template")


def test_always_confirm_is_asked_even_when_config_is_bypassed(steps):
    s = steps()
    s.gate.not_required = {"delete_task"}  # as if the config check had been skipped
    pending = begin_delete_milk(s)  # still a question
    assert s.gate.answer(pending, None).text == "Okay, I won't."
    assert [t.text for t in s.store.list_tasks()] == ["buy milk", "call mom"]


def test_execute_is_the_same_steps_with_ask_in_between(tmp_path):
    ctx = SkillContext(config=Config(), data_dir=tmp_path, clock=lambda: NOW)
    registry = SkillRegistry()
    registry.add_module(skills.tasks)
    asked: list[str] = []
    answers = ["hmm", "yes"]

    def ask(q: str) -> str | None:
        asked.append(q)
        return answers.pop(0)

    bus = EventBus()
    gate = ConfirmationGate(registry, ctx, bus, ask, tmp_path / "audit.jsonl")
    try:
        TaskStore.for_context(ctx).add("buy milk", None)
        out = gate.execute("delete_task", {"item": "buy milk"}, transcript="delete buy milk")
        assert out.ok and asked == [DELETE_MILK, reask("I'll delete 'buy milk' from your list.")]
        assert TaskStore.for_context(ctx).list_tasks(include_done=True) == []

        # A question that fails while being asked (Ctrl-C) is dropped, not left open, and nothing runs.
        TaskStore.for_context(ctx).add("call mom", None)

        def interrupted(q: str) -> str | None:
            raise KeyboardInterrupt

        gate.ask = interrupted
        with pytest.raises(KeyboardInterrupt):
            gate.execute("delete_task", {"item": "call mom"})
        assert gate.open_questions() == []
        assert bus.history[-1].name == "cancelled" and bus.history[-1].data["reason"] == "the question was interrupted"
        assert [t.text for t in TaskStore.for_context(ctx).list_tasks()] == ["call mom"]
    finally:
        ctx.close()
