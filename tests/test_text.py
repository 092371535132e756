"""Sentence splitting of streamed replies and speakable text (voice/text.py)."""

from __future__ import annotations

import random

import pytest

from tests.support.streams import chunked
from voice.text import CODE_NOTE, SentenceStream, speakable


def whole(text: str, **options: int) -> list[str]:
    stream = SentenceStream(**options)
    return stream.push(text) + stream.flush()


# ------------------------------------------------------------------ SentenceStream: where sentences end


@pytest.mark.parametrize(
    "text, sentences",
    [
        ("Hello there. How are you? Fine!", ["Hello there.", "How are you?", "Fine!"]),
        ("First clause; second clause follows.", ["First clause;", "second clause follows."]),
        ("You will need this: a bowl and a spoon.", ["You will need this:", "a bowl and a spoon."]),
        ("Line one\nLine two is here", ["Line one", "Line two is here"]),
        ("Paragraph one.\n\nParagraph two.", ["Paragraph one.", "Paragraph two."]),
        # abbreviations
        ("Mr. Smith met Dr. Jones on Main St. today.", ["Mr. Smith met Dr. Jones on Main St. today."]),
        ("Bring fruit, e.g. Apples or pears. Then go.", ["Bring fruit, e.g. Apples or pears.", "Then go."]),
        ("That is, i.e. The best one. Yes it is.", ["That is, i.e. The best one.", "Yes it is."]),
        ("Apples, pears, etc. are fine. Good.", ["Apples, pears, etc. are fine.", "Good."]),
        ("Apples, pears, etc. Then we go home.", ["Apples, pears, etc.", "Then we go home."]),
        ("Cats vs. Dogs is a classic debate.", ["Cats vs. Dogs is a classic debate."]),
        ("Meet at 5 p.m. tomorrow please.", ["Meet at 5 p.m. tomorrow please."]),
        ("Meet at 5 p.m. The bus is late.", ["Meet at 5 p.m.", "The bus is late."]),
        ("The meeting is at 9 a.m. on Monday.", ["The meeting is at 9 a.m. on Monday."]),
        ("Written by J. R. R. Tolkien in England.", ["Written by J. R. R. Tolkien in England."]),
        # numbers, versions, times, URLs, e-mails
        ("It costs 3.5 dollars now. Cheap.", ["It costs 3.5 dollars now.", "Cheap."]),
        ("Version 1.2.3 is out. Update soon.", ["Version 1.2.3 is out.", "Update soon."]),
        ("Dinner is at 5:30 tonight. Be there.", ["Dinner is at 5:30 tonight.", "Be there."]),
        ("The answer is 42. Next question please.", ["The answer is 42.", "Next question please."]),
        ("Go to https://example.com/a.b?x=1 now. Then wait.", ["Go to https://example.com/a.b?x=1 now.", "Then wait."]),
        ("See example.com. It helps.", ["See example.com.", "It helps."]),
        ("Write to john.doe@example.com today. Thanks.", ["Write to john.doe@example.com today.", "Thanks."]),
        # ellipses
        ("Wait... what happened here?", ["Wait... what happened here?"]),
        ("I thought so... Never mind that.", ["I thought so...", "Never mind that."]),
        ("Well\u2026 maybe not today.", ["Well\u2026 maybe not today."]),
        ("And then it ends...", ["And then it ends..."]),
        # closing quotes and brackets stay with their sentence
        ('He said "Stop here." Then he left.', ['He said "Stop here."', "Then he left."]),
        ("It is done (mostly.) Next one now.", ["It is done (mostly.)", "Next one now."]),
        ('"Really?" she asked him.', ['"Really?" she asked him.']),
        ("**Important.** Read this first.", ["**Important.**", "Read this first."]),
        ("Is it real?! Yes it is.", ["Is it real?!", "Yes it is."]),
        # lists and headings
        ("Steps:\n1. Preheat the oven.\n2. Mix the flour.", ["Steps:", "1. Preheat the oven.", "2. Mix the flour."]),
        ("# Weather today\nIt is sunny outside.", ["# Weather today", "It is sunny outside."]),
        ("- Buy some milk\n- Call the bank", ["- Buy some milk", "- Call the bank"]),
        # short fragments: the first goes out alone, later ones join the next sentence
        ("Okay. Let me check that.", ["Okay.", "Let me check that."]),
        ("Sure! Here it is. Done. That was easy.", ["Sure!", "Here it is.", "Done. That was easy."]),
        ("List:\n- Eggs\n- Milk\n- Flour and sugar", ["List:", "- Eggs\n- Milk", "- Flour and sugar"]),
        ("Here you go.\n\n---\n\nAll done now.", ["Here you go.", "---\n\nAll done now."]),
        ("| Name | Age |\n|---|---|\n| Bob | 42 |", ["| Name | Age |", "|---|---|\n| Bob | 42 |"]),
        ("Last one. Hi.", ["Last one.", "Hi."]),
        # blocks that are never split
        (
            "Try this code.\n```python\nx = 1. \nprint(x)\n```\nIt prints one.",
            ["Try this code.", "```python\nx = 1. \nprint(x)\n```", "It prints one."],
        ),
        ("```\nnot closed. Still code.", ["```\nnot closed. Still code."]),
        # nothing
        ("", []),
        ("   \n\n  ", []),
    ],
)
def test_sentence_boundaries(text: str, sentences: list[str]) -> None:
    assert whole(text) == sentences


def test_thinking_is_not_the_sentence_splitters_job() -> None:
    # The model stage removes reasoning (voice/thinking.py) before text reaches the splitter,
    # and `speakable` runs the same filter on whatever is spoken: one home for that idea.
    from voice.thinking import strip_thinking

    assert [speakable(s) for s in whole(strip_thinking("<think>hmm. Plan.</think>Okay. Let me look."))] == [
        "Okay.",
        "Let me look.",
    ]


def test_sentences_come_out_before_the_reply_ends() -> None:
    stream = SentenceStream()
    assert stream.push("Sure. Here is the") == ["Sure."]
    assert stream.push(" weather for today. It wil") == ["Here is the weather for today."]
    assert stream.push("l rain") == []
    assert stream.flush() == ["It will rain"]


def test_a_boundary_waits_for_the_next_word() -> None:
    stream = SentenceStream()
    assert stream.push("Ask Dr. ") == []  # "Dr." might end a sentence or not: wait
    assert stream.push("Who about it. ") == []  # "it." waits for the next word too
    assert stream.push("Then") == ["Ask Dr. Who about it."]
    assert stream.push(" leave. ") == []
    assert stream.flush() == ["Then leave."]


def test_stream_is_reusable_after_flush() -> None:
    stream = SentenceStream()
    assert stream.push("One reply. ") == []
    assert stream.flush() == ["One reply."]
    assert stream.push("Hi. Second reply here.") == ["Hi."]
    assert stream.flush() == ["Second reply here."]


@pytest.mark.parametrize(
    "first_min_chars, sentences",
    [
        (
            None,
            ["Well, the weather in Paris is sunny, with a high of 20, and rain later.", "Bring an umbrella, please."],
        ),
        (
            20,
            [
                "Well, the weather in Paris is sunny,",
                "with a high of 20, and rain later.",
                "Bring an umbrella, please.",
            ],
        ),
        (
            3,
            [
                "Well,",
                "the weather in Paris is sunny, with a high of 20, and rain later.",
                "Bring an umbrella, please.",
            ],
        ),
        (
            500,
            ["Well, the weather in Paris is sunny, with a high of 20, and rain later.", "Bring an umbrella, please."],
        ),
    ],
)
def test_first_sentence_may_break_at_a_comma(first_min_chars: int | None, sentences: list[str]) -> None:
    text = "Well, the weather in Paris is sunny, with a high of 20, and rain later. Bring an umbrella, please."
    assert whole(text, first_min_chars=first_min_chars) == sentences


def test_first_comma_break_ignores_thousands_separators() -> None:
    assert whole("It costs 1,000,000 dollars, roughly. Wow.", first_min_chars=5) == [
        "It costs 1,000,000 dollars,",
        "roughly.",
        "Wow.",
    ]


# ------------------------------------------------------------------ SentenceStream: chunking does not matter

PROPERTY_TEXTS = [
    "Okay. Let me check that for you. Dr. Smith lives on Main St. in Springfield. It costs $3.50, e.g. about 3.5 "
    "dollars. Version 1.2.3 is out! Meet at 5:30 p.m. tomorrow. Wait... what? I thought... Never mind. See "
    "https://example.com/a.b?x=1. Mail john.doe@example.com now.",
    "Here are the steps:\n\n1. Preheat the oven.\n2. Mix flour and sugar.\n3. Bake for 20 minutes.\n\n- Eggs\n- Milk\n"
    "- Flour\n\nDone!",
    "Sure. Here's code:\n```python\nprint('hi. there')\nx = 1\n```\nThat "
    'prints it. **Note.** It\'s "quoted." Next (see above.) Then.',
    "| Name | Age |\n|---|---|\n| Bob | 42 |\n| Alice | 37 |\n\n# Heading\nText; more text: and so on.",
    "Well, the weather in Paris is sunny, with a high of 20\u00b0C, and rain later\u2026 Bring an umbrella! \U0001f302",
]


@pytest.mark.parametrize("options", [{}, {"first_min_chars": 12}], ids=["default", "first_min_chars"])
@pytest.mark.parametrize("text", PROPERTY_TEXTS, ids=range(len(PROPERTY_TEXTS)))
def test_every_chunking_gives_the_same_sentences(text: str, options: dict[str, int]) -> None:
    expected = whole(text, **options)
    assert len(expected) > 2
    assert chunked(text, range(1, len(text)), **options) == expected  # one character at a time
    for cut in range(len(text) + 1):  # every single split point
        assert chunked(text, [cut], **options) == expected, cut
    rng = random.Random(len(text))
    for _ in range(200):  # random token-like chunks
        cuts = rng.sample(range(len(text) + 1), rng.randint(2, 40))
        assert chunked(text, cuts, **options) == expected, cuts


def test_random_texts_chunk_the_same_and_lose_nothing() -> None:
    pieces = [
        *list("ab A.!?;:,\n "),
        "...",
        "```\n",
        "<think>",
        "</think>",
        "Dr.",
        " e.g.",
        "3.5",
        "1. ",
        "| x |",
        "**",
        '"',
        ")",
        "…",
        "http://a.b/c. ",
    ]
    rng = random.Random(7)
    for _ in range(600):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        for options in ({}, {"first_min_chars": 5}):
            expected = whole(text, **options)
            assert chunked(text, range(1, len(text)), **options) == expected, repr(text)
            # only whitespace between sentences is dropped
            assert "".join("".join(expected).split()) == "".join(text.split()), repr(text)


# ------------------------------------------------------------------ speakable


@pytest.mark.parametrize(
    "text, spoken",
    [
        ("Plain sentence.", "Plain sentence."),
        ("Plain words", "Plain words."),
        # headings, emphasis, lists, quotes, rules
        ("## Weather today", "Weather today."),
        ("It's **really** _nice_ and *warm* today!", "It's really nice and warm today!"),
        ("***Very*** __strong__ words.", "Very strong words."),
        ("Stray **bold start.", "Stray bold start."),
        ("- Eggs\n- Milk\n- Flour", "Eggs. Milk. Flour."),
        ("* Eggs\n+ Milk", "Eggs. Milk."),
        ("1. Preheat the oven\n2. Mix the flour\n3. Bake it", "Preheat the oven. Mix the flour. Bake it."),
        ("2. Mix the flour.", "Mix the flour."),
        ("1) First\n2) Second", "First. Second."),
        ("1. First\n   - nested item\n2. Second", "First. nested item. Second."),
        ("> A quote here.", "A quote here."),
        ("Before.\n\n---\n\nAfter.", "Before. After."),
        ("Heading\n=======\nText", "Heading. Text."),
        ("Here are the steps:\n1. Go", "Here are the steps: Go."),
        # tables: rows become sentences, also when a stream delivered them without their header
        (
            "| Item | Price |\n|:-----|------:|\n| Tea | $2 |\n| **Cake** | $4.50 |",
            "Item, Price. Tea, $2. Cake, $4.50.",
        ),
        ("| Name | Age |", "Name, Age."),
        ("|---|---|\n| Bob | 42 |", "Bob, 42."),
        ("|---|---|", ""),
        # links, URLs, e-mails, code
        ("See [the docs](https://docs.python.org/3/library/re.html).", "See the docs."),
        ("Go to https://www.example.com/path?a=1&b=2.", "Go to a link to example.com."),
        ("Visit www.example.com today.", "Visit a link to example.com today."),
        ("Autolink <https://example.com/x> here.", "Autolink a link to example.com here."),
        ("Open http://localhost:8080/api now", "Open a network address now."),
        ("Email jane.doe+news@mail.example.org.", "Email jane dot doe plus news at mail dot example dot org."),
        ("Run `pip install hark` first.", "Run pip install hark first."),
        ("```python\nprint('hi')\n```", CODE_NOTE),
        ("Try this:\n```\nls -la\n```\nThen look.", f"Try this: {CODE_NOTE} Then look."),
        ("```python\nunfinished code", CODE_NOTE),
        ("A ![diagram](x.png) here.", "A diagram here."),
        ("~~old~~ new plan", "new plan."),
        ("Use snake_case names.", "Use snake case names."),
        # HTML and thinking
        ("<b>Bold</b> text<br>next line.", "Bold text next line."),
        ("<div>Hello</div>", "Hello."),
        ("Visible. <!-- hidden -->", "Visible."),
        ("<think>\nThe user wants 4.\n</think>\n\nThe answer is 4.", "The answer is 4."),
        ("<think>a</think>One. <think>b</think>Two.", "One. Two."),
        ("<thinking>plan</thinking>Done.", "Done."),
        ("Hmm, let me think.</think>The answer is 4.", "The answer is 4."),
        ("<think>never closed, still thinking", ""),
        # symbols
        ("It's 72\u00b0F and 20 \u00b0C.", "It's 72 degrees Fahrenheit and 20 degrees Celsius."),
        ("Turn it 90\u00b0 left.", "Turn it 90 degrees left."),
        ("Humidity is 45%.", "Humidity is 45 percent."),
        ("Salt & pepper.", "Salt and pepper."),
        ("AT&amp;T", "AT and T."),
        ("Input -> output.", "Input to output."),
        ("A \u2192 B", "A to B."),
        ("Pages 5\u201310 \u2014 roughly.", "Pages 5 to 10, roughly."),
        ("About ~5 items, #1 is best, 3\u00d74 is 12.", "About about 5 items, number 1 is best, 3 times 4 is 12."),
        # emoji and pictographs
        ("Great job! \U0001f389\U0001f389", "Great job!"),
        (
            "Thumbs \U0001f44d\U0001f3fd up, family \U0001f468\u200d\U0001f469\u200d\U0001f467, "
            "flag \U0001f1eb\U0001f1f7.",
            "Thumbs up, family, flag.",
        ),
        ("\u2713 Done \u2705", "Done."),
        ("Sunny \u2600\ufe0f today", "Sunny today."),
        ("Copyright \u00a9 2024 Acme\u2122.", "Copyright 2024 Acme."),
        ("\U0001f600", ""),
        # whitespace
        ("Lots   of\n\nspace \t here.", "Lots of. space here."),
        ("One line\nsame paragraph.", "One line same paragraph."),
        ("", ""),
        ("   \n ", ""),
        # a streamed first fragment that ends at a comma keeps its comma
        ("Well, the weather in Paris is sunny,", "Well, the weather in Paris is sunny,"),
    ],
)
def test_speakable(text: str, spoken: str) -> None:
    assert speakable(text) == spoken


@pytest.mark.parametrize("text", PROPERTY_TEXTS, ids=range(len(PROPERTY_TEXTS)))
def test_speakable_sentences_have_no_markup_left(text: str) -> None:
    for sentence in whole(text):
        said = speakable(sentence)
        for mark in ("<think", "</think", "*", "`", "```", "|", "#", "](", "http", "@"):
            assert mark not in said, (mark, sentence, said)
        assert said == " ".join(said.split())


def test_speakable_of_whole_reply_matches_its_sentences() -> None:
    reply = PROPERTY_TEXTS[1]
    assert speakable(reply) == " ".join(s for s in map(speakable, whole(reply)) if s)


@pytest.mark.parametrize(
    "text",
    [
        "See [link=https://evil.example]here[/link] now.",
        "Go to https://[::1 now.",
        "Open http://[fe80::1]:8080/x please.",
    ],
)
def test_a_url_that_does_not_parse_is_spoken_as_a_link_not_a_crash(text: str) -> None:
    said = speakable(text)  # urlsplit raises ValueError on these; speaking must not
    assert "a link" in said
    assert "::" not in said and "evil" not in said
