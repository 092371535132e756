"""The microphone: 30 ms frames of 16 kHz mono int16 from a PortAudio input, resampled here.

Capture can stop (a USB microphone unplugged, the sound server restarted): `healthy()` says so
and `reopen()` opens the same device again.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from voice.audio import RATE, DeviceError, DeviceSpec, to_int16
from voice.audio_devices import load_sounddevice, resolve_device

log = logging.getLogger("hark.audio")


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
        sd = load_sounddevice()
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
