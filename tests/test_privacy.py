"""Private by default: Hark's data folder is 0700 and every file Hark writes in it is 0600.

Checked on real files after real commands (the `hark` process sets umask 077 and tightens
the folder), including SQLite's -wal/-shm files while a database is open.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

from tests.support.cli import hark_env, run_hark
from tests.support.paths import ROOT
from tests.support.speech import speech_file
from tests.support.tasks import open_task_texts
from tests.test_terminal import PROMPT, TerminalSession


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_everything_hark_writes_is_private(_data_dir, tmp_path):
    _data_dir.mkdir(mode=0o755)
    _data_dir.chmod(0o755)  # an existing folder from before, readable by everyone
    env = hark_env(HARK_DATA_DIR=str(_data_dir), OLLAMA_HOST="http://127.0.0.1:9")

    added = run_hark("tasks", "add", "buy oat milk", env=env)
    assert added.returncode == 0, added.stderr
    assert mode(_data_dir) == 0o700  # tightened
    assert run_hark("ask", "--quiet", "set a timer for 10 minutes", env=env).returncode == 0

    # A confirmation typed at a terminal: while Hark waits, the task database is open (WAL mode).
    session = TerminalSession("ask", "--quiet", "delete all my tasks", env=env)
    session.wait_for(PROMPT)
    open_files = {p.name: mode(p) for p in _data_dir.iterdir() if p.name.startswith("hark.db")}
    assert {"hark.db", "hark.db-wal", "hark.db-shm"} <= set(open_files), open_files
    assert set(open_files.values()) == {0o600}, open_files
    session.type("yes\n")
    assert session.finish() == 0, session.stderr
    assert open_task_texts(_data_dir) == []

    # A note, and a turn from a file with debug recording on (a kept WAV), confirmed by a spoken yes.
    config = tmp_path / "c.yaml"
    config.write_text("debug:\n  record_audio: true\nlogging:\n  level: DEBUG\n")
    noted = run_hark(
        "ask",
        "--quiet",
        "note that the printer needs toner",
        "--answers",
        str(speech_file("speechcommands_yes.wav")),
        "--config",
        str(config),
        env=env,
    )
    assert noted.returncode == 0, noted.stderr

    written = {p.relative_to(_data_dir).as_posix(): mode(p) for p in _data_dir.rglob("*")}
    for name in ("hark.db", "timers.db", "audit.jsonl", "notes.md", "logs/hark.log", "logs", "recordings"):
        assert name in written, (name, sorted(written))
    assert any(n.startswith("recordings/") and n.endswith(".wav") for n in written)
    for name, m in written.items():
        expected = 0o700 if (_data_dir / name).is_dir() else 0o600
        assert m == expected, f"{name} is {m:o}, not {expected:o}"


def test_a_shared_folder_is_not_tightened(tmp_path):
    """HARK_DATA_DIR pointing at a shared sticky folder (like /tmp) must not lock others out of it."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    r = run_hark("tasks", "add", "water the plants", env=hark_env(HARK_DATA_DIR=str(shared)))
    assert r.returncode == 0, r.stderr
    assert mode(shared) == 0o1777
    assert mode(shared / "hark.db") == 0o600


def test_doctor_reports_a_folder_others_can_read(_data_dir):
    """The folder is tightened on every start, so doctor sees it private; a shared one is a warning."""
    import json

    env = hark_env(HARK_DATA_DIR=str(_data_dir), OLLAMA_HOST="http://127.0.0.1:9")
    r = run_hark("doctor", "--json", env=env)
    checks = {c["name"]: c for c in map(json.loads, r.stdout.splitlines())}
    assert checks["data directory"]["ok"], checks["data directory"]
    _data_dir.chmod(0o1777)
    r = run_hark("doctor", "--json", env=env)
    check = {c["name"]: c for c in map(json.loads, r.stdout.splitlines())}["data directory"]
    assert not check["ok"] and check["warning"] and "other users can read it" in check["detail"]
    assert check["fix"] == f"chmod 700 {_data_dir}"


def test_the_threat_model_names_only_tests_that_exist():
    text = (ROOT / "docs" / "threat-model.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(test_\w+\.py)::(test_\w+)`", text))
    assert len(named) >= 30
    for file, test in sorted(named):
        source = (ROOT / "tests" / file).read_text(encoding="utf-8")
        assert re.search(rf"^def {test}\(", source, re.MULTILINE), f"{file}::{test} does not exist"


def test_the_privacy_section_names_only_real_config_keys():
    from voice.config import Config

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Privacy", 1)[1].split("\n## ", 1)[0]
    keys = set(re.findall(r"`([a-z]+\.[a-z_]+)(?:: [A-Za-z]+)?`", section))
    assert {"llm.use_proxy", "stt.download", "debug.record_audio", "logging.level", "llm.host"} <= keys
    for key in keys:  # `section.key` names (file names like `hark.db` have no config section)
        section_name, field = key.split(".")
        if section_name in Config.model_fields:
            assert field in Config.model_fields[section_name].annotation.model_fields, key
