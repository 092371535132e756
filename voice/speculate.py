"""Speculative transcription: start transcribing at the first pause, not when the turn is over.

Whisper needs a few hundred milliseconds on two cores, and the endpointer waits `vad.hangover_ms`
of silence before it calls an utterance finished. Doing one after the other is what made Hark slow.
So, on the listener's thread:
- when an open utterance has been silent for `pause_ms`, `Speculator.pause(audio)` sends the audio
  so far to the transcriber on a worker thread;
- a voiced frame before the end (`resume()`) makes that result worthless: it is dropped unseen;
- if the silence holds, the utterance ends with exactly that audio plus silence, so the result is
  the transcript (`take()`), and the turn does not transcribe again;
- once the result is in, `words_complete(text)` may end the utterance at once, before the hangover:
  the words form a finished sentence ("Add milk to my list.") rather than one that trails off
  ("Add milk and", "um,", a trailing comma), which keeps waiting for the full hangover.

A speculative transcription that is already running cannot be stopped (CTranslate2 has no cancel);
one that has not started yet is cancelled. There is one worker, so stale work never piles up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from voice.stt import Transcriber, Transcript

log = logging.getLogger("hark.speculate")

# Words after which a speaker is not done, whatever punctuation Whisper put after them.
_CONTINUATIONS = frozenset(
    {
        "and",
        "or",
        "but",
        "so",
        "because",
        "then",
        "to",
        "the",
        "a",
        "an",
        "of",
        "for",
        "with",
        "from",
        "my",
        "your",
        "our",
        "their",
        "his",
        "her",
        "its",
        "in",
        "on",
        "at",
        "by",
        "if",
        "that",
        "which",
        "who",
        "when",
        "while",
        "than",
        "as",
        "like",
        "um",
        "uh",
        "uhm",
        "er",
        "erm",
        "hmm",
        "mm",
        "also",
        "plus",
        "into",
        "about",
        "is",
        "are",
        "was",
        "were",
        "be",
    }
)
_FINAL = re.compile(r"[.!?。？！]\s*$")
_TRAILING_OFF = re.compile(r"(\.\.\.|…|[,;:\-–—])\s*$")
_WORDS = re.compile(r"[\w']+")
# A single word is a whole turn only when it answers or stops something.
_ONE_WORD_ANSWERS = frozenset({"yes", "yeah", "yep", "no", "nope", "stop", "cancel", "thanks", "nevermind"})


def words_complete(text: str) -> bool:
    """Whether a transcript reads as a finished instruction (so the turn may end before the hangover).

    Needs sentence-final punctuation and a last word that does not promise more; "..." and a
    trailing comma mean the speaker trailed off; a lone word counts only if it is an answer
    ("Yes.", "Stop."). Pure: tests run it on plain strings.
    """
    text = text.strip()
    if not text or _TRAILING_OFF.search(text) or not _FINAL.search(text):
        return False
    words = _WORDS.findall(text.lower())
    if len(words) == 1 and words[0] not in _ONE_WORD_ANSWERS:
        return False  # "One." may be the start of "one, two, three"
    return bool(words) and words[-1] not in _CONTINUATIONS


@dataclass
class _Job:
    generation: int
    samples: int  # length of the audio sent
    future: Future[Transcript]


class Speculator:
    """Runs the transcriber on the audio of a pause, on one worker thread, and keeps only what is still valid.

    Every method is called from the listener's thread; only the transcription runs on the worker.
    """

    def __init__(self, transcriber: Transcriber, complete: Callable[[str], bool] = words_complete) -> None:
        self.transcriber = transcriber
        self.complete = complete
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hark-stt")
        self._generation = 0
        self._job: _Job | None = None
        self.started = 0  # speculative transcriptions begun (for the log and the benchmarks)
        self.used = 0  # ... whose result became the transcript

    def pause(self, audio: np.ndarray) -> None:
        """The open utterance fell silent: transcribe what was said so far."""
        self.resume()
        self._generation += 1
        self.started += 1
        self._job = _Job(self._generation, len(audio), self._pool.submit(self.transcriber.transcribe, audio.copy()))

    def resume(self) -> None:
        """Speech goes on (or the utterance was dropped): the pending result is worthless."""
        if self._job is not None:
            self._job.future.cancel()  # only if it has not started; a running one is ignored
            self._job = None

    def result(self) -> Transcript | None:
        """The finished result for the current pause, without waiting; None while running or failed."""
        job = self._job
        if job is None or not job.future.done() or job.future.cancelled():
            return None
        if job.future.exception() is not None:
            return None
        return job.future.result()

    def ready_and_complete(self) -> bool:
        """Whether the current pause's transcript is in and reads as a finished instruction."""
        t = self.result()
        return t is not None and self.complete(t.text)

    def take(self, audio: np.ndarray) -> Future[Transcript] | None:
        """The transcript for an utterance that just ended with `audio`, if the current pause covers it.

        The pause's audio must be a prefix of `audio` (only silence came after it). The job is
        handed over: the turn waits on it instead of transcribing again.
        """
        job, self._job = self._job, None
        if job is None or job.future.cancelled() or job.samples > len(audio):
            return None
        self.used += 1
        return job.future

    def close(self) -> None:
        """Stop the worker (a running transcription finishes in the background)."""
        self.resume()
        self._pool.shutdown(wait=False, cancel_futures=True)
