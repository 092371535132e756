"""PortAudio's devices: listing, resolving a name or index (or a sound-server name), ALSA's messages.

The only place besides the microphone and the speaker that touches sounddevice; it is imported
lazily, so `hark --help` stays instant.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from voice.audio import DeviceError, DeviceSpec

log = logging.getLogger("hark.audio")


@dataclass(frozen=True)
class Device:
    """An audio device as PortAudio lists it."""

    index: int
    name: str
    inputs: int
    outputs: int
    default_rate: float
    hostapi: str
    is_default_input: bool = False
    is_default_output: bool = False


# ALSA prints its messages ("ALSA lib pcm.c:... underrun occurred") straight onto stderr,
# between Hark's own lines. Its error handler can be replaced: they go to the log instead.
# The handler must be set before PortAudio opens (or even lists) devices, and kept alive.
_alsa_handler: Any = None


def quiet_alsa() -> bool:
    """Send libasound's messages to the log (logger hark.alsa); True when the handler is in place."""
    global _alsa_handler
    if _alsa_handler is not None:
        return True
    import ctypes
    import ctypes.util

    try:
        lib = ctypes.CDLL(ctypes.util.find_library("asound") or "libasound.so.2")
    except OSError:
        return False  # no ALSA here (macOS, a container without it): nothing to quiet
    alsa_log = logging.getLogger("hark.alsa")
    # void handler(const char *file, int line, const char *function, int err, const char *fmt, ...):
    # the variadic arguments can't be read from ctypes, so the format itself is logged.
    handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)

    def handler(file: bytes, line: int, function: bytes, err: int, fmt: bytes) -> None:
        def text(b: bytes | None) -> str:
            return (b or b"").decode("utf-8", "replace")

        alsa_log.info("ALSA lib %s:%d:(%s) %s (err %d)", text(file), line, text(function), text(fmt), err)

    _alsa_handler = handler_type(handler)
    lib.snd_lib_error_set_handler(_alsa_handler)
    return True


def load_sounddevice():
    """The `sounddevice` module, imported on first use (after ALSA's messages are sent to the log)."""
    quiet_alsa()
    try:
        import sounddevice as sd
    except OSError as e:  # PortAudio library missing
        raise DeviceError(
            f"PortAudio is not installed ({e}). Install it with `sudo apt-get install libportaudio2`."
        ) from e
    return sd


def list_devices() -> list[Device]:
    """PortAudio's devices, with which are the system defaults."""
    sd = load_sounddevice()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except sd.PortAudioError as e:
        raise DeviceError(f"cannot list audio devices: {e}") from e
    out = []
    for i, d in enumerate(devices):
        out.append(
            Device(
                index=i,
                name=d["name"],
                inputs=d["max_input_channels"],
                outputs=d["max_output_channels"],
                default_rate=d["default_samplerate"],
                hostapi=hostapis[d["hostapi"]]["name"],
                is_default_input=(i == default_in),
                is_default_output=(i == default_out),
            )
        )
    return out


def refresh_devices() -> None:
    """Make PortAudio rescan devices (needed when a sound server starts after import)."""
    sd = load_sounddevice()
    sd._terminate()
    sd._initialize()


def resolve_device(spec: DeviceSpec, kind: str) -> Device:
    """Pick a device by index or case-insensitive name substring; None means the system default."""
    assert kind in ("input", "output")
    devices = list_devices()
    usable = [d for d in devices if (d.inputs if kind == "input" else d.outputs) > 0]
    listing = "; ".join(f"{d.index}: {d.name}" for d in usable) or "none"
    if not usable:
        raise DeviceError(
            f"no audio {kind} device found. Plug in a {'microphone' if kind == 'input' else 'speaker or headset'}, "
            "check that PulseAudio/PipeWire is running (`pactl info`), and run `hark devices`."
        )
    if spec is None or spec == "":
        default = [d for d in usable if (d.is_default_input if kind == "input" else d.is_default_output)]
        return default[0] if default else usable[0]
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        idx = int(spec)
        for d in usable:
            if d.index == idx:
                return d
        raise DeviceError(f"no {kind} device with index {idx}. Available {kind} devices: {listing}")
    matches = [d for d in usable if str(spec).lower() in d.name.lower()]
    if not matches:
        server = _server_device(str(spec), kind, usable)
        if server is not None:
            return server
        from voice.devices import server_devices

        names = ", ".join(d.name for d in server_devices() if d.kind == kind)
        raise DeviceError(
            f"no {kind} device matches '{spec}'. Available {kind} devices: {listing}"
            + (f"; sound server {'sources' if kind == 'input' else 'sinks'}: {names}" if names else "")
        )
    exact = [d for d in matches if d.name.lower() == str(spec).lower()]
    return (exact or matches)[0]


def _server_device(spec: str, kind: str, usable: list[Device]) -> Device | None:
    """A PulseAudio/PipeWire source or sink named `spec`: ALSA's `pulse` device, pointed at it.

    libpulse reads PULSE_SOURCE / PULSE_SINK when a stream is opened, so setting them here (the
    process's own environment) routes this process's capture or playback to that device.
    """
    from voice.devices import match_server_device, server_devices

    pulse = [d for d in usable if d.name.lower() == "pulse"]
    if not pulse:
        return None
    found = match_server_device(spec, kind, server_devices())
    if found is None:
        return None
    import os

    os.environ["PULSE_SOURCE" if kind == "input" else "PULSE_SINK"] = found.name
    log.info("%s: sound server device %s (%s) through ALSA's pulse", kind, found.name, found.description)
    p = pulse[0]
    return Device(
        p.index,
        f"{found.description} ({found.name})",
        p.inputs,
        p.outputs,
        p.default_rate,
        "pulse",
        p.is_default_input,
        p.is_default_output,
    )
