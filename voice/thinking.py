"""Strip `<think>…</think>` reasoning out of a streamed answer.

Ollama puts a model's reasoning in `message.thinking` when it knows the model
thinks, but some models (deepseek-r1 on older templates, qwen3 on older
Ollama) write it inside `content` instead.  Reasoning must never be spoken, so
this filter splits streamed content into answer text and thinking text, however
the tags are cut across chunks.

Pure and stateful: one `ThinkFilter` per answer.  This module is the one home
of think-stripping: `strip_thinking` does the same for a whole string.
Both `<think>` and `<thinking>` tags are recognised, in any case.

    f = ThinkFilter()
    for chunk in chunks:
        for kind, text in f.feed(chunk): ...   # kind is "text" or "thinking"
    for kind, text in f.flush(): ...
"""

from __future__ import annotations

import re
from typing import Literal

OPEN = "<think>"
CLOSE = "</think>"
_OPEN_TAGS = ("<think>", "<thinking>")
_CLOSE_TAGS = ("</think>", "</thinking>")
_OPEN_RE = re.compile(r"<think(?:ing)?>", re.I)
_CLOSE_RE = re.compile(r"</think(?:ing)?>", re.I)

Kind = Literal["text", "thinking"]
Segment = tuple[Kind, str]


def _held_suffix(buf: str, *tags: str) -> int:
    """Length of the longest end of `buf` that could be the start of a tag."""
    best = 0
    low = buf.lower()
    for tag in tags:
        for n in range(min(len(tag) - 1, len(low)), best, -1):
            if low.endswith(tag[:n]):
                best = n
                break
    return best


def _find(pattern: re.Pattern[str], buf: str) -> tuple[int, int]:
    """(start, end) of the first tag, or (-1, -1)."""
    m = pattern.search(buf)
    return (m.start(), m.end()) if m else (-1, -1)


def strip_thinking(text: str) -> str:
    """A whole answer without its reasoning.

    Blocks are removed wherever they are; an opening tag never closed hides the
    rest; a closing tag with no opening one means everything before it was
    reasoning (the prompt opened the block).
    """
    f = ThinkFilter(None)
    segments = f.feed(text) + f.flush()
    return "".join(t for kind, t in segments if kind == "text")


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

    def __init__(self, starts_in_thinking: bool | None = False) -> None:
        if starts_in_thinking is None:
            self._mode = "undecided"
        else:
            self._mode = "thinking" if starts_in_thinking else "text"
        self._buf = ""
        # Answers often start (and restart after a think block) with blank lines.
        self._strip_leading = True
        self.thinking_chars = 0

    def feed(self, chunk: str) -> list[Segment]:
        """Add a streamed chunk; return the answer and thinking text it completes (tags held back)."""
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
        elif self._mode == "undecided" and _OPEN_RE.match(buf.lstrip()):
            # An opening tag never closed: all of it was reasoning.
            stripped = buf.lstrip()
            self._emit(out, "thinking", _OPEN_RE.sub("", stripped, count=1))
        else:
            self._emit(out, "text", buf)
        return out

    # One transition of the state machine; True if it made progress and may run again.
    def _step(self, out: list[Segment]) -> bool:
        buf = self._buf
        if not buf:
            return False
        if self._mode == "thinking":
            end, after = _find(_CLOSE_RE, buf)
            if end < 0:
                keep = _held_suffix(buf, *_CLOSE_TAGS)
                self._emit(out, "thinking", buf[: len(buf) - keep])
                self._buf = buf[len(buf) - keep :]
                return False
            self._emit(out, "thinking", buf[:end])
            self._buf = buf[after:]
            self._mode = "text"
            self._strip_leading = True
            return True
        if self._mode == "text":
            (at_open, open_end), (at_close, close_end) = _find(_OPEN_RE, buf), _find(_CLOSE_RE, buf)
            hits = [i for i in (at_open, at_close) if i >= 0]
            if not hits:
                keep = _held_suffix(buf, *_OPEN_TAGS, *_CLOSE_TAGS)
                self._emit(out, "text", buf[: len(buf) - keep])
                self._buf = buf[len(buf) - keep :]
                return False
            first = min(hits)
            self._emit(out, "text", buf[:first])
            if first == at_open:
                self._buf = buf[open_end:]
                self._mode = "thinking"
            else:  # a stray closing tag: drop it, the answer goes on after it
                self._buf = buf[close_end:]
                self._strip_leading = True
            return True
        # undecided
        stripped = buf.lstrip()
        m = _OPEN_RE.match(stripped)
        if m:
            self._buf = stripped[m.end() :]
            self._mode = "thinking"
            return True
        if any(tag.startswith(stripped.lower()) for tag in _OPEN_TAGS):  # blank, or a tag still arriving
            return False
        end, after = _find(_CLOSE_RE, buf)
        if end >= 0:  # the prompt opened the block: all before the close was reasoning
            self._emit(out, "thinking", buf[:end])
            self._buf = buf[after:]
            self._mode = "text"
            self._strip_leading = True
            return True
        at_open, open_end = _find(_OPEN_RE, buf)
        if at_open >= 0:  # answer text, then a block: the text was the answer
            self._emit(out, "text", buf[:at_open])
            self._buf = buf[open_end:]
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
