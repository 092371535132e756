"""Home Assistant's templates in Hark: what the issue found wrong or missed, acted on with the model down.

Every case goes through the real matcher and the real gate (answered "yes") on a fresh data directory,
and checks what was done: the timer's exact length and name, the task's list, the timer acted on.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from skills.ha_intents import INTENT_SKILLS, languages_for, load_language, script_language
from skills.intents import IntentMatcher
from skills.registry import SkillContext, SkillRegistry
from tests.support.cli import hark_env, run_hark
from tests.test_ha_sentences import Bench
from voice.config import Config


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> Bench:
    return Bench(tmp_path_factory.mktemp("ha-intents"))


def start(seconds: int, name: str | None = None) -> dict[str, Any]:
    return {"expect": {"skill": "start_timer", "seconds": seconds, **({"name": name} if name else {})}}


@pytest.mark.parametrize(
    "text, group",
    [
        # Durations the issue found set wrongly.
        ("set a timer for one hour thirty", start(5400)),
        ("set a timer for two hours fifteen", start(8100)),
        ("set a timer for 1/2 a minute", start(30)),
        ("set a timer for 1 and a 1/2 hours", start(5400)),
        ("set a timer for 1/2 an hour", start(1800)),
        ("set a timer for five minutes called tea", start(300, "tea")),
        ("start a 5 minute timer named pizza", start(300, "pizza")),
        ("start an 11 minute timer", start(660)),
        # Words, digits and fractions.
        ("set a timer for a quarter of an hour", start(900)),
        ("set a timer for an hour and a half", start(5400)),
        ("set a timer for one and a half hours", start(5400)),
        ("set a timer for half an hour", start(1800)),
        ("set a timer for twenty five minutes", start(1500)),
        ("set a timer for 90 seconds", start(90)),
        ("set a timer for three quarters of an hour", start(2700)),
        ("timer for two minutes ten", start(130)),
        ("set a 20 minute timer", start(1200)),
        # Named timers.
        ("5 minute timer for pizza", start(300, "pizza")),
        ("set timer called pizza for 5 minutes", start(300, "pizza")),
        ("pizza timer for 12 minutes", start(720, "pizza")),
        ("set a tea timer for 3 minutes", start(180, "tea")),
        # Missed before.
        ("timer status", {"timers": [{"seconds": 600, "target": True}], "expect": {"skill": "time_left"}}),
        (
            "how long is left on my timers",
            {"timers": [{"seconds": 600, "target": True}], "expect": {"skill": "time_left"}},
        ),
        (
            "pizza timer status",
            {
                "timers": [{"seconds": 60}, {"seconds": 600, "name": "pizza", "target": True}],
                "expect": {"skill": "time_left"},
            },
        ),
        ("stop timer in kitchen", {"timers": [{"seconds": 600, "target": True}], "expect": {"skill": "cancel_timer"}}),
        (
            "check apples off my list",
            {"tasks": [{"text": "apples", "list": "inbox", "target": True}], "expect": {"skill": "complete_task"}},
        ),
        ("put apples on the list", {"expect": {"skill": "add_task", "item": "apples", "list": "inbox"}}),
        (
            "complete water the plants on my chores list",
            {
                "tasks": [
                    {"text": "water the plants", "list": "chores", "target": True},
                    {"text": "dust", "list": "chores"},
                ],
                "expect": {"skill": "complete_task"},
            },
        ),
        ("what time is it right now", {"expect": {"skill": "current_time"}}),
        ("tell me the date", {"expect": {"skill": "current_date"}}),
        # A delayed command is answered honestly: a reminder, not a promise to do it.
        (
            "in 5 minutes, open the garage door",
            {"expect": {"skill": "remind_me", "what": "open the garage door", "seconds": 300}},
        ),
        (
            "in 10 minutes remind me to check the oven",
            {"expect": {"skill": "remind_me", "what": "check the oven", "seconds": 600}},
        ),
    ],
)
def test_the_issue_sentences_act_rightly(bench, text, group):
    result = bench.run(text, group)
    assert result.ok, f"{text!r}: {result.why}"


def test_a_room_word_that_names_a_timer_means_that_timer(bench):
    kitchen = {
        "timers": [{"seconds": 300}, {"seconds": 600, "name": "kitchen", "target": True}],
        "expect": {"skill": "cancel_timer"},
    }
    for text in ("cancel the kitchen timer", "stop timer in kitchen"):
        result = bench.run(text, kitchen)
        assert result.ok, f"{text!r}: {result.why}"
    # With no timer of that name the room word is ignored: the one timer is meant.
    result = bench.run(
        "pause the kitchen timer", {"timers": [{"seconds": 300, "target": True}], "expect": {"skill": "pause_timer"}}
    )
    assert result.ok, result.why


@pytest.mark.parametrize(
    "text, what",
    [
        ("remind me to call mom in 10 minutes", "call mom"),
        ("set a reminder to call mom in 10 minutes", "call mom"),
        ("in 10 minutes remind me to check the oven", "check the oven"),
    ],
)
def test_a_reminder_with_the_time_at_either_end_is_a_reminder(bench, text, what):
    result = bench.run(text, {"expect": {"skill": "remind_me", "what": what, "seconds": 600}})
    assert result.ok, f"{text!r}: {result.why}"


def test_a_delayed_command_says_it_will_remind_not_do(bench):
    result = bench.run(
        "open the garage door in 10 minutes",
        {"expect": {"skill": "remind_me", "what": "open the garage door", "seconds": 600}},
    )
    assert result.ok, result.why
    assert result.outcome.text.startswith("Okay, I'll remind you to open the garage door")


# ---- configured commands only when the words name one -----------------------------------------------


def _matcher_with_commands(tmp_path, commands: dict[str, str]) -> IntentMatcher:
    config = Config()
    config.skills.commands = commands
    return IntentMatcher(SkillRegistry.default(), ctx=SkillContext(config=config, data_dir=tmp_path))


@pytest.mark.parametrize(
    "text",
    [
        "start the pizza timer",
        "start the timer",
        "start a 5 minute timer named pizza",
        "start an 11 minute timer",
        "run the timer",
        "start the kitchen timer",
    ],
)
def test_timer_words_never_run_a_configured_command(tmp_path, text):
    matcher = _matcher_with_commands(tmp_path, {"backup": "true", "deploy": "true"})
    found = matcher.match(text)
    assert found is None or found.name != "run_command", (text, found)


def test_a_configured_command_still_runs_by_name(tmp_path):
    matcher = _matcher_with_commands(tmp_path, {"backup": "true", "pizza oven": "true"})
    said = [("run the backup", "backup"), ("start the backup", "backup"), ("start the pizza oven", "pizza oven")]
    for text, name in said:
        found = matcher.match(text)
        assert found is not None and (found.name, found.arguments) == ("run_command", {"name": name}), text
    assert matcher.match("run the dishwasher") is None  # not configured: the model decides


def test_without_a_context_timer_words_are_still_not_commands():
    matcher = IntentMatcher(SkillRegistry.default())
    assert matcher.match("start the pizza timer") is None
    found = matcher.match("run the backup")
    assert found is not None and found.name == "run_command"


# ---- lists from the task store --------------------------------------------------------------------


def test_list_names_come_from_the_task_store(tmp_path):
    from skills.store import TaskStore

    ctx = SkillContext(config=Config(), data_dir=tmp_path)
    matcher = IntentMatcher(SkillRegistry.default(), ctx=ctx)
    assert not (tmp_path / "hark.db").exists()  # matching never creates the database
    assert matcher.match("add apples to my hardware") is None  # no such list yet, and no "list" said
    TaskStore.for_context(ctx).add("nails", "hardware")
    found = matcher.match("add apples to my hardware")
    assert found is not None and (found.intent, found.arguments) == (
        "HassListAddItem",
        {"item": "apples", "list_name": "hardware"},
    )
    found = matcher.match("add call mom to my to do list")  # the default list's words mean the default list
    assert found is not None and found.arguments == {"item": "call mom"}
    ctx.close()


def test_only_the_handled_intents_are_loaded():
    for language in ("en", "ko"):
        ha = load_language(language)
        assert ha is not None
        assert set(ha.intent_names) <= set(INTENT_SKILLS)
    assert "HassTurnOn" not in load_language("ko").intent_names  # it swallowed Korean timer sentences
    assert set(load_language("en").intent_names) == set(INTENT_SKILLS)


def test_language_follows_the_script_then_the_configuration():
    assert script_language("5분짜리 타이머 맞춰줘") == "ko"
    assert script_language("set a timer") is None
    assert languages_for("타이머 취소", "en") == ["ko"]
    assert languages_for("set a timer for 5 minutes", "ko") == ["ko", "en"]
    assert languages_for("set a timer for 5 minutes", "auto") == ["en"]
    assert languages_for("set a timer for 5 minutes", None) == ["en"]


def test_english_text_with_korean_configured_still_matches_english(tmp_path):
    config = Config()
    config.stt.language = "ko"
    matcher = IntentMatcher(SkillRegistry.default(), ctx=SkillContext(config=config, data_dir=tmp_path))
    found = matcher.match("set a timer for 5 minutes")
    assert found is not None and (found.name, found.language) == ("start_timer", "en")
    found = matcher.match("지금 몇 시야")
    assert found is not None and (found.name, found.language) == ("current_time", "ko")


# ---- hark intents test ---------------------------------------------------------------------------------


def test_cli_shows_the_mapping_without_acting(tmp_path):
    env = hark_env(HARK_DATA_DIR=str(tmp_path / "data"))
    done = run_hark("intents", "test", "start a 5 minute timer named pizza", "--json", env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    assert shown["skill"] == "start_timer" and shown["arguments"] == {"duration": "5 minutes", "name": "pizza"}
    assert shown["intent"] == "HassStartTimer" and shown["language"] == "en"
    assert "{timer_name:name}" in shown["template"]
    assert not (tmp_path / "data" / "timers.db").exists()  # nothing ran

    done = run_hark("intents", "test", "오늘 며칠이야", env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "language:  ko" in done.stdout and "current_date" in done.stdout and "HassGetCurrentDate" in done.stdout

    done = run_hark("intents", "test", "what's the capital of France", env=env, timeout=120)
    assert done.returncode == 1
    assert "No template matches" in done.stderr and "language model" in done.stderr


# ---- no sentence that names a duration sets a different one ---------------------------------------------

LENGTHS = {
    "10 minutes": 600,
    "1.5 hours": 5400,
    "one point five hours": 5400,
    "150 minutes": 9000,
    "2 hours and 30 minutes": 9000,
    "an hour": 3600,
    "a minute and a half": 90,
    "1 minute 30": 90,
    "ninety minutes": 5400,
    "one hundred and twenty seconds": 120,
    "half an hour": 1800,
    "a half hour": 1800,
    "quarter of an hour": 900,
    "2 and a half minutes": 150,
    "twenty-five minutes": 1500,
    "one hour thirty minutes": 5400,
    "one hour thirty": 5400,
    "two hours fifteen": 8100,
    "1h 30m": 5400,
    "10 secs": 10,
    "3 hrs": 10800,
    "an hour and fifteen minutes": 4500,
    "5 min": 300,
    "two and a half hours": 9000,
    "one hour and a half": 5400,
    "1 and 1/2 hours": 5400,
    "an hour and 1/2": 5400,
    "1/2 a minute": 30,
    "1 and a 1/2 hours": 5400,
    "1/2 an hour": 1800,
}
FORMS = [
    "set a timer for {d}",
    "start a timer for {d}",
    "timer for {d}",
    "set a {d} timer",
    "{d} timer",
    "set a pizza timer for {d}",
    "set a timer for {d} called pizza",
    "set a timer for {d} named tea",
    "can you set a timer for {d} please",
    "pizza timer for {d}",
]


def test_every_way_of_saying_a_length_sets_exactly_that_length():
    from skills.when import parse_duration

    matcher = IntentMatcher(SkillRegistry.default())
    wrong, unmatched, total = [], [], 0
    for said, seconds in LENGTHS.items():
        for form in FORMS:
            total += 1
            text = form.format(d=said)
            found = matcher.match(text)
            if found is None:
                unmatched.append(text)  # goes to the model: not wrong, but counted
                continue
            length = parse_duration(found.arguments.get("duration", "")) if found.name == "start_timer" else None
            if length is None or length.total_seconds() != seconds:
                wrong.append((text, found.name, found.arguments))
            elif ("pizza" in form or "tea" in form) and found.arguments.get("name") not in ("pizza", "tea"):
                wrong.append((text, "name lost", found.arguments))
    assert wrong == []
    assert len(unmatched) <= total * 0.05, unmatched


def test_a_configured_language_the_package_has_is_loaded_too(tmp_path):
    config = Config()
    config.stt.language = "de"
    matcher = IntentMatcher(SkillRegistry.default(), ctx=SkillContext(config=config, data_dir=tmp_path))
    found = matcher.match("Wie spät ist es")
    assert found is not None and (found.name, found.language) == ("current_time", "de")
    found = matcher.match("Stelle einen Timer für 5 Minuten")
    assert found is not None and (found.name, found.arguments) == ("start_timer", {"duration": "5 minutes"})
