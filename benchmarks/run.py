#!/usr/bin/env python3
"""Hark's benchmarks: model loads, transcription, synthesis, endpointing, the live loop and `hark bench`.

    .venv/bin/python -m benchmarks.run [--quick] [--runs N] [--only load,stt,tts,vad,loop,engine] [--out PATH]

Prints a table and writes the measured blocks of docs/benchmarks.md (figures, date, machine); the text around
them is written by hand. Every figure is the median of several runs (default 5) with its min and max. `--quick`
shrinks the runs for a smoke check; it and `--only` write a standalone report to a temporary file instead (pass
--out to choose). Each section is measured in a fresh process (`--section`, below). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python benchmarks/run.py`: Python put benchmarks/, not the repository, first
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import measure_engine, measure_load, measure_loop, measure_stt, measure_tts, measure_vad, report
from benchmarks.figures import Figure, Report, perf, say
from tests.support.paths import ROOT, models_dir
from voice.bench.machine import cpu_snapshot, machine_info, other_load, wait_until_quiet

DOC = ROOT / "docs" / "benchmarks.md"
SECTIONS = report.SECTIONS
MEASURE: dict[str, Callable[[Report, int, bool], None]] = {
    "load": measure_load.measure,
    "stt": measure_stt.measure,
    "tts": measure_tts.measure,
    "vad": measure_vad.measure,
    "loop": measure_loop.measure,
    "engine": measure_engine.measure,
}


def run_section(section: str, runs: int, quick: bool, result: Path) -> int:
    """Child mode: measure one section in this fresh process and leave its figures in `result` (JSON)."""
    rep = Report(runs=runs, quick=quick)
    out: dict[str, Any] = {}
    try:
        MEASURE[section](rep, runs, quick)
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
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--section",
            section,
            "--result",
            str(result),
            "--runs",
            str(runs),
            *(["--quick"] if quick else []),
        ]
        proc = subprocess.run(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        sys.stderr.write(proc.stderr[-4000:] if proc.returncode else "")
        if not result.exists():
            raise RuntimeError(
                f"the {section} benchmark process exited with code {proc.returncode} and no result:\n"
                + proc.stderr[-3000:]
            )
        data = json.loads(result.read_text(encoding="utf-8"))
    for key, f in data["figures"].items():
        rep.add(section, key, Figure(**f))
    rep.extra.update(data["extra"])
    if data.get("error"):
        rep.errors[section] = data["error"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure Hark and write the figures of docs/benchmarks.md.")
    parser.add_argument("--quick", action="store_true", help="few runs, 3 loop turns: a smoke check")
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (default 5, quick 2)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the report (default: docs/benchmarks.md for a full run, "
        "a temporary file for --quick or --only)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to this long for other programs to leave the CPU (below 15 %%) before starting",
    )
    parser.add_argument("--section", choices=SECTIONS, help=argparse.SUPPRESS)  # child mode (see measure)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    runs = args.runs or (2 if args.quick else 5)
    if runs < 1:
        parser.error("--runs must be at least 1")
    os.environ.setdefault("HARK_MODELS_DIR", str(models_dir()))
    if args.section:
        return run_section(args.section, runs, args.quick, args.result)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    partial = args.quick or set(only) != set(SECTIONS)  # never let a smoke check replace the recorded figures
    out = args.out or (Path(tempfile.gettempdir()) / "hark-benchmarks-partial.md" if partial else DOC)

    rep = Report(runs=runs, quick=args.quick)
    machine = machine_info()
    rep.background["before"] = wait_until_quiet(args.wait_quiet)
    say(f"other programs use {rep.background['before']:.0f} % of the CPU before the run")
    for section in (s for s in SECTIONS if s in only):
        say(f"{report.SECTION_TITLES[section]} …")
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
    report.print_table(rep)
    try:
        written = report.write(rep, machine, out)
    except report.NoMarkers as e:  # keep the figures anyway, beside the hand-written document
        say(f"{e}; writing a standalone report instead")
        out = Path(tempfile.gettempdir()) / "hark-benchmarks-unplaced.md"
        written = report.write(rep, machine, out)
        rep.errors["report"] = str(e)
    say(f"wrote {', '.join(written)} to {out}")
    return 1 if rep.errors else 0


if __name__ == "__main__":
    sys.exit(main())
