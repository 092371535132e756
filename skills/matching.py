"""One rule for "which of these did the user mean?" when the words don't match exactly.

Speech-to-text slips ("piza timer", "by oat milk", "back-ups") should still find
the one thing meant, but only when one candidate is *clearly* closest: a guess
between two similar names would act on the wrong one.  `best_match` scores
every candidate, keeps the best when it reaches `threshold`, and reports it as
the winner only when no other candidate comes within `margin` of it; otherwise
the close contenders come back so the caller can ask "which one?".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Generic, TypeVar

T = TypeVar("T")

# Below this similarity a name is not a slip of the one meant (0..1, difflib's ratio).
THRESHOLD = 0.75
# The winner must beat the runner-up by more than this to be clear.
MARGIN = 0.1


def similarity(a: str, b: str) -> float:
    """How alike two strings are, 0..1 (difflib's ratio: twice the matching characters over the total)."""
    return SequenceMatcher(None, a, b).ratio()


def word_similarity(query: str, target: str) -> float:
    """How well spoken words fit a longer text (a task), 0..1: whole-string or word-by-word similarity.

    Word by word, each spoken word counts with its best fit in the text ("by oat milk" fits
    "buy oat milk"); that only counts when the query is a fair share of the text.
    """
    whole = similarity(query, target)
    q_words, t_words = query.split(), target.split()
    if not q_words or not t_words:
        return whole
    per_word = sum(max(similarity(q, t) for t in t_words) for q in q_words) / len(q_words)
    # Word-by-word only counts when the query is a fair share of the task, so "the" never matches everything.
    coverage = min(1.0, len(query) / max(len(target), 1) * 2)
    return max(whole, per_word * coverage)


@dataclass(frozen=True)
class Match(Generic[T]):
    """The outcome: no contender (nothing close), one (the clear winner) or several (too close to call)."""

    contenders: tuple[T, ...] = ()

    @property
    def winner(self) -> T | None:
        """The one candidate meant, or None (nothing close, or several equally close)."""
        return self.contenders[0] if len(self.contenders) == 1 else None

    @property
    def ambiguous(self) -> bool:
        """Several candidates are close enough that choosing one would be a guess."""
        return len(self.contenders) > 1


def best_match(
    query: str,
    candidates: Iterable[T],
    key: Callable[[T], str],
    *,
    threshold: float = THRESHOLD,
    margin: float = MARGIN,
    score: Callable[[str, str], float] = similarity,
) -> Match[T]:
    """The candidate `query` most likely means, by `score(query, key(candidate))`.

    Args:
        query: What was heard, already normalized the way `key` normalizes the candidates.
        candidates: What it may mean (timers, tasks, command names).
        key: The text of a candidate to compare with `query`.
        threshold: The lowest score the best candidate may have; below it nothing matches.
        margin: Candidates within this of the best score (inclusive) are contenders too.
        score: The similarity of two strings, 0..1.

    Returns:
        A `Match`: no contenders when the best is under `threshold`, else the best and every
        candidate within `margin` of it, best first (candidates that score alike keep their order).
    """
    scored = sorted(((score(query, key(c)), c) for c in candidates), key=lambda sc: -sc[0])
    if not scored or scored[0][0] < threshold:
        return Match()
    best = scored[0][0]
    return Match(tuple(c for s, c in scored if s >= best - margin))
