"""A measured child process (`hark listen --json`, the plain loop): its events, its threads' CPU, stopping it.

Each event comes with the moment its line was read, which places the child's clock on ours.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class HarkEvents:
    """A child's JSON-lines events, read on a thread: every event with the monotonic time it was read."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            now = time.monotonic()
            if not line.startswith("{"):
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            with self.cond:
                self.events.append((now, event))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, test: Callable[[dict[str, Any]], bool], since: int, timeout: float) -> int | None:
        """Index of the first event from `since` on that passes `test`, or None on timeout or exit."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(since, len(self.events)):
                    if test(self.events[i][1]):
                        return i
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return None
                self.cond.wait(min(left, 0.2))

    def clock_offset(self) -> float:
        """The child's event time `t` is monotonic seconds since its own start; this maps it onto ours.

        Each line is read a little after it is written, never before, so the smallest gap is the best estimate.
        """
        return min(read - e["t"] for read, e in self.events)


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGINT, timeout: float = 20) -> int | None:
    """Interrupt a child as Ctrl-C would, kill it if it does not exit in time; its exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def thread_split(proc: Any, before: dict[int, float], seconds: float) -> dict[str, Any]:
    """Where an idle process's CPU went, per OS thread (Python threads all show as "python")."""
    used = []
    for t in proc.threads():
        pct = (t.user_time + t.system_time - before.get(t.id, 0.0)) / seconds * 100
        try:
            name = Path(f"/proc/{proc.pid}/task/{t.id}/comm").read_text().strip()
        except OSError:
            name = "?"
        used.append((pct, name))
    used.sort(reverse=True)
    return {
        "threads": len(used),
        "busy": sum(1 for pct, _ in used if pct >= 0.1),
        "pulse_plugin": sum(pct for pct, name in used if name == "threaded-ml"),
        "top": used[:3],
    }
