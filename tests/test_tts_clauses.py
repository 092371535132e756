"""Piper's first audio waits only for the first clause (voice/tts.py): the first sentence is synthesized
clause by clause, later sentences whole, and the pieces still say the whole text."""

from __future__ import annotations

import numpy as np
from whisper_normalizer.english import EnglishTextNormalizer

from voice.audio import RATE, resample, to_int16
from voice.tts import clause_pieces

normalize = EnglishTextNormalizer()


def phonemes(text: str) -> list[str]:
    """A sentence's phonemes as Piper's espeak phonemizer lays them out: a clause mark, then a space."""
    return list(text)


def test_a_sentence_is_cut_after_each_clause_mark() -> None:
    pieces = clause_pieces(phonemes("oʊkˈeɪ, aɪ ˈædᵻd mˈɪlk; ænd ˈɛɡz: jˈɛs."))
    assert ["".join(p) for p in pieces] == ["oʊkˈeɪ, ", "aɪ ˈædᵻd mˈɪlk; ", "ænd ˈɛɡz: ", "jˈɛs."]


def test_a_sentence_without_clauses_stays_whole() -> None:
    whole = phonemes("ðə wˈɛðɚ lˈʊks sˈʌni.")
    assert clause_pieces(whole) == [whole]
    assert clause_pieces([]) == [[]]


def test_a_mark_without_a_space_after_it_or_a_piece_of_marks_only_is_not_a_piece() -> None:
    assert ["".join(p) for p in clause_pieces(phonemes("ɐ,b, "))] == ["ɐ,b, "]
    assert ["".join(p) for p in clause_pieces(phonemes(", , jˈɛs."))] == ["jˈɛs."]


def speech_of(chunks: list[np.ndarray], rate: int) -> np.ndarray:
    return to_int16(resample(np.concatenate(chunks), rate, RATE))


def test_the_first_clause_comes_first_and_the_whole_text_is_said(synth, transcriber) -> None:
    text = "Done, I added milk to your shopping list. The pasta timer, the long one, ends in five minutes."
    chunks = list(synth.synthesize(text))
    rate = synth.sample_rate
    # "Done," then the rest of the first sentence, then the second sentence whole (its commas do not cut it).
    assert len(chunks) == 3
    assert all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
    assert len(chunks[0]) / rate < 0.9 < len(chunks[1]) / rate
    assert np.abs(np.concatenate(chunks)).max() > 0.999  # peak-normalized, as Piper does it
    whole = [c.audio_float_array for c in synth.voice.synthesize(text, synth._syn_config())]
    assert len(whole) == 2  # Piper alone: one chunk per sentence
    said, piper_said = sum(map(len, chunks)), sum(map(len, whole))
    assert abs(said - piper_said) < 0.15 * piper_said  # the same speech, only cut sooner
    heard = normalize(transcriber.transcribe(speech_of(chunks, rate)).text)
    assert "added milk to your shopping list" in heard and "5 minutes" in heard, heard
    first = normalize(transcriber.transcribe(speech_of(chunks[:1], rate)).text)
    assert first.startswith("done"), first


def test_volume_and_rate_still_apply(synth) -> None:
    from voice.config import TtsConfig
    from voice.tts import PiperSynthesizer

    quiet = PiperSynthesizer(TtsConfig(volume=0.5, rate=2.0), synth.models_dir)
    quiet.voice, quiet.sample_rate = synth.voice, synth.sample_rate  # the same loaded voice
    text = "Done, I added milk to your shopping list."
    fast = np.concatenate(list(quiet.synthesize(text)))
    normal = np.concatenate(list(synth.synthesize(text)))
    assert 0.45 < np.abs(fast).max() <= 0.5
    assert 0.4 < len(fast) / len(normal) < 0.8  # faster (length_scale 0.5; the pauses shrink less)
