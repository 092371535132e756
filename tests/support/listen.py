"""`hark listen --json` as a subprocess on real devices, with its events read on a thread.

Used by the live tests (tests/test_live.py, test_guard_mic.py, test_wyoming.py): start it with a
PulseAudio client environment (`Pulse.client_env`), wait for named events, stop it with Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

from tests.support.cli import HARK
from tests.support.paths import ROOT


class HarkProcess:
    """`hark listen --json` as a subprocess, with its events read on a thread."""

    def __init__(self, env: dict, config: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [*HARK, "listen", "--json", "--config", str(config), *extra],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: queue.Queue[dict] = queue.Queue()
        self.seen: list[dict] = []
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.events.put(json.loads(line))

    def wait_for(self, name: str, timeout: float = 60, **match) -> dict:
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                e = self.events.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise AssertionError(
                        f"hark exited ({self.proc.returncode}): {''.join(self.stderr)[-2000:]}"
                    ) from None
                continue
            self.seen.append(e)
            if e["event"] == name and all(e.get(k) == v for k, v in match.items()):
                return e
        raise AssertionError(
            f"no {name} event within {timeout}s; saw {[x['event'] for x in self.seen]}; "
            f"stderr: {''.join(self.stderr)[-2000:]}"
        )

    def drain(self, seconds: float) -> list[dict]:
        """Everything emitted in the next `seconds`."""
        out = []
        deadline = time.time() + seconds
        while time.time() < deadline:
            with contextlib.suppress(queue.Empty):
                out.append(self.events.get(timeout=0.1))
        self.seen += out
        return out

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
