"""`hark dictate`: speech typed into the focused window as it is transcribed, or printed (`--print`).

Each utterance, cut by the same endpointer as `hark listen` and transcribed by the configured Whisper
(or Wyoming server), goes through `voice.dictation.Dictation` (spacing, capitals, the spoken edit
commands) and its edits are typed with `voice.inject` (xdotool, wtype or ydotool, or the clipboard
for non-ASCII text and non-QWERTY layouts; the choice is printed and logged). Dictation ends on
"stop dictation", Ctrl-C, or, with `--input`, the end of the files. With `--print` nothing is typed:
the text, edit commands applied, is printed on stdout at the end.

Dictation only ever starts by the user's own action: running this command is that action (the
microphone is opened, or the files read, only because the user asked). So typing here is never a
consequential action that needs a spoken confirmation; it would be only if dictation could start
without the user, which it cannot (no wake phrase, no background start).

Exit codes: 0 done; 1 a part failed (no typing tool, no microphone, the model), with one line saying why.
"""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from voice.terminal import clean, shown

if TYPE_CHECKING:
    from voice.config import Config
    from voice.dictation import Step

log = logging.getLogger("hark.dictate")
err = Console(stderr=True, soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    err.print(Text.assemble(("hark:", "bold red"), " ", shown(message)))
    return typer.Exit(1)


def _config(path: Path | None, verbose: bool, stt: str | None) -> Config:
    """The config (with --stt applied) and logging, as the other commands set them up."""
    from pydantic import ValidationError

    from voice.build import setup_logging
    from voice.config import ConfigError, load_config

    try:
        cfg = load_config(path)
    except ConfigError as e:
        raise _fail(str(e)) from None
    if stt is not None:
        try:
            cfg.stt.uri = stt
        except ValidationError as e:
            raise _fail(f"--stt: {e.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    setup_logging(cfg, verbose)
    return cfg


def _describe(step: Step) -> str:
    """What a phrase did, in a few words, for the terminal."""
    if step.ignored:
        return "no words"
    done = list(step.commands)
    if step.typed.strip():
        done.insert(0, "typed")
    return ", ".join(done) or "nothing to do"


def dictate(
    inputs: Annotated[
        list[Path] | None,
        typer.Option(
            "--input", help="WAV file to dictate from instead of the microphone; repeat for more, read in order."
        ),
    ] = None,
    print_text: Annotated[
        bool, typer.Option("--print", help="Print the text at the end instead of typing it into the focused window.")
    ] = False,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="How text reaches the window: auto (type, or paste where typing is unreliable), type or paste.",
        ),
    ] = "auto",
    input_device: Annotated[
        str | None, typer.Option("--input-device", "-i", help="Microphone: index or part of its name.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Config file (default: $XDG_CONFIG_HOME/hark/config.yaml).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show progress logs on stderr.")] = False,
    stt: Annotated[
        str | None,
        typer.Option("--stt", metavar="URI", help="Speech to text: 'local' or a Wyoming server, tcp://host:port."),
    ] = None,
) -> None:
    """Dictate: what you say is typed into the focused window, until you say "stop dictation" or press Ctrl-C.

    Say "new line", "new paragraph", "scratch that" (remove the last phrase) or "undo that" (undo the last change).

    With --input FILE.wav the speech comes from files; with --print the text is printed instead of typed.
    """
    from voice.audio import AudioError
    from voice.config import ConfigError
    from voice.dictation import Dictation
    from voice.events import EventBus, log_writer
    from voice.inject import InjectError, Injector, choose
    from voice.stt import SttError

    cfg = _config(config, verbose, stt)
    injector = None
    if not print_text:  # the typing tool first: a missing one is said before any model loads
        try:
            plan = choose(method)  # type: ignore[arg-type]  # checked by choose()
        except InjectError as e:
            raise _fail(str(e)) from None
        injector = Injector(plan)
        log.info("dictation types with: %s", plan.describe())
        err.print(Text(f"typing: {clean(plan.describe())}", style="dim"))

    events = EventBus()
    events.subscribe(log_writer())
    dictation = Dictation()
    listener = None
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` ends dictation as cleanly as Ctrl-C
    try:
        listener, transcriber = _open(cfg, events, inputs, input_device)
        if not inputs:
            err.print(
                Text.assemble(
                    ("Dictating", "bold"),
                    " from ",
                    shown(listener.mic.device.name),
                    ' into the focused window. Say "stop dictation" or press Ctrl-C to stop.',
                )
            )
        while not dictation.stopped:
            utterance = listener.next_utterance(timeout=0.5)
            if utterance is None:
                if listener.exhausted:
                    break
                continue
            t0 = time.perf_counter()
            text = _transcribe(transcriber, utterance)
            step = dictation.hear(text)
            took = time.perf_counter() - t0
            what = f"  ({_describe(step)}, {took:.1f} s)"
            err.print(Text.assemble(("heard:", "cyan"), " ", shown(text or "…"), (what, "dim")))
            if injector is not None and step.edits:
                injector.apply(step.edits)
    except KeyboardInterrupt:
        err.print("\n[dim]dictation stopped[/]")
    except (AudioError, SttError, ConfigError, InjectError) as e:
        raise _fail(str(e)) from None
    finally:
        if listener is not None:
            listener.close()
    if print_text:
        print(clean(dictation.text), flush=True)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _open(cfg: Config, events, inputs: list[Path] | None, input_device: str | None):
    """The utterance source (files or the microphone, opened first) and the transcriber."""
    from voice.build import build_transcriber
    from voice.listen import FileListener, LiveListener
    from voice.microphone import MicrophoneSource

    if inputs:
        return FileListener(inputs, cfg.vad, events, cfg.audio.frame_ms), build_transcriber(cfg, events)
    mic = MicrophoneSource(input_device if input_device is not None else cfg.audio.input_device, cfg.audio.frame_ms)
    err.print("[dim]loading the speech model…[/]")
    transcriber = build_transcriber(cfg, events)
    listener = LiveListener(mic, cfg.vad, events, cfg.audio.frame_ms, stt=transcriber)
    return listener.start(), transcriber


def _transcribe(transcriber, utterance) -> str:
    """The utterance's text: from work already begun on it (a stream, a speculative transcript), else whole."""
    future = getattr(utterance, "transcript", None)
    if future is not None:
        return future.result().text
    if utterance.stream is not None:
        return utterance.stream.finish(utterance.audio).text
    return transcriber.transcribe(utterance.audio).text
