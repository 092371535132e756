"""The benchmark report writer: it replaces only its measured blocks and never a person's text."""

from __future__ import annotations

import pytest

from benchmarks import report
from benchmarks.figures import Report, fig
from tests.support.paths import ROOT

MACHINE = {"CPU": "test CPU", "Hark": "abc1234"}


def _report() -> Report:
    rep = Report(runs=3, quick=False)
    rep.add("vad", "webrtcvad", fig("webrtcvad alone, per 30 ms frame", "µs", [4.0, 3.9, 4.4], facts="2.2 µs"))
    rep.extra["vad"] = {"frames": 3002, "aggressiveness": 3, "hangover_ms": 600}
    rep.seconds["vad"] = 1.0
    rep.background.update(before=2.0, vad=1.0)
    return rep


def _document() -> str:
    blocks = "\n\n".join(
        f"## {name}\n\n<!-- bench:{name} -->\nold {name} figures\n<!-- /bench:{name} -->\n\n"
        f"A person's reading of the {name} figures."
        for name in report.BLOCKS
    )
    return f"# Hark benchmarks\n\nWritten by hand.\n\n{blocks}\n"


def test_a_run_replaces_only_the_blocks_it_measured(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(_document(), encoding="utf-8")
    written = report.write(_report(), MACHINE, doc)
    text = doc.read_text(encoding="utf-8")
    assert written == ["run", "machine", "vad"]
    assert "| webrtcvad alone, per 30 ms frame | 4.0 µs | 3.9 µs | 4.4 µs | 3 | 2.2 µs |" in text
    assert "Frames: 3002 of 30 ms" in text and "| CPU | test CPU |" in text and "3 runs per figure" in text
    assert "old vad figures" not in text and "old run figures" not in text
    assert "old stt figures" in text and "old loop figures" in text  # not measured this time: kept
    for name in report.BLOCKS:  # every hand-written paragraph survives, and every marker for the next run
        assert f"A person's reading of the {name} figures." in text
        assert f"<!-- bench:{name} -->" in text and f"<!-- /bench:{name} -->" in text
    assert text.startswith("# Hark benchmarks\n\nWritten by hand.\n")


def test_a_hand_written_file_without_markers_is_never_overwritten(tmp_path):
    doc = tmp_path / "notes.md"
    doc.write_text("# My notes\n\nNothing generated here.\n", encoding="utf-8")
    with pytest.raises(report.NoMarkers, match="not overwriting"):
        report.write(_report(), MACHINE, doc)
    assert doc.read_text(encoding="utf-8") == "# My notes\n\nNothing generated here.\n"


def test_a_new_path_gets_a_standalone_report_with_no_conclusions(tmp_path):
    out = tmp_path / "b.md"
    report.write(_report(), MACHINE, out)
    text = out.read_text(encoding="utf-8")
    assert text.startswith(report.STANDALONE_TITLE)
    assert "## 4. Voice activity detection" in text and "| 4.0 µs |" in text
    rep = _report()
    rep.runs = 7
    report.write(rep, MACHINE, out)  # an earlier standalone report is replaced
    assert "7 runs per figure" in out.read_text(encoding="utf-8")


def test_a_failed_section_is_reported_with_its_error(tmp_path):
    rep = _report()
    rep.errors["loop"] = "RuntimeError: no turn completed"
    out = tmp_path / "b.md"
    report.write(rep, MACHINE, out)
    assert "**This section failed:**" in out.read_text(encoding="utf-8")
    assert "RuntimeError: no turn completed" in out.read_text(encoding="utf-8")


def test_the_benchmarks_document_has_every_block_marker_once():
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for name in report.BLOCKS:
        assert text.count(f"<!-- bench:{name} -->") == 1 and text.count(f"<!-- /bench:{name} -->") == 1, name


def _program(endpoint: float, first_audio: float, stop_ms: float | None, config: bool | None) -> dict:
    row = {
        "run": 1,
        "file": "cmu_goforward.wav",
        "said": "go forward ten meters",
        "heard": "Go forward 10 meters.",
        "intent": None,
        "measured": True,
        "why_not_measured": None,
        "ms": {"endpoint": endpoint, "transcript": 900.0, "first_token": 910.0, "first_audio": first_audio},
        "whisper_ms": 600.0,
        "errors": [],
    }
    cut = {**row, "file": "jfk_ask_not.wav", "measured": False, "why_not_measured": "cut in two"}
    times = {"endpoint": endpoint, "transcript": 900.0, "first_token": 910.0, "first_audio": first_audio}
    trial = {"run": 1, "file": "speechcommands_yes.wav", "stop_ms": stop_ms, "stopped": stop_ms is not None,
             "heard": "Yes." if stop_ms else None, "why": None if stop_ms else "the reply did not stop"}  # fmt: skip
    return {
        "turns": {"played": 2, "measured": 1},
        "median_ms": times,
        "p90_ms": times,
        "idle_cpu_percent": 1.5,
        "rss_mb": 400.0,
        "rss_rest_mb": 350.0,
        "startup_s": 5.0,
        "barge_in_stop_ms": stop_ms,
        "barge_in": {"config": config, "trials": [trial]},
        "rows": [row, cut],
        "checks": {"paplay_minus_recording_ms": 80.0, "endpoint_from_stream_times_ms": endpoint},
    }


def test_the_engine_block_is_hark_bench_s_own_table_beside_the_plain_loop(tmp_path):
    result = {
        "runs": 1,
        "files": [{"file": "cmu_goforward.wav", "seconds": 2.79, "said": "go forward ten meters"}],
        "ttft_ms": 0.0,
        "reply": "Done. Anything else?",
        "started": "2026-11-30T23:00:00+00:00",
        "seconds": 240.0,
        "machine": {"CPU": "test CPU", "Cores": "2 logical", "Hark": "abc1234"},
        **_program(700.0, 1400.0, 120.0, True),
        "anchor": _program(400.0, 1200.0, None, False),
    }
    rep = _report()
    rep.extra["engine"] = result
    rep.add("engine", "hark_endpoint", fig("Hark: speech end → end decided", "ms", [700.0]))
    doc = tmp_path / "benchmarks.md"
    doc.write_text(_document(), encoding="utf-8")
    assert "engine" in report.write(rep, MACHINE, doc)
    block = doc.read_text(encoding="utf-8").split("<!-- bench:engine -->")[1].split("<!-- /bench:engine -->")[0]
    first_audio = "| speech end → first reply audio on the device | 1400 ms | 1400 ms | 1200 ms | 1200 ms | ≤ 600 ms |"
    assert first_audio in block
    assert "| idle CPU (% of one core) | 1.5 % |  | 1.5 % |  | ≤ 3 % |" in block
    assert "| barge-in: interruption begins → output silent | 120 ms |  | – |  | ≤ 300 ms |" in block
    assert "| plain loop | 1 | jfk_ask_not.wav |" in block and "cut in two |" in block
    assert "Hark (audio.barge_in: true), run 1 (speechcommands_yes.wav): silent 120 ms after the interruption" in block
    assert "turns measured: Hark 1 of 2, the plain loop 1 of 2" in block
    assert "| figure | median | min | max |" not in block  # its own table, not the generic figure table
