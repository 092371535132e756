"""Yes/no classification of a spoken answer to a confirmation question.

Deliberately conservative: only an explicit yes confirms. Any negation or
hedge wins over a yes in the same answer, so "yes... no, wait" cancels.
"""

from __future__ import annotations

import enum
import re


class Verdict(str, enum.Enum):
    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"
    SILENCE = "silence"


_YES = (
    "yes", "yeah", "yep", "yup", "yes please", "go ahead", "do it", "confirm", "confirmed",
    "sure", "okay", "ok", "affirmative", "please do", "correct", "that's right", "proceed",
    "absolutely", "of course", "right", "ya", "yea",
)
_NO = (
    "no", "nope", "nah", "cancel", "stop", "don't", "dont", "do not", "never", "abort",
    "negative", "not now", "wait", "hold on", "forget it", "never mind", "nevermind", "halt",
    "not", "wrong",
)
_HEDGE = ("maybe", "later", "perhaps", "not sure", "i don't know", "hmm", "um", "uh", "but", "what", "why", "which")
_FILLER = ("please", "thanks", "thank you", "hark", "and", "then", "now", "it", "that", "yes", "just")


def _norm(text: str) -> str:
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^a-z' ]+", " ", text)
    return " " + re.sub(r"\s+", " ", text).strip() + " "


def _has(text: str, phrases: tuple[str, ...]) -> bool:
    return any(f" {p} " in text for p in phrases)


def classify_answer(text: str | None) -> Verdict:
    if text is None:
        return Verdict.SILENCE
    t = _norm(text)
    if not t.strip():
        return Verdict.SILENCE
    if _has(t, _NO):
        return Verdict.NO
    if _has(t, _HEDGE):
        return Verdict.UNCLEAR
    if _has(t, _YES):
        return Verdict.YES
    return Verdict.UNCLEAR


def question(preview: str) -> str:
    """The confirmation question. It holds no yes-phrase, so Hark hearing itself never confirms."""
    return preview.rstrip(" .") + ". Should I do that?"


def reask(preview: str) -> str:
    """The one re-ask after an unclear answer: it names the two answers."""
    return "Sorry, I didn't catch that. Please say yes or no: " + preview.rstrip(" .?") + "?"
