"""`hark`: the command line. Thin: parse, build the pipeline from config, print."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from voice import events as ev

app = typer.Typer(
    help="Hark: a local, private voice assistant. Speak an instruction; Hark does the work and asks before anything consequential.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
models_app = typer.Typer(help="List and pull models (Whisper, Piper voice, the Ollama model).", no_args_is_help=True)
app.add_typer(models_app, name="models")

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

ConfigOpt = typer.Option(None, "--config", "-c", help="Config file (default: $XDG_CONFIG_HOME/hark/config.yaml).",
                         exists=False, dir_okay=False)
VerboseOpt = typer.Option(False, "--verbose", "-v", help="Show progress logs on stderr.")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object per line (events or results).")


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]hark:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _config(path: Optional[Path], verbose: bool = False):
    from voice.build import setup_logging
    from voice.config import ConfigError, load_config

    try:
        config = load_config(path)
    except ConfigError as e:
        _fail(str(e))
    setup_logging(config, verbose)
    return config


def _events(json_out: bool):
    from voice.events import EventBus, json_lines_writer, log_writer

    bus = EventBus()
    bus.subscribe(log_writer())
    if json_out:
        bus.subscribe(json_lines_writer(sys.stdout))
    else:
        bus.subscribe(_human_printer)
    return bus


def _human_printer(event) -> None:
    """Without --json: what a person wants to see of a turn."""
    d = event.data
    if event.name == "transcript" and d.get("text"):
        err.print(f"[cyan]you:[/] {d['text']}", highlight=False)
    elif event.name == "reply" and d.get("text"):
        err.print(f"[green]hark:[/] {d['text']}", highlight=False)
    elif event.name == "confirm_request":
        err.print(f"[yellow]hark asks:[/] {d['text']}", highlight=False)
    elif event.name in ("error", "utterance_too_long", "no_speech"):
        err.print(f"[red]{event.name}:[/] {d.get('message')}", highlight=False)
    elif event.name == "state" and d.get("state") == "listening" and d.get("previous") != "listening":
        err.print("[dim]listening…[/]")


def _guard(fn):
    """Turn the pipeline's own errors into a clear message and exit code 1 (no traceback)."""
    from voice.audio import AudioError
    from voice.stt import SttError
    from voice.tts import TtsError

    try:
        return fn()
    except (AudioError, SttError, TtsError) as e:
        _fail(str(e))


# ---------------------------------------------------------------- live

def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@app.command()
def listen(
    config: Optional[Path] = ConfigOpt,
    input_device: Optional[str] = typer.Option(None, "--input-device", "-i", help="Microphone: index or part of its name."),
    output_device: Optional[str] = typer.Option(None, "--output-device", "-o", help="Speaker: index or part of its name."),
    json_out: bool = JsonOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Listen on the microphone and answer out loud, until Ctrl-C."""
    cfg = _config(config, verbose)
    events = _events(json_out)

    def start():
        from voice.assistant import Assistant
        from voice.audio import MicrophoneSource
        from voice.build import build_parts, build_synth, open_speaker
        from voice.listen import LiveListener

        # Devices first: a missing microphone is reported before any model loads.
        mic = MicrophoneSource(input_device if input_device is not None else cfg.audio.input_device, cfg.audio.frame_ms)
        err.print("[dim]loading models…[/]")
        synth = build_synth(cfg)
        sink = open_speaker(cfg, synth.sample_rate, output_device)
        parts = build_parts(cfg, events, sink, synth=synth)
        try:
            parts.brain.warm()
        except Exception as e:  # Ollama down is not fatal: templates still work, and it may come up later
            events.emit(ev.ERROR, stage="llm", message=str(e))
        listener = LiveListener(mic, cfg.vad, events, cfg.audio.frame_ms, cfg.audio.echo_tail_ms / 1000)
        return Assistant(parts, listener), listener

    assistant, listener = _guard(start)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops Hark as cleanly as Ctrl-C
    _guard(listener.start)
    events.emit(ev.READY, microphone=listener.mic.device.name, speaker=assistant.parts.sink.device.name)
    err.print(f"[bold]Hark is listening[/] on {listener.mic.device.name}. Press Ctrl-C to stop.")
    try:
        assistant.run(stop)
    except KeyboardInterrupt:
        err.print("\n[dim]stopping…[/]")
    finally:
        stop.set()
        assistant.close()


# ---------------------------------------------------------------- files and text

@app.command()
def transcribe(
    files: List[Path] = typer.Argument(..., help="Audio files (WAV, FLAC, OGG; any rate or channels)."),
    config: Optional[Path] = ConfigOpt,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Whisper model: a directory, a pip package or a name."),
    json_out: bool = JsonOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Transcribe audio files with the configured Whisper model (loaded once for all files)."""
    from voice.audio import AudioFileError, read_audio
    from voice.build import build_transcriber

    cfg = _config(config, verbose)
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
                err.print(f"[red]{e}[/]", highlight=False)
            continue
        t = transcriber.transcribe(audio)
        if json_out:
            print(json.dumps({
                "file": str(f), "text": t.text, "language": t.language, "duration": t.duration,
                "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in t.segments],
                "seconds": t.seconds,
            }, ensure_ascii=False), flush=True)
        else:
            out.print(f"[bold]{f}[/]: {t.text}" if len(files) > 1 else t.text, highlight=False)
    if failed:
        raise typer.Exit(1)


@app.command()
def say(
    text: str = typer.Argument(..., help="What to say."),
    out_file: Optional[Path] = typer.Option(None, "--out", help="Write a WAV file instead of playing it."),
    config: Optional[Path] = ConfigOpt,
    output_device: Optional[str] = typer.Option(None, "--output-device", "-o", help="Speaker: index or part of its name."),
    verbose: bool = VerboseOpt,
) -> None:
    """Speak TEXT with the configured Piper voice."""
    from voice.audio import WavSink
    from voice.build import build_synth, open_speaker
    from voice.events import EventBus
    from voice.speak import Mouth

    cfg = _config(config, verbose)

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
        err.print(f"wrote {out_file}")


def _one_shot(cfg, events, *, answers: List[Path], input_file: Optional[Path], output: Optional[Path], quiet: bool,
              need_stt: bool, output_device: Optional[str] = None):
    from voice.assistant import Assistant
    from voice.audio import DeviceError, NullSink, TeeSink, WavSink
    from voice.build import build_parts, build_synth, open_speaker
    from voice.listen import FileListener

    synth = build_synth(cfg)
    sinks = []
    if not quiet and output is None:
        try:
            sinks.append(open_speaker(cfg, synth.sample_rate, output_device))
        except DeviceError as e:  # typed and file turns still work; the reply is printed
            err.print(f"[yellow]hark: no speaker, replies are shown as text only: {e}[/]", highlight=False)
    if output is not None:
        sinks.append(WavSink(output, synth.sample_rate))
    sink = TeeSink(*sinks) if sinks else NullSink()
    parts = build_parts(cfg, events, sink, synth=synth, need_stt=need_stt)
    files = ([input_file] if input_file else []) + list(answers)
    listener = FileListener(files, cfg.vad, events, cfg.audio.frame_ms) if files else None
    return Assistant(parts, listener)


@app.command()
def run(
    input_file: Path = typer.Option(..., "--input", help="WAV file: what the user says first."),
    answers: List[Path] = typer.Option([], "--answers", help="WAV file(s): what the user says next (e.g. to a confirmation). No file = silence."),
    output: Optional[Path] = typer.Option(None, "--output", help="Write everything Hark says to this WAV (instead of the speaker)."),
    config: Optional[Path] = ConfigOpt,
    output_device: Optional[str] = typer.Option(None, "--output-device", "-o", help="Speaker when --output is not given."),
    json_out: bool = JsonOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """Run turns from audio files instead of the microphone."""
    cfg = _config(config, verbose)
    events = _events(json_out)
    assistant = _guard(lambda: _one_shot(cfg, events, answers=answers, input_file=input_file, output=output,
                                         quiet=False, need_stt=True, output_device=output_device))
    try:
        assistant.run(threading.Event())
    finally:
        assistant.close()
    if output:
        err.print(f"wrote {output}")


@app.command()
def ask(
    text: str = typer.Argument(..., help="The instruction, typed."),
    answers: List[Path] = typer.Option([], "--answers", help="WAV file(s): spoken answers to Hark's questions."),
    output: Optional[Path] = typer.Option(None, "--output", help="Also write what Hark says to this WAV."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not speak the reply."),
    config: Optional[Path] = ConfigOpt,
    json_out: bool = JsonOpt,
    verbose: bool = VerboseOpt,
) -> None:
    """One turn from typed text instead of speech (for the keyboard, scripts and tests)."""
    cfg = _config(config, verbose)
    events = _events(json_out)
    assistant = _guard(lambda: _one_shot(cfg, events, answers=answers, input_file=None, output=output,
                                         quiet=quiet, need_stt=bool(answers)))
    try:
        assistant.handle_text(text)
        if assistant.listener is not None:
            assistant.run(threading.Event())
        assistant.speak_announcements()
    finally:
        assistant.close()


# ---------------------------------------------------------------- inspection

@app.command()
def devices(config: Optional[Path] = ConfigOpt, json_out: bool = JsonOpt) -> None:
    """List audio input and output devices (use the index or part of the name in config)."""
    from rich.table import Table

    from voice.audio import list_devices

    _config(config)
    devs = _guard(list_devices)
    if json_out:
        for d in devs:
            print(json.dumps(d.__dict__))
        return
    table = Table("index", "name", "in", "out", "rate", "api", "default")
    for d in devs:
        default = " ".join(x for x, on in (("input", d.is_default_input), ("output", d.is_default_output)) if on)
        table.add_row(str(d.index), d.name, str(d.inputs), str(d.outputs), f"{d.default_rate:g}", d.hostapi, default)
    out.print(table)
    if not devs:
        err.print("No audio devices. Is PulseAudio/PipeWire running? Is libportaudio2 installed?")


@app.command()
def doctor(config: Optional[Path] = ConfigOpt, json_out: bool = JsonOpt) -> None:
    """Check microphone, speaker, models and Ollama; say how to fix what is wrong."""
    from voice.doctor import run_checks

    cfg = _config(config)
    results = run_checks(cfg)
    if json_out:
        for r in results:
            print(json.dumps(r.__dict__))
    else:
        for r in results:
            mark = "[green]ok[/]  " if r.ok else ("[yellow]warn[/]" if r.warning else "[red]FAIL[/]")
            out.print(f"{mark} {r.name}: {r.detail}", highlight=False)
            if not r.ok and r.fix:
                out.print(f"      fix: {r.fix}", highlight=False)
    if any(not r.ok and not r.warning for r in results):
        raise typer.Exit(1)


@models_app.command("list")
def models_list(config: Optional[Path] = ConfigOpt) -> None:
    """Show the configured models and the models the Ollama server has."""
    from voice.build import models_dir
    from voice.llm import Brain, BrainError
    from voice.stt import SttError, resolve_model
    from voice.tts import TtsError, resolve_voice

    cfg = _config(config)
    mdir = models_dir()
    try:
        stt = resolve_model(cfg.stt.model, mdir, download=False)
    except SttError as e:
        stt = f"not available: {e}"
    try:
        tts = str(resolve_voice(cfg.tts.voice, mdir, download=False)[0])
    except TtsError as e:
        tts = f"not available: {e}"
    out.print(f"speech-to-text  {cfg.stt.model}: {stt}", highlight=False)
    out.print(f"voice           {cfg.tts.voice}: {tts}", highlight=False)
    out.print(f"model files in  {mdir}", highlight=False)
    brain = Brain(cfg.llm, cfg.ollama_host)
    try:
        models = brain.list_models()
    except BrainError as e:
        out.print(f"ollama          {cfg.ollama_host}: {e}", highlight=False)
        return
    out.print(f"ollama          {cfg.ollama_host} (configured model: {cfg.llm.model})", highlight=False)
    for m in models:
        mark = "*" if m.get("name") == cfg.llm.model else " "
        out.print(f"  {mark} {m.get('name')}  {m.get('size', '')}", highlight=False)


@models_app.command("pull")
def models_pull(
    name: Optional[str] = typer.Argument(None, help="Ollama model to pull (default: llm.model from config)."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Pull the Ollama model (runs Ollama's pull, with a progress bar) and check the speech models."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from voice.llm import Brain, BrainError

    cfg = _config(config)
    model = name or cfg.llm.model
    brain = Brain(cfg.llm, cfg.ollama_host)
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=err) as progress:
        task = progress.add_task(f"pulling {model}", total=None)

        def on_progress(status: str, completed: Optional[int], total: Optional[int]) -> None:
            progress.update(task, description=f"{model}: {status}", completed=completed or 0, total=total)

        try:
            brain.pull(model, on_progress)
        except BrainError as e:
            _fail(str(e))
    out.print(f"{model} is ready on {cfg.ollama_host}")


def _mount_skill_commands() -> None:
    """The skills' own commands (tasks, history) live with the skills."""
    try:
        from skills.cli import history, tasks_app
    except ImportError as e:  # never let a broken skill module take the whole CLI down
        err.print(f"[yellow]hark: task commands unavailable: {e}[/]")
        return
    app.add_typer(tasks_app, name="tasks", help="Your task lists: add, list, done, export.")
    app.command("history", help="Consequential actions Hark carried out (the audit log).")(history)


_mount_skill_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
