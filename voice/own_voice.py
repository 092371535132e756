"""Recognising Hark's own words when they come back through the microphone.

The echo canceller removes almost all of Hark's voice from what the microphone hears; this is the
second line: a transcript made mostly of a run of words Hark has just said is its own voice, and
is never acted on. One or two words are too little to tell ("yes" may be the user's answer).
"""

from __future__ import annotations

import difflib
import re

_WORD = re.compile(r"[\w']+")
MIN_WORDS = 3  # shorter transcripts are never taken for an echo
SHARE = 0.7  # this share of the transcript's words, in order, in what Hark said


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def echoes(heard: str, said: str) -> bool:
    """Whether `heard` (a transcript) is mostly a stretch of `said` (what Hark spoke)."""
    h, s = _words(heard), _words(said)
    if len(h) < MIN_WORDS or not s:
        return False
    matcher = difflib.SequenceMatcher(a=h, b=s, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return matched >= SHARE * len(h)
