"""`hark bench`: complete turns through real sound devices, timed from the audio, Hark beside a plain loop.

`run(options)` starts a private PulseAudio daemon and the scripted Ollama-protocol server, measures
`hark listen --json` (then, with `anchor`, the plain loop of `voice.bench.plain_loop`) on the same recordings
through the same harness, and returns one JSON-ready object:

    {"runs", "files", "ttft_ms", "turns", "median_ms": {"endpoint", "transcript", "first_token", "first_audio"},
     "p90_ms": {...}, "idle_cpu_percent", "rss_mb", "rss_rest_mb", "startup_s", "barge_in_stop_ms", "barge_in",
     "rows", "model", "machine", "checks", "anchor": {the same fields for the plain loop} | None,
     "paired": {medians over the turns both completed} | None, ...}

Times are milliseconds from the last voiced sample of each input (see `voice.bench.turns`). `rss_mb` is the
resident memory after every turn (every model warm), `idle_cpu_percent` the mean of one-second windows while
waiting, in % of one core. `barge_in_stop_ms` is the median time from the first voiced sample of speech played
over a long reply to silence on the output, None when playback did not stop.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from voice.bench import stats
from voice.bench.ollama_server import FakeOllama, Reply
from voice.bench.progress import say
from voice.bench.pulse import Pulse
from voice.bench.session import BargeIn, Input, Program, Session, run_session
from voice.bench.turns import FIGURES, barge_in_rows, self_interruptions, turn_rows

MAX_DEFAULT_SECONDS = 15.0  # the default recordings: the shared speech shorter than this
BENCH_MODEL = "hark-bench:1b"
REPLY = "Done. Anything else?"  # the fixed two-sentence reply (FACTS.md's plain loop answered the same)
LONG_REPLY = (  # about 12 s of speech: time to interrupt it, and a clear difference if it is not stopped
    "Here is a longer answer, so that there is time to interrupt it. The first part says what you asked. "
    "The second part says why it matters. The third part says what could be done next."
)
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
TARGETS = {"endpoint": None, "transcript": 250.0, "first_audio": 600.0, "idle_cpu_percent": 3.0, "rss_mb": 700.0}


class BenchError(RuntimeError):
    """The benchmark cannot run as asked (no recordings, no sound server, a program that does not start)."""


def default_speech_dir() -> Path:
    """The shared recordings beside the checkout (`../shared/data/speech`), or HARK_SPEECH_DATA."""
    env = os.environ.get("HARK_SPEECH_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "speech"


@dataclass
class Options:
    """What `hark bench` was asked for."""

    files: list[Path] = field(default_factory=list)
    speech_dir: Path | None = None  # None: default_speech_dir()
    runs: int = 1
    ttft_ms: float = 0.0
    anchor: bool = True
    barge_in: bool = True  # run the barge-in trial
    idle_s: float = 10.0
    config: Path | None = None  # Hark's config to measure (default: the shipped defaults)
    keep: Path | None = None  # keep the recordings and logs here


def read_input(path: Path, label: str | None = None) -> Input:
    """An input from an audio file: its length and where its speech ends (read from the file)."""
    import numpy as np
    import soundfile as sf

    from voice.bench.levels import speech_end_s

    try:
        data, rate = sf.read(str(path), dtype="int16", always_2d=True)
    except Exception as e:  # soundfile raises its own error types, and RuntimeError for unreadable files
        raise BenchError(f"cannot read {path} as audio ({e}); give WAV, FLAC or OGG files") from e
    mono = data.mean(axis=1).astype(np.int16) if data.shape[1] > 1 else data[:, 0]
    end = speech_end_s(mono)
    return Input(
        path=path.resolve(),
        label=label or path.name,
        seconds=len(mono) / rate,
        speech_end_in_file=None if end is None else end * 16000 / rate,
    )


def default_inputs(speech_dir: Path) -> list[Input]:
    """The speech under MAX_DEFAULT_SECONDS in a folder: its manifest.tsv's speech rows, else every audio file."""
    manifest = speech_dir / "manifest.tsv"
    if manifest.exists():
        with manifest.open(encoding="utf-8") as f:
            rows = [
                r
                for r in csv.DictReader(f, delimiter="\t")
                if not r.get("speaker_or_source", "").startswith("NON-SPEECH")
                and float(r.get("seconds") or 0) < MAX_DEFAULT_SECONDS
            ]
        return [read_input(speech_dir / r["file"], r.get("reference_transcript") or None) for r in rows]
    found = [read_input(p) for p in sorted(speech_dir.iterdir()) if p.suffix.lower() in AUDIO_SUFFIXES]
    return [i for i in found if i.seconds < MAX_DEFAULT_SECONDS]


def choose_inputs(options: Options, progress: Callable[[str], None] = say) -> list[Input]:
    """The default recordings (if their folder is there) plus the files given; BenchError if none."""
    folder = options.speech_dir or default_speech_dir()
    inputs: list[Input] = []
    if folder.is_dir():
        inputs = default_inputs(folder)
        if not inputs:
            progress(f"no speech shorter than {MAX_DEFAULT_SECONDS:g} s in {folder}; measuring only the files given")
    else:
        progress(
            f"the shared speech folder {folder} is not there (--speech-dir sets it); measuring only the files given"
        )
    for path in options.files:
        if not path.is_file():
            raise BenchError(f"{path} does not exist; give audio files (WAV, FLAC, OGG) to play as turns")
        inputs.append(read_input(path))
    if not inputs:
        raise BenchError(
            f"no recordings to play: {folder} has none and no files were given; pass audio files "
            "(`hark bench a.wav b.wav`) or point --speech-dir at a folder of recordings"
        )
    return inputs


def hark_config(options: Options, server_url: str, work: Path) -> Path:
    """Hark's config for the run, written into `work`.

    The given config (or the shipped defaults), on the scripted server and the default sound devices (which the
    private sound server provides).
    """
    import yaml

    from voice.config import ConfigError, load_config

    raw: dict[str, Any] = {}
    if options.config is not None:
        try:
            load_config(options.config)  # one clear message for a broken config, before anything starts
        except ConfigError as e:
            raise BenchError(str(e)) from e
        raw = yaml.safe_load(options.config.read_text(encoding="utf-8")) or {}
    else:
        raw = {"stt": {"device": "cpu"}}  # as the figures in docs/benchmarks.md: no GPU
    raw.setdefault("llm", {}).update(model=BENCH_MODEL, host=server_url)
    raw.setdefault("audio", {}).update(input_device=None, output_device=None)
    path = work / "hark-config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _pythonpath() -> str:
    """PYTHONPATH that finds this `voice` package in a child, installed or run from a checkout."""
    here = str(Path(__file__).resolve().parents[2])
    rest = os.environ.get("PYTHONPATH")
    return f"{here}{os.pathsep}{rest}" if rest else here


def hark_program(config: Path, server_url: str, work: Path) -> Program:
    """`hark listen --json` with `config`, on the scripted server, its data in `work`."""
    from voice.build import models_dir

    env = {
        "OLLAMA_HOST": server_url,
        "HARK_MODELS_DIR": str(models_dir()),
        "PYTHONPATH": _pythonpath(),
        "HARK_DATA_DIR": str(work / "hark-data"),
    }
    return Program("hark", [sys.executable, "-m", "voice.cli", "listen", "--json", "--config", str(config)], env)


def plain_program(config: Path, server_url: str) -> Program:
    """The plain loop on the scripted server, with the Whisper model and the voice Hark's config names."""
    from voice.build import models_dir
    from voice.config import load_config
    from voice.stt import SttError, resolve_model
    from voice.tts import TtsError, resolve_voice

    cfg = load_config(config)
    models = models_dir()
    try:
        whisper = resolve_model(cfg.stt.model, models, cfg.stt.download)
        voice, _ = resolve_voice(cfg.tts.voice, models)
    except (SttError, TtsError) as e:
        raise BenchError(f"the plain loop needs Hark's models: {e}") from e
    argv = [sys.executable, "-m", "voice.bench.plain_loop", "--host", server_url, "--model", BENCH_MODEL]
    env = {"OLLAMA_HOST": server_url, "PYTHONPATH": _pythonpath()}
    return Program("plain loop", [*argv, "--whisper", whisper, "--voice", str(voice)], env)


def barge_in_plan(inputs: list[Input], server: FakeOllama, normal: Reply, long: Reply) -> BargeIn:
    """Ask with the shortest input of 1.5 s or more; interrupt with the next such one (or any other)."""
    by_length = sorted(inputs, key=lambda i: i.seconds)
    prompt = next((i for i in by_length if i.seconds >= 1.5), by_length[-1])
    others = [i for i in by_length if i is not prompt]
    interruption = next((i for i in others if i.seconds >= 1.5), others[-1] if others else prompt)

    def use(reply: Reply) -> Callable[[], None]:
        def set_reply() -> None:
            server.default_reply = reply

        return set_reply

    return BargeIn(prompt, interruption, long_reply=use(long), normal_reply=use(normal))


def summary(session: Session, barge_in_config: bool | None) -> dict[str, Any]:
    """One program's figures, as they appear in the JSON object (top level for Hark, `anchor` for the loop)."""
    rows = turn_rows(session)
    measured = [r for r in rows if r["measured"]]
    medians, p90s = stats.summarize(measured, FIGURES)
    trials = barge_in_rows(session)
    mistaken = self_interruptions(session)
    windows = session.idle_windows
    return {
        "turns": {"played": len(rows), "measured": len(measured)},
        "median_ms": medians,
        "p90_ms": p90s,
        "idle_cpu_percent": round(sum(windows) / len(windows), 2) if windows else None,
        "rss_mb": round(session.rss_after_mb, 1),
        "rss_rest_mb": round(session.rss_rest_mb, 1),
        "startup_s": round(session.startup_s, 2),
        "barge_in_stop_ms": stats.median(t["stop_ms"] for t in trials),
        "barge_in": {"config": barge_in_config, "trials": trials},
        "self_interruptions": mistaken,  # barge_in events no input explains (see voice.bench.turns)
        "exit_code": session.exit_code,
        "rows": [_public_row(r) for r in rows],
        "checks": _checks(session, rows),
    }


def paired(hark: dict[str, Any], anchor: dict[str, Any]) -> dict[str, Any]:
    """Medians over only the turns both programs completed (the same recordings, the same run)."""
    done = {(r["run"], r["file"]) for r in anchor["rows"] if r["measured"]}
    both = {(r["run"], r["file"]) for r in hark["rows"] if r["measured"]} & done

    def medians(d: dict[str, Any]) -> dict[str, float | None]:
        rows = [r["ms"] for r in d["rows"] if (r["run"], r["file"]) in both]
        return stats.summarize(rows, FIGURES)[0]

    return {"turns": len(both), "median_ms": medians(hark), "anchor_median_ms": medians(anchor)}


def _public_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "run": r["run"],
        "file": r["file"],
        "said": r["said"],
        "heard": r["text"],
        "intent": r["intent"],
        "measured": r["measured"],
        "why_not_measured": r["why_not_measured"],
        "ms": {f: r[f] for f in FIGURES},
        "whisper_ms": None if r["stt_seconds"] is None else round(r["stt_seconds"] * 1000, 1),
        "errors": r["errors"],
    }


def _checks(session: Session, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How far the clock alignment can be trusted (see docs/benchmarks.md)."""
    paplay = [
        (r["speech_end_paplay"] - r["speech_end"]) * 1000 for r in rows if r["speech_end"] is not None
    ]  # paplay returns once the server has drained its buffer: a small positive gap is expected
    stream = [r["endpoint_stream_ms"] for r in rows if r["measured"]]
    return {
        "clock_offset_s": round(session.events.clock_offset(), 4),
        "paplay_minus_recording_ms": stats.median(paplay),
        "endpoint_from_stream_times_ms": stats.median(stream),
        "recorder_launch_delay_ms": {k: round(v * 1000) for k, v in session.launch_delay_s.items()},
        "idle_windows": session.idle_windows,
        "idle_threads": session.idle_threads,
    }


def run(options: Options, progress: Callable[[str], None] = say) -> dict[str, Any]:
    """Measure Hark (and the plain loop) as `options` say; the JSON-ready result (see the module docstring)."""
    from voice.bench.machine import machine_info
    from voice.config import load_config

    if options.runs < 1:
        raise BenchError("--runs must be at least 1")
    started = datetime.now().astimezone()
    t0 = time.monotonic()
    inputs = choose_inputs(options, progress)
    work = Path(tempfile.mkdtemp(prefix="hark-bench-"))
    server = FakeOllama()
    pulse = Pulse(work / "pulse")
    try:
        server.start()
        server.add_model(BENCH_MODEL, capabilities=["completion", "tools"])
        normal = Reply(content=REPLY, delay_s=options.ttft_ms / 1000)
        long = Reply(content=LONG_REPLY, delay_s=options.ttft_ms / 1000)
        server.default_reply = normal
        config = hark_config(options, server.url, work)
        hark = hark_program(config, server.url, work)
        plain = plain_program(config, server.url) if options.anchor else None
        cfg = load_config(config)
        barge_config = getattr(cfg.audio, "barge_in", None)  # None: a Hark without barge-in
        try:
            pulse.start()
        except Exception as e:
            raise BenchError(f"cannot start a private PulseAudio daemon: {e}") from e
        plan = barge_in_plan(inputs, server, normal, long) if options.barge_in else None

        def measure(program: Program, barge: bool | None) -> dict[str, Any]:
            session = run_session(
                program,
                pulse,
                inputs,
                work / program.name.replace(" ", "-"),
                runs=options.runs,
                idle_s=options.idle_s,
                barge_in=plan,
                answers=lambda: list(server.answers),
                progress=progress,
            )
            return summary(session, barge)

        result: dict[str, Any] = {
            "runs": options.runs,
            "files": [{"file": i.path.name, "seconds": round(i.seconds, 2), "said": i.label} for i in inputs],
            "ttft_ms": options.ttft_ms,
            "reply": REPLY,
        }
        result.update(measure(hark, barge_config))
        result["anchor"] = measure(plain, False) if plain is not None else None
        result["paired"] = paired(result, result["anchor"]) if result["anchor"] else None
        result["model"] = {"stt": cfg.stt.model, "tts": cfg.tts.voice, "llm": f"{BENCH_MODEL} (scripted)"}
        result["machine"] = machine_info()
        result["started"] = started.isoformat(timespec="seconds")
        result["seconds"] = round(time.monotonic() - t0, 1)
        return result
    finally:
        server.stop()
        pulse.stop()
        if options.keep is not None:
            shutil.copytree(work, options.keep, dirs_exist_ok=True, ignore=shutil.ignore_patterns("pulse"))
        shutil.rmtree(work, ignore_errors=True)
