"""Typed events print exactly what the name-plus-dict events printed.

Scripts read `hark ... --json` line by line, so every event kind keeps its name, its keys (in the same
order) and its values.  The reference below is the old form, `{"t": round(t, 4), "event": name, **fields}`
with the fields as the call sites passed them; the typed classes must reproduce it byte for byte.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from skills import events as skill_events
from tests.support.cli import hark_env, run_hark
from tests.support.ollama_server import Reply
from tests.support.paths import ROOT
from voice import events as ev
from voice.events import EVENT_TYPES, EventBus, event_from_fields, redacted


def old_json(name: str, t: float, fields: dict[str, Any]) -> str:
    """What `Event(name, t, fields).to_json()` printed before the events were typed."""
    return json.dumps({"t": round(t, 4), "event": name, **fields}, ensure_ascii=False, default=str)


# (name, the fields as call sites passed them, the typed event): every kind, and every optional field.
CASES: list[tuple[str, dict[str, Any], ev.Event]] = [
    ("ready", {"microphone": "USB Mic", "speaker": "hark_out"}, ev.Ready(microphone="USB Mic", speaker="hark_out")),
    ("speech_start", {"audio_t": 1.23, "source": "microphone"}, ev.SpeechStart(audio_t=1.23, source="microphone")),
    (
        "speech_end",
        {"audio_t": 2.5, "duration": 1.27, "source": "microphone"},
        ev.SpeechEnd(audio_t=2.5, duration=1.27, source="microphone"),
    ),
    (
        "speech_end",
        {"audio_t": 2.5, "discarded": "too short", "source": "in.wav"},
        ev.SpeechEnd(audio_t=2.5, discarded="too short", source="in.wav"),
    ),
    (
        "speech_end",
        {"audio_t": 2.5, "duration": 1.27, "source": "microphone", "ended": "words complete"},
        ev.SpeechEnd(audio_t=2.5, duration=1.27, source="microphone", ended="words complete"),
    ),
    (
        "utterance_too_long",
        {"max_s": 4.0, "message": "That was longer than 4 seconds."},
        ev.UtteranceTooLong(max_s=4.0, message="That was longer than 4 seconds."),
    ),
    (
        "no_speech",
        {"file": "/tmp/in.wav", "message": "I heard no speech in in.wav."},
        ev.NoSpeech(file="/tmp/in.wav", message="I heard no speech in in.wav."),
    ),
    (
        "transcript",
        {"text": "allume la lumière", "language": "fr", "duration": 1.5, "seconds": 0.21},
        ev.Transcript(text="allume la lumière", language="fr", duration=1.5, seconds=0.21),
    ),
    ("state", {"state": "thinking", "previous": "listening"}, ev.State(state="thinking", previous="listening")),
    (
        "intent",
        {
            "name": "current_time",
            "arguments": {},
            "sentence": "what time is it [[right] now]",
            "language": "en",
            "intent": "HassGetCurrentTime",
        },
        ev.Intent(
            skill="current_time",
            arguments={},
            sentence="what time is it [[right] now]",
            language="en",
            intent="HassGetCurrentTime",
        ),
    ),
    ("thinking", {"chars": 120}, ev.Thinking(chars=120)),
    ("reply", {"text": "It's 10:50 PM."}, ev.Reply(text="It's 10:50 PM.")),
    (
        "reply",
        {"text": "Time's up.", "announcement": True, "played": False},
        ev.Reply(text="Time's up.", announcement=True, played=False),
    ),
    ("reply", {"text": "One. Two.", "unspoken_chars": 4}, ev.Reply(text="One. Two.", unspoken_chars=4)),
    ("reply", {"text": "The first", "interrupted": True}, ev.Reply(text="The first", interrupted=True)),
    ("audio_out_start", {}, ev.AudioOutStart()),
    ("audio_out_end", {}, ev.AudioOutEnd()),
    ("timer_fired", {"text": "Your tea timer is done."}, ev.TimerFired(text="Your tea timer is done.")),
    (
        "microphone_back",
        {"microphone": "USB Mic", "message": "The microphone USB Mic works again."},
        ev.MicrophoneBack(microphone="USB Mic", message="The microphone USB Mic works again."),
    ),
    ("barge_in", {"during": "question"}, ev.BargeIn(during="question")),
    ("barge_in", {"during": "reply", "heard": "The weather is"}, ev.BargeIn(during="reply", heard="The weather is")),
    (
        "own_voice",
        {"text": "it's ten fifty", "message": "That was my own voice."},
        ev.OwnVoice(text="it's ten fifty", message="That was my own voice."),
    ),
    (
        "tool_call",
        {"name": "add_task", "arguments": {"item": "oat milk", "list": ["a", 1]}, "source": "model"},
        ev.ToolCall(skill="add_task", arguments={"item": "oat milk", "list": ["a", 1]}, source="model"),
    ),
    ("confirm_request", {"text": "Should I do that?"}, ev.ConfirmRequest(text="Should I do that?")),
    ("confirm_answer", {"text": "", "verdict": "silence"}, ev.ConfirmAnswer(text="", verdict="silence")),
    ("confirmed", {"name": "clear_tasks", "answer": "yes"}, ev.Confirmed(skill="clear_tasks", answer="yes")),
    (
        "cancelled",
        {"name": "add_task", "reason": "no answer", "answer": None},
        ev.Cancelled(skill="add_task", reason="no answer", answer=None),
    ),
    (
        "action_result",
        {"name": "current_time", "ok": True, "text": "It's 10:50 PM."},
        ev.ActionResult(skill="current_time", ok=True, text="It's 10:50 PM."),
    ),
    ("error", {"stage": "llm", "message": "Ollama said: no."}, ev.Error(stage="llm", message="Ollama said: no.")),
    (
        "error",
        {"stage": "audio", "message": "cannot read", "file": "/tmp/x.wav"},
        ev.Error(stage="audio", message="cannot read", file="/tmp/x.wav"),
    ),
    (
        "error",
        {"stage": "microphone", "message": "The microphone is gone.", "spoken": "I lost the microphone."},
        ev.Error(stage="microphone", message="The microphone is gone.", spoken="I lost the microphone."),
    ),
]
IDS = [f"{name}-{'-'.join(fields) or 'bare'}" for name, fields, _ in CASES]


@pytest.mark.parametrize("name, fields, typed", CASES, ids=IDS)
def test_each_event_prints_exactly_what_it_printed_before(name, fields, typed):
    stamped = dataclasses.replace(typed, t=12.345678)
    assert stamped.to_json() == old_json(name, 12.345678, fields)
    assert stamped.name == name and stamped.data == fields
    assert list(stamped.data) == list(fields)  # the same key order


def test_an_anchor_line_is_byte_for_byte_what_scripts_read():
    line = dataclasses.replace(ev.Cancelled(skill="add_task", reason="no answer", answer=None), t=2.48941).to_json()
    assert line == '{"t": 2.4894, "event": "cancelled", "name": "add_task", "reason": "no answer", "answer": null}'
    line = dataclasses.replace(ev.Transcript(text="불 켜 줘", language="ko", duration=1.0, seconds=0.5), t=1).to_json()
    assert (
        line == '{"t": 1, "event": "transcript", "text": "불 켜 줘", "language": "ko", "duration": 1.0, "seconds": 0.5}'
    )


def test_the_cases_cover_every_kind_and_every_field():
    assert {type(typed) for _, _, typed in CASES} == set(EVENT_TYPES.values())
    for cls in EVENT_TYPES.values():
        seen = {key for _, fields, typed in CASES if type(typed) is cls for key in fields}
        assert seen == set(cls.printed_keys()), cls.__name__


def test_the_registry_holds_every_name_constant_and_every_class():
    constants = {v for k, v in vars(ev).items() if k.isupper() and not k.startswith("_") and isinstance(v, str)}
    gate_constants = {
        v for k, v in vars(skill_events).items() if k.isupper() and not k.startswith("_") and isinstance(v, str)
    }
    assert gate_constants <= constants
    assert set(EVENT_TYPES) == constants
    classes = {
        v
        for module in (ev, skill_events)
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, ev.Event) and v is not ev.Event
    }
    assert classes == set(EVENT_TYPES.values())
    assert all(cls.name == name for name, cls in EVENT_TYPES.items())
    # The gate's classes are the skills' own, re-exported: one class per kind, whichever module names it.
    assert ev.ToolCall is skill_events.ToolCall and ev.Error is skill_events.Error and ev.Event is skill_events.Event


@pytest.mark.parametrize("name, fields, typed", CASES, ids=IDS)
def test_a_printed_event_reads_back_as_the_same_typed_event(name, fields, typed):
    assert event_from_fields(name, **fields) == typed


def test_unknown_names_and_fields_are_refused():
    with pytest.raises(ValueError, match="no event called 'reponse'"):
        event_from_fields("reponse", text="typo in the name")
    with pytest.raises(TypeError, match="'reply' has no field txt"):
        event_from_fields(ev.REPLY, txt="typo in a field")
    with pytest.raises(TypeError, match="has no field skill"):  # the printed key is "name", not the attribute
        event_from_fields(ev.TOOL_CALL, skill="add_task", arguments={}, source="model")
    with pytest.raises(TypeError, match="has no field t"):  # the bus stamps t
        event_from_fields(ev.STATE, state="thinking", previous="listening", t=3.0)
    with pytest.raises(TypeError, match=r"'transcript'.*'duration' and 'seconds'"):
        event_from_fields(ev.TRANSCRIPT, text="hi", language="en")
    with pytest.raises(TypeError):
        ev.Reply("hi")  # keyword-only: a field is always named
    with pytest.raises(TypeError):
        ev.Transcript(text="hi", language="en")  # every required field is given


def test_events_are_frozen_and_their_data_is_a_copy():
    event = ev.ToolCall(skill="add_task", arguments={"item": "milk"}, source="model")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.skill = "delete_task"
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.t = 5.0
    event.data["name"] = "delete_task"
    assert event.skill == "add_task" and event.data["name"] == "add_task"


def test_the_bus_stamps_t_and_listeners_get_the_typed_event():
    ticks = iter([100.0, 100.5, 101.25])
    bus = EventBus(clock=lambda: next(ticks))
    seen: list[ev.Event] = []
    bus.subscribe(seen.append)
    made = ev.State(state="thinking", previous="listening")
    first = bus.emit(made)
    second = bus.emit(ev.ToolCall(skill="add_task", arguments={"item": "milk"}, source="model"))
    assert made.t == 0.0 and first.t == 0.5 and second.t == 1.25  # the caller's event is not changed
    assert seen == [first, second] and list(bus.history) == seen and bus.names() == ["state", "tool_call"]
    assert isinstance(seen[1], ev.ToolCall) and seen[1].skill == "add_task"
    assert seen[1].name == ev.TOOL_CALL and seen[1].data["name"] == "add_task"  # what old listeners read


def test_the_log_still_keeps_the_users_words_out():
    def at(event: ev.Event) -> ev.Event:
        return dataclasses.replace(event, t=1.23456)

    assert redacted(at(ev.ToolCall(skill="add_task", arguments={"item": "oat milk"}, source="model"))) == (
        '{"t": 1.2346, "event": "tool_call", "name": "add_task", "arguments_keys": ["item"], "source": "model"}'
    )
    assert redacted(at(ev.Transcript(text="turn on the light", language="en", duration=1.5, seconds=0.21))) == (
        '{"t": 1.2346, "event": "transcript", "text_chars": 17, "language": "en", "duration": 1.5, "seconds": 0.21}'
    )
    assert redacted(at(ev.Reply(text="Time's up.", announcement=True, played=False))) == (
        '{"t": 1.2346, "event": "reply", "text_chars": 10, "announcement": true, "played": false}'
    )
    assert redacted(at(ev.Cancelled(skill="add_task", reason="no answer", answer=None))) == (
        '{"t": 1.2346, "event": "cancelled", "name": "add_task", "reason": "no answer", "answer": null}'
    )
    assert redacted(at(ev.Error(stage="microphone", message="It is gone.", spoken="I lost the microphone."))) == (
        '{"t": 1.2346, "event": "error", "stage": "microphone", "message": "It is gone.", "spoken_chars": 22}'
    )
    assert redacted(at(ev.Intent(skill="x", arguments={}, sentence="what time is it", language="en", intent=""))) == (
        '{"t": 1.2346, "event": "intent", "name": "x", "arguments_keys": [], "sentence_chars": 15, '
        '"language": "en", "intent_chars": 0}'
    )


def _emit_calls(path: Path) -> list[tuple[int, str, list[str | None]]]:
    """(line, event name, keyword names) of each `emit(ev.NAME, ...)` / `emit("name", ...)` in a source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args):
            continue
        if node.func.attr not in ("emit", "_emit"):
            continue
        first = node.args[0]
        if isinstance(first, ast.Attribute) and first.attr.isupper():
            name = getattr(ev, first.attr, f"<no constant ev.{first.attr}>")
        elif isinstance(first, ast.Constant) and isinstance(first.value, str):
            name = first.value
        else:
            continue  # a typed event: mypy checks its fields
        found.append((node.lineno, name, [k.arg for k in node.keywords]))
    return found


def test_no_code_emits_an_event_by_name(tmp_path):
    """Every event is built from its class, so a misspelt name or field fails where it is written."""
    for path in sorted([*(ROOT / "voice").rglob("*.py"), *(ROOT / "skills").rglob("*.py")]):
        if path.parts[-2] == "bench":
            continue  # the plain loop is deliberately built from nothing of Hark's
        old = [f"{path.relative_to(ROOT)}:{line} emits {name!r}" for line, name, _ in _emit_calls(path)]
        assert not old, old
    # The checker itself works: it sees the old form when there is one.
    sample = tmp_path / "sample.py"
    sample.write_text('bus.emit("reponse", text="x")\nbus.emit(ev.REPLY, text="x")\nbus.emit(ev.Reply(text="x"))\n')
    assert [name for _, name, _ in _emit_calls(sample)] == ["reponse", "reply"]


# ------------------------------------------------------------ end to end: `hark ask --json` prints the old lines

# Each event's keys as `hark ask --json` printed them before the events were typed (captured from that code).
KEYS = {
    "state": ["t", "event", "state", "previous"],
    "intent": ["t", "event", "name", "arguments", "sentence", "language", "intent"],
    "tool_call": ["t", "event", "name", "arguments", "source"],
    "action_result": ["t", "event", "name", "ok", "text"],
    "confirm_request": ["t", "event", "text"],
    "confirm_answer": ["t", "event", "text", "verdict"],
    "cancelled": ["t", "event", "name", "reason", "answer"],
    "error": ["t", "event", "stage", "message"],
    "reply": ["t", "event", "text"],
    "audio_out_start": ["t", "event"],
    "audio_out_end": ["t", "event"],
}
# Events whose number and place depend on how the engine plays audio, not on what the turn did.
TIMING = {"state", "audio_out_start", "audio_out_end"}


def _ask(ollama, text: str, replies: list[Reply], code: int) -> list[dict[str, Any]]:
    ollama.script("qwen3:1.7b", replies)
    r = run_hark("ask", "--quiet", "--json", text, env=hark_env(OLLAMA_HOST=ollama.url), input="yes\n")
    assert r.returncode == code, (r.stdout, r.stderr)
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    for line in lines:
        assert list(line)[:2] == ["t", "event"] and isinstance(line["t"], (int, float)), line
        if line["event"] in KEYS:
            assert list(line) == KEYS[line["event"]], line
    assert any(line["event"] == "state" for line in lines)
    return [{k: v for k, v in line.items() if k != "t"} for line in lines if line["event"] not in TIMING]


def test_hark_ask_json_prints_the_same_events_and_fields_as_before(ollama):
    template = _ask(ollama, "what time is it", [], 0)
    assert [e["event"] for e in template] == ["intent", "tool_call", "action_result", "reply"]
    assert template[0] == {
        "event": "intent",
        "name": "current_time",
        "arguments": {},
        "sentence": "what time is it [[right] now]",
        "language": "en",
        "intent": "HassGetCurrentTime",
    }
    assert template[1] == {"event": "tool_call", "name": "current_time", "arguments": {}, "source": "template"}
    assert template[2]["name"] == "current_time" and template[2]["ok"] is True
    assert template[2]["text"].startswith("It's ") and template[3]["text"] == template[2]["text"]

    # A model's call that needs a yes; a piped "yes" is not the user's, so the question goes unanswered.
    call = Reply(tool_calls=[{"name": "add_task", "arguments": {"item": "oat milk"}}])
    asked = _ask(ollama, "remember to get oat milk please", [call], 3)
    assert asked == [
        {"event": "tool_call", "name": "add_task", "arguments": {"item": "oat milk"}, "source": "model"},
        {"event": "confirm_request", "text": "I'll add 'oat milk' to your list. Should I do that?"},
        {"event": "confirm_answer", "text": "", "verdict": "silence"},
        {"event": "cancelled", "name": "add_task", "reason": "no answer", "answer": None},
        {"event": "reply", "text": "I'll add 'oat milk' to your list. Should I do that? Okay, I won't."},
    ]

    failed = _ask(ollama, "tell me a joke", [Reply(error="model crashed", status=500)], 1)
    assert failed == [
        {"event": "error", "stage": "llm", "message": "Ollama said: model crashed."},
        {"event": "reply", "text": "Ollama said: model crashed."},
    ]
