"""Configured commands: "run the backup" runs what `skills.commands` says "backup" means.

Safety rests on three things, all in code:
- the model or a template only ever supplies a NAME; the command line comes from
  the user's config and is split with shlex (no shell, so `;`, `|`, `$(...)` in it
  are plain arguments);
- a spoken name containing shell punctuation is refused outright, even if it
  would resolve to a configured name, so nothing the model writes gets near a
  program;
- `run_command` is always confirmed (`always_confirm`: configuration can't waive
  it).  The preview speaks the exact configured name (so a model's "helo" is
  heard back as "hello") and what it runs in plain words; the confirmed `Plan`
  carries the exact argv, and that argv is what runs.

Output is read in a bounded stream: at most `MAX_READ_BYTES` of each pipe is
kept, the rest is read and dropped (so a chatty command neither fills memory
nor blocks on a full pipe).  The subprocess helpers here are shared with the
status report.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from skills.matching import best_match
from skills.phrasing import spoken_list
from skills.registry import Plan, SkillContext, SkillError, SkillResult, StateChanged, skill

# Keep the action result small even if a command prints megabytes.
MAX_KEPT_OUTPUT = 20_000
# Read at most this much of each output pipe into memory; the rest is drained and dropped.
MAX_READ_BYTES = 64 * 1024
# A preview longer than this is cut (the full line is in the user's own config).
MAX_SPOKEN_COMMAND = 240
_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "fish"}
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
    exit_code: int | None  # None when it timed out
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False
    dropped_bytes: int = 0  # output beyond MAX_READ_BYTES per stream, read and thrown away

    @property
    def ok(self) -> bool:
        """Whether the command finished in time with exit code 0."""
        return not self.timed_out and self.exit_code == 0

    def as_data(self) -> dict[str, Any]:
        """The run as plain data (for `--json` and the audit log)."""
        return {
            "argv": self.argv,
            "exit_code": self.exit_code,
            "ok": self.ok,
            "timed_out": self.timed_out,
            "seconds": round(self.seconds, 3),
            "stdout": self.stdout[-MAX_KEPT_OUTPUT:],
            "stderr": self.stderr[-MAX_KEPT_OUTPUT:],
            "dropped_bytes": self.dropped_bytes,
        }


class CommandNotRunnable(SkillError):
    """The configured line could not be started (empty, bad quoting, program missing)."""


class CommandName(str):
    """A command's spoken name; shell punctuation is refused while the arguments are checked.

    So text that looks like a command line never even reaches the confirmation question.
    The schema offered to the model stays a plain string.
    """

    @classmethod
    def __get_pydantic_core_schema__(cls, source, handler):
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
        raise CommandNotRunnable(
            f"The {label} command line is not valid ({e}). Check the quotes in your config."
        ) from None
    if not argv:
        raise CommandNotRunnable(f"The {label} command is empty in your config.")
    return [os.path.expanduser(os.path.expandvars(a)) for a in argv]


class _CappedReader(threading.Thread):
    """Reads a pipe to its end, keeping only the first `limit` bytes."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(name="hark-command-output", daemon=True)
        self.stream = stream
        self.limit = limit
        self.kept = bytearray()
        self.dropped = 0

    def run(self) -> None:
        fd = self.stream.fileno()
        try:
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                room = max(0, self.limit - len(self.kept))
                self.kept += chunk[:room]
                self.dropped += len(chunk) - min(room, len(chunk))
        except OSError:
            pass
        finally:
            self.stream.close()

    def text(self) -> str:
        return bytes(self.kept).decode("utf-8", errors="replace")


def run_command_line(
    argv: list[str],
    timeout_s: float,
    label: str,
    *,
    max_bytes: int = MAX_READ_BYTES,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> CommandRun:
    """Run argv with a timeout; on timeout kill its whole process group (scripts spawn children).

    Output is bounded: each pipe keeps its first `max_bytes`, the rest is drained and dropped.
    """
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Commands run from the home folder, as in a new terminal, wherever Hark was started.
            cwd=cwd or Path.home(),
            env=env,
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
    assert proc.stdout is not None and proc.stderr is not None
    readers = [_CappedReader(proc.stdout, max_bytes), _CappedReader(proc.stderr, max_bytes)]
    for r in readers:
        r.start()
    deadline = started + timeout_s
    try:
        proc.wait(timeout=timeout_s)
        for r in readers:  # a background child may still hold the pipes: it gets the same deadline
            r.join(timeout=max(0.0, deadline - time.monotonic()))
        timed_out = any(r.is_alive() for r in readers)
    except subprocess.TimeoutExpired:
        timed_out = True
    if timed_out:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for r in readers:  # one that escaped the group may hold a pipe open: don't wait for it forever
            r.join(timeout=5)
    out, err = readers
    return CommandRun(
        argv,
        None if timed_out else proc.returncode,
        out.text(),
        err.text(),
        time.monotonic() - started,
        timed_out=timed_out,
        dropped_bytes=out.dropped + err.dropped,
    )


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
        raise SkillError(
            "No commands are configured. Add them under skills.commands in your config, as name: command line."
        )
    names = sorted(configured)
    available = f"The commands I know are: {spoken_list(names)}."
    heard = spoken.strip().rstrip(".!?,").strip()
    if not heard or not _SAFE_NAME.match(heard):
        # Shell punctuation in a name means someone (likely the model) wrote a command, not a name.
        raise SkillError(
            f"I can only run commands by their configured name, and '{spoken.strip()}' is not one. {available}"
        )
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
    closest = best_match(wanted, list(by_norm), lambda n: n).winner
    if closest is not None:
        return by_norm[closest]
    raise SkillError(f"I don't have a command called {heard}. {available}")


def _label(name: str) -> str:
    return _normalize_name(name) or name


def _spoken_arg(arg: str) -> str:
    home = str(Path.home())
    if arg == home:
        return "your home folder"
    if arg.startswith(home + "/"):
        return "~/" + arg[len(home) + 1 :]
    return arg


def describe_argv(argv: list[str]) -> str:
    """What a command line does, in words: 'the program restic, given backup ~/Documents'.

    A shell script (`sh -c '...'`) is read as its commands: 'these shell commands: cd ~/site, then make'.
    """
    program = os.path.basename(argv[0])
    args = argv[1:]
    if program in _SHELLS and "-c" in args[:2] and args.index("-c") + 1 < len(args):
        script = args[args.index("-c") + 1]
        script = re.sub(r"\s*(?:&&|;|\n)\s*", ", then ", script.strip().rstrip(";"))
        script = re.sub(r"\s*\|\|\s*", ", or else ", script)
        script = re.sub(r"\s*\|\s*", ", passed to ", script)
        said = f"these {program} commands: {_spoken_arg(script)}"
    elif args:
        said = f"the program {program}, given {' '.join(_spoken_arg(a) for a in args)}"
    else:
        said = f"the program {program}"
    if len(said) > MAX_SPOKEN_COMMAND:
        cut = said[:MAX_SPOKEN_COMMAND]
        said = cut[: cut.rfind(" ")] + ", and more (the full line is in your config)"
    return said


def _preview_run(ctx: SkillContext, name: str) -> Plan:
    configured = ctx.config.skills.commands
    # An unknown name raises (listing the configured ones): the gate says so instead of asking.
    resolved = resolve_command_name(name, configured)
    argv = split_command_line(configured[resolved], _label(resolved))
    heard = name.strip().rstrip(".!?,").strip()
    # A near miss ("helo") is said back as the exact configured name, so the yes is for that one.
    said = "" if _normalize_name(heard) == _normalize_name(resolved) else f"You said {heard}. "
    text = f"{said}I'll run your command named {resolved}, which runs {describe_argv(argv)}."
    return Plan(text, {"skill": "run_command", "name": resolved, "argv": argv})


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
    always_confirm=True,
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
    plan = ctx.plan.data if isinstance(ctx.plan, Plan) and isinstance(ctx.plan.data, dict) else None
    locked = plan if plan is not None and plan.get("skill") == "run_command" else None
    if locked is None:
        locked = _preview_run(ctx, name).data
    resolved, argv = locked["name"], list(locked["argv"])
    label = _label(resolved)
    line = ctx.config.skills.commands.get(resolved)
    # Exactly the argv that was read back, and only while the config still says so.
    if line is None or split_command_line(line, label) != argv:
        raise StateChanged("Your commands changed while I was asking, so I ran nothing.")
    timeout_s = float(ctx.config.skills.command_timeout_s)
    run = run_command_line(argv, timeout_s, label)
    return SkillResult(describe_run(label, run, timeout_s), {"name": resolved, **run.as_data()})


@skill(
    sentences=[
        "what commands can you run",
        "which commands can you run",
        "list [the|my] commands",
        "what commands do you know",
    ]
)
def list_commands(ctx: SkillContext) -> SkillResult:
    """Tell which configured commands can be run by name."""
    names = sorted(ctx.config.skills.commands)
    if not names:
        return SkillResult(
            "No commands are configured. Add them under skills.commands in your config, as name: command line.", []
        )
    return SkillResult(f"I can run {spoken_list([_label(n) for n in names])}.", names)
