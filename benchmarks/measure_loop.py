"""The live loop: `hark listen --json` on a private PulseAudio daemon with the Ollama-protocol test server.

Short recordings are played into `hark_in` one at a time; `hark_in.monitor` and `hark_out.monitor` are recorded
for the whole run. `run_session` drives the processes and keeps the raw material (events, recordings, clock
anchors); `turn_rows` reads each turn's times from it; `add_figures` turns the rows into figures.
"""

from __future__ import annotations

import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.figures import Report, fig
from benchmarks.hark_process import HarkEvents, stop, thread_split
from benchmarks.levels import AUDIBLE_DBFS, first_nonzero, first_sample_at_or_above, speech_end_s
from tests.support.paths import ROOT
from tests.support.speech import speech_file

LOOP_REPLY = "Done. Anything else?"  # the fake model's answer on every turn, as in FACTS.md's loop
LOOP_MODEL = "hark-bench:1b"
# Short spoken commands: (label, file, LibriVox segment or None).
LOOP_INPUTS = [
    ("go forward ten meters", "cmu_goforward.wav", None),
    ("one two three", "speech_recognition_one_two_three.wav", None),
    ("he was not an ill disposed young man", "librivox_sense_and_sensibility_long.wav",
     "sense_and_sensibility_01_austen_64kb-0880"),
    ("yes", "speechcommands_yes.wav", None),
    ("he might even have been made amiable himself", "librivox_sense_and_sensibility_long.wav",
     "sense_and_sensibility_01_austen_64kb-0930"),
    ("no", "speechcommands_no.wav", None),
]  # fmt: skip


@dataclass
class Session:
    """What one run of the loop left behind, before any analysis."""

    events: HarkEvents
    plays: list[dict[str, Any]]  # one per turn: the input, when paplay started and returned, first event index
    in_wav: Path
    out_wav: Path
    t_in0: float = 0.0  # monotonic time of each recording's first sample
    t_out0: float = 0.0
    t_stop: float = 0.0
    startup: float = 0.0
    idle_windows: list[float] = field(default_factory=list)
    idle_elapsed: float = 0.0
    idle_threads: dict[str, Any] = field(default_factory=dict)
    rss_rest: float = 0.0
    rss_after: float = 0.0
    exit_code: int | None = None
    launch_delay: dict[str, float] = field(default_factory=dict)  # recording -> seconds from launch to first sample


def measure(rep: Report, runs: int, quick: bool = False) -> None:
    """Run the loop for `runs` turns (at least one per input; 3 when quick) and report every turn's times."""
    turns = 3 if quick else max(runs, len(LOOP_INPUTS))
    tmp = Path(tempfile.mkdtemp(prefix="hark-bench-"))
    try:
        session = run_session(tmp, turns, idle_s=3.0 if quick else 10.0)
        rows = turn_rows(session)
        add_figures(rep, session, rows)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def loop_inputs(tmp: Path) -> list[dict[str, Any]]:
    """The WAVs to play: whole short files, or one LibriVox segment cut at its boundaries (room tone kept)."""
    import soundfile as sf

    from voice.audio import RATE

    segments = {}
    with speech_file("librivox_sense_and_sensibility_long.segments.tsv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            segments[row["segment"]] = (float(row["start_s"]), float(row["end_s"]))
    out = []
    for label, name, segment in LOOP_INPUTS:
        path = speech_file(name)
        data, rate = sf.read(path, dtype="int16")
        assert rate == RATE, f"{name}: expected 16 kHz"
        if segment:
            start, end = segments[segment]
            data = data[int(start * RATE) : int(end * RATE)]
            path = tmp / f"{segment}.wav"
            sf.write(path, data, RATE, subtype="PCM_16")
        out.append(
            {"label": label, "path": path, "duration": len(data) / RATE, "speech_end_in_file": speech_end_s(data)}
        )
    return out


def run_session(tmp: Path, turns: int, idle_s: float) -> Session:
    """Start the sound server, the model server, the recorders and Hark; measure idle; play `turns` commands."""
    import psutil
    import soundfile as sf

    from tests.support.ollama_server import FakeOllama, Reply
    from tests.support.pulse import Pulse
    from voice.audio import RATE

    inputs = loop_inputs(tmp)
    pulse = Pulse(tmp / "pulse")
    fake = FakeOllama()
    hark: subprocess.Popen[str] | None = None
    recorders: list[subprocess.Popen[bytes]] = []
    stderr_path = tmp / "hark.stderr"
    try:
        pulse.start()
        fake.start()
        fake.add_model(LOOP_MODEL, capabilities=["completion", "tools"])
        fake.script(LOOP_MODEL, [Reply(content=LOOP_REPLY) for _ in range(turns + 10)])
        config = tmp / "config.yaml"
        # Everything else at its shipped default: this measures the loop a user gets.
        config.write_text(f"llm:\n  model: {LOOP_MODEL}\nstt:\n  device: cpu\n", encoding="utf-8")
        env = pulse.client_env(
            HARK_DATA_DIR=str(tmp / "data"), OLLAMA_HOST=fake.url, HARK_MODELS_DIR=os.environ["HARK_MODELS_DIR"]
        )
        in_wav, out_wav = tmp / "hark_in.wav", tmp / "hark_out.wav"
        launched = {"in": time.monotonic()}
        rec_in = pulse.record(in_wav, "hark_in.monitor")
        launched["out"] = time.monotonic()
        rec_out = pulse.record(out_wav, "hark_out.monitor")
        recorders = [rec_in, rec_out]

        t_launch = time.monotonic()
        with stderr_path.open("w") as err:
            hark = subprocess.Popen(
                [sys.executable, "-m", "voice.cli", "listen", "--json", "--config", str(config)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        events = HarkEvents(hark)
        session = Session(events=events, plays=[], in_wav=in_wav, out_wav=out_wav)
        ready = events.wait_for(lambda e: e["event"] == "ready", 0, timeout=180)
        if ready is None:
            raise _failure("`hark listen` never became ready", hark, events, stderr_path)
        session.startup = events.events[ready][0] - t_launch
        proc = psutil.Process(hark.pid)
        _measure_idle(session, proc, idle_s)
        session.rss_rest = proc.memory_info().rss / 1e6

        for i in range(turns):
            item = inputs[i % len(inputs)]
            mark = len(events.events)
            p_start = time.monotonic()
            pulse.play(item["path"])  # paplay into hark_in; returns when the sound server has played it
            p_exit = time.monotonic()
            done = events.wait_for(
                lambda e: e["event"] == "reply" or (e["event"] == "transcript" and not e.get("text", "").strip()),
                mark,
                timeout=45,
            )
            if done is None and hark.poll() is not None:
                raise _failure(f"hark stopped during turn {i + 1}", hark, events, stderr_path)
            session.plays.append(
                {**item, "turn": i + 1, "mark": mark, "p_start": p_start, "p_exit": p_exit, "done": done}
            )
            time.sleep(1.0)  # past the echo tail (250 ms) before the next command
        time.sleep(0.5)
        session.rss_after = proc.memory_info().rss / 1e6
        session.t_stop = time.monotonic()
        # A recording's first sample is not its launch moment (a fresh null sink takes up to ~2 s to deliver
        # anything), but its last sample is the moment it is stopped: place each on the clock from its end.
        stopped = {}
        for name, rec in (("in", rec_in), ("out", rec_out)):
            stopped[name] = time.monotonic()
            stop(rec)
        session.exit_code = stop(hark)
        for name, wav in (("in", in_wav), ("out", out_wav)):
            start = stopped[name] - sf.info(str(wav)).frames / RATE
            session.launch_delay[name] = start - launched[name]
        session.t_in0 = stopped["in"] - sf.info(str(in_wav)).frames / RATE
        session.t_out0 = stopped["out"] - sf.info(str(out_wav)).frames / RATE
        return session
    finally:
        for r in recorders:
            stop(r)
        if hark is not None:
            stop(hark)
        fake.stop()
        pulse.stop()


def _measure_idle(session: Session, proc: Any, idle_s: float) -> None:
    """CPU of the waiting process in one-second windows, and which of its threads used it."""
    time.sleep(2.0)  # let start-up work (threads, first buffers) settle before measuring idle
    proc.cpu_percent(None)
    threads0 = {t.id: t.user_time + t.system_time for t in proc.threads()}
    t0 = time.monotonic()
    session.idle_windows = [proc.cpu_percent(1.0) for _ in range(round(idle_s))]
    session.idle_elapsed = time.monotonic() - t0
    session.idle_threads = thread_split(proc, threads0, session.idle_elapsed)


def _failure(what: str, hark: subprocess.Popen[str], events: HarkEvents, stderr_path: Path) -> RuntimeError:
    tail = stderr_path.read_text(errors="replace")[-1500:] if stderr_path.exists() else ""
    seen = [e["event"] for _, e in events.events][-15:]
    return RuntimeError(f"{what}; hark exit code {hark.poll()}; last events {seen}; stderr tail:\n{tail}")


def turn_rows(s: Session) -> list[dict[str, Any]]:
    """Each turn's times on one monotonic clock.

    The speech end is read from the input recording, Hark's events are mapped by their clock offset, and the
    first reply sample (and first audible 10 ms) is read from the output recording.
    """
    import soundfile as sf

    from voice.audio import RATE

    offset = s.events.clock_offset()
    rec_in, _ = sf.read(str(s.in_wav), dtype="int16")
    rec_out, _ = sf.read(str(s.out_wav), dtype="int16")
    rows = []
    for k, p in enumerate(s.plays):
        nxt = s.plays[k + 1]["p_start"] if k + 1 < len(s.plays) else s.t_stop
        lo = max(0, int((p["p_start"] - s.t_in0 - 0.2) * RATE))
        hi = int((p["p_exit"] - s.t_in0 + 0.3) * RATE)
        end_rel = speech_end_s(rec_in[lo:hi])
        row: dict[str, Any] = {"turn": p["turn"], "label": p["label"], "ok": False}
        row["speech_end"] = s.t_in0 + (lo / RATE) + end_rel if end_rel is not None else None
        tail = p["duration"] - (p["speech_end_in_file"] or p["duration"])
        row["speech_end_paplay"] = p["p_exit"] - tail
        turn_events = [e for _, e in s.events.events[p["mark"] :] if e["t"] + offset < nxt]

        def first(name: str, events: list[dict[str, Any]] = turn_events) -> dict[str, Any] | None:
            return next((e for e in events if e["event"] == name), None)

        def at(e: dict[str, Any] | None) -> float | None:
            return e["t"] + offset if e else None

        ends = [e for e in turn_events if e["event"] == "speech_end" and "discarded" not in e]
        row["ev_speech_end"] = at(ends[0]) if ends else None
        tr = first("transcript")
        row["transcript"] = tr.get("text") if tr else None
        row["stt_seconds"] = tr.get("seconds") if tr else None
        row["ev_transcript"] = at(tr)
        row["ev_audio_out_start"] = at(first("audio_out_start"))
        row["ev_reply"] = at(first("reply"))
        row["intent"] = (first("intent") or {}).get("name")
        row["errors"] = [e.get("message") for e in turn_events if e["event"] == "error"]
        row["out_first"] = row["out_audible"] = None
        if row["speech_end"] is not None:
            a = max(0, int((row["speech_end"] - s.t_out0) * RATE))
            seg = rec_out[a : max(a, int((nxt - s.t_out0) * RATE))]
            nz, loud = first_nonzero(seg), first_sample_at_or_above(seg, AUDIBLE_DBFS)
            row["out_first"] = s.t_out0 + (a + nz) / RATE if nz is not None else None
            row["out_audible"] = s.t_out0 + (a + loud) / RATE if loud is not None else None
        row["ok"] = all(
            row.get(key) is not None
            for key in ("speech_end", "ev_speech_end", "ev_transcript", "ev_audio_out_start", "out_first")
        )
        rows.append(row)
    return rows


# (key, label, from, to, FACTS.md): the intervals reported, in ms, over the turns that completed.
INTERVALS = [
    ("end_decided", "speech end (audio) → end of utterance decided (speech_end event)", "speech_end",
     "ev_speech_end", "450 ms (300 ms hangover)"),
    ("to_transcript", "speech end (audio) → transcript", "speech_end", "ev_transcript", "1150 ms"),
    ("to_audio_event", "speech end (audio) → audio_out_start event", "speech_end", "ev_audio_out_start", ""),
    ("to_first_audio", "speech end (audio) → first reply sample on hark_out (measured outside)", "speech_end",
     "out_first", "1250 ms; target 600 ms"),
    ("to_audible", "speech end (audio) → first audible reply (≥ −40 dBFS) on hark_out", "speech_end",
     "out_audible", ""),
    ("ev_transcript", "speech_end event → transcript event (events only)", "ev_speech_end", "ev_transcript", ""),
    ("ev_audio", "speech_end event → audio_out_start event (events only)", "ev_speech_end", "ev_audio_out_start",
     ""),
    ("reply_path", "transcript event → audio_out_start event (intents/LLM + first Piper chunk)", "ev_transcript",
     "ev_audio_out_start", ""),
    ("out_buffer", "audio_out_start event → first reply sample on hark_out (output buffering)",
     "ev_audio_out_start", "out_first", ""),
]  # fmt: skip


def add_figures(rep: Report, s: Session, rows: list[dict[str, Any]]) -> None:
    """The loop's figures and per-turn table; raises if no turn completed."""
    good = [r for r in rows if r["ok"]]
    for key, label, a, b, facts in INTERVALS:
        values = [(r[b] - r[a]) * 1000 for r in good if r.get(b) is not None]
        if values:
            rep.add("loop", key, fig(label, "ms", values, facts=facts))
    stt = [r["stt_seconds"] * 1000 for r in good if r["stt_seconds"] is not None]
    if stt:
        rep.add("loop", "stt_inside", fig("Whisper's own time inside the loop (transcript.seconds)", "ms", stt))
    rep.add("loop", "startup", fig("`hark listen` start → ready (models loaded and warmed)", "s", [s.startup]))
    w = s.idle_windows
    rep.add(
        "loop",
        "idle_cpu",
        fig(
            f"idle CPU of the hark process over {s.idle_elapsed:.0f} s (% of one core)",
            "%",
            w,
            facts="1.3 %",
            value=statistics.fmean(w),
            lo=min(w),
            hi=max(w),
        ),
    )
    rep.add(
        "loop",
        "rss_rest",
        fig("resident memory at rest (after start-up and the idle period)", "MB", [s.rss_rest], facts="270 MB"),
    )
    rep.add(
        "loop",
        "rss_after",
        fig(f"resident memory after {len(s.plays)} turns", "MB", [s.rss_after], facts="370 MB after 12 turns"),
    )
    rep.extra["loop"] = {
        "rows": rows,
        "turns": len(s.plays),
        "good": len(good),
        "exit_code": s.exit_code,
        "clock_offset": s.events.clock_offset(),
        "paplay_minus_recording_ms": [
            (r["speech_end_paplay"] - r["speech_end"]) * 1000 for r in rows if r["speech_end"] is not None
        ],
        "recorder_launch_delay_ms": {k: v * 1000 for k, v in s.launch_delay.items()},
        "idle_windows": w,
        "idle_threads": s.idle_threads,
        "reply": LOOP_REPLY,
        "model": LOOP_MODEL,
    }
    if not good:
        raise RuntimeError(f"no turn completed; rows: {rows}")
