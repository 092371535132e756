"""Audio in and out: the only module that touches sounddevice or audio files.

Inside the pipeline audio is 16 kHz mono int16 in 30 ms frames. Devices and
files are opened at whatever rate they have and resampled here, at the edge
(soxr), so no other stage ever sees another format.

Devices can go away (a USB microphone unplugged, the sound server restarted):
`MicrophoneSource.healthy()` says when capture has stopped and `reopen()`
opens the same device again; `SpeakerSink` reopens its stream on the next
sentence and never waits forever on a dead one.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import struct
import threading
import time
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("hark.audio")

RATE = 16000
DeviceSpec = int | str | None


class AudioError(Exception):
    """An audio file or device problem; the message says what to do."""


class AudioFileError(AudioError):
    """An audio file is missing, unreadable or empty."""


class DeviceError(AudioError):
    """An audio device is missing or cannot be opened."""


# ---------------------------------------------------------------- conversion


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] as int16 (int16 passes through)."""
    if samples.dtype == np.int16:
        return samples
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


def to_float32(samples: np.ndarray) -> np.ndarray:
    """Int16 or float64 audio as float32 in [-1, 1]."""
    if samples.dtype == np.float32:
        return samples
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    return samples.astype(np.float32)


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample mono audio (float32 or int16 in, same dtype out)."""
    if rate_in == rate_out or len(samples) == 0:
        return samples
    import soxr

    out = soxr.resample(to_float32(samples), rate_in, rate_out, quality="HQ")
    return to_int16(out) if samples.dtype == np.int16 else out.astype(np.float32)


QUIET_PEAK_DBFS = -30.0  # an utterance whose loudest sample is below this is lifted
LIFT_TO_PEAK_DBFS = -6.0
LIFT_MAX_DB = 40.0


def lift_quiet(samples: np.ndarray) -> np.ndarray:
    """A quiet speaker's utterance (int16), raised so its peak is at -6 dBFS (at most +40 dB).

    Whisper's Silero filter drops speech at -60 dBFS as "no speech"; at a normal level the same
    words pass. Audio at a normal level is returned unchanged; digital silence stays silence.
    """
    peak = float(np.max(np.abs(samples.astype(np.int32)))) if len(samples) else 0.0
    if peak == 0.0 or peak >= 32768 * 10 ** (QUIET_PEAK_DBFS / 20):
        return samples
    gain = min(32768 * 10 ** (LIFT_TO_PEAK_DBFS / 20) / peak, 10 ** (LIFT_MAX_DB / 20))
    return np.clip(np.round(samples.astype(np.float32) * gain), -32768, 32767).astype(np.int16)


def frames_of(samples: np.ndarray, frame_samples: int) -> Iterator[np.ndarray]:
    """Split int16 audio into fixed frames; the last partial frame is zero-padded."""
    for start in range(0, len(samples), frame_samples):
        frame = samples[start : start + frame_samples]
        if len(frame) < frame_samples:
            frame = np.concatenate([frame, np.zeros(frame_samples - len(frame), np.int16)])
        yield frame


# ---------------------------------------------------------------- files


def _wav_truncation(path: Path) -> str | None:
    """For RIFF/WAVE files, say so if the data chunk is shorter than its header claims."""
    try:
        with path.open("rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            size = path.stat().st_size
            pos = 12
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                cid, clen = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                pos += 8
                if cid == b"data":
                    if clen != 0xFFFFFFFF and pos + clen > size:
                        return f"its header promises {clen} bytes of audio but only {size - pos} are there"
                    return None
                pos += clen + (clen & 1)
                f.seek(pos)
    except OSError:
        return None


def read_audio(path: str | Path) -> np.ndarray:
    """Read any audio file soundfile knows (WAV, FLAC, OGG, ...) as 16 kHz mono int16.

    Raises AudioFileError with a message that names the file and the fix.
    """
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioFileError(f"{path}: no such file")
    if path.is_dir():
        raise AudioFileError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioFileError(f"{path}: the file is empty (0 bytes)")
    truncated = _wav_truncation(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except sf.LibsndfileError as e:
        raise AudioFileError(
            f"{path}: not a readable audio file ({e.error_string if hasattr(e, 'error_string') else e}). "
            "Give a WAV, FLAC or OGG file, e.g. record one with `arecord -f S16_LE -r 16000 -c 1 file.wav`."
        ) from e
    except (OSError, RuntimeError) as e:
        raise AudioFileError(f"{path}: cannot read it ({e})") from e
    if truncated:
        log.warning("%s is truncated: %s; using the audio that is there", path, truncated)
    if data.shape[0] == 0:
        raise AudioFileError(f"{path}: the file holds no audio samples" + (f" ({truncated})" if truncated else ""))
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return to_int16(resample(mono.astype(np.float32), int(rate), RATE))


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> None:
    """Write mono audio (int16 or float) as a 16-bit WAV file, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(to_int16(samples).tobytes())


# ---------------------------------------------------------------- devices


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


def _sd():
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
    sd = _sd()
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
    sd = _sd()
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


class MicrophoneSource:
    """Live capture: a PortAudio callback feeds 30 ms int16 frames into a queue."""

    def __init__(self, device: DeviceSpec = None, frame_ms: int = 30) -> None:
        self._spec = device
        self.device = resolve_device(device, "input")
        self.frame_samples = RATE * frame_ms // 1000
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=1000)
        self._stream: Any = None  # a sounddevice.InputStream while open
        self._resampler = None
        self._pending = np.zeros(0, np.int16)
        self.overflows = 0
        self.closed = threading.Event()
        self._open_lock = threading.Lock()
        self.last_audio = time.monotonic()  # when the callback last delivered samples (or the stream opened)

    def start(self) -> MicrophoneSource:
        """Open the stream and start capturing (raises DeviceError when it cannot)."""
        with self._open_lock:
            if self.closed.is_set():
                raise DeviceError("the microphone was closed")
            return self._open()

    def _open(self) -> MicrophoneSource:
        sd = _sd()
        rate = RATE
        self._resampler = None
        self._pending = np.zeros(0, np.int16)
        try:
            sd.check_input_settings(device=self.device.index, channels=1, samplerate=RATE, dtype="float32")
        except Exception:
            # The device cannot do 16 kHz: capture at its own rate and resample here.
            import soxr

            rate = int(self.device.default_rate)
            self._resampler = soxr.ResampleStream(rate, RATE, 1, dtype="float32")
        self.device_rate = rate
        try:
            self._stream = sd.InputStream(
                device=self.device.index,
                channels=1,
                samplerate=rate,
                dtype="float32",
                blocksize=int(rate * self.frame_samples / RATE),
                callback=self._callback,
            )
            self._stream.start()
        except Exception as e:
            self._close_stream()
            raise DeviceError(
                f"cannot open microphone '{self.device.name}': {e}. "
                "Try another with --input-device (see `hark devices`)."
            ) from e
        self.last_audio = time.monotonic()
        log.info("microphone: %s at %d Hz", self.device.name, rate)
        return self

    def healthy(self, stall_s: float = 5.0) -> str | None:
        """None while capture works; else why it stopped (the stream died, or no audio for `stall_s`)."""
        stream = self._stream
        if stream is None:
            return "the microphone is not open"
        try:
            active = bool(stream.active)
        except Exception as e:  # PortAudio refuses to answer: as good as gone
            return f"the microphone stream failed ({e})"
        if not active:
            return "the microphone stream stopped (the device or the sound server went away)"
        silent = time.monotonic() - self.last_audio
        if silent > stall_s:
            return f"the microphone delivered no audio for {silent:.0f} seconds"
        return None

    def reopen(self) -> MicrophoneSource:
        """Close the dead stream and open the same device again (raises DeviceError while it is missing)."""
        with self._open_lock:
            if self.closed.is_set():
                raise DeviceError("the microphone was closed")
            self._close_stream()
            self.device = resolve_device(self._spec, "input")
            return self._open()

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
            except Exception:
                log.debug("stopping input stream failed", exc_info=True)
            try:
                stream.close()
            except Exception:
                log.debug("closing input stream failed", exc_info=True)

    def _callback(self, indata, frames, time_info, status) -> None:  # PortAudio thread
        if status.input_overflow:
            self.overflows += 1
        self.last_audio = time.monotonic()
        mono = indata[:, 0].copy()
        if self._resampler is not None:
            mono = self._resampler.resample_chunk(mono)
        samples = np.concatenate([self._pending, to_int16(mono)])
        n = len(samples) // self.frame_samples
        for i in range(n):
            try:
                self._queue.put_nowait(samples[i * self.frame_samples : (i + 1) * self.frame_samples])
            except queue.Full:
                self.overflows += 1
        self._pending = samples[n * self.frame_samples :]

    def frames(self, timeout: float = 0.5) -> Iterator[np.ndarray | None]:
        """Yield frames; yields None when no audio arrived within `timeout` (lets callers check for shutdown)."""
        while not self.closed.is_set():
            try:
                frame = self._queue.get(timeout=timeout)
            except queue.Empty:
                yield None
                continue
            if frame is None:
                return
            yield frame

    def drain(self) -> None:
        """Drop everything captured so far (e.g. what the mic heard while Hark spoke)."""
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    def close(self) -> None:
        """Stop capturing for good; `frames()` ends."""
        self.closed.set()
        if self.overflows:
            log.warning("the microphone lost %d blocks of audio (the machine was too busy to keep up)", self.overflows)
        with self._open_lock:
            self._close_stream()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)


class AudioSink:
    """Where Hark's voice goes. `play` queues samples; `wait` blocks until they are heard."""

    on_first_audio: Callable[[], None] | None = None

    def play(self, samples: np.ndarray, rate: int) -> None:
        """Queue mono samples at `rate` to be heard."""
        raise NotImplementedError

    def wait(self, timeout: float | None = None) -> bool:
        """Block until what was queued has been heard (or `timeout`); False if it was not."""
        return True

    def stop(self) -> None:
        """Drop what has not been played yet (barge-in)."""

    def close(self) -> None:
        """Release the device."""
        pass


class SpeakerSink(AudioSink):
    """A PortAudio output stream kept open for the whole session (opening one per turn costs latency)."""

    REOPEN_EVERY_S = 2.0  # a dead speaker is tried again at most this often
    # One callback's worth of sound. 40 ms: no underrun with three CPU-bound processes beside a long
    # `hark say` (same as 100 ms), and 72 ms from audio_out_start to the first sample instead of 202 ms.
    OUTPUT_BLOCK_S = 0.04

    def __init__(self, device: DeviceSpec = None, rate: int = 22050, latency: str = "high") -> None:
        sd = _sd()
        self._spec = device
        self._latency = latency
        self._closed = False
        self._last_open = 0.0
        self.device = resolve_device(device, "output")
        self.rate = rate
        try:
            sd.check_output_settings(device=self.device.index, channels=1, samplerate=rate, dtype="float32")
            self.device_rate = rate
        except Exception:
            self.device_rate = int(self.device.default_rate)
        self._buf: queue.Queue[np.ndarray] = queue.Queue()
        self._current = np.zeros(0, np.float32)
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._announce_first = False
        self._stream: Any = None  # a sounddevice.OutputStream while open
        self._open()

    def _open(self) -> None:
        sd = _sd()
        self._last_open = time.monotonic()
        try:
            # A fixed block of OUTPUT_BLOCK_S: the callback runs 25 times a second, not once per
            # tiny period, so a busy interpreter (Whisper, Piper) makes it late far less often; a
            # late callback is what the ALSA pulse plugin reports as an underrun.
            self._stream = sd.OutputStream(
                device=self.device.index,
                channels=1,
                samplerate=self.device_rate,
                dtype="float32",
                callback=self._callback,
                latency=self._latency,
                blocksize=int(self.device_rate * self.OUTPUT_BLOCK_S),
            )
            self._stream.start()
        except Exception as e:
            self._stream = None
            raise DeviceError(
                f"cannot open speaker '{self.device.name}': {e}. Try another with --output-device (see `hark devices`)."
            ) from e
        log.info("speaker: %s at %d Hz", self.device.name, self.device_rate)

    def _alive(self) -> bool:
        try:
            return self._stream is not None and bool(self._stream.active)
        except Exception:
            return False

    def _ensure_open(self) -> None:
        """A speaker whose stream died (sound server restarted) is reopened, at most every few seconds."""
        if self._alive() or self._closed:
            return
        if time.monotonic() - self._last_open < self.REOPEN_EVERY_S:
            raise DeviceError(f"the speaker '{self.device.name}' is not available")
        old, self._stream = self._stream, None
        if old is not None:
            try:
                old.close()
            except Exception:
                log.debug("closing the dead output stream failed", exc_info=True)
        self.stop()
        self._idle.set()
        self._open()

    def play(self, samples: np.ndarray, rate: int) -> None:
        """Queue samples (resampled to the device rate); the callback plays them."""
        self._ensure_open()
        samples = to_float32(samples)
        if rate != self.device_rate:
            samples = resample(samples, rate, self.device_rate)
        with self._lock:
            if self._idle.is_set():
                self._announce_first = True
            self._idle.clear()
            self._buf.put(samples)

    def _callback(self, outdata, frames, time_info, status) -> None:  # PortAudio thread
        out = outdata[:, 0]
        filled = 0
        while filled < frames:
            if len(self._current) == 0:
                try:
                    self._current = self._buf.get_nowait()
                except queue.Empty:
                    break
            n = min(frames - filled, len(self._current))
            out[filled : filled + n] = self._current[:n]
            self._current = self._current[n:]
            filled += n
        out[filled:] = 0
        if filled and self._announce_first:
            self._announce_first = False
            if self.on_first_audio:
                self.on_first_audio()
        if filled == 0 and len(self._current) == 0:
            with self._lock:
                if self._buf.empty():
                    self._idle.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the queue is played out and the device buffer drained; False if the stream died or timed out."""
        end = None if timeout is None else time.monotonic() + timeout
        ok = False
        while not ok:
            ok = self._idle.wait(0.25)
            if not ok and not self._alive():  # the stream died: what is queued will never be heard
                self.stop()
                self._idle.set()
                return False
            if not ok and end is not None and time.monotonic() >= end:
                return False
        if ok:
            # What the callback handed over is still in the device buffer for `latency` seconds.
            time.sleep(float(self._stream.latency) if self._stream else 0.0)
        return ok

    def stop(self) -> None:
        """Drop what has not been played yet."""
        with self._lock:
            while not self._buf.empty():
                self._buf.get_nowait()
            self._current = np.zeros(0, np.float32)

    def close(self) -> None:
        """Stop the stream for good."""
        self._closed = True
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception:
                log.debug("closing output stream failed", exc_info=True)
            self._stream = None
        self._idle.set()


class NullSink(AudioSink):
    """Hears nothing (`hark ask --quiet`): no first-audio event, since nobody hears anything."""

    def play(self, samples: np.ndarray, rate: int) -> None:
        """Drop the samples."""
        pass


class WavSink(AudioSink):
    """Collects everything Hark says and writes one WAV at close (`--output`)."""

    def __init__(self, path: str | Path, rate: int = 22050) -> None:
        self.path = Path(path)
        self.rate = rate
        self._chunks: list[np.ndarray] = []
        self._announce = True

    def play(self, samples: np.ndarray, rate: int) -> None:
        """Keep the samples for the WAV file."""
        if self._announce and len(samples):
            self._announce = False
            if self.on_first_audio:
                self.on_first_audio()
        self._chunks.append(to_int16(resample(to_float32(samples), rate, self.rate)))

    def wait(self, timeout: float | None = None) -> bool:
        """Mark the end of a reply (the next `play` reports first audio again)."""
        self._announce = True  # the next play starts a new reply
        return True

    def samples(self) -> np.ndarray:
        """Everything said so far, int16 at `rate`."""
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)

    def close(self) -> None:
        """Write the WAV file."""
        write_wav(self.path, self.samples(), self.rate)


class TeeSink(AudioSink):
    """Play to several sinks (speaker and a WAV file)."""

    def __init__(self, *sinks: AudioSink) -> None:
        self.sinks = sinks
        self._first: Callable[[], None] | None = None

    @property
    def on_first_audio(self):
        """Called when the first sink starts to sound."""
        return self._first

    @on_first_audio.setter
    def on_first_audio(self, cb) -> None:
        self._first = cb
        # Only the first sink (the real device if there is one) reports first audio.
        for i, s in enumerate(self.sinks):
            s.on_first_audio = cb if i == 0 else None

    def play(self, samples: np.ndarray, rate: int) -> None:
        """Play on every sink."""
        for s in self.sinks:
            s.play(samples, rate)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every sink."""
        return all(s.wait(timeout) for s in self.sinks)

    def stop(self) -> None:
        """Stop every sink."""
        for s in self.sinks:
            s.stop()

    def close(self) -> None:
        """Close every sink."""
        for s in self.sinks:
            s.close()
