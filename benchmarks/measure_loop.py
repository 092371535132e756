"""The live loop: `hark listen --json` on a private PulseAudio daemon with the scripted Ollama-protocol server.

Short recordings are played into `hark_in` one at a time; `hark_in.monitor` and `hark_out.monitor` are recorded
for the whole run. The harness is `hark bench`'s (`voice.bench.session.run_session`, each turn's times from
`voice.bench.turns.turn_rows`); this section keeps its own inputs (whole commands and LibriVox segments) and
reports the stage-by-stage breakdown of one Hark session. `add_figures` turns the rows into figures.
"""

from __future__ import annotations

import csv
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.figures import Report, fig
from tests.support.speech import speech_file
from voice.bench.session import Input, Session

LOOP_REPLY = "Done. Anything else?"  # the fake model's answer on every turn, as in FACTS.md's loop
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


def measure(rep: Report, runs: int, quick: bool = False) -> None:
    """Run the loop for `runs` turns (at least one per input; 3 when quick) and report every turn's times."""
    turns = 3 if quick else max(runs, len(LOOP_INPUTS))
    tmp = Path(tempfile.mkdtemp(prefix="hark-bench-"))
    try:
        inputs = loop_inputs(tmp)
        session = run_session(tmp, [inputs[i % len(inputs)] for i in range(turns)], idle_s=3.0 if quick else 10.0)
        add_figures(rep, session, loop_rows(session))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def loop_inputs(tmp: Path) -> list[Input]:
    """The recordings to play: whole short files, or one LibriVox segment cut at its boundaries (room tone kept)."""
    import soundfile as sf

    from voice.audio import RATE
    from voice.bench.runner import read_input

    segments = {}
    with speech_file("librivox_sense_and_sensibility_long.segments.tsv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            segments[row["segment"]] = (float(row["start_s"]), float(row["end_s"]))
    out = []
    for label, name, segment in LOOP_INPUTS:
        path = speech_file(name)
        if segment:
            data, rate = sf.read(path, dtype="int16")
            assert rate == RATE, f"{name}: expected 16 kHz"
            start, end = segments[segment]
            path = tmp / f"{segment}.wav"
            sf.write(path, data[int(start * RATE) : int(end * RATE)], RATE, subtype="PCM_16")
        out.append(read_input(path, label))
    return out


def run_session(tmp: Path, inputs: list[Input], idle_s: float) -> Session:
    """Start the sound server and the scripted model server, and measure Hark (shipped defaults) on `inputs`."""
    from voice.bench import session
    from voice.bench.ollama_server import FakeOllama, Reply
    from voice.bench.pulse import Pulse
    from voice.bench.runner import BENCH_MODEL, Options, hark_config, hark_program

    pulse = Pulse(tmp / "pulse")
    fake = FakeOllama()
    try:
        pulse.start()
        fake.start()
        fake.add_model(BENCH_MODEL, capabilities=["completion", "tools"])
        fake.default_reply = Reply(content=LOOP_REPLY)
        hark = hark_program(hark_config(Options(), fake.url, tmp), fake.url, tmp)
        return session.run_session(hark, pulse, inputs, tmp / "hark", idle_s=idle_s, answers=lambda: fake.answers)
    finally:
        fake.stop()
        pulse.stop()


def loop_rows(s: Session) -> list[dict[str, Any]]:
    """`voice.bench.turns` rows, numbered; a turn counts when every time below could be read."""
    from voice.bench.turns import turn_rows

    rows = turn_rows(s)
    for i, r in enumerate(rows, 1):
        r["turn"] = i
        r["ok"] = r["measured"] and r["ev_audio_out_start"] is not None
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
    from voice.bench.runner import BENCH_MODEL

    good = [r for r in rows if r["ok"]]
    for key, label, a, b, facts in INTERVALS:
        values = [(r[b] - r[a]) * 1000 for r in good if r.get(b) is not None]
        if values:
            rep.add("loop", key, fig(label, "ms", values, facts=facts))
    stt = [r["stt_seconds"] * 1000 for r in good if r["stt_seconds"] is not None]
    if stt:
        rep.add("loop", "stt_inside", fig("Whisper's own time inside the loop (transcript.seconds)", "ms", stt))
    rep.add("loop", "startup", fig("`hark listen` start → ready (models loaded and warmed)", "s", [s.startup_s]))
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
        fig("resident memory at rest (after start-up and the idle period)", "MB", [s.rss_rest_mb], facts="270 MB"),
    )
    rep.add(
        "loop",
        "rss_after",
        fig(f"resident memory after {len(s.plays)} turns", "MB", [s.rss_after_mb], facts="370 MB after 12 turns"),
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
        "recorder_launch_delay_ms": {k: v * 1000 for k, v in s.launch_delay_s.items()},
        "idle_windows": w,
        "idle_threads": s.idle_threads,
        "reply": LOOP_REPLY,
        "model": BENCH_MODEL,
    }
    if not good:
        raise RuntimeError(f"no turn completed; rows: {rows}")
