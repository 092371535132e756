"""The sound server's microphones and speakers (PulseAudio, or PipeWire's pulse server), by name.

PortAudio sees a PulseAudio/PipeWire machine through ALSA as two devices, `pulse` and
`default`, so a user with several microphones can't pick one from PortAudio's list. `pactl`
names them all (`alsa_input.usb-…`, with a description such as "Blue Yeti Analog Stereo").
A name from here in `audio.input_device` / `audio.output_device` opens ALSA's `pulse` device
with PULSE_SOURCE / PULSE_SINK set to it: libpulse reads those when the stream is opened.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import dataclass

log = logging.getLogger("hark.audio")


@dataclass(frozen=True)
class ServerDevice:
    """A source or sink of the sound server."""

    name: str  # what PULSE_SOURCE / PULSE_SINK take
    description: str  # what a person recognises
    kind: str  # "input" (a source) or "output" (a sink)

    @property
    def is_monitor(self) -> bool:
        """A sink's monitor: what a speaker plays, not a microphone."""
        return self.name.endswith(".monitor")


def parse_pactl_json(text: str, kind: str) -> list[ServerDevice]:
    """`pactl -f json list sources|sinks` (pactl 16 and later)."""
    try:
        items = json.loads(text)
    except ValueError:
        return []
    return [
        ServerDevice(str(i.get("name", "")), str(i.get("description") or i.get("name", "")), kind)
        for i in items
        if isinstance(i, dict) and i.get("name")
    ]


def parse_pactl_short(text: str, kind: str) -> list[ServerDevice]:
    """`pactl list short sources|sinks`: index, name, driver, format, state (tab-separated)."""
    out = []
    for line in text.splitlines():
        cols = line.split("\t")
        if len(cols) >= 2 and cols[1]:
            out.append(ServerDevice(cols[1], cols[1], kind))
    return out


def _pactl(*args: str) -> str | None:
    try:
        r = subprocess.run(["pactl", *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout if r.returncode == 0 else None


def server_devices() -> list[ServerDevice]:
    """Sources (inputs) and sinks (outputs) of the running sound server; [] without pactl or server."""
    if shutil.which("pactl") is None:
        return []
    found: list[ServerDevice] = []
    for what, kind in (("sources", "input"), ("sinks", "output")):
        text = _pactl("-f", "json", "list", what)
        if text is not None:
            found += parse_pactl_json(text, kind)
            continue
        text = _pactl("list", "short", what)  # an older pactl without -f json
        if text is not None:
            found += parse_pactl_short(text, kind)
    return found


def match_server_device(spec: str, kind: str, devices: list[ServerDevice]) -> ServerDevice | None:
    """The source/sink `spec` names: its exact name, else a unique part of a name or description."""
    mine = [d for d in devices if d.kind == kind]
    want = spec.strip().lower()
    for d in mine:
        if d.name.lower() == want:
            return d
    parts = [d for d in mine if want in d.name.lower() or want in d.description.lower()]
    if kind == "input" and len(parts) > 1:  # "yeti" means the microphone, not a speaker's monitor
        parts = [d for d in parts if not d.is_monitor] or parts
    return parts[0] if len(parts) == 1 else None
