"""What skills report while they run: event names and the sink they are sent to.

The gate announces each step of a call (the call, the question, the answer, the
result) through an `EventSink`; `voice.events.EventBus` is the one the voice
loop passes, and `voice/events.py` re-exports these names, so the `--json`
output and the tests see exactly the same strings.  Kept on the skills' side so
skills never import the voice pipeline (the arrow runs voice -> skills).
"""

from __future__ import annotations

from typing import Any, Protocol

TOOL_CALL = "tool_call"  # name, arguments, source
CONFIRM_REQUEST = "confirm_request"  # text
CONFIRM_ANSWER = "confirm_answer"  # text, verdict
CONFIRMED = "confirmed"  # name, answer
CANCELLED = "cancelled"  # name, reason, answer
ACTION_RESULT = "action_result"  # name, ok, text
ERROR = "error"  # message, stage


class EventSink(Protocol):
    """Anything with `emit(name, **fields)`: the voice loop's EventBus, or a list in a test."""

    def emit(self, name: str, /, **data: Any) -> Any:
        """Report one event; the return value is not used."""
        ...
