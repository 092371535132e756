"""The confirmation gate and the registry seam, with skills loaded from a real user folder."""

from __future__ import annotations

import json
import textwrap

import pytest

from skills.confirm import question
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
    assert schema["parameters"]["properties"]["times"] == {
        "type": "integer",
        "default": 1,
        "description": "How many times.",
    }
    assert schema["description"].startswith("Erase something")


@pytest.mark.parametrize("answers", [["no"], ["maybe later", None], [None], ["banana", "hmm"], ["yes... no, wait"]])
def test_anything_but_a_clear_yes_changes_nothing(registry, tmp_path, answers):
    gate, bus, asked = make_gate(registry, tmp_path, list(answers))
    out = gate.execute("erase", {"what": "everything"}, transcript="erase everything")
    assert not out.executed and not out.ok
    assert erased(tmp_path) == []
    assert not (tmp_path / "audit.jsonl").exists()
    assert "cancelled" in bus.names() and "confirmed" not in bus.names()
    assert asked[0] == question("I'll erase everything.")
    assert len(asked) <= 2  # one re-ask at most


def test_a_clear_yes_runs_it_once_and_audits(registry, tmp_path):
    gate, bus, _asked = make_gate(registry, tmp_path, ["Yes, go ahead."])
    out = gate.execute("erase", {"what": "the cache", "times": "2"}, transcript="erase the cache twice")
    assert out.executed and out.ok and out.text == "Erased the cache."
    assert erased(tmp_path) == ["the cache x2"]
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
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


@pytest.mark.parametrize(
    "args,needle",
    [
        ({}, "what is missing"),
        ({"what": "x", "times": "many"}, "times is not valid"),
        ({"what": "x", "shell": "rm -rf /"}, "shell is not something erase takes"),
        ("what=x", "were not understood"),
    ],
)
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
    (folder / "boom.py").write_text(
        textwrap.dedent('''
        from skills import skill
        @skill()
        def boom() -> str:
            """Always fails."""
            raise RuntimeError("disk on fire")
    ''')
    )
    gate, _bus, _ = make_gate(SkillRegistry.default(folder), tmp_path, [])
    out = gate.execute("boom", {})
    assert not out.ok and "disk on fire" in out.text


# ---- plans, sources, audit before and after -----------------------------------------------------------

PLAN_SKILLS = '''
import json
from skills import SkillContext, skill
from skills.registry import Plan, StateChanged


def _log(ctx, line):
    with open(ctx.data_dir / "ran.jsonl", "a") as f:
        f.write(json.dumps(line) + "\\n")


def _plan_zap(ctx, what):
    _log(ctx, {"preview": what, "source": ctx.source, "plan": None if ctx.plan is None else ctx.plan.text})
    return Plan(f"I'll zap {what}.", {"target": what.upper()})


@skill(consequential=True, preview=_plan_zap)
def zap(ctx: SkillContext, what: str) -> str:
    """Zap a thing.

    Args:
        what: The thing.
    """
    if what == "moved":
        raise StateChanged("Your list changed while I was asking, so I zapped nothing.")
    _log(ctx, {"run": what, "source": ctx.source, "plan": ctx.plan.data, "text": ctx.plan.text})
    return f"Zapped {ctx.plan.data['target']}."


@skill(confirm_if_model=True, preview="I'll stop the {what} timer.")
def stop_thing(ctx: SkillContext, what: str) -> str:
    """Stop a running thing.

    Args:
        what: Which one.
    """
    _log(ctx, {"run": what, "source": ctx.source, "plan": ctx.plan.text})
    return f"Stopped {what}."


@skill(always_confirm=True, preview="I'll wipe {what}.")
def wipe(ctx: SkillContext, what: str) -> str:
    """Wipe something for good.

    Args:
        what: The thing.
    """
    _log(ctx, {"run": what, "source": ctx.source})
    return f"Wiped {what}."
'''


@pytest.fixture
def plan_registry(tmp_path):
    folder = tmp_path / "plan-skills"
    folder.mkdir()
    (folder / "planned.py").write_text(PLAN_SKILLS)
    reg = SkillRegistry()
    reg.discover_folder(folder)
    assert not reg.load_errors
    return reg


def ran(tmp_path):
    f = tmp_path / "ran.jsonl"
    return [json.loads(line) for line in f.read_text().splitlines()] if f.exists() else []


def audit_lines(tmp_path):
    f = tmp_path / "audit.jsonl"
    return [json.loads(line) for line in f.read_text().splitlines()] if f.exists() else []


def test_the_confirmed_plan_and_the_source_reach_the_skill_and_are_cleared_after(plan_registry, tmp_path):
    gate, _bus, asked = make_gate(plan_registry, tmp_path, ["yes"])
    out = gate.execute("zap", {"what": "the cache"}, source="keyboard")
    assert out.ok and out.text == "Zapped THE CACHE."
    assert asked == [question("I'll zap the cache.")]
    assert ran(tmp_path) == [
        {"preview": "the cache", "source": "keyboard", "plan": None},
        {"run": "the cache", "source": "keyboard", "plan": {"target": "THE CACHE"}, "text": "I'll zap the cache."},
    ]
    assert gate.ctx.plan is None and gate.ctx.source == "keyboard"


def test_a_waived_question_still_runs_a_plan(plan_registry, tmp_path):
    gate, _, asked = make_gate(plan_registry, tmp_path, [], not_required={"zap"})
    out = gate.execute("zap", {"what": "x"}, source="template")
    assert out.ok and asked == [] and out.confirmation == "not required by config"
    assert ran(tmp_path)[-1]["plan"] == {"target": "X"}


def test_a_failing_skill_clears_the_plan_too(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "boom.py").write_text(
        textwrap.dedent('''
        from skills import skill
        from skills.registry import Plan
        @skill(consequential=True, preview=lambda ctx: Plan("I'll explode.", 1))
        def explode(ctx) -> str:
            """Always fails."""
            raise RuntimeError("kaboom")
    ''')
    )
    gate, _, _ = make_gate(SkillRegistry.default(folder), tmp_path, ["yes"])
    out = gate.execute("explode", {})
    assert not out.ok and "kaboom" in out.text and gate.ctx.plan is None


@pytest.mark.parametrize("source, asks", [("model", True), ("template", False), ("keyboard", False)])
def test_confirm_if_model_asks_only_when_the_model_chose_it(plan_registry, tmp_path, source, asks):
    gate, _bus, asked = make_gate(plan_registry, tmp_path, [])  # silence: a question cancels
    out = gate.execute("stop_thing", {"what": "tea"}, source=source)
    if asks:
        assert asked == [question("I'll stop the tea timer.")] and not out.executed and ran(tmp_path) == []
    else:
        assert asked == [] and out.ok and out.text == "Stopped tea."
        assert ran(tmp_path) == [{"run": "tea", "source": source, "plan": "I'll stop the tea timer."}]
        # A change all the same: audited before and after, saying who chose it.
        assert [(a["phase"], a["chosen_by"]) for a in audit_lines(tmp_path)] == [
            ("intent", source),
            ("outcome", source),
        ]


def test_confirm_if_model_with_a_yes_runs(plan_registry, tmp_path):
    gate, _, asked = make_gate(plan_registry, tmp_path, ["Yes."])
    assert gate.execute("stop_thing", {"what": "tea"}, source="model").ok
    assert len(asked) == 1


def test_state_changed_is_not_executed_and_is_spoken_and_audited(plan_registry, tmp_path):
    gate, bus, _ = make_gate(plan_registry, tmp_path, ["yes"])
    out = gate.execute("zap", {"what": "moved"}, transcript="zap moved")
    assert not out.ok and not out.executed
    assert out.text == "Your list changed while I was asking, so I zapped nothing."
    results = [e.data for e in bus.history if e.name == "action_result"]
    assert results == [{"name": "zap", "ok": False, "text": out.text}]
    intent, outcome = audit_lines(tmp_path)
    assert outcome["phase"] == "outcome" and outcome["id"] == intent["id"]
    assert outcome["ok"] is False and outcome["executed"] is False and outcome["text"] == out.text


def test_audit_intent_is_on_disk_before_the_skill_runs_and_outcome_after(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "peeker.py").write_text(
        textwrap.dedent('''
        import json
        from skills import skill
        @skill(consequential=True, preview="I'll look at the audit log.")
        def look(ctx) -> str:
            """Reads the audit log while running."""
            lines = (ctx.data_dir / "audit.jsonl").read_text().splitlines()
            return json.dumps([json.loads(l)["phase"] for l in lines])
    ''')
    )
    gate, _, _ = make_gate(SkillRegistry.default(folder), tmp_path, ["yes"])
    out = gate.execute("look", {}, transcript="look", source="model")
    assert out.text == '["intent"]'  # written (and fsynced) before the action ran
    intent, outcome = audit_lines(tmp_path)
    # Every field of the old single-record format is in the outcome line, so `hark history` keeps working.
    for key in ("time", "skill", "arguments", "transcript", "confirmation", "chosen_by"):
        assert key in intent and key in outcome
    assert (intent["phase"], intent["plan"]) == ("intent", "I'll look at the audit log.")
    assert (outcome["phase"], outcome["id"], outcome["ok"]) == ("outcome", intent["id"], True)
    assert outcome["text"] == '["intent"]'
    assert outcome["confirmation"] == "spoken yes: 'yes'" and outcome["chosen_by"] == "model"
    assert oct((tmp_path / "audit.jsonl").stat().st_mode & 0o777) == "0o600"


def test_fsync_is_called_for_both_audit_entries(registry, tmp_path, monkeypatch):
    import os as os_module

    synced = []
    real_fsync = os_module.fsync
    monkeypatch.setattr(os_module, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    gate, _, _ = make_gate(registry, tmp_path, ["yes"])
    assert gate.execute("erase", {"what": "x"}).ok
    assert len(synced) >= 2 and len(audit_lines(tmp_path)) == 2


def test_an_unwritable_audit_log_stops_the_action(registry, tmp_path):
    (tmp_path / "audit.jsonl").mkdir()  # a directory where the log should be: appending fails
    gate, bus, _ = make_gate(registry, tmp_path, ["yes"])
    out = gate.execute("erase", {"what": "everything"})
    assert not out.ok and not out.executed and erased(tmp_path) == []
    assert out.text.startswith(f"I can't write the audit log at {tmp_path / 'audit.jsonl'} (")
    assert out.text.endswith("), so I did nothing.") and "\n" not in out.text  # one speakable sentence
    assert any(e.name == "error" and e.data["stage"] == "audit" for e in bus.history)


def test_always_confirm_can_not_be_waived_even_if_config_is_bypassed(plan_registry, tmp_path):
    gate, _, asked = make_gate(plan_registry, tmp_path, [])
    gate.not_required = {"wipe"}  # as if the config check had been skipped
    out = gate.execute("wipe", {"what": "the disk"}, source="template")
    assert asked == [question("I'll wipe the disk.")] and not out.executed and ran(tmp_path) == []


def test_not_required_for_rejects_always_confirmed_and_unknown_skills(plan_registry, tmp_path):
    from voice.config import ConfigError

    with pytest.raises(ConfigError) as e:
        make_gate(plan_registry, tmp_path, [], not_required={"wipe"})
    assert str(e.value) == (
        "confirm.not_required_for: 'wipe' wipes something for good, so it is always confirmed; remove it."
    )
    with pytest.raises(ConfigError) as e:
        make_gate(plan_registry, tmp_path, [], not_required={"zapp"})
    assert str(e.value) == (
        "confirm.not_required_for: no skill called 'zapp' (skills that ask first and may be named here: zap)."
    )
    make_gate(plan_registry, tmp_path, [], not_required={"zap"})  # a consequential, waivable skill is fine
