"""`confirm.not_required_for` can't waive a delete, an undo or a command, nor name a skill that doesn't exist.

The registry is only known once the skills are loaded, so the check runs where
the gate is built; from the command line it is one clear error, no traceback.
"""

from __future__ import annotations

import pytest

from skills.gate import check_not_required
from skills.registry import SkillRegistry
from tests.support.cli import run_hark
from voice.config import ConfigError


@pytest.fixture(scope="module")
def registry() -> SkillRegistry:
    return SkillRegistry.default()


@pytest.mark.parametrize("name", ["delete_task", "clear_tasks", "undo_last_change"])
def test_always_confirmed_task_skills_can_not_be_waived(registry, name):
    with pytest.raises(ConfigError) as e:
        check_not_required(["add_task", name], registry)
    message = str(e.value)
    assert message.startswith(f"confirm.not_required_for: '{name}' ")
    assert message.endswith(", so it is always confirmed; remove it.") and "\n" not in message


def test_the_reason_says_what_the_skill_does(registry):
    with pytest.raises(ConfigError) as e:
        check_not_required(["clear_tasks"], registry)
    assert str(e.value) == (
        "confirm.not_required_for: 'clear_tasks' deletes every task on one list, open and "
        "finished ones alike, so it is always confirmed; remove it."
    )


def test_an_unknown_name_is_an_error_that_lists_the_names_that_may_be_used(registry):
    with pytest.raises(ConfigError) as e:
        check_not_required(["helo"], registry)
    message = str(e.value)
    assert message.startswith(
        "confirm.not_required_for: no skill called 'helo' (skills that ask first and may be named here: "
    )
    named = message.split("named here: ")[1].rstrip(").").split(", ")
    assert {"add_task", "take_note"} <= set(named)
    assert not {"delete_task", "clear_tasks", "undo_last_change"} & set(named)


def test_waivable_names_pass(registry):
    assert check_not_required(["add_task", "take_note"], registry) == {"add_task", "take_note"}


def test_hark_ask_reports_it_in_one_message_without_a_traceback(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("confirm:\n  not_required_for: [clear_tasks]\n")
    done = run_hark("ask", "--quiet", "--config", str(config), "clear my to do list")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "│" not in done.stderr, done.stderr
    said = " ".join(done.stderr.split())  # the terminal may wrap a long line
    assert (
        "hark: confirm.not_required_for: 'clear_tasks' deletes every task on one list, open and finished ones "
        "alike, so it is always confirmed; remove it."
    ) in said
