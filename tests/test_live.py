"""The live loop on real audio devices: a private PulseAudio daemon with null sinks.

Speech is played into `hark_in`; `hark listen` records its monitor as the microphone
and speaks into `hark_out`, whose monitor the test records. Nothing here is a file
shortcut: audio goes through PortAudio, ALSA's pulse plugin and the sound server.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.support.cli import HARK
from tests.support.listen import HarkProcess
from tests.support.paths import ROOT
from tests.support.speech import speech_file

MODEL = "qwen3:1.7b"


@pytest.fixture
def hark(pulse, ollama, tmp_path, _data_dir):
    config = tmp_path / "config.yaml"
    config.write_text(f"llm:\n  model: {MODEL}\nconfirm:\n  timeout_s: 8\n")
    procs = []

    def start(extra: str = "") -> HarkProcess:
        if extra:
            config.write_text(config.read_text() + extra)
        p = HarkProcess(pulse.client_env(HARK_DATA_DIR=str(_data_dir), OLLAMA_HOST=ollama.url), config)
        procs.append(p)
        p.wait_for("ready", timeout=120)
        return p

    yield start
    for p in procs:
        p.stop()


def speech_energy(path: Path) -> float:
    data, _rate = sf.read(path, dtype="float32")
    return float(np.sqrt(np.mean(np.square(data)))) if len(data) else 0.0


def test_spoken_instruction_through_real_devices(pulse, hark, transcriber, tmp_path):
    h = hark()
    recording = tmp_path / "hark_out.wav"
    rec = pulse.record(recording)
    try:
        time.sleep(0.5)
        pulse.play(speech_file("cmu_goforward.wav"))
        transcript = h.wait_for("transcript")
        assert transcript["text"].lower().startswith("go forward")
        reply = h.wait_for("reply")  # emitted once the reply has been played
        assert reply["text"] == f"You said: {transcript['text']}"
        time.sleep(0.5)
    finally:
        rec.send_signal(signal.SIGINT)
        rec.wait(timeout=10)
    names = [e["event"] for e in h.seen]
    assert (
        names.index("speech_start")
        < names.index("speech_end")
        < names.index("transcript")
        < names.index("audio_out_start")
        < names.index("audio_out_end")
        < names.index("reply")
    )
    # The reply reached the output device: what its monitor recorded is Hark's voice saying it.
    assert speech_energy(recording) > 0.005
    from voice.audio import read_audio

    heard = transcriber.transcribe(read_audio(recording)).text.lower()
    assert "you said" in heard and "meters" in heard, heard
    code = h.stop()
    assert code == 0, "".join(h.stderr)[-3000:]  # Ctrl-C: a clean exit


def test_confirmation_answered_on_the_microphone_after_the_question(pulse, hark, synth, tmp_path, _data_dir):
    from skills.store import TaskStore
    from voice.audio import write_wav

    store = TaskStore(_data_dir / "hark.db")
    store.add("buy milk", "inbox")
    store.add("call mom", "inbox")
    store.close()
    command = tmp_path / "command.wav"
    audio = np.concatenate(list(synth.synthesize("Delete all my tasks.")))
    write_wav(
        command, np.concatenate([np.zeros(4000, np.float32), audio, np.zeros(8000, np.float32)]), synth.sample_rate
    )

    h = hark()
    pulse.play(command)
    request = h.wait_for("confirm_request")
    assert "all 2 of your tasks" in request["text"]
    h.wait_for("audio_out_end")  # the question has been heard in full
    pulse.play(speech_file("speechcommands_yes.wav"))
    answer = h.wait_for("confirm_answer")
    assert answer["verdict"] == "yes"
    h.wait_for("action_result")
    h.wait_for("reply")
    h.stop()
    store = TaskStore(_data_dir / "hark.db")
    assert store.list_tasks() == []
    store.close()


def test_does_not_take_its_own_voice_for_the_user(pulse, hark):
    """The speaker routed back into the microphone, as on a laptop without a headset (default: muted)."""
    env = pulse._env()
    module = subprocess.run(
        ["pactl", "load-module", "module-loopback", "source=hark_out.monitor", "sink=hark_in", "latency_msec=60"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    try:
        h = hark()
        pulse.play(speech_file("cmu_goforward.wav"))
        h.wait_for("reply")
        later = h.drain(6.0)
        assert not [e for e in later if e["event"] in ("barge_in", "own_voice")], later
        # It heard its own "You said: go forward ten meters" on the loopback, and must not have answered it.
        assert not [e for e in later if e["event"] == "transcript"], later
    finally:
        subprocess.run(["pactl", "unload-module", module], env=env, capture_output=True)


def test_missing_microphone_is_a_clear_message(pulse, ollama, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("audio:\n  input_device: no-such-microphone\n")
    r = subprocess.run(
        [*HARK, "listen", "--config", str(config)],
        cwd=ROOT,
        env=pulse.client_env(OLLAMA_HOST=ollama.url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert "no input device matches 'no-such-microphone'" in r.stderr
    assert "Traceback" not in r.stderr


def test_an_answer_begun_before_the_timeout_is_heard_to_its_end(pulse, monkeypatch):
    """The confirmation wait ends at its timeout only if the user has not started speaking."""
    from voice.audio_devices import refresh_devices
    from voice.config import VadConfig
    from voice.events import EventBus
    from voice.listen import LiveListener
    from voice.microphone import MicrophoneSource

    for k, v in pulse.client_env().items():
        if k.startswith(("PULSE", "XDG", "HOME")):
            monkeypatch.setenv(k, v)
    refresh_devices()
    listener = LiveListener(MicrophoneSource(), VadConfig(), EventBus()).start()
    try:
        time.sleep(2.5)  # a fresh null-sink monitor delivers nothing for its first moments
        listener.resume()
        # cmu_goforward: speech from 0.33 s to 2.5 s of the file, so it starts ~1 s from now and
        # goes on well past the 1.6 s timeout.
        threading.Timer(0.6, pulse.play, args=(speech_file("cmu_goforward.wav"),)).start()
        t0 = time.monotonic()
        utt = listener.next_utterance(timeout=1.6)
        waited = time.monotonic() - t0
        assert utt is not None, "the answer was cut off at the timeout"
        assert waited > 2.5 and utt.end_t - utt.start_t > 2.0
    finally:
        listener.close()
