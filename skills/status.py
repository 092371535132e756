"""Spoken status reports: the time, the machine, tasks, timers, repositories, custom checks.

Every part is a pure function from plain data to one sentence (tested with fixed
inputs) plus a small collector that reads the real world.  A part that fails
says so in a few words; it never takes the rest of the report down.  Git and
the configured status commands run concurrently, each with the configured
timeout and a bounded read of their output, and nothing here changes anything
(so nothing is consequential).

Reading a repository must not run its code: a repository's own config can name
programs git runs during `status` (`core.fsmonitor`, hooks such as
post-index-change), so every git call turns those off on its command line
(`GIT_SAFE_ARGS`) and takes no optional locks (so it never writes the index).
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from skills.commands import CommandNotRunnable, run_command_line, split_command_line, summarize_output
from skills.phrasing import capitalize, plural, spoken_clock, spoken_list
from skills.registry import SkillContext, SkillResult, skill

log = logging.getLogger("hark.status")

# Given to every git call, before the subcommand: no fsmonitor program, no hooks, no index writes.
GIT_SAFE_ARGS = ("--no-optional-locks", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null")
# `git status --porcelain` of a very dirty tree can be long; the branch lines come first.
GIT_MAX_OUTPUT = 1024 * 1024

# Percent figures above these get a word of warning in the report.
DISK_WARN = 90
MEMORY_WARN = 90
BATTERY_WARN = 20


# ---- time -------------------------------------------------------------------------------------


def time_sentence(now: datetime) -> str:
    """The time and day as one sentence: 'It's 2:05 PM on Tuesday, March 4.'."""
    return f"It's {spoken_clock(now)} on {now.strftime('%A, %B')} {now.day}."


# ---- the machine ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiskUse:
    """How full one filesystem is."""

    label: str  # "Disk" for /, "Home" for the home directory when it is a separate filesystem
    percent: float


@dataclass(frozen=True)
class Battery:
    """The battery's charge, and whether it is plugged in (None: unknown)."""

    percent: float
    plugged_in: bool | None


@dataclass(frozen=True)
class SystemSnapshot:
    """The machine at one moment: load, memory, disks, battery, uptime."""

    cpu_percent: float  # 1-minute load average as a share of all cores
    memory_percent: float
    disks: tuple[DiskUse, ...]
    uptime_s: float | None
    battery: Battery | None = None


def collect_system() -> SystemSnapshot:
    """Read the machine's state now (psutil)."""
    import psutil  # heavy-ish: only when a report is asked for

    cores = psutil.cpu_count() or 1
    try:
        cpu = psutil.getloadavg()[0] / cores * 100
    except (OSError, AttributeError):
        cpu = psutil.cpu_percent(interval=0.2)
    disks = [DiskUse("Disk", psutil.disk_usage("/").percent)]
    home = Path.home()
    try:
        if home.exists() and os.stat(home).st_dev != os.stat("/").st_dev:
            disks.append(DiskUse("Home", psutil.disk_usage(str(home)).percent))
    except OSError:
        pass
    battery = None
    try:
        b = psutil.sensors_battery()
        if b is not None:
            battery = Battery(b.percent, b.power_plugged)
    except (AttributeError, OSError, RuntimeError):
        pass
    try:
        uptime: float | None = max(0.0, time.time() - psutil.boot_time())
    except (OSError, RuntimeError):
        uptime = None
    return SystemSnapshot(
        cpu_percent=cpu,
        memory_percent=psutil.virtual_memory().percent,
        disks=tuple(disks),
        uptime_s=uptime,
        battery=battery,
    )


def coarse_duration(seconds: float) -> str:
    """Uptime as people say it: '3 days', '5 hours', '12 minutes'."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}" + ("" if n == 1 else "s")
    return "less than a minute"


def system_sentence(s: SystemSnapshot, detailed: bool = False) -> str:
    """'Disk is 82 percent full; memory 40 percent used.' (+ CPU, battery, uptime when detailed or worth saying)."""
    parts = []
    for i, d in enumerate(s.disks):
        full = (
            f"{d.label} is {round(d.percent)} percent full"
            if i == 0
            else f"{d.label.lower()} {round(d.percent)} percent"
        )
        parts.append(full + (", which is nearly full" if d.percent >= DISK_WARN else ""))
    parts.append(
        f"memory {round(s.memory_percent)} percent used"
        + (", which is high" if s.memory_percent >= MEMORY_WARN else "")
    )
    if detailed or s.cpu_percent >= 80:
        parts.append(f"CPU load {round(s.cpu_percent)} percent")
    if s.battery is not None and (detailed or s.battery.percent <= BATTERY_WARN or s.battery.plugged_in is False):
        state = {True: ", charging", False: ", on battery", None: ""}[s.battery.plugged_in]
        low = " and low" if s.battery.percent <= BATTERY_WARN and s.battery.plugged_in is not True else ""
        parts.append(f"battery {round(s.battery.percent)} percent{state}{low}")
    if detailed and s.uptime_s is not None:
        parts.append(f"up for {coarse_duration(s.uptime_s)}")
    sentence = "; ".join(parts)
    return capitalize(sentence) + "."


# ---- tasks ------------------------------------------------------------------------------------


def tasks_sentence(due_later_today: Sequence[str], overdue: Sequence[str]) -> str:
    """'3 more tasks due today; one overdue: call the bank.' Short lists are read out, long ones counted."""
    if not due_later_today and not overdue:
        return "Nothing is due today."
    parts = []
    if due_later_today:
        named = f": {spoken_list(list(due_later_today))}" if len(due_later_today) <= 2 else ""
        parts.append(f"{plural(len(due_later_today), 'task', one='one')} due later today{named}")
    if overdue:
        named = f": {spoken_list(list(overdue))}" if len(overdue) <= 2 else ""
        parts.append(
            f"{'one' if len(overdue) == 1 else len(overdue)} overdue{named}"
            if due_later_today
            else f"{plural(len(overdue), 'task', one='one')} overdue{named}"
        )
    sentence = "; ".join(parts)
    return capitalize(sentence) + "."


def collect_tasks(ctx: SkillContext, now: datetime) -> tuple[list[str], list[str]]:
    """(tasks due later today, overdue tasks): their words, for the report."""
    from skills.store import TaskStore

    store = TaskStore.for_context(ctx)
    end_of_day = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    later = [t.text for t in store.due_between(now, end_of_day) if not t.done]
    overdue = [t.text for t in store.overdue(now) if not t.done]
    return later, overdue


# ---- timers -----------------------------------------------------------------------------------


def timers_sentence(timers: Sequence[str]) -> str:
    """The timers as one sentence: 'One timer running: pizza timer, 4 minutes left.'.

    Each of `timers` reads like 'pizza timer, 4 minutes left'.
    """
    if not timers:
        return ""
    return f"{plural(len(timers), 'timer', one='One')} running: " + "; ".join(timers) + "."


def collect_timers(ctx: SkillContext) -> list[str]:
    """Each running timer described with its time left, soonest first."""
    from skills.timer_store import TIMER, describe_left
    from skills.timers import service_for

    service = service_for(ctx)
    now = service.now()
    return [describe_left(t, now) for t in service.active(TIMER)]


# ---- git --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GitStatus:
    """One git repository's state, as the report says it."""

    name: str  # how the repository is spoken: its folder name
    problem: str | None = None  # set when there is no status to report
    branch: str | None = None  # None: detached HEAD
    changes: int = 0  # uncommitted: staged, unstaged and untracked files
    ahead: int = 0
    behind: int = 0
    has_upstream: bool = False


def parse_git_status(name: str, porcelain: str) -> GitStatus:
    """Read `git status --porcelain=v2 --branch` output."""
    branch: str | None = None
    ahead = behind = changes = 0
    upstream = False
    for line in porcelain.splitlines():
        if line.startswith("# branch.head "):
            head = line.split(" ", 2)[2]
            branch = None if head == "(detached)" else head
        elif line.startswith("# branch.upstream "):
            upstream = True
        elif line.startswith("# branch.ab "):
            _, _, a, b = line.split(" ")
            ahead, behind = abs(int(a)), abs(int(b))
        elif line and not line.startswith("#"):
            changes += 1
    return GitStatus(name, branch=branch, changes=changes, ahead=ahead, behind=behind, has_upstream=upstream)


def git_sentence(g: GitStatus) -> str:
    """A repository as one sentence: 'hark is on main with 3 uncommitted changes, 2 commits ahead.'."""
    if g.problem:
        return g.problem
    where = f"on {g.branch}" if g.branch else "on a detached HEAD"
    bits = []
    if g.changes:
        bits.append("one uncommitted change" if g.changes == 1 else f"{g.changes} uncommitted changes")
    if g.ahead:
        bits.append("one commit ahead" if g.ahead == 1 else f"{g.ahead} commits ahead")
    if g.behind:
        bits.append("one commit behind" if g.behind == 1 else f"{g.behind} commits behind")
    if not bits:
        return f"{g.name} is {where} and clean."
    return f"{g.name} is {where} with {spoken_list(bits)}."


def collect_git(path: Path, timeout_s: float) -> GitStatus:
    """Status of one repository; any failure becomes a `problem` sentence, never an exception."""
    path = Path(path).expanduser()
    name = path.name or str(path)
    if not path.exists():
        return GitStatus(name, problem=f"{name} does not exist at {path}.")
    if not path.is_dir():
        return GitStatus(name, problem=f"{name} is not a folder, so it is not a git repository.")
    try:
        run = run_command_line(
            ["git", *GIT_SAFE_ARGS, "-C", str(path), "status", "--porcelain=v2", "--branch"],
            timeout_s,
            "git",
            max_bytes=GIT_MAX_OUTPUT,
            cwd=path,
            # Never stop to ask for credentials or take a lock on the index.
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0"},
        )
    except CommandNotRunnable as e:
        if "was not found" in str(e):
            return GitStatus(name, problem="git is not installed, so I can't check repositories.")
        return GitStatus(name, problem=str(e))
    if run.timed_out:
        return GitStatus(name, problem=f"git took too long on {name}.")
    if run.exit_code != 0:
        if "not a git repository" in run.stderr.lower():
            return GitStatus(name, problem=f"{name} is not a git repository.")
        detail = summarize_output(run.stderr, max_lines=1)
        return GitStatus(name, problem=f"git could not read {name}" + (f": {detail}." if detail else "."))
    return parse_git_status(name, run.stdout)


# ---- custom status commands -------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One configured status command's outcome, summarized for speech."""

    name: str
    summary: str = ""
    exit_code: int | None = 0
    timed_out: bool = False
    problem: str | None = None  # could not start at all
    output: str = field(default="", repr=False)


def check_sentence(c: CheckResult, timeout_s: float) -> str:
    """A status command as one sentence: 'backup status: last snapshot 2 hours ago.'."""
    if c.problem:
        return c.problem
    if c.timed_out:
        return f"{c.name} did not answer within {timeout_s:g} seconds."
    if c.exit_code != 0:
        return f"{c.name} failed with exit code {c.exit_code}" + (f": {c.summary}." if c.summary else ".")
    return f"{c.name}: {c.summary}." if c.summary else f"{c.name} printed nothing."


def collect_check(name: str, line: str, timeout_s: float) -> CheckResult:
    """Run one read-only status command and summarize its output; a failure is a result, not an error."""
    try:
        argv = split_command_line(line, f"{name} status")
        run = run_command_line(argv, timeout_s, f"{name} status check")
    except CommandNotRunnable as e:
        return CheckResult(name, problem=str(e))
    if run.ok:
        return CheckResult(name, summarize_output(run.stdout), 0, output=run.stdout)
    detail = summarize_output(run.stderr, max_lines=1) or summarize_output(run.stdout, max_lines=1)
    return CheckResult(name, detail, run.exit_code, run.timed_out, output=run.stdout + run.stderr)


# ---- composing ----------------------------------------------------------------------------------


def _part(label: str, make: Callable[[], str]) -> str:
    """One part of a report; its failure is a short sentence, not a crash."""
    try:
        return make()
    except Exception as e:
        log.exception("status part %s failed", label)
        return f"I couldn't check {label}: {e}."


def _git_report(path: Path, timeout_s: float) -> str:
    return git_sentence(collect_git(path, timeout_s))


def _check_report(name: str, line: str, timeout_s: float) -> str:
    return check_sentence(collect_check(name, line, timeout_s), timeout_s)


def external_sentences(ctx: SkillContext) -> list[str]:
    """Git repositories and status commands, run concurrently (each may take up to the timeout)."""
    cfg = ctx.config.skills
    timeout_s = float(cfg.command_timeout_s)
    jobs: list[tuple[str, Callable[[], str]]] = []
    for p in cfg.git_repos:
        jobs.append((Path(p).name or str(p), functools.partial(_git_report, Path(p), timeout_s)))
    for n, line in cfg.status_commands.items():
        jobs.append((n, functools.partial(_check_report, n, line, timeout_s)))
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(jobs)), thread_name_prefix="hark-status") as pool:
        futures = [pool.submit(_part, label, job) for label, job in jobs]
        return [f.result() for f in futures]


def compose(parts: Sequence[str]) -> str:
    """Join the report's sentences, leaving out empty ones."""
    return " ".join(p.strip() for p in parts if p and p.strip())


@skill(
    sentences=[
        "status report",
        "[give me|read me] [a|the] status report",
        "give me a status [update]",
        "(what's|what is) the status",
        "how's my (computer|system|machine) [doing]",
        "how is my (computer|system|machine) [doing]",
    ]
)
def status_report(ctx: SkillContext) -> SkillResult:
    """A short spoken overview: time, the computer, tasks due, timers, repositories and custom checks."""
    now = ctx.now()
    parts = [
        time_sentence(now),
        _part("the computer", lambda: system_sentence(collect_system())),
        _part("your tasks", lambda: tasks_sentence(*collect_tasks(ctx, now))),
        _part("your timers", lambda: timers_sentence(collect_timers(ctx))),
        *external_sentences(ctx),
    ]
    return SkillResult(compose(parts), {"parts": [p for p in parts if p]})


@skill(
    sentences=[
        "system status",
        "(how's|how is) the (computer|system|machine) [doing]",
        "(computer|system|machine) (status|health)",
        "how much disk space (is left|do I have)",
        "how full is [my|the] disk",
    ]
)
def system_status(ctx: SkillContext) -> SkillResult:
    """Just the computer: disk, memory, CPU load, battery and uptime."""
    snapshot = collect_system()
    return SkillResult(
        system_sentence(snapshot, detailed=True),
        {
            "cpu_percent": round(snapshot.cpu_percent, 1),
            "memory_percent": snapshot.memory_percent,
            "disks": {d.label: d.percent for d in snapshot.disks},
            "battery": None if snapshot.battery is None else snapshot.battery.percent,
            "uptime_s": snapshot.uptime_s,
        },
    )


@skill(
    sentences=[
        "git status",
        "(what's|what is) the status of my (repos|repositories|projects)",
        "(how are|check) my (repos|repositories)",
    ]
)
def git_status(ctx: SkillContext) -> SkillResult:
    """Branch, uncommitted changes and ahead/behind for each repository in skills.git_repos."""
    repos = ctx.config.skills.git_repos
    if not repos:
        return SkillResult("No repositories are configured. List them under skills.git_repos in your config.", [])
    timeout_s = float(ctx.config.skills.command_timeout_s)
    with ThreadPoolExecutor(max_workers=min(8, len(repos)), thread_name_prefix="hark-git") as pool:
        results = list(pool.map(lambda p: collect_git(p, timeout_s), repos))
    return SkillResult(compose([git_sentence(g) for g in results]), [asdict(g) for g in results])
