"""Timers and reminders: real threads, real SQLite in tmp_path, announcements through ctx.announce."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import skills.commands as commands
import skills.timers as timers
from skills.gate import ConfirmationGate
from skills.registry import SkillContext, SkillError, SkillRegistry
from skills.timer_service import TimerService, announcement, away_announcement
from skills.timer_store import REMINDER, TIMER, Timer, rounded_left
from skills.timer_words import find_reminder, find_timer, resolve_reminder_time
from skills.timers import on_start, service_for
from tests.support.polling import wait_for
from voice.config import Config
from voice.events import EventBus


@pytest.fixture
def heard() -> list[str]:
    return []


@pytest.fixture
def ctx(tmp_path, heard):
    c = SkillContext(config=Config(), data_dir=tmp_path, announce=heard.append, live=True)
    yield c
    c.close()


def open_service(path: Path, heard: list[str]) -> TimerService:
    service = TimerService(path, heard.append)
    service.start()
    return service


class Gate:
    """The real confirmation gate over the timer skills, with scripted spoken answers."""

    def __init__(self, ctx: SkillContext, answers: list[str | None] = ()) -> None:
        self.registry = SkillRegistry()
        self.registry.add_module(timers)
        self.answers = list(answers)
        self.questions: list[str] = []
        self.gate = ConfirmationGate(self.registry, ctx, EventBus(), self._ask, ctx.data_dir / "audit.jsonl")

    def _ask(self, question: str) -> str | None:
        self.questions.append(question)
        return self.answers.pop(0) if self.answers else None

    def __call__(self, skill_name: str, /, **arguments):
        return self.gate.execute(skill_name, arguments, source="template")


# ---- firing ----------------------------------------------------------------------------------


def test_a_timer_fires_through_ctx_announce(ctx, heard):
    on_start(ctx)
    started = time.monotonic()
    service_for(ctx).add_timer(timedelta(seconds=0.3), "pizza")
    assert wait_for(lambda: heard)
    elapsed = time.monotonic() - started
    assert heard == ["Your pizza timer is done."]
    assert 0.28 <= elapsed < 1.5, elapsed
    assert service_for(ctx).active() == []


def test_timers_fire_in_due_order_and_an_unnamed_one_is_named_by_its_length(tmp_path, heard):
    service = open_service(tmp_path / "timers.db", heard)
    try:
        service.add_timer(timedelta(seconds=0.6), "tea")
        service.add_timer(timedelta(seconds=0.3), "egg")
        assert wait_for(lambda: len(heard) == 2)
        assert heard == ["Your egg timer is done.", "Your tea timer is done."]
    finally:
        service.close()
    unnamed = Timer(1, TIMER, None, None, 600.0, None, None, "running", 0.0)
    assert announcement(unnamed) == "Your 10 minute timer is done."
    hour = Timer(1, TIMER, None, None, 3600.0, None, None, "running", 0.0)
    assert hour.label == "one hour timer"
    odd = Timer(1, TIMER, None, None, 90.0, None, None, "running", 0.0)
    assert odd.label == "timer for 1 minute 30 seconds"


def test_a_reminder_fires(ctx, heard):
    on_start(ctx)
    service_for(ctx).add_reminder("call mom", datetime.now() + timedelta(seconds=0.3))
    assert wait_for(lambda: heard)
    assert heard == ["Reminder: call mom."]


def test_pause_and_resume(tmp_path, heard):
    service = open_service(tmp_path / "timers.db", heard)
    try:
        t = service.add_timer(timedelta(seconds=0.5), "tea")
        paused = service.pause(t.id)
        assert paused.paused and 0.4 < paused.remaining_s <= 0.5
        time.sleep(0.8)
        assert heard == []  # a paused timer does not fire
        service.resume(t.id)
        resumed_at = time.monotonic()
        assert wait_for(lambda: heard)
        assert 0.35 < time.monotonic() - resumed_at < 1.5
        assert heard == ["Your tea timer is done."]
        with pytest.raises(SkillError, match="already finished"):
            service.cancel(t.id)
    finally:
        service.close()


def test_adjusting_moves_the_due_time(tmp_path, heard):
    service = open_service(tmp_path / "timers.db", heard)
    try:
        started = time.monotonic()
        longer = service.add_timer(timedelta(seconds=0.3), "longer")
        service.adjust(longer.id, timedelta(seconds=0.6))
        shorter = service.add_timer(timedelta(seconds=30), "shorter")
        service.adjust(shorter.id, -timedelta(seconds=29.7))
        assert wait_for(lambda: len(heard) == 2)
        assert heard == ["Your shorter timer is done.", "Your longer timer is done."]
        assert time.monotonic() - started >= 0.85
        keep = service.add_timer(timedelta(minutes=5), "keep")
        with pytest.raises(SkillError, match=r"only has|has only"):
            service.adjust(keep.id, -timedelta(minutes=6))
        assert 290 < service.get(keep.id).seconds_left(time.time()) <= 300  # unchanged
    finally:
        service.close()


def test_a_cancelled_timer_stays_quiet(tmp_path, heard):
    service = open_service(tmp_path / "timers.db", heard)
    try:
        t = service.add_timer(timedelta(seconds=0.3), "quiet")
        service.cancel(t.id)
        time.sleep(0.6)
        assert heard == []
    finally:
        service.close()


def test_a_failing_speaker_does_not_stop_the_timers(tmp_path):
    spoken: list[str] = []

    def announce(text: str) -> None:
        spoken.append(text)
        if len(spoken) == 1:
            raise RuntimeError("audio device gone")

    service = TimerService(tmp_path / "timers.db", announce)
    service.start()
    try:
        service.add_timer(timedelta(seconds=0.1), "first")
        service.add_timer(timedelta(seconds=0.4), "second")
        assert wait_for(lambda: len(spoken) == 2)
        assert spoken == ["Your first timer is done.", "Your second timer is done."]
        assert service.running
    finally:
        service.close()
    assert not service.running


def test_idle_thread_does_not_spin(tmp_path, heard):
    import psutil

    service = open_service(tmp_path / "timers.db", heard)
    try:
        service.add_timer(timedelta(hours=1), "far off")
        proc = psutil.Process()
        before = sum(proc.cpu_times()[:2])
        time.sleep(0.5)
        used = sum(proc.cpu_times()[:2]) - before
        assert used < 0.1, used
    finally:
        service.close()


# ---- restarts --------------------------------------------------------------------------------


def test_a_timer_set_before_a_restart_fires_after_it(tmp_path, heard):
    path = tmp_path / "timers.db"
    first = open_service(path, heard)
    first.add_timer(timedelta(seconds=0.8), "bread")
    first.close()
    assert not first.running
    second = open_service(path, heard)
    try:
        assert [t.name for t in second.active()] == ["bread"]
        assert wait_for(lambda: heard)
        assert heard == ["Your bread timer is done."]
    finally:
        second.close()


def test_what_came_due_while_closed_is_announced_at_start_once(tmp_path, heard):
    path = tmp_path / "timers.db"
    first = TimerService(path, heard.append)  # never started: Hark quit right after setting these
    first.add_timer(timedelta(seconds=0.2), "laundry")
    first.add_reminder("call mom", datetime.now() + timedelta(seconds=0.25))
    first.add_timer(timedelta(hours=1), "roast")
    first.close()
    time.sleep(0.4)
    second = open_service(path, heard)
    try:
        assert wait_for(lambda: heard)
        time.sleep(0.2)
        assert heard == [
            "While I was away, 2 things came due: your laundry timer finished and a reminder came due: call mom."
        ]
        assert [t.name for t in second.active()] == ["roast"]
    finally:
        second.close()
    heard.clear()
    third = open_service(path, heard)
    time.sleep(0.3)
    third.close()
    assert heard == []  # announced once, not at every start


def test_a_paused_timer_stays_paused_across_a_restart(tmp_path, heard):
    path = tmp_path / "timers.db"
    first = open_service(path, heard)
    t = first.add_timer(timedelta(minutes=3), "stew")
    first.pause(t.id)
    first.close()
    second = open_service(path, heard)
    try:
        (stew,) = second.active()
        assert stew.paused and 179 < stew.seconds_left(time.time()) <= 180
    finally:
        second.close()


def test_away_announcement_for_one():
    t = Timer(1, TIMER, "pizza", None, 600.0, 0.0, None, "fired", 0.0)
    assert away_announcement([t]) == "While I was away, your pizza timer finished."


def test_a_damaged_database_is_a_clear_error(tmp_path):
    path = tmp_path / "timers.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SkillError, match="move it aside"):
        TimerService(path, print)


def test_two_services_on_one_file_announce_a_timer_once(tmp_path):
    # Two Hark processes (say, the assistant and a one-shot command) sharing the file.
    writer = TimerService(tmp_path / "timers.db", print)
    writer.add_timer(timedelta(seconds=0.1), "shared")
    writer.close()
    time.sleep(0.2)
    heard_a: list[str] = []
    heard_b: list[str] = []
    a = open_service(tmp_path / "timers.db", heard_a)
    b = open_service(tmp_path / "timers.db", heard_b)
    try:
        assert wait_for(lambda: heard_a or heard_b)
        time.sleep(0.2)
        assert heard_a + heard_b == ["While I was away, your shared timer finished."]
    finally:
        a.close()
        b.close()


# ---- skills through the gate ------------------------------------------------------------------


def test_start_timer_and_time_left(ctx):
    gate = Gate(ctx)
    out = gate("start_timer", duration="10 minutes", name="the Pizza timer")
    assert out.ok and out.text == "Pizza timer set for 10 minutes."
    assert gate.questions == []  # not consequential
    assert gate("time_left").text == "Your pizza timer has 10 minutes left."
    out = gate("start_timer", duration="5 and a half minutes")
    assert out.text == "Timer set for 5 minutes 30 seconds."
    both = gate("time_left").text
    assert (
        both
        == "You have 2 timers: timer for 5 minutes 30 seconds, 5 minutes 30 seconds left; pizza timer, 10 minutes left."
    )
    assert gate("time_left", name="pizza").text == "Your pizza timer has 10 minutes left."
    assert (
        gate("start_timer", duration="an hour and a half", name="roast").text
        == "Roast timer set for 1 hour and 30 minutes."
    )


def test_unparseable_duration_says_what_it_heard(ctx):
    out = Gate(ctx)("start_timer", duration="a little while")
    assert not out.ok
    assert out.text.startswith("I heard 'a little while', which isn't a length of time I understand.")
    assert service_for(ctx).active() == []


def test_adjust_pause_resume_cancel_skills(ctx):
    gate = Gate(ctx)
    gate("start_timer", duration="10 minutes", name="pizza")
    assert gate("adjust_timer", duration="5 minutes").text == "Added 5 minutes to your pizza timer; 15 minutes left."
    assert (
        gate("shorten_timer", duration="2 minutes", name="pizza").text
        == "Took 2 minutes off your pizza timer; 13 minutes left."
    )
    assert gate("shorten_timer", duration="3 minutes").text == "Took 3 minutes off your pizza timer; 10 minutes left."
    assert not gate("adjust_timer", duration="3 minutes", add=False).ok  # only shorten_timer takes time off
    too_much = gate("shorten_timer", duration="an hour")
    assert not too_much.ok and "can't take 1 hour off" in too_much.text
    assert gate("pause_timer").text == "Paused your pizza timer with 10 minutes left."
    assert gate("time_left").text == "Your pizza timer is paused with 10 minutes left."
    assert gate("pause_timer").text == "Your timers are all paused already."
    assert gate("resume_timer").text == "Resumed your pizza timer; 10 minutes left."
    assert gate("resume_timer").text == "No timer is paused."
    assert gate("cancel_timer", name="piza").text == "Cancelled your pizza timer."  # a transcription slip
    assert gate("time_left").text == "You have no timers running."
    assert gate.questions == []


def test_which_timer_when_it_is_unclear(ctx):
    gate = Gate(ctx)
    gate("start_timer", duration="10 minutes", name="pizza")
    gate("start_timer", duration="3 minutes")
    out = gate("cancel_timer")
    assert not out.ok and out.text.startswith("You have 2 timers: ") and out.text.endswith("Which one?")
    assert gate("cancel_timer", name="the 3 minute timer").text == "Cancelled your 3 minute timer."
    assert gate("cancel_timer", name="soup").text == "I don't have a soup timer. You have: pizza timer."
    assert gate("cancel_timer", name="all").text == "To cancel every timer, say: cancel all timers."
    assert len(service_for(ctx).active()) == 1


def test_cancel_all_timers_asks_with_the_count(ctx):
    gate = Gate(ctx, ["no", "yes"])
    for name in ("pizza", "tea", "egg"):
        gate("start_timer", duration="10 minutes", name=name)
    service_for(ctx).add_reminder("call mom", datetime.now() + timedelta(hours=2))
    out = gate("cancel_all_timers")
    assert not out.executed
    assert gate.questions[0].startswith("I'll cancel all 3 timers: ")
    assert len(service_for(ctx).active(TIMER)) == 3
    out = gate("cancel_all_timers")
    assert out.ok and out.text == "Cancelled 3 timers."
    assert service_for(ctx).active(TIMER) == []
    assert len(service_for(ctx).active(REMINDER)) == 1  # reminders are not timers


def test_reminder_skills(ctx):
    gate = Gate(ctx, ["no", "yes", "yes"])
    out = gate("remind_me", what="check the oven", when="in 10 minutes")
    assert out.ok and out.text == "Okay, I'll remind you to check the oven in 10 minutes."
    assert gate.questions == []
    listed = gate("list_timers").text
    assert listed == "One reminder: check the oven, in 10 minutes."
    out = gate("cancel_reminder", what="the oven")
    assert not out.executed
    assert gate.questions[-1].startswith("I'll delete your reminder to check the oven, due in 10 minutes.")
    out = gate("cancel_reminder", what="the oven")
    assert out.ok and out.text == "Deleted your reminder to check the oven."
    gate("remind_me", what="water the plants at 11:59 pm")
    gate("remind_me", what="call mom", when="tomorrow at 9")
    out = gate("cancel_all_reminders")
    assert gate.questions[-1].startswith("I'll cancel all 2 reminders: ")
    assert "water the plants" in gate.questions[-1] and "call mom" in gate.questions[-1]
    assert out.ok and service_for(ctx).active(REMINDER) == []


def active_rows(ctx: SkillContext) -> list[tuple]:
    return [(t.id, t.kind, t.name, t.text, t.due_at, t.state) for t in service_for(ctx).active()]


@pytest.mark.parametrize(
    "name, arguments, error",
    [
        ("cancel_all_timers", {}, "You have no timers, so there is nothing to cancel."),
        ("cancel_all_reminders", {}, "You have no reminders, so there is nothing to cancel."),
        ("cancel_reminder", {"what": "call mom"}, "You have no reminders, so there is nothing to cancel."),
        ("cancel_reminder", {}, "You have no reminders, so there is nothing to cancel."),
    ],
)
def test_cancelling_with_nothing_to_cancel_does_not_ask(ctx, name, arguments, error):
    gate = Gate(ctx, ["yes"])
    if name == "cancel_all_timers":  # something of the other kind exists and must stay
        service_for(ctx).add_reminder("call mom", datetime.now() + timedelta(hours=2))
    else:
        service_for(ctx).add_timer(timedelta(minutes=10), "pizza")
    before = active_rows(ctx)
    out = gate(name, **arguments)
    assert gate.questions == []  # nothing to act on: no pointless "Shall I go ahead?"
    assert out.text == error and not out.ok and not out.executed
    assert active_rows(ctx) == before
    assert not (ctx.data_dir / "audit.jsonl").exists()


def test_cancel_reminder_that_matches_none_or_several_does_not_ask(ctx):
    gate = Gate(ctx, ["yes", "yes"])
    soon = datetime.now() + timedelta(hours=2)
    for text in ("call mom", "call the bank", "water the plants"):
        service_for(ctx).add_reminder(text, soon)
    before = active_rows(ctx)
    missing = gate("cancel_reminder", what="feed the cat")
    assert missing.text == (
        "I don't have a reminder about feed the cat. Your reminders are: call mom, call the bank, and water the plants."
    )
    several = gate("cancel_reminder", what="call")
    assert several.text == "Several reminders fit that: call mom and call the bank. Which one?"
    assert gate.questions == [] and not missing.executed and not several.executed
    assert active_rows(ctx) == before


def test_remind_me_with_a_fixed_clock(tmp_path, heard):
    now = datetime(2026, 3, 3, 14, 5)
    c = SkillContext(config=Config(), data_dir=tmp_path, announce=heard.append, clock=lambda: now)
    try:
        gate = Gate(c)
        assert gate("remind_me", what="call mom at 5 pm").text == "Okay, I'll remind you to call mom today at 5 PM."
        assert (
            gate("remind_me", what="to go to the store", when="tomorrow at 5").text
            == "Okay, I'll remind you to go to the store tomorrow at 5 PM."
        )
        out = gate("remind_me", what="call mom")
        assert not out.ok and out.text.startswith("When should I remind you to call mom?")
        out = gate("remind_me", what="stretch", when="this morning")
        assert not out.ok and out.text == "Today at 9 AM has already passed. Give me a time in the future."
        out = gate("remind_me", what="stretch", when="whenever")
        assert not out.ok and "I heard 'whenever' as the time" in out.text
    finally:
        c.close()


def test_resolve_reminder_time_variants():
    now = datetime(2026, 3, 3, 14, 5)
    assert resolve_reminder_time("check the oven", "10 minutes", now) == ("check the oven", now + timedelta(minutes=10))
    assert resolve_reminder_time("call mom", "at 5 pm", now) == ("call mom", datetime(2026, 3, 3, 17, 0))
    assert resolve_reminder_time("that I call mom tomorrow at 9", None, now) == (
        "I call mom",
        datetime(2026, 3, 4, 9, 0),
    )


def test_list_timers_and_empty(ctx):
    gate = Gate(ctx)
    assert gate("list_timers").text == "You have no timers or reminders."
    gate("start_timer", duration="4 minutes", name="egg")
    t = service_for(ctx).add_timer(timedelta(minutes=2), "tea")
    service_for(ctx).pause(t.id)
    text = gate("list_timers").text
    assert text == "2 timers: tea timer, paused with 2 minutes left; egg timer, 4 minutes left."


def test_rounded_left():
    assert rounded_left(0) == timedelta(0)
    assert rounded_left(9.97) == timedelta(seconds=10)
    assert rounded_left(252.3) == timedelta(seconds=253)
    assert rounded_left(14 * 60 + 29) == timedelta(minutes=14)


def test_find_helpers_without_matches():
    with pytest.raises(SkillError, match="no timers running"):
        find_timer([], None, "cancel", 0)
    with pytest.raises(SkillError, match="no reminders"):
        find_reminder([], "x")


def test_consequential_flags():
    reg = SkillRegistry()
    reg.add_module(timers)
    consequential = {s.name for s in reg if s.consequential}
    assert consequential == {"cancel_all_timers", "cancel_all_reminders", "cancel_reminder"}
    # Cancelling, shortening or pausing is confirmed when the model (not a template) chose it.
    assert {s.name for s in reg if s.confirm_if_model} == {"cancel_timer", "shorten_timer", "pause_timer"}
    assert not any(
        reg.get(n).consequential or reg.get(n).confirm_if_model
        for n in ("start_timer", "remind_me", "adjust_timer", "resume_timer")
    )


def test_timers_live_in_their_own_database(ctx):
    service_for(ctx).add_timer(timedelta(minutes=1), "x")
    db = sqlite3.connect(ctx.data_dir / "timers.db")
    assert db.execute("SELECT name, state FROM timers").fetchall() == [("x", "running")]
    db.close()
    assert not (ctx.data_dir / "hark.db").exists()


# ---- sentences -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "utterance, skill, slots",
    [
        ("set a timer for 10 minutes", "start_timer", {"duration": "10 minutes"}),
        ("10 minute timer", "start_timer", {"duration": "10 minutes"}),  # Home Assistant's template: canonical words
        ("set a 5 and a half minute timer", "start_timer", {"duration": "5 and a half minute"}),
        ("start a timer for an hour and a half", "start_timer", {"duration": "an hour and a half"}),
        ("pizza timer for 10 minutes", "start_timer", {"name": "pizza", "duration": "10 minutes"}),
        ("set a pizza timer for 10 minutes", "start_timer", {"name": "pizza", "duration": "10 minutes"}),
        ("how much time is left", "time_left", {}),
        ("how much time is left on the pizza timer", "time_left", {"name": "pizza"}),
        ("how long left", "time_left", {}),
        ("add 5 minutes to the timer", "adjust_timer", {"duration": "5 minutes"}),
        ("add 5 minutes to the pizza timer", "adjust_timer", {"duration": "5 minutes", "name": "pizza"}),
        ("take 2 minutes off the timer", "shorten_timer", {"duration": "2 minutes"}),
        ("pause the timer", "pause_timer", {}),
        ("resume the tea timer", "resume_timer", {"name": "tea"}),
        ("cancel the pizza timer", "cancel_timer", {"name": "pizza"}),
        ("stop the timer", "cancel_timer", {}),
        ("cancel all timers", "cancel_all_timers", {}),
        ("delete all my reminders", "cancel_all_reminders", {}),
        ("cancel the reminder to call mom", "cancel_reminder", {"what": "call mom"}),
        ("what timers do I have", "list_timers", {}),
        ("remind me to call mom at 5 pm", "remind_me", {"what": "call mom at 5 pm"}),
        ("remind me to go to the store tomorrow at 5", "remind_me", {"what": "go to the store tomorrow at 5"}),
        ("remind me in 10 minutes to check the oven", "remind_me", {"when": "in 10 minutes", "what": "check the oven"}),
        ("remind me tomorrow at 9 to call the bank", "remind_me", {"when": "tomorrow at 9", "what": "call the bank"}),
        # Timer words must not be taken for the "start [the] {name}" command template.
        ("start a timer for 10 minutes", "start_timer", {"duration": "10 minutes"}),
    ],
)
def test_sentences_match(utterance, skill, slots):
    from skills.intents import IntentMatcher

    registry = SkillRegistry()
    registry.add_module(timers)
    registry.add_module(commands)
    matcher = IntentMatcher(registry)
    assert matcher.problems == []
    found = matcher.match(utterance)
    assert found is not None, utterance
    assert (found.name, found.arguments) == (skill, slots)
