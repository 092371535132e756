"""The typed events one assistant turn streams as (`Brain.respond` yields them, in this order).

`TextDelta` answer text (never the model's reasoning), `ThinkingDelta` how much it
reasoned, `ToolRequest` a tool the model wants run, and `Finished` once at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TextDelta:
    """A piece of the spoken answer."""

    text: str


@dataclass(frozen=True)
class ThinkingDelta:
    """The model reasoned this many characters (the text itself is never kept)."""

    chars: int


@dataclass(frozen=True)
class ToolRequest:
    """The model asks for a tool to run."""

    name: str
    # A dict normally; a str, list or None when the model sent something else (the registry rejects it).
    arguments: Any


@dataclass(frozen=True)
class Finished:
    """The answer is complete, with Ollama's reason and token count."""

    done_reason: str | None
    eval_count: int | None


BrainEvent = TextDelta | ThinkingDelta | ToolRequest | Finished
