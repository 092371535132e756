"""The spoken yes/no classifier that guards every consequential action (skills/confirm.py)."""

from __future__ import annotations

import pytest

from skills.confirm import Verdict, classify_answer


@pytest.mark.parametrize(
    "answer",
    ["yes", "Yes.", "YES!", "yeah", "yep", "yes, go ahead", "go ahead", "do it", "Do it.", "confirm", "confirmed",
     "yes please", "sure", "okay", "OK", "proceed", "absolutely", "of course", "that's right", "that\u2019s right",
     "Yeah, do it now.", "  yes  "],
)
def test_explicit_yes_confirms(answer: str) -> None:
    assert classify_answer(answer) is Verdict.YES


@pytest.mark.parametrize(
    "answer",
    ["no", "No.", "nope", "nah", "cancel", "Cancel that.", "stop", "don't", "Don\u2019t.", "do not", "no, wait",
     "wait", "hold on", "never mind", "forget it", "abort",
     # a negation anywhere wins over a yes in the same answer
     "yes no", "yes... no, wait", "Yes. No, stop!", "okay wait", "yes, don't", "sure, why not", "go ahead, no cancel"],
)
def test_any_negation_cancels(answer: str) -> None:
    assert classify_answer(answer) is Verdict.NO


@pytest.mark.parametrize(
    "answer",
    ["maybe later", "hmm", "what?", "banana", "I'm not sure", "I don't know", "um", "which one?", "yes, but",
     "perhaps", "Thank you.", "you", "play some music"],
)
def test_anything_else_never_confirms(answer: str) -> None:
    assert classify_answer(answer) in (Verdict.UNCLEAR, Verdict.NO)


@pytest.mark.parametrize(
    "answer, verdict",
    [("maybe later", Verdict.UNCLEAR), ("hmm", Verdict.UNCLEAR), ("what?", Verdict.UNCLEAR),
     ("banana", Verdict.UNCLEAR), ("yes, but", Verdict.UNCLEAR), ("I'm not sure", Verdict.NO)],
)
def test_hedges_are_classified_exactly(answer: str, verdict: Verdict) -> None:
    assert classify_answer(answer) is verdict


@pytest.mark.parametrize("answer", [None, "", "   ", "...", "\n"])
def test_nothing_heard_is_silence(answer: str | None) -> None:
    assert classify_answer(answer) is Verdict.SILENCE


@pytest.mark.parametrize("word", ["know", "nobody", "snow", "notebook", "stopwatch", "yesterday", "eyes"])
def test_words_containing_yes_or_no_do_not_count(word: str) -> None:
    # whole words only: "I know" is not "no", "yesterday" is not "yes"
    assert classify_answer(f"I {word}") is Verdict.UNCLEAR
