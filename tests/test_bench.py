"""`hark bench`: the end-to-end run on real devices and models, and the helpers that read times from audio.

The end-to-end test runs `hark bench --json` as a user would (two short recordings, one run, Hark and the
plain loop through a private PulseAudio daemon and the scripted model server) and checks the object it
prints. Speed is not asserted (2 shared cores): only that every figure is there and ordered as time flows.
The rest feed the statistics and alignment helpers made-up recordings whose answers are known.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from tests.support.cli import run_hark
from tests.support.speech import speech_file
from voice.bench import stats
from voice.bench.levels import silence_from, speech_end_s, speech_start_s
from voice.bench.ollama_server import Answered, FakeOllama, Reply
from voice.bench.runner import BenchError, Options, choose_inputs, default_inputs, hark_config
from voice.bench.session import Input, Play, Session, pending
from voice.bench.turns import (
    first_sound,
    first_token_after,
    pick_end,
    playback_stop,
    self_interruptions,
    speech_bounds,
)

RATE = 16000


def _check_program(d: dict, who: str) -> None:
    assert d["turns"]["played"] == 2, who
    assert d["turns"]["measured"] >= 1, (who, [r["why_not_measured"] for r in d["rows"]])
    med, p90 = d["median_ms"], d["p90_ms"]
    for key in ("endpoint", "transcript", "first_token", "first_audio"):
        assert med[key] is not None and med[key] > 0, (who, key, med)
        assert p90[key] >= med[key], (who, key)
    assert med["first_audio"] > med["transcript"] > 0, (who, med)
    assert med["first_token"] >= med["transcript"], (who, med)  # the model is asked once the words are known
    assert 0 < d["idle_cpu_percent"] < 100, who
    assert 50 < d["rss_mb"] < 4000, who
    assert d["barge_in_stop_ms"] is None or d["barge_in_stop_ms"] > 0, who
    assert len(d["barge_in"]["trials"]) == 1, who
    for r in d["rows"]:
        assert r["file"] in ("cmu_goforward.wav", "speechcommands_yes.wav")
        if r["measured"]:
            assert r["heard"].strip()


def test_hark_bench_json_measures_hark_and_the_plain_loop_end_to_end(tmp_path):
    empty = tmp_path / "no-speech-here"
    empty.mkdir()
    files = [speech_file("cmu_goforward.wav"), speech_file("speechcommands_yes.wav")]
    r = run_hark(
        "bench", "--json", "--runs", "1", "--idle-s", "3", "--speech-dir", str(empty), *map(str, files), timeout=560
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "measuring only the files given" in r.stderr  # the empty default folder is said, not fatal
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, r.stdout[-2000:]  # exactly one object
    result = json.loads(lines[0])
    for key in ("runs", "files", "median_ms", "p90_ms", "idle_cpu_percent", "rss_mb", "barge_in_stop_ms"):
        assert key in result, key
    assert result["runs"] == 1
    assert [f["file"] for f in result["files"]] == ["cmu_goforward.wav", "speechcommands_yes.wav"]
    assert result["model"]["stt"] == "tiny.en" and "scripted" in result["model"]["llm"]
    assert result["machine"]["CPU"] and result["machine"]["Python"]
    _check_program(result, "hark")
    assert result["barge_in"]["config"] in (True, False, None)
    anchor = result["anchor"]
    assert anchor is not None
    _check_program(anchor, "plain loop")
    assert anchor["barge_in_stop_ms"] is None  # it mutes itself while speaking: it cannot be interrupted
    # The recordings are placed on the clock right: the speech end computed from paplay's return (it returns
    # once the sound server has played the file) falls within a few tens of ms of the one read in the recording.
    for d in (result, anchor):
        assert -100 < d["checks"]["paplay_minus_recording_ms"] < 300, d["checks"]


# ---------------------------------------------------------------- statistics


def test_median_and_p90_leave_out_what_was_not_measured():
    assert stats.median([3.0, None, 1.0, 2.0]) == 2.0
    assert stats.p90([None, None]) is None
    assert stats.percentile([10.0, 20.0, 30.0, 40.0, 50.0], 90) == pytest.approx(46.0)  # numpy's linear rule
    assert stats.percentile([7.0], 90) == 7.0
    assert stats.percentile([1.0, 2.0], 0) == 1.0 and stats.percentile([1.0, 2.0], 100) == 2.0
    rows = [{"a": 100.0, "b": None}, {"a": 300.0, "b": 5.0}, {"a": 200.0, "b": None}]
    medians, p90s = stats.summarize(rows, ["a", "b"])
    assert medians == {"a": 200.0, "b": 5.0} and p90s == {"a": 280.0, "b": 5.0}
    with pytest.raises(ValueError):
        stats.percentile([], 50)


# ---------------------------------------------------------------- reading recordings and aligning clocks


def _tone(seconds: float, dbfs: float = -12.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * 220 * t) * 32768 * 10 ** (dbfs / 20)).astype(np.int16)


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.int16)


def test_speech_bounds_are_placed_on_the_clock_from_the_recordings_start():
    rec = np.concatenate([_silence(1.0), _tone(0.5), _silence(0.2), _tone(0.3, -20), _silence(1.0)])
    assert speech_start_s(rec) == pytest.approx(1.0, abs=0.011)
    assert speech_end_s(rec) == pytest.approx(2.0, abs=0.011)
    t0 = 500.0  # the recording's first sample, on the monotonic clock
    on, off = speech_bounds(rec, t0, t0 + 0.5, t0 + 2.8)
    assert on == pytest.approx(501.0, abs=0.011) and off == pytest.approx(502.0, abs=0.011)
    assert first_sound(rec, t0, t0 + 0.2, t0 + 3.0) == pytest.approx(501.0, abs=2 / RATE)  # sin(0) is 0
    assert first_sound(rec, t0, t0 + 2.1, t0 + 3.0) is None  # nothing after the speech


def test_an_end_decided_in_a_pause_is_a_cut_turn():
    assert pick_end([10.30, 11.0], speech_end=10.0) == (0, False)
    assert pick_end([9.50, 10.40], speech_end=10.0) == (1, True)  # cut in a pause, then the real end
    assert pick_end([9.50], speech_end=10.0) == (None, True)  # answered the first part only
    assert pick_end([9.97], speech_end=10.0) == (0, False)  # within the clock's error
    assert pick_end([], speech_end=10.0) == (None, False)


def test_the_first_token_is_the_servers_for_the_answer_asked_in_the_turn():
    answers = [Answered("m", asked=5.0, first_token=5.1), Answered("m", 12.0, None), Answered("m", 12.5, 12.6)]
    assert first_token_after(answers, 10.0, 20.0) == 12.6  # the failed answer sent nothing
    assert first_token_after(answers, 20.0, 30.0) is None


def test_silence_is_found_only_when_long_enough():
    rec = np.concatenate([_tone(0.5), _silence(0.15), _tone(0.5), _silence(0.4), _tone(0.2)])
    assert silence_from(rec, 0.3) == pytest.approx(int(1.15 * RATE), abs=RATE // 100)
    assert silence_from(rec, 0.5) is None


def test_barge_in_stop_is_a_silence_after_which_the_reply_never_resumes():
    t0, start = 0.0, 2.0  # the interruption's first sound
    # Silent 250 ms after it began; what sounds next answers what the program heard (a transcript at 4.8 s).
    stopped = np.concatenate([_tone(2.25), _silence(3.0), _tone(1.0)])
    assert playback_stop(stopped, t0, start, 6.5, transcripts=[4.8]) == pytest.approx(2.25, abs=0.011)
    assert playback_stop(stopped[: int(3.0 * RATE)], t0, start, 3.0, transcripts=[]) == pytest.approx(2.25, abs=0.011)
    # Pauses between sentences, even a synthesis a second late, are followed by more of the same reply.
    gaps = [_tone(1.0), _silence(0.15), _tone(1.2), _silence(0.5), _tone(1.45), _silence(1.0), _tone(3.0)]
    assert playback_stop(np.concatenate(gaps), t0, start, 8.3, transcripts=[]) is None
    # Stopping later than the limit is not stopping for the user.
    late = np.concatenate([_tone(4.6), _silence(2.0)])
    assert playback_stop(late, t0, start, 6.5, transcripts=[], limit=2.5) is None


def test_a_turn_is_pending_until_the_program_listens_again_with_nothing_playing():
    assert pending([{"event": "speech_start"}])
    assert not pending([{"event": "speech_start"}, {"event": "speech_end", "discarded": "too short"}])
    turn = [{"event": "speech_start"}, {"event": "speech_end", "duration": 1.0}]
    assert pending(turn)
    assert pending([*turn, {"event": "audio_out_start"}, {"event": "state", "state": "listening"}])
    assert not pending(
        [*turn, {"event": "audio_out_start"}, {"event": "audio_out_end"}, {"event": "state", "state": "listening"}]
    )
    assert not pending([])


class _Events:
    """Events as a session keeps them: (moment read, event), the program's clock 1000 s behind ours."""

    def __init__(self, events: list[dict]) -> None:
        self.events = [(e["t"] + 1000.0, e) for e in events]

    def clock_offset(self) -> float:
        return min(read - e["t"] for read, e in self.events)


def test_a_reply_stopped_with_nobody_speaking_is_a_self_interruption(tmp_path):
    mic = np.concatenate([_silence(5.0), _tone(2.0), _silence(8.0)])  # someone speaks from 5 s to 7 s
    sf.write(tmp_path / "in.wav", mic, RATE, subtype="PCM_16")
    sf.write(tmp_path / "out.wav", _silence(15.0), RATE, subtype="PCM_16")
    t_in0 = 1000.0  # the recording's first sample on our clock, and the program's t=0
    events = _Events(
        [
            {"t": 5.3, "event": "barge_in", "heard": "Here is a…"},  # the person played at 5 s: explained
            {"t": 11.0, "event": "barge_in", "heard": "Done."},  # nothing played: it heard itself
        ]
    )
    spoken = Play(Input(tmp_path / "x.wav", "x", 2.0, 2.0), "barge_in", 1, mark=0, p_start=1005.0, p_exit=1007.1)
    session = Session("hark", events, tmp_path / "in.wav", tmp_path / "out.wav", [spoken], t_in0=t_in0, t_out0=t_in0)
    assert self_interruptions(session) == [{"at_s": 11.0, "mic_silent": True, "reply_heard": "Done."}]


# ---------------------------------------------------------------- inputs and config


def _wav(path, seconds: float) -> None:
    sf.write(path, np.concatenate([_silence(0.2), _tone(seconds - 0.4), _silence(0.2)]), RATE, subtype="PCM_16")


def test_the_default_recordings_are_the_manifests_speech_under_15_s(tmp_path):
    for name, seconds in (("a.wav", 2.0), ("long.wav", 16.0), ("hiss.wav", 1.0)):
        _wav(tmp_path / name, seconds)
    (tmp_path / "manifest.tsv").write_text(
        "file\tseconds\tsample_rate\tchannels\tspeaker_or_source\treference_transcript\n"
        "a.wav\t2.0\t16000\t1\tsomeone\tturn on the light\n"
        "long.wav\t16.0\t16000\t1\tsomeone\ta long story\n"
        "hiss.wav\t1.0\t16000\t1\tNON-SPEECH: noise\t\n",
        encoding="utf-8",
    )
    inputs = default_inputs(tmp_path)
    assert [(i.path.name, i.label) for i in inputs] == [("a.wav", "turn on the light")]
    assert inputs[0].seconds == pytest.approx(2.0) and inputs[0].speech_end_in_file == pytest.approx(1.8, abs=0.02)
    (tmp_path / "manifest.tsv").unlink()  # without a manifest: every audio file under 15 s
    assert sorted(i.path.name for i in default_inputs(tmp_path)) == ["a.wav", "hiss.wav"]


def test_a_missing_speech_folder_falls_back_to_the_files_given(tmp_path):
    said: list[str] = []
    _wav(tmp_path / "mine.wav", 1.5)
    inputs = choose_inputs(Options(files=[tmp_path / "mine.wav"], speech_dir=tmp_path / "absent"), said.append)
    assert [i.path.name for i in inputs] == ["mine.wav"]
    assert "is not there" in said[0] and "--speech-dir" in said[0]
    with pytest.raises(BenchError, match="no recordings to play"):
        choose_inputs(Options(speech_dir=tmp_path / "absent"), said.append)
    with pytest.raises(BenchError, match="does not exist"):
        choose_inputs(Options(files=[tmp_path / "nope.wav"], speech_dir=tmp_path / "absent"), said.append)


def test_the_config_measured_is_the_users_on_the_scripted_server_and_default_devices(tmp_path):
    from voice.config import load_config

    mine = tmp_path / "mine.yaml"
    mine.write_text("vad:\n  hangover_ms: 450\naudio:\n  input_device: USB\nllm:\n  model: qwen3:8b\n")
    cfg = load_config(hark_config(Options(config=mine), "http://127.0.0.1:9", tmp_path))
    assert cfg.vad.hangover_ms == 450  # what is measured is the user's choice
    assert cfg.llm.model == "hark-bench:1b" and cfg.llm.host == "http://127.0.0.1:9"
    assert cfg.audio.input_device is None and cfg.audio.output_device is None
    broken = tmp_path / "broken.yaml"
    broken.write_text("vad:\n  hangover: 450\n")
    with pytest.raises(BenchError, match="hangover"):
        hark_config(Options(config=broken), "http://127.0.0.1:9", tmp_path)


def test_the_scripted_server_logs_when_each_answers_first_token_went_out():
    import ollama

    with FakeOllama() as server:
        server.add_model("hark-bench:1b")
        server.default_reply = Reply(content="Done. Anything else?", delay_s=0.1)
        client = ollama.Client(host=server.url)
        pieces = list(client.chat(model="hark-bench:1b", messages=[{"role": "user", "content": "hi"}], stream=True))
        again = client.chat(model="hark-bench:1b", messages=[{"role": "user", "content": "hi"}])
    assert "".join(p.message.content for p in pieces) == "Done. Anything else?"
    assert again.message.content == "Done. Anything else?"  # the default reply is not used up
    first, second = server.answers
    assert first.first_token - first.asked >= 0.1  # the time to first token it was told to take
    assert second.first_token is not None
