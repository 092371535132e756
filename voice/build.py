"""Build the pipeline from configuration: every model loaded and warmed once, before the first turn."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Optional

from voice.config import Config, data_dir

log = logging.getLogger("hark")

_REPO_MODELS = Path(__file__).resolve().parent.parent / "models"


def models_dir() -> Path:
    """Model files: HARK_MODELS_DIR, else the checkout's `models/` (git-ignored), else <data dir>/models."""
    env = os.environ.get("HARK_MODELS_DIR")
    if env:
        path = Path(env).expanduser()
    elif _REPO_MODELS.is_dir() and os.access(_REPO_MODELS, os.W_OK):
        path = _REPO_MODELS
    else:
        path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def setup_logging(config: Config, verbose: bool = False) -> Path:
    """Readable log lines on stderr (warnings and up unless verbose) and a rotating file with everything."""
    logs = data_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / "hark.log"
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.DEBUG)
    file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    file_handler.setLevel(getattr(logging, config.logging.level))
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(file_handler)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("hark: %(levelname)s: %(message)s"))
    root.addHandler(console)
    for noisy in ("httpx", "httpcore", "faster_whisper", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path


def build_transcriber(config: Config):
    from voice.stt import WhisperTranscriber

    t = WhisperTranscriber(config.stt, models_dir()).load()
    t.warm()
    return t


def build_synth(config: Config):
    from voice.tts import PiperSynthesizer

    s = PiperSynthesizer(config.tts, models_dir()).load()
    s.warm()
    return s


def build_parts(config: Config, events, sink, *, need_stt: bool = True, synth=None):
    """Load what a command needs. The brain only connects on first use: Ollama being down is not fatal."""
    from skills.registry import SkillRegistry
    from voice.assistant import Parts
    from voice.llm import Brain

    registry = SkillRegistry.default(config.skills.user_dir)
    return Parts(
        config=config,
        events=events,
        transcriber=build_transcriber(config) if need_stt else None,
        synth=synth or build_synth(config),
        sink=sink,
        brain=Brain(config.llm, config.ollama_host),
        registry=registry,
        data_dir=data_dir(),
    )


def open_speaker(config: Config, rate: int, device: Optional[str] = None):
    from voice.audio import SpeakerSink

    return SpeakerSink(device if device is not None else config.audio.output_device, rate=rate,
                       latency=config.audio.output_latency)
