"""The microphone: 30 ms frames of 16 kHz mono int16 from a PortAudio input, resampled here.

Capture is a raw int16 stream whose callback only copies the block's bytes into a queue: the
PortAudio thread wakes 33 times a second, so any numpy work there is paid all day while Hark
idles. Resampling (for devices that cannot do 16 kHz) and cutting into 30 ms frames happen in
`frames()`, on the consumer's thread.

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

from voice.audio import RATE, DeviceError, DeviceSpec
from voice.audio_devices import load_sounddevice, resolve_device

log = logging.getLogger("hark.audio")


class MicrophoneSource:
    """Live capture: a PortAudio callback queues raw int16 blocks; `frames()` yields 30 ms frames of them."""

    def __init__(self, device: DeviceSpec = None, frame_ms: int = 30) -> None:
        self._spec = device
        self.device = resolve_device(device, "input")
        self.frame_samples = RATE * frame_ms // 1000
        # Blocks as captured (about one frame each), with the resampler to bring them to 16 kHz (None: already).
        self._queue: queue.Queue[tuple[bytes, Any] | None] = queue.Queue(maxsize=1000)
        self._stream: Any = None  # a sounddevice.RawInputStream while open
        self._resampler: Any = None  # a soxr.ResampleStream when the device cannot do 16 kHz
        self._pending = bytearray()  # 16 kHz samples not yet a whole frame (the consumer's side)
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
        try:
            sd.check_input_settings(device=self.device.index, channels=1, samplerate=RATE, dtype="int16")
        except Exception:
            # The device cannot do 16 kHz: capture at its own rate and resample in `frames()`.
            import soxr

            rate = int(self.device.default_rate)
            self._resampler = soxr.ResampleStream(rate, RATE, 1, dtype="int16")
        self.device_rate = rate
        try:
            self._stream = sd.RawInputStream(
                device=self.device.index,
                channels=1,
                samplerate=rate,
                dtype="int16",
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

    def _callback(self, indata, frames, time_info, status) -> None:  # PortAudio thread: as little as possible
        self.last_audio = time.monotonic()
        if status and status.input_overflow:
            self.overflows += 1
        try:
            self._queue.put_nowait((bytes(indata), self._resampler))
        except queue.Full:  # nobody has read for 30 s: drop the newest
            self.overflows += 1

    def frames(self, timeout: float = 0.5) -> Iterator[np.ndarray | None]:
        """Yield frames; yields None when no audio arrived within `timeout` (lets callers check for shutdown)."""
        size = self.frame_samples * 2
        while not self.closed.is_set():
            head = self._pending[:size]  # a copy (so the frame is writable); drain() may empty _pending meanwhile
            if len(head) == size:
                del self._pending[:size]
                yield np.frombuffer(head, np.int16)
                continue
            try:
                block = self._queue.get(timeout=timeout)
            except queue.Empty:
                yield None
                continue
            if block is None:
                return
            data, resampler = block
            if resampler is not None:
                data = resampler.resample_chunk(np.frombuffer(data, np.int16)).tobytes()
            self._pending += data

    def drain(self) -> None:
        """Drop everything captured so far (e.g. what the mic heard while Hark spoke)."""
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        self._pending.clear()

    def close(self) -> None:
        """Stop capturing for good; `frames()` ends."""
        self.closed.set()
        if self.overflows:
            log.warning("the microphone lost %d blocks of audio (the machine was too busy to keep up)", self.overflows)
        with self._open_lock:
            self._close_stream()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
