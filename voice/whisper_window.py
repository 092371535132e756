"""Whisper over a window just longer than the utterance, instead of the fixed 30 s.

faster-whisper pads every utterance's features to 3000 frames (30 s), and the encoder's cost grows with
the window, so a 2 s command pays for 30 s. CTranslate2's encoder accepts fewer frames: `ShortWindow`
pads the features to the speech's length + `padding_s` (capped at 30 s) and decodes once, greedily or
with the configured beam, with the same prompt, suppressed tokens and timestamps as faster-whisper's
first window.

A short window is less reliable the less padding stays (Whisper was trained on 30 s windows): with
too little the decoder repeats itself or invents an ending. So a result is *suspect*, and the caller
must transcribe the same audio with the full window instead, when it hit its token limit (about 8
tokens per second of speech), repeats itself (a word or phrase four times in a row, a segment saying
again what an earlier one said, or a gzip compression ratio above 2.4), writes a segment after the
speech has ended, has a low average log probability (< -0.9) or one unsure word (a token below 17 %),
has no words although there was speech, or (language auto) is less than 90 % sure of the language.
`WindowResult.suspect` says which; everything else is final.

Non-speech: with `vad` on, Silero runs first (as `vad_filter` does inside faster-whisper) and only the
speech it finds is transcribed; no speech at all gives no segments at once. Segments carry
`avg_logprob`, `no_speech_prob` and `compression_ratio` like faster-whisper's, so the caller's
hallucination filter and confidence checks work unchanged.

Thread safety: a `ShortWindow` holds only constants computed at construction; `transcribe` changes no
shared state (it builds its own tokenizer and reads the model), so the lead's worker thread may call it
on audio it later throws away.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

RATE = 16000
FRAMES_PER_S = 100  # Whisper's log-mel hop is 10 ms
FULL_FRAMES = 3000  # the 30 s window the model was trained on

# Longer audio gains little (its window would be 30 s anyway): the caller uses the full window.
MAX_SPEECH_S = 20.0
# Tokens allowed per utterance: speech runs at about 3-5 tokens a second with timestamps (measured
# 2.5-4.5 on the shared recordings); twice that plus a margin only cuts off a decoder that loops.
TOKENS_BASE, TOKENS_PER_S = 16, 8
# Below Whisper's own -1.0 temperature-fallback threshold with a margin: the short window costs a little
# confidence on real speech (measured in tests/test_stt_window.py), the full window decides doubtful cases.
MIN_AVG_LOGPROB = -0.9
# One word the short window was unsure of (below 17 %) is enough to ask the full window: measured at pad 10 on
# 38 commands and phrases, every word of the full window's that the short one got wrong was below this, and
# only 3 more utterances go to the full window (words of correct results were at least -1.5).
MIN_TOKEN_LOGPROB = -1.75
MAX_COMPRESSION = 2.4  # Whisper's own threshold: above it the text repeats itself
MAX_REPEATS = 3  # the same one to three words this many times in a row, and once more, is a loop
# Language auto: the short window's detection is used only when this sure (else the full window detects).
MIN_LANGUAGE_PROB = 0.9
LOG_PROB_THRESHOLD = -1.0  # faster-whisper's default: a segment is silence only when also below this
MAX_INITIAL_TIMESTAMP_INDEX = 50  # the first timestamp at most 1.0 s in (faster-whisper's default)


@dataclass(frozen=True)
class WindowSegment:
    """One decoded stretch, with faster-whisper's confidence measures (times in the caller's audio)."""

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float


@dataclass(frozen=True)
class WindowResult:
    """The short window's transcription, or why it must not be trusted (`suspect` is then not "")."""

    segments: list[WindowSegment] = field(default_factory=list)
    language: str = ""
    suspect: str = ""  # why the full window must decide instead; "" when this result is final
    speech_s: float = 0.0  # seconds of audio transcribed (after Silero)
    window_s: float = 0.0  # seconds the encoder saw (speech + padding); 0 when nothing was encoded
    tokens: int = 0  # tokens generated


def compression_ratio(text: str) -> float:
    """Bytes over gzip-compressed bytes, as Whisper computes it: high means the text repeats itself."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def repeats(text: str, max_repeats: int = MAX_REPEATS) -> bool:
    """Whether one to three words occur more than `max_repeats` times in a row ("yes yes yes yes")."""
    words = _words(text)
    for n in (1, 2, 3):
        for i in range(len(words) - n * max_repeats):
            unit, k = words[i : i + n], 1
            while words[i + k * n : i + (k + 1) * n] == unit:
                k += 1
            if k > max_repeats:
                return True
    return False


def suspicion(segments: list[WindowSegment], speech_s: float, least_sure: float = 0.0) -> str:
    """Why a short window's segments (times within the speech) look like a decoder gone wrong, or "".

    The signs of too little padding, measured on the shared recordings and synthesized commands: the
    text loops ("yes yes yes ...", a sentence again in a second segment), a segment starts where the
    speech has already ended, or the confidence is low. No words at all from audio with speech in it is
    suspect too: the full window has the last word on whether it was speech.
    """
    if not segments:
        return f"no words in {speech_s:.1f} s of speech"
    first = segments[0]  # one decode: the measures are the same for every segment
    text = " ".join(s.text for s in segments)
    if first.compression_ratio > MAX_COMPRESSION:
        return f"repeats itself (compression ratio {first.compression_ratio:.2f})"
    if repeats(text):
        return "repeats itself"
    said = [_words(s.text) for s in segments]
    for i, later in enumerate(said[1:], 1):
        if any(_contains(earlier, later) for earlier in said[:i]):
            return f"says {segments[i].text.strip()!r} twice"
    late = [s for s in segments[1:] if s.start >= speech_s - 0.02]
    if late:
        return f"words after the speech ended ({late[0].text.strip()!r} at {late[0].start:.2f} s)"
    if first.avg_logprob < MIN_AVG_LOGPROB:
        return f"low confidence (avg_logprob {first.avg_logprob:.2f})"
    if least_sure < MIN_TOKEN_LOGPROB:
        return f"unsure of a word (token log probability {least_sure:.2f})"
    return ""


def _words(text: str) -> list[str]:
    return re.sub(r"[^\w\s']", " ", text.lower()).split()


def _contains(words: list[str], part: list[str]) -> bool:
    """Whether `part` (not empty) occurs in `words` as a run."""
    n = len(part)
    return n > 0 and any(words[i : i + n] == part for i in range(len(words) - n + 1))


def token_limit(speech_s: float) -> int:
    """Most tokens the decoder may write for this much speech (Whisper's own cap is 224)."""
    return min(224, TOKENS_BASE + math.ceil(TOKENS_PER_S * speech_s))


class ShortWindow:
    """Transcribes short audio with the encoder window cut to its length + `padding_s`.

    `model` is a loaded `faster_whisper.WhisperModel`; only its public parts are used: the feature
    extractor, the tokenizer and the CTranslate2 Whisper in `model.model`.
    """

    def __init__(
        self, model: Any, *, padding_s: float = 10.0, beam_size: int = 1, no_speech_threshold: float = 0.6
    ) -> None:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self.model = model
        self.padding_s = padding_s
        self.beam_size = beam_size
        self.no_speech_threshold = no_speech_threshold
        self.multilingual = bool(model.model.is_multilingual)
        # The symbols and special tokens faster-whisper suppresses by default (suppress_tokens=[-1]);
        # they do not depend on the language, so they are computed once.
        english = Tokenizer(model.hf_tokenizer, self.multilingual, task="transcribe", language="en")
        self.suppress_tokens: list[int] = list(get_suppressed_tokens(english, [-1]))

    def transcribe(self, audio: np.ndarray, language: str | None, vad: bool) -> WindowResult:
        """Transcribe float32 16 kHz mono audio in `language` (None: detect it; multilingual models only).

        With `vad`, Silero keeps only the speech (as faster-whisper's `vad_filter` does) and segment
        times are mapped back to `audio`. Check `suspect` before using the result.
        """
        audio = np.asarray(audio, dtype=np.float32)
        chunks: list[dict] | None = None
        if vad:
            from faster_whisper.vad import VadOptions, collect_chunks, get_speech_timestamps

            chunks = get_speech_timestamps(audio, VadOptions(), sampling_rate=RATE)
            if not chunks:
                return WindowResult(language=language or ("en" if not self.multilingual else ""))
            audio = np.concatenate(collect_chunks(audio, chunks, sampling_rate=RATE)[0])
        speech_s = len(audio) / RATE
        if speech_s > MAX_SPEECH_S:
            return WindowResult(suspect=f"{speech_s:.1f} s of speech is too long for a short window")

        features = self.model.feature_extractor(audio)[:, :-1]  # the last frame is padding (as faster-whisper)
        frames = min(FULL_FRAMES, max(features.shape[-1], math.ceil((speech_s + self.padding_s) * FRAMES_PER_S)))
        window = np.zeros((features.shape[0], frames), dtype=np.float32)  # zeros, as faster-whisper pads
        window[:, : features.shape[-1]] = features
        encoded = self._encode(window)
        window_s = frames / FRAMES_PER_S

        if language is None:
            if not self.multilingual:
                language = "en"
            else:
                top, probability = self.model.model.detect_language(encoded)[0][0]
                if probability < MIN_LANGUAGE_PROB:
                    return WindowResult(
                        suspect=f"language uncertain ({top[2:-2]} {probability:.2f})", window_s=window_s
                    )
                language = top[2:-2]
        segments, tokens, hit_limit, least_sure = self._decode(encoded, language or "en", speech_s)
        base = {"language": language or "en", "speech_s": speech_s, "window_s": window_s, "tokens": tokens}
        suspect = f"hit the token limit ({tokens})" if hit_limit else suspicion(segments, speech_s, least_sure)
        if suspect:
            return WindowResult(suspect=suspect, **base)
        if chunks:
            segments = _restore_times(segments, chunks)
        return WindowResult(segments=segments, **base)

    def _encode(self, window: np.ndarray) -> Any:
        import ctranslate2

        whisper = self.model.model
        # As faster-whisper: with several GPUs the output goes to the CPU, where any of them can read it.
        to_cpu = whisper.device == "cuda" and len(whisper.device_index) > 1
        return whisper.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(window[None])), to_cpu=to_cpu)

    def _decode(self, encoded: Any, language: str, speech_s: float) -> tuple[list[WindowSegment], int, bool, float]:
        """Decode once: (segments, tokens generated, whether the token limit was reached, least sure word).

        The last is the log probability of the least sure text token, 0.0 when unknown (CTranslate2 returns
        the logits only for greedy search).
        """
        from faster_whisper.tokenizer import Tokenizer

        tokenizer = Tokenizer(self.model.hf_tokenizer, self.multilingual, task="transcribe", language=language)
        prompt = tokenizer.sot_sequence
        limit = token_limit(speech_s)
        result = self.model.model.generate(
            encoded,
            [prompt],
            beam_size=self.beam_size,
            patience=1,
            length_penalty=1,
            # CTranslate2's Whisper generates at most max_length // 2 tokens (OpenAI's sample_len).
            max_length=2 * limit,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self.suppress_tokens,
            max_initial_timestamp_index=MAX_INITIAL_TIMESTAMP_INDEX,
            return_logits_vocab=self.beam_size == 1,
        )[0]
        ids: list[int] = list(result.sequences_ids[0])
        least_sure = _least_sure(ids, result.logits[0], tokenizer.eot) if self.beam_size == 1 else 0.0
        # faster-whisper's average log probability (length_penalty 1: the score is the per-token mean).
        avg_logprob = float(result.scores[0]) * len(ids) / (len(ids) + 1)
        no_speech = float(result.no_speech_prob)
        text = tokenizer.decode(ids).strip()
        if no_speech > self.no_speech_threshold and not avg_logprob > LOG_PROB_THRESHOLD:
            return [], len(ids), False, least_sure  # silence, as faster-whisper decides it
        ratio = compression_ratio(text)
        segments = [
            WindowSegment(start, end, words, avg_logprob, no_speech, ratio)
            for start, end, words in _split(ids, tokenizer, speech_s)
        ]
        return segments, len(ids), len(ids) >= limit, least_sure


def _least_sure(ids: list[int], logits: list[Any], eot: int) -> float:
    """The lowest log probability the decoder gave one of the words' tokens it chose (timestamps excluded)."""
    least = 0.0
    for token, step in zip(ids, logits, strict=False):
        if token >= eot:  # timestamps and special tokens: often unsure, and not words
            continue
        if step.device != "cpu":  # on a GPU the logits stay there until copied
            import ctranslate2

            step = step.to_device(ctranslate2.Device.cpu)
        scores = np.asarray(step).astype(np.float32).ravel()
        top = float(scores.max())
        logprob = float(scores[token]) - top - float(np.log(np.exp(scores - top).sum()))
        least = min(least, logprob)
    return least


def _split(ids: list[int], tokenizer: Any, speech_s: float) -> list[tuple[float, float, str]]:
    """Cut the tokens at timestamp tokens into (start, end, text), times clamped to the speech.

    A short window's timestamps can run past the end of the speech (the decoder sees the padding),
    so every time is clamped to [0, speech_s].
    """
    begin = tokenizer.timestamp_begin
    out: list[tuple[float, float, str]] = []
    start: float | None = None
    words: list[int] = []

    def clamp(t: float) -> float:
        return round(min(max(t, 0.0), speech_s), 2)

    for token in ids:
        if token < begin:
            words.append(token)
            continue
        t = (token - begin) * 0.02
        if words:
            out.append((clamp(start or 0.0), clamp(t), tokenizer.decode(words)))
            words, start = [], t  # the next segment starts here unless a timestamp says otherwise
        else:
            start = t
    if words:  # no closing timestamp: the text runs to the end
        out.append((clamp(start or 0.0), round(speech_s, 2), tokenizer.decode(words)))
    return [(s, max(e, s), text) for s, e, text in out if text.strip()]


def _restore_times(segments: list[WindowSegment], chunks: list[dict]) -> list[WindowSegment]:
    """Times in the Silero-cut speech, mapped back to the original audio (as faster-whisper does)."""
    from dataclasses import replace

    from faster_whisper.vad import SpeechTimestampsMap

    times = SpeechTimestampsMap(chunks, RATE)
    return [
        replace(s, start=times.get_original_time(s.start), end=times.get_original_time(s.end, is_end=True))
        for s in segments
    ]
