#!/usr/bin/env python3
"""How long the template fast path takes to match one sentence (no model, nothing run).

    .venv/bin/python benchmarks/bench_intents.py [--repeats N] [--json]

The sentences are Home Assistant's test sentences and the Korean ones in
tests/data/ha_intent_sentences.yaml, plus sentences that match nothing (they go
to the model, and pay for trying every template).  Each sentence is matched
`--repeats` times after a warm-up; its time is the median of those ("typical") and
the fastest ("best", what the code costs when the CPU is not shared).  Printed:
the median, 90th percentile and maximum over the sentences, per group, and the
load average, since other processes on the machine inflate the typical times.  The matcher
is the real one, with every built-in skill and a task store on a temporary data
directory, as `hark listen` builds it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as `python benchmarks/bench_intents.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "ha_intent_sentences.yaml"
UNMATCHED = [
    "what's the capital of France",
    "tell me a joke",
    "how do I add a column to my spreadsheet",
    "what is the meaning of life",
    "summarize the news for me",
    "안녕하세요 오늘 날씨 어때요",
]


def sentences() -> dict[str, list[str]]:
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    groups = {section: [s for g in data[section] for s in g["sentences"]] for section in data}
    return {
        "english (Home Assistant tests)": groups["en"],
        "korean": groups["ko"] + groups["ko_extra"],
        "no match (goes to the model)": UNMATCHED,
    }


def measure(repeats: int) -> dict[str, dict[str, float]]:
    from skills.intents import IntentMatcher
    from skills.registry import SkillContext, SkillRegistry
    from skills.store import TaskStore
    from voice.config import Config

    with tempfile.TemporaryDirectory() as tmp:
        ctx = SkillContext(config=Config(), data_dir=Path(tmp))
        TaskStore.for_context(ctx).add("milk", "trader joes")  # a store with lists, as in daily use
        started = time.perf_counter()
        matcher = IntentMatcher(SkillRegistry.default(), ctx=ctx)
        build_s = time.perf_counter() - started
        results: dict[str, dict[str, float]] = {"matcher build (s)": {"seconds": round(build_s, 3)}}
        every: list[float] = []
        every_best: list[float] = []
        for label, texts in sentences().items():
            per_sentence = []
            best = []
            for text in texts:
                matcher.match(text)  # warm: hassil compiles templates on first use
                times = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    matcher.match(text)
                    times.append(time.perf_counter() - t0)
                per_sentence.append(statistics.median(times) * 1000)
                best.append(min(times) * 1000)
            every += per_sentence
            every_best += best
            results[label] = _summary(per_sentence)
            results[f"{label}, best"] = _summary(best)
        results["all sentences"] = _summary(every)
        results["all sentences, best"] = _summary(every_best)
        ctx.close()
    return results


def _summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {
        "sentences": len(ms),
        "median_ms": round(statistics.median(ordered), 2),
        "p90_ms": round(ordered[max(0, int(len(ordered) * 0.9) - 1)], 2),
        "max_ms": round(ordered[-1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="matches per sentence (default 7)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    results = measure(max(1, args.repeats))
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"matcher build: {results.pop('matcher build (s)')['seconds']:.2f} s; "
        f"load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"{'sentences':<40}{'n':>5}{'median ms':>11}{'p90 ms':>9}{'max ms':>9}")
    for label, r in results.items():
        print(f"{label:<40}{r['sentences']:>5}{r['median_ms']:>11.2f}{r['p90_ms']:>9.2f}{r['max_ms']:>9.2f}")


if __name__ == "__main__":
    main()
