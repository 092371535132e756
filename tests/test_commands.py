"""Configured commands: real subprocesses through the real confirmation gate."""

from __future__ import annotations

import json
import re
import shlex
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from hassil import Intents, WildcardSlotList, recognize_best

import skills.commands as commands
from skills.commands import MAX_READ_BYTES, describe_argv, resolve_command_name, run_command_line, summarize_output
from skills.gate import ConfirmationGate
from skills.registry import Plan, SkillContext, SkillError, SkillRegistry
from skills.status import collect_check
from voice.config import Config, ConfirmConfig, SkillsConfig
from voice.events import EventBus


class Harness:
    """A registry with the command skills, a gate, and scripted spoken answers."""

    def __init__(
        self,
        tmp_path: Path,
        cmds: dict[str, str],
        answers: list[str | None],
        *,
        timeout_s: float = 10.0,
        not_required: tuple[str, ...] = (),
    ) -> None:
        self.config = Config(
            skills=SkillsConfig(commands=cmds, command_timeout_s=timeout_s),
            confirm=ConfirmConfig(not_required_for=list(not_required)),
        )
        self.ctx = SkillContext(config=self.config, data_dir=tmp_path)
        self.registry = SkillRegistry()
        self.registry.add_module(commands)
        self.answers = list(answers)
        self.questions: list[str] = []
        self.audit = tmp_path / "audit.jsonl"
        self.gate = ConfirmationGate(
            self.registry,
            self.ctx,
            EventBus(),
            self.ask,
            self.audit,
            not_required=set(self.config.confirm.not_required_for),
        )

    def ask(self, question: str) -> str | None:
        self.questions.append(question)
        return self.answers.pop(0) if self.answers else None

    def run(self, name: str):
        return self.gate.execute("run_command", {"name": name}, transcript=f"run the {name}", source="template")


def touch_line(marker: Path) -> str:
    return f"touch {shlex.quote(str(marker))}"


def test_yes_runs_the_configured_command_and_reports_its_output(tmp_path):
    h = Harness(tmp_path, {"greet": "echo hello world"}, ["yes"])
    out = h.run("greet")
    assert out.ok and out.executed
    assert h.questions == [
        "I'll run your command named greet, which runs the program echo, given hello world. Should I do that?"
    ]
    assert out.text == "The greet finished. It said: hello world."
    assert out.data["stdout"] == "hello world\n"
    assert out.data["exit_code"] == 0 and out.data["argv"] == ["echo", "hello", "world"]
    record = json.loads(h.audit.read_text().splitlines()[-1])
    assert record["skill"] == "run_command" and record["arguments"] == {"name": "greet"}


def test_no_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    h = Harness(tmp_path, {"backup": touch_line(marker)}, ["no"])
    out = h.run("backup")
    assert not out.executed and not out.ok
    assert out.text == "Okay, I won't."
    assert not marker.exists()
    assert not h.audit.exists()


def test_silence_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    h = Harness(tmp_path, {"backup": touch_line(marker)}, [None])
    assert not h.run("backup").executed
    assert not marker.exists()


def test_confirmation_of_a_command_cannot_be_waived(tmp_path):
    from voice.config import ConfigError

    with pytest.raises(ConfigError, match=r"confirm.not_required_for: 'run_command'"):
        Harness(tmp_path, {"backup": "true"}, [], not_required=("run_command",))


def test_failure_reports_exit_code_and_first_stderr_line_and_is_audited(tmp_path):
    script = "echo partial output; echo 'repository locked' >&2; echo 'second line' >&2; exit 2"
    h = Harness(tmp_path, {"backup": f"sh -c {shlex.quote(script)}"}, ["yes"])
    out = h.run("backup")
    assert out.text == "The backup failed with exit code 2: repository locked."
    assert out.data["ok"] is False and out.data["exit_code"] == 2
    assert "second line" in out.data["stderr"] and out.data["stdout"] == "partial output\n"
    # It ran, so the audit log must say so even though it failed.
    assert json.loads(h.audit.read_text().splitlines()[-1])["skill"] == "run_command"


def test_false_fails_with_exit_code_1(tmp_path):
    h = Harness(tmp_path, {"fail": "false"}, ["yes"])
    out = h.run("fail")
    assert out.text == "The fail failed with exit code 1."


def test_timeout_stops_the_command_and_its_children(tmp_path):
    # The shell's background child keeps stdout open; only killing the whole group ends this quickly.
    h = Harness(tmp_path, {"slow": "sh -c 'sleep 30 & sleep 30'"}, ["yes"], timeout_s=0.5)
    started = time.monotonic()
    out = h.run("slow")
    elapsed = time.monotonic() - started
    assert elapsed < 5, elapsed
    assert out.text == "The slow did not finish within 0.5 seconds, so I stopped it."
    assert out.data["timed_out"] is True and out.data["exit_code"] is None


def test_unknown_name_lists_configured_ones_and_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    h = Harness(tmp_path, {"backup": touch_line(marker), "deploy": "echo deploy"}, ["yes"])
    out = h.run("launch the rockets")
    assert not out.ok
    assert out.text == "I don't have a command called launch the rockets. The commands I know are: backup and deploy."
    assert h.questions == []  # the preview refused: no pointless "Shall I go ahead?"
    assert not out.executed and not marker.exists() and not h.audit.exists()


def test_unknown_name_among_three_uses_one_spoken_list(tmp_path):
    h = Harness(tmp_path, {"backup": "true", "deploy": "true", "sync": "true"}, ["yes"])
    out = h.run("rockets")
    assert out.text == "I don't have a command called rockets. The commands I know are: backup, deploy, and sync."
    assert h.questions == [] and not out.executed


@pytest.mark.parametrize(
    "name",
    [
        "backup; rm -rf /",
        "backup && touch pwned",
        "$(touch pwned)",
        "`touch pwned`",
        "backup | sh",
        "restic backup ~/Documents",
    ],
)
def test_shell_text_as_a_name_runs_nothing(tmp_path, name):
    marker = tmp_path / "ran"
    h = Harness(tmp_path, {"backup": touch_line(marker)}, ["yes"])
    out = h.run(name)
    assert not out.ok and not out.executed
    assert "configured command name can be run" in out.text
    assert h.questions == []  # refused before any confirmation question
    assert not marker.exists()
    for where in (Path.cwd(), Path.home()):  # where an injected `touch pwned` would have written
        assert not (where / "pwned").exists()


def test_resolving_refuses_shell_text_even_if_called_directly():
    with pytest.raises(SkillError, match="only run commands by their configured name"):
        resolve_command_name("backup; rm -rf /", {"backup": "true"})


def test_configured_line_is_not_given_to_a_shell(tmp_path):
    # `;` and `$(...)` in the configured line are plain arguments to echo, not shell syntax.
    h = Harness(tmp_path, {"literal": "echo 'a; b' $(whoami)"}, ["yes"])
    out = h.run("literal")
    assert out.data["stdout"] == "a; b $(whoami)\n"


def test_home_is_expanded_in_configured_lines(tmp_path):
    h = Harness(tmp_path, {"where": "echo ~/Documents"}, ["yes"])
    out = h.run("where")
    assert out.data["stdout"] == f"{Path.home()}/Documents\n"


def test_missing_program_and_bad_quoting_are_clear(tmp_path):
    h = Harness(tmp_path, {"ghost": "no-such-program-hark-test --flag", "broken": 'echo "unterminated'}, ["yes", "yes"])
    ghost = h.run("ghost")
    assert not ghost.ok and "the program no-such-program-hark-test was not found" in ghost.text
    broken = h.run("broken")
    assert not broken.ok and "not valid" in broken.text and "quotes" in broken.text


def test_no_commands_configured(tmp_path):
    h = Harness(tmp_path, {}, ["yes"])
    out = h.run("backup")
    assert "No commands are configured" in out.text and "skills.commands" in out.text
    assert h.questions == [] and not out.executed


@pytest.mark.parametrize(
    "spoken, expected",
    [
        ("backup", "backup"),
        ("the Backup", "backup"),
        ("Backup.", "backup"),
        ("back up", "backup"),
        ("backup command", "backup"),
        ("backups", "backup"),
        ("deploy site", "deploy-site"),
        ("the deploy site script", "deploy-site"),
        ("Deploy_Site", "deploy-site"),
        ("nightly sync", "nightly_sync"),
    ],
)
def test_resolving_spoken_names(spoken, expected):
    configured = {"backup": "true", "deploy-site": "true", "nightly_sync": "true"}
    assert resolve_command_name(spoken, configured) == expected


def test_resolving_does_not_guess_between_similar_names():
    with pytest.raises(SkillError, match="I don't have a command called deploy"):
        resolve_command_name("deploy", {"deploy-staging": "true", "deploy-prod": "true"})


def test_a_close_runner_up_blocks_a_guess_even_below_the_threshold():
    # 0.76 for "media music", 0.74 for "media doc": one clear fuzzy winner is the rule everywhere
    # (skills/matching.py), so "media sync" runs neither rather than the slightly closer one.
    with pytest.raises(SkillError, match="I don't have a command called media sync"):
        resolve_command_name("media sync", {"media music": "true", "media doc": "true"})
    assert resolve_command_name("media musik", {"media music": "true", "media doc": "true"}) == "media music"


def test_summarize_output_keeps_it_speakable():
    text = "\x1b[32m\n=====\n  Snapshot   1a2b3c  saved \n\nfiles: 12 new\nmore\n"
    assert summarize_output(text) == "Snapshot 1a2b3c saved. files: 12 new"
    assert summarize_output("") == ""
    long = "word " * 100
    short = summarize_output(long, max_chars=40)
    assert len(short) <= 40 and short.endswith("word") and not short.endswith(" ")


def test_list_commands(tmp_path):
    h = Harness(tmp_path, {"backup": "true", "deploy-site": "true"}, [])
    out = h.gate.execute("list_commands", {})
    assert out.ok and out.text == "I can run backup and deploy site."
    assert h.questions == []


def test_run_command_is_consequential_and_list_is_not():
    reg = SkillRegistry()
    reg.add_module(commands)
    assert reg.get("run_command").consequential and reg.get("run_command").always_confirm
    assert not reg.get("list_commands").consequential


def _intents_for(module) -> tuple[Intents, dict]:
    reg = SkillRegistry()
    reg.add_module(module)
    data, slots = {}, set()
    for s in reg:
        data[s.name] = {"data": [{"sentences": list(s.sentences)}]}
        for sentence in s.sentences:
            names = set(re.findall(r"\{(\w+)\}", sentence))
            assert names <= set(s.args_model.model_fields), (s.name, sentence)
            slots |= names
    return Intents.from_dict({"language": "en", "intents": data}), {n: WildcardSlotList(n) for n in slots}


@pytest.mark.parametrize(
    "utterance, skill, slots",
    [
        ("run the backup", "run_command", {"name": "backup"}),
        ("run backup", "run_command", {"name": "backup"}),
        ("start the deploy site script", "run_command", {"name": "deploy site"}),
        ("what commands can you run", "list_commands", {}),
    ],
)
def test_sentences_match(utterance, skill, slots):
    intents, lists = _intents_for(commands)
    result = recognize_best(utterance, intents, slot_lists=lists)
    assert result is not None and result.intent.name == skill
    assert {k: v.value for k, v in result.entities.items()} == slots


# ---- trust: exact name read back, the confirmed argv runs, bounded output ---------------------


class ModelHarness:
    """run_command chosen by the model, with scripted answers and something that happens while asking."""

    def __init__(
        self, tmp_path: Path, cmds: dict[str, str], answers: list[str | None], during: Callable[[], None] | None = None
    ) -> None:
        self.config = Config(skills=SkillsConfig(commands=cmds, command_timeout_s=20))
        self.ctx = SkillContext(config=self.config, data_dir=tmp_path)
        registry = SkillRegistry()
        registry.add_module(commands)
        self.answers = list(answers)
        self.during = during
        self.questions: list[str] = []
        self.gate = ConfirmationGate(registry, self.ctx, EventBus(), self.ask, tmp_path / "audit.jsonl")

    def ask(self, question: str) -> str | None:
        self.questions.append(question)
        if self.during:
            self.during()
        answer = self.answers.pop(0) if self.answers else None
        return question if answer == "ECHO" else answer

    def model(self, name: str):
        return self.gate.execute("run_command", {"name": name}, source="model")


def test_a_models_inexact_name_is_read_back_exactly_and_asked(tmp_path):
    h = ModelHarness(tmp_path, {"hello": "echo hello world", "backup": "true"}, ["yes"])
    out = h.model("helo")
    assert h.questions == [
        "You said helo. I'll run your command named hello, which runs the program echo, "
        "given hello world. Should I do that?"
    ]
    assert out.ok and out.data["argv"] == ["echo", "hello", "world"] and out.data["name"] == "hello"


def test_the_plan_carries_the_exact_argv(tmp_path):
    h = ModelHarness(tmp_path, {"where": "ls -l ~/Documents"}, [])
    plan = h.gate.registry.get("run_command").describe_action(h.ctx, {"name": "where"})
    assert isinstance(plan, Plan)
    assert plan.data == {"skill": "run_command", "name": "where", "argv": ["ls", "-l", f"{Path.home()}/Documents"]}
    assert plan.text == "I'll run your command named where, which runs the program ls, given -l ~/Documents."


def test_a_shell_script_is_read_as_its_commands():
    assert describe_argv(["sh", "-c", "cd ~/site && make deploy | tee log; echo done"]) == (
        "these sh commands: cd ~/site, then make deploy, passed to tee log, then echo done"
    )
    assert describe_argv(["true"]) == "the program true"
    long = describe_argv(["echo"] + ["word"] * 200)
    assert len(long) < 320 and long.endswith("and more (the full line is in your config)")


@pytest.mark.parametrize(
    "answers",
    [
        ["no"],
        [None],
        ["hmm", "what"],
        ["Remind me to confirm the dentist appointment", "Turn right at the light"],
        ["Okay, that's not what I asked", "I'm sure you misheard me"],
        ["ECHO", "ECHO"],
    ],
    ids=["no", "silence", "unclear", "yes-word-1", "yes-word-2", "own-question"],
)
def test_without_a_real_yes_nothing_runs(tmp_path, answers):
    marker = tmp_path / "ran"
    h = ModelHarness(tmp_path, {"hello": f"touch {shlex.quote(str(marker))}"}, answers)
    out = h.model("helo")
    assert h.questions and not out.executed and not out.ok
    assert not marker.exists()


def test_a_command_changed_while_asking_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    other = tmp_path / "other"
    h = ModelHarness(tmp_path, {"backup": f"touch {shlex.quote(str(marker))}"}, ["yes"])
    h.during = lambda: h.config.skills.commands.update(backup=f"touch {shlex.quote(str(other))}")
    out = h.model("backup")
    assert out.text == "Your commands changed while I was asking, so I ran nothing."
    assert not out.executed and not marker.exists() and not other.exists()


_FLOOD = f"{sys.executable} -c \"import sys; [sys.stdout.buffer.write(b'x' * 1048576) for _ in range(60)]\""


def test_huge_output_is_read_in_a_bounded_stream(tmp_path):
    argv = shlex.split(_FLOOD)
    tracemalloc.start()
    try:
        run = run_command_line(argv, 60, "flood")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert run.ok  # drained to the end: the command is not killed for talking
    assert len(run.stdout) == MAX_READ_BYTES and run.dropped_bytes == 60 * 1048576 - MAX_READ_BYTES
    assert peak < 8 * 1048576, peak  # never the whole 60 MB


def test_endless_output_stops_at_the_timeout_with_bounded_memory(tmp_path):
    started = time.monotonic()
    run = run_command_line(["yes"], 0.5, "yes")
    assert run.timed_out and time.monotonic() - started < 5
    assert len(run.stdout) <= MAX_READ_BYTES and run.dropped_bytes > 0


def test_status_commands_are_bounded_too(tmp_path):
    check = collect_check("flood", _FLOOD, 60)
    assert check.exit_code == 0 and len(check.output) <= MAX_READ_BYTES
