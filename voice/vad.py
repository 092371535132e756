"""Endpointing: where an utterance starts and ends in a stream of frames.

A pure class: frames in, events out. No threads, no devices; tests feed it
frames from recordings. webrtcvad classifies each 30 ms frame; on top of it:
- pre-roll, so the first word is kept (speech is detected a few frames late);
- start hysteresis (`start_frames` voiced of the last `start_window`);
- a silence hangover before the end is declared;
- a minimum length (clicks and coughs are dropped) and a maximum length.
"""

from __future__ import annotations

import bisect
import collections
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from voice.audio import RATE
from voice.config import VadConfig


@dataclass(frozen=True)
class SpeechStarted:
    """Speech began (reported once the start hysteresis is met)."""

    audio_t: float  # stream time (s) of the first voiced frame of the trigger window


@dataclass(frozen=True)
class SpeechEnded:
    """An utterance, ended by silence, by its maximum length or by the end of the stream."""

    audio_t: float  # stream time (s) where the end was decided
    start_t: float  # stream time (s) of the first sample in `audio`
    audio: np.ndarray  # int16, 16 kHz, pre-roll included
    truncated: bool = False  # hit vad.max_utterance_s

    @property
    def duration(self) -> float:
        """Seconds of audio, pre-roll included."""
        return len(self.audio) / RATE


@dataclass(frozen=True)
class SpeechDiscarded:
    """Something too short to be an utterance (a click, a cough) was dropped."""

    audio_t: float
    reason: str


EndpointEvent = SpeechStarted | SpeechEnded | SpeechDiscarded


class LevelNormalizer:
    """Automatic gain in front of the speech classifier: quiet speakers count as speech.

    webrtcvad at aggressiveness 3 calls speech at -60 dBFS "silence". A peak follower (instant
    attack, slow release) tracks the level, and each frame is scaled so its peaks sit near
    `target_dbfs`, never by more than `max_gain_db`. Two things keep noise from becoming speech:
    - the room's noise floor (a low percentile of recent frame peaks) is never lifted above
      `noise_ceiling_dbfs`: webrtcvad calls a hiss at -37 dBFS "speech", so a recording at a
      normal level, with its own background, gets no gain at all;
    - while speech goes on (and `hold_frames` after) the level is not released, so the pauses
      inside a sentence are not amplified into "speech continues";
    - until the room has been heard (only digital silence so far) there is no gain.
    Only the classifier hears the gained frames; the audio kept is untouched.
    """

    def __init__(
        self,
        target_dbfs: float = -6.0,
        max_gain_db: float = 40.0,
        release_s: float = 1.5,
        frame_ms: int = 30,
        hold_frames: int = 10,
        noise_ceiling_dbfs: float = -45.0,
        floor_window_s: float = 3.0,
    ) -> None:
        self.target = 32768.0 * 10 ** (target_dbfs / 20)
        self.max_gain = 10 ** (max_gain_db / 20)
        self.noise_ceiling = 32768.0 * 10 ** (noise_ceiling_dbfs / 20)
        self.release = float(np.exp(-frame_ms / 1000 / release_s))
        self.hold_frames = hold_frames
        self.envelope = self.target / self.max_gain  # start at full gain: the noise ceiling guards it
        self.gain = self.max_gain
        self._hold = 0
        self._peaks: collections.deque[float] = collections.deque(maxlen=max(1, int(floor_window_s * 1000 / frame_ms)))
        # The same peaks kept sorted, so the floor is a lookup rather than np.percentile each frame.
        self._sorted: list[float] = []

    def _remember(self, peak: float) -> None:
        if len(self._peaks) == self._peaks.maxlen:
            del self._sorted[bisect.bisect_left(self._sorted, self._peaks[0])]
        self._peaks.append(peak)
        bisect.insort(self._sorted, peak)

    def _floor(self) -> float:
        """The 10th percentile of the recent peaks, exactly as `np.percentile(peaks, 10)` computes it."""
        s = self._sorted
        index = (len(s) - 1) * 0.1
        below = int(index)
        if below >= len(s) - 1:
            return s[-1]
        a, b = s[below], s[below + 1]
        t = index - below
        return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t  # numpy's lerp, rounding included

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """The frame as the classifier should hear it (int16, gained)."""
        # max |sample| without widening the frame (the int16 minimum's magnitude fits in a Python int)
        peak = float(max(int(frame.max()), -int(frame.min()))) if len(frame) else 0.0
        if peak > 0:  # digital silence (a muted or synthetic source) says nothing about the room
            self._remember(peak)
        if peak > self.envelope:
            self.envelope = peak  # attack at once: never clip a loud onset
        elif self._hold == 0:  # release only outside speech
            self.envelope = max(self.envelope * self.release, self.target / self.max_gain)
        gain = min(self.max_gain, self.target / max(self.envelope, 1.0))
        # No room heard yet: no gain; else the room's floor is never lifted above the noise ceiling.
        gain = min(gain, self.noise_ceiling / max(1.0, self._floor())) if self._peaks else 1.0
        self.gain = max(1.0, gain)
        if self.gain == 1.0:
            return frame
        # float32 product, clipped, truncated to int16: with ufuncs in place (np.clip's wrapper costs more here)
        gained = np.multiply(frame, np.float32(self.gain), dtype=np.float32)
        np.maximum(gained, -32768, out=gained)
        np.minimum(gained, 32767, out=gained)
        return gained.astype(np.int16)

    def voiced(self, is_speech: bool) -> None:
        """What the classifier said of the last frame: speech holds the level where it is."""
        self._hold = self.hold_frames if is_speech else max(0, self._hold - 1)


def webrtc_classifier(aggressiveness: int, normalize: bool = True) -> Callable[[bytes], bool]:
    """The speech/non-speech verdict of webrtcvad per frame, behind a `LevelNormalizer` unless `normalize` is off."""
    import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)
    if not normalize:
        return lambda frame: vad.is_speech(frame, RATE)
    agc = LevelNormalizer()

    def classify(frame: bytes) -> bool:
        voiced = bool(vad.is_speech(agc(np.frombuffer(frame, np.int16)).tobytes(), RATE))
        agc.voiced(voiced)
        return voiced

    return classify


class Endpointer:
    """Turns 16 kHz int16 frames into SpeechStarted / SpeechEnded / SpeechDiscarded events."""

    def __init__(
        self,
        cfg: VadConfig,
        frame_ms: int = 30,
        is_speech: Callable[[bytes], bool] | None = None,
    ) -> None:
        self.cfg = cfg
        self.frame_ms = frame_ms
        self.frame_samples = RATE * frame_ms // 1000
        self.is_speech = is_speech or webrtc_classifier(cfg.aggressiveness)
        self.pre_roll_frames = max(cfg.pre_roll_ms // frame_ms, cfg.start_window)
        self.hangover_frames = max(1, cfg.hangover_ms // frame_ms)
        self.max_frames = int(cfg.max_utterance_s * 1000 // frame_ms)
        self.min_voiced_frames = max(1, cfg.min_utterance_ms // frame_ms)
        self.frames_seen = 0
        self.reset()

    def reset(self) -> None:
        """Back to waiting for speech; forget everything heard (called at each recording boundary)."""
        self._ring: collections.deque[tuple[np.ndarray, bool]] = collections.deque(maxlen=self.pre_roll_frames)
        self._recording: list[np.ndarray] = []
        self._recording_start_frame = 0
        self._voiced_in_utterance = 0
        self._silence_run = 0
        self._in_speech = False
        self._await_silence = False  # after a truncation: wait for a pause before listening again

    @property
    def in_speech(self) -> bool:
        """Whether an utterance is open."""
        return self._in_speech

    @property
    def voiced_frames(self) -> int:
        """Voiced frames in the open utterance so far, pre-roll included (0 outside speech)."""
        return self._voiced_in_utterance if self._in_speech and not self._await_silence else 0

    @property
    def silence_frames(self) -> int:
        """Unvoiced frames since the last voiced one of the open utterance (0 outside speech)."""
        return self._silence_run if self._in_speech and not self._await_silence else 0

    def audio_so_far(self) -> np.ndarray:
        """The open utterance as it stands (pre-roll included); empty outside speech."""
        if not self._in_speech or not self._recording:
            return np.zeros(0, np.int16)
        return np.concatenate(self._recording)

    def end_now(self) -> EndpointEvent | None:
        """Close the open utterance here, before the hangover runs out (its words are known to be complete).

        None outside speech. The result is what the hangover would have given, only sooner.
        """
        if not self._in_speech or self._await_silence:
            return None
        return self._finish(self.frames_seen - 1, truncated=False)

    def _t(self, frame_index: int) -> float:
        return frame_index * self.frame_ms / 1000.0

    def process(self, frame: np.ndarray) -> list[EndpointEvent]:
        """Take one frame; the events it completes."""
        if len(frame) != self.frame_samples:
            raise ValueError(f"frame must have {self.frame_samples} samples, got {len(frame)}")
        voiced = bool(self.is_speech(frame.tobytes()))
        index = self.frames_seen
        self.frames_seen += 1
        events: list[EndpointEvent] = []

        if self._await_silence:
            self._silence_run = 0 if voiced else self._silence_run + 1
            if self._silence_run >= self.hangover_frames:
                self.reset()
            return events

        if not self._in_speech:
            self._ring.append((frame, voiced))
            window = list(self._ring)[-self.cfg.start_window :]
            if sum(v for _, v in window) >= self.cfg.start_frames:
                self._in_speech = True
                first_voiced = next(i for i, (_, v) in enumerate(window) if v)
                trigger_start = index - len(window) + 1 + first_voiced
                self._recording = [f for f, _ in self._ring]
                self._recording_start_frame = index - len(self._ring) + 1
                self._voiced_in_utterance = sum(v for _, v in self._ring)
                self._silence_run = 0
                self._ring.clear()
                events.append(SpeechStarted(self._t(trigger_start)))
            return events

        self._recording.append(frame)
        if voiced:
            self._voiced_in_utterance += 1
            self._silence_run = 0
        else:
            self._silence_run += 1
        if self._silence_run >= self.hangover_frames:
            events.append(self._finish(index, truncated=False))
        elif len(self._recording) >= self.max_frames:
            events.append(self._finish(index, truncated=True))
        return events

    def flush(self) -> list[EndpointEvent]:
        """End of stream: close an utterance that is still open."""
        if self._in_speech and not self._await_silence:
            return [self._finish(self.frames_seen - 1, truncated=False)]
        self.reset()
        return []

    def _finish(self, index: int, truncated: bool) -> EndpointEvent:
        audio = np.concatenate(self._recording) if self._recording else np.zeros(0, np.int16)
        start_t = self._t(self._recording_start_frame)
        voiced = self._voiced_in_utterance
        self.reset()
        if truncated:
            self._await_silence = True
        if voiced < self.min_voiced_frames:
            return SpeechDiscarded(self._t(index + 1), f"only {voiced * self.frame_ms} ms of speech")
        return SpeechEnded(self._t(index + 1), start_t, audio, truncated)
