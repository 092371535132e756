"""Tools for models without native tool calling: JSON constrained by a schema.

Such a model is sent `tool_choice_schema` as Ollama's `format=`, a system note
listing the tools (`tool_choice_prompt`) and a history rewritten without tool
roles (`fallback_messages`); its one JSON answer is read back into the same
events a tool-calling model streams (`parse_tool_choice`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from voice.llm.errors import BrainError
from voice.llm.events import BrainEvent, TextDelta, ToolRequest


def tool_choice_schema(tool_names: list[str]) -> dict[str, Any]:
    """The `format=` schema for models without native tool calling."""
    return {
        "type": "object",
        "properties": {
            "tool": {"type": "string", "enum": [*tool_names, "none"]},
            "arguments": {"type": "object"},
            "reply": {"type": "string"},
        },
        "required": ["tool", "arguments", "reply"],
    }


def tool_name(tool: dict[str, Any]) -> str:
    """The name of a tool in Ollama's tool format."""
    return str((tool.get("function") or {}).get("name", ""))


def tool_choice_prompt(tools: list[dict[str, Any]]) -> str:
    """The system note that explains the JSON answer and lists the tools."""
    lines = [
        "You can use the tools below. Answer with exactly one JSON object: "
        '{"tool": <tool name or "none">, "arguments": {<parameter>: <value>}, "reply": <text>}.',
        'To use a tool, name it and give its arguments; leave "reply" empty. '
        'Otherwise set "tool" to "none", "arguments" to {} and put your spoken answer in "reply".',
        "Tools:",
    ]
    for tool in tools:
        fn = tool.get("function") or {}
        params = (fn.get("parameters") or {}).get("properties") or {}
        required = (fn.get("parameters") or {}).get("required") or []
        lines.append(f"- {fn.get('name', '')}: {fn.get('description', '')}".rstrip())
        if params:
            lines.append(f"  parameters: {json.dumps(params, ensure_ascii=False)}; required: {json.dumps(required)}")
    return "\n".join(lines)


def fallback_messages(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rewrite history for a model that knows no tool roles.

    Its own calls become the JSON it would have written, and tool results become user-side notes.
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        if m["role"] == "tool":
            out.append(
                {"role": "user", "content": f"(Result of tool {m.get('tool_name', '')}: {m.get('content', '')})"}
            )
        elif m["role"] == "assistant" and m.get("tool_calls"):
            for call in m["tool_calls"]:
                fn = call.get("function") or {}
                choice = {
                    "tool": fn.get("name", ""),
                    "arguments": fn.get("arguments") or {},
                    "reply": m.get("content") or "",
                }
                out.append({"role": "assistant", "content": json.dumps(choice, ensure_ascii=False)})
        else:
            out.append(dict(m))
    tool_note = {"role": "system", "content": tool_choice_prompt(tools)}
    at = 1 if out and out[0]["role"] == "system" else 0
    out.insert(at, tool_note)
    return out


def _looks_like_text(s: str) -> bool:
    return bool(s) and s[0] not in "{[" and re.search(r"[^\W\d_]", s) is not None


def parse_tool_choice(raw: str) -> list[BrainEvent]:
    """Events for one JSON-mode answer: a ToolRequest, or the reply as text."""
    s = raw.strip()
    unreadable = BrainError(
        "The model's answer was not readable; try again, or use a model with tool support such as qwen3."
    )
    try:
        obj = json.loads(s)
    except ValueError:
        if _looks_like_text(s):  # the model ignored the format and just talked
            return [TextDelta(s)]
        raise unreadable from None
    if isinstance(obj, str):
        return [TextDelta(obj.strip())] if obj.strip() else []
    if not isinstance(obj, dict):
        raise unreadable
    tool = obj.get("tool")
    if isinstance(tool, str) and tool.strip() and tool.strip().lower() != "none":
        # Any reply next to a tool call is dropped: it would be spoken before the result exists.
        return [ToolRequest(tool.strip(), obj.get("arguments"))]
    reply = obj.get("reply")
    if isinstance(reply, str):
        return [TextDelta(reply.strip())] if reply.strip() else []
    raise unreadable
