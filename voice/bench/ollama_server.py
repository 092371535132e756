"""A small Ollama server for `hark bench`, tests and manual runs (standard library only).

It speaks Ollama's documented wire format: `/api/chat` and `/api/generate`
stream NDJSON (`application/x-ndjson`, chunked) ending in a `done: true` line
with `done_reason` and the duration/count fields; errors are `{"error": ...}`
with an HTTP status, or an error line once a stream has started; an unknown
model is 404 `{"error": "model 'NAME' not found"}`.  Callers script the replies:

    with FakeOllama() as server:
        server.add_model("qwen3:1.7b", capabilities=["completion", "tools", "thinking"])
        server.script("qwen3:1.7b", [Reply(thinking="hm", content="Hello there."),
                                     Reply(tool_calls=[{"name": "current_time", "arguments": {}}]),
                                     Reply(content="partial", break_after=2)])
        ... Brain(cfg, server.url) ...
        server.bodies("/api/chat")   # what the client sent
        server.answers               # when each answer was asked for and its first token sent

With no script left a model answers `default_reply` if one is set, else it echoes:
"You said: <last user message>."

Standalone: python -m voice.bench.ollama_server --port 11434 --model qwen3:1.7b [--script replies.json]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VERSION = "0.12.6"
DEFAULT_CAPABILITIES = ("completion", "tools")


@dataclass
class Reply:
    """One scripted answer. Lines stream as: thinking pieces, content pieces, tool calls, done."""

    content: str = ""
    thinking: str = ""
    # [{"name": ..., "arguments": ...}]; arguments are sent as given (dict, str or junk).
    tool_calls: list[dict[str, Any]] | None = None
    # A JSON value sent as the content (answers to `format=` requests).
    data: Any = None
    chunk_size: int | None = None  # characters per line; None streams word by word
    delay_s: float = 0.0  # silence before the response starts (timeouts, model loading)
    chunk_delay_s: float | None = None  # pause between lines; None: the server's default
    break_after: int | None = None  # drop the connection after this many lines, no done line
    error: str | None = None
    error_after: int | None = None  # error line after this many lines; None: HTTP error up front
    status: int = 500  # HTTP status of an up-front error
    no_done: bool = False  # end the stream cleanly but never send the done line
    # Lines sent verbatim (not JSON-encoded) after this many regular lines: a server sending junk.
    raw_lines: list[str] | None = None
    raw_after: int = 0
    done_reason: str = "stop"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reply:
        """A reply from its JSON form (the standalone server's --script); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown reply keys {sorted(unknown)}; use {sorted(known)}")
        return cls(**d)


@dataclass
class FakeModel:
    """A model the server knows, with what /api/tags, /api/show and /api/ps say of it."""

    name: str
    capabilities: list[str] | None  # None: an old Ollama that reports none
    size: int
    family: str
    parameter_size: str
    quantization_level: str
    template: str
    digest: str
    modified_at: str

    def supported(self) -> list[str]:
        """What this model really does; an old Ollama decided tools by the template."""
        if self.capabilities is not None:
            return self.capabilities
        return ["completion", "tools"] if ".Tools" in self.template else ["completion"]

    def details(self) -> dict[str, Any]:
        """The `details` object Ollama reports for a model."""
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }


@dataclass
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    body: Any  # the parsed JSON body (None for GET/HEAD or unreadable bodies)
    raw: bytes = b""


@dataclass
class Answered:
    """One chat or generate answer: when it was asked for and when its first token went out (time.monotonic)."""

    model: str
    asked: float
    first_token: float | None = None  # None: nothing was sent (an error, a dropped connection)


@dataclass
class _Loaded:
    expires_at: datetime | None  # None: kept forever


def full_name(name: str) -> str:
    """Ollama's canonical name: a missing tag means ':latest'."""
    name = name.strip()
    last = name.rsplit("/", 1)[-1]
    return name if ":" in last else f"{name}:latest"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _split(text: str, chunk_size: int | None) -> list[str]:
    if not text:
        return []
    if chunk_size:
        return [text[i : i + chunk_size] for i in range(0, len(text), chunk_size)]
    pieces = re.findall(r"\s*\S+", text)
    tail = text[len("".join(pieces)) :]
    if tail:
        if pieces:
            pieces[-1] += tail
        else:
            pieces = [tail]
    return pieces


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_S = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_keep_alive(value: Any) -> float | None:
    """Seconds to keep a model loaded (negative: forever). Raises ValueError like Go's time.ParseDuration."""
    if value is None:
        return 300.0
    if isinstance(value, bool):
        raise ValueError(f"invalid keep_alive {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    parts = _DURATION.findall(body)
    if not body or "".join(n + u for n, u in parts) != body:
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * sum(float(n) * _UNIT_S[u] for n, u in parts)


def _fill_schema(schema: Any, text: str) -> Any:
    """A value matching a JSON schema; strings say `text` ("none" where an enum allows it)."""
    if not isinstance(schema, dict):
        return {"reply": text}
    if schema.get("enum"):
        return "none" if "none" in schema["enum"] else schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties") or {}
        if not props:
            return {}
        return {k: _fill_schema(v, text) for k, v in props.items()}
    if kind == "array":
        return []
    if kind in ("number", "integer"):
        return 0
    if kind == "boolean":
        return False
    return text


def _default_template(capabilities: list[str] | None) -> str:
    tools = (
        "{{- if .Tools }}<|im_start|>system\n# Tools\n{{ range .Tools }}{{ . }}\n{{ end }}<|im_end|>\n{{ end }}"
        if capabilities and "tools" in capabilities
        else ""
    )
    think = (
        "{{- if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}"
        if capabilities and "thinking" in capabilities
        else ""
    )
    return (
        "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
        + tools
        + "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
        + "<|im_start|>assistant\n"
        + think
    )


class _Abort(Exception):
    """Stop answering: the server is stopping or the client went away."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeOllama


class FakeOllama:
    """An Ollama stand-in on 127.0.0.1 (port 0 picks a free port). Start, script, stop."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, chunk_delay_s: float = 0.0, version: str = VERSION
    ) -> None:
        self.host = host
        self.port = port
        self.chunk_delay_s = chunk_delay_s
        self.version = version
        self.requests: list[RecordedRequest] = []
        self.answers: list[Answered] = []
        # What a model answers once its script is used up (None: echo the user's last message).
        self.default_reply: Reply | None = None
        self._models: dict[str, FakeModel] = {}
        self._remote: dict[str, FakeModel] = {}
        self._scripts: dict[str, list[Reply]] = {}
        self._loaded: dict[str, _Loaded] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> FakeOllama:
        """Serve on a thread (the port is known once this returns)."""
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-ollama", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut every open connection (a stream in progress breaks)."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, for OLLAMA_HOST or a client's host."""
        return f"http://{self.host}:{self.port}"

    # -- scripting

    def _make_model(
        self,
        name: str,
        capabilities: Sequence[str] | None,
        size: int,
        family: str | None,
        parameter_size: str | None,
        template: str | None,
    ) -> FakeModel:
        name = full_name(name)
        base = name.rsplit("/", 1)[-1].split(":")[0]
        caps = None if capabilities is None else list(capabilities)
        return FakeModel(
            name=name,
            capabilities=caps,
            size=size,
            family=family or base.split(".")[0],
            parameter_size=parameter_size
            or (name.split(":")[1].upper() if re.match(r"\d", name.split(":")[1]) else "7B"),
            quantization_level="Q4_K_M",
            template=_default_template(caps) if template is None else template,
            digest=hashlib.sha256(name.encode()).hexdigest(),
            modified_at=_now(),
        )

    def add_model(
        self,
        name: str,
        capabilities: Sequence[str] | None = DEFAULT_CAPABILITIES,
        *,
        size: int = 1_359_000_000,
        family: str | None = None,
        parameter_size: str | None = None,
        template: str | None = None,
    ) -> FakeModel:
        """A model that is pulled. capabilities=None emulates an Ollama too old to report them."""
        model = self._make_model(name, capabilities, size, family, parameter_size, template)
        with self._lock:
            self._models[model.name] = model
        return model

    def add_remote(
        self,
        name: str,
        capabilities: Sequence[str] | None = DEFAULT_CAPABILITIES,
        *,
        size: int = 1_359_000_000,
        template: str | None = None,
    ) -> FakeModel:
        """A model `/api/pull` can download (it becomes local when pulled)."""
        model = self._make_model(name, capabilities, size, None, None, template)
        with self._lock:
            self._remote[model.name] = model
        return model

    def remove_model(self, name: str) -> None:
        """Forget a model (as `ollama rm`)."""
        with self._lock:
            self._models.pop(full_name(name), None)
            self._loaded.pop(full_name(name), None)

    def script(self, model: str, replies: list[Reply]) -> None:
        """Queue replies for a model; each chat (or generate with a prompt) takes the next one."""
        with self._lock:
            self._scripts.setdefault(full_name(model), []).extend(replies)

    def pending(self, model: str) -> int:
        """How many scripted replies a model has left."""
        with self._lock:
            return len(self._scripts.get(full_name(model), []))

    def bodies(self, path: str) -> list[Any]:
        """Request bodies received on one path, in order."""
        with self._lock:
            return [r.body for r in self.requests if r.path == path]

    @property
    def loaded(self) -> dict[str, datetime | None]:
        """The models in memory and when each expires (None: kept forever)."""
        with self._lock:
            return {name: entry.expires_at for name, entry in self._loaded.items()}

    # -- used by the handler

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _model(self, name: str) -> FakeModel | None:
        with self._lock:
            return self._models.get(full_name(name))

    def _next_reply(self, model: str) -> Reply | None:
        with self._lock:
            queue = self._scripts.get(model)
            return queue.pop(0) if queue else self.default_reply

    def _answered(self, model: str, asked: float) -> Answered:
        entry = Answered(model, asked)
        with self._lock:
            self.answers.append(entry)
        return entry

    def _load(self, model: str, keep_alive_s: float) -> None:
        with self._lock:
            if keep_alive_s == 0:
                self._loaded.pop(model, None)
            else:
                expires = None if keep_alive_s < 0 else datetime.now(timezone.utc) + timedelta(seconds=keep_alive_s)
                self._loaded[model] = _Loaded(expires)

    def _pulled(self, model: FakeModel) -> None:
        with self._lock:
            self._models[model.name] = model

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self._stopping.wait(seconds):
            raise _Abort()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    # -- plumbing

    @property
    def fake(self) -> FakeOllama:
        return self.server.fake

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake._conns.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.fake._lock:
                self.fake._conns.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        pass

    def _read_body(self) -> tuple[bytes, Any, str | None]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return raw, None, "missing request body"
        try:
            return raw, json.loads(raw), None
        except ValueError as e:
            return raw, None, f"invalid character in request body: {e}"

    def _send_json(self, status: int, obj: Any, head_only: bool = False) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head_only:
            self.wfile.write(data)

    def _send_text(self, status: int, text: str, head_only: bool = False) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head_only:
            self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send_json(status, {"error": message})

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _line(self, obj: dict[str, Any]) -> None:
        data = (json.dumps(obj, ensure_ascii=False) + "\n").encode()
        try:
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except OSError as e:  # the client hung up (barge-in, timeout)
            raise _Abort() from e

    def _raw_line(self, text: str) -> None:
        data = (text + "\n").encode()
        try:
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except OSError as e:
            raise _Abort() from e

    def _end_stream(self) -> None:
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError as e:
            raise _Abort() from e

    def _drop_connection(self) -> None:
        """Hang up mid-body: no terminating chunk, so the client sees a cut stream."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- routing

    def do_HEAD(self) -> None:
        self._route("HEAD")

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        raw, body, problem = (b"", None, None)
        if method in ("POST", "DELETE"):
            raw, body, problem = self._read_body()
        self.fake._record(RecordedRequest(method, path, body, raw))
        try:
            if path == "/" and method in ("GET", "HEAD"):
                return self._send_text(200, "Ollama is running", head_only=method == "HEAD")
            if path == "/api/version" and method in ("GET", "HEAD"):
                return self._send_json(200, {"version": self.fake.version}, head_only=method == "HEAD")
            if path == "/api/tags" and method in ("GET", "HEAD"):
                return self._tags(head_only=method == "HEAD")
            if path == "/api/ps" and method == "GET":
                return self._ps()
            handlers = {
                ("POST", "/api/chat"): self._chat,
                ("POST", "/api/generate"): self._generate,
                ("POST", "/api/show"): self._show,
                ("POST", "/api/pull"): self._pull,
                ("DELETE", "/api/delete"): self._delete,
            }
            handler = handlers.get((method, path))
            if handler is None:
                return self._send_text(404, "404 page not found")
            if problem:
                return self._error(400, problem)
            if not isinstance(body, dict):
                return self._error(400, "request body must be a JSON object")
            handler(body)
        except _Abort:
            self.close_connection = True

    # -- endpoints

    def _known_model(self, body: dict[str, Any]) -> FakeModel | None:
        name = body.get("model") or body.get("name")
        if not name:
            self._error(400, "model is required")
            return None
        model = self.fake._model(name)
        if model is None:
            self._error(404, f"model '{name}' not found")
        return model

    def _keep_alive(self, body: dict[str, Any]) -> float | None:
        try:
            return parse_keep_alive(body.get("keep_alive"))
        except ValueError as e:
            self._error(400, str(e))
            return None

    def _load_for(self, body: dict[str, Any]) -> tuple[FakeModel, float, list[str]] | None:
        """Checks shared by chat and generate, as Ollama makes them; loads the model. None: refused."""
        model = self._known_model(body)
        if model is None:
            return None
        keep_alive = self._keep_alive(body)
        if keep_alive is None:
            return None
        caps = model.supported()
        if body.get("tools") and "tools" not in caps:
            self._error(400, f"registry.ollama.ai/library/{model.name} does not support tools")
            return None
        if body.get("think") not in (None, False) and "thinking" not in caps:
            self._error(400, f'"{model.name}" does not support thinking')
            return None
        self.fake._load(model.name, keep_alive)
        return model, keep_alive, caps

    def _chat(self, body: dict[str, Any]) -> None:
        loaded = self._load_for(body)
        if loaded is None:
            return
        model, keep_alive, caps = loaded
        messages = body.get("messages") or []
        think = body.get("think")
        if not messages:  # an empty chat only loads (or with keep_alive 0 unloads) the model
            reason = "unload" if keep_alive == 0 else "load"
            return self._send_json(
                200,
                {
                    "model": model.name,
                    "created_at": _now(),
                    "message": {"role": "assistant", "content": ""},
                    "done_reason": reason,
                    "done": True,
                },
            )
        reply = self.fake._next_reply(model.name) or self._default_reply(messages, body.get("format"))
        show_thinking = "thinking" in caps and think is not False
        prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in messages if isinstance(m, dict))
        self._answer(model, reply, body.get("stream", True) is not False, show_thinking, prompt_tokens, chat=True)

    def _generate(self, body: dict[str, Any]) -> None:
        loaded = self._load_for(body)
        if loaded is None:
            return
        model, keep_alive, caps = loaded
        think = body.get("think")
        prompt = body.get("prompt") or ""
        if not prompt:  # documented: an empty prompt loads the model
            reason = "unload" if keep_alive == 0 else "load"
            return self._send_json(
                200, {"model": model.name, "created_at": _now(), "response": "", "done": True, "done_reason": reason}
            )
        messages = [{"role": "user", "content": prompt}]
        reply = self.fake._next_reply(model.name) or self._default_reply(messages, body.get("format"))
        show_thinking = "thinking" in caps and think is not False
        self._answer(
            model, reply, body.get("stream", True) is not False, show_thinking, len(prompt.split()), chat=False
        )

    def _default_reply(self, messages: list[Any], fmt: Any) -> Reply:
        last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
        if last.get("role") == "tool":
            text = f"The {last.get('tool_name') or 'tool'} tool says: {last.get('content', '')}"
        else:
            users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
            said = str(users[-1].get("content", "")).strip().rstrip(".!?") if users else ""
            text = f"You said: {said}."
        if fmt:
            return Reply(data=_fill_schema(fmt if isinstance(fmt, dict) else None, text))
        return Reply(content=text)

    def _answer(
        self, model: FakeModel, reply: Reply, stream: bool, show_thinking: bool, prompt_tokens: int, *, chat: bool
    ) -> None:
        fake = self.fake
        started = time.monotonic_ns()
        log = fake._answered(model.name, started / 1e9)
        fake._wait(reply.delay_s)
        if reply.error is not None and reply.error_after is None:
            return self._error(reply.status, reply.error)
        content = json.dumps(reply.data) if reply.data is not None else reply.content
        thinking = reply.thinking if show_thinking else ""
        calls = [
            {"id": f"call_{i}", "function": {"index": i, "name": c.get("name"), "arguments": c.get("arguments")}}
            for i, c in enumerate(reply.tool_calls or [])
        ]

        def piece(text: str = "", think: str = "", tool_calls: list[Any] | None = None) -> dict[str, Any]:
            if chat:
                message: dict[str, Any] = {"role": "assistant", "content": text}
                if think:
                    message["thinking"] = think
                if tool_calls:
                    message["tool_calls"] = tool_calls
                return {"message": message}
            out: dict[str, Any] = {"response": text}
            if think:
                out["thinking"] = think
            return out

        pieces = [piece(think=t) for t in _split(thinking, reply.chunk_size)]
        pieces += [piece(text=t) for t in _split(content, reply.chunk_size)]
        if calls and chat:
            pieces.append(piece(tool_calls=calls))

        def stats() -> dict[str, Any]:
            total = time.monotonic_ns() - started
            return {
                "done_reason": reply.done_reason,
                "total_duration": total,
                "load_duration": 1_000_000,
                "prompt_eval_count": prompt_tokens,
                "prompt_eval_duration": total // 10,
                "eval_count": max(1, len(pieces)),
                "eval_duration": total - total // 10,
            }

        pause = fake.chunk_delay_s if reply.chunk_delay_s is None else reply.chunk_delay_s
        if not stream:
            if reply.break_after is not None:
                return self._drop_connection()
            if reply.error is not None:
                return self._error(reply.status, reply.error)
            fake._wait(pause * len(pieces))
            whole = piece(text=content, think=thinking, tool_calls=calls or None)
            log.first_token = time.monotonic()
            return self._send_json(200, {"model": model.name, "created_at": _now(), **whole, "done": True, **stats()})

        self._start_stream()
        for i, p in enumerate(pieces):
            if reply.raw_lines and reply.raw_after == i:
                for raw in reply.raw_lines:
                    self._raw_line(raw)
            if reply.break_after == i:
                return self._drop_connection()
            if reply.error_after == i:
                self._line({"error": reply.error})
                return self._end_stream()
            if i:
                fake._wait(pause)
            self._line({"model": model.name, "created_at": _now(), **p, "done": False})
            if log.first_token is None:
                log.first_token = time.monotonic()
        n = len(pieces)
        if reply.raw_lines and reply.raw_after >= n:
            for raw in reply.raw_lines:
                self._raw_line(raw)
        if reply.break_after is not None and reply.break_after >= n:
            return self._drop_connection()
        if reply.error_after is not None and reply.error_after >= n:
            self._line({"error": reply.error})
            return self._end_stream()
        fake._wait(pause)
        if not reply.no_done:
            self._line({"model": model.name, "created_at": _now(), **piece(), "done": True, **stats()})
        self._end_stream()

    def _show(self, body: dict[str, Any]) -> None:
        model = self._known_model(body)
        if model is None:
            return
        info: dict[str, Any] = {
            "license": "",
            "modelfile": (
                f'# Modelfile generated by "ollama show"\nFROM {model.name}\nTEMPLATE """{model.template}"""\n'
            ),
            "parameters": "temperature 0.6\ntop_p 0.95",
            "template": model.template,
            "details": model.details(),
            "model_info": {
                "general.architecture": model.family,
                "general.file_type": 15,
                "general.parameter_count": model.size * 2,
                "general.quantization_version": 2,
                f"{model.family}.context_length": 40960,
                f"{model.family}.block_count": 28,
            },
            "modified_at": model.modified_at,
        }
        if model.capabilities is not None:
            info["capabilities"] = model.capabilities
        self._send_json(200, info)

    def _tags(self, head_only: bool = False) -> None:
        with self.fake._lock:
            models = list(self.fake._models.values())
        self._send_json(
            200,
            {
                "models": [
                    {
                        "name": m.name,
                        "model": m.name,
                        "modified_at": m.modified_at,
                        "size": m.size,
                        "digest": m.digest,
                        "details": m.details(),
                    }
                    for m in models
                ]
            },
            head_only=head_only,
        )

    def _ps(self) -> None:
        fake = self.fake
        out = []
        for name, expires in fake.loaded.items():
            m = fake._model(name)
            if m is None:
                continue
            when = expires or datetime(2318, 1, 1, tzinfo=timezone.utc)
            out.append(
                {
                    "name": m.name,
                    "model": m.name,
                    "size": m.size,
                    "digest": m.digest,
                    "details": m.details(),
                    "expires_at": when.isoformat().replace("+00:00", "Z"),
                    "size_vram": 0,
                    "context_length": 4096,
                }
            )
        self._send_json(200, {"models": out})

    def _delete(self, body: dict[str, Any]) -> None:
        model = self._known_model(body)
        if model is None:
            return
        self.fake.remove_model(model.name)
        self._send_json(200, {})

    def _pull(self, body: dict[str, Any]) -> None:
        fake = self.fake
        name = body.get("model") or body.get("name")
        if not name:
            return self._error(400, "model is required")
        with fake._lock:
            remote = fake._remote.get(full_name(name)) or fake._models.get(full_name(name))
        stream = body.get("stream", True) is not False
        if remote is None:
            if not stream:
                return self._error(500, "pull model manifest: file does not exist")
            self._start_stream()
            self._line({"status": "pulling manifest"})
            self._line({"error": "pull model manifest: file does not exist"})
            return self._end_stream()
        layers = [
            (remote.digest, remote.size),
            (hashlib.sha256(remote.template.encode()).hexdigest(), len(remote.template) + 1),
        ]
        lines: list[dict[str, Any]] = [{"status": "pulling manifest"}]
        for digest, size in layers:
            for step in range(5):
                lines.append(
                    {
                        "status": f"pulling {digest[:12]}",
                        "digest": f"sha256:{digest}",
                        "total": size,
                        "completed": size * step // 4,
                    }
                )
        lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}, {"status": "success"}]
        if not stream:
            fake._pulled(remote)
            return self._send_json(200, {"status": "success"})
        self._start_stream()
        for i, line in enumerate(lines):
            if i:
                fake._wait(fake.chunk_delay_s)
            if line["status"] == "success":
                fake._pulled(remote)
            self._line(line)
        self._end_stream()


def _load_script(path: str, default_model: str) -> dict[str, list[Reply]]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if isinstance(data, list):
        data = {default_model: data}
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: expected a list of replies or {{model: [replies]}}")
    return {
        model: [Reply.from_dict(r) if isinstance(r, dict) else Reply(content=str(r)) for r in replies]
        for model, replies in data.items()
    }


def main(argv: list[str] | None = None) -> None:
    """The standalone server: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(description="A fake Ollama server for tests, manual runs and benchmarks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11434)
    parser.add_argument("--model", action="append", help="a pulled model (repeatable); default qwen3:1.7b")
    parser.add_argument(
        "--capabilities", default="completion,tools,thinking", help="comma-separated, for every --model"
    )
    parser.add_argument("--remote", action="append", default=[], help="a model /api/pull can download (repeatable)")
    parser.add_argument("--script", help="JSON: a list of replies for the first model, or {model: [replies]}")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between streamed lines (token pace)")
    args = parser.parse_args(argv)
    models = args.model or ["qwen3:1.7b"]
    caps = [c.strip() for c in args.capabilities.split(",") if c.strip()]
    server = FakeOllama(args.host, args.port, chunk_delay_s=args.chunk_delay)
    for name in models:
        server.add_model(name, capabilities=caps)
    for name in args.remote:
        server.add_remote(name, capabilities=caps)
    if args.script:
        for model, replies in _load_script(args.script, models[0]).items():
            server.script(model, replies)
    server.start()
    print(f"Fake Ollama listening on {server.url} with {', '.join(full_name(m) for m in models)}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
