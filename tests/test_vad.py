"""The endpointer, driven directly with frames from real recordings (no devices, no threads)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.speech import nonspeech_rows, speech_file
from voice.audio import frames_of, read_audio
from voice.config import VadConfig
from voice.vad import Endpointer, SpeechDiscarded, SpeechEnded, SpeechStarted

FRAME = 480


def run(audio: np.ndarray, cfg: VadConfig | None = None, is_speech=None):
    ep = Endpointer(cfg or VadConfig(), 30, is_speech)
    events = []
    for frame in frames_of(audio, FRAME):
        events += ep.process(frame)
    return events + ep.flush()


def scripted(pattern: str):
    """A classifier that follows a string of 1/0 per frame: tests the logic without webrtcvad."""
    it = iter(pattern)
    return lambda frame: next(it) == "1"


def test_long_reading_splits_at_its_real_pauses():
    audio = read_audio(speech_file("librivox_sense_and_sensibility_long.wav"))
    ended = [e for e in run(audio) if isinstance(e, SpeechEnded)]
    # Five real segments joined with pauses of 1.5, 0.8, 2.5 and 1.2 s.
    assert len(ended) == 5
    starts = [1.0, 9.6, 13.39, 21.19, 28.44]
    for e, s in zip(ended, starts, strict=True):
        # Pre-roll: each utterance's audio begins before its segment's first word.
        assert e.start_t <= s + 0.15, (e.start_t, s)


def test_preroll_keeps_the_first_word():
    # The trigger needs 4 voiced frames, so without pre-roll ~120 ms of the first word would be lost.
    pattern = "0" * 20 + "1" * 30 + "0" * 30
    audio = np.zeros(FRAME * len(pattern), np.int16)
    events = run(audio, VadConfig(pre_roll_ms=300, hangover_ms=600), scripted(pattern))
    start = next(e for e in events if isinstance(e, SpeechStarted))
    end = next(e for e in events if isinstance(e, SpeechEnded))
    assert start.audio_t == pytest.approx(20 * 0.03)
    assert end.start_t <= 20 * 0.03 - 0.1  # audio starts well before the first voiced frame


def test_hysteresis_ignores_isolated_voiced_frames():
    pattern = "1000000" * 20
    events = run(np.zeros(FRAME * len(pattern), np.int16), VadConfig(), scripted(pattern))
    assert events == []


def test_hangover_bridges_short_pauses_and_ends_on_long_ones():
    # 300 ms pause inside speech (kept together), then 900 ms of silence (ends).
    pattern = "1" * 20 + "0" * 10 + "1" * 20 + "0" * 30
    events = run(np.zeros(FRAME * len(pattern), np.int16), VadConfig(hangover_ms=600), scripted(pattern))
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(ended) == 1
    assert ended[0].audio_t == pytest.approx((50 + 20) * 0.03)


def test_short_bursts_are_discarded():
    pattern = "0" * 10 + "1" * 5 + "0" * 40
    events = run(np.zeros(FRAME * len(pattern), np.int16), VadConfig(min_utterance_ms=300), scripted(pattern))
    assert any(isinstance(e, SpeechDiscarded) for e in events)
    assert not any(isinstance(e, SpeechEnded) for e in events)


def test_maximum_length_cuts_and_waits_for_a_pause():
    # 5 s of continuous speech with a 2 s limit: one truncated utterance, and the rest of
    # the same speech does not start a new one before a pause.
    pattern = "1" * 170 + "0" * 30 + "1" * 20 + "0" * 30
    events = run(np.zeros(FRAME * len(pattern), np.int16), VadConfig(max_utterance_s=2.0), scripted(pattern))
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert ended[0].truncated and ended[0].duration == pytest.approx(2.0, abs=0.05)
    assert len(ended) == 2 and not ended[1].truncated  # the next utterance after the pause


@pytest.mark.parametrize("row", nonspeech_rows(), ids=lambda r: r["file"])
def test_non_speech_clips_give_no_long_utterance(row):
    """webrtcvad alone is fooled by music; the transcriber's second check handles that (test_stt)."""
    audio = read_audio(speech_file(row["file"]))
    for e in run(audio):
        if isinstance(e, SpeechEnded):
            assert e.duration <= 15.1


def test_reset_forgets_a_half_heard_utterance():
    ep = Endpointer(VadConfig(), 30, scripted("1" * 10 + "0" * 40))
    frames = list(frames_of(np.zeros(FRAME * 50, np.int16), FRAME))
    for f in frames[:10]:
        ep.process(f)
    assert ep.in_speech
    ep.reset()
    assert not ep.in_speech
    assert all(ep.process(f) == [] for f in frames[10:])


def test_wrong_frame_size_is_a_clear_error():
    ep = Endpointer(VadConfig())
    with pytest.raises(ValueError, match="480 samples"):
        ep.process(np.zeros(100, np.int16))
