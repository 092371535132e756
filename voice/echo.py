"""Acoustic echo cancelling: Hark's own voice taken out of what the microphone hears (barge-in).

`EchoCanceller` wraps the WebRTC audio processing module (AEC3, the canceller in browsers), from
the `livekit` package. It is fed two streams:
- `render(samples, rate)`: on the speaker's PortAudio callback thread, exactly the float32 samples
  just handed to the device, silent blocks included, at the device's rate. It only queues them.
- `capture(frame)`: on the listener thread, for every microphone frame (16 kHz mono int16,
  `frame_ms` long, a multiple of 10 ms). It moves the queued render audio (resampled to 16 kHz)
  into a FIFO, then feeds the module one 10 ms piece of render audio before each 10 ms piece of
  the frame, and returns the cleaned frame.

Why one for one: the module lines the two streams up by counting samples, and finds the delay
between them itself (up to about 0.6 s). The speaker's blocks (40 ms) and the microphone's
(30 ms) arrive in uneven bursts; fed as they come, that jitter reached the module, and after
each pause it lost the echo for whole sentences. The FIFO absorbs it: the module sees a steady
stream, and a listener that falls behind (frames queued) keeps the same alignment. When the
FIFO runs short, the missing part is fed as silence (the speaker had not yet been given more).

While nothing has been played for `tail_s`, `capture` returns frames untouched and the module
does not run (microseconds a frame); render audio keeps being counted off one for one, so the
next reply lines up as before and is cancelled from its first syllable with what was learnt.

Telling the user from Hark: see `playing`, `erle_db`, `residual_db` and tests/test_echo.py for
what was measured on a speaker looped back into the microphone.

Alternative on desktops: PulseAudio's or PipeWire's own WebRTC canceller, as a virtual
microphone and speaker (see `pulse_echo_cancel_command`); point audio.input_device and
audio.output_device at them and turn this one off (two cancellers in a row do no good).
"""

from __future__ import annotations

import collections
import math
import time
from typing import Any

import numpy as np

from voice.audio import RATE

CHUNK = RATE // 100  # the module works on 10 ms pieces
SILENT = 10 ** (-80 / 20)  # a render block whose peak is below -80 dBFS is silence
CUSHION_MS = 50  # render audio kept waiting beyond the least seen, so a late speaker block is rarely missing
RESIDUE_DB = -35.0  # while playing, a frame the module made this much quieter held nothing but Hark's echo
BURST_S = 0.1  # render arriving twice this far ahead of real time: the output stream restarted (see `_drain`)
PIN = "livekit==1.2.0"


class EchoCancellerUnavailable(RuntimeError):
    """The WebRTC audio processing module cannot be loaded."""


def _load_rtc() -> Any:
    """`livekit.rtc`, imported on first use (it loads a 28 MB native library)."""
    try:
        from livekit import rtc
    except (ImportError, OSError) as e:
        raise EchoCancellerUnavailable(
            f"the echo canceller needs the `livekit` package ({e}): install it with `pip install {PIN}`."
        ) from e
    return rtc


class _Fifo:
    """Render audio at 16 kHz int16 waiting for the microphone frames it goes with (one reader, one writer)."""

    def __init__(self, capacity: int) -> None:
        self.buf = np.zeros(capacity, np.int16)
        self.start = 0  # index of the oldest sample
        self.size = 0

    def put(self, x: np.ndarray) -> int:
        """Append `x`; drop the oldest samples if it would overflow. How many were dropped."""
        cap = len(self.buf)
        dropped = max(0, self.size + len(x) - cap)
        if dropped:
            self.take(None, min(dropped, self.size))
            x = x[max(0, len(x) - cap) :]
        end = (self.start + self.size) % cap
        first = min(len(x), cap - end)
        self.buf[end : end + first] = x[:first]
        self.buf[: len(x) - first] = x[first:]
        self.size += len(x)
        return dropped

    def take(self, out: np.ndarray | None, n: int) -> int:
        """Move up to `n` samples into `out` (None: drop them), zero-filling the rest; how many there were."""
        k = min(n, self.size)
        cap = len(self.buf)
        if out is not None:
            first = min(k, cap - self.start)
            out[:first] = self.buf[self.start : self.start + first]
            out[first:k] = self.buf[: k - first]
            out[k:n] = 0
        self.start = (self.start + k) % cap
        self.size -= k
        return k

    def clear(self) -> None:
        """Empty it."""
        self.start = self.size = 0


class _Aligner:
    """Render audio at 16 kHz waiting for the microphone frames it goes with, kept in step with them.

    The module pairs render and microphone samples by count, so the pairing (the offset between
    the two streams) must not move while Hark speaks: AEC3's filter has 2 ms of headroom, and a
    render stream that slipped 7 ms later (silence fed where the speaker's block was late) lost
    the echo for ten seconds. So:
    - what the speaker delivers late is owed: silence is fed in its place now, and those samples
      are dropped when they come (`owed` > 0), which keeps every later sample paired as before;
    - the pairing is set only when a sound starts after a pause (`settle`): the least slack the
      FIFO had lately becomes `target` samples, so the speaker's bursts never run it dry. It
      moves only when that slack is off by more than `band`: after a barge-in, PortAudio's
      restarted stream asks for 0.3-1 s of audio it never plays, which would otherwise put the
      render stream that far ahead of the echo.
    """

    def __init__(self, capacity: int, frame_samples: int, target: int, max_owed: int) -> None:
        self.fifo = _Fifo(capacity)
        self.frame_samples = frame_samples
        self.target = target
        self.max_owed = max_owed
        self.owed = 0  # > 0: late render samples to drop when they come; < 0: silence to feed first
        self.slack: collections.deque[int] = collections.deque(maxlen=max(1, 2 * RATE // frame_samples))
        self.settled = False
        self.short = self.late = self.dropped = self.forgiven = self.moved = 0  # samples, for diagnosis

    def clear(self) -> None:
        """Start over: nothing waiting, no pairing set."""
        self.fifo.clear()
        self.owed = 0
        self.slack.clear()
        self.settled = False

    def put(self, x: np.ndarray) -> None:
        """Append render samples (dropping those owed)."""
        if self.owed > 0:
            k = min(self.owed, len(x))
            self.owed -= k
            self.late += k
            x = x[k:]
        self.dropped += self.fifo.put(x)

    def settle(self) -> None:
        """A sound starts: set the pairing, unless it is set already."""
        if self.settled:
            return
        self.settled = True
        least = min([*self.slack, self.fifo.size - self.owed]) - self.frame_samples
        excess = least - self.target
        self.moved += abs(excess)
        if excess > 0:
            self.fifo.take(None, min(excess, self.fifo.size))
        else:
            self.owed += excess  # a cushion of silence, fed before what is waiting

    def take(self, out: np.ndarray | None) -> None:
        """The render samples that go with the next microphone frame, into `out` (None: drop them)."""
        n = self.frame_samples
        self.slack.append(self.fifo.size - max(self.owed, 0))
        z = 0
        if self.owed < 0:
            z = min(n, -self.owed)
            self.owed += z
            if out is not None:
                out[:z] = 0
        got = self.fifo.take(None if out is None else out[z:], n - z)
        missing = n - z - got
        if missing:
            self.short += missing
            self.owed += missing
            if self.owed > self.max_owed:  # the speaker stopped delivering for good: start from here
                self.forgiven += self.owed
                self.owed = 0


class EchoCanceller:
    """Removes what the speaker plays from 16 kHz int16 microphone frames (see the module docstring).

    `render` runs on the speaker's callback thread; `capture`, `reset` and the measurements on the
    listener's.
    """

    def __init__(
        self,
        frame_ms: int = 30,
        tail_s: float = 1.0,
        max_lag_s: float = 1.0,
        warmup_s: float = 2.0,

        noise_suppression: bool = False,
    ) -> None:
        """A canceller for `frame_ms` microphone frames.

        Args:
            frame_ms: the microphone frame length, a multiple of 10 ms.
            tail_s: how long after the last sound played the module keeps running (the speaker's
                buffer plus the room's echo); after that, frames pass through untouched.
            max_lag_s: how far the listener may fall behind the speaker before the oldest render
                audio is dropped (the module then has to find the delay again).
            warmup_s: after a reset, frames heard while playing are silenced until the module has
                been fed this much sound (it learns the echo path from it; before, Hark leaks through).
            noise_suppression: also run WebRTC's noise suppressor on the microphone frames.

        Raises:
            EchoCancellerUnavailable: the `livekit` package is missing or cannot load.
        """
        if frame_ms <= 0 or frame_ms % 10:
            raise ValueError(f"frame_ms must be a multiple of 10 ms, got {frame_ms}")
        self._rtc = _load_rtc()
        self.frame_samples = RATE * frame_ms // 1000
        self.tail_frames = max(1, math.ceil(tail_s * 1000 / frame_ms))
        self.warmup_frames = math.ceil(warmup_s * 1000 / frame_ms)
        self._noise_suppression = noise_suppression
        # Blocks from the speaker's callback. Bounded, so a listener that stops calling `capture`
        # cannot make it grow: 1000 blocks is 40 s of Hark's 40 ms output blocks.
        self._pending: collections.deque[tuple[float, np.ndarray, int]] = collections.deque(maxlen=1000)
        ms = RATE // 1000
        self._align = _Aligner(int(max_lag_s * RATE), self.frame_samples, target=CUSHION_MS * ms, max_owed=200 * ms)
        self._render = np.zeros(self.frame_samples, np.int16)
        # One reusable 10 ms buffer per direction, handed to the module by address.
        self._rbuf, self._cbuf = bytearray(CHUNK * 2), bytearray(CHUNK * 2)
        self._rview = np.frombuffer(self._rbuf, np.int16)
        self._cview = np.frombuffer(self._cbuf, np.int16)
        self.reset()

    def _new_module(self) -> Any:
        apm = self._rtc.AudioProcessingModule(
            echo_cancellation=True,
            noise_suppression=self._noise_suppression,
            high_pass_filter=True,
            auto_gain_control=False,
        )
        apm.set_stream_delay_ms(0)  # required with echo cancelling; AEC3 finds the delay itself
        return apm

    def reset(self) -> None:
        """Forget everything: queued render audio, the module's learnt echo path, the measurements."""
        self._pending.clear()
        self._align.clear()
        self._apm = self._new_module()
        self._rframe = self._rtc.AudioFrame(self._rbuf, RATE, 1, CHUNK)
        self._cframe = self._rtc.AudioFrame(self._cbuf, RATE, 1, CHUNK)
        self._resamplers: dict[int, Any] = {}
        self._quiet = self.tail_frames  # frames since the last sound was played; >= tail: pass through
        self._in_energy = 0.0  # smoothed energies of what came in and went out while playing
        self._out_energy = 0.0
        self.residual_db = 0.0
        self.frames_cancelled = 0
        self.frames_passed = 0
        self.frames_learnt = 0  # frames of sound fed to the module (see `converging`)
        self.frames_gated = 0  # frames silenced while playing (converging, or nothing but echo left)
        self._budget = BURST_S * RATE  # render samples that may still arrive ahead of real time
        self._last_render = time.monotonic()
        self.restarts = 0  # how often the speaker's stream restarted (see `_drain`)

    # ------------------------------------------------------------------ speaker side

    def render(self, samples: np.ndarray, rate: int) -> None:
        """Queue what was just handed to the speaker (float32 mono at `rate`); O(1), never blocks.

        Call it from the output callback for every block, silent ones included, with a copy of the
        device buffer (PortAudio reuses it; this keeps a reference).
        """
        self._pending.append((time.monotonic(), samples, rate))

    # ------------------------------------------------------------------ microphone side

    @property
    def playing(self) -> bool:
        """Whether Hark's voice can be in the microphone now (a sound was played within `tail_s`)."""
        return self._quiet < self.tail_frames

    @property
    def converging(self) -> bool:
        """Whether the module is still learning the echo path: frames heard while playing are silenced.

        After a reset, or when the speaker's stream restarted, until `warmup_s` of sound was fed.
        """
        return self.frames_learnt < self.warmup_frames

    @property
    def erle_db(self) -> float:
        """Echo return loss enhancement: how much quieter the microphone is after cancelling, in dB.

        Smoothed over about the last second of frames heard while playing. Near-end speech (the
        user talking over Hark) lowers it: it measures the canceller only while Hark alone is heard.
        """
        if self._out_energy <= 0 or self._in_energy <= 0:
            return 0.0
        return 10 * math.log10(self._in_energy / self._out_energy)

    def capture(self, frame: np.ndarray) -> np.ndarray:
        """The microphone frame (int16, `frame_samples` long) without what the speaker played into it."""
        if len(frame) != self.frame_samples:
            raise ValueError(f"frame must have {self.frame_samples} samples, got {len(frame)}")
        sounded = self._drain()
        if self.frames_cancelled + self.frames_passed == 0:
            self._align.clear()  # played before the microphone's first frame: nothing here goes with it
        if sounded:
            self._align.settle()  # the first sound (after a reset or restart) pairs the streams
            self._quiet = 0
        elif self._quiet < self.tail_frames:
            self._quiet += 1
        if self._quiet >= self.tail_frames:
            self._align.take(None)  # count off the render audio (silence) this frame goes with
            self.frames_passed += 1
            return frame
        self._align.take(self._render)
        if self._render.any():
            self.frames_learnt += 1
        out = np.empty_like(frame)
        for i in range(0, self.frame_samples, CHUNK):
            self._rview[:] = self._render[i : i + CHUNK]
            self._apm.process_reverse_stream(self._rframe)
            self._cview[:] = frame[i : i + CHUNK]
            self._apm.process_stream(self._cframe)
            out[i : i + CHUNK] = self._cview
        self.frames_cancelled += 1
        out = self._measure(frame, out)
        if self.converging or self.residual_db < RESIDUE_DB:
            # What is left of a frame that was all echo sits 35-95 dB below it: inaudible, but the
            # endpointer's gain (up to +40 dB in a silent room) would make "speech" of it. The user
            # talking over Hark left 3-26 dB (measured), so nothing of theirs is lost.
            self.frames_gated += 1
            return np.zeros_like(frame)
        return out

    def _drain(self) -> bool:
        """Move the queued render blocks, at 16 kHz, into the FIFO; whether any of them was sound."""
        sounded = restarted = False
        while self._pending:
            t, samples, rate = self._pending.popleft()
            x = np.asarray(samples, dtype=np.float32)
            if len(x) and float(np.max(np.abs(x))) > SILENT:
                sounded = True
            if rate != RATE:
                rs = self._resamplers.get(rate)
                if rs is None:
                    import soxr

                    rs = self._resamplers[rate] = soxr.ResampleStream(rate, RATE, 1, dtype="float32")
                x = rs.resample_chunk(x)
            # Render far ahead of real time means the output stream restarted (SpeakerSink.cut
            # aborts and starts it: PortAudio then asked for 0.4-1.2 s within a few ms, once 8 s
            # within 0.3 s, most of it never heard) or caught up after the device ran dry. The
            # sample count no longer says which render sample goes with which microphone sample:
            # pair them afresh at the next sound, with a fresh module finding the echo behind the
            # warm-up's silence.
            self._budget = min(self._budget + (t - self._last_render) * RATE, BURST_S * RATE) - len(x)
            self._last_render = t
            if self._budget < -BURST_S * RATE:
                self._budget = 0.0
                restarted = True
            if restarted:
                continue
            self._align.put((np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16))
        if restarted:
            self._align.clear()
            self._apm = self._new_module()  # an old module sticks to the old delay for seconds
            self.frames_learnt = 0
            self.restarts += 1
        return sounded

    def _measure(self, frame: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Update the measurements; the frame to hand on (`out`, or `frame` where the module added noise)."""
        f_in, f_out = frame.astype(np.float32), out.astype(np.float32)
        e_in = float(np.dot(f_in, f_in)) + 1.0
        e_out = float(np.dot(f_out, f_out)) + 1.0
        if e_out > e_in:
            # AEC3 fills what it suppresses with comfort noise (-64 dBFS on a digitally silent
            # microphone); the endpointer's gain would lift that to "speech". Nothing was removed.
            out, e_out = frame, e_in
        self.residual_db = 10 * math.log10(e_out / e_in)
        a = 0.03  # about a second of 30 ms frames
        self._in_energy += a * (e_in - self._in_energy)
        self._out_energy += a * (e_out - self._out_energy)
        return out


def pulse_echo_cancel_command(
    source_master: str | None = None, sink_master: str | None = None, name: str = "hark_echo_cancel"
) -> list[str]:
    """The `pactl` command that loads PulseAudio's (or PipeWire-pulse's) WebRTC echo canceller.

    It makes a virtual microphone `<name>_source` and speaker `<name>_sink`: what plays through
    the sink is removed from the source. Use them with `audio.input_device: <name>_source` and
    `audio.output_device: <name>_sink`, and Hark's own canceller off (`voice.echo`); `pactl
    unload-module module-echo-cancel` undoes it. The masters default to the current default devices.
    """
    cmd = ["pactl", "load-module", "module-echo-cancel", "aec_method=webrtc"]
    cmd += [f"source_name={name}_source", f"sink_name={name}_sink"]
    if source_master:
        cmd.append(f"source_master={source_master}")
    if sink_master:
        cmd.append(f"sink_master={sink_master}")
    return cmd
