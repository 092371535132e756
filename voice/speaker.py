"""Where speech goes: the speaker (a PortAudio output kept open), a WAV file, nothing, or several.

`SpeakerSink` reopens its stream on the next sentence after the device went away and never
waits forever on a dead one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from voice.audio import DeviceError, DeviceSpec, resample, to_float32, to_int16, write_wav
from voice.audio_devices import load_sounddevice, resolve_device

log = logging.getLogger("hark.audio")


class AudioSink:
    """Where Hark's voice goes. `play` queues samples; `wait` blocks until they are heard."""

    on_first_audio: Callable[[], None] | None = None
    # Called with exactly what the device is given (float32 at `device_rate`), from its callback:
    # the echo canceller's reference. Must not block.
    render_tap: Callable[[np.ndarray, int], None] | None = None

    def position(self) -> tuple[float, float]:
        """(seconds queued, seconds handed to the device) since the sink opened: where playback stands."""
        return (0.0, 0.0)

    def play(self, samples: np.ndarray, rate: int) -> None:
        """Queue mono samples at `rate` to be heard."""
        raise NotImplementedError

    def wait(self, timeout: float | None = None) -> bool:
        """Block until what was queued has been heard (or `timeout`); False if it was not."""
        return True

    def stop(self) -> None:
        """Drop what has not been played yet."""

    def cut(self) -> None:
        """Silence now (barge-in): drop what is queued and, where possible, what the device still holds."""
        self.stop()

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
        sd = load_sounddevice()
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
        self._queued = 0  # samples at device_rate given to play() (minus what stop() dropped)
        self._played = 0  # samples handed to the device
        self._stream: Any = None  # a sounddevice.OutputStream while open
        self._open()

    def _open(self) -> None:
        sd = load_sounddevice()
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
            self._queued += len(samples)
            self._buf.put(samples)

    def position(self) -> tuple[float, float]:
        """(seconds queued, seconds handed to the device)."""
        return self._queued / self.device_rate, self._played / self.device_rate

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
        self._played += filled
        tap = self.render_tap
        if tap is not None:
            tap(out.copy(), self.device_rate)
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
            self._queued = self._played

    def cut(self) -> None:
        """Drop what is queued, then restart the stream so the device's own buffer is dropped too.

        `latency: high` keeps ~0.1 s in the device: without this a barge-in would still hear it.
        """
        self.stop()
        stream = self._stream
        if stream is None:
            return
        try:
            stream.abort()  # discards the buffers PortAudio has not played
            stream.start()
        except Exception as e:  # the device went away meanwhile: the next sentence reopens it
            log.debug("restarting the output stream after a cut failed: %s", e)
        self._idle.set()

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

    def position(self) -> tuple[float, float]:
        """Everything written counts as heard."""
        n = sum(len(c) for c in self._chunks) / self.rate
        return n, n

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

    def position(self) -> tuple[float, float]:
        """Where the first sink (the real device, if any) stands."""
        return self.sinks[0].position() if self.sinks else (0.0, 0.0)

    @property
    def render_tap(self):
        """The echo canceller's reference comes from the first sink."""
        return self.sinks[0].render_tap if self.sinks else None

    @render_tap.setter
    def render_tap(self, tap) -> None:
        if self.sinks:
            self.sinks[0].render_tap = tap

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

    def cut(self) -> None:
        """Cut every sink."""
        for s in self.sinks:
            s.cut()

    def close(self) -> None:
        """Close every sink."""
        for s in self.sinks:
            s.close()
