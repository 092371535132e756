"""Speech to text on a Wyoming server (`wyoming-faster-whisper`), with one fallback to the local engine.

`WyomingTranscriber` implements the `Transcriber` protocol of `voice.stt`, so
the turn loop does not know where its words were heard.  Audio goes to the
server as it comes: `open_stream()` connects and sends `transcribe` +
`audio-start` at once, `feed()` sends each piece of audio as an `audio-chunk`,
and `finish()` sends `audio-stop` and waits for the `transcript`.  A listener
that feeds frames while the user is still speaking leaves the server only the
decoding to do after the end of speech; `transcribe(audio)` is the same in one go.

Faults (down, refused, timeout, a drop mid-utterance, garbage on the socket)
are `WyomingError`s with a plain message.  `FallbackTranscriber` keeps every
sample it was given, so after such a fault the same utterance is transcribed
once by the local engine (loaded on first need), the log says so, and nothing
the user said is lost.  With `stt.fallback_to_local: false` the fault is an
`SttError` the turn loop reports.

Language: with `stt.language: auto` (or null) the server detects it.  The
faster-whisper server does not report which language it heard, so Hark takes
the server's `language` when there is one, else infers it from the script of
the text (Hangul is Korean, kana Japanese, ...); a Latin-script transcript of
unknown language is reported as "" and spoken in the default voice.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
import unicodedata
from collections.abc import Callable

import numpy as np
from wyoming.asr import Transcribe
from wyoming.asr import Transcript as WyTranscript
from wyoming.audio import AudioChunk, AudioStart, AudioStop

from voice import events as ev
from voice.audio import RATE
from voice.config import SttConfig
from voice.stt import Segment, SttError, Transcriber, Transcript
from voice.wyoming_link import Connection, WyomingError

log = logging.getLogger("hark.stt.wyoming")

# Audio is sent in pieces of this length when a whole utterance is given at once.
CHUNK_SAMPLES = RATE // 10
# After a server could not be reached at all, turns go straight to the local engine for this long
# (a sleeping GPU box would otherwise cost every turn its connect timeout); then it is tried again.
RETRY_AFTER_S = 30.0
_NO_WORDS = re.compile(r"^[\W_]*$")
# Scripts that name one language well enough to pick a voice (Unicode character-name prefixes).
_SCRIPTS = (
    ("HANGUL", "ko"),
    ("HIRAGANA", "ja"),
    ("KATAKANA", "ja"),
    ("CJK", "zh"),
    ("CYRILLIC", "ru"),
    ("GREEK", "el"),
    ("HEBREW", "he"),
    ("ARABIC", "ar"),
    ("THAI", "th"),
    ("DEVANAGARI", "hi"),
)


def auto_language(language: str | None) -> bool:
    """True when the language is to be detected per utterance (`auto`, null or empty)."""
    return not language or language.strip().lower() == "auto"


def guess_language(text: str) -> str:
    """The language a transcript's script points to ("" for Latin script or no letters)."""
    counts: dict[str, int] = {}
    for ch in text:
        if not ch.isalpha() or ch.isascii():
            continue
        name = unicodedata.name(ch, "")
        for prefix, lang in _SCRIPTS:
            if name.startswith(prefix):
                counts[lang] = counts.get(lang, 0) + 1
                break
    if not counts:
        return ""
    if counts.get("ja") and counts.get("zh"):  # kanji inside Japanese text
        counts["ja"] += counts.pop("zh")
    return max(counts, key=lambda k: counts[k])


class RemoteStream:
    """One utterance on its way to the server. Keeps every sample it was fed (for the fallback).

    Connecting and sending happen on a sender thread, so `open_stream()` and `feed()` return at
    once: the microphone's thread can feed frames without ever waiting for the network.
    """

    def __init__(self, owner: WyomingTranscriber) -> None:
        self.owner = owner
        self.problem: WyomingError | None = None
        # When the first audio chunk went onto the socket (monotonic clock), and how many have:
        # what shows that the server hears the user while they are still speaking.
        self.first_chunk_at: float | None = None
        self.chunks_sent = 0
        self._pieces: list[np.ndarray] = []
        self._conn: Connection | None = None
        self._outbox: queue.Queue[np.ndarray | None] = queue.Queue()
        self._sender = threading.Thread(target=self._send_all, name="hark-stt-stream", daemon=True)
        self._sender.start()

    def _fail(self, e: WyomingError) -> None:
        if self.problem is None:
            self.problem = e
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send_all(self) -> None:
        """Sender thread: connect, then pass each fed piece on until the end (None) or a fault."""
        owner = self.owner
        try:
            self._conn = Connection(owner.uri, "speech-to-text", owner.connect_timeout, owner.timeout)
            language = None if auto_language(owner.cfg.language) else owner.cfg.language
            self._conn.send(Transcribe(language=language).event())
            self._conn.send(AudioStart(rate=RATE, width=2, channels=1).event())
        except WyomingError as e:
            self._fail(e)
        while True:
            piece = self._outbox.get()
            if piece is None:
                return
            if self._conn is None:
                continue  # failed: keep draining, the audio is kept in _pieces all the same
            try:
                self._conn.send(AudioChunk(rate=RATE, width=2, channels=1, audio=piece.tobytes()).event())
                if self.first_chunk_at is None:
                    self.first_chunk_at = time.monotonic()
                self.chunks_sent += 1
            except WyomingError as e:
                self._fail(e)

    @property
    def audio(self) -> np.ndarray:
        """Everything fed so far, in order (what the fallback transcribes)."""
        return np.concatenate(self._pieces) if self._pieces else np.zeros(0, np.int16)

    def feed(self, audio: np.ndarray) -> None:
        """Queue one piece of 16 kHz mono int16 audio for the server; returns at once, the audio is always kept."""
        piece = np.array(audio, dtype=np.int16)  # a copy: the caller may reuse its buffer
        self._pieces.append(piece)
        self._outbox.put(piece)

    def _wait_sent(self) -> None:
        self._outbox.put(None)
        # Connecting may take connect_timeout, each send at most timeout: bounded, never forever.
        self._sender.join(self.owner.connect_timeout + self.owner.timeout + 1.0)
        if self._sender.is_alive():
            self._fail(
                WyomingError(
                    f"the speech-to-text server at {self.owner.uri} did not take the audio within "
                    f"{self.owner.timeout:g} s"
                )
            )

    def finish(self, audio: np.ndarray | None = None) -> Transcript:
        """End of speech: the server's transcript, or WyomingError (the audio stays in `.audio`).

        `audio`: the utterance as the listener finally cut it; if it is not exactly what was
        streamed, this stream is dropped and `audio` is sent again whole.
        """
        if audio is not None and not np.array_equal(np.asarray(audio, dtype=np.int16), self.audio):
            self.cancel()
            return self.owner.transcribe(audio)
        self._wait_sent()
        t0 = time.perf_counter()
        duration = round(len(self.audio) / RATE, 3)
        try:
            if self.problem is not None:
                raise self.problem
            assert self._conn is not None
            self._conn.send(AudioStop().event())
            while True:
                event = self._conn.receive()
                if WyTranscript.is_type(event.type):
                    result = WyTranscript.from_event(event)
                    break
        except WyomingError as e:
            self._fail(e)
            raise
        finally:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        text = " ".join((result.text or "").split())
        if _NO_WORDS.match(text):
            text = ""
        cfg_lang = self.owner.cfg.language
        language = result.language or ("" if auto_language(cfg_lang) else str(cfg_lang)) or guess_language(text)
        segments = [Segment(0.0, duration, text)] if text else []
        return Transcript(text, language, duration, segments, round(time.perf_counter() - t0, 3))

    def cancel(self) -> None:
        """Drop the utterance (speech discarded): the connection is closed, nothing is transcribed."""
        self._outbox.put(None)
        self._sender.join(self.owner.connect_timeout + self.owner.timeout + 1.0)
        self._fail(WyomingError("the utterance was cancelled"))


class WyomingTranscriber:
    """The `Transcriber` protocol, answered by a Wyoming speech-to-text server at `uri`."""

    def __init__(self, uri: str, cfg: SttConfig) -> None:
        self.uri = uri
        self.cfg = cfg
        self.timeout = cfg.timeout_s
        self.connect_timeout = min(3.0, cfg.timeout_s)

    def open_stream(self) -> RemoteStream:
        """Connect and start one utterance; a fault is kept in `.problem`, not raised."""
        return RemoteStream(self)

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """Transcribe 16 kHz mono int16 audio on the server; raises WyomingError on any fault."""
        stream = self.open_stream()
        for i in range(0, len(audio), CHUNK_SAMPLES):
            stream.feed(audio[i : i + CHUNK_SAMPLES])
        return stream.finish()

    def warm(self) -> None:
        """Check the server answers now, so a wrong address is reported at start, not on the first turn."""
        from voice.wyoming_link import describe

        if not describe(self.uri, "speech-to-text", self.connect_timeout).asr:
            raise WyomingError(
                f"the server at {self.uri} answers but offers no speech to text "
                "(it may be a speech synthesis server: check the port)"
            )


class HeldStream:
    """A stream that goes nowhere: the server is known to be unreachable, so the audio is only kept."""

    def __init__(self, problem: WyomingError) -> None:
        self.problem = problem
        self._pieces: list[np.ndarray] = []

    @property
    def audio(self) -> np.ndarray:
        """Everything fed so far, in order."""
        return np.concatenate(self._pieces) if self._pieces else np.zeros(0, np.int16)

    def feed(self, audio: np.ndarray) -> None:
        """Keep one piece of audio."""
        self._pieces.append(np.array(audio, dtype=np.int16))

    def finish(self) -> Transcript:
        """Always the known problem (the fallback takes the audio)."""
        raise self.problem

    def cancel(self) -> None:
        """Nothing to close."""


class FallbackStream:
    """A `RemoteStream` whose `finish()` falls back to the local engine once on a fault."""

    def __init__(self, owner: FallbackTranscriber, remote: RemoteStream | HeldStream) -> None:
        self.owner = owner
        self.remote = remote

    def feed(self, audio: np.ndarray) -> None:
        """Send one piece of audio (kept for the fallback whatever happens)."""
        self.remote.feed(audio)

    def finish(self, audio: np.ndarray | None = None) -> Transcript:
        """The server's transcript, or the local engine's after a fault.

        `audio`: the utterance as the listener finally cut it; if it is not exactly what was
        streamed, it is sent again whole (correct first, fast second).
        """
        if audio is not None and not np.array_equal(np.asarray(audio, dtype=np.int16), self.remote.audio):
            log.debug("the utterance differs from the streamed audio; sending it again whole")
            self.remote.cancel()
            return self.owner.transcribe(audio)
        try:
            result = self.remote.finish()
        except WyomingError as e:
            return self.owner.fall_back(e, self.remote.audio)
        self.owner.reachable()
        return result

    def cancel(self) -> None:
        """Drop the utterance."""
        self.remote.cancel()


class FallbackTranscriber:
    """Remote first; after a fault, the same audio once through the local engine (if allowed)."""

    def __init__(
        self,
        remote: WyomingTranscriber,
        local: Callable[[], Transcriber] | None,
        emit: Callable[[ev.Event], object] | None = None,
    ) -> None:
        self.remote = remote
        self._make_local = local  # None: stt.fallback_to_local is off
        self._local: Transcriber | None = None
        self._emit = emit
        self.fallbacks = 0  # how many utterances the local engine took over
        self._unreachable: WyomingError | None = None
        self._retry_at = 0.0

    def open_stream(self) -> FallbackStream:
        """Start one utterance that falls back on finish() if the server fails."""
        if self._unreachable is not None and self._make_local is not None and time.monotonic() < self._retry_at:
            return FallbackStream(self, HeldStream(self._unreachable))
        return FallbackStream(self, self.remote.open_stream())

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """The `Transcriber` protocol: the whole utterance in 100 ms chunks, with the fallback."""
        if len(audio) < RATE // 10:  # as the local engine: too short to hold a word
            return Transcript(
                "",
                "" if auto_language(self.remote.cfg.language) else str(self.remote.cfg.language),
                round(len(audio) / RATE, 3),
                [],
                0.0,
            )
        stream = self.open_stream()
        for i in range(0, len(audio), CHUNK_SAMPLES):
            stream.feed(audio[i : i + CHUNK_SAMPLES])
        return stream.finish()

    def warm(self) -> None:
        """Check the server at start; a fault is reported, not fatal."""
        try:
            self.remote.warm()
        except WyomingError as e:
            # Not fatal: turns fall back to this machine, and the server is tried again.
            log.warning("%s; speech is transcribed on this machine until it answers", e)
            self._tell(f"{e}. Until it answers, speech is transcribed on this machine.")
            if e.unreachable:
                self._unreachable, self._retry_at = e, time.monotonic() + RETRY_AFTER_S

    def reachable(self) -> None:
        """The server answered: forget that it was down."""
        self._unreachable = None

    def _tell(self, message: str) -> None:
        if self._emit is not None:
            self._emit(ev.Error(stage="stt_server", message=message))

    def local(self) -> Transcriber:
        """The local engine, loaded on first need."""
        if self._local is None:
            assert self._make_local is not None
            self._local = self._make_local()
        return self._local

    def fall_back(self, problem: WyomingError, audio: np.ndarray) -> Transcript:
        """Transcribe `audio` locally after `problem`, saying so; SttError when the fallback is off."""
        if self._make_local is None:
            raise SttError(
                f"{problem}. Falling back to this machine is off (stt.fallback_to_local); "
                "start the server or set stt.uri: local"
            ) from problem
        if problem is self._unreachable and time.monotonic() < self._retry_at:
            log.info(
                "the speech-to-text server is still taken as down; transcribing on this machine (next try in %.0f s)",
                self._retry_at - time.monotonic(),
            )
        else:
            if problem.unreachable:
                self._unreachable, self._retry_at = problem, time.monotonic() + RETRY_AFTER_S
            log.warning("%s; transcribing this utterance (%.1f s) on this machine instead", problem, len(audio) / RATE)
            self._tell(
                f"{problem}. This utterance was transcribed on this machine instead"
                + (f"; the server is tried again in {RETRY_AFTER_S:g} s." if problem.unreachable else ".")
            )
        self.fallbacks += 1
        return self.local().transcribe(audio)
