"""Each turn's times, read from a session's recordings, events and model-server log, on one monotonic clock.

Clocks: this process's `time.monotonic()` is the reference. A recording is placed on it from the moment its
parec was stopped (its last sample) and its length; the program's events (`t`, seconds since its own start)
by the smallest gap between an event's `t` and the moment its line was read (`HarkEvents.clock_offset`); the
model server runs in this process and logs on the reference clock directly.

Per turn, counted from the last voiced sample of the input (read in the recorded input):
- `endpoint`: the program decided the utterance had ended (its speech_end event);
- `transcript`: the transcript event;
- `first_token`: the model server sent the first token of its answer;
- `first_audio`: the first reply sample reached the output device (the first non-zero sample in the recorded
  output: the program's output is digital silence between replies).
A turn the program cut in two (it decided an end in a pause, before the speech did end) is reported but not
measured: its reply belongs to part of the utterance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from voice.bench.levels import (
    AUDIBLE_DBFS,
    SILENT_DBFS,
    first_nonzero,
    first_sample_at_or_above,
    silence_from,
    speech_end_s,
)
from voice.bench.levels import speech_start_s as onset_s
from voice.bench.ollama_server import Answered
from voice.bench.session import RATE, Play, Session

FIGURES = ("endpoint", "transcript", "first_token", "first_audio")
# An end decided this long before the speech end read in the recording still counts as the end (clock error).
EARLY_TOLERANCE_S = 0.05
# Silence on the output: at least this long below SILENT_DBFS (Piper's pause between sentences is 150 ms).
STOP_SILENCE_S = 0.3
# An interruption that has not silenced the output within this long did not stop it (a long reply runs on).
STOP_LIMIT_S = 2.5
# The output is read from this long before the interruption's start: was a reply sounding, had it stopped?
LOOK_BACK_S = 0.5


def place(rec: np.ndarray, t0: float, start: float, end: float) -> tuple[int, np.ndarray]:
    """(index of the first sample, the samples) of a recording begun at `t0`, between monotonic `start` and `end`."""
    lo = max(0, int((start - t0) * RATE))
    hi = max(lo, min(len(rec), int((end - t0) * RATE)))
    return lo, rec[lo:hi]


def speech_bounds(rec: np.ndarray, t0: float, start: float, end: float) -> tuple[float | None, float | None]:
    """Where speech starts and ends (monotonic) in the part of a recording between `start` and `end`."""
    lo, seg = place(rec, t0, start, end)
    on, off = onset_s(seg), speech_end_s(seg)
    at = t0 + lo / RATE
    return (at + on if on is not None else None), (at + off if off is not None else None)


def first_sound(rec: np.ndarray, t0: float, start: float, end: float) -> float | None:
    """Monotonic time of the first non-zero sample of a recording between `start` and `end`."""
    lo, seg = place(rec, t0, start, end)
    nz = first_nonzero(seg)
    return t0 + (lo + nz) / RATE if nz is not None else None


def louder_than(rec: np.ndarray, t0: float, start: float, end: float, dbfs: float) -> float | None:
    """Monotonic time of the first 10 ms at `dbfs` or louder between `start` and `end`."""
    lo, seg = place(rec, t0, start, end)
    loud = first_sample_at_or_above(seg, dbfs)
    return t0 + (lo + loud) / RATE if loud is not None else None


def first_audible(rec: np.ndarray, t0: float, start: float, end: float) -> float | None:
    """Monotonic time of the first 10 ms at AUDIBLE_DBFS or louder between `start` and `end`."""
    return louder_than(rec, t0, start, end, AUDIBLE_DBFS)


def silence_after(rec: np.ndarray, t0: float, start: float, end: float, min_s: float = STOP_SILENCE_S) -> float | None:
    """Monotonic time where the first silence of at least `min_s` begins between `start` and `end`."""
    lo, seg = place(rec, t0, start, end)
    at = silence_from(seg, min_s)
    return t0 + (lo + at) / RATE if at is not None else None


def pick_end(ends: Sequence[float], speech_end: float, tolerance: float = EARLY_TOLERANCE_S) -> tuple[int | None, bool]:
    """Which decided end (monotonic, in order) ends the utterance whose speech ends at `speech_end`.

    Returns its index (None if no end came after the speech) and whether an earlier end cut the utterance.
    """
    early = [i for i, t in enumerate(ends) if t < speech_end - tolerance]
    late = [i for i, t in enumerate(ends) if t >= speech_end - tolerance]
    return (late[0] if late else None), bool(early)


def first_token_after(answers: Sequence[Answered], start: float, end: float) -> float | None:
    """When the first answer asked for between `start` and `end` sent its first token."""
    for a in answers:
        if start <= a.asked < end and a.first_token is not None:
            return a.first_token
    return None


def ms(a: float | None, b: float | None) -> float | None:
    """The time from `a` to `b` in milliseconds, rounded to 0.1; None if either is missing."""
    return None if a is None or b is None else round((b - a) * 1000, 1)


def turn_rows(s: Session) -> list[dict[str, Any]]:
    """One row per turn played (kind "turn"): its times on the monotonic clock and its figures in ms."""
    import soundfile as sf

    offset = s.events.clock_offset()
    rec_in, _ = sf.read(str(s.in_wav), dtype="int16")
    rec_out, _ = sf.read(str(s.out_wav), dtype="int16")
    rows = []
    for k, p in enumerate(s.plays):
        if p.kind != "turn":
            continue
        nxt = s.plays[k + 1].p_start if k + 1 < len(s.plays) else s.t_stop
        rows.append(turn_row(p, nxt, offset, s, rec_in, rec_out))
    return rows


def turn_row(p: Play, nxt: float, offset: float, s: Session, rec_in: np.ndarray, rec_out: np.ndarray) -> dict[str, Any]:
    """The times of one turn (see the module's docstring), with why it is not measured when it is not."""
    evs = [(e["t"] + offset, e) for _, e in s.events.events[p.mark :]]
    evs = [(t, e) for t, e in evs if t < nxt]
    row: dict[str, Any] = {"run": p.run, "file": p.input.path.name, "said": p.input.label, "measured": False}
    onset, end = speech_bounds(rec_in, s.t_in0, p.p_start - 0.2, p.p_exit + 0.3)
    row["speech_end"] = end
    tail = p.input.seconds - (p.input.speech_end_in_file or p.input.seconds)
    row["speech_end_paplay"] = p.p_exit - tail  # a cross-check of the recording's placement
    for key in ("ev_speech_end", "ev_transcript", "first_token_at", "ev_audio_out_start", "out_first", "out_audible"):
        row[key] = None
    row.update(text=None, stt_seconds=None, intent=None, split=False, endpoint_stream_ms=None)
    row["errors"] = [e.get("message") for _, e in evs if e["event"] == "error"]
    if end is None:
        return _finish(row, "no speech found in the recorded input")
    ends = [(i, t, e) for i, (t, e) in enumerate(evs) if e["event"] == "speech_end" and "discarded" not in e]
    chosen, row["split"] = pick_end([t for _, t, _ in ends], end)
    if chosen is None:
        why = "answered part of it: an end was decided in a pause" if row["split"] else "no end was decided"
        return _finish(row, why)
    i_end, row["ev_speech_end"], end_event = ends[chosen]
    after = evs[i_end:]

    def first(name: str) -> tuple[float, dict[str, Any]] | tuple[None, None]:
        return next(((t, e) for t, e in after if e["event"] == name), (None, None))

    row["ev_transcript"], tr = first("transcript")
    row["text"] = tr.get("text") if tr else None
    row["stt_seconds"] = tr.get("seconds") if tr else None
    row["ev_audio_out_start"], _ = first("audio_out_start")
    intent = first("intent")[1]
    row["intent"] = intent.get("name") if intent else None
    row["first_token_at"] = first_token_after(s.answers, row["ev_speech_end"] - 0.05, nxt)
    starts = [e for t, e in evs[:i_end] if e["event"] == "speech_start"]
    if starts and onset is not None and "audio_t" in end_event and "audio_t" in starts[-1]:
        # The same interval from the program's own stream times: no clock mapping in it at all.
        decided = (end_event["audio_t"] - starts[-1]["audio_t"]) - (end - onset)
        row["endpoint_stream_ms"] = round(decided * 1000, 1)
    busy = first_sound(rec_out, s.t_out0, end - 0.2, end)
    row["out_first"] = first_sound(rec_out, s.t_out0, end, nxt)
    row["out_audible"] = first_audible(rec_out, s.t_out0, end, nxt)
    row.update({f: None for f in FIGURES})
    row["endpoint"] = ms(end, row["ev_speech_end"])
    row["transcript"] = ms(end, row["ev_transcript"])
    row["first_token"] = ms(end, row["first_token_at"])
    row["first_audio"] = ms(end, row["out_first"])
    if row["split"]:
        row["first_audio"] = None  # what sounds first may be the reply to the first part
        return _finish(row, "cut in two: an end was also decided in a pause before the speech ended")
    if busy is not None:
        row["first_audio"] = None  # the reply to this speech cannot be told from the one already sounding
        return _finish(row, "the output was still sounding when the speech ended")
    if row["ev_transcript"] is None or not (row["text"] or "").strip():
        return _finish(row, "no transcript")
    if row["out_first"] is None:
        return _finish(row, "no reply was heard")
    row["measured"] = True
    return _finish(row, None)


def _finish(row: dict[str, Any], why: str | None) -> dict[str, Any]:
    for f in FIGURES:
        row.setdefault(f, None)
    row["why_not_measured"] = why
    return row


def barge_in_rows(s: Session) -> list[dict[str, Any]]:
    """Each barge-in trial: from the start of the interruption to silence on the output.

    The start is the interruption's first sound in the recorded microphone (its own lead-in included;
    `voice_ms` says when its voice proper began, by the speech-end rule's level). `stop_ms` is None when
    playback did not stop within STOP_LIMIT_S, or when no reply was sounding as the interruption began (the
    trial says why).
    """
    import soundfile as sf

    offset = s.events.clock_offset()
    rec_in, _ = sf.read(str(s.in_wav), dtype="int16")
    rec_out, _ = sf.read(str(s.out_wav), dtype="int16")
    rows = []
    for k, p in enumerate(s.plays):
        if p.kind != "barge_in":
            continue
        nxt = s.plays[k + 1].p_start if k + 1 < len(s.plays) else s.t_stop
        start = louder_than(rec_in, s.t_in0, p.p_start - 0.2, p.p_exit + 0.3, SILENT_DBFS)
        onset, _ = speech_bounds(rec_in, s.t_in0, p.p_start - 0.2, p.p_exit + 0.3)
        row: dict[str, Any] = {"run": p.run, "file": p.input.path.name, "stop_ms": None, "stopped": False}
        row["voice_ms"] = ms(start, onset)
        later = [(e["t"] + offset, e) for _, e in s.events.events[p.mark :]]
        row["heard"] = next((e["text"] for _, e in later if e["event"] == "transcript" and e.get("text")), None)
        if start is None:
            rows.append({**row, "why": "no sound found in the recorded interruption"})
            continue
        understood = [t for t, e in later if e["event"] == "transcript" and (e.get("text") or "").strip()]
        # From a little before: a reply that had already stopped is told from one in a pause between sentences.
        quiet = playback_stop(rec_out, s.t_out0, start - LOOK_BACK_S, nxt, understood, STOP_LIMIT_S + LOOK_BACK_S)
        if first_sound(rec_out, s.t_out0, start - LOOK_BACK_S, start) is None or (quiet is not None and quiet < start):
            asked = s.plays[k - 1].mark if k and s.plays[k - 1].kind == "barge_in_reply" else p.mark
            early = [e for _, e in s.events.events[asked : p.mark] if e["event"] == "barge_in"]
            why = "it had stopped its reply on its own (a barge_in event) before the interruption began"
            rows.append({**row, "why": why if early else "no reply was sounding when the interruption began"})
            continue
        if quiet is not None:
            row.update(stop_ms=ms(start, quiet), stopped=True)
            rows.append({**row, "why": None})
        else:
            rows.append({**row, "why": f"the reply did not stop within {STOP_LIMIT_S:g} s"})
    return rows


def playback_stop(
    rec: np.ndarray, t0: float, start: float, end: float, transcripts: Sequence[float], limit: float = STOP_LIMIT_S
) -> float | None:
    """When the reply sounding at `start` (the interruption's first sound) stopped, or None.

    A stop is a silence (STOP_SILENCE_S or longer) beginning within `limit` of `start` after which the reply
    never resumes: the output stays silent until `end`, or what sounds next is an answer to something the
    program heard since (a transcript event, in `transcripts`, came during the silence). A pause between
    sentences, or a synthesis too slow for playback, is followed by more of the same reply and is no stop.
    """
    t = start
    while True:
        quiet = silence_after(rec, t0, t, end)
        if quiet is None or quiet - start > limit:
            return None
        resumed = louder_than(rec, t0, quiet, end, SILENT_DBFS)  # after the whole silence: progress
        if resumed is None or any(quiet <= heard <= resumed for heard in transcripts):
            return quiet
        t = resumed


def self_interruptions(s: Session) -> list[dict[str, Any]]:
    """The program's barge_in events that no input played explains, each with where it came in the session.

    It took something else for the user (its own voice, through an echo canceller's residue or a loop back);
    `mic_silent` says whether the recorded microphone was digital silence in the second before (nothing at all
    was there to hear).
    """
    import soundfile as sf

    offset = s.events.clock_offset()
    rec_in, _ = sf.read(str(s.in_wav), dtype="int16")
    out = []
    for _, e in s.events.events:
        if e["event"] != "barge_in":
            continue
        at = e["t"] + offset
        if any(p.p_start - 0.1 <= at <= p.p_exit + 0.5 for p in s.plays):
            continue
        heard = first_sound(rec_in, s.t_in0, at - 1.0, at)
        out.append({"at_s": round(at - s.t_in0, 2), "mic_silent": heard is None, "reply_heard": e.get("heard")})
    return out
