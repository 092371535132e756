"""`hark bench`: Hark's reply latency, idle cost and barge-in, measured from the audio on real sound devices.

- `runner`: `run(Options)` measures and returns the result object (`hark bench --json` prints it);
- `session`, `turns`: one program's session on the private sound server, and each turn's times read from it;
- `plain_loop`: the anchor, a loop built straight from the design card, measured the same way;
- `ollama_server`, `pulse`: the scripted Ollama-protocol server and the private PulseAudio daemon
  (the tests use them too);
- `levels`, `stats`, `process`, `machine`: reading recordings, medians and percentiles, child processes, the
  machine;
- `report`: the table and the markdown of docs/benchmarks.md's engine block.

Nothing here is imported by `hark listen`; `main` is what `hark bench` calls.
"""

from __future__ import annotations

import json
from pathlib import Path


def main(
    files: list[Path],
    *,
    runs: int = 1,
    ttft_ms: float = 0.0,
    anchor: bool = True,
    speech_dir: Path | None = None,
    idle_s: float = 10.0,
    barge_in: bool = True,
    config: Path | None = None,
    keep: Path | None = None,
    json_out: bool = False,
) -> int:
    """Run the benchmark and print the result (one JSON object with `json_out`, else a table); the exit code."""
    from voice.bench.progress import say
    from voice.bench.runner import BenchError, Options, run
    from voice.bench.session import SessionError

    options = Options(
        files=list(files),
        speech_dir=speech_dir,
        runs=runs,
        ttft_ms=ttft_ms,
        anchor=anchor,
        barge_in=barge_in,
        idle_s=idle_s,
        config=config,
        keep=keep,
    )
    try:
        result = run(options)
    except (BenchError, SessionError) as e:
        say(f"hark bench failed: {e}")
        return 1
    if json_out:
        print(json.dumps(result, ensure_ascii=False, default=str), flush=True)
    else:
        from voice.bench.report import print_table

        print_table(result)
    return 0
