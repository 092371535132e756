"""Answering: `Brain.respond` streams one assistant turn from the model as typed events.

Events (voice/llm/events.py): answer text (never the model's reasoning, which
the `<think>` filter or Ollama itself separates), how much it reasoned, tool
requests, and `Finished`.  With tools, a model that has native tool calling
gets them as tools; one without gets the JSON-schema fallback
(voice/llm/tool_fallback.py).  When Ollama refuses a capability its
/api/show promised (old servers), the turn is asked again once without it.
An answer is bounded: `num_predict` tokens and `answer_deadline_s` overall.
Every failure is a `BrainError` with `.partial` (voice/llm/errors.py).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Generator, Iterator, Sequence
from typing import Any

from voice.llm.client import OllamaModel, keep_alive
from voice.llm.conversation import Conversation
from voice.llm.errors import UNREADABLE, AnswerDeadline, BrainError, StreamBroken, refusal
from voice.llm.events import BrainEvent, Finished, TextDelta, ThinkingDelta
from voice.llm.tool_fallback import fallback_messages, parse_tool_choice, tool_choice_schema, tool_name
from voice.llm.wire import tool_requests
from voice.thinking import ThinkFilter

log = logging.getLogger("hark.llm")


def think_start(caps: frozenset[str], template: str) -> bool | None:
    """How the <think> filter should start for this model (see ThinkFilter)."""
    if "thinking" in caps:
        return False  # Ollama separates the reasoning itself
    tail = re.sub(r"\{\{[^}]*\}\}", "", template).rstrip()
    if tail.endswith("<think>"):
        return True  # the prompt opens the block; the answer starts inside it
    return None if "<think>" in template else False


class Brain(OllamaModel):
    """One model on one Ollama server, answering. Nothing is loaded or contacted until used."""

    def respond(self, conversation: Conversation, tools: list[dict[str, Any]]) -> Iterator[BrainEvent]:
        """Stream one assistant turn. Closing the iterator early closes the connection."""
        caps, template = self._show()
        start = think_start(caps, template)
        deadline = time.monotonic() + self.cfg.answer_deadline_s
        use_think = "thinking" in caps and self.cfg.think is not None
        native_tools = bool(tools) and "tools" in caps
        for _ in range(3):
            request: dict[str, Any] = {
                "model": self.model,
                "stream": True,
                "keep_alive": keep_alive(self.cfg.keep_alive),
                "options": {"temperature": self.cfg.temperature, "num_predict": self.cfg.num_predict},
            }
            messages = conversation.messages()
            if use_think:
                request["think"] = self.cfg.think
            if tools and native_tools:
                request["tools"] = tools
            elif tools:
                request["format"] = tool_choice_schema([tool_name(t) for t in tools])
                messages = fallback_messages(messages, tools)
            request["messages"] = messages
            refused = yield from self._stream(
                request, start, json_mode=bool(tools) and not native_tools, deadline=deadline
            )
            if refused is None:
                return
            # Capabilities were wrong or missing (old Ollama): drop what it refused and ask again.
            if refused == "tools":
                native_tools = False
            else:
                use_think = False
            caps = caps - {refused}
            self._shown[self.model] = (caps, template)  # so later turns ask the right way at once
            log.info("%s does not support %s; asking again without it", self.model, refused)
        raise BrainError(f"Ollama refused every way of asking {self.model}; try another model.")

    def _stream(
        self, request: dict[str, Any], think_from: bool | None, json_mode: bool, deadline: float | None = None
    ) -> Generator[BrainEvent, None, str | None]:
        """Stream one request; return what Ollama refused before any answer ("tools"/"thinking"), else None."""
        think = ThinkFilter(think_from)
        said: list[str] = []  # answer text so far: the partial answer if the stream breaks
        finished: Any = None
        stream: Any = None

        def partial() -> str:
            return "" if json_mode else "".join(said)

        def text_events(segments: Sequence[tuple[str, str]]) -> Iterator[BrainEvent]:
            for kind, text in segments:
                if kind == "thinking":
                    yield ThinkingDelta(len(text))
                else:
                    said.append(text)
                    if not json_mode:
                        yield TextDelta(text)

        try:
            stream = self._client.chat(**request)
            for part in stream:
                if deadline is not None and time.monotonic() > deadline and not part.done:
                    # The per-chunk timeout never fires on a steady trickle: this bounds the whole answer.
                    limit = self.cfg.answer_deadline_s
                    raise AnswerDeadline(
                        f"The answer took longer than {limit:g} second{'' if limit == 1 else 's'}, so I stopped it; "
                        "ask for something shorter, or raise llm.answer_deadline_s.",
                        partial=partial(),
                    )
                message = part.message
                if message.thinking:
                    yield ThinkingDelta(len(message.thinking))
                if message.content:
                    yield from text_events(think.feed(message.content))
                yield from tool_requests(message.tool_calls)
                if part.done:
                    finished = part
            yield from text_events(think.flush())
        except Exception as e:
            refused = refusal(e)
            if refused and not said and self._may_drop(refused, request):
                return refused
            try:
                err = self._translate(e, partial=partial())
            except Exception:
                # Anything else while reading the stream (a line like `[1, 2]`) is unreadable input, not a crash.
                log.exception("unreadable answer from Ollama")
                err = StreamBroken(UNREADABLE, partial=partial())
            raise err from e
        finally:
            if stream is not None:
                stream.close()
        if finished is None:
            raise StreamBroken(
                "Ollama stopped in the middle of the answer; check that it is still running and try again.",
                partial=partial(),
            )
        if json_mode:
            yield from parse_tool_choice("".join(said))
        yield Finished(finished.done_reason, finished.eval_count)
        return None

    @staticmethod
    def _may_drop(refused: str, request: dict[str, Any]) -> bool:
        """Whether asking again without the refused capability changes anything (it was in the request)."""
        return (refused == "tools" and "tools" in request) or (refused == "thinking" and "think" in request)
