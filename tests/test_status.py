"""Status reports: each part from fixed data, then the real thing on this machine."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import skills.status as status
from skills.gate import ConfirmationGate
from skills.registry import SkillContext, SkillRegistry
from skills.status import (
    Battery,
    CheckResult,
    DiskUse,
    GitStatus,
    SystemSnapshot,
    check_sentence,
    coarse_duration,
    collect_check,
    collect_git,
    git_sentence,
    parse_git_status,
    system_sentence,
    tasks_sentence,
    time_sentence,
    timers_sentence,
)
from voice.config import Config, SkillsConfig
from voice.events import EventBus

# ---- pure parts ------------------------------------------------------------------------------


def test_time_sentence():
    assert time_sentence(datetime(2026, 3, 3, 14, 5)) == "It's 2:05 PM on Tuesday, March 3."
    # One clock formatter for every skill (skills/phrasing.py): midnight and noon by name, as people say them.
    assert time_sentence(datetime(2026, 3, 3, 0, 0)) == "It's midnight on Tuesday, March 3."
    assert time_sentence(datetime(2026, 3, 3, 12, 0)) == "It's noon on Tuesday, March 3."


def test_system_sentence_short_and_detailed():
    s = SystemSnapshot(
        cpu_percent=12.4,
        memory_percent=40.2,
        disks=(DiskUse("Disk", 82.0),),
        uptime_s=3 * 86400 + 7200,
        battery=Battery(75, True),
    )
    assert system_sentence(s) == "Disk is 82 percent full; memory 40 percent used."
    assert system_sentence(s, detailed=True) == (
        "Disk is 82 percent full; memory 40 percent used; CPU load 12 percent; battery 75 percent, charging; "
        "up for 3 days."
    )


def test_system_sentence_warns_when_it_matters():
    s = SystemSnapshot(
        cpu_percent=95,
        memory_percent=93,
        disks=(DiskUse("Disk", 97), DiskUse("Home", 50)),
        uptime_s=None,
        battery=Battery(12, False),
    )
    assert system_sentence(s) == (
        "Disk is 97 percent full, which is nearly full; home 50 percent; memory 93 percent used, which is high; "
        "CPU load 95 percent; battery 12 percent, on battery and low."
    )


def test_coarse_duration():
    assert coarse_duration(30) == "less than a minute"
    assert coarse_duration(61) == "1 minute"
    assert coarse_duration(5 * 3600 + 59) == "5 hours"
    assert coarse_duration(86400 * 2.9) == "2 days"


def test_tasks_sentence():
    assert tasks_sentence([], []) == "Nothing is due today."
    assert tasks_sentence(["a", "b", "c"], ["call the bank"]) == "3 tasks due later today; one overdue: call the bank."
    assert tasks_sentence(["pay rent"], []) == "One task due later today: pay rent."
    assert tasks_sentence([], ["x", "y", "z"]) == "3 tasks overdue."


def test_timers_sentence():
    assert timers_sentence([]) == ""
    assert timers_sentence(["pizza timer, 4 minutes left"]) == "One timer running: pizza timer, 4 minutes left."
    assert timers_sentence(["a timer, 1 minute left", "b timer, paused with 2 minutes left"]) == (
        "2 timers running: a timer, 1 minute left; b timer, paused with 2 minutes left."
    )


def test_parse_git_status_and_sentence():
    porcelain = (
        "# branch.oid 0123456789abcdef\n# branch.head main\n# branch.upstream origin/main\n# branch.ab +2 -1\n"
        "1 .M N... 100644 100644 100644 aaa bbb file.py\n? new.txt\n? other.txt\n"
    )
    g = parse_git_status("hark", porcelain)
    assert (g.branch, g.changes, g.ahead, g.behind, g.has_upstream) == ("main", 3, 2, 1, True)
    assert git_sentence(g) == "hark is on main with 3 uncommitted changes, 2 commits ahead, and one commit behind."
    clean = parse_git_status("notes", "# branch.oid (initial)\n# branch.head (detached)\n")
    assert git_sentence(clean) == "notes is on a detached HEAD and clean."
    assert git_sentence(GitStatus("x", problem="x is not a git repository.")) == "x is not a git repository."


def test_check_sentence():
    assert (
        check_sentence(CheckResult("backup", "last snapshot 2 hours ago"), 60) == "backup: last snapshot 2 hours ago."
    )
    assert check_sentence(CheckResult("backup", "", 0), 60) == "backup printed nothing."
    assert check_sentence(CheckResult("vpn", "not connected", 3), 60) == "vpn failed with exit code 3: not connected."
    assert (
        check_sentence(CheckResult("slow", exit_code=None, timed_out=True), 2.5)
        == "slow did not answer within 2.5 seconds."
    )


# ---- real collectors -------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t",
            "HOME": str(repo.parent),
            "PATH": "/usr/bin:/bin",
        },
    )


def make_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("one\n")
    _git(repo, "add", "a.txt")
    _git(repo, "commit", "-q", "-m", "first")
    (repo / "a.txt").write_text("two\n")  # one modified file
    (repo / "b.txt").write_text("new\n")  # one untracked file
    return repo


def test_collect_git_on_a_real_repository(tmp_path):
    g = collect_git(make_repo(tmp_path), timeout_s=10)
    assert g.problem is None
    assert git_sentence(g) == "project is on main with 2 uncommitted changes."


def test_git_never_runs_the_repositorys_fsmonitor_or_hooks(tmp_path):
    repo = make_repo(tmp_path)
    marker = tmp_path / "ran"
    script = tmp_path / "evil.sh"
    script.write_text(f'#!/bin/sh\necho "$0 $*" >> {marker}\n')
    script.chmod(0o755)
    _git(repo, "config", "core.fsmonitor", str(script))
    hooks = repo / ".git" / "hooks"
    for hook in ("post-index-change", "reference-transaction", "post-checkout"):
        (hooks / hook).write_text(script.read_text())
        (hooks / hook).chmod(0o755)
    (repo / "a.txt").touch()  # racy stat info: a plain `git status` refreshes (and writes) the index
    # The threat is real on this git: a plain status runs the repository's program.
    subprocess.run(["git", "-C", str(repo), "status", "--porcelain=v2"], capture_output=True, check=True)
    assert marker.exists() and str(script) in marker.read_text()
    marker.unlink()
    g = collect_git(repo, timeout_s=10)
    assert git_sentence(g) == "project is on main with 2 uncommitted changes."
    assert not marker.exists()


def test_collect_git_never_crashes_on_bad_paths(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert git_sentence(collect_git(plain, 10)) == "plain is not a git repository."
    assert git_sentence(collect_git(tmp_path / "missing", 10)).startswith("missing does not exist")
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert "not a git repository" in git_sentence(collect_git(f, 10))


def test_collect_check_runs_real_commands(tmp_path):
    assert collect_check("greeting", "echo hello there", 10).summary == "hello there"
    failed = collect_check(
        "fails", f"{sys.executable} -c \"import sys; sys.stderr.write('no route\\n'); sys.exit(4)\"", 10
    )
    assert (failed.exit_code, failed.summary) == (4, "no route")
    slow = collect_check("slow", "sleep 10", 0.3)
    assert slow.timed_out and check_sentence(slow, 0.3) == "slow did not answer within 0.3 seconds."
    missing = collect_check("ghost", "no-such-program-hark-test", 10)
    assert missing.problem and "was not found" in missing.problem


# ---- end to end ------------------------------------------------------------------------------


def _gate(ctx: SkillContext) -> tuple[ConfirmationGate, list[str]]:
    registry = SkillRegistry()
    registry.add_module(status)
    asked: list[str] = []
    gate = ConfirmationGate(registry, ctx, EventBus(), lambda q: asked.append(q) or "no", ctx.data_dir / "audit.jsonl")
    return gate, asked


def test_status_report_end_to_end_on_this_machine(tmp_path):
    from skills.store import TaskStore
    from skills.timers import service_for

    repo = make_repo(tmp_path)
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    config = Config(
        skills=SkillsConfig(
            git_repos=[repo, plain],
            status_commands={"greeting": "echo all systems go", "ghost": "no-such-program-hark-test"},
            command_timeout_s=10,
        )
    )
    now = datetime.now().replace(microsecond=0)
    ctx = SkillContext(config=config, data_dir=tmp_path / "data")
    try:
        store = TaskStore.for_context(ctx)
        store.add("call the bank", due=now - timedelta(hours=30))
        later = now.replace(hour=23, minute=59, second=0)
        if later > now:  # only when the test does not run in the last minute of the day
            store.add("water the plants", due=later)
        service_for(ctx).add_timer(timedelta(minutes=4, seconds=30), "pizza")

        gate, asked = _gate(ctx)
        out = gate.execute("status_report", {})
        assert out.ok and asked == []  # read-only: never asks
        text = out.text
        assert text.startswith("It's ")
        assert re.search(r"Disk is \d+ percent full", text) and re.search(r"memory \d+ percent used", text)
        assert "overdue: call the bank" in text
        if later > now:
            assert "One task due later today: water the plants" in text
        assert re.search(r"One timer running: pizza timer, 4 minutes (30|29) seconds left\.", text)
        assert "project is on main with 2 uncommitted changes." in text
        assert "not-a-repo is not a git repository." in text
        assert "greeting: all systems go." in text
        assert "the program no-such-program-hark-test was not found" in text
        assert len(out.data["parts"]) >= 6
    finally:
        ctx.close()


def test_system_status_reports_the_real_machine(tmp_path):
    ctx = SkillContext(config=Config(), data_dir=tmp_path)
    gate, _ = _gate(ctx)
    out = gate.execute("system_status", {})
    assert out.ok
    assert re.fullmatch(
        r"Disk is \d+ percent full.*; memory \d+ percent used.*; CPU load \d+ percent.*up for .+\.", out.text
    )
    assert 0 < out.data["memory_percent"] < 100


def test_git_status_skill_and_no_repos(tmp_path):
    repo = make_repo(tmp_path)
    ctx = SkillContext(config=Config(skills=SkillsConfig(git_repos=[repo])), data_dir=tmp_path)
    gate, _ = _gate(ctx)
    assert gate.execute("git_status", {}).text == "project is on main with 2 uncommitted changes."
    ctx2 = SkillContext(config=Config(), data_dir=tmp_path)
    gate2, _ = _gate(ctx2)
    assert "skills.git_repos" in gate2.execute("git_status", {}).text


def test_a_broken_part_does_not_sink_the_report(tmp_path):
    # The task database path is a directory, so the store cannot open; the rest still speaks.
    data = tmp_path / "data"
    (data / "hark.db").mkdir(parents=True)
    ctx = SkillContext(config=Config(), data_dir=data)
    try:
        gate, _ = _gate(ctx)
        out = gate.execute("status_report", {})
        assert out.ok
        assert "I couldn't check your tasks" in out.text
        assert re.search(r"Disk is \d+ percent full", out.text)
    finally:
        ctx.close()


@pytest.mark.parametrize(
    "utterance, skill",
    [
        ("status report", "status_report"),
        ("give me a status update", "status_report"),
        ("how's my computer doing", "status_report"),
        ("how's my system", "status_report"),
        ("system status", "system_status"),
        ("git status", "git_status"),
    ],
)
def test_sentences_match(utterance, skill):
    from skills.intents import IntentMatcher

    registry = SkillRegistry()
    registry.add_module(status)
    matcher = IntentMatcher(registry)
    assert matcher.problems == []
    found = matcher.match(utterance)
    assert found is not None and found.name == skill
