"""Configured commands: real subprocesses through the real confirmation gate."""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path
from typing import Optional

import pytest
from hassil import Intents, WildcardSlotList, recognize_best

import skills.commands as commands
from skills.commands import resolve_command_name, summarize_output
from skills.gate import ConfirmationGate
from skills.registry import SkillContext, SkillError, SkillRegistry
from voice.config import Config, ConfirmConfig, SkillsConfig
from voice.events import EventBus


class Harness:
    """A registry with the command skills, a gate, and scripted spoken answers."""

    def __init__(self, tmp_path: Path, cmds: dict[str, str], answers: list[Optional[str]], *,
                 timeout_s: float = 10.0, not_required: tuple[str, ...] = ()) -> None:
        self.config = Config(skills=SkillsConfig(commands=cmds, command_timeout_s=timeout_s),
                             confirm=ConfirmConfig(not_required_for=list(not_required)))
        self.ctx = SkillContext(config=self.config, data_dir=tmp_path)
        self.registry = SkillRegistry()
        self.registry.add_module(commands)
        self.answers = list(answers)
        self.questions: list[str] = []
        self.audit = tmp_path / "audit.jsonl"
        self.gate = ConfirmationGate(self.registry, self.ctx, EventBus(), self.ask, self.audit,
                                     not_required=set(self.config.confirm.not_required_for))

    def ask(self, question: str) -> Optional[str]:
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
    assert h.questions == ["I'll run the greet command: echo hello world. Shall I go ahead?"]
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


def test_waived_confirmation_runs_without_asking(tmp_path):
    marker = tmp_path / "ran"
    h = Harness(tmp_path, {"backup": touch_line(marker)}, [], not_required=("run_command",))
    out = h.run("backup")
    assert out.ok and marker.exists()
    assert h.questions == []
    assert out.confirmation == "not required by config"


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


@pytest.mark.parametrize("name", [
    "backup; rm -rf /",
    "backup && touch pwned",
    "$(touch pwned)",
    "`touch pwned`",
    "backup | sh",
    "restic backup ~/Documents",
])
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


@pytest.mark.parametrize("spoken, expected", [
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
])
def test_resolving_spoken_names(spoken, expected):
    configured = {"backup": "true", "deploy-site": "true", "nightly_sync": "true"}
    assert resolve_command_name(spoken, configured) == expected


def test_resolving_does_not_guess_between_similar_names():
    with pytest.raises(SkillError, match="I don't have a command called deploy"):
        resolve_command_name("deploy", {"deploy-staging": "true", "deploy-prod": "true"})


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
    assert reg.get("run_command").consequential
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


@pytest.mark.parametrize("utterance, skill, slots", [
    ("run the backup", "run_command", {"name": "backup"}),
    ("run backup", "run_command", {"name": "backup"}),
    ("start the deploy site script", "run_command", {"name": "deploy site"}),
    ("what commands can you run", "list_commands", {}),
])
def test_sentences_match(utterance, skill, slots):
    intents, lists = _intents_for(commands)
    result = recognize_best(utterance, intents, slot_lists=lists)
    assert result is not None and result.intent.name == skill
    assert {k: v.value for k, v in result.entities.items()} == slots
