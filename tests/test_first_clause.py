"""The first clause of a reply goes to the voice on its own (SentenceStream(first_clause_words=...)).

Speech starts when the first piece is synthesized, and Piper's time grows with the piece's
length: a long first sentence is cut at its first clause boundary that has enough words before
it. Later pieces stay whole sentences, and chunking still makes no difference.
"""

from __future__ import annotations

import random

import pytest

from tests.support.streams import chunked as chunk_stream
from voice.text import FIRST_CLAUSE_WORDS, SentenceStream


def whole(text: str, words: int | None = FIRST_CLAUSE_WORDS) -> list[str]:
    stream = SentenceStream(first_clause_words=words)
    return stream.push(text) + stream.flush()


def chunked(text: str, cuts: list[int] | range, words: int | None = FIRST_CLAUSE_WORDS) -> list[str]:
    return chunk_stream(text, cuts, first_clause_words=words)


@pytest.mark.parametrize(
    "text, pieces",
    [
        # cut at the first comma or dash with four words before it; the rest stays whole sentences
        (
            "Sure thing, I have added oat milk, eggs and bread to your list. Anything else, or is that all?",
            ["Sure thing, I have added oat milk,", "eggs and bread to your list.", "Anything else, or is that all?"],
        ),
        (
            "The weather looks mostly sunny \u2014 with a light breeze and a high of twenty.",
            ["The weather looks mostly sunny \u2014", "with a light breeze and a high of twenty."],
        ),
        (
            "The weather looks mostly sunny\u2014with a light breeze later.",
            ["The weather looks mostly sunny\u2014", "with a light breeze later."],
        ),
        (
            "The weather looks mostly sunny - with a light breeze later.",
            ["The weather looks mostly sunny -", "with a light breeze later."],
        ),
        (
            "The weather looks mostly sunny -- with a light breeze later.",
            ["The weather looks mostly sunny --", "with a light breeze later."],
        ),
        (
            "The weather looks mostly sunny \u2013 with a light breeze later.",
            ["The weather looks mostly sunny \u2013", "with a light breeze later."],
        ),
        # short first clauses are not cut: "Okay," alone would sound clipped
        ("Okay, I added milk to your list.", ["Okay, I added milk to your list."]),
        ("Done. Okay, I added milk to your list.", ["Done.", "Okay, I added milk to your list."]),
        ("Yes, of course, I can do that for you.", ["Yes, of course, I can do that for you."]),
        ("Well, sure, of course, I can do that.", ["Well, sure, of course,", "I can do that."]),
        # semicolons and colons end every sentence already
        ("First clause; second clause follows.", ["First clause;", "second clause follows."]),
        # numbers, abbreviations, hyphenated words
        (
            "It costs 1,000,000 dollars, or 3.5 euros, roughly.",
            ["It costs 1,000,000 dollars,", "or 3.5 euros, roughly."],
        ),
        ("The numbers are 1, 2, 3, 4, 5 and 6.", ["The numbers are 1, 2, 3, 4, 5 and 6."]),
        ("Set a timer for five to 10 - 15 minutes now.", ["Set a timer for five to 10 - 15 minutes now."]),
        ("You could bring some fruit e.g., apples or pears.", ["You could bring some fruit e.g., apples or pears."]),
        ("Pack apples, pears, plums etc., and go.", ["Pack apples, pears, plums etc., and go."]),
        ("A well-known, long-standing and well-loved recipe.", ["A well-known, long-standing and well-loved recipe."]),
        (
            "Lows of -5 tonight and -2 tomorrow, so dress warmly.",
            ["Lows of -5 tonight and -2 tomorrow,", "so dress warmly."],
        ),
        # quotes, brackets and code stay in one piece
        (
            'He said "Well, I think so, maybe" and then he left, quickly.',
            ['He said "Well, I think so, maybe" and then he left,', "quickly."],
        ),
        (
            "The recipe (flour, sugar, eggs, butter, milk) takes an hour.",
            ["The recipe (flour, sugar, eggs, butter, milk) takes an hour."],
        ),
        (
            "She wrote \u201cyes, we will come, all four of us\u201d today.",
            ["She wrote \u201cyes, we will come, all four of us\u201d today."],
        ),
        ("Run `ls -la, then grep` in the folder.", ["Run `ls -la, then grep` in the folder."]),
        # list dashes, horizontal rules and tables are not clause dashes
        (
            "- Eggs and a little milk - the fresh kind\n- Flour",
            ["- Eggs and a little milk - the fresh kind", "- Flour"],
        ),
        ("Here you go.\n\n---\n\nAll done now.", ["Here you go.", "---\n\nAll done now."]),
        # only the first piece is ever cut at a clause
        (
            "Hi. Here is the weather for today, with a breeze, and rain later.",
            ["Hi.", "Here is the weather for today, with a breeze, and rain later."],
        ),
    ],
)
def test_first_clause_pieces(text: str, pieces: list[str]) -> None:
    assert whole(text) == pieces


def test_off_by_default_and_with_none() -> None:
    text = "Well, the weather in Paris is sunny, with a high of 20, and rain later."
    assert SentenceStream().push(text + " Ok") == [text]
    assert whole(text, None) == [text]


def test_the_first_clause_comes_out_while_the_sentence_is_still_arriving() -> None:
    stream = SentenceStream(first_clause_words=4)
    assert stream.push("Sure thing, I have added oat milk,") == []  # the next word decides
    assert stream.push(" eggs and bre") == ["Sure thing, I have added oat milk,"]
    assert stream.push("ad, butter and jam to your list, as") == []  # later commas do not cut
    assert stream.push(" asked. Then") == ["eggs and bread, butter and jam to your list, as asked."]
    assert stream.flush() == ["Then"]


def test_a_new_reply_gets_its_own_first_clause() -> None:
    stream = SentenceStream(first_clause_words=4)
    assert stream.push("The first reply is here, and then some. ") == ["The first reply is here,"]
    assert stream.flush() == ["and then some."]
    assert stream.push("The second reply is here, and then") == ["The second reply is here,"]
    assert stream.flush() == ["and then"]


TEXTS = [
    "Sure thing, I have added oat milk, eggs and bread to your list. Anything else, or is that all?",
    "The weather tomorrow looks mostly sunny \u2014 with a light breeze \u2014 and a high of 20\u00b0C. Bring a hat!",
    'He said "Well, I think so, maybe" and then he left, quickly. It costs 1,000 dollars, e.g., a lot.',
    "- Eggs and a little milk - the fresh kind\n- Flour, sugar and salt, please\n\nDone - all of it.",
    "Set a timer for 10 - 15 minutes, then remind me, okay? The recipe (flour, sugar, eggs) takes an hour.",
]


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_every_chunking_gives_the_same_pieces(text: str) -> None:
    expected = whole(text)
    assert len(expected) >= 2
    assert chunked(text, range(1, len(text))) == expected  # one character at a time
    for cut in range(len(text) + 1):  # every single split point
        assert chunked(text, [cut]) == expected, cut
    rng = random.Random(len(text))
    for _ in range(200):  # random token-like chunks
        cuts = rng.sample(range(len(text) + 1), rng.randint(2, 40))
        assert chunked(text, cuts) == expected, cuts


def test_random_texts_chunk_the_same_and_lose_nothing() -> None:
    pieces = [*"ab A1.,;:!?\n -", " word", " - ", " -- ", "\u2014", " \u2013 ", "1,000", "e.g.,", '"', "(", ")", "`"]
    rng = random.Random(11)
    for _ in range(800):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        for words in (1, 4):
            expected = whole(text, words)
            assert chunked(text, range(1, len(text)), words) == expected, repr(text)
            assert "".join("".join(expected).split()) == "".join(text.split()), repr(text)
