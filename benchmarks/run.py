#!/usr/bin/env python3
"""Hark's benchmarks: model loads, transcription, synthesis, endpointing and the live loop.

    .venv/bin/python benchmarks/run.py [--quick] [--runs N] [--only load,stt,tts,vad,loop] [--out PATH]

Prints a table and rewrites docs/benchmarks.md with the figures, the date and the machine.
Every figure is the median of several runs (default 5) with its min and max. `--quick`
shrinks the runs for a smoke check; it and `--only` write their report to a temporary file
instead of docs/benchmarks.md (pass --out to choose). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("HARK_MODELS_DIR", str(ROOT / "models"))

import numpy as np  # noqa: E402  (after the path setup, like everything from the repository)

DOC = ROOT / "docs" / "benchmarks.md"
RATE = 16000
SECTIONS = ("load", "stt", "tts", "vad", "loop")
MODELS = ("tiny.en", "base")
ONE_SENTENCE = "Done, I added milk to your shopping list."
THREE_SENTENCES = ("It is ten past four in the afternoon. Your pasta timer ends in five minutes. "
                   "Is there anything else I can do for you?")
LOOP_REPLY = "Done. Anything else?"  # the fake model's answer on every turn, as in FACTS.md's loop
LOOP_MODEL = "hark-bench:1b"
# Short spoken commands for the live loop: (label, file, librivox segment or None).
LOOP_INPUTS = [
    ("go forward ten meters", "cmu_goforward.wav", None),
    ("one two three", "speech_recognition_one_two_three.wav", None),
    ("he was not an ill disposed young man", "librivox_sense_and_sensibility_long.wav",
     "sense_and_sensibility_01_austen_64kb-0880"),
    ("yes", "speechcommands_yes.wav", None),
    ("he might even have been made amiable himself", "librivox_sense_and_sensibility_long.wav",
     "sense_and_sensibility_01_austen_64kb-0930"),
    ("no", "speechcommands_no.wav", None),
]
# A sound counts as speech down to this far below the loudest 10 ms of the utterance.
SPEECH_END_DB_BELOW_PEAK = 25.0
AUDIBLE_DBFS = -40.0


# ---------------------------------------------------------------- figures

@dataclass
class Figure:
    label: str
    unit: str  # "s", "ms", "µs", "×", "%", "MB", "" (a ratio such as WER or RTF)
    values: list[float]
    facts: str = ""  # the comparable figure in FACTS.md, as text
    value: Optional[float] = None  # shown instead of the median (e.g. a 10 s average)
    lo: Optional[float] = None  # min/max overrides (e.g. the 1 s windows of that average)
    hi: Optional[float] = None

    @property
    def main(self) -> float:
        return self.value if self.value is not None else statistics.median(self.values)

    @property
    def low(self) -> Optional[float]:
        return self.lo if self.lo is not None else (min(self.values) if len(self.values) > 1 else None)

    @property
    def high(self) -> Optional[float]:
        return self.hi if self.hi is not None else (max(self.values) if len(self.values) > 1 else None)

    def fmt(self, v: Optional[float]) -> str:
        if v is None:
            return "–"
        if self.unit == "ms":
            return f"{v:.0f} ms"
        if self.unit == "s":
            return f"{v:.2f} s" if v < 10 else f"{v:.1f} s"
        if self.unit == "µs":
            return f"{v:.1f} µs"
        if self.unit == "%":
            return f"{v:.1f} %"
        if self.unit == "MB":
            return f"{v:.0f} MB"
        return f"{v:.3f}"


def fig(label: str, unit: str, values: list[float], facts: str = "", **kw: Any) -> Figure:
    return Figure(label, unit, [float(v) for v in values], facts, **kw)


@dataclass
class Report:
    runs: int
    quick: bool
    started: datetime = field(default_factory=lambda: datetime.now().astimezone())
    figures: dict[str, dict[str, Figure]] = field(default_factory=dict)  # section -> key -> figure
    errors: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # per-file tables, per-turn rows, notes
    seconds: dict[str, float] = field(default_factory=dict)
    background: dict[str, float] = field(default_factory=dict)  # section -> % of the CPU used by other programs

    def add(self, section: str, key: str, figure: Figure) -> Figure:
        self.figures.setdefault(section, {})[key] = figure
        return figure

    def get(self, section: str, key: str) -> Optional[Figure]:
        return self.figures.get(section, {}).get(key)


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def perf() -> float:
    return time.perf_counter()


def cpu_snapshot() -> tuple[float, float, float]:
    """(monotonic time, CPU seconds the whole machine was busy, CPU seconds of this process and its children)."""
    import psutil

    c = psutil.cpu_times()
    busy = c.user + c.nice + c.system + getattr(c, "irq", 0) + getattr(c, "softirq", 0) + getattr(c, "steal", 0)
    me = psutil.Process().cpu_times()
    return time.monotonic(), busy, me.user + me.system + me.children_user + me.children_system


def other_load(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """% of all cores that processes other than the benchmark (and its children) used between two snapshots."""
    wall = max(b[0] - a[0], 1e-6)
    return max(0.0, (b[1] - a[1]) - (b[2] - a[2])) / (wall * (os.cpu_count() or 1)) * 100


def wait_until_quiet(max_wait_s: float, threshold: float = 15.0) -> float:
    """Measure what else is running (3 s windows), waiting up to max_wait_s for it to drop below threshold."""
    deadline = time.monotonic() + max_wait_s
    while True:
        a = cpu_snapshot()
        time.sleep(3.0)
        load = other_load(a, cpu_snapshot())
        if load < threshold or time.monotonic() >= deadline:
            return load
        say(f"other programs use {load:.0f} % of the CPU; waiting for a quieter moment")


# ---------------------------------------------------------------- machine

def machine_info() -> dict[str, str]:
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = {}
    for dist in ("faster-whisper", "ctranslate2", "piper-tts", "onnxruntime", "webrtcvad-wheels", "ollama",
                 "numpy", "sounddevice"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    pulse = "not installed"
    try:
        pulse = subprocess.run(["pulseaudio", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    commit = ""
    try:  # read-only git queries: which code was measured
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if commit and dirty:
            commit += " with uncommitted changes"
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "CPU": cpu,
        "Cores": f"{os.cpu_count()} logical ({usable} usable), no GPU used (device=cpu, int8)",
        "RAM": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python": platform.python_version(),
        "Packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "Sound server": pulse,
        "Hark": commit or "unknown",
    }


# ---------------------------------------------------------------- data

def speech_dir() -> Path:
    return Path(os.environ.get("HARK_SPEECH_DATA", ROOT.parent / "shared" / "data" / "speech"))


def manifest() -> list[dict[str, str]]:
    path = speech_dir() / "manifest.tsv"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the benchmarks need the shared speech recordings "
                                "(set HARK_SPEECH_DATA to their folder)")
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def is_speech(row: dict[str, str]) -> bool:
    return not row["speaker_or_source"].startswith("NON-SPEECH")


def db_windows(samples: np.ndarray, win: int = RATE // 100) -> np.ndarray:
    """RMS level (dBFS) of consecutive 10 ms windows of int16 or float audio."""
    x = samples.astype(np.float32)
    if samples.dtype == np.int16:
        x /= 32768.0
    n = len(x) // win
    if n == 0:
        return np.zeros(0)
    rms = np.sqrt(np.mean(np.square(x[: n * win].reshape(n, win)), axis=1) + 1e-12)
    return 20 * np.log10(rms)


def speech_end_s(samples: np.ndarray) -> Optional[float]:
    """Where speech ends: the end of the last 10 ms within SPEECH_END_DB_BELOW_PEAK of the loudest 10 ms."""
    db = db_windows(samples)
    if len(db) == 0 or db.max() < -70:
        return None
    loud = np.nonzero(db >= db.max() - SPEECH_END_DB_BELOW_PEAK)[0]
    return (loud[-1] + 1) / 100.0


# ---------------------------------------------------------------- 1. model loads

def bench_load(rep: Report, runs: int) -> None:
    import faster_whisper  # noqa: F401  imports stay out of the timings
    import piper  # noqa: F401

    from voice.build import models_dir
    from voice.config import SttConfig, TtsConfig
    from voice.stt import WhisperTranscriber, resolve_model
    from voice.tts import PiperSynthesizer

    mdir = models_dir()
    with tempfile.TemporaryDirectory(prefix="hark-bench-base-") as tmp:
        t0 = perf()
        resolve_model("base", Path(tmp), download=False)
        assembly = perf() - t0
    resolve_model("base", mdir, download=False)  # the real models dir, once (kept for later runs)
    rep.add("load", "base_assembly", fig("Whisper base: assemble model.bin from the two pip halves (once)", "s",
                                          [assembly]))
    for model in MODELS:
        cfg = SttConfig(model=model, device="cpu")
        WhisperTranscriber(cfg, mdir).load()  # untimed: puts the model file in the page cache
        gc.collect()
        times = []
        for _ in range(runs):
            t = WhisperTranscriber(cfg, mdir).load()
            times.append(t.load_seconds)
            del t
            gc.collect()
        rep.add("load", f"whisper_{model}", fig(f"Whisper {model} load (int8, CPU)", "s", times))
    tts = TtsConfig()
    PiperSynthesizer(tts, mdir).load()
    times = []
    for _ in range(runs):
        s = PiperSynthesizer(tts, mdir).load()
        times.append(s.load_seconds)
        del s
        gc.collect()
    rep.add("load", "piper", fig(f"Piper voice load ({tts.voice})", "s", times, facts="0.28 s"))


# ---------------------------------------------------------------- 2. transcription

def bench_stt(rep: Report, runs: int) -> None:
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    from voice.audio import read_audio
    from voice.build import models_dir
    from voice.config import SttConfig
    from voice.stt import WhisperTranscriber

    rows = manifest()
    speech = [r for r in rows if is_speech(r)]
    noise = [r for r in rows if not is_speech(r)]
    audio = {r["file"]: read_audio(speech_dir() / r["file"]) for r in speech}
    noise_audio = {r["file"]: read_audio(speech_dir() / r["file"]) for r in noise}
    total_audio = sum(len(a) for a in audio.values()) / RATE
    norm = EnglishTextNormalizer()
    per_file: dict[str, dict[str, Any]] = {r["file"]: {"seconds": len(audio[r["file"]]) / RATE} for r in speech}
    for model in MODELS:
        t = WhisperTranscriber(SttConfig(model=model, device="cpu", beam_size=1), models_dir()).load()
        t.warm()
        timings: dict[str, list[float]] = {f: [] for f in audio}
        texts: dict[str, str] = {}
        rtf_runs = []
        for _ in range(runs):
            spent = 0.0
            for name, samples in audio.items():
                t0 = perf()
                result = t.transcribe(samples)
                dt = perf() - t0
                timings[name].append(dt)
                texts.setdefault(name, result.text)  # greedy decoding: every run gives the same text
                spent += dt
            rtf_runs.append(spent / total_audio)
        refs = [norm(r["reference_transcript"]) for r in speech]
        hyps = [norm(texts[r["file"]]) for r in speech]
        wer = jiwer.process_words(refs, hyps)
        short = [x for r in speech if float(r["seconds"]) <= 3.0 for x in timings[r["file"]]]
        long_ = [x for r in speech if float(r["seconds"]) >= 10.0 for x in timings[r["file"]]]
        rep.add("stt", f"{model}_rtf", fig(f"{model}: real-time factor, all {len(speech)} speech files "
                                            f"({total_audio:.0f} s of audio)", "", rtf_runs))
        rep.add("stt", f"{model}_short", fig(f"{model}: seconds per short command (1–3 s files)", "s", short,
                                              facts="tiny.en: ~0.5 s (0.3–0.75) for a 2 s command"))
        rep.add("stt", f"{model}_long", fig(f"{model}: seconds per long utterance (11–33 s files)", "s", long_))
        rep.add("stt", f"{model}_wer", fig(f"{model}: WER over the {len(speech)} speech files", "", [wer.wer],
                                            facts="0.063 tiny.en / 0.074 base (other set, beam 5)"))
        for r, ref, hyp in zip(speech, refs, hyps):
            one = jiwer.process_words(ref, hyp)
            rw, hw = ref.split(), hyp.split()
            diffs = [f"\"{' '.join(rw[max(0, c.ref_start_idx - 2):c.ref_end_idx + 2])}\" → "
                     f"\"{' '.join(hw[max(0, c.hyp_start_idx - 2):c.hyp_end_idx + 2])}\""
                     for c in one.alignments[0] if c.type != "equal"]
            diffs = list(dict.fromkeys(diffs))  # neighbouring errors share their context
            per_file[r["file"]][model] = {
                "median": statistics.median(timings[r["file"]]), "min": min(timings[r["file"]]),
                "max": max(timings[r["file"]]), "errors": one.substitutions + one.deletions + one.insertions,
                "words": len(ref.split()), "text": texts[r["file"]], "diffs": diffs,
            }
        invented = {}
        for name, samples in noise_audio.items():
            text = t.transcribe(samples).text
            if text.strip():
                invented[name] = text
        rep.extra.setdefault("stt_noise", {})[model] = invented
        rep.extra.setdefault("stt_wer_detail", {})[model] = (wer.substitutions, wer.deletions, wer.insertions,
                                                             sum(len(x.split()) for x in refs))
        del t
        gc.collect()
    rep.extra["stt_files"] = per_file
    rep.extra["stt_noise_files"] = [r["file"] for r in noise]


# ---------------------------------------------------------------- 3. synthesis

def bench_tts(rep: Report, runs: int) -> None:
    from voice.build import models_dir
    from voice.config import TtsConfig
    from voice.tts import PiperSynthesizer

    synth = PiperSynthesizer(TtsConfig(), models_dir()).load()
    synth.warm()
    first: dict[str, list[float]] = {"one": [], "three": []}
    rtf: list[float] = []
    chunks = {}
    for _ in range(runs):
        for key, text in (("one", ONE_SENTENCE), ("three", THREE_SENTENCES)):
            t0 = perf()
            stream = synth.synthesize(text)
            head = next(stream)
            first[key].append((perf() - t0) * 1000)
            rest = list(stream)
            total = perf() - t0
            samples = len(head) + sum(len(c) for c in rest)
            chunks[key] = 1 + len(rest)
            rtf.append(total / (samples / synth.sample_rate))
    rep.add("tts", "first_one", fig("Piper: first audio of a one-sentence reply", "ms", first["one"],
                                     facts="54–107 ms"))
    rep.add("tts", "first_three", fig("Piper: first audio of a three-sentence reply", "ms", first["three"],
                                       facts="54–107 ms"))
    rep.add("tts", "rtf", fig("Piper: real-time factor (synthesis time / audio length)", "", rtf,
                               facts="about 0.025"))
    rep.extra["tts_chunks"] = chunks
    rep.extra["tts_rate"] = synth.sample_rate


# ---------------------------------------------------------------- 4. voice activity

def bench_vad(rep: Report, runs: int) -> None:
    import webrtcvad

    from voice.audio import frames_of, read_audio
    from voice.config import VadConfig
    from voice.vad import Endpointer

    cfg = VadConfig()
    files = [read_audio(speech_dir() / r["file"]) for r in manifest()]
    frames = [[f.copy() for f in frames_of(a, RATE * 30 // 1000)] for a in files]
    count = sum(len(f) for f in frames)
    vad_us, endpoint_us = [], []
    for _ in range(runs):
        vad = webrtcvad.Vad(cfg.aggressiveness)
        t0 = perf()
        for per_file in frames:
            for frame in per_file:
                vad.is_speech(frame.tobytes(), RATE)
        vad_us.append((perf() - t0) / count * 1e6)
        endpointers = [Endpointer(cfg, 30) for _ in frames]
        t0 = perf()
        for ep, per_file in zip(endpointers, frames):
            for frame in per_file:
                ep.process(frame)
            ep.flush()
        endpoint_us.append((perf() - t0) / count * 1e6)
    rep.add("vad", "webrtcvad", fig("webrtcvad alone, per 30 ms frame", "µs", vad_us, facts="2.2 µs"))
    rep.add("vad", "endpointer", fig("Endpointer (webrtcvad + pre-roll, hysteresis, hangover), per 30 ms frame",
                                      "µs", endpoint_us))
    rep.extra["vad_frames"] = count


# ---------------------------------------------------------------- 5. the live loop

class HarkEvents:
    """`hark listen --json` on a thread: every event with the monotonic time it was read."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.events: list[tuple[float, dict]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            now = time.monotonic()
            if not line.startswith("{"):
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            with self.cond:
                self.events.append((now, event))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, test: Callable[[dict], bool], since: int, timeout: float) -> Optional[int]:
        """Index of the first event from `since` on that passes `test`, or None on timeout or exit."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(since, len(self.events)):
                    if test(self.events[i][1]):
                        return i
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return None
                self.cond.wait(min(left, 0.2))

    def clock_offset(self) -> float:
        """Hark's event time `t` is monotonic seconds since its own start; this maps it onto ours.

        Each line is read a little after it is written, never before, so the smallest gap is the best estimate."""
        return min(read - e["t"] for read, e in self.events)


def _parec(env: dict[str, str], source: str, out: Path) -> tuple[subprocess.Popen, float]:
    # Pulse.record with a small latency: the null sink then renders (and the monitor delivers) in 20 ms blocks,
    # so a sample's position in the file is its time on the sound server's clock.
    started = time.monotonic()
    proc = subprocess.Popen(["parec", f"--device={source}", "--format=s16le", f"--rate={RATE}", "--channels=1",
                             "--latency-msec=20", "--file-format=wav", str(out)], env=env)
    return proc, started


def _stop(proc: subprocess.Popen, sig: int = signal.SIGINT, timeout: float = 20) -> Optional[int]:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def _thread_split(proc: Any, before: dict[int, float], seconds: float) -> dict[str, Any]:
    """Where an idle process's CPU went, per OS thread (Python threads all show as "python")."""
    used = []
    for t in proc.threads():
        pct = (t.user_time + t.system_time - before.get(t.id, 0.0)) / seconds * 100
        try:
            name = Path(f"/proc/{proc.pid}/task/{t.id}/comm").read_text().strip()
        except OSError:
            name = "?"
        used.append((pct, name))
    used.sort(reverse=True)
    return {
        "threads": len(used), "busy": sum(1 for pct, _ in used if pct >= 0.1),
        "pulse_plugin": sum(pct for pct, name in used if name == "threaded-ml"),
        "top": used[:3],
    }


def _loop_inputs(tmp: Path) -> list[dict[str, Any]]:
    """The WAVs to play: whole short files, or one LibriVox segment cut at its boundaries (room tone kept)."""
    import soundfile as sf

    segments = {}
    seg_file = speech_dir() / "librivox_sense_and_sensibility_long.segments.tsv"
    with seg_file.open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            segments[row["segment"]] = (float(row["start_s"]), float(row["end_s"]))
    out = []
    for label, name, segment in LOOP_INPUTS:
        data, rate = sf.read(speech_dir() / name, dtype="int16")
        assert rate == RATE, f"{name}: expected 16 kHz"
        path = speech_dir() / name
        if segment:
            start, end = segments[segment]
            data = data[int(start * RATE): int(end * RATE)]
            path = tmp / f"{segment}.wav"
            sf.write(path, data, RATE, subtype="PCM_16")
        end_in_file = speech_end_s(data)
        out.append({"label": label, "path": path, "duration": len(data) / RATE, "speech_end_in_file": end_in_file})
    return out


def bench_loop(rep: Report, turns: int, idle_s: float) -> None:
    import shutil

    tmp = Path(tempfile.mkdtemp(prefix="hark-bench-"))
    try:
        _run_loop(rep, turns, idle_s, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_loop(rep: Report, turns: int, idle_s: float, tmp: Path) -> None:
    import psutil
    import soundfile as sf

    from conftest import Pulse  # tests/conftest.py: a private PulseAudio daemon with hark_in / hark_out
    from ollama_server import FakeOllama, Reply

    inputs = _loop_inputs(tmp)
    pulse = Pulse(tmp / "pulse")
    fake = FakeOllama()
    hark: Optional[subprocess.Popen] = None
    recorders: list[subprocess.Popen] = []
    stderr_path = tmp / "hark.stderr"
    try:
        pulse.start()
        fake.start()
        fake.add_model(LOOP_MODEL, capabilities=["completion", "tools"])
        fake.script(LOOP_MODEL, [Reply(content=LOOP_REPLY) for _ in range(turns + 10)])
        config = tmp / "config.yaml"
        # Everything else at its shipped default: this measures the loop a user gets.
        config.write_text(f"llm:\n  model: {LOOP_MODEL}\nstt:\n  device: cpu\n", encoding="utf-8")
        env = pulse.client_env(HARK_DATA_DIR=str(tmp / "data"), OLLAMA_HOST=fake.url,
                               HARK_MODELS_DIR=os.environ["HARK_MODELS_DIR"])
        pulse_env = {**os.environ, **pulse.env}
        in_wav, out_wav = tmp / "hark_in.wav", tmp / "hark_out.wav"
        rec_in, t_in0 = _parec(pulse_env, "hark_in.monitor", in_wav)
        rec_out, t_out0 = _parec(pulse_env, "hark_out.monitor", out_wav)
        recorders = [rec_in, rec_out]

        t_launch = time.monotonic()
        with stderr_path.open("w") as err:
            hark = subprocess.Popen([sys.executable, "-m", "voice.cli", "listen", "--json", "--config", str(config)],
                                    cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        events = HarkEvents(hark)

        def fail(what: str) -> RuntimeError:
            tail = stderr_path.read_text(errors="replace")[-1500:] if stderr_path.exists() else ""
            seen = [e["event"] for _, e in events.events][-15:]
            return RuntimeError(f"{what}; hark exit code {hark.poll()}; last events {seen}; stderr tail:\n{tail}")

        ready = events.wait_for(lambda e: e["event"] == "ready", 0, timeout=180)
        if ready is None:
            raise fail("`hark listen` never became ready")
        startup = events.events[ready][0] - t_launch
        proc = psutil.Process(hark.pid)
        time.sleep(2.0)  # let start-up work (threads, first buffers) settle before measuring idle
        proc.cpu_percent(None)
        threads0 = {t.id: t.user_time + t.system_time for t in proc.threads()}
        windows = []
        t0 = time.monotonic()
        for _ in range(int(round(idle_s))):
            windows.append(proc.cpu_percent(1.0))
        idle_elapsed = time.monotonic() - t0
        rep.extra["idle_threads"] = _thread_split(proc, threads0, idle_elapsed)
        rss_rest = proc.memory_info().rss / 1e6

        plays: list[dict[str, Any]] = []
        for i in range(turns):
            item = inputs[i % len(inputs)]
            mark = len(events.events)
            p_start = time.monotonic()
            pulse.play(item["path"])  # paplay into hark_in; returns when the sound server has played it
            p_exit = time.monotonic()
            done = events.wait_for(
                lambda e: e["event"] == "reply" or (e["event"] == "transcript" and not e.get("text", "").strip()),
                mark, timeout=45)
            if done is None and hark.poll() is not None:
                raise fail(f"hark stopped during turn {i + 1}")
            plays.append({**item, "turn": i + 1, "mark": mark, "p_start": p_start, "p_exit": p_exit,
                          "done": done})
            time.sleep(1.0)  # past the echo tail (250 ms) before the next command
        time.sleep(0.5)
        rss_after = proc.memory_info().rss / 1e6
        t_stop = time.monotonic()
        # A recording's first sample is not its launch moment (a fresh null sink takes up to ~2 s to deliver
        # anything), but its last sample is the moment it is stopped: place each on the clock from its end.
        stopped = {}
        for name, rec in (("in", rec_in), ("out", rec_out)):
            stopped[name] = time.monotonic()
            _stop(rec)
        code = _stop(hark)
        launch_delay = {}
        for name, wav, launched in (("in", in_wav, t_in0), ("out", out_wav, t_out0)):
            start = stopped[name] - sf.info(str(wav)).frames / RATE
            launch_delay[name] = start - launched
            if name == "in":
                t_in0 = start
            else:
                t_out0 = start
    finally:
        for r in recorders:
            _stop(r)
        if hark is not None:
            _stop(hark)
        fake.stop()
        pulse.stop()

    offset = events.clock_offset()
    rec_in_audio, _ = sf.read(str(in_wav), dtype="int16")
    rec_out_audio, _ = sf.read(str(out_wav), dtype="int16")
    rows = []
    for k, p in enumerate(plays):
        nxt = plays[k + 1]["p_start"] if k + 1 < len(plays) else t_stop
        lo = max(0, int((p["p_start"] - t_in0 - 0.2) * RATE))
        hi = int((p["p_exit"] - t_in0 + 0.3) * RATE)
        end_rel = speech_end_s(rec_in_audio[lo:hi])
        row: dict[str, Any] = {"turn": p["turn"], "label": p["label"], "ok": False}
        row["speech_end"] = t_in0 + (lo / RATE) + end_rel if end_rel is not None else None
        tail = p["duration"] - (p["speech_end_in_file"] or p["duration"])
        row["speech_end_paplay"] = p["p_exit"] - tail
        turn_events = [(read, e) for read, e in events.events[p["mark"]:] if e["t"] + offset < nxt]

        def first(name: str, **match: Any) -> Optional[dict]:
            for _, e in turn_events:
                if e["event"] == name and all(e.get(a) == b for a, b in match.items()):
                    return e
            return None

        def at(e: Optional[dict]) -> Optional[float]:
            return e["t"] + offset if e else None

        ends = [e for _, e in turn_events if e["event"] == "speech_end" and "discarded" not in e]
        row["ev_speech_end"] = at(ends[0]) if ends else None
        tr = first("transcript")
        row["transcript"] = tr.get("text") if tr else None
        row["stt_seconds"] = tr.get("seconds") if tr else None
        row["ev_transcript"] = at(tr)
        row["ev_audio_out_start"] = at(first("audio_out_start"))
        row["ev_reply"] = at(first("reply"))
        row["intent"] = (first("intent") or {}).get("name")
        row["errors"] = [e.get("message") for _, e in turn_events if e["event"] == "error"]
        if row["speech_end"] is not None:
            a = max(0, int((row["speech_end"] - t_out0) * RATE))
            b = max(a, int((nxt - t_out0) * RATE))
            seg = rec_out_audio[a:b]
            nz = np.nonzero(np.abs(seg.astype(np.int32)) > 0)[0]
            row["out_first"] = t_out0 + (a + nz[0]) / RATE if len(nz) else None
            db = db_windows(seg)
            loud = np.nonzero(db >= AUDIBLE_DBFS)[0]
            row["out_audible"] = t_out0 + a / RATE + loud[0] / 100.0 if len(loud) else None
        else:
            row["out_first"] = row["out_audible"] = None
        row["ok"] = all(row.get(k_) is not None for k_ in ("speech_end", "ev_speech_end", "ev_transcript",
                                                            "ev_audio_out_start", "out_first"))
        rows.append(row)

    good = [r for r in rows if r["ok"]]

    def ms(key_a: str, key_b: str) -> list[float]:
        return [(r[key_b] - r[key_a]) * 1000 for r in good]

    def add(key: str, label: str, a: str, b: str, facts: str = "") -> None:
        values = ms(a, b)
        if values:
            rep.add("loop", key, fig(label, "ms", values, facts=facts))

    add("end_decided", "speech end (audio) → end of utterance decided (speech_end event)", "speech_end",
        "ev_speech_end", "450 ms (300 ms hangover)")
    add("to_transcript", "speech end (audio) → transcript", "speech_end", "ev_transcript", "1150 ms")
    add("to_audio_event", "speech end (audio) → audio_out_start event", "speech_end", "ev_audio_out_start")
    add("to_first_audio", "speech end (audio) → first reply sample on hark_out (measured outside)", "speech_end",
        "out_first", "1250 ms; target 600 ms")
    add("to_audible", "speech end (audio) → first audible reply (≥ −40 dBFS) on hark_out", "speech_end",
        "out_audible")
    add("ev_transcript", "speech_end event → transcript event (events only)", "ev_speech_end", "ev_transcript")
    add("ev_audio", "speech_end event → audio_out_start event (events only)", "ev_speech_end", "ev_audio_out_start")
    add("reply_path", "transcript event → audio_out_start event (intents/LLM + first Piper chunk)", "ev_transcript",
        "ev_audio_out_start")
    add("out_buffer", "audio_out_start event → first reply sample on hark_out (output buffering)",
        "ev_audio_out_start", "out_first")
    stt = [r["stt_seconds"] * 1000 for r in good if r["stt_seconds"] is not None]
    if stt:
        rep.add("loop", "stt_inside", fig("Whisper's own time inside the loop (transcript.seconds)", "ms", stt))
    rep.add("loop", "startup", fig("`hark listen` start → ready (models loaded and warmed)", "s", [startup]))
    rep.add("loop", "idle_cpu", fig(f"idle CPU of the hark process over {idle_elapsed:.0f} s (% of one core)", "%",
                                     windows, facts="1.3 %", value=statistics.fmean(windows), lo=min(windows),
                                     hi=max(windows)))
    rep.add("loop", "rss_rest", fig("resident memory at rest (after start-up and the idle period)", "MB",
                                     [rss_rest], facts="270 MB"))
    rep.add("loop", "rss_after", fig(f"resident memory after {len(plays)} turns", "MB", [rss_after],
                                      facts="370 MB after 12 turns"))
    cross = [(r["speech_end_paplay"] - r["speech_end"]) * 1000 for r in rows if r["speech_end"] is not None]
    rep.extra["loop"] = {
        "rows": rows, "turns": len(plays), "good": len(good), "exit_code": code, "clock_offset": offset,
        "paplay_minus_recording_ms": cross, "recorder_launch_delay_ms": {k: v * 1000 for k, v in launch_delay.items()},
        "idle_windows": windows,
    }
    if not good:
        raise RuntimeError(f"no turn completed; rows: {rows}")


# ---------------------------------------------------------------- output

SECTION_TITLES = {
    "load": "1. Model load time",
    "stt": "2. Transcription (faster-whisper, beam 1, int8 on CPU)",
    "tts": "3. Speech synthesis (Piper)",
    "vad": "4. Voice activity detection",
    "loop": "5. The live loop through real (PulseAudio null-sink) devices",
}


def print_table(rep: Report) -> None:
    from rich.console import Console
    from rich.table import Table

    runs = f"{rep.runs} run{'s' if rep.runs != 1 else ''}{', quick' if rep.quick else ''}"
    table = Table(title=f"Hark benchmarks ({runs})", show_lines=False)
    for col in ("figure", "median", "min", "max", "n", "FACTS.md"):
        table.add_column(col, justify="left" if col in ("figure", "FACTS.md") else "right")
    for section in SECTIONS:
        if section in rep.errors:
            table.add_row(f"[bold]{SECTION_TITLES[section]}[/]", "[red]FAILED[/]", "", "", "", "")
            continue
        figs = rep.figures.get(section)
        if not figs:
            continue
        table.add_row(f"[bold]{SECTION_TITLES[section]}[/]", "", "", "", "", "")
        for f in figs.values():
            table.add_row("  " + f.label, f.fmt(f.main), f.fmt(f.low), f.fmt(f.high), str(len(f.values)), f.facts)
    Console().print(table)
    for section, message in rep.errors.items():
        Console(stderr=True).print(f"[red]{section} failed:[/] {message}", highlight=False)


def md_table(figs: list[Figure]) -> list[str]:
    lines = ["| figure | median | min | max | n | FACTS.md |", "|---|---:|---:|---:|---:|---|"]
    for f in figs:
        lines.append(f"| {f.label} | {f.fmt(f.main)} | {f.fmt(f.low)} | {f.fmt(f.high)} | {len(f.values)} | "
                     f"{f.facts or ''} |")
    return lines


def _v(rep: Report, section: str, key: str) -> Optional[float]:
    f = rep.get(section, key)
    return f.main if f else None


def write_doc(rep: Report, machine: dict[str, str], path: Path) -> None:
    L: list[str] = []
    when = rep.started.strftime("%Y-%m-%d %H:%M %Z")
    L += ["# Hark benchmarks", "",
          f"Measured on {when} by `benchmarks/run.py` (`make bench`): {rep.runs} "
          f"run{'s' if rep.runs != 1 else ''} per figure"
          + (" (**--quick smoke run: too few runs to compare with**)" if rep.quick else "")
          + f", {sum(rep.seconds.values()) / 60:.1f} minutes in all. This file is generated: "
          "run `make bench` again rather than editing it.", "",
          "Every figure is the median of its runs, with the smallest and largest run beside it. "
          "The FACTS.md column is the figure measured earlier on a similar machine (`../shared/FACTS.md`). "
          "On a virtual machine, medians from separate runs can differ by a quarter or more even when nothing else "
          "is running: compare several runs before acting on a difference.", "",
          "## Machine", "", "| | |", "|---|---|"]
    L += [f"| {k} | {v} |" for k, v in machine.items()]
    L += ["| Other programs | " + ", ".join(f"{k} {v:.0f} %" for k, v in rep.background.items())
          + " of the CPU (measured with psutil: busy time of the whole machine minus this benchmark's own) |", ""]

    # -- summary
    first = _v(rep, "loop", "to_first_audio")
    L += ["## In short", ""]
    bullets = []
    if first is not None:
        bullets.append(f"From the end of the user's speech to Hark's first reply audio: **{first:.0f} ms** (median, "
                       f"measured on the audio itself). The 600 ms target is missed by {first - 600:.0f} ms "
                       f"({first / 600:.1f}×); FACTS.md's plain loop took 1250 ms.")
    t_short = rep.get("stt", "tiny.en_short")
    if t_short and rep.get("stt", "base_short"):
        bullets.append(f"tiny.en needs {t_short.main:.2f} s for a 1–3 s command, base "
                       f"{_v(rep, 'stt', 'base_short'):.2f} s; WER {_v(rep, 'stt', 'tiny.en_wer'):.3f} "
                       f"(tiny.en) against {_v(rep, 'stt', 'base_wer'):.3f} (base) on the shared recordings.")
    if rep.get("tts", "first_one"):
        bullets.append(f"Piper starts speaking {_v(rep, 'tts', 'first_one'):.0f} ms after it gets a sentence and runs "
                       f"at {_v(rep, 'tts', 'rtf'):.3f}× real time.")
    if rep.get("vad", "endpointer"):
        bullets.append(f"webrtcvad costs {_v(rep, 'vad', 'webrtcvad'):.1f} µs per 30 ms frame, the whole endpointer "
                       f"{_v(rep, 'vad', 'endpointer'):.1f} µs.")
    if rep.get("loop", "idle_cpu"):
        bullets.append(f"Idle, `hark listen` uses {_v(rep, 'loop', 'idle_cpu'):.1f} % of one core and "
                       f"{_v(rep, 'loop', 'rss_rest'):.0f} MB of memory ({_v(rep, 'loop', 'rss_after'):.0f} MB after "
                       f"{rep.extra['loop']['turns']} turns).")
    busiest = max(rep.background.values(), default=0.0)
    if busiest >= 10:
        bullets.append(f"**Other programs used up to {busiest:.0f} % of the CPU during this run** (see Machine): "
                       "expect these figures to be slower and more spread than on a quiet machine.")
    for section, message in rep.errors.items():
        bullets.append(f"**{SECTION_TITLES[section]} failed**: `{message.splitlines()[0][:300]}` (details below).")
    L += [f"- {b}" for b in bullets] + [""]

    for section in SECTIONS:
        figs = rep.figures.get(section)
        if section not in rep.errors and not figs:
            continue
        L += [f"## {SECTION_TITLES[section]}", ""]
        if section in rep.errors:
            L += ["This section failed:", "", "```", rep.errors[section].strip()[-3000:], "```", ""]
        if figs:
            L += md_table(list(figs.values())) + [""]
        L += NOTES[section](rep) + [""]

    L += ["## Reproducing", "",
          "```sh",
          "make bench                                        # installs what is missing, then runs this",
          ".venv/bin/python benchmarks/run.py --runs 9         # more runs per figure",
          ".venv/bin/python benchmarks/run.py --quick          # smoke check, report in a temp file",
          ".venv/bin/python benchmarks/run.py --only loop      # one section: load, stt, tts, vad or loop",
          ".venv/bin/python benchmarks/run.py --wait-quiet 300 # on a shared machine",
          "```", "",
          "Each section runs in a fresh process. Close other programs first: on 2 cores anything else running "
          "shows up in every figure (the Machine table says how busy the CPU was).", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(L).replace(" \n", "\n"), encoding="utf-8")


def notes_load(rep: Report) -> list[str]:
    tiny, base, piper = (_v(rep, "load", k) for k in ("whisper_tiny.en", "whisper_base", "piper"))
    out = ["What it means: the time `WhisperTranscriber.load()` / `PiperSynthesizer.load()` take to find the model "
           "and build it, with its files already in the page cache (one untimed load comes first; a cold disk adds "
           "its read time). Importing faster-whisper and piper is not included, nor the warm-up pass `hark listen` "
           "runs on each model (the loop's start-up figure has all of it)."]
    if tiny is not None and base is not None and piper is not None:
        startup = _v(rep, "loop", "startup")
        out += ["", f"tiny.en loads in {tiny:.2f} s, base in {base:.2f} s, the Piper voice in {piper:.2f} s (FACTS.md: "
                "0.28 s for the voice)"
                + (f"; `hark listen` took {startup:.1f} s from launch to listening, imports and warm-up included."
                   if startup is not None else ".")
                + " Whisper base is stored on PyPI in two halves; `resolve_model(\"base\", …)` joins them into "
                f"`models/whisper-base/` once, which took {_v(rep, 'load', 'base_assembly'):.2f} s here, a one-off "
                "cost on the first start with `stt.model: base`."]
    return out


def notes_stt(rep: Report) -> list[str]:
    files = rep.extra.get("stt_files")
    if not files:
        return []
    out = ["What it means: each speech file in `manifest.tsv` goes through `WhisperTranscriber.transcribe()` as "
           "Hark calls it (beam 1, int8, Silero `vad_filter` on, the shipped defaults); seconds are wall-clock per "
           "call, the real-time factor is processing time over audio length (smaller is faster). WER is over all "
           "words of all files, after Whisper's EnglishTextNormalizer (lower case, no punctuation, numbers as "
           "digits) on both sides; the run is deterministic, so WER has one value.", "",
           "| file | audio | tiny.en s (min–max) | tiny.en errors/words | base s (min–max) | base errors/words |",
           "|---|---:|---:|---:|---:|---:|"]
    for name, d in files.items():
        cells = [name, f"{d['seconds']:.1f} s"]
        for m in MODELS:
            x = d.get(m)
            cells += [f"{x['median']:.2f} ({x['min']:.2f}–{x['max']:.2f})", f"{x['errors']}/{x['words']}"] if x \
                else ["–", "–"]
        out.append("| " + " | ".join(cells) + " |")
    out += [""]
    for m in MODELS:
        detail = rep.extra.get("stt_wer_detail", {}).get(m)
        if detail:
            s, d, i, n = detail
            out.append(f"- {m}: substitutions {s}, deletions {d}, insertions {i}, over {n} reference words.")
    noise = rep.extra.get("stt_noise", {})
    nfiles = rep.extra.get("stt_noise_files", [])
    for m, invented in noise.items():
        what = ("wrote words on " + ", ".join(f"{k} (\"{v}\")" for k, v in invented.items())) if invented \
            else "wrote no words on any of them"
        out.append(f"- {m} on the {len(nfiles)} non-speech clips (noise, silence, music): {what}.")
    wrong = [(name, m, d[m]) for name, d in files.items() for m in MODELS if d.get(m) and d[m]["errors"]]
    if wrong:
        out += ["", "Where the errors are (normalized reference → normalized transcript, two words either side):", ""]
        out += [f"- {m}, {name}: " + "; ".join(x["diffs"]) for name, m, x in wrong]
        if any(name == "speech_recognition_one_two_three.wav" for name, _, _ in wrong):
            words = next(iter(rep.extra.get("stt_wer_detail", {}).values()), [0, 0, 0, 0])[3] or 1
            out += ["", "The errors on `speech_recognition_one_two_three.wav` are the normalizer's, not the model's: "
                    "it turns the reference \"one two three\" into \"123\" but the transcript \"1, 2, 3.\" into "
                    f"\"one 2 3\". With {words} reference words in all, one word is {1 / words:.3f} of WER."]
        if any("a more a amiable" in d for _, _, x in wrong for d in x["diffs"]):
            out += ["", "\"a more a amiable\" is the source transcript's reading; `SOURCES.md` notes that word as "
                    "uncertain, so that error may not be one either."]
    ts, bs = _v(rep, "stt", "tiny.en_short"), _v(rep, "stt", "base_short")
    tl, bl = _v(rep, "stt", "tiny.en_long"), _v(rep, "stt", "base_long")
    tw, bw = _v(rep, "stt", "tiny.en_wer"), _v(rep, "stt", "base_wer")
    if None in (ts, bs, tl, bl, tw, bw):
        return out
    if bw < tw:
        accuracy = (f"base made fewer errors here (WER {bw:.3f} against {tw:.3f}), a difference of a word or two on "
                    "a small set; FACTS.md found it no more accurate on held-out English speech (0.074 against 0.063)")
    else:
        accuracy = (f"base was not more accurate here (WER {bw:.3f} against {tw:.3f}), as in FACTS.md (0.074 against "
                    "0.063 on held-out English speech)")
    out += ["", f"How it compares: FACTS.md gives about 0.5 s (0.3–0.75 s) for tiny.en on a 2 s command; here "
            f"{ts:.2f} s. A 1–3 s command costs {ts:.2f} s and an 11–33 s utterance {tl:.2f} s: Whisper's encoder "
            "runs over a fixed 30 s window, so short commands pay nearly the full cost and the real-time factor "
            f"flatters long audio. base takes {bs / ts:.1f}× as long as tiny.en on commands ({bl / tl:.1f}× on long "
            f"audio); {accuracy}. For a voice loop whose budget is a few hundred milliseconds, tiny.en is the "
            "sensible default on a CPU like this one."]
    return out


def notes_tts(rep: Report) -> list[str]:
    chunks = rep.extra.get("tts_chunks", {})
    one, three = _v(rep, "tts", "first_one"), _v(rep, "tts", "first_three")
    if one is None:
        return []
    return [f"What it means: the time from `synthesize(text)` to its first float32 chunk, for \"{ONE_SENTENCE}\" and "
            f"for \"{THREE_SENTENCES}\"; and synthesis time over the length of the audio produced "
            f"({rep.extra.get('tts_rate')} Hz). Piper 1.8 yields one chunk per sentence ({chunks.get('three')} "
            "chunks for the three-sentence reply), so the first chunk of a long reply costs only its first sentence: "
            f"{three:.0f} ms against {one:.0f} ms. Hark's `Mouth` also hands Piper one sentence at a time while the "
            "model is still writing the rest.", "",
            f"How it compares: FACTS.md measured 54–107 ms to first audio and a real-time factor of about 0.025; "
            f"here {one:.0f} ms and {_v(rep, 'tts', 'rtf'):.3f}."
            + (f" In the loop below, speech end to first reply audio took {_v(rep, 'loop', 'to_first_audio'):.0f} ms; "
               f"Piper's first sentence is {one / _v(rep, 'loop', 'to_first_audio') * 100:.0f} % of that."
               if _v(rep, "loop", "to_first_audio") else "")]


def notes_vad(rep: Report) -> list[str]:
    v = _v(rep, "vad", "webrtcvad")
    if v is None:
        return []
    return [f"What it means: CPU time per 30 ms frame over all {rep.extra.get('vad_frames')} frames of the shared "
            "recordings (speech, noise and music), with Hark's defaults (aggressiveness 3, 600 ms hangover). "
            f"The endpointer uses {_v(rep, 'vad', 'endpointer') / 30000 * 100:.3f} % of the 30 ms a frame lasts "
            f"(FACTS.md: 2.2 µs for webrtcvad alone, here {v:.1f} µs). Endpointing costs "
            "nothing worth measuring; what it costs in latency is its hangover, the silence it waits for before it "
            "decides the user has finished (see the loop)."]


def notes_loop(rep: Report) -> list[str]:
    info = rep.extra.get("loop")
    if not info:
        return []
    out = [
        "How it was measured: a private PulseAudio daemon with two null sinks (`tests/conftest.py` `Pulse`), the "
        f"fake Ollama server from `tests/ollama_server.py` answering \"{LOOP_REPLY}\" at once (model "
        f"`{LOOP_MODEL}`), and `python -m voice.cli listen --json` as a subprocess with its microphone on "
        "`hark_in.monitor` and its speaker on `hark_out`, with Hark's shipped defaults (tiny.en, beam 1, 600 ms "
        "hangover, 250 ms echo tail, `output_latency: high`). Short recordings were played into `hark_in` with "
        "paplay one at a time, each after the previous reply had finished; two parec processes recorded "
        "`hark_in.monitor` and `hark_out.monitor` for the whole run.", "",
        "Which times: **speech end** is read from the recorded input: the end of the last 10 ms within "
        f"{SPEECH_END_DB_BELOW_PEAK:.0f} dB of the utterance's loudest 10 ms (trailing room tone does not count). "
        "**First reply sample** is the first non-zero sample on the recorded output after that (Hark's output is "
        "digital silence between replies), **first audible** the first 10 ms at −40 dBFS or louder. Each "
        "recording is placed on the monotonic clock from its length and the moment its parec was stopped (its "
        "last sample is \"now\"; its first sample is not its launch moment, see below). Hark's events (`t`, "
        "seconds since its own start) are placed on the same clock by the smallest gap between an event's `t` and "
        "the moment its JSON line was read. The rows marked \"events only\" need no audio and no clock mapping.",
        "",
    ]
    cross = info["paplay_minus_recording_ms"]
    delay = info["recorder_launch_delay_ms"]
    if cross:
        out += [f"Checks on that alignment: the speech end computed independently, from the moment paplay returned "
                f"minus the file's trailing silence, falls {statistics.median(cross):+.0f} ms (range "
                f"{min(cross):+.0f} to {max(cross):+.0f}) from the one read in the recording; paplay returns once the "
                "sound server has drained its buffer, so a small positive gap is expected. The recordings' first "
                f"samples came {delay.get('in', 0):.0f} ms (input) and {delay.get('out', 0):.0f} ms (output) after "
                "their parec was launched (a fresh null sink delivers nothing for about two seconds), which is why "
                "the launch moment is not used. Figures that mix recordings and events are good to a few tens of "
                "milliseconds; the \"events only\" rows to about one.", ""]
    out += ["| turn | said | transcript | speech end → decided | → transcript | → audio_out_start "
            "| → first reply sample |",
            "|---:|---|---|---:|---:|---:|---:|"]
    for r in info["rows"]:
        def d(key: str) -> str:
            if r.get("speech_end") is None or r.get(key) is None:
                return "–"
            return f"{(r[key] - r['speech_end']) * 1000:.0f} ms"
        text = r.get("transcript")
        shown = "(none)" if text is None else (f"\"{text}\"" if text else "(empty)")
        if r.get("intent"):
            shown += f" → intent {r['intent']}"
        if r.get("errors"):
            shown += " (error: " + "; ".join(str(e) for e in r["errors"])[:120] + ")"
        out.append(f"| {r['turn']} | {r['label']} | {shown} | {d('ev_speech_end')} | {d('ev_transcript')} | "
                   f"{d('ev_audio_out_start')} | {d('out_first')} |")
    out += ["", f"{info['good']} of {info['turns']} turns completed and count in the figures above; `hark listen` "
            f"exited with code {info['exit_code']} on Ctrl-C.", ""]
    total = _v(rep, "loop", "to_first_audio")
    if total is None:
        return out
    decided = _v(rep, "loop", "end_decided") or 0
    stt = (_v(rep, "loop", "to_transcript") or 0) - decided
    reply = _v(rep, "loop", "reply_path") or 0
    buf = _v(rep, "loop", "out_buffer") or 0
    whisper = _v(rep, "loop", "stt_inside") or 0
    out += [
        f"Where the time goes (medians; they add up to about {decided + stt + reply + buf:.0f} ms against the "
        f"{total:.0f} ms measured end to end):", "",
        f"1. **Deciding the user has finished: {decided:.0f} ms.** The endpointer declares the end after 600 ms "
        "of non-speech (`vad.hangover_ms`), counted from the last frame webrtcvad calls voiced, plus capture and "
        "30 ms framing delay; webrtcvad may stop hearing voice a little before or after the energy rule above "
        "does, hence the spread. FACTS.md's loop used a 300 ms hangover and decided after 450 ms.",
        f"2. **Transcribing: {stt:.0f} ms** from that decision to the transcript; Whisper's call itself (with "
        f"its Silero voice check) reports a median of {whisper:.0f} ms, so practically all of it. Whisper encodes "
        "a fixed 30 s window however short the command."
        + (f" Outside the loop (section 2) a command took {_v(rep, 'stt', 'tiny.en_short') * 1000:.0f} ms; here "
           "Whisper shares the 2 cores with the audio threads, the sound server and the two recorders, which is "
           "the likely reason for any difference." if _v(rep, "stt", "tiny.en_short") else ""),
        f"3. **Answering and starting to speak: {reply:.0f} ms** from the transcript to the first audio handed "
        "to the device: template matching, the (instant) fake model, splitting the first sentence and Piper's "
        "first chunk. A real model on Ollama adds its own time to first token here.",
        f"4. **Output buffering: {buf:.0f} ms** from the first chunk given to PortAudio to the first sample on "
        "the sink, with `audio.output_latency: high`.", "",
        f"Against the target: speech end to first reply audio is {total:.0f} ms, so the 600 ms target is missed by "
        f"{total - 600:.0f} ms ({total / 600:.1f}×). That is expected of a stop-then-transcribe loop, which spends "
        f"the budget twice before the reply path starts: waiting out the hangover ({decided:.0f} ms) and then "
        f"transcribing ({stt:.0f} ms). The reply path ({reply:.0f} ms with an instant model) and the output buffer "
        f"({buf:.0f} ms) are small by comparison. Getting under 600 ms takes a different loop rather than tuning: "
        "start transcribing while the hangover is still running (and keep the result if no more speech comes), "
        "encode short commands with a shorter window (FACTS.md: length + 10 s gave WER 0.072 against 0.069, 2.5× "
        "faster, with a repetition guard and a fallback), and a shorter hangover (FACTS.md's loop with 300 ms "
        "decided after 450 ms). FACTS.md's plain loop measured 450 / 1150 / 1250 ms for decided / transcript / first "
        f"audio; here {decided:.0f} / {_v(rep, 'loop', 'to_transcript'):.0f} / {total:.0f} ms.", "",
        f"Resources: idle, the process used {_v(rep, 'loop', 'idle_cpu'):.1f} % of one core (mean of "
        f"{len(info['idle_windows'])} one-second psutil samples; FACTS.md 1.3 %). {_idle_where(rep)} "
        f"Resident memory was "
        f"{_v(rep, 'loop', 'rss_rest'):.0f} MB at rest and {_v(rep, 'loop', 'rss_after'):.0f} MB after "
        f"{info['turns']} turns (FACTS.md: 270 MB and 370 MB after 12 turns); start-up to ready took "
        f"{_v(rep, 'loop', 'startup'):.1f} s.",
    ]
    return out


def _idle_where(rep: Report) -> str:
    split = rep.extra.get("idle_threads")
    if not split:
        return ""
    top = ", ".join(f"{pct:.1f} % ({name})" for pct, name in split["top"])
    return (f"Per thread, {split['busy']} of its {split['threads']} threads used CPU while idle: the busiest "
            f"{top}; the ALSA pulse plugin's own threads (`threaded-ml`) {split['pulse_plugin']:.1f} %. Python "
            "threads and PortAudio's stream threads all show as \"python\", so the idle cost is the always-open "
            "input and output streams (capture at 33 frames a second, an output callback writing silence) and "
            "the threads polling them, not the models.")


NOTES: dict[str, Callable[[Report], list[str]]] = {
    "load": notes_load, "stt": notes_stt, "tts": notes_tts, "vad": notes_vad, "loop": notes_loop,
}


# ---------------------------------------------------------------- main

def run_section(section: str, runs: int, quick: bool, result: Path) -> int:
    """Child mode: measure one section in this fresh process and leave its figures in `result` (JSON)."""
    rep = Report(runs=runs, quick=quick)
    turns = 3 if quick else max(runs, len(LOOP_INPUTS))
    steps: dict[str, Callable[[], None]] = {
        "load": lambda: bench_load(rep, runs),
        "stt": lambda: bench_stt(rep, runs),
        "tts": lambda: bench_tts(rep, runs),
        "vad": lambda: bench_vad(rep, runs),
        "loop": lambda: bench_loop(rep, turns, 3.0 if quick else 10.0),
    }
    out: dict[str, Any] = {}
    try:
        steps[section]()
    except Exception as e:  # reported by the parent, with the figures the others produced
        out["error"] = f"{type(e).__name__}: {e}\n\n{traceback.format_exc()}"
    out["figures"] = {k: asdict(f) for k, f in rep.figures.get(section, {}).items()}
    out["extra"] = rep.extra
    result.write_text(json.dumps(out, default=lambda o: o.item() if hasattr(o, "item") else str(o)), encoding="utf-8")
    return 0


def measure(section: str, runs: int, quick: bool, rep: Report) -> None:
    """Each section runs in its own process, so no library's threads or caches from one section slow the next."""
    with tempfile.TemporaryDirectory(prefix="hark-bench-result-") as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--section", section, "--result", str(result),
               "--runs", str(runs)] + (["--quick"] if quick else [])
        proc = subprocess.run(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        sys.stderr.write(proc.stderr[-4000:] if proc.returncode else "")
        if not result.exists():
            raise RuntimeError(f"the {section} benchmark process exited with code {proc.returncode} and no result:\n"
                               + proc.stderr[-3000:])
        data = json.loads(result.read_text(encoding="utf-8"))
    for key, f in data["figures"].items():
        rep.add(section, key, Figure(**f))
    rep.extra.update(data["extra"])
    if data.get("error"):
        rep.errors[section] = data["error"]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Measure Hark and write docs/benchmarks.md.")
    parser.add_argument("--quick", action="store_true", help="few runs, 3 loop turns: a smoke check")
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (default 5, quick 2)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the report (default: docs/benchmarks.md for a full run, "
                        "a temporary file for --quick or --only)")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="wait up to this long for other programs to leave the CPU (below 15 %%) before starting")
    parser.add_argument("--section", choices=SECTIONS, help=argparse.SUPPRESS)  # child mode (see measure)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    runs = args.runs or (2 if args.quick else 5)
    if runs < 1:
        parser.error("--runs must be at least 1")
    if args.section:
        return run_section(args.section, runs, args.quick, args.result)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    partial = args.quick or set(only) != set(SECTIONS)  # never let a smoke check replace the full report
    out = args.out or (Path(tempfile.gettempdir()) / "hark-benchmarks-partial.md" if partial else DOC)

    rep = Report(runs=runs, quick=args.quick)
    machine = machine_info()
    rep.background["before"] = wait_until_quiet(args.wait_quiet)
    say(f"other programs use {rep.background['before']:.0f} % of the CPU before the run")
    for section in SECTIONS:
        if section not in only:
            continue
        say(f"{SECTION_TITLES[section]} …")
        t0 = perf()
        snap = cpu_snapshot()
        try:
            measure(section, runs, args.quick, rep)
        except Exception as e:  # one broken stage must not hide the others' figures
            rep.errors[section] = f"{type(e).__name__}: {e}"
        if section in rep.errors:
            say(f"{section} FAILED: {rep.errors[section].splitlines()[0]}")
        rep.seconds[section] = perf() - t0
        rep.background[section] = other_load(snap, cpu_snapshot())
        say(f"{section} took {rep.seconds[section]:.0f} s (other programs: {rep.background[section]:.0f} % of the CPU)")
    print_table(rep)
    write_doc(rep, machine, out)
    say(f"wrote {out}")
    return 1 if rep.errors else 0


if __name__ == "__main__":
    sys.exit(main())
