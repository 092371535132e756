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
