"""The language-model stage, driven through the real `ollama` client against tests/support/ollama_server.py."""

from __future__ import annotations

import json
import random
import socket
import time

import pytest

from tests.support.ollama_server import FakeOllama, Reply
from voice.config import LlmConfig
from voice.llm import (
    Brain,
    BrainError,
    BrainTimeout,
    Conversation,
    Finished,
    ModelNotFound,
    OllamaUnavailable,
    StreamBroken,
    TextDelta,
    ThinkingDelta,
    ToolRequest,
    coerce_arguments,
    fallback_messages,
    parse_tool_choice,
)
from voice.thinking import ThinkFilter

MODEL = "qwen3:1.7b"
ALL_CAPS = ["completion", "tools", "thinking"]

CLOCK_TOOL = {
    "type": "function",
    "function": {
        "name": "current_time",
        "description": "Tell the current local time.",
        "parameters": {"type": "object", "properties": {}, "required": []},
    },
}
TASK_TOOL = {
    "type": "function",
    "function": {
        "name": "add_task",
        "description": "Add a task to a list.",
        "parameters": {
            "type": "object",
            "properties": {"title": {"type": "string", "description": "What to do."}},
            "required": ["title"],
        },
    },
}


_open_brains: list[Brain] = []


@pytest.fixture(autouse=True)
def close_brains():
    yield
    while _open_brains:
        _open_brains.pop().close()


@pytest.fixture
def server():
    with FakeOllama() as s:
        yield s


def new_brain(host: str, **cfg) -> Brain:
    brain = Brain(LlmConfig(**{"model": MODEL, **cfg}), host)
    _open_brains.append(brain)
    return brain


def make_brain(server: FakeOllama, caps=ALL_CAPS, **cfg) -> Brain:
    server.add_model(MODEL, capabilities=caps)
    return new_brain(server.url, **cfg)


def ask(text: str, system: str = "You are Hark.") -> Conversation:
    conv = Conversation(system, 20)
    conv.add_user(text)
    return conv


def text_of(events) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- streaming


def test_answer_streams_in_order_and_ends_with_finished(server):
    brain = make_brain(server)
    events = list(brain.respond(ask("turn on the lights"), []))
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) >= 4  # word by word, so sentences can be spoken as they complete
    assert text_of(events) == "You said: turn on the lights."
    assert isinstance(events[-1], Finished)
    assert events[-1].done_reason == "stop" and events[-1].eval_count == len(deltas)
    body = server.bodies("/api/chat")[-1]
    assert body["stream"] is True
    assert body["keep_alive"] == "30m"
    assert body["options"] == {"temperature": 0.3, "num_predict": 400}  # a bounded answer
    assert body["messages"] == [
        {"role": "system", "content": "You are Hark."},
        {"role": "user", "content": "turn on the lights"},
    ]
    assert not body.get("tools")


def test_thinking_field_is_counted_never_spoken(server):
    brain = make_brain(server, think=True)
    thought = "The user greets me, so I should greet back briefly."
    server.script(MODEL, [Reply(thinking=thought, content="Hello there. How can I help?")])
    events = list(brain.respond(ask("hello"), []))
    assert text_of(events) == "Hello there. How can I help?"
    assert sum(e.chars for e in events if isinstance(e, ThinkingDelta)) == len(thought)
    # Thinking comes before the answer and never leaks into it.
    first_text = next(i for i, e in enumerate(events) if isinstance(e, TextDelta))
    assert all(not isinstance(e, ThinkingDelta) for e in events[first_text:])
    assert server.bodies("/api/chat")[-1]["think"] is True


def test_think_false_is_sent_to_thinking_models(server):
    brain = make_brain(server, think=False)
    server.script(MODEL, [Reply(thinking="not shown when think is false", content="Hi.")])
    events = list(brain.respond(ask("hello"), []))
    assert server.bodies("/api/chat")[-1]["think"] is False
    assert not any(isinstance(e, ThinkingDelta) for e in events)
    assert text_of(events) == "Hi."


def test_think_is_not_sent_when_the_model_cannot_think(server):
    brain = make_brain(server, caps=["completion", "tools"], think=True)
    events = list(brain.respond(ask("hello"), []))
    assert "think" not in server.bodies("/api/chat")[-1]
    assert text_of(events) == "You said: hello."  # a real Ollama would have answered 400 otherwise


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 5, 8, 13])
def test_think_tags_in_content_are_stripped_across_chunks(server, chunk_size):
    brain = make_brain(server, caps=["completion", "tools"])
    reasoning = "secret plan: two plus two"
    server.script(
        MODEL, [Reply(content=f"<think>\n{reasoning}\n</think>\n\nThe answer is four.", chunk_size=chunk_size)]
    )
    events = list(brain.respond(ask("what is two plus two"), []))
    assert text_of(events) == "The answer is four."
    assert all("secret" not in e.text and "think>" not in e.text for e in events if isinstance(e, TextDelta))
    assert sum(e.chars for e in events if isinstance(e, ThinkingDelta)) == len(f"\n{reasoning}\n")


def test_stream_that_starts_inside_thinking_only_shows_the_answer(server):
    # deepseek-r1 style: the template opens <think>, so the model only writes the closing tag.
    template = "{{ range .Messages }}<|User|>{{ .Content }}{{ end }}<|Assistant|><think>\n"
    server.add_model(MODEL, capabilities=["completion"], template=template)
    brain = new_brain(server.url)
    server.script(MODEL, [Reply(content="I should greet them warmly.</think>\n\nHi! Nice to meet you.", chunk_size=4)])
    events = list(brain.respond(ask("hi"), []))
    assert text_of(events) == "Hi! Nice to meet you."
    assert sum(e.chars for e in events if isinstance(e, ThinkingDelta)) == len("I should greet them warmly.")


def test_closing_the_stream_early_keeps_the_brain_usable(server):
    brain = make_brain(server)
    server.script(MODEL, [Reply(content="one two three four five six", chunk_delay_s=0.05)])
    stream = brain.respond(ask("count"), [])
    assert isinstance(next(stream), TextDelta)
    stream.close()  # barge-in: the user spoke over the answer
    assert text_of(brain.respond(ask("again"), [])) == "You said: again."


# ---------------------------------------------------------------- tools


def test_tool_calls_with_dict_arguments_and_tools_offered(server):
    brain = make_brain(server)
    server.script(
        MODEL,
        [
            Reply(
                tool_calls=[
                    {"name": "current_time", "arguments": {}},
                    {"name": "add_task", "arguments": {"title": "buy milk"}},
                ]
            )
        ],
    )
    events = list(brain.respond(ask("what time is it and remind me to buy milk"), [CLOCK_TOOL, TASK_TOOL]))
    requests = [e for e in events if isinstance(e, ToolRequest)]
    assert requests == [ToolRequest("current_time", {}), ToolRequest("add_task", {"title": "buy milk"})]
    assert isinstance(events[-1], Finished)
    body = server.bodies("/api/chat")[-1]
    assert [t["function"]["name"] for t in body["tools"]] == ["current_time", "add_task"]
    assert "format" not in body


def test_tool_call_arguments_as_json_string_or_junk(server):
    brain = make_brain(server)
    server.script(
        MODEL,
        [
            Reply(
                tool_calls=[
                    {"name": "add_task", "arguments": '{"title": "call mom"}'},
                    {"name": "add_task", "arguments": "call mom please"},
                    {"name": "add_task", "arguments": ["call", "mom"]},
                    {"name": "current_time", "arguments": None},
                ]
            )
        ],
    )
    requests = [e for e in brain.respond(ask("remind me"), [TASK_TOOL, CLOCK_TOOL]) if isinstance(e, ToolRequest)]
    assert requests[0] == ToolRequest("add_task", {"title": "call mom"})
    assert requests[1] == ToolRequest("add_task", "call mom please")  # raw: the registry explains the problem
    assert requests[2] == ToolRequest("add_task", ["call", "mom"])
    assert requests[3] == ToolRequest("current_time", None)


@pytest.mark.parametrize(
    "tool_calls, expected",
    [
        ({"function": {"name": "add_task"}}, [ToolRequest("", {"function": {"name": "add_task"}})]),  # not a list
        (["add_task"], [ToolRequest("", "add_task")]),  # a call that is not an object
        ([{"function": {"name": 7, "arguments": ' {"title": "x"} '}}], [ToolRequest("", {"title": "x"})]),
        (
            [{"function": {"name": "add_task", "arguments": {"hark_raw": 1}}}],
            [ToolRequest("add_task", {"hark_raw": 1})],
        ),
        ([], []),
        (None, []),
    ],
    ids=["object", "string-call", "number-name", "our-own-key", "empty", "null"],
)
def test_tool_calls_in_any_shape_reach_the_registry_and_the_answer_goes_on(server, tool_calls, expected):
    """The `ollama` client alone rejects each of these shapes mid-stream; Hark reads them (voice/llm/wire.py)."""
    brain = make_brain(server)
    line = {
        "model": MODEL,
        "created_at": "2026-01-01T00:00:00Z",
        "done": False,
        "message": {"role": "assistant", "content": "", "tool_calls": tool_calls},
    }
    server.script(MODEL, [Reply(content="Done.", raw_lines=[json.dumps(line)], raw_after=0)])
    events = list(brain.respond(ask("remind me"), [TASK_TOOL]))
    assert [e for e in events if isinstance(e, ToolRequest)] == expected
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Done."
    assert isinstance(events[-1], Finished)


def test_coerce_arguments():
    assert coerce_arguments({"a": 1}) == {"a": 1}
    assert coerce_arguments(' {"a": 1} ') == {"a": 1}
    assert coerce_arguments("") == {}
    assert coerce_arguments("[1, 2]") == "[1, 2]"
    assert coerce_arguments("nonsense") == "nonsense"
    assert coerce_arguments(None) is None


def test_model_without_tools_gets_a_json_schema_instead(server):
    brain = make_brain(server, caps=["completion"])
    server.script(
        MODEL,
        [
            Reply(data={"tool": "current_time", "arguments": {}, "reply": "Let me look."}),
            Reply(data={"tool": "none", "arguments": {}, "reply": "It is a quarter past three."}),
        ],
    )
    conv = ask("what time is it")
    events = list(brain.respond(conv, [CLOCK_TOOL, TASK_TOOL]))
    assert [e for e in events if isinstance(e, ToolRequest)] == [ToolRequest("current_time", {})]
    assert text_of(events) == ""  # a reply next to a tool call would be spoken before the result exists
    body = server.bodies("/api/chat")[-1]
    assert not body.get("tools")
    assert body["format"]["properties"]["tool"]["enum"] == ["current_time", "add_task", "none"]
    assert body["format"]["required"] == ["tool", "arguments", "reply"]
    tool_note = body["messages"][1]
    assert tool_note["role"] == "system" and "current_time" in tool_note["content"] and "title" in tool_note["content"]

    conv.add_assistant("", [ToolRequest("current_time", {})])
    conv.add_tool_result("current_time", "It's 3:15 PM.")
    events = list(brain.respond(conv, [CLOCK_TOOL, TASK_TOOL]))
    assert text_of(events) == "It is a quarter past three."
    sent = server.bodies("/api/chat")[-1]["messages"]
    assert all(m["role"] != "tool" and not m.get("tool_calls") for m in sent)
    assert any(m["role"] == "user" and "3:15 PM" in m["content"] for m in sent)


def test_json_fallback_default_reply_and_malformed_output(server):
    brain = make_brain(server, caps=["completion"])
    # The fake fills the schema: tool "none" and the echo as reply.
    assert text_of(brain.respond(ask("good morning"), [CLOCK_TOOL])) == "You said: good morning."
    server.script(MODEL, [Reply(content="Sure, it is noon."), Reply(content="{broken json")])
    assert text_of(brain.respond(ask("time?"), [CLOCK_TOOL])) == "Sure, it is noon."
    with pytest.raises(BrainError) as err:
        list(brain.respond(ask("time?"), [CLOCK_TOOL]))
    assert "not readable" in str(err.value)


def test_parse_tool_choice_edge_cases():
    assert parse_tool_choice('{"tool": "none", "arguments": {}, "reply": ""}') == []
    assert parse_tool_choice('{"tool": "add_task", "arguments": "junk", "reply": ""}') == [
        ToolRequest("add_task", "junk")
    ]
    assert parse_tool_choice('"just words"') == [TextDelta("just words")]
    with pytest.raises(BrainError):
        parse_tool_choice("[1, 2, 3]")
    with pytest.raises(BrainError):
        parse_tool_choice('{"tool": 5}')


def test_refused_tools_fall_back_to_json(server):
    brain = make_brain(server)
    assert "tools" in brain.capabilities()  # cached...
    server.add_model(MODEL, capabilities=["completion"])  # ...then the model was replaced by one without tools
    server.script(MODEL, [Reply(data={"tool": "current_time", "arguments": {}, "reply": ""})])
    events = list(brain.respond(ask("time?"), [CLOCK_TOOL]))
    assert [e for e in events if isinstance(e, ToolRequest)] == [ToolRequest("current_time", {})]
    first, second = server.bodies("/api/chat")[-2:]
    assert first["tools"] and "format" not in first
    assert not second.get("tools") and "format" in second
    assert "tools" not in brain.capabilities()  # the next turn asks for JSON straight away


def test_old_ollama_without_capabilities_infers_tools_from_template(server):
    server.add_model(MODEL, capabilities=None, template="{{ if .Tools }}{{ .Tools }}{{ end }}{{ .Prompt }}")
    brain = new_brain(server.url, think=True)
    assert brain.capabilities() == {"completion", "tools"}
    list(brain.respond(ask("hi"), [CLOCK_TOOL]))
    body = server.bodies("/api/chat")[-1]
    assert body["tools"] and "think" not in body


# ---------------------------------------------------------------- failures


def test_ollama_down_names_the_host_and_the_fix():
    host = f"http://127.0.0.1:{free_port()}"
    brain = new_brain(host, connect_timeout_s=1.0)
    with pytest.raises(OllamaUnavailable) as err:
        list(brain.respond(ask("hi"), []))
    assert host in str(err.value) and "ollama serve" in str(err.value)
    with pytest.raises(OllamaUnavailable):
        brain.warm()
    with pytest.raises(OllamaUnavailable):
        brain.list_models()
    status = brain.check()
    assert not status.reachable and not status.ok and host in status.message_with_fix


def test_model_not_pulled(server):
    server.add_model("llama3.2:1b")
    brain = new_brain(server.url)
    with pytest.raises(ModelNotFound) as err:
        list(brain.respond(ask("hi"), []))
    assert MODEL in str(err.value) and "hark models pull" in str(err.value)
    status = brain.check()
    assert status.reachable and not status.model_present and "hark models pull" in status.message_with_fix
    with pytest.raises(ModelNotFound):
        brain.warm()


def test_connection_dropped_mid_stream_keeps_the_partial_text(server):
    brain = make_brain(server)
    server.script(MODEL, [Reply(content="The weather today is sunny and warm.", break_after=3)])
    seen = []
    with pytest.raises(StreamBroken) as err:
        for event in brain.respond(ask("weather?"), []):
            seen.append(event)
    assert err.value.partial == "The weather today"
    assert text_of(seen) == "The weather today"
    assert not any(isinstance(e, Finished) for e in seen)


def test_server_stopping_mid_stream_is_a_broken_stream(server):
    brain = make_brain(server)
    server.script(MODEL, [Reply(content="one two three four five six seven", chunk_delay_s=0.2)])
    stream = brain.respond(ask("count"), [])
    first = next(stream)
    assert first == TextDelta("one")
    server.stop()
    with pytest.raises(StreamBroken) as err:
        list(stream)
    assert err.value.partial.startswith("one")
    assert "seven" not in err.value.partial


def test_error_line_mid_stream(server):
    brain = make_brain(server)
    server.script(
        MODEL,
        [Reply(content="alpha beta gamma", error="an error was encountered while running the model", error_after=2)],
    )
    with pytest.raises(StreamBroken) as err:
        list(brain.respond(ask("go"), []))
    assert err.value.partial == "alpha beta"
    assert "an error was encountered while running the model" in str(err.value)


def test_http_error_before_the_answer_carries_ollamas_message(server):
    brain = make_brain(server)
    server.script(
        MODEL, [Reply(error="model requires more system memory (5.6 GiB) than is available (2.1 GiB)", status=500)]
    )
    with pytest.raises(BrainError) as err:
        list(brain.respond(ask("go"), []))
    assert type(err.value) is BrainError
    assert "more system memory" in str(err.value)


def test_timeout_when_the_model_is_silent(server):
    brain = make_brain(server, response_timeout_s=0.3)
    server.script(MODEL, [Reply(content="slow", delay_s=5)])
    started = time.monotonic()
    with pytest.raises(BrainTimeout) as err:
        list(brain.respond(ask("go"), []))
    assert time.monotonic() - started < 3
    assert "llm.response_timeout_s" in str(err.value)


@pytest.mark.parametrize("how", [{"no_done": True}, {"break_after": 2}])
def test_no_done_line_is_a_broken_stream(server, how):
    brain = make_brain(server)
    # Every content line arrives, then the response ends (cleanly, or cut) without `done: true`.
    server.script(MODEL, [Reply(content="cut short", **how)])
    with pytest.raises(StreamBroken) as err:
        list(brain.respond(ask("go"), []))
    assert err.value.partial == "cut short"


# ---------------------------------------------------------------- model management


def test_warm_loads_the_model_with_keep_alive(server):
    brain = make_brain(server)
    brain.warm()
    body = server.bodies("/api/generate")[-1]
    assert body["model"] == MODEL and body["prompt"] == "" and body["keep_alive"] == "30m"
    assert MODEL in server.loaded


def test_numeric_keep_alive_is_sent_as_a_number(server):
    brain = make_brain(server, keep_alive="-1")
    brain.warm()
    list(brain.respond(ask("hi"), []))
    assert server.bodies("/api/generate")[-1]["keep_alive"] == -1
    assert server.bodies("/api/chat")[-1]["keep_alive"] == -1
    assert server.loaded[MODEL] is None  # kept loaded forever


def test_pull_reports_progress_then_the_model_is_listed(server):
    server.add_model("llama3.2:1b")
    server.add_remote(MODEL, capabilities=ALL_CAPS, size=1_000_000)
    brain = new_brain(server.url)
    with pytest.raises(ModelNotFound):
        brain.capabilities()
    progress = []
    brain.pull(None, lambda status, completed, total: progress.append((status, completed, total)))
    assert progress[0][0] == "pulling manifest" and progress[-1][0] == "success"
    layer = [p for p in progress if p[2] == 1_000_000]
    assert [p[1] for p in layer] == sorted(p[1] for p in layer) and layer[-1][1] == 1_000_000
    assert {m["name"] for m in brain.list_models()} == {"llama3.2:1b", MODEL}
    assert brain.capabilities() == set(ALL_CAPS)  # the earlier 'not found' was not cached


def test_pull_of_an_unknown_model_says_so(server):
    brain = new_brain(server.url)
    with pytest.raises(BrainError) as err:
        brain.pull("no-such-model:9b", lambda *a: None)
    assert "no-such-model:9b" in str(err.value) and "file does not exist" in str(err.value)


def test_check_reports_missing_tools(server):
    brain = make_brain(server, caps=["completion"])
    status = brain.check()
    assert status.ok and status.capabilities == {"completion"}
    assert "JSON" in status.message_with_fix


# ---------------------------------------------------------------- conversation


def test_conversation_keeps_recent_turns_whole():
    conv = Conversation("sys", 4)
    conv.add_user("u1")
    conv.add_assistant("a1")
    conv.add_user("what time is it")
    conv.add_assistant("", [ToolRequest("current_time", {})])
    conv.add_tool_result("current_time", "It's noon.")
    conv.add_assistant("It's noon.")
    conv.add_user("u3")
    msgs = conv.messages()
    assert msgs[0] == {"role": "system", "content": "sys"}
    # 6 past messages do not fit in 4: the first turn goes whole; the tool turn (4) stays whole.
    assert [m["role"] for m in msgs[1:]] == ["user", "assistant", "tool", "assistant", "user"]
    assert msgs[2]["tool_calls"] == [{"function": {"name": "current_time", "arguments": {}}}]
    assert msgs[3] == {
        "role": "tool",
        "content": '<data source="current_time">It\'s noon.</data>',
        "tool_name": "current_time",
    }
    conv.add_assistant("a3")
    conv.add_user("u4")
    # The tool turn no longer fits with u3/a3: it is dropped whole, never leaving a lone tool result.
    assert [m["content"] for m in conv.messages()[1:]] == ["u3", "a3", "u4"]


def test_conversation_current_turn_is_always_sent():
    conv = Conversation("", 0)
    conv.add_user("first")
    conv.add_assistant("one")
    conv.add_user("second")
    conv.add_assistant("", [ToolRequest("current_time", "junk")])
    conv.add_tool_result("current_time", "noon")
    msgs = conv.messages()
    assert [m["role"] for m in msgs] == ["user", "assistant", "tool"]  # no system prompt, no history
    assert msgs[1]["tool_calls"][0]["function"]["arguments"] == {}  # junk is never sent back to Ollama


def test_conversation_rollback_drops_only_the_failed_turn():
    conv = Conversation("sys", 2)
    for i in range(3):
        conv.add_user(f"u{i}")
        conv.add_assistant(f"a{i}")
    before = conv.messages()
    mark = conv.mark()
    conv.add_user("u3")  # prunes old turns while starting the new one
    conv.add_assistant("", [ToolRequest("current_time", {})])
    conv.rollback(mark)
    assert conv.messages() == before
    conv.add_user("u3 again")
    assert [m["content"] for m in conv.messages()[1:]] == ["u2", "a2", "u3 again"]


def test_conversation_storage_stays_bounded():
    conv = Conversation("sys", 6)
    for i in range(100):
        conv.add_user(f"u{i}")
        conv.add_assistant(f"a{i}")
    # Shown: the last turn plus 6 messages of history; stored: one turn more, for rollback.
    assert [m["content"] for m in conv.messages()[1:]] == ["u96", "a96", "u97", "a97", "u98", "a98", "u99", "a99"]
    assert len(conv) == 10


def test_messages_are_copies():
    conv = Conversation("sys", 10)
    conv.add_user("hi")
    conv.messages()[1]["content"] = "changed"
    assert conv.messages()[1]["content"] == "hi"


def test_fallback_messages_put_the_tool_list_after_the_system_prompt():
    msgs = fallback_messages([{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}], [TASK_TOOL])
    assert msgs[0]["content"] == "sys"
    assert msgs[1]["role"] == "system" and "add_task" in msgs[1]["content"] and "What to do." in msgs[1]["content"]
    assert msgs[2] == {"role": "user", "content": "hi"}


# ---------------------------------------------------------------- the <think> filter


def run_filter(chunks, starts_in_thinking=False):
    f = ThinkFilter(starts_in_thinking)
    segments = []
    for chunk in chunks:
        segments += f.feed(chunk)
    segments += f.flush()
    text = "".join(t for k, t in segments if k == "text")
    thinking = "".join(t for k, t in segments if k == "thinking")
    return text, thinking


def every_two_cut_split(s):
    for i in range(len(s) + 1):
        for j in range(i, len(s) + 1):
            yield [s[:i], s[i:j], s[j:]]


CASES = [
    # (stream, starts_in_thinking, answer, reasoning)
    ("<think>plan A</think>\n\nThe answer.", False, "The answer.", "plan A"),
    ("<think>\n\n</think>\n\nHi there.", False, "Hi there.", "\n\n"),
    ("Plain answer, 3 < 4 and 5 > 2.", False, "Plain answer, 3 < 4 and 5 > 2.", ""),
    ("First. <think>aside</think>Second.", False, "First. Second.", "aside"),
    ("reasoning here</think>Answer.", True, "Answer.", "reasoning here"),
    ("reasoning here</think>Answer.", None, "Answer.", "reasoning here"),
    ("  <think>r</think> Answer.", None, "Answer.", "r"),
    ("Just an answer.", None, "Just an answer.", ""),
    ("<think>never closed", False, "", "never closed"),
    ("ends with <thi", False, "ends with <thi", ""),
]


@pytest.mark.parametrize("stream,mode,answer,reasoning", CASES)
def test_think_filter_every_split(stream, mode, answer, reasoning):
    for chunks in every_two_cut_split(stream):
        assert run_filter(chunks, mode) == (answer, reasoning), chunks


def test_think_filter_random_chunkings():
    rng = random.Random(7)
    stream = (
        "<think>Is it </think> or <think>? Let me check.</think>\n\nIt is <b>bold</b> text. <think>more</think>Done."
    )
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(stream)), rng.randint(1, 12)))
        chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
        text, thinking = run_filter(chunks)
        assert (text, thinking) == ("or It is <b>bold</b> text. Done.", "Is it ? Let me check.more"), chunks


def test_think_filter_streams_answer_text_without_waiting():
    f = ThinkFilter(False)
    assert f.feed("Hello the") == [("text", "Hello the")]
    assert f.feed("re <") == [("text", "re ")]  # only a possible tag start is held back
    assert f.feed("b>") == [("text", "<b>")]
