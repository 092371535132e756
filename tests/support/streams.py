"""Feeding text to a `SentenceStream` in pieces, as a model streams it."""

from __future__ import annotations

from voice.text import SentenceStream


def chunked(text: str, cuts: list[int] | range, **options: int) -> list[str]:
    """What `SentenceStream(**options)` hands on when `text` arrives cut at `cuts`."""
    stream = SentenceStream(**options)
    out: list[str] = []
    prev = 0
    for cut in [*sorted(cuts), len(text)]:
        out += stream.push(text[prev:cut])
        prev = cut
    return out + stream.flush()
