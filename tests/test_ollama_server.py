"""The fake Ollama speaks Ollama's documented wire format (checked over raw HTTP, no client library)."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ollama_server import FakeOllama, Reply, parse_keep_alive

DONE_FIELDS = {
    "done_reason",
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
}


@pytest.fixture
def server():
    with FakeOllama() as s:
        s.add_model("qwen3:1.7b", capabilities=["completion", "tools", "thinking"])
        yield s


def request(server, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    resp = conn.getresponse()
    payload = resp.read()
    conn.close()
    return resp, payload


def test_chat_streams_ndjson_in_chunks_ending_with_done(server):
    server.script("qwen3:1.7b", [Reply(thinking="Greet back.", content="Hello there. How can I help?")])
    resp, payload = request(
        server,
        "POST",
        "/api/chat",
        {"model": "qwen3:1.7b", "messages": [{"role": "user", "content": "hi"}], "think": True},
    )
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "application/x-ndjson"
    assert resp.getheader("Transfer-Encoding") == "chunked"
    lines = [json.loads(line) for line in payload.decode().splitlines()]
    assert all(set(line) >= {"model", "created_at", "message", "done"} for line in lines)
    assert all(line["message"]["role"] == "assistant" for line in lines)
    assert [line["done"] for line in lines] == [False] * (len(lines) - 1) + [True]
    assert "".join(line["message"].get("thinking", "") for line in lines) == "Greet back."
    assert "".join(line["message"]["content"] for line in lines) == "Hello there. How can I help?"
    assert len([line for line in lines if line["message"]["content"]]) == 6  # word by word
    assert set(lines[-1]) >= DONE_FIELDS and lines[-1]["done_reason"] == "stop"


def test_tool_calls_and_non_streaming_answer(server):
    server.script("qwen3:1.7b", [Reply(tool_calls=[{"name": "current_time", "arguments": {}}])])
    resp, payload = request(
        server,
        "POST",
        "/api/chat",
        {"model": "qwen3:1.7b", "stream": False, "messages": [{"role": "user", "content": "time?"}]},
    )
    assert resp.getheader("Content-Type").startswith("application/json")
    answer = json.loads(payload)
    assert answer["done"] is True and set(answer) >= DONE_FIELDS
    assert answer["message"]["tool_calls"][0]["function"] == {"index": 0, "name": "current_time", "arguments": {}}


def test_errors_follow_ollamas_shape(server):
    resp, payload = request(server, "POST", "/api/chat", {"model": "nope:1b", "messages": []})
    assert resp.status == 404 and json.loads(payload) == {"error": "model 'nope:1b' not found"}
    resp, payload = request(server, "POST", "/api/show", {"model": "nope"})
    assert resp.status == 404 and json.loads(payload) == {"error": "model 'nope' not found"}
    server.add_model("plain:1b", capabilities=["completion"])
    resp, payload = request(
        server,
        "POST",
        "/api/chat",
        {
            "model": "plain:1b",
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "t"}}],
        },
    )
    assert resp.status == 400 and "does not support tools" in json.loads(payload)["error"]
    resp, payload = request(
        server,
        "POST",
        "/api/chat",
        {"model": "plain:1b", "think": True, "messages": [{"role": "user", "content": "x"}]},
    )
    assert resp.status == 400 and "does not support thinking" in json.loads(payload)["error"]
    server.script("qwen3:1.7b", [Reply(content="a b c", error="boom", error_after=1)])
    resp, payload = request(
        server, "POST", "/api/chat", {"model": "qwen3:1.7b", "messages": [{"role": "user", "content": "x"}]}
    )
    lines = [json.loads(line) for line in payload.decode().splitlines()]
    assert resp.status == 200 and lines[-1] == {"error": "boom"} and len(lines) == 2
    resp, payload = request(
        server,
        "POST",
        "/api/chat",
        {"model": "qwen3:1.7b", "keep_alive": "soon", "messages": [{"role": "user", "content": "x"}]},
    )
    assert resp.status == 400 and "invalid duration" in json.loads(payload)["error"]
    resp, payload = request(server, "GET", "/api/nothing")
    assert resp.status == 404 and payload == b"404 page not found"


def test_show_tags_ps_version_and_root(server):
    resp, payload = request(server, "POST", "/api/show", {"model": "qwen3:1.7b"})
    info = json.loads(payload)
    assert info["capabilities"] == ["completion", "tools", "thinking"]
    assert info["details"]["parameter_size"] == "1.7B" and "model_info" in info and ".Tools" in info["template"]
    tags = json.loads(request(server, "GET", "/api/tags")[1])
    assert [m["name"] for m in tags["models"]] == ["qwen3:1.7b"] and tags["models"][0]["size"] > 0
    assert json.loads(request(server, "GET", "/api/ps")[1]) == {"models": []}
    resp, payload = request(server, "POST", "/api/generate", {"model": "qwen3:1.7b", "keep_alive": "10m"})
    assert json.loads(payload)["done_reason"] == "load"
    ps = json.loads(request(server, "GET", "/api/ps")[1])
    assert [m["name"] for m in ps["models"]] == ["qwen3:1.7b"]
    request(server, "POST", "/api/chat", {"model": "qwen3:1.7b", "messages": [], "keep_alive": 0})
    assert json.loads(request(server, "GET", "/api/ps")[1]) == {"models": []}
    assert json.loads(request(server, "GET", "/api/version")[1]) == {"version": server.version}
    resp, payload = request(server, "GET", "/")
    assert payload == b"Ollama is running"
    resp, payload = request(server, "HEAD", "/")
    assert resp.status == 200 and payload == b""


def test_pull_streams_progress(server):
    server.add_remote("llama3.2:1b", size=4000)
    _resp, payload = request(server, "POST", "/api/pull", {"model": "llama3.2:1b"})
    lines = [json.loads(line) for line in payload.decode().splitlines()]
    assert lines[0] == {"status": "pulling manifest"} and lines[-1] == {"status": "success"}
    big = [line for line in lines if line.get("total") == 4000]
    assert [line["completed"] for line in big] == [0, 1000, 2000, 3000, 4000]
    assert big[0]["digest"].startswith("sha256:") and big[0]["status"] == f"pulling {big[0]['digest'][7:19]}"
    assert "llama3.2:1b" in [m["name"] for m in json.loads(request(server, "GET", "/api/tags")[1])["models"]]


def test_requests_are_recorded(server):
    request(server, "POST", "/api/chat", {"model": "qwen3:1.7b", "messages": [{"role": "user", "content": "x"}]})
    assert server.bodies("/api/chat") == [{"model": "qwen3:1.7b", "messages": [{"role": "user", "content": "x"}]}]
    assert server.requests[-1].method == "POST"


def test_keep_alive_parsing():
    assert parse_keep_alive("30m") == 1800
    assert parse_keep_alive("1h30m") == 5400
    assert parse_keep_alive(-1) == -1
    assert parse_keep_alive(None) == 300
    with pytest.raises(ValueError):
        parse_keep_alive("-1")  # Go's ParseDuration wants a unit


def test_runs_standalone(tmp_path):
    script = tmp_path / "replies.json"
    script.write_text(json.dumps([{"content": "Scripted hello."}]))
    with FakeOllama() as probe:  # borrow a free port
        port = probe.port
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parent / "support" / "ollama_server.py"),
            "--port",
            str(port),
            "--model",
            "qwen3:1.7b",
            "--script",
            str(script),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "listening on" in proc.stdout.readline()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request(
            "POST",
            "/api/chat",
            body=json.dumps({"model": "qwen3:1.7b", "messages": [{"role": "user", "content": "hi"}]}),
        )
        lines = [json.loads(line) for line in conn.getresponse().read().decode().splitlines()]
        conn.close()
        assert "".join(line["message"]["content"] for line in lines) == "Scripted hello."
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        proc.stdout.close()


def test_raw_lines_are_sent_verbatim_inside_the_stream(server):
    server.script("qwen3:1.7b", [Reply(content="Hi there.", raw_lines=["[1, 2]"], raw_after=1)])
    _resp, payload = request(
        server, "POST", "/api/chat", {"model": "qwen3:1.7b", "messages": [{"role": "user", "content": "hi"}]}
    )
    lines = payload.decode().splitlines()
    assert lines[1] == "[1, 2]"  # after the first content line, exactly as scripted
    assert json.loads(lines[0])["message"]["content"] == "Hi"
    assert json.loads(lines[-1])["done"] is True
