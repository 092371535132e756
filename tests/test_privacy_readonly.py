"""A read-only or full data folder: one clear message per command, no traceback, nothing lost.

Never the advice to move a healthy database aside, either.

The folder is a real file system: as root (who ignores permission bits) a small tmpfs,
remounted read-only or filled up; as another user, a folder with mode 0500.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import hark_env, run_hark
from tests.support.speech import speech_file
from tests.support.tasks import open_task_texts
from tests.test_terminal import seed

ROOT_USER = os.geteuid() == 0


@contextlib.contextmanager
def data_folder(path: Path) -> Iterator[Path]:
    """A fresh folder for Hark's data; as root, its own 2 MB tmpfs."""
    path.mkdir(parents=True)
    if ROOT_USER:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(path)], check=True)
    try:
        yield path
    finally:
        if ROOT_USER:
            subprocess.run(["umount", "-l", str(path)], check=False)
        else:
            path.chmod(0o700)


def make_read_only(path: Path) -> None:
    if ROOT_USER:
        subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)
    else:
        path.chmod(0o500)


def make_writable(path: Path) -> None:
    if ROOT_USER:
        subprocess.run(["mount", "-o", "remount,rw", str(path)], check=True)
    else:
        path.chmod(0o700)


def fill_up(path: Path) -> Path:
    filler = path / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prepared(folder: Path) -> dict[str, str]:
    """Tasks and an audit record, as a user would have them; returns the environment for `hark`."""
    seed(folder, "buy milk", "call mom")
    (folder / "audit.jsonl").write_text(
        json.dumps(
            {
                "time": "2026-11-30T10:00:00+00:00",
                "skill": "add_task",
                "arguments": {"item": "buy milk"},
                "transcript": "add buy milk to my list",
                "confirmation": "spoken yes: 'yes'",
            }
        )
        + "\n"
    )
    return hark_env(HARK_DATA_DIR=str(folder), OLLAMA_HOST="http://127.0.0.1:9", COLUMNS="200")


COMMANDS = [
    ("ask", "--quiet", "what time is it"),
    ("ask", "--quiet", "add eggs to my list"),
    ("run", "--input", str(speech_file("cmu_goforward.wav")), "--output", "/dev/null"),
    ("listen", "--input-device", "no-such-microphone"),
    ("tasks", "list"),
    ("tasks", "add", "eggs"),
    ("tasks", "done", "1"),
    ("tasks", "delete", "1"),
    ("tasks", "undo"),
    ("tasks", "export"),
]


def assert_one_clear_message(r: subprocess.CompletedProcess, what: str, args: tuple) -> None:
    assert r.returncode == 1, (args, r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, (args, r.stderr)
    assert what in lines[0] and "HARK_DATA_DIR" in lines[0], (args, lines[0])
    assert "Traceback" not in r.stderr and "aside" not in r.stderr + r.stdout, (args, r.stderr)


def test_read_only_data_folder(tmp_path):
    with data_folder(tmp_path / "data") as folder:
        env = prepared(folder)
        before = digest(folder / "hark.db")
        make_read_only(folder)
        try:
            for args in COMMANDS:
                r = run_hark(*args, env=env)
                what = "read-only file system" if ROOT_USER else "is not writable"
                assert_one_clear_message(r, what, args)
                assert "Make it writable" in r.stderr
            # Reading the audit log needs no writing: it just works.
            history = run_hark("history", env=env)
            assert history.returncode == 0 and "add_task" in history.stdout, history.stderr
            assert "Traceback" not in history.stderr
        finally:
            make_writable(folder)
        assert digest(folder / "hark.db") == before
        assert open_task_texts(folder) == ["buy milk", "call mom"]


@pytest.mark.skipif(not ROOT_USER, reason="filling a file system needs a tmpfs mount (root)")
def test_full_data_folder(tmp_path):
    with data_folder(tmp_path / "data") as folder:
        env = prepared(folder)
        before = digest(folder / "hark.db")
        filler = fill_up(folder)
        for args in (COMMANDS[0], COMMANDS[4], COMMANDS[5], COMMANDS[3]):
            r = run_hark(*args, env=env)
            assert_one_clear_message(r, "is full", args)
            assert "Free some space" in r.stderr
        history = run_hark("history", env=env)
        assert history.returncode == 0 and "add_task" in history.stdout, history.stderr
        filler.unlink()
        assert digest(folder / "hark.db") == before
        assert open_task_texts(folder) == ["buy milk", "call mom"]
        assert not list(folder.glob(".hark-write-test-*"))  # the probe leaves nothing behind


def test_doctor_names_the_read_only_folder(tmp_path):
    with data_folder(tmp_path / "data") as folder:
        env = prepared(folder)
        make_read_only(folder)
        try:
            r = run_hark("doctor", "--json", env=env)
        finally:
            make_writable(folder)
    check = {c["name"]: c for c in map(json.loads, r.stdout.splitlines())}["data directory"]
    assert not check["ok"] and not check["warning"] and "HARK_DATA_DIR" in check["fix"]
    assert r.returncode == 1 and "Traceback" not in r.stderr
