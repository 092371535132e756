"""The short Whisper window (voice/whisper_window.py) against the full 30 s window, with the real tiny.en.

Accuracy is compared on every English speech recording under 15 s in ../shared/data/speech, plus the five
real LibriVox segments of the long recording (cut at the times its segments.tsv gives), each transcribed
whole. Speed is measured, not asserted: `python -m tests.test_stt_window` prints the median time per
command for both windows (5 runs each).
"""

from __future__ import annotations

import csv
import logging
import statistics
import sys
import threading
import time

import jiwer
import numpy as np
import pytest
from whisper_normalizer.english import EnglishTextNormalizer

from tests.support.paths import SPEECH_DIR, models_dir
from tests.support.speech import nonspeech_rows, speech_file, speech_rows
from voice.audio import lift_quiet, read_audio
from voice.config import SttConfig
from voice.stt import WhisperTranscriber
from voice.whisper_window import MAX_SPEECH_S, compression_ratio, repeats, suspicion, token_limit

normalize = EnglishTextNormalizer()
COMMANDS = [
    "cmu_goforward.wav",
    "speech_recognition_one_two_three.wav",
    "speechcommands_yes.wav",
    "speechcommands_no.wav",
]


def utterances() -> list[tuple[str, np.ndarray, str]]:
    """(name, int16 audio, reference) for each English recording under 15 s and each LibriVox segment."""
    out = [
        (row["file"], read_audio(speech_file(row["file"])), row["reference_transcript"])
        for row in speech_rows()
        if float(row["seconds"]) < 15
    ]
    long = read_audio(speech_file("librivox_sense_and_sensibility_long.wav"))
    with (SPEECH_DIR / "librivox_sense_and_sensibility_long.segments.tsv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            start, end = (round(float(row[k]) * 16000) for k in ("start_s", "end_s"))
            out.append((row["segment"], long[start:end], row["reference_transcript"]))
    return out


def tiny(**settings) -> SttConfig:
    """tiny.en on the CPU, as the `transcriber` fixture, with these settings changed."""
    return SttConfig(model="tiny.en", device="cpu", **settings)


@pytest.fixture(scope="module")
def full_window() -> WhisperTranscriber:
    return WhisperTranscriber(tiny(short_window=False), models_dir()).load()


def as_float(audio: np.ndarray) -> np.ndarray:
    return lift_quiet(audio).astype(np.float32) / 32768.0


def test_short_window_is_as_accurate_as_the_full_window(transcriber, full_window):
    items = utterances()
    assert len(items) >= 10 and all(len(a) / 16000 < MAX_SPEECH_S for _, a, _ in items)
    refs = [normalize(ref) for _, _, ref in items]
    full = [normalize(full_window.transcribe(a).text) for _, a, _ in items]
    short = [normalize(transcriber.transcribe(a).text) for _, a, _ in items]
    # The comparison means something only if the short window decided most of them itself.
    decided = [not transcriber.window.transcribe(as_float(a), "en", vad=True).suspect for _, a, _ in items]
    wer_full, wer_short = jiwer.wer(refs, full), jiwer.wer(refs, short)
    words = sum(len(r.split()) for r in refs)
    print(f"\nWER over {len(items)} utterances ({words} words): full window {wer_full:.4f}, short {wer_short:.4f}")
    print(f"short window decided {sum(decided)}/{len(items)}; differences:")
    for (name, _, _), f, s in zip(items, full, short, strict=True):
        if f != s:
            print(f"  {name}: full {f!r} / short {s!r}")
    assert sum(decided) >= 0.8 * len(items), decided
    # Tolerance: two words. On ~170 words one word is 0.6 % WER, and a single word flipping either way
    # between two decoders is noise at this size (FACTS: 0.072 vs 0.069 on 51 utterances).
    assert wer_short <= wer_full + 2 / words, list(zip(refs, full, short, strict=True))


@pytest.mark.parametrize("row", nonspeech_rows(), ids=lambda r: r["file"])
def test_noise_music_and_silence_give_no_words(transcriber, row):
    audio = read_audio(speech_file(row["file"]))
    assert transcriber.transcribe(audio).text == ""
    # Silero (stt.vad_filter, on by default) hears no speech in the noise and the silence, so the short
    # window does not even run; on the music it hears some, and the short window finds no words in it.
    result = transcriber.window.transcribe(as_float(audio), "en", vad=True)
    assert result.segments == []


def test_without_silero_non_speech_still_gives_no_words():
    t = WhisperTranscriber(tiny(vad_filter=False), models_dir()).load()
    for row in nonspeech_rows():
        assert t.transcribe(read_audio(speech_file(row["file"]))).text == "", row["file"]


def test_too_little_padding_falls_back_to_the_full_window(full_window, caplog):
    """With half a second of padding the decoder loops; the full window must then give the right words."""
    tight = WhisperTranscriber(tiny(window_padding_s=0.5), models_dir()).load()
    for name in COMMANDS:
        audio = read_audio(speech_file(name))
        result = tight.window.transcribe(as_float(audio), "en", vad=True)
        assert result.suspect and result.segments == [], (name, result)
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="hark.stt"):
            text = tight.transcribe(audio).text
        assert any("not trusted, using the full window" in r.getMessage() for r in caplog.records)
        assert text == full_window.transcribe(audio).text, name
    assert normalize(tight.transcribe(read_audio(speech_file("cmu_goforward.wav"))).text) == "go forward 10 meters"


def test_a_command_keeps_the_transcript_fields(transcriber):
    audio = read_audio(speech_file("cmu_goforward.wav"))
    assert not transcriber.window.transcribe(as_float(audio), "en", vad=True).suspect  # the short path decides
    t = transcriber.transcribe(audio)
    assert normalize(t.text) == "go forward 10 meters"
    assert t.language == "en" and t.duration == pytest.approx(2.786, abs=0.01) and t.doubtful == ""
    assert 0 <= t.segments[0].start < t.segments[-1].end <= t.duration
    assert 0 < t.seconds < 5


def test_segment_times_are_in_the_original_audio_after_silero_cut_it(transcriber):
    """Two seconds of silence before and between phrases: Silero removes them, the times put them back."""
    speech = read_audio(speech_file("jfk_ask_not.wav"))
    gap = np.zeros(2 * 16000, np.int16)
    audio = np.concatenate([gap, speech, gap])
    t = transcriber.transcribe(audio)
    assert "ask not what your country can do for you" in normalize(t.text)
    assert t.segments[0].start >= 1.0 and t.segments[-1].end <= len(audio) / 16000


def test_a_call_changes_nothing_shared_and_runs_on_any_thread(transcriber):
    """The engine's worker thread calls it, sometimes for audio it then discards: no state may carry over."""
    audio = read_audio(speech_file("speech_recognition_one_two_three.wav"))
    extractor = dict(vars(transcriber.model.feature_extractor))
    config = transcriber.cfg.model_dump()
    first = transcriber.transcribe(audio)
    got: list = []
    worker = threading.Thread(target=lambda: got.append(transcriber.transcribe(audio)))
    worker.start()
    worker.join(timeout=30)
    assert got and got[0].text == first.text and got[0].segments == first.segments
    assert transcriber.cfg.model_dump() == config
    after = vars(transcriber.model.feature_extractor)
    assert after.keys() == extractor.keys()
    assert all(np.array_equal(after[k], v) for k, v in extractor.items())


def test_a_multilingual_model_detects_the_language_in_the_short_window_only_when_sure():
    t = WhisperTranscriber(SttConfig(model="base", device="cpu", language="auto"), models_dir()).load()
    jfk = read_audio(speech_file("jfk_ask_not.wav"))
    sure = t.window.transcribe(as_float(jfk), None, vad=True)
    assert not sure.suspect and sure.language == "en"
    out = t.transcribe(jfk)
    assert out.language == "en" and "ask not what your country can do for you" in normalize(out.text)
    # One second of "yes": base gives English only about 0.55 there, too unsure to keep.
    yes = read_audio(speech_file("speechcommands_yes.wav"))
    unsure = t.window.transcribe(as_float(yes), None, vad=True)
    assert unsure.suspect.startswith("language uncertain"), unsure
    out = t.transcribe(yes)
    assert out.language == "en" and normalize(out.text) == "yes"


def test_the_guards_recognise_a_looping_decoder():
    assert repeats("yes yes yes yes") and repeats("No. No. No. No. No.") and repeats("go on go on go on go on")
    assert not repeats("no no no") and not repeats("one two three one two three")
    assert compression_ratio("one two three " * 30) > 2.4 > compression_ratio("Set a timer for five minutes.")
    assert token_limit(1.0) == 24 and token_limit(60.0) == 224


def test_a_sentence_said_twice_or_after_the_speech_is_suspect():
    from voice.whisper_window import WindowSegment

    def seg(start: float, end: float, text: str, logprob: float = -0.3) -> WindowSegment:
        return WindowSegment(start, end, text, logprob, 0.05, 1.1)

    assert suspicion([seg(0, 1.9, " What time is it?")], 1.9) == ""
    assert "twice" in suspicion([seg(0, 1.0, " Tell me the joke."), seg(1.0, 1.5, " Tell me the joke.")], 1.5)
    assert "twice" in suspicion([seg(0, 2.0, " 1 2 3 3"), seg(2.0, 2.7, " 1 2 3")], 2.7)
    assert "after the speech" in suspicion([seg(0, 1.2, " Stop."), seg(1.2, 1.2, " Okay.")], 1.2)
    assert "low confidence" in suspicion([seg(0, 1.0, " Cancel.", logprob=-1.2)], 1.0)
    assert "no words" in suspicion([], 1.0)
    jfk = [seg(0, 8.0, " And so my fellow Americans ask not"), seg(8.0, 11.0, " ask what you can do for your country.")]
    assert suspicion(jfk, 11.0) == ""


# ---------------------------------------------------------------- speed (measured, not asserted)


def benchmark(runs: int = 5) -> None:
    """Median seconds per command, full window against short, `runs` interleaved runs each."""
    full, short = (WhisperTranscriber(tiny(short_window=s), models_dir()).load() for s in (False, True))
    full.warm()
    short.warm()
    rows, all_full, all_short = [], [], []
    for name in [*COMMANDS, "jfk_ask_not.wav"]:
        audio = read_audio(speech_file(name))
        times: dict[str, list[float]] = {"full": [], "short": []}
        for _ in range(runs):
            for label, t in (("full", full), ("short", short)):
                t0 = time.perf_counter()
                text = t.transcribe(audio).text
                times[label].append(time.perf_counter() - t0)
        path = short.window.transcribe(as_float(audio), "en", vad=True).suspect or "short window"
        f, s = statistics.median(times["full"]), statistics.median(times["short"])
        if name in COMMANDS:
            all_full += times["full"]
            all_short += times["short"]
        rows.append(
            f"{name:40} {len(audio) / 16000:5.2f} s  full {f * 1000:6.0f} ms  short {s * 1000:6.0f} ms  "
            f"x{f / s:4.1f}  ({path}) {text!r}"
        )
    print("\n".join(rows))
    f, s = statistics.median(all_full), statistics.median(all_short)
    print(f"commands, median of {len(all_full)} runs: full {f * 1000:.0f} ms, short {s * 1000:.0f} ms (x{f / s:.1f})")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    benchmark(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
