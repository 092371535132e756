"""The engine section: `hark bench` itself (Hark beside the plain loop), run by `benchmarks/run.py`.

Its figures are `voice.bench.runner.run`'s: nothing is measured here that `hark bench --json` does not print.
The whole result goes into `rep.extra["engine"]`, and docs/benchmarks.md's engine block is its markdown
(`voice.bench.report.markdown`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.figures import Report, fig


def engine_runs(runs: int, quick: bool) -> int:
    """Passes over the recordings: each is ~6 turns per program, so fewer than the other sections' runs."""
    return 1 if quick else max(2, runs // 3)


def measure(rep: Report, runs: int, quick: bool = False) -> None:
    """Run `hark bench` (anchor and barge-in trial included) and keep its figures and result."""
    import tempfile

    from voice.bench.runner import Options, run

    # Barge-in on (not the shipped default): its stop time is measured, and the idle figures
    # include the echo canceller, the most Hark ever does while waiting.
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "barge-in.yaml"
        config.write_text("audio:\n  barge_in: true\n", encoding="utf-8")
        options = Options(runs=engine_runs(runs, quick), idle_s=3.0 if quick else 10.0, config=config)
        result = run(options)
    rep.extra["engine"] = result
    add_figures(rep, result)


def add_figures(rep: Report, result: dict[str, Any]) -> None:
    """Per-turn times and the resources of Hark and of the plain loop, as figures (median, min, max, n)."""
    for who, d in (("Hark", result), ("plain loop", result.get("anchor"))):
        if not d:
            continue
        tag = "hark" if who == "Hark" else "plain"
        measured = [r for r in d["rows"] if r["measured"]]
        for key, label in (
            ("endpoint", "speech end → end decided"),
            ("transcript", "speech end → transcript"),
            ("first_token", "speech end → model's first token"),
            ("first_audio", "speech end → first reply audio"),
        ):
            values = [r["ms"][key] for r in measured if r["ms"][key] is not None]
            if values:
                rep.add("engine", f"{tag}_{key}", fig(f"{who}: {label}", "ms", values))
        if d["idle_cpu_percent"] is not None:
            rep.add("engine", f"{tag}_idle", fig(f"{who}: idle CPU (% of one core)", "%", [d["idle_cpu_percent"]]))
        rep.add("engine", f"{tag}_rss", fig(f"{who}: resident memory after the turns", "MB", [d["rss_mb"]]))
        stops = [t["stop_ms"] for t in d["barge_in"]["trials"] if t["stop_ms"] is not None]
        if stops:
            label = f"{who}: barge-in, interruption begins → output silent"
            rep.add("engine", f"{tag}_barge_in", fig(label, "ms", stops))
