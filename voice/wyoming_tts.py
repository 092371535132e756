"""Speech synthesis on a Wyoming server (`wyoming-piper`), and a voice per spoken language.

`WyomingSynthesizer` implements the `Synthesizer` protocol of `voice.tts`:
it sends one `synthesize` and yields each `audio-chunk` as it arrives, so the
speaker starts on the first chunk while the server is still sending the rest.
`sample_rate` is the rate of the audio last yielded (learned from the server).

`FallbackSynthesizer` tries the server and, on a fault (down, refused,
timeout, a drop mid-sentence, garbage), speaks the sentence with the local
Piper voice once, saying so in the log.  A sentence cut off mid-way is said
again whole: half a sentence twice is better than half a sentence.

`LanguageVoices` picks the voice for the language the user last spoke (from
the `transcript` event, which carries it): `tts.voices` maps a language to a
voice, local (a Piper voice spec) or remote (`tcp://host:port`, optionally
`?voice=NAME`).  A language with no voice gets its reply on the screen only,
and one spoken note per turn in the default voice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import cast

import numpy as np
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.tts import Synthesize, SynthesizeVoice

from voice import events as ev
from voice.config import TtsConfig
from voice.tts import Synthesizer, TtsError
from voice.wyoming_link import Connection, WyomingError, is_remote, parse_uri

log = logging.getLogger("hark.tts.wyoming")

# After the server could not be reached at all, sentences go to the local voice for this long.
RETRY_AFTER_S = 30.0

LANGUAGE_NAMES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "ko": "Korean",
    "ja": "Japanese",
    "zh": "Chinese",
    "ru": "Russian",
    "uk": "Ukrainian",
    "pl": "Polish",
    "sv": "Swedish",
    "tr": "Turkish",
    "ar": "Arabic",
    "he": "Hebrew",
    "hi": "Hindi",
    "el": "Greek",
    "th": "Thai",
    "vi": "Vietnamese",
    "cs": "Czech",
    "fi": "Finnish",
    "da": "Danish",
    "no": "Norwegian",
}


def language_name(code: str) -> str:
    """The English name of a language code, for the spoken note (the code itself if unknown)."""
    return LANGUAGE_NAMES.get(code, code)


def _to_float(chunk: AudioChunk) -> np.ndarray:
    if chunk.width != 2:
        raise WyomingError(f"the speech server sent {chunk.width * 8}-bit audio; Hark reads 16-bit audio")
    samples = np.frombuffer(chunk.audio, dtype="<i2").astype(np.float32) / 32768.0
    if chunk.channels > 1:
        samples = samples[: len(samples) // chunk.channels * chunk.channels].reshape(-1, chunk.channels).mean(axis=1)
    return samples


class WyomingSynthesizer:
    """The `Synthesizer` protocol, answered by a Wyoming speech server at `uri`."""

    def __init__(self, uri: str, cfg: TtsConfig) -> None:
        self.uri = uri
        self.cfg = cfg
        self.voice = parse_uri(uri).voice  # None: the server's default voice
        self.timeout = cfg.timeout_s
        self.connect_timeout = min(3.0, cfg.timeout_s)
        self.sample_rate = 22050  # until the server says otherwise

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """float32 mono chunks as they arrive; raises WyomingError on any fault (possibly after some audio)."""
        if not text.strip():
            return
        voice = None
        if self.voice is not None or self.cfg.speaker is not None:
            voice = SynthesizeVoice(
                name=self.voice, speaker=None if self.cfg.speaker is None else str(self.cfg.speaker)
            )
        with Connection(self.uri, "speech", self.connect_timeout, self.timeout) as conn:
            conn.send(Synthesize(text=text, voice=voice).event())
            while True:
                event = conn.receive()
                if AudioStart.is_type(event.type):
                    self.sample_rate = AudioStart.from_event(event).rate
                elif AudioChunk.is_type(event.type):
                    chunk = AudioChunk.from_event(event)
                    self.sample_rate = chunk.rate
                    samples = _to_float(chunk)
                    if self.cfg.volume != 1.0:
                        samples = np.clip(samples * self.cfg.volume, -1.0, 1.0)
                    if len(samples):
                        yield samples
                elif AudioStop.is_type(event.type):
                    return

    def warm(self) -> None:
        """One short synthesis: checks the server and learns its sample rate."""
        for _ in self.synthesize("Ready."):
            pass


class FallbackSynthesizer:
    """Remote first; after a fault, that sentence once with the local voice (if allowed)."""

    def __init__(
        self,
        remote: WyomingSynthesizer,
        local: Callable[[], Synthesizer] | None,
        emit: Callable[[ev.Event], object] | None = None,
    ) -> None:
        self.remote = remote
        self._make_local = local  # None: tts.fallback_to_local is off
        self._local: Synthesizer | None = None
        self._emit = emit
        self._current: Synthesizer = remote
        self.fallbacks = 0
        self._retry_at = 0.0  # after the server could not be reached: local voice only until then

    @property
    def sample_rate(self) -> int:
        """The rate of the audio last yielded (the server's or the local voice's)."""
        return self._current.sample_rate

    def local(self) -> Synthesizer:
        """The local voice, loaded on first need."""
        if self._local is None:
            assert self._make_local is not None
            self._local = self._make_local()
        return self._local

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """The sentence from the server as it arrives; after a fault, once more from the local voice."""
        if self._make_local is not None and time.monotonic() < self._retry_at:
            local = self.local()  # the server was unreachable moments ago: don't wait for it again
            self._current = local
            yield from local.synthesize(text)
            return
        played = 0
        try:
            for chunk in self.remote.synthesize(text):
                self._current = self.remote
                played += len(chunk)
                yield chunk
            return
        except WyomingError as e:
            problem = e
            if e.unreachable:
                self._retry_at = time.monotonic() + RETRY_AFTER_S
        if self._make_local is None:
            raise TtsError(
                f"{problem}. Falling back to this machine is off (tts.fallback_to_local); "
                "start the server or set tts.uri: local"
            ) from problem
        cut = f" after {played / self.remote.sample_rate:.1f} s of it" if played else ""
        log.warning("%s%s; saying this sentence with the voice on this machine instead", problem, cut)
        if self._emit is not None:
            self._emit(
                ev.Error(
                    stage="tts_server",
                    message=f"{problem}. This sentence was spoken by the voice on this machine instead.",
                )
            )
        self.fallbacks += 1
        local = self.local()
        self._current = local
        yield from local.synthesize(text)

    def warm(self) -> None:
        """Check the server at start; when it fails, load the local voice now (not fatal)."""
        try:
            self.remote.warm()
        except WyomingError as e:
            log.warning("%s; each sentence will try it and fall back to this machine", e)
            if self._make_local is not None:
                self._current = self.local()


class LanguageVoices:
    """Speaks in the voice for the language of the last transcript; a note when there is none."""

    def __init__(
        self,
        default: Synthesizer,
        default_language: str,
        voices: dict[str, Synthesizer],
        emit: Callable[[ev.Event], object] | None = None,
    ) -> None:
        self.default = default
        self.default_language = default_language
        self.voices = voices
        self._emit = emit
        self.language = default_language
        self._current: Synthesizer = default
        self._noted = False
        self._lock = threading.Lock()

    def on_event(self, event) -> None:
        """EventBus subscriber: every transcript sets the language of what is said next."""
        if event.name == ev.TRANSCRIPT and event.data.get("text"):
            with self._lock:
                self.language = str(event.data.get("language") or self.default_language).lower()
                self._noted = False

    @property
    def sample_rate(self) -> int:
        """The rate of the audio last yielded."""
        return self._current.sample_rate

    def voice_for(self, language: str) -> Synthesizer | None:
        """The voice for `language`, or None when there is none."""
        if language in self.voices:
            return self.voices[language]
        if language == self.default_language:
            return self.default
        return None

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Say `text` in the voice for the current language, or the note (once per turn) when there is none."""
        with self._lock:
            language = self.language
            voice = self.voice_for(language)
        name = language_name(language)
        if voice is not None:
            self._current = voice
            played = False
            try:
                for chunk in voice.synthesize(text):
                    played = True
                    yield chunk
                return
            except (WyomingError, TtsError) as e:
                if played or voice is self.default:
                    raise  # the Mouth reports it; half a sentence is not followed by a note
                problem = f"The {name} voice failed ({e}); the reply is printed only."
                spoken = f"My {name} voice is not available, so my answer is on the screen."
        else:
            problem = (
                f"No voice is configured for {name} ({language}); the reply is printed only. "
                "Add one under tts.voices in the config."
            )
            spoken = f"I heard {name}, but I have no {name} voice, so my answer is on the screen."
        log.info("not speaking a %d-character reply in %s (it is on the screen)", len(text), language)
        with self._lock:
            if self._noted:
                return
            self._noted = True
        if self._emit is not None:
            self._emit(ev.Error(stage="voice", message=problem))
        self._current = self.default
        yield from self.default.synthesize(spoken)


def build_voice(spec: str, cfg: TtsConfig, make_local: Callable[[TtsConfig], Synthesizer]) -> Synthesizer:
    """One voice from a `tts.voices` entry: a Wyoming URI or a local Piper voice spec."""
    if is_remote(spec) and "://" in spec:
        return WyomingSynthesizer(spec, cfg)
    return make_local(cfg.model_copy(update={"voice": spec, "uri": "local"}))


def language_voices(
    default: Synthesizer,
    cfg: TtsConfig,
    stt_language: str | None,
    make_local: Callable[[TtsConfig], Synthesizer],
    events=None,
) -> Synthesizer:
    """`default`, wrapped to pick a voice per spoken language when that can matter."""
    detects = not stt_language or stt_language == "auto"
    if not cfg.voices and (detects is False and stt_language == cfg.language):
        return default
    voices: dict[str, Synthesizer] = {}
    for language, spec in cfg.voices.items():
        try:
            voices[language.lower()] = build_voice(spec, cfg, make_local)
        except (TtsError, WyomingError) as e:
            log.warning("the voice for %s (%s) cannot be used: %s", language, spec, e)
            if events is not None:
                problem = f"The voice for {language} ({spec}) cannot be used: {e}"
                events.emit(ev.Error(stage="voice", message=problem))
    router = LanguageVoices(default, cfg.language.lower(), voices, events.emit if events is not None else None)
    if not detects and stt_language:
        router.language = stt_language.lower()
    if events is not None:
        events.subscribe(router.on_event)
    return cast(Synthesizer, router)
