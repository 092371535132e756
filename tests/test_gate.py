"""The confirmation gate and the registry seam, with skills loaded from a real user folder."""

from __future__ import annotations

import json
import textwrap

import pytest

from skills.gate import ConfirmationGate
from skills.registry import SkillContext, SkillRegistry
from voice.config import Config
from voice.events import EventBus

USER_SKILL = '''
from pathlib import Path
from skills import SkillContext, skill


@skill(consequential=True, preview="I'll erase {what}.", sentences=["erase {what}"])
def erase(ctx: SkillContext, what: str, times: int = 1) -> str:
    """Erase something (writes a line to erased.txt so the test can see it ran).

    Args:
        what: The thing to erase.
        times: How many times.
    """
    with open(ctx.data_dir / "erased.txt", "a") as f:
        f.write(f"{what} x{times}\\n")
    return f"Erased {what}."


@skill()
def peek(ctx: SkillContext) -> str:
    """Look without touching anything."""
    return "Nothing to see."
'''


@pytest.fixture
def registry(tmp_path):
    folder = tmp_path / "my-skills"
    folder.mkdir()
    (folder / "eraser.py").write_text(USER_SKILL)
    (folder / "broken.py").write_text("this is not python(\n")
    return SkillRegistry.default(folder)


def make_gate(registry, tmp_path, answers, **kw):
    bus = EventBus()
    asked = []

    def ask(question):
        asked.append(question)
        return answers.pop(0) if answers else None

    ctx = SkillContext(config=Config(), data_dir=tmp_path)
    gate = ConfirmationGate(registry, ctx, bus, ask, tmp_path / "audit.jsonl", **kw)
    return gate, bus, asked


def erased(tmp_path):
    f = tmp_path / "erased.txt"
    return f.read_text().splitlines() if f.exists() else []


def test_user_folder_skills_are_discovered_and_broken_ones_reported(registry):
    assert {"erase", "peek", "current_time"} <= set(registry.names())
    assert any("broken.py" in e for e in registry.load_errors)
    schema = registry.get("erase").tool_schema()["function"]
    assert schema["parameters"]["required"] == ["what"]
    assert schema["parameters"]["properties"]["times"] == {"type": "integer", "default": 1, "description": "How many times."}
    assert schema["description"].startswith("Erase something")


@pytest.mark.parametrize("answers", [["no"], ["maybe later", None], [None], ["banana", "hmm"], ["yes... no, wait"]])
def test_anything_but_a_clear_yes_changes_nothing(registry, tmp_path, answers):
    gate, bus, asked = make_gate(registry, tmp_path, list(answers))
    out = gate.execute("erase", {"what": "everything"}, transcript="erase everything")
    assert not out.executed and not out.ok
    assert erased(tmp_path) == []
    assert not (tmp_path / "audit.jsonl").exists()
    assert "cancelled" in bus.names() and "confirmed" not in bus.names()
    assert asked[0] == "I'll erase everything. Shall I go ahead?"
    assert len(asked) <= 2  # one re-ask at most


def test_a_clear_yes_runs_it_once_and_audits(registry, tmp_path):
    gate, bus, asked = make_gate(registry, tmp_path, ["Yes, go ahead."])
    out = gate.execute("erase", {"what": "the cache", "times": "2"}, transcript="erase the cache twice")
    assert out.executed and out.ok and out.text == "Erased the cache."
    assert erased(tmp_path) == ["the cache x2"]
    audit = [json.loads(l) for l in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert audit[0]["skill"] == "erase" and audit[0]["arguments"] == {"what": "the cache", "times": 2}
    assert audit[0]["transcript"] == "erase the cache twice" and "Yes, go ahead." in audit[0]["confirmation"]
    names = bus.names()
    assert names.index("confirm_request") < names.index("confirmed") < names.index("action_result")


def test_unclear_then_yes_is_confirmed_after_one_reask(registry, tmp_path):
    gate, _, asked = make_gate(registry, tmp_path, ["what?", "yes"])
    assert gate.execute("erase", {"what": "x"}).executed
    assert len(asked) == 2 and asked[1].startswith("Sorry, I didn't catch that")


def test_not_required_by_config_skips_the_question_but_is_audited(registry, tmp_path):
    gate, _, asked = make_gate(registry, tmp_path, [], not_required={"erase"})
    assert gate.execute("erase", {"what": "x"}).executed
    assert asked == []
    assert "not required by config" in (tmp_path / "audit.jsonl").read_text()


def test_harmless_skills_run_without_asking(registry, tmp_path):
    gate, _, asked = make_gate(registry, tmp_path, [])
    assert gate.execute("peek", {}).text == "Nothing to see."
    assert asked == []


@pytest.mark.parametrize("args,needle", [
    ({}, "what is missing"),
    ({"what": "x", "times": "many"}, "times is not valid"),
    ({"what": "x", "shell": "rm -rf /"}, "shell is not something erase takes"),
    ("what=x", "were not understood"),
])
def test_bad_arguments_are_a_clear_error_and_nothing_runs(registry, tmp_path, args, needle):
    gate, bus, asked = make_gate(registry, tmp_path, ["yes"])
    out = gate.execute("erase", args)
    assert not out.executed and needle in out.text
    assert asked == [] and erased(tmp_path) == []
    assert "error" in bus.names()


def test_unknown_tool(registry, tmp_path):
    gate, _, _ = make_gate(registry, tmp_path, ["yes"])
    out = gate.execute("format_disk", {})
    assert not out.executed and out.text == "I don't have a skill called format disk."


def test_a_failing_skill_is_reported_not_raised(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "boom.py").write_text(textwrap.dedent('''
        from skills import skill
        @skill()
        def boom() -> str:
            """Always fails."""
            raise RuntimeError("disk on fire")
    '''))
    gate, bus, _ = make_gate(SkillRegistry.default(folder), tmp_path, [])
    out = gate.execute("boom", {})
    assert not out.ok and "disk on fire" in out.text
