"""Timer firing: only the live loop fires, and a timer is fired only once its announcement was played.

Real threads, real SQLite files in tmp_path, real child processes for the crash case.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import skills.timers as timers
from skills.registry import SkillContext, SkillRegistry
from skills.timer_service import CLAIM_LEASE_S, TimerService
from skills.timers import on_start, service_for
from tests.support.paths import ROOT
from tests.support.polling import wait_for
from voice.config import Config


def states(path: Path) -> dict[str, str]:
    db = sqlite3.connect(path)
    try:
        return {name or text: state for name, text, state in db.execute("SELECT name, text, state FROM timers")}
    finally:
        db.close()


class Speaker:
    """An announce(text, on_played) that holds the words until the test 'plays' them."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, Callable[[], None]]] = []

    def __call__(self, text: str, on_played: Callable[[], None] | None = None) -> None:
        self.queued.append((text, on_played or (lambda: None)))

    @property
    def texts(self) -> list[str]:
        return [t for t, _ in self.queued]

    def play_all(self) -> None:
        for _, on_played in self.queued:
            on_played()


def test_a_one_shot_process_never_fires_a_due_timer(tmp_path):
    # `hark ask` / `hark run`: the registry starts every module, but the context is not live.
    speaker = Speaker()
    ctx = SkillContext(config=Config(), data_dir=tmp_path, announce=speaker, live=False)
    try:
        service_for(ctx).add_timer(timedelta(seconds=0.1), "tea")
        registry = SkillRegistry()
        registry.add_module(timers)
        registry.start(ctx)
        time.sleep(0.5)
        assert not service_for(ctx).running
        assert speaker.queued == []
    finally:
        ctx.close()
    assert states(tmp_path / "timers.db") == {"tea": "running"}  # still due: the live loop will say it

    # ...and the next live start says it, as missed.
    live_speaker = Speaker()
    live = SkillContext(config=Config(), data_dir=tmp_path, announce=live_speaker, live=True)
    try:
        on_start(live)
        assert wait_for(lambda: live_speaker.queued)
        assert live_speaker.texts == ["While I was away, your tea timer finished."]
    finally:
        live.close()


def test_a_live_timer_is_fired_only_after_its_announcement_was_played(tmp_path):
    speaker = Speaker()
    ctx = SkillContext(config=Config(), data_dir=tmp_path, announce=speaker, live=True)
    try:
        on_start(ctx)
        service_for(ctx).add_timer(timedelta(seconds=0.2), "pizza")
        assert wait_for(lambda: speaker.queued)
        assert speaker.texts == ["Your pizza timer is done."]
        time.sleep(0.3)
        assert states(tmp_path / "timers.db") == {"pizza": "claimed"}  # said to the loop, not yet heard
        assert service_for(ctx).active() == []  # no longer counts down, and is never announced twice
        speaker.play_all()
        assert states(tmp_path / "timers.db") == {"pizza": "fired"}
        time.sleep(0.2)
        assert speaker.texts == ["Your pizza timer is done."]
    finally:
        ctx.close()


def test_a_claim_never_played_is_announced_by_the_next_start(tmp_path):
    path = tmp_path / "timers.db"
    first_speaker = Speaker()
    first = TimerService(path, first_speaker)
    first.start()
    first.add_reminder("call mom", datetime.now() + timedelta(seconds=0.2))
    assert wait_for(lambda: first_speaker.queued)
    first.close()  # Hark stopped before it could speak
    assert states(path) == {"call mom": "running"}

    second_speaker = Speaker()
    second = TimerService(path, second_speaker)
    second.start()
    try:
        assert wait_for(lambda: second_speaker.queued)
        assert second_speaker.texts == ["While I was away, a reminder came due: call mom."]
        second_speaker.play_all()
        assert states(path) == {"call mom": "fired"}
    finally:
        second.close()
    first_speaker.play_all()  # a late callback from the stopped service changes nothing
    assert states(path) == {"call mom": "fired"}


_CLAIM_AND_DIE = """
import os, sys, time
from datetime import timedelta
from skills.timer_service import TimerService
service = TimerService(sys.argv[1], lambda text, on_played: print("claimed", text, flush=True))
service.add_timer(timedelta(seconds=0.1), "bread")
service.start()
time.sleep(30)  # killed while the announcement waits to be spoken
"""


def test_a_crash_between_claim_and_speech_loses_nothing(tmp_path):
    path = tmp_path / "timers.db"
    child = subprocess.Popen(
        [sys.executable, "-c", _CLAIM_AND_DIE, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().startswith("claimed Your bread timer is done.")
        assert states(path) == {"bread": "claimed"}
        # While the claiming process lives, another live Hark leaves its claim alone.
        bystander_speaker = Speaker()
        bystander = TimerService(path, bystander_speaker)
        bystander.start()
        time.sleep(0.3)
        bystander.close()
        assert bystander_speaker.queued == []
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        child.stdout.close()
    assert states(path) == {"bread": "claimed"}  # the crash left the claim behind

    speaker = Speaker()
    service = TimerService(path, speaker)
    service.start()
    try:
        assert wait_for(lambda: speaker.queued)
        assert speaker.texts == ["While I was away, your bread timer finished."]
        speaker.play_all()
        assert states(path) == {"bread": "fired"}
    finally:
        service.close()


def test_an_expired_lease_is_taken_over(tmp_path):
    # A claim by a process on another machine (shared data folder) or a hung one: only the lease tells.
    path = tmp_path / "timers.db"
    now = [time.time()]
    writer = TimerService(path, Speaker(), clock=lambda: now[0])
    t = writer.add_timer(timedelta(seconds=1), "soup")
    writer.close()
    db = sqlite3.connect(path)
    db.execute(
        "UPDATE timers SET state = 'claimed', claimed_by = 'elsewhere:1:x', claim_until = ? WHERE id = ?",
        (now[0] + CLAIM_LEASE_S, t.id),
    )
    db.commit()
    db.close()
    early = Speaker()
    service = TimerService(path, early, clock=lambda: now[0] + 5)
    service.start()
    time.sleep(0.2)
    service.close()
    assert early.queued == []  # the lease still holds
    late = Speaker()
    service = TimerService(path, late, clock=lambda: now[0] + CLAIM_LEASE_S + 1)
    service.start()
    try:
        assert wait_for(lambda: late.queued)
        assert late.texts == ["While I was away, your soup timer finished."]
    finally:
        service.close()


def test_a_plain_announce_counts_as_played_when_it_returns(tmp_path):
    heard: list[str] = []
    service = TimerService(tmp_path / "timers.db", heard.append)
    service.start()
    try:
        service.add_timer(timedelta(seconds=0.1), "egg")
        assert wait_for(lambda: heard)
        assert wait_for(lambda: states(tmp_path / "timers.db") == {"egg": "fired"})
    finally:
        service.close()


def test_a_database_from_before_claims_is_upgraded(tmp_path):
    path = tmp_path / "timers.db"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE timers (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('timer', 'reminder')),
            name TEXT, text TEXT, duration_s REAL NOT NULL, due_at REAL, remaining_s REAL,
            state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'fired', 'cancelled')),
            created_at REAL NOT NULL, ended_at REAL
        );
        CREATE INDEX timers_due ON timers(state, due_at);
    """)
    db.execute(
        "INSERT INTO timers(kind, name, duration_s, due_at, state, created_at) VALUES "
        "('timer', 'old', 1, ?, 'running', ?)",
        (time.time() - 5, time.time() - 6),
    )
    db.commit()
    db.close()
    speaker = Speaker()
    service = TimerService(path, speaker)
    service.start()
    try:
        assert wait_for(lambda: speaker.queued)
        assert speaker.texts == ["While I was away, your old timer finished."]
        speaker.play_all()
        assert states(path) == {"old": "fired"}
        assert service.add_timer(timedelta(minutes=1), "new").id == 2
    finally:
        service.close()
