"""The one think filter (voice/thinking.py): both tag spellings, any case, any chunking."""

from __future__ import annotations

import pytest

from voice.thinking import ThinkFilter, strip_thinking


@pytest.mark.parametrize(
    "text, answer",
    [
        ("<think>\nThe user wants 4.\n</think>\n\nThe answer is 4.", "The answer is 4."),
        ("<think>a</think>One. <think>b</think>Two.", "One. Two."),
        ("<thinking>plan</thinking>Done.", "Done."),
        ("<THINK>Plan.</Think>Done.", "Done."),
        ("Hmm, let me think.</think>The answer is 4.", "The answer is 4."),
        ("<think>never closed, still thinking", ""),
        ("No reasoning at all.", "No reasoning at all."),
    ],
)
def test_strip_thinking(text: str, answer: str) -> None:
    assert strip_thinking(text) == answer


@pytest.mark.parametrize("text", ["<thinking>I plan. Then act.</thinking>Here it is.", "<Think>x</THINK>Here it is."])
def test_every_chunking_of_either_tag_gives_the_same_answer(text: str) -> None:
    for cut in range(len(text) + 1):
        f = ThinkFilter()
        segments = f.feed(text[:cut]) + f.feed(text[cut:]) + f.flush()
        assert "".join(t for kind, t in segments if kind == "text") == "Here it is.", cut
