"""Build the pipeline from configuration: every model loaded and warmed once, before the first turn."""

from __future__ import annotations

import contextlib
import errno
import logging
import logging.handlers
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

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


# Probe size: enough that a folder with room for it also has room for SQLite's -wal/-shm to start.
_PROBE_BYTES = 64 * 1024


def data_dir_problem() -> str | None:
    """Why Hark cannot write its data folder (read-only, not permitted, full), or None when it can.

    One sentence the command line prints as is.  It never suggests moving a database
    aside: the files may be perfectly healthy, only the folder is not writable.
    """
    env = "HARK_DATA_DIR"
    try:
        folder = data_dir()
    except OSError as e:
        return f"I can't create Hark's data folder: {e.strerror or e}. Set {env} to a folder you can write."
    probe = folder / f".hark-write-test-{os.getpid()}"
    try:
        with probe.open("wb") as f:
            f.write(b"\0" * _PROBE_BYTES)
            f.flush()
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            what, fix = "is full (no space left for Hark to write)", "Free some space there"
        elif e.errno == errno.EROFS:
            what, fix = "is on a read-only file system", "Make it writable"
        else:
            what, fix = f"is not writable ({e.strerror or e})", "Make it writable"
        return (
            f"Hark's data folder {folder} {what}. Hark needs to write there for tasks, timers, the audit log "
            f"and logs; your data in it is unchanged. {fix}, or set {env} to another folder."
        )
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return None


class _TerminalFormatter(logging.Formatter):
    """Log lines for stderr: transcripts and model text in them cannot send escape sequences."""

    def format(self, record: logging.LogRecord) -> str:
        from voice.terminal import clean

        return clean(super().format(record))


def setup_logging(config: Config, verbose: bool = False) -> Path | None:
    """Readable log lines on stderr (warnings and up unless verbose) and a rotating file with everything.

    The file is private (the command line sets umask 077) and is skipped, not fatal, when the
    data folder cannot be written: commands that need the folder say so themselves.
    Returns the log file, or None without one.
    """
    root = logging.getLogger()
    root.handlers.clear()
    root.setLevel(logging.DEBUG)
    path: Path | None = None
    try:
        logs = data_dir() / "logs"
        logs.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = logs / "hark.log"
        file_handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        path = None
    else:
        file_handler.setLevel(getattr(logging, config.logging.level))
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(file_handler)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(_TerminalFormatter("hark: %(levelname)s: %(message)s"))
    # Events reach the terminal once, through the command's own printer (or --json), not again as log lines.
    console.addFilter(lambda record: not record.name.startswith("hark.events"))
    root.addHandler(console)
    for noisy in ("httpx", "httpcore", "faster_whisper", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path


def build_transcriber(config: Config, events=None):
    """The local Whisper engine, or a Wyoming server (`stt.uri`) that falls back to it once per fault."""
    from voice.stt import WhisperTranscriber
    from voice.wyoming_link import is_remote

    def local():
        t = WhisperTranscriber(config.stt, models_dir()).load()
        t.warm()
        return t

    if not is_remote(config.stt.uri):
        return local()
    from voice.wyoming_stt import FallbackTranscriber, WyomingTranscriber

    remote = FallbackTranscriber(
        WyomingTranscriber(config.stt.uri, config.stt),
        local if config.stt.fallback_to_local else None,
        events.emit if events is not None else None,
    )
    remote.warm()
    return remote


class NoVoice:
    """The synthesizer of a reply nobody hears (`hark ask --quiet`): says nothing, loads nothing.

    Piper is never imported for it, so a quiet command starts as fast as the text path allows.
    """

    sample_rate = 22050

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """No audio at all."""
        return iter(())


def build_synth(config: Config):
    """The local Piper voice, or a Wyoming server (`tts.uri`) that falls back to it once per fault."""
    from voice.tts import PiperSynthesizer
    from voice.wyoming_link import is_remote

    def local(tts=config.tts):
        s = PiperSynthesizer(tts, models_dir()).load()
        s.warm()
        return s

    if not is_remote(config.tts.uri):
        return local()
    from voice.wyoming_tts import FallbackSynthesizer, WyomingSynthesizer

    remote = FallbackSynthesizer(
        WyomingSynthesizer(config.tts.uri, config.tts), local if config.tts.fallback_to_local else None
    )
    remote.warm()
    return remote


def language_voices(config: Config, synth, events):
    """`synth`, choosing a voice per spoken language (`tts.voices`) when the language is detected."""
    from voice.tts import PiperSynthesizer
    from voice.wyoming_tts import language_voices as wrap

    if isinstance(synth, NoVoice):
        return synth
    return wrap(synth, config.tts, config.stt.language, lambda tts: PiperSynthesizer(tts, models_dir()).load(), events)


def build_parts(config: Config, events, sink, *, need_stt: bool = True, synth=None):
    """Load what a command needs. The brain only connects on first use: Ollama being down is not fatal."""
    from skills.registry import SkillRegistry
    from voice.assistant import Parts
    from voice.llm import Brain

    registry = SkillRegistry.default(config.skills.user_dir)
    return Parts(
        config=config,
        events=events,
        transcriber=build_transcriber(config, events) if need_stt else None,
        synth=language_voices(config, synth or build_synth(config), events),
        sink=sink,
        brain=Brain(config.llm, config.ollama_host),
        registry=registry,
        data_dir=data_dir(),
    )


def open_speaker(config: Config, rate: int, device: str | None = None):
    """The speaker for replies (`device`, else audio.output_device), opened at `rate`."""
    from voice.speaker import SpeakerSink

    return SpeakerSink(
        device if device is not None else config.audio.output_device, rate=rate, latency=config.audio.output_latency
    )


def build_echo(config: Config, events, sink):
    """The echo canceller that makes barge-in safe, fed with what `sink` plays; None when barge-in is off.

    When it cannot load, Hark says why once and falls back to not hearing while it speaks.
    """
    if not config.audio.barge_in:
        return None
    from voice import events as ev

    try:
        from voice.echo import EchoCanceller

        echo = EchoCanceller()
    except Exception as e:
        log.warning("echo canceller unavailable: %s", e)
        events.emit(
            ev.Error(
                stage="echo",
                message=f"{e} Until then you can't interrupt Hark: it stops listening while it speaks.",
            )
        )
        return None
    sink.render_tap = echo.render
    return echo


def build_speculator(parts, assistant):
    """Speculative transcription for local Whisper (None for a remote server, which streams instead)."""
    from voice.speculate import Speculator, words_complete
    from voice.stt import WhisperTranscriber

    if not isinstance(parts.transcriber, WhisperTranscriber):
        return None
    matcher = assistant.intents
    matcher.match("what time is it")  # build the templates now, not on the listener's thread

    def complete(text: str) -> bool:
        # A finished sentence, or a command the templates know word for word.
        return words_complete(text) or (bool(text.strip()) and matcher.match(text) is not None)

    return Speculator(parts.transcriber, complete)
