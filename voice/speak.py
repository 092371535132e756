"""Speech output: sentences in, audio out, on a worker thread.

The turn loop hands over each sentence as soon as the model has finished
it; this worker synthesizes and plays it while the model keeps generating.

`interrupt()` (barge-in) silences Hark at once: what is queued is dropped, the
sentence being synthesized stops at its next chunk, and it returns what the
user actually heard of this reply, cut at the word where playback stood.
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

CLAUSE_ENDS = (",", ";", ":", "-", "–", "—")
CLAUSE_SILENCE_S = 0.03


class Mouth:
    """Speaks sentences in order on a worker thread: synthesis of the next overlaps playback of this one."""

    def __init__(self, synth: Synthesizer, sink: AudioSink, events: EventBus, sentence_silence_s: float = 0.15) -> None:
        self.synth = synth
        self.sink = sink
        self.events = events
        self.sentence_silence_s = sentence_silence_s
        self._queue: queue.Queue[tuple[int, str] | None] = queue.Queue()
        self._pending = 0
        self._epoch = 0  # bumped by interrupt(): sentences of an older epoch are not played
        # This reply's sentences and where each starts and ends in the sink's queue (seconds).
        self._timeline: list[tuple[str, float, float]] = []
        self.failures = 0  # sentences that could not be played (counted, so callers can tell "heard")
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="hark-speech", daemon=True)
        sink.on_first_audio = self._first_audio
        self._thread.start()

    def _first_audio(self) -> None:
        self.events.emit(ev.AudioOutStart())

    def say(self, text: str) -> str:
        """Queue one sentence, made speakable first; returns what will be said ("" if nothing)."""
        text = speakable(text)
        if not text:
            return ""
        with self._cond:
            self._pending += 1
            epoch = self._epoch
        self._queue.put((epoch, text))
        return text

    def new_reply(self) -> None:
        """A new reply begins: what `interrupt` reports as heard starts here."""
        with self._cond:
            self._timeline = []

    def interrupt(self) -> str:
        """Stop speaking now (the user barged in); returns the words of this reply that were heard."""
        with self._cond:
            self._epoch += 1
            timeline, self._timeline = self._timeline, []
        _, played = self.sink.position()  # before the cut: what the device was given is what was heard
        self._drop_queued()
        self.sink.cut()
        return heard_part(timeline, played)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            epoch, text = item
            try:
                if epoch != self._epoch:
                    continue  # interrupted before it was spoken
                start = self.sink.position()[0]
                with self._cond:
                    entry = len(self._timeline)
                    self._timeline.append((text, start, start))
                for chunk in self.synth.synthesize(text):
                    if epoch != self._epoch:
                        break  # interrupted while it was being spoken
                    self.sink.play(chunk, self.synth.sample_rate)
                    with self._cond:
                        if epoch == self._epoch and entry < len(self._timeline):
                            self._timeline[entry] = (text, start, self.sink.position()[0])
                # A first clause ("Sure,") runs on into the rest of its sentence: only a breath between.
                pause = CLAUSE_SILENCE_S if text.rstrip().endswith(CLAUSE_ENDS) else self.sentence_silence_s
                if pause and epoch == self._epoch:
                    self.sink.play(np.zeros(int(self.synth.sample_rate * pause), np.float32), self.synth.sample_rate)
            except AudioError as e:  # the speaker is gone (it is reopened on a later sentence)
                self.failures += 1
                log.warning("could not speak: %s", e)
                self.events.emit(ev.Error(stage="speech", message=f"could not speak: {e}"))
            except Exception as e:  # a bad sentence must not end the loop
                self.failures += 1
                log.exception("speaking a sentence of %d characters failed", len(text))  # no words in the log
                self.events.emit(ev.Error(stage="speech", message=f"could not speak: {e}"))
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
        self.events.emit(ev.AudioOutEnd())
        return bool(done and played)

    def stop(self) -> None:
        """Drop what is queued and unplayed (an error, shutdown)."""
        self._drop_queued()
        self.sink.stop()

    def _drop_queued(self) -> None:
        try:
            while True:
                if self._queue.get_nowait() is not None:
                    with self._cond:
                        self._pending -= 1
                        self._cond.notify_all()
        except queue.Empty:
            pass

    def close(self) -> None:
        """Finish the worker thread (what was queued is dropped)."""
        self._queue.put(None)
        self._thread.join(timeout=10)


def heard_part(timeline: list[tuple[str, float, float]], played: float) -> str:
    """The words of sentences spoken from `start` to `end` (seconds) heard by the time `played` was reached.

    A sentence cut in its middle keeps the share of its words that fits the share of its audio played.
    """
    heard: list[str] = []
    for text, start, end in timeline:
        if end <= start:
            break  # not a sample of it queued yet
        if played >= end:
            heard.append(text)
            continue
        if played > start:
            words = text.split()
            n = int(len(words) * (played - start) / (end - start))
            if n:
                heard.append(" ".join(words[:n]) + "…")
        break
    return " ".join(heard)
