"""Speech output: sentences in, audio out, on a worker thread.

The turn loop hands over each sentence as soon as the model has finished
it; this worker synthesizes and plays it while the model keeps generating.
"""

from __future__ import annotations

import logging
import queue
import threading

import numpy as np

from voice import events as ev
from voice.audio import AudioError
from voice.events import EventBus
from voice.speaker import AudioSink
from voice.text import speakable
from voice.tts import Synthesizer

log = logging.getLogger("hark.speak")


class Mouth:
    """Speaks sentences in order on a worker thread: synthesis of the next overlaps playback of this one."""

    def __init__(self, synth: Synthesizer, sink: AudioSink, events: EventBus, sentence_silence_s: float = 0.15) -> None:
        self.synth = synth
        self.sink = sink
        self.events = events
        self.sentence_silence_s = sentence_silence_s
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._pending = 0
        self.failures = 0  # sentences that could not be played (counted, so callers can tell "heard")
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="hark-speech", daemon=True)
        sink.on_first_audio = self._first_audio
        self._thread.start()

    def _first_audio(self) -> None:
        self.events.emit(ev.AUDIO_OUT_START)

    def say(self, text: str) -> str:
        """Queue one sentence, made speakable first; returns what will be said ("" if nothing)."""
        text = speakable(text)
        if not text:
            return ""
        with self._cond:
            self._pending += 1
        self._queue.put(text)
        return text

    def _run(self) -> None:
        while True:
            text = self._queue.get()
            if text is None:
                return
            try:
                for chunk in self.synth.synthesize(text):
                    self.sink.play(chunk, self.synth.sample_rate)
                if self.sentence_silence_s:
                    self.sink.play(
                        np.zeros(int(self.synth.sample_rate * self.sentence_silence_s), np.float32),
                        self.synth.sample_rate,
                    )
            except AudioError as e:  # the speaker is gone (it is reopened on a later sentence)
                self.failures += 1
                log.warning("could not speak: %s", e)
                self.events.emit(ev.ERROR, stage="speech", message=f"could not speak: {e}")
            except Exception as e:  # a bad sentence must not end the loop
                self.failures += 1
                log.exception("speaking a sentence of %d characters failed", len(text))  # no words in the log
                self.events.emit(ev.ERROR, stage="speech", message=f"could not speak: {e}")
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

    def wait(self, timeout: float | None = 120.0) -> bool:
        """Block until every queued sentence has been synthesized and heard.

        Returns False if the output could not play it all (the device went away, or the wait timed out).
        """
        with self._cond:
            done = self._cond.wait_for(lambda: self._pending == 0, timeout)
        played = self.sink.wait(timeout)
        self.events.emit(ev.AUDIO_OUT_END)
        return bool(done and played)

    def stop(self) -> None:
        """Drop what is queued and unplayed (barge-in, shutdown)."""
        try:
            while True:
                if self._queue.get_nowait() is not None:
                    with self._cond:
                        self._pending -= 1
                        self._cond.notify_all()
        except queue.Empty:
            pass
        self.sink.stop()

    def close(self) -> None:
        """Finish the worker thread (what was queued is dropped)."""
        self._queue.put(None)
        self._thread.join(timeout=10)
