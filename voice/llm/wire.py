"""Ollama's chat stream read leniently, so a tool call in any shape reaches Hark intact.

ollama 0.6.3 validates each streamed chat chunk with pydantic: a tool call whose
`arguments` is not a JSON object (a JSON string, a list, null: models and
proxies send all of these) fails validation and would abort the whole answer.
Instead of overriding the client's private `_request`, an httpx response hook,
passed through the public `ollama.Client(**httpx_kwargs)`, rewrites each
`/api/chat` line that carries `message.tool_calls` into the one shape the
client accepts, `{"function": {"name": NAME, "arguments": {RAW: VALUE}}}`:
NAME is the name when it was a string (else ""), VALUE the arguments read as
a dict when they can be (`coerce_arguments`), else exactly what was sent (or
the whole call when it was not an object).  `tool_requests` unwraps them.

Every other line passes through byte for byte, so an unreadable line or an
error line reaches the client, and its error, exactly as before.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from voice.llm.events import ToolRequest

if TYPE_CHECKING:
    import httpx

RAW = "hark_raw"  # the one key a rewritten call's arguments carry


def coerce_arguments(arguments: Any) -> Any:
    """Tool-call arguments as a dict when they can be read as one, else raw."""
    if isinstance(arguments, dict) or arguments is None:
        return arguments
    if isinstance(arguments, str):
        text = arguments.strip()
        if not text:
            return {}
        try:
            parsed = json.loads(text)
        except ValueError:
            return arguments
        return parsed if isinstance(parsed, dict) else arguments
    return arguments


def lenient_chat(response: httpx.Response) -> None:
    """An httpx response hook: read `/api/chat` tool calls leniently (see the module docstring)."""
    import httpx  # already loaded: the hook runs inside an httpx request (imported late for `hark --help`)

    encoded = response.headers.get("content-encoding", "identity").lower() not in ("", "identity")
    chat = response.request.url.path.endswith("/api/chat") and not encoded
    if chat and isinstance(response.stream, httpx.SyncByteStream):
        response.stream = _lenient_lines()(response.stream)


def tool_requests(tool_calls: Any) -> list[ToolRequest]:
    """The ToolRequests of one chunk's (rewritten) `message.tool_calls`."""
    out = []
    for call in tool_calls or ():
        arguments = call.function.arguments
        out.append(ToolRequest(call.function.name, arguments.get(RAW) if RAW in arguments else arguments))
    return out


@functools.cache
def _lenient_lines() -> Callable[[httpx.SyncByteStream], httpx.SyncByteStream]:
    """The body stream that rewrites lines (a class made on first use: httpx is imported late)."""
    import httpx

    class LenientLines(httpx.SyncByteStream):
        """The body, re-cut at newlines (each line is one chunk, sent on as soon as it is complete)."""

        def __init__(self, inner: httpx.SyncByteStream) -> None:
            self._inner = inner

        def __iter__(self) -> Iterator[bytes]:
            pending = b""
            for chunk in self._inner:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield _rewrite(line) + b"\n"
            if pending:
                yield _rewrite(pending)

        def close(self) -> None:
            self._inner.close()

    return LenientLines


def _rewrite(line: bytes) -> bytes:
    if b"tool_calls" not in line:
        return line
    try:
        part = json.loads(line)
    except ValueError:
        return line
    message = part.get("message") if isinstance(part, dict) else None
    if not isinstance(message, dict) or "tool_calls" not in message:
        return line
    message["tool_calls"] = _wrap(message["tool_calls"])
    return json.dumps(part, ensure_ascii=False).encode()


def _wrap(tool_calls: Any) -> list[dict[str, Any]] | None:
    if not isinstance(tool_calls, list):
        return [_call("", tool_calls)] if tool_calls else None
    out = []
    for call in tool_calls:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            out.append(_call("", call))
            continue
        name = fn.get("name")
        out.append(_call(name if isinstance(name, str) else "", coerce_arguments(fn.get("arguments"))))
    return out


def _call(name: str, value: Any) -> dict[str, Any]:
    return {"function": {"name": name, "arguments": {RAW: value}}}
