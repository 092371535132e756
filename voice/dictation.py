"""Dictation as an editor: phrases (Whisper transcripts) in, text edits out. Pure: no I/O, no clock.

`Dictation.hear(phrase)` takes one utterance's transcript and returns a `Step` whose `edits`
(`TypeText`, `Delete`) turn what the window holds now into the new text, so a typing backend
(`voice.inject`) can apply them to a real window; `Dictation.text` is the text so far (`--print`).

The contract:
- Whisper's punctuation and capitalization are kept. Hark only adds what joining phrases needs:
  a space between phrases, none before punctuation (",", ".", ")") or after a line break, and a
  capital letter at the start of the text, of a line, or after a sentence end where Whisper gave none.
- Spoken commands, matched without regard to case or punctuation:
  "new line" and "new paragraph" (a whole phrase, or a clause of one: "Dear Ann, new line, thanks");
  "scratch that" removes the last phrase still in the text (repeat to remove more);
  "undo that" undoes the last change: a phrase typed, or a phrase scratched (it comes back);
  "stop dictation" (a whole phrase, or the end of one) ends dictation; later phrases do nothing;
  "start dictation" while dictating does nothing (it is not typed).
  Whisper's known mishearings of a command count as it ("And do that." is "undo that").
  Inside a sentence ("a new line of shoes") the words are text, not a command.
- A phrase with no words (Whisper's "[BLANK_AUDIO]", "(music)", "...") changes nothing.
- Lengths count Unicode code points of NFC text ("café" is 4), the unit one BackSpace deletes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

NEW_LINE, NEW_PARAGRAPH = "new line", "new paragraph"
SCRATCH, UNDO, STOP, START = "scratch that", "undo that", "stop dictation", "start dictation"
COMMANDS = (NEW_LINE, NEW_PARAGRAPH, SCRATCH, UNDO, STOP, START)

# What Whisper writes for a command when it mishears it: "Undo that." comes back from tiny.en as "And do that."
# (Piper's voice, measured); "newline" is one word in some transcripts.
_ALIASES = {"newline": NEW_LINE, "and do that": UNDO, "undo": UNDO}
_BREAKS = {NEW_LINE: "\n", NEW_PARAGRAPH: "\n\n"}
_SENTENCE_END = ".!?…"
_CLOSERS = "\"')]}»”’"  # may follow a sentence end: `He said "go."` ends a sentence
_NO_SPACE_BEFORE = ",.;:!?…)]}%»”’"
_NO_SPACE_AFTER = "([{«“‘\n"
_CLAUSE_PUNCT = ".,;:!?…"
_PAUSE_PUNCT = ",;:"  # Whisper's mark for the pause before a command: dropped at a line break
# A break command as a clause of its own: at the start or after clause punctuation, and followed by
# punctuation or the end. "new line" inside a clause is ordinary text.
_BREAK_RE = re.compile(
    rf"(?:^|(?<=[{_CLAUSE_PUNCT}]))\s*\b(new[\s-]?line|newline|new[\s-]?paragraph)\b\s*(?:[{_CLAUSE_PUNCT}]+|$)",
    re.IGNORECASE,
)
_TRAILING_STOP_RE = re.compile(rf"(?:^|(?<=[{_CLAUSE_PUNCT}]))\s*\bstop\s+dictation\b[{_CLAUSE_PUNCT}]*\s*$", re.I)
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NOISE_RE = re.compile(r"^\s*[\[(*♪].*[\])*♪]\s*$|^[\W_]*$")


@dataclass(frozen=True)
class TypeText:
    """Type `text` at the cursor (a line break in it is the Return key)."""

    text: str


@dataclass(frozen=True)
class Delete:
    """Delete the `count` characters before the cursor (BackSpace `count` times)."""

    count: int


Edit = TypeText | Delete


@dataclass(frozen=True)
class Step:
    """What one phrase did: the commands heard in it (in order) and the edits that bring the window up to date."""

    heard: str
    commands: tuple[str, ...] = ()
    edits: tuple[Edit, ...] = ()
    stopped: bool = False
    ignored: bool = False  # no words, or dictation had already stopped

    @property
    def typed(self) -> str:
        """All the text this step types (for logs and feedback)."""
        return "".join(e.text for e in self.edits if isinstance(e, TypeText))


def apply_edits(text: str, edits: tuple[Edit, ...] | list[Edit]) -> str:
    """`text` after `edits`, as a window applying them would hold it."""
    for e in edits:
        if isinstance(e, TypeText):
            text += e.text
        else:
            text = text[: max(0, len(text) - e.count)]
    return text


def command_of(phrase: str) -> str | None:
    """The command `phrase` is as a whole ("Scratch that." -> "scratch that"), or None."""
    key = " ".join(re.sub(r"[\W_]+", " ", phrase.lower()).split())
    key = _ALIASES.get(key, key)
    return key if key in COMMANDS else None


def _sentence_ended(before: str) -> bool:
    return before.rstrip(_CLOSERS).endswith(tuple(_SENTENCE_END))


def _capitalize(phrase: str) -> str:
    """Upper-case the first letter when it is the phrase's first word character (after quotes/brackets)."""
    for i, ch in enumerate(phrase):
        if ch.isalpha():
            return phrase[:i] + ch.upper() + phrase[i + 1 :] if ch.islower() else phrase
        if ch.isalnum() or ch not in "\"'([{«“‘¿¡":
            return phrase
    return phrase


def join(before: str, phrase: str) -> str:
    """What to type after `before` so `phrase` reads right: a separating space, a capital where one is due."""
    if not phrase:
        return ""
    if before == "" or before.endswith("\n") or _sentence_ended(before):
        phrase = _capitalize(phrase)
    if before == "" or before[-1].isspace() or before[-1] in _NO_SPACE_AFTER or phrase[0] in _NO_SPACE_BEFORE:
        return phrase
    return " " + phrase


class Dictation:
    """The text being dictated, and how to undo what was done to it."""

    def __init__(self) -> None:
        self._text = ""
        self._phrases: list[str] = []  # each phrase's typed chunk, in the order they stand in the text
        self._undo: list[tuple[str, str]] = []  # ("typed" | "scratched", chunk)
        self.stopped = False

    @property
    def text(self) -> str:
        """The text so far, edit commands applied."""
        return self._text

    def hear(self, phrase: str) -> Step:
        """Take one phrase: its text is typed, or its command is carried out."""
        # One line of plain text: a transcript never types a control key (tab, escape) into the window.
        phrase = " ".join(_CONTROL_RE.sub(" ", unicodedata.normalize("NFC", phrase)).split())
        if self.stopped or _NOISE_RE.match(phrase):
            return Step(phrase, ignored=True)
        command = command_of(phrase)
        if command == SCRATCH:
            return Step(phrase, (command,), self._scratch())
        if command == UNDO:
            return Step(phrase, (command,), self._undo_last())
        if command == START:  # already dictating: the words are not text
            return Step(phrase, (command,))
        if command == STOP:
            self.stopped = True
            return Step(phrase, (command,), stopped=True)
        stop = _TRAILING_STOP_RE.search(phrase)
        commands, chunk = self._compose(phrase[: stop.start()] if stop else phrase)
        edits: tuple[Edit, ...] = ()
        if chunk:
            self._text += chunk
            self._phrases.append(chunk)
            self._undo.append(("typed", chunk))
            edits = (TypeText(chunk),)
        if stop:
            self.stopped = True
            commands += (STOP,)
        return Step(phrase, commands, edits, stopped=self.stopped)

    def _compose(self, phrase: str) -> tuple[tuple[str, ...], str]:
        """The commands in `phrase` and the chunk it types after the text so far."""
        commands: list[str] = []
        chunk = ""
        pos = 0
        for m in _BREAK_RE.finditer(phrase):
            command = command_of(m.group(1)) or NEW_LINE
            text = phrase[pos : m.start()].strip().rstrip(_PAUSE_PUNCT).rstrip()
            chunk += join(self._text + chunk, text) + _BREAKS[command]
            commands.append(command)
            pos = m.end()
        rest = phrase[pos:].strip()
        if commands:  # after a break: no pause punctuation left over at the start of the line
            rest = rest.lstrip(_PAUSE_PUNCT).lstrip()
        chunk += join(self._text + chunk, rest)
        return tuple(commands), chunk

    def _remove_last(self) -> tuple[str, tuple[Edit, ...]]:
        chunk = self._phrases.pop()
        self._text = self._text[: len(self._text) - len(chunk)]
        return chunk, (Delete(len(chunk)),)

    def _scratch(self) -> tuple[Edit, ...]:
        if not self._phrases:
            return ()
        chunk, edits = self._remove_last()
        self._undo.append(("scratched", chunk))
        return edits

    def _undo_last(self) -> tuple[Edit, ...]:
        if not self._undo:
            return ()
        kind, chunk = self._undo.pop()
        if kind == "typed":
            return self._remove_last()[1]
        self._text += chunk
        self._phrases.append(chunk)
        return (TypeText(chunk),)
