"""Hark's command line as a subprocess, run from the repository root as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.paths import ROOT

HARK = [sys.executable, "-m", "voice.cli"]


def hark_env(**extra: str) -> dict[str, str]:
    """This process's environment with the repository importable, plus `extra`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run_hark(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `hark ARGS...` to completion and capture its output as text."""
    return subprocess.run(
        [*HARK, *args], cwd=ROOT, env=env or hark_env(), capture_output=True, text=True, timeout=timeout, input=input
    )
