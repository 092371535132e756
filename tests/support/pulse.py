"""The private PulseAudio daemon the tests use: it lives in `voice/bench/pulse.py` (`hark bench` needs it).

Here `client_env` also puts the repository on PYTHONPATH, as every Hark subprocess a test starts needs.
"""

from __future__ import annotations

from tests.support.cli import hark_env
from voice.bench import pulse as _pulse
from voice.bench.pulse import PulseError

__all__ = ["Pulse", "PulseError"]


class Pulse(_pulse.Pulse):
    """`voice.bench.pulse.Pulse` whose client environment is `hark_env`'s (the repository importable)."""

    def client_env(self, **extra: str) -> dict[str, str]:
        """Environment for a Hark process: its microphone is hark_in's monitor, its speaker hark_out."""
        return hark_env(**self.env, PULSE_SOURCE="hark_in.monitor", PULSE_SINK="hark_out", **extra)
