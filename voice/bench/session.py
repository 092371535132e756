"""One measured session: a listening program on the private sound server, fed recordings, recorded both ways.

The program (`hark listen --json`, or the plain loop) hears `hark_in`'s monitor and speaks into `hark_out`;
both monitors are recorded for the whole session. `run_session` starts it, waits until it is ready, measures
it idle, plays each input into `hark_in` at real-time pace (paplay) and waits until the turn has settled,
optionally interrupts long replies (barge-in trials), then stops everything and places the two recordings on
this process's monotonic clock. It keeps raw material only; `voice.bench.turns` reads the figures from it.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from voice.bench.ollama_server import Answered
from voice.bench.process import HarkEvents, stop, thread_split
from voice.bench.pulse import IN_SINK, OUT_SINK, Pulse

RATE = 16000  # the recordings' rate (parec --rate)
TURN_TIMEOUT_S = 60.0  # a turn that has not settled by then is given up (and reported as such)
SETTLE_QUIET_S = 1.0  # a turn has settled when nothing is pending and no event came for this long
BARGE_IN_AFTER_S = 1.0  # the interruption starts this long after the long reply's first audio


@dataclass(frozen=True)
class Program:
    """What to measure: a command that prints Hark's JSON-lines events and uses the default sound devices."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None


@dataclass(frozen=True)
class Input:
    """A recording to play into the microphone."""

    path: Path
    label: str  # what is said in it (the reference transcript), or the file name
    seconds: float
    speech_end_in_file: float | None  # where its speech ends, read from the file itself


@dataclass
class Play:
    """One input played into `hark_in`: when paplay started and returned, and the first event after it."""

    input: Input
    kind: str  # "turn", "barge_in_reply" (asks for the long reply) or "barge_in" (the interruption)
    run: int
    mark: int  # index of the first event read after the play started
    p_start: float
    p_exit: float = 0.0
    settled: bool = True


@dataclass
class Session:
    """What one program's session left behind, before any analysis."""

    program: str
    events: HarkEvents
    in_wav: Path
    out_wav: Path
    plays: list[Play] = field(default_factory=list)
    answers: list[Answered] = field(default_factory=list)  # the model server's answers during the session
    t_in0: float = 0.0  # monotonic time of each recording's first sample
    t_out0: float = 0.0
    t_stop: float = 0.0
    startup_s: float = 0.0
    idle_windows: list[float] = field(default_factory=list)
    idle_elapsed: float = 0.0
    idle_threads: dict[str, Any] = field(default_factory=dict)
    rss_rest_mb: float = 0.0
    rss_after_mb: float = 0.0
    exit_code: int | None = None
    launch_delay_s: dict[str, float] = field(default_factory=dict)  # recording -> launch to first sample


class SessionError(RuntimeError):
    """The measured program did not start or stopped during the session."""


@dataclass
class BargeIn:
    """How to try interrupting: ask for a long reply with `prompt`, then play `interruption` over it."""

    prompt: Input
    interruption: Input
    long_reply: Callable[[], None]  # makes the model server answer the long reply
    normal_reply: Callable[[], None]  # and back


def run_session(
    program: Program,
    pulse: Pulse,
    inputs: list[Input],
    work: Path,
    *,
    runs: int = 1,
    idle_s: float = 10.0,
    barge_in: BargeIn | None = None,
    answers: Callable[[], list[Answered]] = list,
    progress: Callable[[str], None] = lambda _: None,
) -> Session:
    """Measure `program` over `runs` passes of `inputs` (each pass ending with one barge-in trial if given)."""
    import psutil
    import soundfile as sf

    work.mkdir(parents=True, exist_ok=True)
    in_wav, out_wav, stderr_path = work / "in.wav", work / "out.wav", work / "stderr.txt"
    proc: subprocess.Popen[str] | None = None
    recorders: dict[str, subprocess.Popen[bytes]] = {}
    launched: dict[str, float] = {}
    answered_before = len(answers())
    try:
        for name, wav, source in (("in", in_wav, f"{IN_SINK}.monitor"), ("out", out_wav, f"{OUT_SINK}.monitor")):
            launched[name] = time.monotonic()
            recorders[name] = pulse.record(wav, source)
        t_launch = time.monotonic()
        with stderr_path.open("w") as err:
            proc = subprocess.Popen(
                program.argv,
                cwd=program.cwd,
                env=pulse.client_env(**program.env),
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
            )
        events = HarkEvents(proc)
        session = Session(program=program.name, events=events, in_wav=in_wav, out_wav=out_wav)
        ready = events.wait_for(lambda e: e["event"] == "ready", 0, timeout=180)
        if ready is None:
            raise _failure(f"{program.name} never became ready", proc, events, stderr_path)
        session.startup_s = events.events[ready][0] - t_launch
        ps = psutil.Process(proc.pid)
        progress(f"{program.name}: ready after {session.startup_s:.1f} s; measuring {idle_s:.0f} s idle")
        _measure_idle(session, ps, idle_s)
        session.rss_rest_mb = ps.memory_info().rss / 1e6

        for run in range(1, runs + 1):
            for n, item in enumerate(inputs, 1):
                progress(f"{program.name}: run {run}/{runs}, turn {n}/{len(inputs)}: {item.path.name}")
                play = _play(pulse, events, item, "turn", run)
                session.plays.append(play)
                play.settled = wait_settled(events, play.mark, TURN_TIMEOUT_S)
                if proc.poll() is not None:
                    raise _failure(f"{program.name} stopped during a turn", proc, events, stderr_path)
            if barge_in is not None:
                progress(f"{program.name}: run {run}/{runs}, barge-in trial")
                _barge_in_trial(session, pulse, barge_in, run)
                if proc.poll() is not None:
                    raise _failure(f"{program.name} stopped during the barge-in trial", proc, events, stderr_path)
        session.rss_after_mb = ps.memory_info().rss / 1e6
        session.t_stop = time.monotonic()
        # A recording's first sample is not its launch moment (a fresh null sink takes up to ~2 s to deliver
        # anything), but its last sample is the moment it is stopped: place each on the clock from its end.
        stopped = {}
        for name, rec in recorders.items():
            stopped[name] = time.monotonic()
            stop(rec)
        session.exit_code = stop(proc)
        starts = {}
        for name, wav in (("in", in_wav), ("out", out_wav)):
            starts[name] = stopped[name] - sf.info(str(wav)).frames / RATE
            session.launch_delay_s[name] = starts[name] - launched[name]
        session.t_in0, session.t_out0 = starts["in"], starts["out"]
        session.answers = answers()[answered_before:]
        _keep_log(session, work)
        return session
    finally:
        for rec in recorders.values():
            stop(rec)
        if proc is not None:
            stop(proc)


def _keep_log(session: Session, work: Path) -> None:
    """The events (with when each was read), the plays, the model's answers and the clocks, in `work`."""
    with (work / "events.jsonl").open("w", encoding="utf-8") as f:
        for read, e in session.events.events:
            f.write(json.dumps({"read": read, **e}, ensure_ascii=False, default=str) + "\n")
    clocks = {"t_in0": session.t_in0, "t_out0": session.t_out0, "t_stop": session.t_stop}
    (work / "meta.json").write_text(json.dumps(clocks), encoding="utf-8")
    with (work / "plays.jsonl").open("w", encoding="utf-8") as f:
        for p in session.plays:
            f.write(json.dumps({**asdict(p), "input": str(p.input.path)}, default=str) + "\n")
        for a in session.answers:
            f.write(json.dumps({"answer": asdict(a)}) + "\n")


def _play(pulse: Pulse, events: HarkEvents, item: Input, kind: str, run: int) -> Play:
    """Play one input into the microphone at real-time pace; returns when the sound server has played it."""
    play = Play(item, kind, run, mark=len(events.events), p_start=time.monotonic())
    pulse.play(item.path)
    play.p_exit = time.monotonic()
    return play


def _barge_in_trial(session: Session, pulse: Pulse, plan: BargeIn, run: int) -> None:
    """Ask for a long reply, and once it is heard play the interruption over it."""
    events = session.events
    plan.long_reply()
    try:
        ask = _play(pulse, events, plan.prompt, "barge_in_reply", run)
        session.plays.append(ask)
        started = events.wait_for(lambda e: e["event"] == "audio_out_start", ask.mark, timeout=TURN_TIMEOUT_S)
        if started is None:
            ask.settled = False
            return
        time.sleep(max(0.0, events.events[started][0] + BARGE_IN_AFTER_S - time.monotonic()))
        cut = Play(plan.interruption, "barge_in", run, mark=len(events.events), p_start=time.monotonic())
        player = pulse.play_async(plan.interruption.path)
        session.plays.append(cut)
        player.wait(timeout=120)
        cut.p_exit = time.monotonic()
    finally:
        plan.normal_reply()  # what the interruption itself is answered with
    cut.settled = wait_settled(events, ask.mark, TURN_TIMEOUT_S)


def pending(events: list[dict[str, Any]]) -> bool:
    """Whether the program is still busy with something in these events (in order).

    Busy: speech started and not yet ended; an utterance ended and the program has not gone back to listening;
    a reply started playing and has not ended.
    """
    recording = turn = speaking = False
    for e in events:
        name = e.get("event")
        if name == "speech_start":
            recording = True
        elif name == "speech_end":
            recording = False
            turn = turn or "discarded" not in e
        elif name == "audio_out_start":
            speaking = True
        elif name == "audio_out_end":
            speaking = False
        elif name == "state" and e.get("state") == "listening":
            turn = False
    return recording or turn or speaking


def wait_settled(events: HarkEvents, since: int, timeout: float, quiet_s: float = SETTLE_QUIET_S) -> bool:
    """Wait until nothing is pending since event `since` and no event came for `quiet_s`; False on timeout."""
    deadline = time.monotonic() + timeout
    start = time.monotonic()
    while True:
        with events.cond:
            seen = events.events[since:]
        last = seen[-1][0] if seen else start
        now = time.monotonic()
        if not pending([e for _, e in seen]) and now - max(last, start) >= quiet_s:
            return True
        if now >= deadline or events.proc.poll() is not None:
            return False
        time.sleep(0.05)


def _measure_idle(session: Session, proc: Any, idle_s: float) -> None:
    """CPU of the waiting process in one-second windows, and which of its threads used it."""
    time.sleep(2.0)  # let start-up work (threads, first buffers) settle before measuring idle
    proc.cpu_percent(None)
    threads0 = {t.id: t.user_time + t.system_time for t in proc.threads()}
    t0 = time.monotonic()
    session.idle_windows = [proc.cpu_percent(1.0) for _ in range(max(1, round(idle_s)))]
    session.idle_elapsed = time.monotonic() - t0
    session.idle_threads = thread_split(proc, threads0, session.idle_elapsed)


def _failure(what: str, proc: subprocess.Popen[str], events: HarkEvents, stderr_path: Path) -> SessionError:
    tail = stderr_path.read_text(errors="replace")[-1500:] if stderr_path.exists() else ""
    seen = [e["event"] for _, e in events.events][-15:]
    return SessionError(f"{what}; exit code {proc.poll()}; last events {seen}; its stderr ends with:\n{tail}")
