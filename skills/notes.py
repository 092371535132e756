"""Dictated notes, appended to a dated Markdown file.

    ## 2026-11-23

    - 14:05 the plumber comes on Friday

The file is plain Markdown so the user can read and edit it anywhere; Hark
only ever appends, and syncs each note to disk before saying it is saved.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from skills.registry import SkillContext, SkillError, SkillResult, skill

MAX_NOTE_CHARS = 2000
_HEADING = re.compile(r"^## (\d{4}-\d{2}-\d{2})\s*$", re.MULTILINE)


def notes_path(ctx: SkillContext) -> Path:
    """The notes file: `skills.notes_file`, else notes.md in the data folder."""
    configured = ctx.config.skills.notes_file
    return Path(configured).expanduser() if configured else ctx.data_dir / "notes.md"


def _clean(text: str) -> str:
    # One note is one Markdown list line: newlines from dictation become spaces.
    text = re.sub(r"\s+", " ", text or "").strip()
    if not text:
        raise SkillError("The note was empty. Say 'note that' and then what to write down.")
    if len(text) > MAX_NOTE_CHARS:
        raise SkillError(f"That note is too long ({len(text)} characters); keep it under {MAX_NOTE_CHARS}.")
    return text


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as e:
        raise SkillError(f"I can't read the notes file {path}: {e}.") from e


def append_note(path: Path, text: str, when: datetime) -> str:
    """Append one note line (and the day's heading if it is the first today); returns the line."""
    existing = _read(path)
    day = when.strftime("%Y-%m-%d")
    headings = _HEADING.findall(existing)
    chunk = ""
    if existing and not existing.endswith("\n"):
        chunk += "\n"
    if not headings or headings[-1] != day:
        chunk += ("\n" if existing.strip() else "") + f"## {day}\n\n"
    line = f"- {when.strftime('%H:%M')} {text}"
    chunk += line + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise SkillError(f"I couldn't save the note to {path}: {e.strerror or e}.") from e
    return line


def _preview_note(ctx: SkillContext, text: str) -> str:
    return f"I'll write down: '{' '.join((text or '').split()).rstrip(' .')}'."


@skill(
    consequential=True,
    preview=_preview_note,
    sentences=[
        "note that {text}",
        "note to self [that] {text}",
        "(take|make) a note [that|saying|of] {text}",
        "write down [that] {text}",
        "remember that {text}",
    ],
)
def take_note(ctx: SkillContext, text: str) -> SkillResult:
    """Write a dictated note into the user's notes file, with the date and time.

    Args:
        text: The note, exactly as the user said it.
    """
    path = notes_path(ctx)
    line = append_note(path, _clean(text), ctx.now())
    return SkillResult("Noted.", {"file": str(path), "line": line})


@skill(sentences=["(read|what are) [me] my notes [from today|for today]", "what did I note today"])
def read_notes(ctx: SkillContext) -> SkillResult:
    """Read out the notes taken today."""
    path = notes_path(ctx)
    day = ctx.now().strftime("%Y-%m-%d")
    text = _read(path)
    sections = {m.group(1): m.end() for m in _HEADING.finditer(text)}
    if day not in sections:
        return SkillResult("You have no notes today.", [])
    body = text[sections[day] :]
    nxt = _HEADING.search(body)
    lines = [ln[2:].strip() for ln in body[: nxt.start() if nxt else None].splitlines() if ln.startswith("- ")]
    if not lines:
        return SkillResult("You have no notes today.", [])
    # Drop the "14:05" stamps when speaking (they are for the file) and end each note once.
    spoken = [re.sub(r"^\d{2}:\d{2} ", "", ln).rstrip(" .!?") for ln in lines]
    noun = "note" if len(lines) == 1 else "notes"
    return SkillResult(f"You have {len(lines)} {noun} today: " + ". ".join(spoken) + ".", lines)
