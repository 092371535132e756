"""The language-model stage: a conversation with a model on Ollama.

`Brain.respond` streams one assistant turn as small typed events: answer text
(never the model's reasoning), how much it reasoned, tool requests, and the
end.  Every failure becomes a `BrainError` whose message is short, speakable
and says how to fix it; no httpx or ollama exception escapes.

One job per module (this file only re-exports, so `from voice.llm import ...` is the API):

- errors.py: the `BrainError` family and the one translator of httpx/ollama failures.
- events.py: the event types a turn streams as.
- conversation.py: bounded memory, and the `<data>` envelope stored text travels in (`DATA_RULE`).
- tool_fallback.py: tools as schema-constrained JSON for models without tool calling.
- wire.py: the chat stream read leniently (odd tool-call shapes), through a public httpx hook.
- client.py: the `ollama` client and model administration (`check`, `list_models`, `pull`, `warm`).
- brain.py: `Brain.respond`, streaming, capability retries, the answer's bounds.
"""

from voice.llm.brain import Brain
from voice.llm.client import BrainStatus, OllamaModel
from voice.llm.conversation import DATA_RULE, Conversation, quote_data
from voice.llm.errors import (
    AnswerDeadline,
    BrainError,
    BrainTimeout,
    ModelNotFound,
    OllamaUnavailable,
    StreamBroken,
)
from voice.llm.events import BrainEvent, Finished, TextDelta, ThinkingDelta, ToolRequest
from voice.llm.tool_fallback import fallback_messages, parse_tool_choice, tool_choice_prompt, tool_choice_schema
from voice.llm.wire import coerce_arguments

__all__ = [
    "DATA_RULE",
    "AnswerDeadline",
    "Brain",
    "BrainError",
    "BrainEvent",
    "BrainStatus",
    "BrainTimeout",
    "Conversation",
    "Finished",
    "ModelNotFound",
    "OllamaModel",
    "OllamaUnavailable",
    "StreamBroken",
    "TextDelta",
    "ThinkingDelta",
    "ToolRequest",
    "coerce_arguments",
    "fallback_messages",
    "parse_tool_choice",
    "quote_data",
    "tool_choice_prompt",
    "tool_choice_schema",
]
