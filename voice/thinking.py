"""Strip `<think>…</think>` reasoning out of a streamed answer.

Ollama puts a model's reasoning in `message.thinking` when it knows the model
thinks, but some models (deepseek-r1 on older templates, qwen3 on older
Ollama) write it inside `content` instead.  Reasoning must never be spoken, so
this filter splits streamed content into answer text and thinking text, however
the tags are cut across chunks.

Pure and stateful: one `ThinkFilter` per answer.

    f = ThinkFilter()
    for chunk in chunks:
        for kind, text in f.feed(chunk): ...   # kind is "text" or "thinking"
    for kind, text in f.flush(): ...
"""

from __future__ import annotations

from typing import Literal, Optional

OPEN = "<think>"
CLOSE = "</think>"

Kind = Literal["text", "thinking"]
Segment = tuple[Kind, str]


def _held_suffix(buf: str, *tags: str) -> int:
    """Length of the longest end of `buf` that could be the start of a tag."""
    best = 0
    for tag in tags:
        for n in range(min(len(tag) - 1, len(buf)), best, -1):
            if buf.endswith(tag[:n]):
                best = n
                break
    return best


class ThinkFilter:
    """Streaming splitter of answer text and `<think>` blocks.

    `starts_in_thinking`:
      False (default): text is the answer; `<think>…</think>` blocks anywhere
        are removed.  Text before a stray `</think>` has already been passed on.
      True: the model's prompt opened the block, so everything up to the first
        `</think>` is reasoning.
      None: undecided; text is held back until a tag shows which it is (or the
        answer ends).  Costs streaming, so only for models known to do this.
    """

    def __init__(self, starts_in_thinking: Optional[bool] = False) -> None:
        if starts_in_thinking is None:
            self._mode = "undecided"
        else:
            self._mode = "thinking" if starts_in_thinking else "text"
        self._buf = ""
        # Answers often start (and restart after a think block) with blank lines.
        self._strip_leading = True
        self.thinking_chars = 0

    def feed(self, chunk: str) -> list[Segment]:
        self._buf += chunk
        out: list[Segment] = []
        while self._step(out):
            pass
        return out

    def flush(self) -> list[Segment]:
        """End of the answer: whatever is held back is released as what it is."""
        out: list[Segment] = []
        buf, self._buf = self._buf, ""
        if self._mode == "thinking":
            self._emit(out, "thinking", buf)
        elif self._mode == "undecided" and buf.lstrip().startswith(OPEN):
            # An opening tag never closed: all of it was reasoning.
            self._emit(out, "thinking", buf.lstrip()[len(OPEN):])
        else:
            self._emit(out, "text", buf)
        return out

    # One transition of the state machine; True if it made progress and may run again.
    def _step(self, out: list[Segment]) -> bool:
        buf = self._buf
        if not buf:
            return False
        if self._mode == "thinking":
            end = buf.find(CLOSE)
            if end < 0:
                keep = _held_suffix(buf, CLOSE)
                self._emit(out, "thinking", buf[: len(buf) - keep])
                self._buf = buf[len(buf) - keep:]
                return False
            self._emit(out, "thinking", buf[:end])
            self._buf = buf[end + len(CLOSE):]
            self._mode = "text"
            self._strip_leading = True
            return True
        if self._mode == "text":
            at_open, at_close = buf.find(OPEN), buf.find(CLOSE)
            hits = [i for i in (at_open, at_close) if i >= 0]
            if not hits:
                keep = _held_suffix(buf, OPEN, CLOSE)
                self._emit(out, "text", buf[: len(buf) - keep])
                self._buf = buf[len(buf) - keep:]
                return False
            first = min(hits)
            self._emit(out, "text", buf[:first])
            if first == at_open:
                self._buf = buf[first + len(OPEN):]
                self._mode = "thinking"
            else:  # a stray closing tag: drop it, the answer goes on after it
                self._buf = buf[first + len(CLOSE):]
                self._strip_leading = True
            return True
        # undecided
        stripped = buf.lstrip()
        if stripped.startswith(OPEN):
            self._buf = stripped[len(OPEN):]
            self._mode = "thinking"
            return True
        if OPEN.startswith(stripped):  # blank, or a tag still arriving
            return False
        end = buf.find(CLOSE)
        if end >= 0:  # the prompt opened the block: all before the close was reasoning
            self._emit(out, "thinking", buf[:end])
            self._buf = buf[end + len(CLOSE):]
            self._mode = "text"
            self._strip_leading = True
            return True
        at_open = buf.find(OPEN)
        if at_open >= 0:  # answer text, then a block: the text was the answer
            self._emit(out, "text", buf[:at_open])
            self._buf = buf[at_open + len(OPEN):]
            self._mode = "thinking"
            return True
        return False

    def _emit(self, out: list[Segment], kind: Kind, text: str) -> None:
        if kind == "text" and self._strip_leading:
            text = text.lstrip()
            if text:
                self._strip_leading = False
        if not text:
            return
        if kind == "thinking":
            self.thinking_chars += len(text)
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + text)
        else:
            out.append((kind, text))
