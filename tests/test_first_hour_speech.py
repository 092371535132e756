"""Issue 13, speech in the first hour: quiet speakers are heard, other languages aren't turned into English.

Quiet: the shared recordings scaled to -60 and -67 dBFS, endpointed with the default VAD
(aggressiveness 3) and transcribed. Another language: German and Spanish sentences synthesized
with espeak-ng, through the English-only tiny.en.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.support.cli import hark_env, run_hark
from tests.support.ollama_server import FakeOllama
from tests.support.speech import nonspeech_rows, speech_file
from voice.audio import frames_of, read_audio
from voice.config import VadConfig, data_dir
from voice.vad import Endpointer, SpeechEnded, webrtc_classifier

# Each shared speech recording and a word that a correct transcript of it has.
SPEECH = {
    "cmu_goforward.wav": "forward",
    "jfk_ask_not.wav": "country",
    "librispeech_2412-153948-0000.wav": "reader",
    "speech_recognition_one_two_three.wav": "1",
    "speechcommands_no.wav": "no",
    "speechcommands_yes.wav": "yes",
    "librivox_sense_and_sensibility_long.wav": "dashwood",
}


def at_level(audio: np.ndarray, dbfs: float) -> np.ndarray:
    """The recording scaled so its RMS level is `dbfs` (as a quiet speaker's microphone gives it)."""
    x = audio.astype(np.float64) / 32768
    gain = 10 ** (dbfs / 20) / np.sqrt(np.mean(x**2))
    return np.clip(np.round(x * gain * 32768), -32768, 32767).astype(np.int16)


def utterances(audio: np.ndarray, normalize: bool = True) -> list[SpeechEnded]:
    cfg = VadConfig(aggressiveness=3)
    ep = Endpointer(cfg, 30, webrtc_classifier(cfg.aggressiveness, normalize))
    # Two seconds of a quiet room first (a microphone is never digitally silent), as the live loop hears it.
    room = np.clip(np.random.default_rng(0).normal(0, 1, 16000 * 3), -3, 3).astype(np.int16)
    padded = np.concatenate([room[:32000], audio, room[32000:]])
    events = []
    for frame in frames_of(padded, 480):
        events += ep.process(frame)
    return [e for e in events + ep.flush() if isinstance(e, SpeechEnded)]


@pytest.mark.parametrize("dbfs", [-60.0, -67.0])
def test_quiet_speech_is_endpointed_and_transcribed(dbfs, transcriber):
    unheard_before = 0
    for name, word in SPEECH.items():
        quiet = at_level(read_audio(speech_file(name)), dbfs)
        unheard_before += not utterances(quiet, normalize=False)  # what the loop did before: no_speech
        heard = utterances(quiet)
        assert heard, f"{name} at {dbfs} dBFS gave no utterance"
        text = " ".join(transcriber.transcribe(u.audio).text for u in heard).lower()
        assert word in text, (name, dbfs, text)
    assert unheard_before >= 5  # without the normalising, most of them were not heard at all


# The pauses each reader really made that are longer than vad.hangover_ms (600 ms): quiet speech
# may end an utterance at each of them, and nowhere else. (At their own level the background
# noise in some of these pauses counts as speech, so they split less.)
PHRASES = {"jfk_ask_not.wav": 4, "librispeech_2412-153948-0000.wav": 2, "librivox_sense_and_sensibility_long.wav": 5}


def test_quiet_long_speech_splits_only_at_real_pauses():
    for name, phrases in PHRASES.items():
        audio = read_audio(speech_file(name))
        for dbfs in (-60.0, -67.0):
            assert 1 <= len(utterances(at_level(audio, dbfs))) <= phrases, (name, dbfs)


def test_speech_at_a_normal_level_gets_no_gain():
    from voice.vad import LevelNormalizer

    for name in ("jfk_ask_not.wav", "librivox_sense_and_sensibility_long.wav"):
        agc = LevelNormalizer()
        for i, frame in enumerate(frames_of(read_audio(speech_file(name)), 480)):
            heard = agc(frame)
            agc.voiced(bool(np.abs(frame).max() > 2000))
            if i > 100:  # once the room (the recording's own background) has been heard
                assert np.array_equal(heard, frame), (name, i, agc.gain)


@pytest.mark.parametrize("row", nonspeech_rows(), ids=lambda r: r["file"])
def test_noise_stays_silent_at_any_level(row, transcriber):
    audio = read_audio(speech_file(row["file"]))
    for dbfs in (None, -60.0, -67.0):
        clip = audio if dbfs is None or not audio.any() else at_level(audio, dbfs)
        texts = [transcriber.transcribe(u.audio).text for u in utterances(clip)]
        assert not any(texts), (row["file"], dbfs, texts)


def test_the_agc_never_lifts_the_room_above_its_noise_ceiling():
    from voice.vad import LevelNormalizer

    rng = np.random.default_rng(1)
    agc = LevelNormalizer()

    def noise() -> np.ndarray:
        return np.clip(rng.normal(0, 10, 480), -30, 30).astype(np.int16)

    for _ in range(100):  # a quiet room
        lifted = agc(noise())
        agc.voiced(False)
    assert np.abs(lifted).max() <= agc.noise_ceiling * 1.5  # the floor at the ceiling, its peaks a little above
    speech = (np.sin(np.arange(480) / 5) * 3000).astype(np.int16)
    for _ in range(20):
        agc(speech)
        agc.voiced(True)
    during = agc.gain
    for i in range(30):  # a pause inside the sentence
        lifted = agc(noise())
        agc.voiced(i < 5)
    assert agc.gain <= during * 1.5
    assert np.abs(lifted).max() <= agc.noise_ceiling * 1.5  # the floor at the ceiling, its peaks a little above
    # A recording at a normal level, with its own hiss, is not touched at all.
    normal = LevelNormalizer()
    for _ in range(100):
        frame = np.clip(rng.normal(0, 200, 480), -600, 600).astype(np.int16)
        assert np.array_equal(normal(frame), frame)
        normal.voiced(False)


def test_the_agc_lifts_a_quiet_word_in_a_quiet_room_but_not_after_digital_silence():
    from voice.vad import LevelNormalizer

    word = (np.sin(np.arange(480) / 5) * 100).astype(np.int16)  # peaks at -50 dBFS
    muted = LevelNormalizer()
    for _ in range(50):  # a muted or synthetic source: nothing known of the room, no gain
        muted(np.zeros(480, np.int16))
        muted.voiced(False)
    assert np.abs(muted(word)).max() < 400  # not lifted to a speaking level
    room = LevelNormalizer()
    rng = np.random.default_rng(2)
    for _ in range(200):  # a quiet room (a couple of steps of noise)
        room(np.clip(rng.normal(0, 1, 480), -2, 2).astype(np.int16))
        room.voiced(False)
    assert room.gain > 0.9 * room.max_gain  # up to the cap the room's noise leaves
    assert np.abs(room(word)).max() > 9000


# ---------------------------------------------------------------- other languages through tiny.en

SENTENCES = {
    "de": "Guten Morgen. Kannst du bitte morgen früh um acht Uhr einen Wecker stellen "
    "und mich an den Arzttermin erinnern?",
    "es": "Buenos días. ¿Puedes poner una alarma para mañana a las ocho y recordarme la cita con el médico?",
}


@pytest.fixture(scope="module")
def foreign(tmp_path_factory) -> dict[str, Path]:
    assert shutil.which("espeak-ng"), "espeak-ng is not installed: run `make test`, which installs it"
    folder = tmp_path_factory.mktemp("foreign")
    out = {}
    for lang, text in SENTENCES.items():
        out[lang] = folder / f"{lang}.wav"
        subprocess.run(["espeak-ng", "-v", lang, "-w", str(out[lang]), text], check=True, timeout=60)
    return out


def test_an_english_only_model_does_not_invent_english(foreign, transcriber):
    for lang, path in foreign.items():
        t = transcriber.transcribe(read_audio(path))
        assert t.text == "" and t.doubtful, (lang, t)


def test_english_speech_is_still_trusted(transcriber):
    for name, word in SPEECH.items():
        t = transcriber.transcribe(read_audio(speech_file(name)))
        assert not t.doubtful and word in t.text.lower(), (name, t)


def test_doubt_rules():
    from types import SimpleNamespace as S

    from voice.stt import doubt

    def seg(lp, ns, cr=1.0):
        return S(start=0.0, end=2.0, avg_logprob=lp, no_speech_prob=ns, compression_ratio=cr)

    assert doubt([]) == ""
    assert doubt([seg(-0.4, 0.06)]) == ""
    assert doubt([seg(-0.74, 0.29)]) == ""  # a short, clear "yes"
    assert "avg_logprob" in doubt([seg(-1.2, 0.6)])
    assert "no_speech_prob" in doubt([seg(-0.7, 0.5)])
    assert "compression" in doubt([seg(-0.3, 0.1, 2.8)])


def test_a_turn_in_another_language_says_it_did_not_catch_that(foreign, tmp_path):
    with FakeOllama() as server:
        server.add_model("qwen3:1.7b")
        r = run_hark(
            "run",
            "--input",
            str(foreign["de"]),
            "--json",
            "--output",
            str(tmp_path / "o.wav"),
            env=hark_env(OLLAMA_HOST=server.url, HARK_DATA_DIR=str(data_dir())),
        )
        chats = server.bodies("/api/chat")
    events = [json.loads(line) for line in r.stdout.splitlines()]
    replies = [e["text"] for e in events if e["event"] == "reply"]
    assert replies == ["Sorry, I didn't catch that."], (replies, r.stderr)
    # Nothing was sent to the model as what the user said.
    assert not any(m.get("role") == "user" for body in chats for m in body.get("messages", [])), chats
    assert sf.info(tmp_path / "o.wav").duration > 0.5


def test_hark_run_hears_a_quiet_speaker(tmp_path):
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, at_level(read_audio(speech_file("cmu_goforward.wav")), -65.0), 16000, subtype="PCM_16")
    with FakeOllama() as server:
        server.add_model("qwen3:1.7b")
        r = run_hark(
            "run",
            "--input",
            str(quiet),
            "--json",
            "--output",
            str(tmp_path / "o.wav"),
            env=hark_env(OLLAMA_HOST=server.url, HARK_DATA_DIR=str(data_dir())),
        )
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert not [e for e in events if e["event"] == "no_speech"], r.stdout
    transcripts = [e["text"].lower() for e in events if e["event"] == "transcript"]
    assert any("forward" in t for t in transcripts), (transcripts, r.stderr)


# ---------------------------------------------------------------- machine text is not read aloud


def test_machine_text_is_said_as_a_person_would():
    from voice.text import speakable  # the one home of "what a person would say", run on all speech

    assert speakable("I can't reach Ollama at http://127.0.0.1:11434.") == "I can't reach Ollama at a network address."
    assert speakable("The log is at https://www.example.com/x.") == "The log is at a link to example.com."
    assert speakable("Try tcp://gpu-box:10300 next.") == "Try a network address next."
    assert speakable("Saved it to ~/notes/todo.md.") == "Saved it to the todo file in your notes folder."
    assert speakable("Shall I run sh -c 'rm -rf /tmp/x'?") == "Shall I run a shell command?"
    assert speakable("Set `audio.input_device` in the config.") == "Set audio input device in the config."
    assert speakable("The server at 192.168.1.20:10200 hung up.") == "The server at a network address hung up."
    for plain in (
        "I added milk to your shopping list. Anything else?",
        "It is 5.30 p.m., e.g. now.",
        "The model qwen3:1.7b is ready.",
        "One and/or two.",
    ):
        assert speakable(plain) == plain


def test_piper_does_not_say_slash_or_tilde(synth, transcriber):
    from voice.audio import resample

    text = "I saved it to ~/notes/todo.md, and the log is at http://127.0.0.1:8080/logs."
    from voice.text import speakable

    audio = np.concatenate(list(synth.synthesize(speakable(text))))
    heard = transcriber.transcribe(
        resample((np.clip(audio, -1, 1) * 32767).astype(np.int16), synth.sample_rate, 16000)
    ).text.lower()
    assert "notes folder" in heard and "network address" in heard, heard
    for word in ("slash", "tilde", "dot", "http", "127"):
        assert word not in heard, heard
