"""Utterance sources: the microphone or a sequence of audio files, endpointed.

Both give the turn loop the same thing: `next_utterance(timeout)` returns the
next thing the user said (16 kHz int16 audio) or None for silence.

With a transcriber that streams (a Wyoming server, `voice.stt.StreamingTranscriber`),
the live listener sends the audio while the user is still speaking: at the start
of speech it opens a stream and feeds it the pre-roll, then every frame (feeding
never blocks); a discarded utterance cancels it, and a finished one carries it
in `Utterance.stream`, so after the end of speech the server has only to decode.

With a local transcriber, a `Speculator` (voice.speculate) starts transcribing at the first pause
of an utterance; if the silence holds, the utterance carries that result (`Utterance.transcript`),
and when its words read as finished the utterance ends there, before the hangover runs out.

With an echo canceller (`echo`), every frame is cleaned of what Hark itself is playing before the
endpointer hears it, so the user can interrupt Hark (`on_speech_start` tells the engine at once).

The microphone thread never dies silently: a microphone that stops (unplugged,
sound server gone) or an unexpected error is reported as an `error` event
(stage "microphone", with a `spoken` line for the loop to say) and the device
is reopened with backoff until it works again (`microphone_back` event).
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from voice import events as ev
from voice.audio import AudioFileError, frames_of, read_audio
from voice.config import VadConfig
from voice.events import EventBus
from voice.microphone import MicrophoneSource
from voice.speculate import Speculator
from voice.stt import SttStream, Transcriber, Transcript, stream_opener
from voice.vad import Endpointer, EndpointEvent, SpeechDiscarded, SpeechEnded, SpeechStarted

log = logging.getLogger("hark.listen")


@dataclass(frozen=True)
class Utterance:
    """One thing the user said, as cut by the endpointer."""

    audio: np.ndarray  # int16, 16 kHz mono
    start_t: float  # stream time of the first sample (s)
    end_t: float  # stream time where the end was decided (s)
    truncated: bool = False
    source: str = "microphone"
    # The same audio already on its way to the transcriber (see the module docstring); None: transcribe `audio`.
    stream: SttStream | None = field(default=None, compare=False, repr=False)
    # Its transcript, begun at the pause before the end (see voice.speculate); None: transcribe `audio`.
    transcript: Future[Transcript] | None = field(default=None, compare=False, repr=False)
    # It began while Hark's voice was in the microphone (barge-in): it may be Hark's own words...
    over_speech: bool = False
    # ...and lasted long enough over it to stop Hark (`barge_in_min_speech_ms`).
    stopped_hark: bool = False


class EchoCanceller(Protocol):
    """What the listener needs of an echo canceller (voice.echo): clean one microphone frame."""

    @property
    def playing(self) -> bool:
        """Whether Hark's voice can be in the microphone now."""
        ...

    def capture(self, frame: np.ndarray) -> np.ndarray:
        """The frame without what the speaker played into it (int16, same length)."""
        ...


class UtteranceSource(Protocol):
    """Where the turn loop's utterances come from: the microphone or files."""

    exhausted: bool

    def next_utterance(self, timeout: float | None = None) -> Utterance | None:
        """The next utterance, or None for silence."""
        ...

    def pause(self) -> None:
        """Hark is about to speak: stop hearing."""
        ...

    def resume(self) -> None:
        """Hark has finished speaking: listen again."""
        ...

    def close(self) -> None:
        """Stop for good."""
        ...


def _emit_endpoint(events: EventBus, e, source: str, max_s: float, early: bool = False) -> Utterance | None:
    """Publish one endpointer event; return the finished utterance if any."""
    if isinstance(e, SpeechStarted):
        events.emit(ev.SpeechStart(audio_t=round(e.audio_t, 3), source=source))
    elif isinstance(e, SpeechDiscarded):
        events.emit(ev.SpeechEnd(audio_t=round(e.audio_t, 3), discarded=e.reason, source=source))
    elif isinstance(e, SpeechEnded):
        ended = "words complete" if early else None
        events.emit(
            ev.SpeechEnd(audio_t=round(e.audio_t, 3), duration=round(e.duration, 3), source=source, ended=ended)
        )
        if e.truncated:
            events.emit(
                ev.UtteranceTooLong(
                    max_s=max_s,
                    message=f"That was longer than {max_s:g} seconds; I only kept the first {max_s:g} seconds. "
                    "Raise vad.max_utterance_s in the config for longer dictation.",
                )
            )
        return Utterance(e.audio, e.start_t, e.audio_t, e.truncated, source)
    return None


class FileListener:
    """What the user says, from files: each file in turn, as if played into the microphone.

    A file with no speech in it, or one that cannot be read, counts as one silence.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        vad: VadConfig,
        events: EventBus,
        frame_ms: int = 30,
        endpointer_factory: Callable[[], Endpointer] | None = None,
    ) -> None:
        self._paths = list(paths)
        self._vad = vad
        self._events = events
        self._frame_ms = frame_ms
        self._factory = endpointer_factory or (lambda: Endpointer(vad, frame_ms))
        self._pending: list[Utterance | None] = []
        self.exhausted = not self._paths

    def _load_next_file(self) -> None:
        path = Path(self._paths.pop(0))
        try:
            audio = read_audio(path)
        except AudioFileError as e:
            self._events.emit(ev.Error(stage="audio", message=str(e), file=str(path)))
            self._pending = [None]
            return
        endpointer = self._factory()
        found: list[Utterance | None] = []
        for frame in frames_of(audio, endpointer.frame_samples):
            for event in endpointer.process(frame):
                u = _emit_endpoint(self._events, event, str(path), self._vad.max_utterance_s)
                if u is not None:
                    found.append(u)
        for event in endpointer.flush():
            u = _emit_endpoint(self._events, event, str(path), self._vad.max_utterance_s)
            if u is not None:
                found.append(u)
        if not found:
            self._events.emit(ev.NoSpeech(file=str(path), message=f"I heard no speech in {path.name}."))
        self._pending = found or [None]

    def next_utterance(self, timeout: float | None = None) -> Utterance | None:
        """The next utterance of the files (None: a file with no speech, or the end)."""
        if not self._pending:
            if not self._paths:
                self.exhausted = True
                return None
            self._load_next_file()
        u = self._pending.pop(0)
        if not self._pending and not self._paths:
            self.exhausted = True
        return u

    def pause(self) -> None:
        """Nothing to do: files do not hear Hark."""

    def resume(self) -> None:
        """Nothing to do: files do not hear Hark."""

    def close(self) -> None:
        """Forget the files not yet read."""
        self._paths.clear()
        self._pending.clear()
        self.exhausted = True


class LiveListener:
    """The microphone, endpointed on its own thread, so no frame waits for the turn loop."""

    # A working microphone delivers a frame every 30 ms: this long with none means it is gone.
    STALL_S = 5.0
    # Waits between attempts to reopen a lost microphone (the last one repeats).
    BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 5.0)

    def __init__(
        self,
        mic: MicrophoneSource,
        vad: VadConfig,
        events: EventBus,
        frame_ms: int = 30,
        echo_tail_s: float = 0.25,
        stt: Transcriber | None = None,
        speculator: Speculator | None = None,
        echo: EchoCanceller | None = None,
        on_speech_start: Callable[[], None] | None = None,
        barge_in_min_speech_ms: int = 210,
    ) -> None:
        self.mic = mic
        self.echo_tail_s = echo_tail_s
        self._deaf_until = 0.0
        self.vad = vad
        self.events = events
        self.endpointer = Endpointer(vad, frame_ms)
        # Streaming to the transcriber (None: it only takes whole utterances, e.g. local Whisper).
        self._open_stream = stream_opener(stt)
        self._stream: SttStream | None = None  # the utterance in progress, on its way
        # The frames the endpointer's pre-roll holds (it keeps them privately): what a new stream is fed first.
        self._heard: collections.deque[np.ndarray] = collections.deque(maxlen=self.endpointer.pre_roll_frames)
        # Speculative transcription (local Whisper only: a streaming server already has the audio).
        self.speculator = speculator if self._open_stream is None else None
        self._pause_frames = max(1, vad.pause_ms // frame_ms)
        self._paused = False  # a speculative transcription covers the open utterance's audio
        self._over_speech = False  # the open utterance began while Hark was speaking
        # ...and has not yet had enough speech to stop Hark (see `_publish`).
        self._barge_pending = False
        self._barge_frames = max(1, barge_in_min_speech_ms // frame_ms)
        self.echo = echo
        self.on_speech_start = on_speech_start
        self._utterances: queue.Queue[Utterance] = queue.Queue()
        self._muted = threading.Event()
        self._stop = threading.Event()
        self._reset = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hark-listener", daemon=True)
        self.exhausted = False

    def start(self) -> LiveListener:
        """Open the microphone and start listening on the listener's thread."""
        self.mic.start()
        self._thread.start()
        return self

    def _run(self) -> None:
        """Listen; when the microphone is lost, say so once and reopen it until it is back."""
        while not self._stop.is_set():
            try:
                problem = self._listen()
            except Exception as e:  # a bug here must not leave Hark deaf without a word
                log.exception("the microphone thread failed")
                problem = f"the microphone thread failed ({type(e).__name__}: {e})"
            if problem is None or self._stop.is_set():
                return
            log.warning("microphone lost: %s", problem)
            self.events.emit(
                ev.Error(
                    stage="microphone",
                    message=f"{problem[0].upper()}{problem[1:]}; I'll keep trying to reopen it.",
                    spoken="I lost the microphone; I'll keep trying to reopen it.",
                )
            )
            if not self._reopen():
                return
            self._reset.clear()
            self._restart()
            log.info("microphone back: %s", self.mic.device.name)
            self.events.emit(
                ev.MicrophoneBack(
                    microphone=self.mic.device.name,
                    message=f"The microphone {self.mic.device.name} works again.",
                )
            )

    def _reopen(self) -> bool:
        """Try to reopen the microphone with backoff; False if Hark is stopping."""
        attempt = 0
        while not self._stop.is_set():
            wait = self.BACKOFF_S[min(attempt, len(self.BACKOFF_S) - 1)]
            if self._stop.wait(wait):
                return False
            attempt += 1
            try:
                self.mic.reopen()
                return True
            except Exception as e:  # still missing: keep trying, quietly (the loss was reported)
                log.debug("reopening the microphone failed (attempt %d): %s", attempt, e)
        return False

    def _listen(self) -> str | None:
        """Endpoint frames until stopped (None) or the microphone stops working (why)."""
        for frame in self.mic.frames():
            if self._stop.is_set():
                return None
            if frame is None:
                problem = self.mic.healthy(self.STALL_S)
                if problem:
                    return problem
                continue
            if self._muted.is_set() or time.monotonic() < self._deaf_until:
                continue
            if self.echo is not None:
                frame = self.echo.capture(frame)
            if self._reset.is_set():
                # Reset here, on the thread that owns the endpointer.
                self._reset.clear()
                self._restart()
            if self.endpointer.in_speech:
                self._feed(frame)  # the endpointer adds it to the utterance in progress
            else:
                self._heard.append(frame)
            for e in self.endpointer.process(frame):
                self._publish(e)
            self._check_barge_in()
            self._speculate()
        return None

    def _publish(self, e: EndpointEvent, early: bool = False) -> None:
        u = _emit_endpoint(self.events, e, "microphone", self.vad.max_utterance_s, early)
        u = self._follow(e, u)
        if isinstance(e, SpeechStarted):
            self._barge_pending = self._over_speech  # over Hark's voice: stop it once it lasts (`_check_barge_in`)
            if not self._over_speech:
                self._speech_started()
        if u is not None:
            self._utterances.put(u)

    def _check_barge_in(self) -> None:
        """Speech over Hark's voice has lasted long enough: it is the user, stop Hark now."""
        if self._barge_pending and self.endpointer.voiced_frames >= self._barge_frames:
            self._barge_pending = False
            self._speech_started()

    def _speech_started(self) -> None:
        if self.on_speech_start is None:
            return
        try:
            self.on_speech_start()  # barge-in: the engine stops Hark's voice now, not at the end of the utterance
        except Exception:
            log.exception("the speech-start handler failed")

    def _speculate(self) -> None:
        """Start transcribing at a pause, drop it when speech resumes, end early when the words are complete."""
        spec = self.speculator
        if spec is None or not self.endpointer.in_speech:
            return
        silent = self.endpointer.silence_frames
        if silent == 0:
            if self._paused:
                spec.resume()
                self._paused = False
        elif not self._paused:
            if silent >= self._pause_frames:
                self._paused = True
                spec.pause(self.endpointer.audio_so_far())
        elif spec.ready_and_complete():
            e = self.endpointer.end_now()
            if e is not None:
                self._publish(e, early=True)

    # -- streaming to the transcriber (all on the microphone thread)

    def _follow(self, e: object, u: Utterance | None) -> Utterance | None:
        """Keep the stream in step with the endpointer: open, cancel, or hand it over with the utterance."""
        if isinstance(e, SpeechStarted):
            self._over_speech = self.echo is not None and self.echo.playing
            self._begin_stream()
        elif isinstance(e, SpeechDiscarded):
            self._barge_pending = False
            _drop(self._stream)
            self._stream = None
            self._heard.clear()
            self._forget_pause()
        elif isinstance(e, SpeechEnded):
            if u is not None and self._stream is not None:
                u = replace(u, stream=self._stream)
            if u is not None and self._paused and self.speculator is not None:
                u = replace(u, transcript=self.speculator.take(u.audio))
            if u is not None and self._over_speech:
                u = replace(u, over_speech=True, stopped_hark=not self._barge_pending)
            self._barge_pending = False
            self._paused = False
            self._stream = None
            self._heard.clear()
        return u

    def _forget_pause(self) -> None:
        if self.speculator is not None:
            self.speculator.resume()
        self._paused = False

    def _begin_stream(self) -> None:
        _drop(self._stream)
        self._stream = None
        pre_roll, self._heard = list(self._heard), collections.deque(maxlen=self._heard.maxlen)
        if self._open_stream is None:
            return
        try:
            self._stream = self._open_stream()
        except Exception:  # the utterance is still transcribed whole: streaming only makes it sooner
            log.exception("could not start streaming the utterance to the transcriber")
            return
        for frame in pre_roll:
            self._feed(frame)

    def _feed(self, frame: np.ndarray) -> None:
        if self._stream is None:
            return
        try:
            self._stream.feed(frame)
        except Exception:  # as above: never cost the microphone thread, the utterance still has its audio
            log.exception("streaming to the transcriber failed; this utterance is transcribed whole")
            _drop(self._stream)
            self._stream = None

    def _restart(self) -> None:
        """Back to waiting for speech: the endpointer forgets, the utterance in progress is dropped."""
        self.endpointer.reset()
        _drop(self._stream)
        self._stream = None
        self._heard.clear()
        self._forget_pause()
        self._barge_pending = False

    def next_utterance(self, timeout: float | None = None) -> Utterance | None:
        """The next utterance; None if none began within `timeout`.

        One that has begun by then is waited for: an answer started at the last moment
        must not be cut off and then heard as a new instruction.
        """
        try:
            return self._utterances.get(timeout=timeout)
        except queue.Empty:
            pass
        if timeout is None or not self.endpointer.in_speech:
            return None
        try:
            return self._utterances.get(timeout=self.vad.max_utterance_s + 1.0)
        except queue.Empty:
            return None

    def pause(self) -> None:
        """Hark is about to speak: stop hearing (its own voice must not become a command)."""
        self._muted.set()

    def resume(self) -> None:
        """Hark has finished speaking: forget what the mic heard meanwhile and listen again."""
        self._deaf_until = time.monotonic() + self.echo_tail_s
        self.mic.drain()
        self._reset.set()
        while not self._utterances.empty():
            _drop(self._utterances.get_nowait().stream)
        self._muted.clear()

    def close(self) -> None:
        """Stop listening, close the microphone, and drop any utterance still on its way."""
        self._stop.set()
        self.mic.close()
        self._thread.join(timeout=2)
        if self.speculator is not None:
            self.speculator.close()
        _drop(self._stream)
        self._stream = None
        while not self._utterances.empty():
            _drop(self._utterances.get_nowait().stream)
        self.exhausted = True


def _drop(stream: SttStream | None) -> None:
    """Cancel a stream without waiting: closing a slow server's connection must not hold up a thread."""
    if stream is not None:
        threading.Thread(target=stream.cancel, name="hark-stt-cancel", daemon=True).start()
