"""The report of a benchmark run: what was measured, with no conclusions.

It gives the date, the machine, how busy other programs kept it, each section's figures beside the earlier
FACTS.md figure (the anchor), and the measured detail behind them (per file, per turn). Conclusions are
written by a person in docs/benchmarks.md, around the generated blocks: `write` replaces only the text between
`<!-- bench:NAME -->` and `<!-- /bench:NAME -->` there, and writes a standalone document to any other path.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.figures import Figure, Report
from benchmarks.measure_load import MODELS

SECTIONS = ("load", "stt", "tts", "vad", "loop", "engine")
SECTION_TITLES = {
    "load": "1. Model load time",
    "stt": "2. Transcription (faster-whisper, beam 1, int8 on CPU)",
    "tts": "3. Speech synthesis (Piper)",
    "vad": "4. Voice activity detection",
    "loop": "5. The live loop through real (PulseAudio null-sink) devices",
    "engine": "6. `hark bench`: Hark beside the plain loop, from the audio",
}
# Sections whose block is their own markdown (the figures are in it already), not the figure table.
OWN_TABLE = frozenset({"engine"})
BLOCKS = ("run", "machine", *SECTIONS)


def print_table(rep: Report) -> None:
    """All figures as one table on the terminal, failed sections in red."""
    from rich.console import Console
    from rich.table import Table

    runs = f"{rep.runs} run{'s' if rep.runs != 1 else ''}{', quick' if rep.quick else ''}"
    table = Table(title=f"Hark benchmarks ({runs})", show_lines=False)
    for col in ("figure", "median", "min", "max", "n", "FACTS.md"):
        table.add_column(col, justify="left" if col in ("figure", "FACTS.md") else "right")
    for section in SECTIONS:
        if section in rep.errors:
            table.add_row(f"[bold]{SECTION_TITLES[section]}[/]", "[red]FAILED[/]", "", "", "", "")
            continue
        figs = rep.figures.get(section)
        if not figs:
            continue
        table.add_row(f"[bold]{SECTION_TITLES[section]}[/]", "", "", "", "", "")
        for f in figs.values():
            table.add_row("  " + f.label, f.fmt(f.main), f.fmt(f.low), f.fmt(f.high), str(len(f.values)), f.facts)
    Console().print(table)
    for section, message in rep.errors.items():
        Console(stderr=True).print(f"[red]{section} failed:[/] {message}", highlight=False)


STANDALONE_TITLE = "# Hark benchmarks (measured)"


class NoMarkers(Exception):
    """The target holds text of its own but not every block's markers: writing would destroy that text."""


def write(rep: Report, machine: dict[str, str], path: Path) -> list[str]:
    """Write the report to `path`; returns the names of the blocks written.

    A file with every block's markers gets those blocks replaced and keeps all else; a new file, or an earlier
    standalone report, gets a standalone report. Any other file is left alone (`NoMarkers`).
    """
    blocks = render(rep, machine)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if all(_marker(name) in text for name in BLOCKS):
        for name, lines in blocks.items():
            text = splice(text, name, lines)
    elif not text.strip() or text.startswith(STANDALONE_TITLE):
        text = standalone(blocks)
    else:
        missing = [_marker(name) for name in BLOCKS if _marker(name) not in text]
        raise NoMarkers(f"{path} lacks {', '.join(missing)}: not overwriting its hand-written text")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return list(blocks)


def _marker(name: str) -> str:
    return f"<!-- bench:{name} -->"


def splice(text: str, name: str, lines: list[str]) -> str:
    """Replace what stands between a block's two markers in `text`."""
    pattern = re.compile(re.escape(_marker(name)) + r"\n.*?" + re.escape(f"<!-- /bench:{name} -->"), re.S)
    body = "\n".join([_marker(name), *lines, f"<!-- /bench:{name} -->"])
    return pattern.sub(lambda _: body, text, count=1)


def standalone(blocks: dict[str, list[str]]) -> str:
    """A document of the blocks alone (a partial or quick run, or a path without markers)."""
    out = [
        "# Hark benchmarks (measured)",
        "",
        "Figures only; docs/benchmarks.md says how each was measured and what to make of it.",
        "",
    ]
    for name, lines in blocks.items():
        if name in SECTION_TITLES:
            out += [f"## {SECTION_TITLES[name]}", ""]
        elif name == "machine":
            out += ["## Machine", ""]
        out += [*lines, ""]
    return "\n".join(out)


def render(rep: Report, machine: dict[str, str]) -> dict[str, list[str]]:
    """Each block's lines: the run, the machine and every section that was measured or failed."""
    blocks = {"run": _run(rep), "machine": _machine(rep, machine)}
    for section in SECTIONS:
        figs = rep.figures.get(section)
        if section not in rep.errors and not figs:
            continue  # not measured this time: a partial run leaves the document's block as it was
        lines: list[str] = []
        if section in rep.errors:
            lines += ["**This section failed:**", "", "```", rep.errors[section].strip()[-3000:], "```", ""]
        if figs and section not in OWN_TABLE:
            lines += figure_table(list(figs.values()))
        if section not in rep.errors or figs:
            lines += DETAIL[section](rep)
        blocks[section] = _trim(lines)
    return blocks


def figure_table(figs: list[Figure]) -> list[str]:
    """Figures as a markdown table: median, min, max, number of runs, the FACTS.md anchor."""
    lines = ["| figure | median | min | max | n | FACTS.md |", "|---|---:|---:|---:|---:|---|"]
    for f in figs:
        lines.append(
            f"| {f.label} | {f.fmt(f.main)} | {f.fmt(f.low)} | {f.fmt(f.high)} | {len(f.values)} | {f.facts or ''} |"
        )
    return lines


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _run(rep: Report) -> list[str]:
    when = rep.started.strftime("%Y-%m-%d %H:%M %Z")
    runs = f"{rep.runs} run{'s' if rep.runs != 1 else ''} per figure"
    quick = " (**--quick smoke run: too few runs to compare with**)" if rep.quick else ""
    return [
        f"Measured on {when} by `benchmarks/run.py` (`make bench`): {runs}{quick}, "
        f"{sum(rep.seconds.values()) / 60:.1f} minutes in all."
    ]


def _machine(rep: Report, machine: dict[str, str]) -> list[str]:
    lines = ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in machine.items())]
    busy = ", ".join(f"{k} {v:.0f} %" for k, v in rep.background.items())
    lines.append(
        f"| Other programs | {busy} of the CPU (measured with psutil: busy time of the whole machine minus "
        "this benchmark's own) |"
    )
    return lines


def _load(rep: Report) -> list[str]:
    return []


def _stt(rep: Report) -> list[str]:
    info = rep.extra.get("stt")
    if not info:
        return []
    out = [
        "",
        "| file | audio | tiny.en s (min–max) | tiny.en errors/words | base s (min–max) | base errors/words |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, d in info["files"].items():
        cells = [name, f"{d['seconds']:.1f} s"]
        for m in MODELS:
            x = d.get(m)
            cells += (
                [f"{x['median']:.2f} ({x['min']:.2f}–{x['max']:.2f})", f"{x['errors']}/{x['words']}"]
                if x
                else ["–", "–"]
            )
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    for m, w in info["wer_detail"].items():
        out.append(
            f"- {m}: substitutions {w['substitutions']}, deletions {w['deletions']}, "
            f"insertions {w['insertions']}, over {w['words']} reference words."
        )
    n = len(info["noise_files"])
    for m, invented in info["noise"].items():
        what = (
            ("wrote words on " + ", ".join(f'{k} ("{v}")' for k, v in invented.items()))
            if invented
            else "wrote no words on any of them"
        )
        out.append(f"- {m} on the {n} non-speech clips (noise, silence, music): {what}.")
    wrong = [(name, m, d[m]) for name, d in info["files"].items() for m in MODELS if d.get(m) and d[m]["errors"]]
    if wrong:
        out += ["", "Where the errors are (normalized reference → normalized transcript, two words either side):", ""]
        out += [f"- {m}, {name}: " + "; ".join(x["diffs"]) for name, m, x in wrong]
    return out


def _tts(rep: Report) -> list[str]:
    info = rep.extra.get("tts")
    if not info:
        return []
    return [
        "",
        f'Replies: one sentence "{info["texts"]["one"]}" ({info["chunks"].get("one")} chunk), three '
        f'sentences "{info["texts"]["three"]}" ({info["chunks"].get("three")} chunks); audio at '
        f"{info['rate']} Hz.",
    ]


def _vad(rep: Report) -> list[str]:
    info = rep.extra.get("vad")
    if not info:
        return []
    return [
        "",
        f"Frames: {info['frames']} of 30 ms, every shared recording; aggressiveness {info['aggressiveness']}, "
        f"hangover {info['hangover_ms']} ms.",
    ]


def _loop(rep: Report) -> list[str]:
    info = rep.extra.get("loop")
    if not info:
        return []
    out = [
        "",
        f"{info['good']} of {info['turns']} turns completed and count in the figures above; `hark listen` "
        f"exited with code {info['exit_code']} on Ctrl-C. The model `{info['model']}` answered "
        f'"{info["reply"]}" at once on every turn.',
    ]
    out += [
        "",
        "| turn | said | transcript | speech end → decided | → transcript | → audio_out_start | → first reply sample |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    out += [_turn(r) for r in info["rows"]]
    out += _breakdown(rep)
    cross, delay = info["paplay_minus_recording_ms"], info["recorder_launch_delay_ms"]
    out += ["", "| clock check | value |", "|---|---:|"]
    if cross:
        out.append(
            f"| speech end from paplay's return minus the file's trailing silence, against the one read in "
            f"the recording (median, min to max) | {statistics.median(cross):+.0f} ms "
            f"({min(cross):+.0f} to {max(cross):+.0f}) |"
        )
    out += [
        f"| first sample of the {name} recording after its parec was launched | {delay.get(key, 0):.0f} ms |"
        for key, name in (("in", "input"), ("out", "output"))
    ]
    split = info.get("idle_threads")
    if split:
        top = ", ".join(f"{pct:.1f} % ({name})" for pct, name in split["top"])
        out += [
            "",
            f"Idle CPU per thread: {split['busy']} of {split['threads']} threads used CPU; the busiest {top}; "
            f"the ALSA pulse plugin's threads (`threaded-ml`) {split['pulse_plugin']:.1f} % in all.",
        ]
    return out


def _turn(r: dict[str, Any]) -> str:
    def since_end(key: str) -> str:
        if r.get("speech_end") is None or r.get(key) is None:
            return "–"
        return f"{(r[key] - r['speech_end']) * 1000:.0f} ms"

    text = r.get("text")
    shown = "(none)" if text is None else (f'"{text}"' if text else "(empty)")
    if r.get("intent"):
        shown += f" → intent {r['intent']}"
    if r.get("errors"):
        shown += " (error: " + "; ".join(str(e) for e in r["errors"])[:120] + ")"
    return (
        f"| {r['turn']} | {r['said']} | {shown} | {since_end('ev_speech_end')} | {since_end('ev_transcript')} "
        f"| {since_end('ev_audio_out_start')} | {since_end('out_first')} |"
    )


def _breakdown(rep: Report) -> list[str]:
    """Speech end to first reply audio, stage by stage (medians of each interval, so the sum is approximate)."""
    total = rep.value("loop", "to_first_audio")
    parts = [rep.value("loop", k) for k in ("end_decided", "to_transcript", "reply_path", "out_buffer")]
    if total is None or any(p is None for p in parts):
        return []
    decided, transcript, reply, buf = (p or 0.0 for p in parts)
    stages = [
        ("deciding the user has finished (speech end → speech_end event)", decided),
        ("transcribing (speech_end event → transcript, from the medians above)", transcript - decided),
        ("answering and the first Piper chunk (transcript → audio_out_start)", reply),
        ("output buffering (audio_out_start → first sample on the sink)", buf),
    ]
    lines = ["", "| stage (medians) | ms |", "|---|---:|", *(f"| {name} | {v:.0f} |" for name, v in stages)]
    return [
        *lines,
        f"| sum of the stages | {sum(v for _, v in stages):.0f} |",
        f"| measured end to end (speech end → first reply sample) | {total:.0f} |",
    ]


def _engine(rep: Report) -> list[str]:
    from voice.bench.report import markdown

    result = rep.extra.get("engine")
    return markdown(result) if result else []


DETAIL: dict[str, Callable[[Report], list[str]]] = {
    "load": _load,
    "stt": _stt,
    "tts": _tts,
    "vad": _vad,
    "loop": _loop,
    "engine": _engine,
}
