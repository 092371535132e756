"""Acoustic echo cancelling: Hark's own voice taken out of what the microphone hears (barge-in).

`EchoCanceller` wraps the WebRTC audio processing module (AEC3, the canceller in browsers), from
the `livekit` package. It is fed two streams:
- `render(samples, rate)`: on the speaker's PortAudio callback thread, exactly the float32 samples
  just handed to the device, silent blocks included, at the device's rate. It only queues them
  (two O(1) operations, no numpy work).
- `capture(frame)`: on the listener thread, for every microphone frame (16 kHz mono int16,
  `frame_ms` long, a multiple of 10 ms). It moves the queued render audio, resampled to 16 kHz,
  into a FIFO, feeds the module one 10 ms piece of it before each 10 ms piece of the frame, and
  returns the cleaned frame. Call it for every frame, also while not listening: the two streams
  are paired by counting samples.

What measurement on a speaker looped back into the microphone (tests/test_echo.py) made it so:
- One for one, not "all that is queued": the module pairs the streams by sample count and finds
  the delay itself (up to about 0.6 s), but has only 2 ms of headroom before it. Fed the
  speaker's 40 ms blocks as they came, it lost the echo after pauses; a render stream that
  slipped 7 ms late lost it for ten seconds. See `_Aligner`.
- While nothing has been played for `tail_s`, frames pass through untouched and the module does
  not run (0.1-0.25 ms of CPU a frame, against 0.7-1.4 ms while playing); render audio is counted
  off one for one, so the next reply is cancelled from its first syllable with what was learnt.
- A fresh module lets bits of Hark through for up to ~1.3 s of sound. Until it has heard
  `warmup_s` of it (after a reset, and after the speaker's stream restarted), frames heard while
  playing are silenced: no barge-in then, but no self-trigger either.
- After cancelling, Hark's voice sits 35-95 dB below what came in: inaudible, but the
  endpointer's gain (up to +40 dB in a silent room) made "speech" of it. Such frames are
  silenced; the user talking over Hark left 3-26 dB, so their speech passes. AEC3's comfort
  noise on a digitally silent microphone is removed the same way.
- SpeakerSink.cut (abort and restart the stream) made PortAudio ask for 0.4-1.2 s of audio at
  once, never heard: the count no longer pairs the streams. That is detected (render far ahead of
  real time) and handled as a fresh start: re-paired at the next sound, a fresh module, warm-up.
So the endpointer can run on `capture`'s frames unchanged. `playing`, `converging` and `stats()`
say what the canceller is doing, for logs and benchmarks.

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

PIN = "livekit==1.2.0"
CHUNK = RATE // 100  # the module works on 10 ms pieces
CUSHION_MS = 50  # render audio kept waiting beyond the least seen, so a late speaker block is rarely missing
RESIDUE = 10 ** (-35 / 10)  # while playing, a frame the module made 35 dB quieter held nothing but Hark's echo
FLOOR_DBFS = -70.0  # ... and one below this (RMS) before or after cancelling held nothing at all
BURST_S = 0.1  # render arriving twice this far ahead of real time: the output stream restarted


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
    """A ring of int16 samples."""

    def __init__(self, capacity: int) -> None:
        self.buf = np.zeros(capacity, np.int16)
        self.start = 0  # index of the oldest sample
        self.size = 0

    def put(self, x: np.ndarray) -> int:
        """Append `x`, dropping the oldest samples if it would overflow; how many were dropped."""
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
        """Move up to `n` samples into `out` (None: drop them); how many there were."""
        k = min(n, self.size)
        cap = len(self.buf)
        if out is not None:
            first = min(k, cap - self.start)
            out[:first] = self.buf[self.start : self.start + first]
            out[first:k] = self.buf[: k - first]
        self.start = (self.start + k) % cap
        self.size -= k
        return k

    def clear(self) -> None:
        """Empty it."""
        self.start = self.size = 0


class _Aligner:
    """Render audio at 16 kHz waiting for the microphone frames it goes with, kept in step with them.

    Each microphone frame takes exactly as many render samples as it has, so the pairing (the
    offset between the two streams) never moves while Hark speaks:
    - what the speaker delivers late is owed: silence is fed in its place now and those samples
      are dropped when they come (`owed` > 0), so every later sample stays paired as before
      (feeding them late instead moved the pairing, and the module lost the echo);
    - the pairing is set at the first sound (`settle`): the least slack seen while idle becomes
      `target` samples, so the speaker's bursts rarely run the FIFO dry;
    - a listener that falls behind leaves render audio waiting here, with the same pairing.
    """

    def __init__(self, capacity: int, frame_samples: int, target: int, max_owed: int) -> None:
        self.fifo = _Fifo(capacity)
        self.frame_samples = frame_samples
        self.target = target
        self.max_owed = max_owed
        self.owed = 0  # > 0: late render samples to drop when they come; < 0: silence to feed first
        self.slack: collections.deque[int] = collections.deque(maxlen=max(1, 2 * RATE // frame_samples))
        self.settled = False
        self.late = self.dropped = 0  # samples, for `EchoCanceller.stats`

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
        excess = min([*self.slack, self.fifo.size - self.owed]) - self.frame_samples - self.target
        if excess > 0:
            self.fifo.take(None, excess)
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
        if out is not None:
            out[z + got :] = 0
        missing = n - z - got
        if missing:
            self.owed += missing
            if self.owed > self.max_owed:  # the speaker stopped delivering (closed): start from here
                self.owed = 0


class EchoCanceller:
    """Removes what the speaker plays from 16 kHz int16 microphone frames (see the module docstring).

    `render` runs on the speaker's callback thread; `capture`, `reset` and the rest on the listener's.
    """

    def __init__(self, frame_ms: int = 30, tail_s: float = 1.0, warmup_s: float = 2.0, max_lag_s: float = 1.0) -> None:
        """A canceller for `frame_ms` microphone frames.

        Args:
            frame_ms: the microphone frame length, a multiple of 10 ms.
            tail_s: how long after the last sound played the module keeps running (the speaker's
                buffer plus the room's echo); after that, frames pass through untouched.
            warmup_s: after a reset or a restart of the speaker's stream, frames heard while
                playing are silenced until the module has been fed this much sound.
            max_lag_s: how far the listener may fall behind the speaker before the oldest render
                audio is dropped (the module then has to find the delay again).

        Raises:
            EchoCancellerUnavailable: the `livekit` package is missing or cannot load.
        """
        if frame_ms <= 0 or frame_ms % 10:
            raise ValueError(f"frame_ms must be a multiple of 10 ms, got {frame_ms}")
        self._rtc = _load_rtc()
        self.frame_samples = RATE * frame_ms // 1000
        self.tail_frames = max(1, math.ceil(tail_s * 1000 / frame_ms))
        self.warmup_frames = math.ceil(warmup_s * 1000 / frame_ms)
        # Blocks from the speaker's callback. Bounded, so a listener that stops calling `capture`
        # cannot make it grow: 1000 blocks is 40 s of SpeakerSink's 40 ms blocks.
        self._pending: collections.deque[tuple[float, np.ndarray, int]] = collections.deque(maxlen=1000)
        ms = RATE // 1000
        self._align = _Aligner(int(max_lag_s * RATE), self.frame_samples, CUSHION_MS * ms, max_owed=200 * ms)
        self._render = np.zeros(self.frame_samples, np.int16)
        self._floor = self.frame_samples * (32768 * 10 ** (FLOOR_DBFS / 20)) ** 2  # frame energy at the floor
        # One reusable 10 ms buffer per direction, handed to the module by address.
        self._rbuf, self._cbuf = bytearray(CHUNK * 2), bytearray(CHUNK * 2)
        self._rview = np.frombuffer(self._rbuf, np.int16)
        self._cview = np.frombuffer(self._cbuf, np.int16)
        self._rframe = self._rtc.AudioFrame(self._rbuf, RATE, 1, CHUNK)
        self._cframe = self._rtc.AudioFrame(self._cbuf, RATE, 1, CHUNK)
        self.reset()

    def _new_module(self) -> Any:
        apm = self._rtc.AudioProcessingModule(echo_cancellation=True, high_pass_filter=True)
        apm.set_stream_delay_ms(0)  # required with echo cancelling; AEC3 finds the delay itself
        return apm

    def reset(self) -> None:
        """Forget everything: queued render audio, the module's learnt echo path, the counts."""
        self._pending.clear()
        self._align.clear()
        self._apm = self._new_module()
        self._resamplers: dict[int, Any] = {}
        self._quiet = self.tail_frames  # frames since the last sound was played; >= tail: pass through
        self._budget = BURST_S * RATE  # render samples that may still arrive ahead of real time
        self._last_render = time.monotonic()
        self._was_loud = False
        self._energy_in = self._energy_out = 0.0  # what came in and what the module left, while playing
        self.frames_learnt = 0  # frames of sound fed to the module since the last (re)start
        self._counts = dict.fromkeys(("frames_cancelled", "frames_passed", "frames_gated", "restarts"), 0)

    # ------------------------------------------------------------------ speaker side

    def render(self, samples: np.ndarray, rate: int, at: float | None = None) -> None:
        """Queue what was just handed to the speaker (float32 mono at `rate`); O(1), never blocks.

        Call it from the output callback for every block, silent ones included, with a copy of the
        device buffer (PortAudio reuses it; this keeps a reference). `at` is when it was handed
        over (`time.monotonic()`, the default); only offline feeding needs to say.
        """
        self._pending.append((time.monotonic() if at is None else at, samples, rate))

    # ------------------------------------------------------------------ microphone side

    @property
    def playing(self) -> bool:
        """Whether Hark's voice can be in the microphone now (a sound was played within `tail_s`)."""
        return self._quiet < self.tail_frames

    @property
    def converging(self) -> bool:
        """Whether the module is still learning the echo path, so frames heard while playing are silenced."""
        return self.frames_learnt < self.warmup_frames

    def stats(self) -> dict[str, float]:
        """Counts since the reset, and the ERLE in dB.

        The ERLE is how much quieter the module made the frames heard while playing, after its
        warm-up and before the silencing; a user talking over Hark lowers it.
        """
        erle = 10 * math.log10(self._energy_in / self._energy_out) if self._energy_out > 0 else 0.0
        return {**self._counts, "erle_db": round(erle, 1)}

    def capture(self, frame: np.ndarray) -> np.ndarray:
        """The microphone frame (int16, `frame_samples` long) without what the speaker played into it."""
        if len(frame) != self.frame_samples:
            raise ValueError(f"frame must have {self.frame_samples} samples, got {len(frame)}")
        first = self._counts["frames_cancelled"] + self._counts["frames_passed"] == 0
        sounded = self._drain()
        if first:
            self._align.clear()  # played before the microphone's first frame: nothing here goes with it
        if sounded:
            self._align.settle()
            self._quiet = 0
        elif self._quiet < self.tail_frames:
            self._quiet += 1
        if self._quiet >= self.tail_frames:
            self._align.take(None)  # count off the render audio (silence) this frame goes with
            self._counts["frames_passed"] += 1
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
        self._counts["frames_cancelled"] += 1
        e_in = float(np.dot(frame.astype(np.float32), frame.astype(np.float32)))
        e_out = float(np.dot(out.astype(np.float32), out.astype(np.float32)))
        if not self.converging:
            self._energy_in += e_in
            self._energy_out += min(e_in, e_out)
        # Nothing but Hark's echo was in it, or nothing at all (the module adds comfort noise to
        # that), or next to nothing is left: it would only become "speech" behind the endpointer's gain.
        if self.converging or e_out < e_in * RESIDUE or min(e_in, e_out) < self._floor:
            self._counts["frames_gated"] += 1
            return np.zeros_like(frame)
        return out

    def _drain(self) -> bool:
        """Move the queued render blocks, at 16 kHz, into the FIFO; whether any of them was sound."""
        sounded = restarted = False
        while self._pending:
            t, samples, rate = self._pending.popleft()
            x = np.asarray(samples, dtype=np.float32)
            loud = bool(x.any())  # the speaker idles on exact zeros
            sounded = sounded or loud
            quiet = not loud and not self._was_loud  # the resampler's own delay holds only silence too
            self._was_loud = loud
            if rate != RATE:
                rs = self._resamplers.get(rate)
                if rs is None:
                    import soxr

                    rs = self._resamplers[rate] = soxr.ResampleStream(rate, RATE, 1, dtype="float32")
                x = rs.resample_chunk(x)
            # Render far ahead of real time: the output stream restarted (SpeakerSink.cut aborts
            # and starts it; PortAudio then asked for 0.4-1.2 s within a few ms, once 8 s within
            # 0.3 s) or caught up after the device ran dry. Either way the count no longer says
            # which render sample goes with which microphone sample.
            self._budget = min(self._budget + (t - self._last_render) * RATE, BURST_S * RATE) - len(x)
            self._last_render = t
            if self._budget < -BURST_S * RATE:
                self._budget = 0.0
                restarted = True
            if not restarted:
                pcm = np.zeros(len(x), np.int16) if quiet else (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)
                self._align.put(pcm)
        if restarted:
            # Start afresh: pair at the next sound, with a fresh module (an old one kept looking
            # at the old delay for seconds) learning behind the warm-up's silence.
            self._align.clear()
            self._apm = self._new_module()
            self.frames_learnt = 0
            self._counts["restarts"] += 1
        return sounded


def pulse_echo_cancel_command(
    source_master: str | None = None, sink_master: str | None = None, name: str = "hark_echo_cancel"
) -> list[str]:
    """The `pactl` command that loads PulseAudio's (or PipeWire-pulse's) WebRTC echo canceller.

    It makes a virtual microphone `<name>_source` and speaker `<name>_sink`: what plays through
    the sink is removed from the source. Use them with `audio.input_device: <name>_source` and
    `audio.output_device: <name>_sink` (Hark's own canceller then finds nothing left to remove;
    no setting skips it yet); `pactl unload-module module-echo-cancel` undoes it. The masters
    default to the current default devices.
    """
    cmd = ["pactl", "load-module", "module-echo-cancel", "aec_method=webrtc"]
    cmd += [f"source_name={name}_source", f"sink_name={name}_sink"]
    if source_master:
        cmd.append(f"source_master={source_master}")
    if sink_master:
        cmd.append(f"sink_master={sink_master}")
    return cmd
