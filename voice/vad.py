"""Endpointing: where an utterance starts and ends in a stream of frames.

A pure class: frames in, events out. No threads, no devices; tests feed it
frames from recordings. webrtcvad classifies each 30 ms frame; on top of it:
- pre-roll, so the first word is kept (speech is detected a few frames late);
- start hysteresis (`start_frames` voiced of the last `start_window`);
- a silence hangover before the end is declared;
- a minimum length (clicks and coughs are dropped) and a maximum length.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np

from voice.audio import RATE
from voice.config import VadConfig



@dataclass(frozen=True)
class SpeechStarted:
    audio_t: float            # stream time (s) of the first voiced frame of the trigger window


@dataclass(frozen=True)
class SpeechEnded:
    audio_t: float            # stream time (s) where the end was decided
    start_t: float            # stream time (s) of the first sample in `audio`
    audio: np.ndarray         # int16, 16 kHz, pre-roll included
    truncated: bool = False   # hit vad.max_utterance_s

    @property
    def duration(self) -> float:
        return len(self.audio) / RATE


@dataclass(frozen=True)
class SpeechDiscarded:
    audio_t: float
    reason: str


EndpointEvent = Union[SpeechStarted, SpeechEnded, SpeechDiscarded]


def webrtc_classifier(aggressiveness: int) -> Callable[[bytes], bool]:
    import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)
    return lambda frame: vad.is_speech(frame, RATE)


class Endpointer:
    """Turns 16 kHz int16 frames into SpeechStarted / SpeechEnded / SpeechDiscarded events."""

    def __init__(
        self,
        cfg: VadConfig,
        frame_ms: int = 30,
        is_speech: Optional[Callable[[bytes], bool]] = None,
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
        return self._in_speech

    def _t(self, frame_index: int) -> float:
        return frame_index * self.frame_ms / 1000.0

    def process(self, frame: np.ndarray) -> list[EndpointEvent]:
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
            window = list(self._ring)[-self.cfg.start_window:]
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
