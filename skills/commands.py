"""Configured commands: "run the backup" runs what `skills.commands` says "backup" means.

Safety rests on three things, all in code:
- the model or a template only ever supplies a NAME; the command line comes from
  the user's config and is split with shlex (no shell, so `;`, `|`, `$(...)` in it
  are plain arguments);
- a spoken name containing shell punctuation is refused outright, even if it
  would resolve to a configured name, so nothing the model writes gets near a
  program;
- `run_command` is consequential: the gate speaks the exact command line and
  waits for a yes (unless the user lists it in `confirm.not_required_for`).

The subprocess helpers here are shared with the status report.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from skills.registry import SkillContext, SkillError, SkillResult, skill
from voice.text import spoken_list

# Keep the action result small even if a command prints megabytes.
MAX_KEPT_OUTPUT = 20_000
# A spoken summary of output: about one sentence.
SPOKEN_OUTPUT_CHARS = 140

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
# Names may have words, digits, spaces, hyphens, apostrophes; trailing punctuation from
# speech-to-text ("Backup.") is dropped first. Anything else looks like shell text.
_SAFE_NAME = re.compile(r"^[\w\s'\-]+$")
_FILLER_WORDS = {"the", "my", "a", "an", "please", "command", "script", "job"}


@dataclass(frozen=True)
class CommandRun:
    """What happened when a configured command line ran."""

    argv: list[str]
    exit_code: Optional[int]      # None when it timed out
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return not self.timed_out and self.exit_code == 0

    def as_data(self) -> dict[str, Any]:
        return {
            "argv": self.argv,
            "exit_code": self.exit_code,
            "ok": self.ok,
            "timed_out": self.timed_out,
            "seconds": round(self.seconds, 3),
            "stdout": self.stdout[-MAX_KEPT_OUTPUT:],
            "stderr": self.stderr[-MAX_KEPT_OUTPUT:],
        }


class CommandNotRunnable(SkillError):
    """The configured line could not be started (empty, bad quoting, program missing)."""


class CommandName(str):
    """A command's spoken name. Shell punctuation is refused while the arguments are checked,
    so text that looks like a command line never even reaches the confirmation question.
    The schema offered to the model stays a plain string."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):  # noqa: ANN001 (pydantic hook)
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(cls._check, core_schema.str_schema())

    @staticmethod
    def _check(value: str) -> str:
        heard = value.strip().rstrip(".!?,").strip()
        if not _SAFE_NAME.match(heard):
            raise ValueError(f"only a configured command name can be run, and '{value.strip()}' is not one")
        return value


def split_command_line(line: str, label: str) -> list[str]:
    """Split a configured command line like a shell would, without a shell.

    `~` and `$VARS` are expanded because users write config lines the way they type
    them in a terminal; the values come from this user's environment, never from
    the model.
    """
    try:
        argv = shlex.split(line)
    except ValueError as e:
        raise CommandNotRunnable(f"The {label} command line is not valid ({e}). Check the quotes in your config.") from None
    if not argv:
        raise CommandNotRunnable(f"The {label} command is empty in your config.")
    return [os.path.expanduser(os.path.expandvars(a)) for a in argv]


def run_command_line(argv: list[str], timeout_s: float, label: str) -> CommandRun:
    """Run argv with a timeout; on timeout kill its whole process group (scripts spawn children)."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            # Commands run from the home folder, as in a new terminal, wherever Hark was started.
            cwd=Path.home(),
            start_new_session=True,
        )
    except FileNotFoundError:
        raise CommandNotRunnable(
            f"I couldn't start the {label}: the program {argv[0]} was not found. Check the command in your config."
        ) from None
    except PermissionError:
        raise CommandNotRunnable(f"I couldn't start the {label}: {argv[0]} is not executable.") from None
    except OSError as e:
        raise CommandNotRunnable(f"I couldn't start the {label}: {e.strerror or e}.") from None
    try:
        out, err = proc.communicate(timeout=timeout_s)
        return CommandRun(argv, proc.returncode, out, err, time.monotonic() - started)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a grandchild escaped the group and holds the pipes
            out, err = "", ""
        return CommandRun(argv, None, out or "", err or "", time.monotonic() - started, timed_out=True)


def summarize_output(text: str, max_chars: int = SPOKEN_OUTPUT_CHARS, max_lines: int = 2) -> str:
    """The first meaningful line(s) of program output, short enough to speak.

    Drops colour codes, blank lines and rules made of punctuation (`-----`, `====`).
    """
    lines: list[str] = []
    for raw in _ANSI.sub("", text).splitlines():
        line = " ".join(raw.split())
        if not line or not re.search(r"[A-Za-z0-9]", line):
            continue
        lines.append(line.rstrip(" .:;,") if len(lines) + 1 < max_lines else line)
        if len(lines) == max_lines:
            break
    summary = ". ".join(lines)
    if len(summary) > max_chars:
        cut = summary[:max_chars]
        summary = cut[: cut.rfind(" ")] if " " in cut else cut
        summary = summary.rstrip(" .,;:-")
    return summary


def _normalize_name(name: str) -> str:
    words = re.sub(r"[_\-]+", " ", name.lower()).split()
    return " ".join(w for w in words if w not in _FILLER_WORDS)


def resolve_command_name(spoken: str, configured: dict[str, str]) -> str:
    """Map what was said ("the Backup", "back up") to a configured name, or raise a speakable SkillError."""
    if not configured:
        raise SkillError("No commands are configured. Add them under skills.commands in your config, as name: command line.")
    names = sorted(configured)
    available = f"The commands I know are: {spoken_list(names)}."
    heard = spoken.strip().rstrip(".!?,").strip()
    if not heard or not _SAFE_NAME.match(heard):
        # Shell punctuation in a name means someone (likely the model) wrote a command, not a name.
        raise SkillError(f"I can only run commands by their configured name, and '{spoken.strip()}' is not one. {available}")
    wanted = _normalize_name(heard)
    by_norm: dict[str, str] = {}
    for n in names:
        by_norm.setdefault(_normalize_name(n), n)
    if wanted in by_norm:
        return by_norm[wanted]
    squashed = {k.replace(" ", ""): v for k, v in by_norm.items()}
    if wanted.replace(" ", "") in squashed:  # "back up" for "backup"
        return squashed[wanted.replace(" ", "")]
    # Speech-to-text slips ("back-ups", "deploy site" for "deploy-site"): one clearly closest name.
    close = difflib.get_close_matches(wanted, list(by_norm), n=2, cutoff=0.75)
    if len(close) == 1 or (len(close) == 2 and _ratio(wanted, close[0]) - _ratio(wanted, close[1]) > 0.1):
        return by_norm[close[0]]
    raise SkillError(f"I don't have a command called {heard}. {available}")


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _label(name: str) -> str:
    return _normalize_name(name) or name


def _preview_run(ctx: SkillContext, name: str) -> str:
    configured = ctx.config.skills.commands
    # An unknown name raises (listing the configured ones): the gate says so instead of asking.
    resolved = resolve_command_name(name, configured)
    return f"I'll run the {_label(resolved)} command: {configured[resolved]}."


def describe_run(label: str, run: CommandRun, timeout_s: float) -> str:
    """One or two spoken sentences about how a command went."""
    if run.timed_out:
        return f"The {label} did not finish within {timeout_s:g} seconds, so I stopped it."
    if run.ok:
        said = summarize_output(run.stdout)
        return f"The {label} finished." + (f" It said: {said}." if said else "")
    detail = summarize_output(run.stderr, max_lines=1) or summarize_output(run.stdout, max_lines=1)
    return f"The {label} failed with exit code {run.exit_code}" + (f": {detail}." if detail else ".")


@skill(
    consequential=True,
    preview=_preview_run,
    sentences=[
        "run [the] {name}",
        "run [the] {name} (command|script)",
        "start [the] {name}",
        "start [the] {name} (command|script)",
        "execute [the] {name} [command|script]",
    ],
)
def run_command(ctx: SkillContext, name: CommandName) -> SkillResult:
    """Run one of the user's configured commands by its name (see list_commands). Never pass a command line.

    Args:
        name: The configured name of the command, for example "backup".
    """
    configured = ctx.config.skills.commands
    resolved = resolve_command_name(name, configured)
    label = _label(resolved)
    argv = split_command_line(configured[resolved], label)
    timeout_s = float(ctx.config.skills.command_timeout_s)
    run = run_command_line(argv, timeout_s, label)
    return SkillResult(describe_run(label, run, timeout_s), {"name": resolved, **run.as_data()})


@skill(sentences=[
    "what commands can you run",
    "which commands can you run",
    "list [the|my] commands",
    "what commands do you know",
])
def list_commands(ctx: SkillContext) -> SkillResult:
    """Tell which configured commands can be run by name."""
    names = sorted(ctx.config.skills.commands)
    if not names:
        return SkillResult(
            "No commands are configured. Add them under skills.commands in your config, as name: command line.", []
        )
    return SkillResult(f"I can run {spoken_list([_label(n) for n in names])}.", names)
