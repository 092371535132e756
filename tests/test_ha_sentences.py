"""Home Assistant's public test sentences, acted on with the model down.

Each sentence goes through the real matcher and the real confirmation gate (answered "yes") with a
real SkillContext on a fresh data directory, starting from the state the data file describes.  A
sentence passes only if Hark acted on the right thing: the right skill, and the timer created with
the right duration and name, the right timer changed, the right task added, done or deleted on the
right list.  The rate must reach the issue's bound; failures are printed.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from skills.gate import ActionOutcome, ConfirmationGate
from skills.intents import IntentMatch, IntentMatcher
from skills.registry import SkillContext, SkillRegistry
from skills.store import TaskStore
from skills.timer_store import REMINDER, TIMER
from skills.timers import service_for
from voice.config import Config
from voice.events import EventBus

DATA = yaml.safe_load((Path(__file__).parent / "data" / "ha_intent_sentences.yaml").read_text(encoding="utf-8"))


def cases(*sections: str) -> list[tuple[str, dict[str, Any]]]:
    return [(s, group) for section in sections for group in DATA[section] for s in group["sentences"]]


@dataclass
class Result:
    text: str
    match: IntentMatch | None
    outcome: ActionOutcome | None
    ok: bool
    why: str


class Bench:
    """One registry and matcher; a fresh data directory and context for every sentence."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.registry = SkillRegistry.default()
        assert self.registry.load_errors == []
        self.matcher = IntentMatcher(self.registry, ctx=self._context("warm"))
        self.n = 0

    def _context(self, name: str) -> SkillContext:
        return SkillContext(config=Config(), data_dir=self.root / name)

    def run(self, text: str, group: dict[str, Any]) -> Result:
        self.n += 1
        ctx = self._context(f"case{self.n}")
        try:
            return self._run(ctx, text, group)
        finally:
            ctx.close()

    def _run(self, ctx: SkillContext, text: str, group: dict[str, Any]) -> Result:
        service = service_for(ctx)
        timers = []
        for spec in group.get("timers", []):
            t = service.add_timer(timedelta(seconds=spec["seconds"]), spec.get("name"))
            if spec.get("paused"):
                service.pause(t.id)
            timers.append((t.id, spec))
        store = TaskStore.for_context(ctx)
        tasks = [(store.add(spec["text"], spec["list"]).id, spec) for spec in group.get("tasks", [])]
        before = {t.id: t for t in service.active(TIMER)}

        self.matcher.ctx = ctx  # the task lists and commands of this context
        match = self.matcher.match(text)
        if match is None:
            return Result(text, None, None, False, "nothing matched")
        gate = ConfirmationGate(self.registry, ctx, EventBus(), lambda question: "yes", ctx.data_dir / "audit.jsonl")
        outcome = gate.execute(match.name, match.arguments, transcript=text, source="template")
        expect = group["expect"]
        if match.name != expect["skill"]:
            return Result(text, match, outcome, False, f"went to {match.name} {match.arguments}")
        if not outcome.ok:
            return Result(text, match, outcome, False, f"failed: {outcome.text}")
        why = check(expect, service, store, before, timers, tasks, outcome)
        return Result(text, match, outcome, why == "", why)


def check(
    expect: dict[str, Any], service, store: TaskStore, before: dict, timers: list, tasks: list, outcome: ActionOutcome
) -> str:
    """'' when the action hit the right thing, else what was wrong."""
    skill = expect["skill"]
    now = service.now()
    after = {t.id: t for t in service.active(TIMER)}
    targets = {tid for tid, spec in timers if spec.get("target")}
    if skill != "start_timer" and set(after) - set(before):
        return f"a timer was started: {[after[i].duration_s for i in set(after) - set(before)]}"
    if skill == "start_timer":
        new = [after[i] for i in set(after) - set(before)]
        if len(new) != 1:
            return f"{len(new)} timers started"
        if abs(new[0].duration_s - expect["seconds"]) > 0.5:
            return f"timer set for {new[0].duration_s} s, not {expect['seconds']} s"
        if (new[0].name or None) != expect.get("name"):
            return f"timer named {new[0].name!r}, not {expect.get('name')!r}"
    elif skill == "remind_me":
        reminders = service.active(REMINDER)
        if len(reminders) != 1 or reminders[0].text != expect["what"]:
            return f"reminders: {[r.text for r in reminders]}"
        if abs((reminders[0].due_at or 0) - time.time() - expect["seconds"]) > 5:
            return "reminder due at the wrong time"
    elif skill in ("cancel_timer", "cancel_all_timers"):
        if set(after) != set(before) - targets:
            return f"left {sorted(after)}, expected {sorted(set(before) - targets)}"
    elif skill in ("adjust_timer", "shorten_timer"):
        for tid in before:
            change = after[tid].seconds_left(now) - before[tid].seconds_left(now)
            wanted = expect["change"] if tid in targets else 0
            if abs(change - wanted) > 3:
                return f"timer {tid} changed by {change:.0f} s, expected {wanted} s"
    elif skill in ("pause_timer", "resume_timer"):
        for tid in before:
            flipped = after[tid].paused != before[tid].paused
            if flipped != (tid in targets):
                return f"timer {tid} {'changed' if flipped else 'did not change'}"
    elif skill == "time_left":
        data = outcome.data
        told = {data["id"]} if isinstance(data, dict) else set(data or [])
        if not told & targets:
            return f"told about {told}, not {targets}"
    elif skill == "add_task":
        wanted_list = expect["list"]
        found = [t for t in store.list_tasks(wanted_list) if t.text == expect["item"]]
        if not found:
            have = [(t.text, t.list) for t in store.list_tasks(None)]
            return f"no task {expect['item']!r} on {wanted_list!r}: {have}"
    elif skill in ("complete_task", "delete_task"):
        remaining = {t.id: t for t in store.list_tasks(None, include_done=True)}
        for tid, spec in tasks:
            if skill == "complete_task":
                done = tid in remaining and remaining[tid].done
                if done != bool(spec.get("target")):
                    return f"task {spec['text']!r} done={done}"
            else:
                gone = tid not in remaining
                if gone != bool(spec.get("target")):
                    return f"task {spec['text']!r} deleted={gone}"
    elif skill == "never_mind" and outcome.text:
        return f"said {outcome.text!r}"
    return ""


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Iterator[dict[str, list[Result]]]:
    """Every sentence of every section, acted on once.

    The ~400 small SQLite databases live in memory-backed /dev/shm when there is one: the same
    SQLite, without a disk sync per change (which made this take half a minute).
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm, prefix="hark-ha-sentences-") as root:
            bench = Bench(Path(root))
            yield {section: [bench.run(text, group) for text, group in cases(section)] for section in DATA}
        return
    bench = Bench(tmp_path_factory.mktemp("ha-sentences"))
    yield {section: [bench.run(text, group) for text, group in cases(section)] for section in DATA}


def rate(results: list[Result], label: str) -> float:
    failures = [r for r in results if not r.ok]
    value = 1 - len(failures) / len(results)
    print(f"\n{label}: {len(results) - len(failures)} of {len(results)} acted rightly ({value:.1%})")
    for r in failures:
        print(f"  FAIL {r.text!r}: {r.why}")
    return value


def test_home_assistant_english_sentences_act_rightly_with_the_model_down(results):
    assert len(results["en"]) >= 150
    assert rate(results["en"], "Home Assistant's English tests") >= 0.95


def test_korean_sentences_act_rightly(results):
    assert rate(results["ko"], "Home Assistant's Korean tests") >= 0.90
    everything = results["ko"] + results["ko_extra"]
    assert len(everything) >= 40
    assert rate(everything, "Korean, with the issue's and everyday phrasings") >= 0.90
    assert all(r.match.language == "ko" for r in everything if r.match is not None)


def test_no_sentence_that_names_a_duration_sets_a_different_one(results):
    wrong = [
        (r.text, r.why)
        for section in results.values()
        for r in section
        if r.match is not None and r.match.name == "start_timer" and "timer set for" in r.why
    ]
    assert wrong == []


def test_the_scoring_catches_a_wrong_action(tmp_path):
    """The checker itself: a sentence acted on the wrong timer or list is a failure, not a pass."""
    bench = Bench(tmp_path)
    wrong_timer = {
        "timers": [{"seconds": 300, "target": True}, {"seconds": 1200, "name": "pizza"}],
        "expect": {"skill": "cancel_timer"},
    }
    assert not bench.run("cancel the pizza timer", wrong_timer).ok
    wrong_list = {"expect": {"skill": "add_task", "item": "apples", "list": "chores"}}
    assert not bench.run("add apples to my shopping list", wrong_list).ok
    wrong_length = {"expect": {"skill": "start_timer", "seconds": 600}}
    assert "timer set for" in bench.run("set a timer for 5 minutes", wrong_length).why


def test_matching_stays_well_under_10_ms(tmp_path):
    """Median over Home Assistant's English sentences of each sentence's best of 3 (the CPU is shared)."""
    import statistics

    matcher = Bench(tmp_path).matcher
    times = []
    for text, _ in cases("en", "ko", "ko_extra"):
        matcher.match(text)
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            matcher.match(text)
            best = min(best, time.perf_counter() - t0)
        times.append(best)
    median_ms = statistics.median(times) * 1000
    print(f"\nmedian match time {median_ms:.2f} ms over {len(times)} sentences")
    assert median_ms < 5.0
