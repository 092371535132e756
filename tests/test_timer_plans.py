"""Confirmed timer changes are plan-locked, and the model's cancel/shorten/pause asks first.

Through the real confirmation gate (skills/gate.py) with scripted answers; "state changed
while asking" is another TimerService on the same file changing things inside the question.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

import skills.timers as timers
from skills.gate import ConfirmationGate
from skills.registry import Plan, SkillContext, SkillRegistry
from skills.timer_service import TimerService
from skills.timer_store import REMINDER, TIMER
from skills.timers import service_for
from voice.config import Config
from voice.events import EventBus


@pytest.fixture
def ctx(tmp_path):
    c = SkillContext(config=Config(), data_dir=tmp_path)
    yield c
    c.close()


class Gate:
    """The real gate over the timer skills. `during` runs while Hark is asking, before the answer."""

    def __init__(
        self, ctx: SkillContext, answers: list[str | None] = (), during: Callable[[], None] | None = None
    ) -> None:
        registry = SkillRegistry()
        registry.add_module(timers)
        self.answers = list(answers)
        self.during = during
        self.questions: list[str] = []
        self.gate = ConfirmationGate(registry, ctx, EventBus(), self._ask, ctx.data_dir / "audit.jsonl")

    def _ask(self, question: str) -> str | None:
        self.questions.append(question)
        if self.during is not None:
            self.during()
            self.during = None
        answer = self.answers.pop(0) if self.answers else None
        return question if answer == "ECHO" else answer  # Hark hearing its own question

    def model(self, skill_name: str, /, **arguments):
        return self.gate.execute(skill_name, arguments, source="model")

    def template(self, skill_name: str, /, **arguments):
        return self.gate.execute(skill_name, arguments, source="template")


def other_process(ctx: SkillContext) -> TimerService:
    """Another Hark process (say `hark ask` in a second terminal) on the same timers file."""
    return TimerService(ctx.data_dir / "timers.db", lambda text, on_played=None: None)


def snapshot(ctx: SkillContext) -> list[tuple]:
    return [(t.id, t.kind, t.name, t.text, t.due_at, t.remaining_s, t.state) for t in service_for(ctx).active()]


def setup_three(ctx: SkillContext) -> None:
    service = service_for(ctx)
    service.add_timer(timedelta(minutes=10), "pizza")
    service.add_timer(timedelta(minutes=4), "tea")
    soon = datetime.now() + timedelta(minutes=40)
    service.add_reminder("call mom", soon)
    service.add_reminder("water the plants", soon)


CHANGES = [
    ("cancel_timer", {"name": "pizza"}, "I'll cancel your pizza timer, which has 10 minutes left."),
    (
        "shorten_timer",
        {"name": "pizza", "duration": "2 minutes"},
        "I'll take 2 minutes off your pizza timer, leaving 8 minutes.",
    ),
    ("pause_timer", {"name": "pizza"}, "I'll pause your pizza timer with 10 minutes left."),
    ("cancel_reminder", {"what": "call mom"}, "I'll delete your reminder to call mom, due in 40 minutes."),
    ("cancel_all_timers", {}, "I'll cancel all 2 timers: tea timer and pizza timer."),
    ("cancel_all_reminders", {}, "I'll cancel all 2 reminders: call mom and water the plants."),
]
REFUSALS = [
    pytest.param(["no"], id="no"),
    pytest.param([None], id="silence"),
    pytest.param(["hmm", "what was that"], id="unclear-twice"),
    pytest.param(
        ["Remind me to confirm the dentist appointment", "Okay, that's not what I asked"], id="contains-a-yes-word"
    ),
    pytest.param(["Turn right at the light", "I'm sure you misheard me"], id="sentences"),
    pytest.param(["ECHO", "ECHO"], id="own-question"),
]


@pytest.mark.parametrize("answers", REFUSALS)
@pytest.mark.parametrize("name, arguments, preview", CHANGES, ids=[c[0] for c in CHANGES])
def test_a_model_chosen_change_without_a_real_yes_changes_nothing(ctx, name, arguments, preview, answers):
    setup_three(ctx)
    before = snapshot(ctx)
    gate = Gate(ctx, answers)
    out = gate.model(name, **arguments)
    assert gate.questions and gate.questions[0].startswith(preview), gate.questions
    assert not out.ok and not out.executed
    assert snapshot(ctx) == before


@pytest.mark.parametrize("name, arguments, preview", CHANGES, ids=[c[0] for c in CHANGES])
def test_a_model_chosen_change_runs_after_yes(ctx, name, arguments, preview):
    setup_three(ctx)
    gate = Gate(ctx, ["yes"])
    out = gate.model(name, **arguments)
    assert out.ok and out.executed, out.text
    assert gate.questions[0].startswith(preview)
    service = service_for(ctx)
    names = {t.name or t.text: t for t in service.active()}
    if name == "cancel_timer":
        assert set(names) == {"tea", "call mom", "water the plants"}
    elif name == "shorten_timer":
        assert 470 < names["pizza"].seconds_left(service.now()) <= 480
    elif name == "pause_timer":
        assert names["pizza"].paused
    elif name == "cancel_reminder":
        assert set(names) == {"pizza", "tea", "water the plants"}
    elif name == "cancel_all_timers":
        assert service.active(TIMER) == [] and len(service.active(REMINDER)) == 2
    else:
        assert service.active(REMINDER) == [] and len(service.active(TIMER)) == 2


def test_a_template_or_a_start_does_not_ask(ctx):
    setup_three(ctx)
    gate = Gate(ctx)
    assert gate.template("pause_timer", name="pizza").ok
    assert gate.template("shorten_timer", name="tea", duration="1 minute").ok
    assert gate.template("cancel_timer", name="tea").ok
    assert gate.model("start_timer", duration="5 minutes", name="egg").ok
    assert gate.model("adjust_timer", duration="5 minutes", name="egg").ok  # adding time is not a loss
    assert gate.model("remind_me", what="stretch", when="in 20 minutes").ok
    assert gate.model("resume_timer", name="pizza").ok
    assert gate.questions == []


def test_cancel_all_while_another_process_adds_a_timer(ctx):
    setup_three(ctx)

    def add_one() -> None:
        other = other_process(ctx)
        other.add_timer(timedelta(minutes=7), "egg")
        other.close()

    gate = Gate(ctx, ["yes"], during=add_one)
    out = gate.model("cancel_all_timers")
    assert gate.questions[0].startswith("I'll cancel all 2 timers")
    assert out.text == "Your timers changed while I was asking, so I cancelled nothing."
    assert not out.ok and not out.executed
    assert sorted(t.name for t in service_for(ctx).active(TIMER)) == ["egg", "pizza", "tea"]


def test_cancel_all_reminders_while_another_process_cancels_one(ctx):
    setup_three(ctx)

    def cancel_one() -> None:
        other = other_process(ctx)
        other.cancel(next(r.id for r in other.active(REMINDER) if r.text == "call mom"))
        other.close()

    out = Gate(ctx, ["yes"], during=cancel_one).template("cancel_all_reminders")
    assert out.text == "Your reminders changed while I was asking, so I cancelled nothing."
    assert [r.text for r in service_for(ctx).active(REMINDER)] == ["water the plants"]


def _replace(ctx: SkillContext, name: str) -> Callable[[], None]:
    """While asking: the named timer is cancelled elsewhere and a new one of the same name started."""

    def run() -> None:
        other = other_process(ctx)
        other.cancel(next(t.id for t in other.active(TIMER) if t.name == name))
        other.add_timer(timedelta(minutes=30), name)
        other.close()

    return run


@pytest.mark.parametrize(
    "name, arguments, message",
    [
        ("cancel_timer", {"name": "pizza"}, "Your timers changed while I was asking, so I cancelled nothing."),
        ("pause_timer", {"name": "pizza"}, "Your timers changed while I was asking, so I changed nothing."),
        (
            "shorten_timer",
            {"name": "pizza", "duration": "2 minutes"},
            "Your timers changed while I was asking, so I changed nothing.",
        ),
    ],
)
def test_the_confirmed_timer_replaced_while_asking_is_left_alone(ctx, name, arguments, message):
    setup_three(ctx)
    out = Gate(ctx, ["yes"], during=_replace(ctx, "pizza")).model(name, **arguments)
    assert out.text == message and not out.executed
    (new_pizza,) = [t for t in service_for(ctx).active(TIMER) if t.name == "pizza"]
    assert new_pizza.state == "running" and new_pizza.seconds_left(service_for(ctx).now()) > 29 * 60


def test_the_confirmed_reminder_replaced_while_asking_is_left_alone(ctx):
    setup_three(ctx)

    def replace() -> None:
        other = other_process(ctx)
        other.cancel(next(r.id for r in other.active(REMINDER) if r.text == "call mom"))
        other.add_reminder("call mom", datetime.now() + timedelta(days=1))
        other.close()

    out = Gate(ctx, ["yes"], during=replace).model("cancel_reminder", what="call mom")
    assert out.text == "Your reminders changed while I was asking, so I cancelled nothing."
    assert sorted(r.text for r in service_for(ctx).active(REMINDER)) == ["call mom", "water the plants"]


def test_a_paused_timer_shortened_while_asking_is_a_change(ctx):
    setup_three(ctx)

    def pause() -> None:
        other = other_process(ctx)
        other.pause(next(t.id for t in other.active(TIMER) if t.name == "pizza"))
        other.close()

    out = Gate(ctx, ["yes"], during=pause).model("shorten_timer", name="pizza", duration="2 minutes")
    assert out.text == "Your timers changed while I was asking, so I changed nothing."
    (pizza,) = [t for t in service_for(ctx).active(TIMER) if t.name == "pizza"]
    assert pizza.paused and 590 < pizza.remaining_s <= 600


def test_previews_name_exact_ids_and_without_a_plan_the_skill_plans_itself(ctx):
    setup_three(ctx)
    registry = SkillRegistry()
    registry.add_module(timers)
    ids = sorted(t.id for t in service_for(ctx).active(TIMER))
    plan = registry.get("cancel_all_timers").describe_action(ctx, {})
    assert isinstance(plan, Plan) and sorted(plan.data["ids"]) == ids
    assert plan.data["count"] == 2 and plan.data["kind"] == TIMER
    cancel_one = registry.get("cancel_timer").describe_action(ctx, {"name": "tea"})
    (tea,) = [t for t in service_for(ctx).active(TIMER) if t.name == "tea"]
    assert cancel_one.data == {"skill": "cancel_timer", "ids": [tea.id]}
    ctx.plan = None  # no confirmation happened (a template): compute, then act
    assert registry.get("cancel_timer").run(ctx, {"name": "tea"}).text == "Cancelled your tea timer."
    ctx.plan = cancel_one  # a plan already carried out: its timer is gone
    with pytest.raises(Exception, match="changed while I was asking"):
        registry.get("cancel_timer").run(ctx, {"name": "pizza"})
    assert [t.name for t in service_for(ctx).active(TIMER)] == ["pizza"]


class Ears:
    """Answers as sound: said with the real Piper voice, or a real recording, heard by the real Whisper model."""

    def __init__(self, synth, transcriber) -> None:
        self.synth, self.transcriber = synth, transcriber

    def said(self, text: str) -> str:
        import numpy as np

        from voice.audio import resample

        audio = np.concatenate(list(self.synth.synthesize(text)))
        pad = np.zeros(int(0.3 * self.synth.sample_rate), np.float32)
        return self.transcriber.transcribe(
            resample(np.concatenate([pad, audio, pad]), self.synth.sample_rate, 16000)
        ).text

    def recording(self, name: str) -> str:
        from tests.support.speech import speech_file
        from voice.audio import read_audio

        return self.transcriber.transcribe(read_audio(speech_file(name))).text


def test_spoken_answers_to_a_model_chosen_cancel(ctx, synth, transcriber):
    ears = Ears(synth, transcriber)
    setup_three(ctx)
    before = snapshot(ctx)
    question = "I'll cancel all 2 timers: tea timer and pizza timer. Should I do that?"
    refusals = [
        ears.said(s)
        for s in (
            "Turn right at the light.",
            "I'm sure you misheard me.",
            "Okay, that's not what I asked.",
            "No.",
            question,
        )
    ]
    for answer in refusals:
        gate = Gate(ctx, [answer, answer])
        out = gate.model("cancel_all_timers")
        assert gate.questions[0] == question
        assert not out.executed, answer
        assert snapshot(ctx) == before, answer
    # A real person's recorded "yes" (Piper's one-word "Yes." is too short for Whisper's speech filter).
    yes = ears.recording("speechcommands_yes.wav")
    out = Gate(ctx, [yes]).model("cancel_all_timers")
    assert out.ok, repr(yes)
    assert service_for(ctx).active(TIMER) == []
