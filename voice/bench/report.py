"""`hark bench`'s result for people: a table on the terminal, and the markdown of docs/benchmarks.md's engine block.

Both show the same figures: Hark beside the plain loop and the targets of issue 11, medians and 90th
percentiles, then every turn. They report what was measured and draw no conclusions.
"""

from __future__ import annotations

from typing import Any

from voice.bench.runner import TARGETS

TIMES = [
    ("endpoint", "speech end → end of utterance decided"),
    ("transcript", "speech end → transcript"),
    ("first_token", "speech end → model's first token"),
    ("first_audio", "speech end → first reply audio on the device"),
]


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.0f} ms"


def _target(key: str) -> str:
    t = TARGETS.get(key)
    if t is None:
        return ""
    unit = {"idle_cpu_percent": " %", "rss_mb": " MB"}.get(key, " ms")
    return f"≤ {t:g}{unit}"


def figure_rows(result: dict[str, Any]) -> list[list[str]]:
    """[figure, Hark median, Hark p90, plain median, plain p90, target] for every figure of the result."""
    anchor = result.get("anchor") or {}
    rows = []
    for key, label in TIMES:
        rows.append(
            [
                label,
                _ms(result["median_ms"].get(key)),
                _ms(result["p90_ms"].get(key)),
                _ms((anchor.get("median_ms") or {}).get(key)) if anchor else "",
                _ms((anchor.get("p90_ms") or {}).get(key)) if anchor else "",
                _target(key),
            ]
        )

    def one(key: str, fmt: str, label: str, target: str = "") -> list[str]:
        def show(d: dict[str, Any]) -> str:
            v = d.get(key)
            return "–" if v is None else fmt.format(v)

        return [label, show(result), "", show(anchor) if anchor else "", "", target]

    rows.append(one("idle_cpu_percent", "{:.1f} %", "idle CPU (% of one core)", _target("idle_cpu_percent")))
    rows.append(one("rss_mb", "{:.0f} MB", "resident memory after the turns", _target("rss_mb")))
    rows.append(one("barge_in_stop_ms", "{:.0f} ms", "barge-in: interruption begins → output silent", "≤ 300 ms"))
    mistaken = ["", "", "", "", ""]
    for i, d in ((1, result), (3, anchor)):
        if d:
            mistaken[i] = str(len(d.get("self_interruptions", [])))
    rows.append(["replies it stopped with no one speaking", *mistaken[1:], "0"])
    return rows


def _turns_line(result: dict[str, Any]) -> str:
    def count(d: dict[str, Any]) -> str:
        return f"{d['turns']['measured']} of {d['turns']['played']}"

    anchor = result.get("anchor")
    loop = f", the plain loop {count(anchor)}" if anchor else ""
    both = result.get("paired")
    if both and both["turns"]:
        h, a = both["median_ms"], both["anchor_median_ms"]
        loop += (
            f"; on the {both['turns']} turns both completed, first reply audio {_ms(h['first_audio'])} (Hark) "
            f"against {_ms(a['first_audio'])} (plain loop), endpoint {_ms(h['endpoint'])} against "
            f"{_ms(a['endpoint'])}"
        )
    files = ", ".join(f["file"] for f in result["files"])
    return (
        f"{result['runs']} run(s) over {len(result['files'])} recordings ({files}); turns measured: Hark "
        f'{count(result)}{loop}. The scripted model answered "{result["reply"]}" after '
        f"{result['ttft_ms']:g} ms."
    )


def print_table(result: dict[str, Any]) -> None:
    """The result as a rich table on stdout, and the turns that were not measured, with why."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="hark bench: from the last voiced sample of each recording (ms)")
    for col in ("figure", "Hark median", "p90", "plain loop median", "p90", "target"):
        table.add_column(col, justify="left" if col in ("figure", "target") else "right")
    for row in figure_rows(result):
        table.add_row(*row)
    console.print(table)
    console.print(_turns_line(result), highlight=False)
    for who, d in (("Hark", result), ("plain loop", result.get("anchor"))):
        if not d:
            continue
        for r in d["rows"]:
            if not r["measured"]:
                console.print(f"[yellow]{who}[/], {r['file']} (run {r['run']}): {r['why_not_measured']}")
        for t in d["barge_in"]["trials"]:
            if t["why"]:
                console.print(f"[dim]{who}, barge-in: {t['why']}[/]")


def markdown(result: dict[str, Any]) -> list[str]:
    """The engine block of docs/benchmarks.md: the figures, every turn, the clock checks."""
    machine = result.get("machine") or {}
    lines = [
        f"Measured on {result['started']} by `hark bench --runs {result['runs']}` "
        f"({result['seconds'] / 60:.1f} minutes) on {machine.get('CPU', 'an unknown CPU')}, "
        f"{machine.get('Cores', '')}; Hark {machine.get('Hark', 'unknown')}. {_turns_line(result)}",
        "",
        "| figure | Hark median | p90 | plain loop median | p90 | target |",
        "|---|---:|---:|---:|---:|---|",
        *("| " + " | ".join(row) + " |" for row in figure_rows(result)),
        "",
        "| program | run | recording | heard | endpoint | transcript | first token | first audio | why not measured |",
        "|---|---:|---|---|---:|---:|---:|---:|---|",
    ]
    for who, d in (("Hark", result), ("plain loop", result.get("anchor"))):
        if not d:
            continue
        for r in d["rows"]:
            heard = "(none)" if r["heard"] is None else f'"{r["heard"]}"'
            cells = [who, str(r["run"]), r["file"], heard, *(_ms(r["ms"][k]) for k, _ in TIMES)]
            lines.append("| " + " | ".join([*cells, r["why_not_measured"] or ""]) + " |")
    lines += ["", "| check | Hark | plain loop |", "|---|---:|---:|"]
    anchor = result.get("anchor") or {}
    for key, label in (
        ("paplay_minus_recording_ms", "speech end from paplay's return, minus the one read in the recording"),
        (
            "endpoint_from_stream_times_ms",
            "endpoint from the events' audio_t alone: speech_end − speech_start, "
            "minus the speech's length in the recording",
        ),
    ):
        a = anchor.get("checks", {}).get(key) if anchor else None
        lines.append(f"| {label} (median) | {_ms(result['checks'][key])} | {_ms(a) if anchor else ''} |")
    lines.append(
        f"| start-up to ready | {result['startup_s']:.1f} s | "
        f"{'' if not anchor else format(anchor['startup_s'], '.1f') + ' s'} |"
    )
    lines.append(
        f"| resident memory at rest | {result['rss_rest_mb']:.0f} MB | "
        f"{'' if not anchor else format(anchor['rss_rest_mb'], '.0f') + ' MB'} |"
    )
    trials = []
    for who, d in (("Hark", result), ("the plain loop", result.get("anchor"))):
        if not d:
            continue
        config = d["barge_in"]["config"]
        said = "" if config is None else f" (audio.barge_in: {str(config).lower()})"
        for t in d["barge_in"]["trials"]:
            stopped = f"silent {_ms(t['stop_ms'])} after the interruption began"
            what = stopped if t["stopped"] else f"not stopped: {t['why']}"
            heard = f'; it heard "{t["heard"]}"' if t["heard"] else ""
            trials.append(f"- Barge-in, {who}{said}, run {t['run']} ({t['file']}): {what}{heard}.")
        for m in d.get("self_interruptions", []):
            silent = " while the microphone carried digital silence" if m["mic_silent"] else ""
            trials.append(
                f"- {who} stopped its own reply {m['at_s']:.1f} s into the session{silent}: no input was playing."
            )
    return [*lines, "", *trials] if trials else lines
