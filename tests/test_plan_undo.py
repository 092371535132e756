"""The spoken "undo that" covers the user's latest change, tasks and timers alike, names it, and is plan-locked.

Real SQLite (tasks and timers in their own files), the real gate and skills,
templates matched by the real intent matcher.  One shared clock drives both
stores so which change is newer is decided by the test, not by timing luck.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import pytest

import skills.tasks
import skills.timers
import skills.undo
from skills.confirm import question
from skills.gate import ConfirmationGate
from skills.intents import IntentMatcher
from skills.registry import SkillContext, SkillRegistry
from skills.store import TaskStore
from skills.timer_service import TimerService
from voice.config import Config, data_dir
from voice.events import EventBus

NOW = datetime(2026, 11, 23, 14, 5)


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class Hark:
    def __init__(self, *answers: str | None) -> None:
        self.data = data_dir()
        self.clock = Clock()
        self.ctx = SkillContext(config=Config(), data_dir=self.data, clock=lambda: NOW)
        # The process-wide resources, made with the shared clock before any skill asks for them.
        self.ctx.resource("tasks", lambda: TaskStore(self.data / "hark.db", clock=lambda: NOW, wall=self.clock))
        self.ctx.resource("timers", lambda: TimerService(self.data / "timers.db", lambda *a: None, clock=self.clock))
        self.registry = SkillRegistry()
        self.registry.add_module(skills.tasks)
        self.registry.add_module(skills.undo)
        self.registry.add_module(skills.timers)
        self.intents = IntentMatcher(self.registry)
        self.answers = list(answers)
        self.questions: list[str] = []
        self.meanwhile: Callable[[], None] | None = None
        self.events = EventBus()
        self.gate = ConfirmationGate(self.registry, self.ctx, self.events, self.ask, self.data / "audit.jsonl")

    def ask(self, q: str) -> str | None:
        self.questions.append(q)
        if self.meanwhile is not None:
            change, self.meanwhile = self.meanwhile, None
            change()
        answer = self.answers.pop(0) if self.answers else None
        return q if answer == "<echo>" else answer

    def say(self, text: str):
        """A spoken command matched by the templates, run through the gate as the loop would."""
        self.clock.advance(1)
        match = self.intents.match(text)
        assert match is not None, text
        return self.gate.execute(match.name, match.arguments, transcript=text, source="template")

    @property
    def store(self) -> TaskStore:
        return TaskStore.for_context(self.ctx)

    @property
    def timers(self) -> TimerService:
        return skills.timers.service_for(self.ctx)

    def active(self) -> list[tuple[str, str]]:
        return [(t.label, t.state) for t in self.timers.active()]

    def close(self) -> None:
        self.ctx.close()


@pytest.fixture
def hark():
    made: list[Hark] = []

    def make(*answers) -> Hark:
        h = Hark(*answers)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


UNDO_TEA = re.compile(
    r"^You cancelled the tea timer last\. I'll undo that and restart the tea timer with "
    r"(4|5) minutes?.* left\."
)


def test_undo_after_cancelling_the_tea_timer_offers_to_restart_it_not_an_older_task_change(hark):
    h = hark("yes", "yes")
    assert h.say("add buy milk to my shopping list").ok
    assert h.say("set a tea timer for 5 minutes").ok
    h.clock.advance(30)
    cancelled = h.say("cancel the tea timer")
    assert cancelled.ok and h.active() == []
    out = h.say("undo that")
    assert UNDO_TEA.match(h.questions[-1]), h.questions[-1]
    assert h.questions[-1].endswith(question("x.")[len("x.") :])
    assert out.ok and out.text.startswith("Restarted the tea timer")
    assert h.active() == [("tea timer", "running")]
    assert [t.text for t in h.store.list_tasks(None)] == ["buy milk"]  # the older task change is untouched


def test_undo_offers_the_task_change_when_it_is_the_newer_one(hark):
    h = hark("yes", "yes")
    assert h.say("set a tea timer for 5 minutes").ok
    assert h.say("cancel the tea timer").ok
    assert h.say("add buy milk to my shopping list").ok
    out = h.say("undo that")
    assert h.questions[-1] == question("I'll undo adding 'buy milk' to your shopping list.")
    assert out.ok and h.store.list_tasks(None) == [] and h.active() == []


def test_undo_after_starting_a_timer_names_it(hark):
    h = hark("yes")
    assert h.say("set a tea timer for 5 minutes").ok
    out = h.say("undo that")
    assert h.questions[0].startswith("You started the tea timer last. I'll undo that and ")
    assert out.ok and h.active() == []


def test_when_the_last_change_cannot_be_undone_undo_says_so_and_touches_nothing_older(hark):
    h = hark("yes")
    assert h.say("add buy milk to my list").ok
    assert h.say("set a tea timer for 10 minutes").ok
    assert h.say("add 5 minutes to the tea timer").ok
    h.clock.advance(12 * 60)  # 3 minutes left: taking the 5 added minutes off again is impossible
    out = h.say("undo that")
    assert not out.ok and not out.executed
    assert out.text == (
        "The last change you made was that you added 5 minutes to the tea timer, and I can't "
        "undo it: the tea timer has only 2 minutes 58 seconds left."
    )
    assert len(h.questions) == 1  # only the add asked: undo had nothing it could do, so nothing to ask
    assert [t.text for t in h.store.list_tasks()] == ["buy milk"]
    assert h.active() == [("tea timer", "running")]


@pytest.mark.parametrize("who", ["a task added meanwhile", "a timer started meanwhile"])
def test_a_timer_undo_is_locked_to_the_change_read_back(hark, who):
    h = hark("yes")
    assert h.say("set a tea timer for 5 minutes").ok
    assert h.say("cancel the tea timer").ok

    def meanwhile():
        h.clock.advance(1)
        if who.startswith("a task"):
            other = TaskStore(h.data / "hark.db", clock=lambda: NOW, wall=h.clock)
            other.add("eggs", None)
        else:
            other = TimerService(h.data / "timers.db", lambda *a: None, clock=h.clock)
            other.add_timer(__import__("datetime").timedelta(minutes=3), "egg")
        other.close()

    h.meanwhile = meanwhile
    out = h.say("undo that")
    assert UNDO_TEA.match(h.questions[-1])
    assert not out.ok and not out.executed
    assert out.text in (
        "Your list changed while I was asking, so I undid nothing.",
        "Your timers changed while I was asking, so I undid nothing.",
    )
    assert ("tea timer", "running") not in h.active()  # the tea timer stays cancelled


@pytest.mark.parametrize(
    "answers",
    [
        ["no"],
        ["hmm, maybe", "I don't know"],
        [None, None],
        ["Remind me to confirm the dentist appointment", "Okay, that's not what I asked"],
        ["<echo>", "<echo>"],
    ],
    ids=["no", "unclear", "silence", "yes-word in a sentence", "own question"],
)
def test_a_timer_undo_needs_a_real_yes(hark, answers):
    h = hark()
    assert h.say("set a tea timer for 5 minutes").ok
    assert h.say("cancel the tea timer").ok
    h.answers = list(answers)
    out = h.say("undo that")
    assert UNDO_TEA.match(h.questions[0])
    assert not out.ok and not out.executed and h.active() == []
    assert h.timers.last_change().description == "cancelled the tea timer"  # still the last change
