"""Yes/no classification of a spoken answer to a confirmation question.

Deliberately conservative: only an answer that *is* a yes confirms, not one
that merely contains a yes-word.  The rule, applied to the words of the
answer (lower-cased, punctuation dropped, whole words only):

1. Nothing said (None, empty, only punctuation) -> SILENCE.
2. Any negation anywhere -> NO, even next to a yes: "yes... no, wait",
   "Okay, that's not what I asked", "sure, why not" all cancel.
3. A question mark -> UNCLEAR: "Yes?" or "Go ahead?" asks, it does not
   consent (and Hark's own question, heard back, ends in one).
4. YES only when the whole answer is made of affirmation phrases ("yes",
   "yeah, do it", "sure", "go ahead", "confirm", "that's right", ...)
   plus fillers and politeness ("uh", "um", "please", "okay then", "hark",
   "thanks", "well"), with at least one affirmation.
5. Anything else -> UNCLEAR (the gate re-asks once, naming the two answers).

Chosen where the issue was silent:
- A yes followed by more words is not a yes: "I'm sure you misheard me",
  "Turn right at the light", "Remind me to confirm the dentist appointment"
  and also "Yes, go ahead and delete them" are UNCLEAR.  Accepting words that
  "repeat the action" would need to understand the action; a re-ask costs a
  second, a wrong yes can cost the user's data.
- "Okay" and "alright" alone are acknowledgements, not consent: they are
  fillers ("okay, do it" confirms; "Okay." alone is UNCLEAR).  "Right" is
  neither ("Yeah, right." is sarcasm; "Turn right" a direction): UNCLEAR.
- Hedges ("maybe", "I guess", "hmm", "probably") are neither affirmation nor
  filler, so they always leave an answer UNCLEAR ("yes, maybe").
- "do that" is not an affirmation, because the question itself ends in
  "Should I do that?" and a fragment of Hark's voice must never confirm.

Korean answers follow the same rule ("네", "네, 해주세요" confirm; "아니요",
"안 돼" cancel), since Korean commands reach the gate through the fast path.

`question()` and `reask()` build what Hark says; neither is ever classified
YES (tests check this over every preview the skills produce).
"""

from __future__ import annotations

import enum
import functools
import re


class Verdict(str, enum.Enum):
    """What an answer means to the gate: only YES lets the action run."""

    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"
    SILENCE = "silence"


# An answer is YES only if these (and fillers) cover every word of it.
_AFFIRM = (
    "yes",
    "yeah",
    "yep",
    "yup",
    "yea",
    "yah",
    "ya",
    "yes yes",
    "yes sir",
    "sure",
    "sure thing",
    "i'm sure",
    "i am sure",
    "for sure",
    "go ahead",
    "go on",
    "go for it",
    "do it",
    "please do",
    "let's do it",
    "lets do it",
    "proceed",
    "confirm",
    "confirmed",
    "i confirm",
    "correct",
    "that's correct",
    "thats correct",
    "that is correct",
    "that's right",
    "thats right",
    "that is right",
    "absolutely",
    "definitely",
    "certainly",
    "of course",
    "affirmative",
    # Korean (the intents fast path understands Korean commands, so their questions get Korean answers).
    "네",
    "예",
    "응",
    "그래",
    "좋아",
    "맞아",
    "해",
    "해줘",
    "해주세요",
    "진행해",
    "진행해줘",
    "진행해주세요",
    "그렇게 해",
    "그렇게 해줘",
    "그렇게 해주세요",
    "부탁해",
    "부탁해요",
    "확인",
)
# Dropped before judging: sounds, politeness, the wake word, discourse markers.
_FILLER = (
    "uh",
    "um",
    "umm",
    "uhm",
    "er",
    "erm",
    "ah",
    "oh",
    "well",
    "so",
    "please",
    "thanks",
    "thank you",
    "hark",
    "hey",
    "hey hark",
    "okay",
    "ok",
    "okay then",
    "ok then",
    "alright",
    "all right",
    "then",
    "now",
    "just",
    "and",
    "음",
    "어",
    "아",
    "저기",
    "그럼",
)
# Any of these anywhere means NO. Contractions ending in n't are caught separately.
_NEGATION = (
    "no",
    "nope",
    "nah",
    "not",
    "never",
    "cancel",
    "stop",
    "abort",
    "halt",
    "negative",
    "wait",
    "hold on",
    "hang on",
    "forget it",
    "never mind",
    "nevermind",
    "wrong",
    "incorrect",
    "dont",
    "cant",
    "wont",
    "cannot",
    "don't",
    "do not",
    "아니",
    "아니요",
    "아니오",
    "아뇨",
    "싫어",
    "싫어요",
    "취소",
    "취소해",
    "하지마",
    "하지 마",
    "안",
    "안돼",
    "안 돼",
    "잠깐",
    "잠깐만",
    "멈춰",
    "그만",
)

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")  # letters of any script: Korean answers too


def _words(text: str) -> list[str]:
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return [w.strip("'") for w in _WORD.findall(text) if w.strip("'")]


def _phrases(items: tuple[str, ...]) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(p.split()) for p in items)


_AFFIRM_P = _phrases(_AFFIRM)
_FILLER_P = _phrases(_FILLER)
_NEGATION_P = _phrases(_NEGATION)
_LONGEST = max(len(p) for p in _AFFIRM_P | _FILLER_P | _NEGATION_P)


def _contains(words: tuple[str, ...], phrases: frozenset[tuple[str, ...]]) -> bool:
    return any(words[i : i + n] in phrases for n in range(1, _LONGEST + 1) for i in range(len(words) - n + 1))


@functools.lru_cache(maxsize=256)
def _only_affirmation(words: tuple[str, ...], i: int = 0, affirmed: bool = False) -> bool:
    """True when words[i:] splits wholly into affirmation and filler phrases (one affirmation at least)."""
    if i == len(words):
        return affirmed
    for n in range(1, min(_LONGEST, len(words) - i) + 1):
        piece = words[i : i + n]
        if piece in _AFFIRM_P and _only_affirmation(words, i + n, True):
            return True
        if piece in _FILLER_P and _only_affirmation(words, i + n, affirmed):
            return True
    return False


def classify_answer(text: str | None) -> Verdict:
    """Judge one answer (a transcript or a typed line) to a confirmation question."""
    if text is None:
        return Verdict.SILENCE
    words = tuple(_words(text))
    if not words:
        return Verdict.SILENCE
    if _contains(words, _NEGATION_P) or any(w.endswith("n't") for w in words):
        return Verdict.NO
    if "?" in text:
        return Verdict.UNCLEAR
    if _only_affirmation(words):
        return Verdict.YES
    return Verdict.UNCLEAR


def question(preview: str) -> str:
    """The confirmation question. It holds no yes-phrase, so Hark hearing itself never confirms."""
    return preview.rstrip(" .") + ". Should I do that?"


def reask(preview: str) -> str:
    """The one re-ask after an unclear answer: it names the two answers."""
    return "Sorry, I didn't catch that. Please say yes or no: " + preview.rstrip(" .?") + "?"
