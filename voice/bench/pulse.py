"""A private PulseAudio daemon: real sound devices for `hark bench` and the tests, without touching the user's."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

IN_SINK, OUT_SINK = "hark_in", "hark_out"


class PulseError(RuntimeError):
    """The private sound server could not be started."""


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
        missing = [tool for tool in ("pulseaudio", "pactl", "paplay", "parec") if shutil.which(tool) is None]
        if missing:
            raise PulseError(
                f"{', '.join(missing)} not found: install the pulseaudio and pulseaudio-utils packages "
                "(sudo apt-get install pulseaudio pulseaudio-utils)"
            )
        (self.runtime / "pulse").mkdir(parents=True, exist_ok=True)
        sink = "module-null-sink sink_name={} rate=16000 channels=1 format=float32le"
        subprocess.run(
            ["pulseaudio", "-n", "--daemonize=yes", "--exit-idle-time=-1", "--log-target=stderr",
             "--load=module-native-protocol-unix", f"--load={sink.format(IN_SINK)}",
             f"--load={sink.format(OUT_SINK)}", "--load=module-always-sink"],
            env=self._env(), check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        deadline = time.time() + 15
        while time.time() < deadline:
            if subprocess.run(["pactl", "info"], env=self._env(), capture_output=True).returncode == 0:
                return self
            time.sleep(0.1)
        raise PulseError("the private PulseAudio daemon did not answer within 15 s")

    def stop(self) -> None:
        """Stop the daemon."""
        subprocess.run(["pulseaudio", "--kill"], env=self._env(), capture_output=True, timeout=30)

    def play(self, wav: Path, sink: str = IN_SINK) -> None:
        """Play a file into a sink; returns once the sound server has played it."""
        subprocess.run(["paplay", f"--device={sink}", str(wav)], env=self._env(), check=True, timeout=120)

    def play_async(self, wav: Path, sink: str = IN_SINK) -> subprocess.Popen[bytes]:
        """Start playing a file into a sink and return at once (the process ends when it has played)."""
        return subprocess.Popen(["paplay", f"--device={sink}", str(wav)], env=self._env())

    def record(self, out: Path, source: str = f"{OUT_SINK}.monitor") -> subprocess.Popen[bytes]:
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
        return {**os.environ, **self.env, "PULSE_SOURCE": f"{IN_SINK}.monitor", "PULSE_SINK": OUT_SINK, **extra}
