"""A private PulseAudio daemon: real sound devices for tests and benchmarks, without touching the user's."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from tests.support.cli import hark_env


class Pulse:
    """A private PulseAudio daemon with two null sinks at 16 kHz mono float32.

    `hark_in` is what Hark hears (play into it, Hark records its monitor) and `hark_out` what Hark says
    (record its monitor).
    """

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

    def start(self) -> Pulse:
        """Start the daemon and wait until it answers (15 s at most)."""
        (self.runtime / "pulse").mkdir(parents=True, exist_ok=True)
        sink = "module-null-sink sink_name={} rate=16000 channels=1 format=float32le"
        subprocess.run(
            ["pulseaudio", "-n", "--daemonize=yes", "--exit-idle-time=-1", "--log-target=stderr",
             "--load=module-native-protocol-unix", f"--load={sink.format('hark_in')}",
             f"--load={sink.format('hark_out')}", "--load=module-always-sink"],
            env=self._env(), check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        deadline = time.time() + 15
        while time.time() < deadline:
            if subprocess.run(["pactl", "info"], env=self._env(), capture_output=True).returncode == 0:
                return self
            time.sleep(0.1)
        raise RuntimeError("PulseAudio did not come up")

    def stop(self) -> None:
        """Stop the daemon."""
        subprocess.run(["pulseaudio", "--kill"], env=self._env(), capture_output=True, timeout=30)

    def play(self, wav: Path, sink: str = "hark_in") -> None:
        """Play a file into a sink; returns once the sound server has played it."""
        subprocess.run(["paplay", f"--device={sink}", str(wav)], env=self._env(), check=True, timeout=120)

    def record(self, out: Path, source: str = "hark_out.monitor") -> subprocess.Popen[bytes]:
        """Record a source into a 16 kHz mono WAV until the returned process is stopped.

        With 20 ms latency the null sink renders (and its monitor delivers) in 20 ms blocks, so a sample's
        position in the file is its time on the sound server's clock.
        """
        return subprocess.Popen(
            ["parec", f"--device={source}", "--latency-msec=20", "--format=s16le", "--rate=16000", "--channels=1",
             "--file-format=wav", str(out)],
            env=self._env(),
        )  # fmt: skip

    def client_env(self, **extra: str) -> dict[str, str]:
        """Environment for a Hark process: its microphone is hark_in's monitor, its speaker hark_out."""
        return hark_env(**self.env, PULSE_SOURCE="hark_in.monitor", PULSE_SINK="hark_out", **extra)
