"""`hark`: the command line. Thin: parse, build the pipeline from config, print."""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from voice import events as ev
from voice.cli_help import plain_help
from voice.terminal import clean, shown

app = typer.Typer(
    help="Hark: a local, private voice assistant. Speak an instruction; Hark does the work "
    "and asks before anything consequential.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
plain_help()  # no <bool>/{text} placeholders in help screens


def _version(value: bool) -> None:
    if value:
        from voice import __version__

        print(f"hark {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", help="Print Hark's version and exit.", callback=_version, is_eager=True
    ),
) -> None:
    """Hark: a local, private voice assistant.

    Speak an instruction; Hark does the work and asks before anything consequential.
    """


err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

ConfigOpt = typer.Option(
    None,
    "--config",
    "-c",
    help="Config file (default: $XDG_CONFIG_HOME/hark/config.yaml).",
    exists=False,
    dir_okay=False,
)
VerboseOpt = typer.Option(False, "--verbose", "-v", help="Show progress logs on stderr.")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object per line (events or results).")
SttOpt = typer.Option(
    None,
    "--stt",
    metavar="URI",
    help="Speech to text: 'local' or a Wyoming server, tcp://host:port (overrides stt.uri).",
)
TtsOpt = typer.Option(
    None,
    "--tts",
    metavar="URI",
    help="Speech synthesis: 'local' or a Wyoming server, tcp://host:port (overrides tts.uri).",
)


# Exit codes of the commands that run turns (listen, run, ask); documented in `hark ask --help`.
EXIT_DONE, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 3
# How long a typed answer to a confirmation question is waited for; then it counts as silence.
TYPED_ANSWER_TIMEOUT_S = 60.0


def _fail(message: str, code: int = 1) -> None:
    err.print(Text.assemble(("hark:", "bold red"), " ", shown(message)))
    raise typer.Exit(code)


def _config(
    path: Path | None, verbose: bool = False, *, writes: bool = False, stt: str | None = None, tts: str | None = None
):
    """Load the config and set up logging.

    `writes`: the command needs the data folder (one clear message, exit 1, when it is read-only
    or full; before any model loads). `stt`/`tts`: --stt/--tts.
    """
    from pydantic import ValidationError

    from voice.build import data_dir_problem, setup_logging
    from voice.config import ConfigError, load_config

    try:
        config = load_config(path)
    except ConfigError as e:
        _fail(str(e))
    for option, section, value in (("--stt", config.stt, stt), ("--tts", config.tts, tts)):
        if value is not None:
            try:
                section.uri = value
            except ValidationError as e:
                _fail(f"{option}: {e.errors()[0]['msg'].removeprefix('Value error, ')}")
    if writes:
        problem = data_dir_problem()
        if problem:
            _fail(problem)
    setup_logging(config, verbose)
    return config


class _Outcome:
    """What a command's turns came to, as its exit code: 0 done, 1 failed, 3 cancelled."""

    FAILED_STAGES = frozenset({"llm", "skill", "turn", "stt", "audit", "listen"})

    def __init__(self) -> None:
        self.failed = False
        self.cancelled = False

    def __call__(self, event) -> None:
        if event.name == ev.CANCELLED:
            self.cancelled = True
        elif (event.name == ev.ACTION_RESULT and not event.data.get("ok")) or (
            event.name == ev.ERROR and event.data.get("stage") in self.FAILED_STAGES
        ):
            self.failed = True

    @property
    def code(self) -> int:
        return EXIT_FAILED if self.failed else EXIT_CANCELLED if self.cancelled else EXIT_DONE


def _events(json_out: bool, one_shot: bool = False):
    from voice.events import EventBus, json_lines_writer, log_writer

    bus = EventBus()
    bus.subscribe(log_writer())
    if json_out:
        bus.subscribe(json_lines_writer(sys.stdout))
    else:
        bus.subscribe(_human_printer(one_shot))
    return bus


def _human_printer(one_shot: bool) -> Callable:
    """Without --json: what a person wants to see of a turn. Every text shown literally (`shown`).

    The live loop prints everything on stderr.  One-shot commands (`ask`, `run`) print the
    reply alone on stdout, so `reply=$(hark ask ...)` works, and no "listening" chatter.
    """

    def show(event) -> None:
        d = event.data
        if event.name == ev.TRANSCRIPT and d.get("text"):
            err.print(Text.assemble(("you:", "cyan"), " ", shown(d["text"])))
        elif event.name == ev.REPLY and d.get("text"):
            if one_shot:
                print(clean(d["text"]), flush=True)
            else:
                err.print(Text.assemble(("hark:", "green"), " ", shown(d["text"])))
        elif event.name == ev.CONFIRM_REQUEST:
            err.print(Text.assemble(("hark asks:", "yellow"), " ", shown(d.get("text", ""))))
        elif event.name in (ev.ERROR, ev.UTTERANCE_TOO_LONG, ev.NO_SPEECH):
            err.print(Text.assemble((f"{event.name}:", "red"), " ", shown(d.get("message"))))
        elif (
            event.name == ev.STATE
            and not one_shot
            and d.get("state") == "listening"
            and d.get("previous") != "listening"
        ):
            err.print("[dim]listening…[/]")

    return show


def _guard(fn):
    """Turn the pipeline's own errors into a clear message and exit code 1 (no traceback)."""
    from voice.audio import AudioError
    from voice.config import ConfigError
    from voice.stt import SttError
    from voice.tts import TtsError

    try:
        return fn()
    except (AudioError, SttError, TtsError, ConfigError) as e:  # ConfigError: checks made when parts are built
        _fail(str(e))


# ---------------------------------------------------------------- live


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@app.command()
def listen(
    config: Path | None = ConfigOpt,
    input_device: Annotated[
        str | None, typer.Option("--input-device", "-i", help="Microphone: index or part of its name.")
    ] = None,
    output_device: str | None = typer.Option(None, "--output-device", "-o", help="Speaker: index or part of its name."),
    json_out: bool = JsonOpt,
    verbose: bool = VerboseOpt,
    stt: str | None = SttOpt,
    tts: str | None = TtsOpt,
) -> None:
    """Listen on the microphone and answer out loud, until Ctrl-C."""
    cfg = _config(config, verbose, writes=True, stt=stt, tts=tts)
    events = _events(json_out)

    def start():
        from voice.assistant import Assistant
        from voice.build import build_echo, build_parts, build_speculator, build_synth, open_speaker
        from voice.listen import LiveListener
        from voice.microphone import MicrophoneSource

        # Devices first: a missing microphone is reported before any model loads.
        mic = MicrophoneSource(input_device if input_device is not None else cfg.audio.input_device, cfg.audio.frame_ms)
        err.print("[dim]loading models…[/]")
        synth = build_synth(cfg)
        sink = open_speaker(cfg, synth.sample_rate, output_device)
        parts = build_parts(cfg, events, sink, synth=synth)
        try:
            parts.brain.warm()
        except Exception as e:  # Ollama down is not fatal: templates still work, and it may come up later
            events.emit(ev.Error(stage="llm", message=str(e)))
        echo = build_echo(cfg, events, sink)  # None: no barge-in, Hark stops hearing while it speaks
        assistant = Assistant(parts, live=True)  # only the live loop fires timers
        listener = LiveListener(
            mic,
            cfg.vad,
            events,
            cfg.audio.frame_ms,
            cfg.audio.echo_tail_ms / 1000,
            stt=parts.transcriber,  # a Wyoming server gets the audio while the user speaks
            speculator=build_speculator(parts, assistant),  # local Whisper starts at the first pause
            echo=echo,
            on_speech_start=assistant.interrupt if echo is not None else None,
            barge_in_min_speech_ms=cfg.audio.barge_in_min_speech_ms,
        )
        assistant.listener = listener
        assistant.barge_in = echo is not None
        return assistant, listener

    assistant, listener = _guard(start)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops Hark as cleanly as Ctrl-C
    _guard(listener.start)
    events.emit(ev.Ready(microphone=listener.mic.device.name, speaker=assistant.parts.sink.device.name))
    err.print(
        Text.assemble(("Hark is listening", "bold"), " on ", shown(listener.mic.device.name), ". Press Ctrl-C to stop.")
    )
    from voice.engine import Engine

    try:
        Engine(assistant, listener).run(stop)
    except KeyboardInterrupt:
        err.print("\n[dim]stopping…[/]")
    finally:
        stop.set()
        assistant.close()


# ---------------------------------------------------------------- files and text


@app.command()
def transcribe(
    files: Annotated[list[Path], typer.Argument(help="Audio files (WAV, FLAC, OGG; any rate or channels).")],
    config: Path | None = ConfigOpt,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Whisper model: a directory, a pip package or a name.")
    ] = None,
    json_out: bool = JsonOpt,
    verbose: bool = VerboseOpt,
    stt: str | None = SttOpt,
) -> None:
    """Transcribe audio files with the configured Whisper model (loaded once for all files)."""
    from voice.audio import AudioFileError, read_audio
    from voice.build import build_transcriber

    cfg = _config(config, verbose, stt=stt)
    if model:
        cfg.stt.model = model
    transcriber = _guard(lambda: build_transcriber(cfg))
    failed = 0
    for f in files:
        try:
            audio = read_audio(f)
        except AudioFileError as e:
            failed += 1
            if json_out:
                print(json.dumps({"file": str(f), "error": str(e)}), flush=True)
            else:
                err.print(shown(e, "red"))
            continue
        t = transcriber.transcribe(audio)
        if json_out:
            print(
                json.dumps(
                    {
                        "file": str(f),
                        "text": t.text,
                        "language": t.language,
                        "duration": t.duration,
                        "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in t.segments],
                        "seconds": t.seconds,
                    },
                    ensure_ascii=False,
                ),
                flush=True,
            )
        else:
            out.print(Text.assemble((clean(f), "bold"), ": ", shown(t.text)) if len(files) > 1 else shown(t.text))
    if failed:
        raise typer.Exit(1)


@app.command()
def say(
    text: str = typer.Argument(..., help="What to say."),
    out_file: Annotated[Path | None, typer.Option("--out", help="Write a WAV file instead of playing it.")] = None,
    config: Path | None = ConfigOpt,
    output_device: str | None = typer.Option(None, "--output-device", "-o", help="Speaker: index or part of its name."),
    verbose: bool = VerboseOpt,
    tts: str | None = TtsOpt,
) -> None:
    """Speak TEXT with the configured Piper voice."""
    from voice.build import build_synth, open_speaker
    from voice.events import EventBus
    from voice.speak import Mouth
    from voice.speaker import WavSink

    cfg = _config(config, verbose, tts=tts)

    def run():
        synth = build_synth(cfg)
        sink = WavSink(out_file, synth.sample_rate) if out_file else open_speaker(cfg, synth.sample_rate, output_device)
        mouth = Mouth(synth, sink, EventBus(), cfg.tts.sentence_silence_s)
        from voice.text import SentenceStream

        stream = SentenceStream()
        for sentence in stream.push(text) + stream.flush():
            mouth.say(sentence)
        mouth.wait()
        mouth.close()
        sink.close()

    _guard(run)
    if out_file:
        err.print(Text(f"wrote {clean(out_file)}"))


def _one_shot(
    cfg,
    events,
    *,
    answers: list[Path],
    input_file: Path | None,
    output: Path | None,
    quiet: bool,
    need_stt: bool,
    output_device: str | None = None,
    answer: Callable[[str], str | None] | None = None,
):
    from voice.assistant import Assistant
    from voice.audio import DeviceError
    from voice.build import NoVoice, build_parts, build_synth, open_speaker
    from voice.listen import FileListener
    from voice.speaker import NullSink, TeeSink, WavSink

    # Nobody hears a quiet reply: no voice is loaded at all (Piper's import and load cost seconds).
    synth = NoVoice() if quiet and output is None else build_synth(cfg)
    sinks = []
    if not quiet and output is None:
        try:
            sinks.append(open_speaker(cfg, synth.sample_rate, output_device))
        except DeviceError as e:  # typed and file turns still work; the reply is printed
            err.print(Text(f"hark: no speaker, replies are shown as text only: {clean(e)}", style="yellow"))
    if output is not None:
        sinks.append(WavSink(output, synth.sample_rate))
    sink = TeeSink(*sinks) if sinks else NullSink()
    parts = build_parts(cfg, events, sink, synth=synth, need_stt=need_stt)
    files = ([input_file] if input_file else []) + list(answers)
    listener = FileListener(files, cfg.vad, events, cfg.audio.frame_ms) if files else None
    return Assistant(parts, listener, answer=answer)


def _typed_answers(show_question: bool, timeout_s: float = TYPED_ANSWER_TIMEOUT_S) -> Callable[[str], str | None]:
    """Answers to confirmation questions typed at the terminal (stdin must be a tty).

    The line typed is judged like a spoken answer (`skills.confirm.classify_answer`).
    Nothing typed within `timeout_s`, an empty line or end of input (Ctrl-D) is silence.
    """

    def answer(question: str) -> str | None:
        if show_question:  # without --json the question was already printed as "hark asks:"
            err.print(Text.assemble(("hark asks:", "yellow"), " ", shown(question)))
        err.print(Text("your answer (yes or no): ", style="bold"), end="")
        ready, _, _ = select.select([sys.stdin.fileno()], [], [], timeout_s)
        if not ready:
            err.print("\n[dim]no answer[/]")
            return None
        # One read is one line: the terminal is in canonical mode. os.read, not sys.stdin,
        # so nothing typed ahead hides in a Python buffer from the next select().
        line = os.read(sys.stdin.fileno(), 4096).decode("utf-8", errors="replace")
        return line.strip() or None

    return answer


@app.command()
def run(
    input_file: Annotated[Path, typer.Option("--input", help="WAV file: what the user says first.")],
    answers: Annotated[
        list[Path] | None,
        typer.Option(
            "--answers", help="WAV file(s): what the user says next (e.g. to a confirmation). No file = silence."
        ),
    ] = None,
    more_answers: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="[ANSWER.wav]...", show_default=False, help="More answer files: `--answers a.wav b.wav` works."
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write everything Hark says to this WAV (instead of the speaker).")
    ] = None,
    config: Path | None = ConfigOpt,
    output_device: str | None = typer.Option(None, "--output-device", "-o", help="Speaker when --output is not given."),
    json_out: bool = JsonOpt,
    verbose: bool = VerboseOpt,
    stt: str | None = SttOpt,
    tts: str | None = TtsOpt,
) -> None:
    """Run turns from audio files instead of the microphone.

    The replies are printed on stdout, the rest on stderr.

    Exit codes: 0 done; 1 an action failed, or a part of Hark did (the model, a skill); 3 not confirmed: cancelled.
    """
    cfg = _config(config, verbose, writes=True, stt=stt, tts=tts)
    events = _events(json_out, one_shot=True)
    outcome = _Outcome()
    events.subscribe(outcome)
    answers = list(answers or []) + list(more_answers or [])
    assistant = _guard(
        lambda: _one_shot(
            cfg,
            events,
            answers=answers,
            input_file=input_file,
            output=output,
            quiet=False,
            need_stt=True,
            output_device=output_device,
        )
    )
    try:
        assistant.run(threading.Event())
    finally:
        assistant.close()
    if output:
        err.print(Text(f"wrote {clean(output)}"))
    raise typer.Exit(outcome.code)


@app.command()
def ask(
    text: str = typer.Argument(..., help="The instruction, typed."),
    answers: Annotated[
        list[Path] | None, typer.Option("--answers", help="WAV file(s): spoken answers to Hark's questions.")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", help="Also write what Hark says to this WAV.")] = None,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not speak the reply."),
    config: Path | None = ConfigOpt,
    json_out: bool = JsonOpt,
    verbose: bool = VerboseOpt,
    stt: str | None = SttOpt,
    tts: str | None = TtsOpt,
) -> None:
    """One turn from typed text instead of speech (for the keyboard, scripts and tests).

    The reply is printed alone on stdout, so `reply=$(hark ask ...)` works; the rest goes to stderr.

    When Hark asks before doing something, the --answers WAV files answer, in order.

    Without --answers, on a terminal, you type the answer; it is judged like a spoken one (only a plain yes).

    Nothing typed within 60 seconds, an empty line or Ctrl-D cancels; so does having no terminal.

    Exit codes: 0 done; 1 an action failed, or a part of Hark did (the model, a skill); 3 not confirmed: cancelled.
    """
    cfg = _config(config, verbose, writes=True, stt=stt, tts=tts)
    events = _events(json_out, one_shot=True)
    outcome = _Outcome()
    events.subscribe(outcome)
    answers = list(answers or [])
    typed = _typed_answers(show_question=json_out) if not answers and sys.stdin.isatty() else None
    assistant = _guard(
        lambda: _one_shot(
            cfg,
            events,
            answers=answers,
            input_file=None,
            output=output,
            quiet=quiet,
            need_stt=bool(answers),
            answer=typed,
        )
    )
    try:
        assistant.handle_text(text)
        if assistant.listener is not None:
            assistant.run(threading.Event())
        assistant.speak_announcements()
    finally:
        assistant.close()
    raise typer.Exit(outcome.code)


# ---------------------------------------------------------------- inspection


@app.command()
def devices(config: Path | None = ConfigOpt, json_out: bool = JsonOpt) -> None:
    """List audio devices: PortAudio's, and the sound server's microphones and speakers by name.

    Put an index, a name or part of one in audio.input_device / audio.output_device.
    """
    from rich.table import Table

    from voice.audio_devices import list_devices
    from voice.devices import server_devices

    _config(config)
    devs = _guard(list_devices)
    server = server_devices()
    if json_out:
        for d in devs:
            print(json.dumps(d.__dict__))
        for s in server:
            print(
                json.dumps(
                    {
                        "index": None,
                        "name": s.name,
                        "description": s.description,
                        "inputs": int(s.kind == "input"),
                        "outputs": int(s.kind == "output"),
                        "hostapi": "sound server",
                    }
                )
            )
        return
    table = Table("index", "name", "in", "out", "rate", "api", "default")
    for d in devs:
        default = " ".join(x for x, on in (("input", d.is_default_input), ("output", d.is_default_output)) if on)
        table.add_row(
            str(d.index), shown(d.name), str(d.inputs), str(d.outputs), f"{d.default_rate:g}", shown(d.hostapi), default
        )
    out.print(table)
    if server:
        table = Table(
            "name (for audio.input_device / output_device)",
            "description",
            "kind",
            title="Sound server (PulseAudio/PipeWire)",
        )
        for s in server:
            kind = "speaker's monitor" if s.is_monitor else ("microphone" if s.kind == "input" else "speaker")
            table.add_row(shown(s.name), shown(s.description), kind)
        out.print(table)
    if not devs:
        err.print("No audio devices. Is PulseAudio/PipeWire running? Is libportaudio2 installed?")


@app.command()
def doctor(config: Path | None = ConfigOpt, json_out: bool = JsonOpt) -> None:
    """Check microphone, speaker, models and Ollama; say how to fix what is wrong."""
    from voice.doctor import run_checks

    cfg = _config(config)
    results = run_checks(cfg)
    if json_out:
        for r in results:
            print(json.dumps(r.__dict__))
    else:
        for r in results:
            mark = ("ok  ", "green") if r.ok else (("warn", "yellow") if r.warning else ("FAIL", "red"))
            out.print(Text.assemble(mark, " ", shown(f"{r.name}: {r.detail}")))
            if not r.ok and r.fix:
                out.print(shown(f"      fix: {r.fix}"))
    if any(not r.ok and not r.warning for r in results):
        raise typer.Exit(1)


@app.command()
def bench(
    files: Annotated[
        list[Path] | None, typer.Argument(help="More recordings to play as turns (WAV, FLAC, OGG).", show_default=False)
    ] = None,
    runs: int = typer.Option(1, "--runs", min=1, help="Passes over the recordings."),
    ttft_ms: float = typer.Option(0.0, "--ttft-ms", min=0, help="The scripted model's time to first token, in ms."),
    anchor: bool = typer.Option(True, "--anchor/--no-anchor", help="Also measure the plain loop, the same way."),
    speech_dir: Annotated[
        Path | None,
        typer.Option("--speech-dir", help="Recordings to play, those under 15 s (default: ../shared/data/speech)."),
    ] = None,
    barge_in: bool = typer.Option(True, "--barge-in/--no-barge-in", help="Speak over a long reply; time the stop."),
    idle_s: float = typer.Option(10.0, "--idle-s", min=1, help="Seconds over which idle CPU is measured."),
    keep: Annotated[Path | None, typer.Option("--keep", help="Keep the recordings and logs in this folder.")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Hark config to measure (default: the shipped one).")
    ] = None,
    json_out: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Measure Hark from the audio: reply latency, idle CPU, memory and barge-in, beside a plain loop.

    Recordings play at real-time pace into a private PulseAudio microphone; a scripted model server answers.

    Times are from the last voiced sample of each recording. Needs pulseaudio and pulseaudio-utils.
    """
    from voice.bench import main as run_bench

    code = run_bench(
        files or [], runs=runs, ttft_ms=ttft_ms, anchor=anchor, speech_dir=speech_dir, barge_in=barge_in,
        idle_s=idle_s, keep=keep, config=config, json_out=json_out,
    )  # fmt: skip
    raise typer.Exit(code)


def _mount_commands() -> None:
    """The command groups in their own modules (tasks, timers, reminders, history, models, voices, intents)."""
    from voice.cli_models import models_app, voices
    from voice.cli_tasks import history, tasks_app
    from voice.cli_timers import reminders_app, timers_app

    app.add_typer(models_app, name="models")
    app.command("voices")(voices)
    app.add_typer(tasks_app, name="tasks", help="Your task lists: add, list, done, delete, undo, export.")
    app.add_typer(timers_app, name="timers", help="Your timers: list, cancel.")
    app.add_typer(reminders_app, name="reminders", help="Your reminders: list, cancel.")
    app.command("history", help="Changes Hark made, by voice or typed here (the audit log).")(history)
    from voice.cli_intents import intents_app

    app.add_typer(intents_app, name="intents", help="See which skill and arguments a sentence maps to.")
    from voice.cli_dictate import dictate

    app.command("dictate")(dictate)


_mount_commands()


def main() -> None:
    """The `hark` command."""
    # Private by default: everything Hark writes (databases and their -wal/-shm, audit log,
    # notes, logs, recordings) is created readable by this user only.
    os.umask(0o077)
    app()


if __name__ == "__main__":
    main()
