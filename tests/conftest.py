"""Shared fixtures: the real recordings, the real models (loaded once), a real PulseAudio daemon."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEECH_DIR = Path(os.environ.get("HARK_SPEECH_DATA", ROOT.parent / "shared" / "data" / "speech"))
HARK = [sys.executable, "-m", "voice.cli"]


def manifest() -> list[dict]:
    with (SPEECH_DIR / "manifest.tsv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def speech_rows() -> list[dict]:
    return [r for r in manifest() if not r["speaker_or_source"].startswith("NON-SPEECH")]


def nonspeech_rows() -> list[dict]:
    return [r for r in manifest() if r["speaker_or_source"].startswith("NON-SPEECH")]


def speech_file(name: str) -> Path:
    path = SPEECH_DIR / name
    assert path.exists(), f"shared speech data missing: {path} (the tests need ../shared/data/speech)"
    return path


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    """Every test gets its own HARK_DATA_DIR: nothing touches the user's real state."""
    d = tmp_path / "hark-data"
    monkeypatch.setenv("HARK_DATA_DIR", str(d))
    monkeypatch.setenv("HARK_MODELS_DIR", str(_models_dir()))
    yield d


def _models_dir() -> Path:
    d = ROOT / "models"
    d.mkdir(exist_ok=True)
    return d


@pytest.fixture(scope="session")
def stt_config():
    from voice.config import SttConfig

    return SttConfig(model="tiny.en", device="cpu")


@pytest.fixture(scope="session")
def transcriber(stt_config):
    from voice.stt import WhisperTranscriber

    t = WhisperTranscriber(stt_config, _models_dir()).load()
    t.warm()
    return t


@pytest.fixture(scope="session")
def synth():
    from voice.config import TtsConfig
    from voice.tts import PiperSynthesizer

    return PiperSynthesizer(TtsConfig(), _models_dir()).load()


def hark_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run_hark(*args: str, env: dict | None = None, timeout: float = 180, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*HARK, *args], cwd=ROOT, env=env or hark_env(), capture_output=True, text=True,
                          timeout=timeout, input=input)


class Pulse:
    """A private PulseAudio daemon with two null sinks at 16 kHz mono float32:
    `hark_in` (what Hark hears: play into it, Hark records its monitor) and
    `hark_out` (what Hark says: record its monitor)."""

    def __init__(self, runtime: Path) -> None:
        self.runtime = runtime
        self.env = {
            "XDG_RUNTIME_DIR": str(runtime),
            "PULSE_RUNTIME_PATH": str(runtime / "pulse"),
            "PULSE_SERVER": f"unix:{runtime / 'pulse' / 'native'}",
            "HOME": str(runtime),
        }

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def start(self) -> "Pulse":
        (self.runtime / "pulse").mkdir(parents=True, exist_ok=True)
        sink = "module-null-sink sink_name={} rate=16000 channels=1 format=float32le"
        subprocess.run(
            ["pulseaudio", "-n", "--daemonize=yes", "--exit-idle-time=-1", "--log-target=stderr",
             "--load=module-native-protocol-unix", f"--load={sink.format('hark_in')}",
             f"--load={sink.format('hark_out')}", "--load=module-always-sink"],
            env=self._env(), check=True, capture_output=True, timeout=30,
        )
        deadline = time.time() + 15
        while time.time() < deadline:
            if subprocess.run(["pactl", "info"], env=self._env(), capture_output=True).returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError("PulseAudio did not come up")

    def stop(self) -> None:
        subprocess.run(["pulseaudio", "--kill"], env=self._env(), capture_output=True, timeout=30)

    def play(self, wav: Path, sink: str = "hark_in") -> None:
        subprocess.run(["paplay", f"--device={sink}", str(wav)], env=self._env(), check=True, timeout=120)

    def record(self, out: Path, source: str = "hark_out.monitor") -> subprocess.Popen:
        return subprocess.Popen(
            ["parec", f"--device={source}", "--latency-msec=20", "--format=s16le", "--rate=16000", "--channels=1", "--file-format=wav", str(out)],
            env=self._env(),
        )

    def client_env(self, **extra: str) -> dict[str, str]:
        """Environment for a Hark process: its microphone is hark_in's monitor, its speaker hark_out."""
        return hark_env(**self.env, PULSE_SOURCE="hark_in.monitor", PULSE_SINK="hark_out", **extra)


@pytest.fixture(scope="session")
def pulse(tmp_path_factory):
    assert shutil.which("pulseaudio"), "pulseaudio is not installed: run `make test`, which installs it"
    p = Pulse(tmp_path_factory.mktemp("pulse")).start()
    yield p
    p.stop()
