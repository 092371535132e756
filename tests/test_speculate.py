"""Speculative transcription and early endpoints (voice.speculate), and the pieces barge-in relies on.

Pure parts first (the completeness rule, the endpointer's early end, what was heard of a cut
reply, Hark's own words); then the live listener on a real PulseAudio microphone with real
Whisper: an utterance ends as soon as its words are complete, carries its transcript, and on
real speech with pauses the transcripts are as accurate as transcribing each whole file.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.support.speech import manifest, speech_file
from voice.audio import RATE, frames_of, read_audio
from voice.config import VadConfig
from voice.own_voice import echoes
from voice.speak import heard_part
from voice.speculate import words_complete
from voice.vad import Endpointer, SpeechEnded


@pytest.mark.parametrize(
    "text",
    ["Add milk to my shopping list.", "What time is it?", "Go forward ten meters.", "Yes.", "No.", "Cancel the timer!"],
)
def test_finished_sentences_are_complete(text):
    assert words_complete(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Add milk and",
        "Add milk and.",  # Whisper often puts a period after a speaker who trails off
        "Remind me to call,",
        "So, um.",
        "Set a timer for...",
        "Set a timer for…",
        "Put eggs on the",
        "go forward ten meters",  # no sentence end: wait for the hangover
        "One.",  # a lone word that is no answer: maybe "one, two, three" goes on
    ],
)
def test_trailing_off_is_not_complete(text):
    assert not words_complete(text)


def test_the_endpointer_can_end_early_with_what_the_hangover_would_give():
    audio = read_audio(speech_file("cmu_goforward.wav"))
    audio = np.concatenate([audio, np.zeros(RATE, np.int16)])  # room for the full hangover
    cfg = VadConfig()
    patient, early = Endpointer(cfg), Endpointer(cfg)
    ended_early = None
    ended_late = None
    for frame in frames_of(audio, patient.frame_samples):
        for e in patient.process(frame):
            if isinstance(e, SpeechEnded):
                ended_late = e
        if ended_early is None:
            for e in early.process(frame):
                assert not isinstance(e, SpeechEnded)
            if early.in_speech and early.silence_frames >= cfg.pause_ms // early.frame_ms:
                so_far = early.audio_so_far()
                ended_early = early.end_now()
                assert isinstance(ended_early, SpeechEnded)
                assert np.array_equal(ended_early.audio, so_far)
    assert ended_early is not None and ended_late is not None
    assert ended_early.start_t == ended_late.start_t
    # The early audio is the late one without the rest of the silence.
    assert np.array_equal(ended_late.audio[: len(ended_early.audio)], ended_early.audio)
    assert ended_late.audio_t - ended_early.audio_t >= (cfg.hangover_ms - cfg.pause_ms) / 1000 - 0.031
    assert early.end_now() is None and not early.in_speech and early.silence_frames == 0


def test_what_was_heard_of_a_cut_reply():
    timeline = [("It is three o'clock.", 0.0, 1.0), ("Your next meeting is at four.", 1.0, 3.0)]
    assert heard_part(timeline, 0.5) == "It is…"
    assert heard_part(timeline, 1.0) == "It is three o'clock."
    assert heard_part(timeline, 2.0) == "It is three o'clock. Your next meeting…"
    assert heard_part(timeline, 9.0) == "It is three o'clock. Your next meeting is at four."
    assert heard_part(timeline, 0.0) == ""
    assert heard_part([("Queued but not synthesized yet.", 2.0, 2.0)], 5.0) == ""


def test_own_words_are_recognised_and_answers_are_not():
    said = "I'll delete all 3 tasks on your list. Should I do that?"
    assert echoes("delete all three tasks on your list", said)  # Whisper writes "three" for a spoken "3"
    assert echoes("Delete all 3 tasks on your list.", said)
    assert echoes("should I do that", said)
    assert not echoes("yes", said)  # too short to tell: the answer wins
    assert not echoes("yes please do that", said)
    assert not echoes("what time is it", said)


# ---------------------------------------------------------------- live, real devices and Whisper


@pytest.fixture
def live(pulse, monkeypatch, transcriber, request):
    """A listener with speculation on the PulseAudio null-sink microphone; yields (listener, events).

    `@pytest.mark.vad(hangover_ms=...)` sets the endpointer's config.
    """
    from voice.audio_devices import refresh_devices
    from voice.events import EventBus
    from voice.listen import LiveListener
    from voice.microphone import MicrophoneSource
    from voice.speculate import Speculator

    for k, v in pulse.client_env().items():
        if k.startswith(("PULSE", "XDG", "HOME")):
            monkeypatch.setenv(k, v)
    refresh_devices()
    marker = request.node.get_closest_marker("vad")
    vad = marker.kwargs if marker else {}
    events = EventBus()
    listener = LiveListener(
        MicrophoneSource("hark_in"), VadConfig(**vad), events, speculator=Speculator(transcriber)
    ).start()
    time.sleep(2.0)  # a fresh null-sink monitor delivers nothing for its first moments
    listener.resume()
    yield listener, events
    listener.close()


def _utterances(listener, pulse, name: str | Path) -> list:
    done = threading.Event()

    def play():
        pulse.play(name if isinstance(name, Path) else speech_file(name))
        done.set()

    threading.Thread(target=play, daemon=True).start()
    found = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        utt = listener.next_utterance(timeout=0.3)
        if utt is not None:
            found.append(utt)
        elif done.is_set() and not listener.endpointer.in_speech:
            time.sleep(1.2)  # the last pause's result, or the hangover
            utt = listener.next_utterance(timeout=0.1)
            if utt is not None:
                found.append(utt)
                continue
            break
    return found


# A long hangover, so the early end is seen even when a busy machine makes Whisper slow.
@pytest.mark.vad(hangover_ms=4000)
def test_a_finished_command_ends_at_its_pause_with_its_transcript(live, pulse, transcriber):
    listener, events = live
    found = _utterances(listener, pulse, "cmu_goforward.wav")
    assert len(found) == 1
    utt = found[0]
    assert utt.transcript is not None, "the pause's transcription was not handed over"
    text = utt.transcript.result(timeout=10).text
    assert "forward" in text.lower() and "meters" in text.lower(), text
    ends = [e for e in events.history if e.name == "speech_end"]
    assert ends[-1].data.get("ended") == "words complete", ends[-1].data
    assert utt.end_t - utt.start_t < 2.786 + 3.0  # well before the 4 s hangover ran out
    assert listener.speculator is not None and listener.speculator.used >= 1


def _wer(ref: str, hyp: str) -> float:
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    norm = EnglishTextNormalizer()
    return jiwer.wer(norm(ref), norm(hyp))


def test_early_endpoints_never_cost_accuracy_on_real_speech_with_pauses(live, pulse, transcriber):
    """JFK pauses mid-sentence ("And so my fellow Americans, ... ask not"): cutting there would split it."""
    listener, _ = live
    refs = {r["file"]: r["reference_transcript"] for r in manifest()}
    whole_errors, live_errors = [], []
    for name in ("jfk_ask_not.wav", "librispeech_2412-153948-0000.wav", "speech_recognition_one_two_three.wav"):
        found = _utterances(listener, pulse, name)
        assert found, name
        heard = " ".join(
            (u.transcript.result(timeout=10) if u.transcript else transcriber.transcribe(u.audio)).text for u in found
        )
        whole = transcriber.transcribe(read_audio(speech_file(name))).text
        whole_errors.append(_wer(refs[name], whole))
        live_errors.append(_wer(refs[name], heard))
    assert np.mean(live_errors) <= np.mean(whole_errors) + 0.03, (live_errors, whole_errors)


def test_speech_resumed_after_a_pause_is_not_cut(live, pulse):
    """Two commands with a short gap: a pause that is followed by speech never ends the first early."""
    listener, _ = live
    a = read_audio(speech_file("cmu_goforward.wav"))
    gap = np.zeros(int(0.35 * RATE), np.int16)  # longer than pause_ms, shorter than hangover_ms
    words = a[int(0.3 * RATE) : int(2.55 * RATE)]
    path = pulse.runtime / "two_with_gap.wav"
    from voice.audio import write_wav

    write_wav(path, np.concatenate([gap, words, np.zeros(int(0.35 * RATE), np.int16), words, gap]), RATE)
    found = _utterances(listener, pulse, path)
    # "Go forward ten meters." is complete, so the first may end at the gap; the second must not be lost.
    texts = " ".join(u.transcript.result(timeout=10).text if u.transcript else "" for u in found).lower()
    assert texts.count("forward") == 2, texts
    assert len(found) == 2
