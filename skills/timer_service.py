"""The timer store and clock: timers and reminders that survive a restart and fire while Hark is idle.

State lives in its own SQLite file, `<data dir>/timers.db` (not the task
store's `hark.db`: that file's schema version belongs to the task store, and
timers change every few seconds while tasks rarely do).  Times are stored as
Unix epoch seconds, so a timer keeps its length across a restart and a clock
change of the local zone does not move it.

One daemon thread sleeps on a Condition until the next due time (capped at
30 s so a timer added by another Hark process or a laptop waking from sleep is
noticed) and calls `announce(text)` for each one that is due.  Firing
claims the row first (`UPDATE ... WHERE state = 'running'`), so two processes
sharing the file never announce the same timer twice.  The spoken skills on
top of it are in `skills/timers.py`.
"""

from __future__ import annotations

import logging
import math
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Optional

from skills.registry import SkillError
from skills.when import speak_duration
from voice.text import spoken_list

log = logging.getLogger("hark.timers")

TIMER = "timer"
REMINDER = "reminder"
RUNNING, PAUSED, FIRED, CANCELLED = "running", "paused", "fired", "cancelled"
# Longest wait between looks at the database (another process may have added a timer).
MAX_SLEEP_S = 30.0
MAX_TIMER = timedelta(days=7)
MAX_REMINDER_CHARS = 300
ERROR_RETRY_S = 1.0
# Finished and cancelled rows are kept this long (to see what happened when something seems off), then pruned.
KEEP_ENDED_S = 7 * 24 * 3600

_SCHEMA = """
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('timer', 'reminder')),
    name TEXT,                 -- a timer's name ("pizza"); NULL for an unnamed timer
    text TEXT,                 -- a reminder's words ("call mom")
    duration_s REAL NOT NULL,  -- a timer's length as set (names unnamed timers: "your 10 minute timer")
    due_at REAL,               -- epoch seconds; NULL while paused
    remaining_s REAL,          -- seconds left while paused
    state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'fired', 'cancelled')),
    created_at REAL NOT NULL,
    ended_at REAL
);
CREATE INDEX IF NOT EXISTS timers_due ON timers(state, due_at);
"""
_COLUMNS = "id, kind, name, text, duration_s, due_at, remaining_s, state, created_at"


@dataclass(frozen=True)
class Timer:
    """A timer or a reminder as stored."""

    id: int
    kind: str
    name: Optional[str]
    text: Optional[str]
    duration_s: float
    due_at: Optional[float]
    remaining_s: Optional[float]
    state: str
    created_at: float

    @property
    def is_reminder(self) -> bool:
        return self.kind == REMINDER

    @property
    def paused(self) -> bool:
        return self.state == PAUSED

    def seconds_left(self, now: float) -> float:
        if self.state == PAUSED:
            return max(0.0, self.remaining_s or 0.0)
        return max(0.0, (self.due_at or now) - now)

    @property
    def label(self) -> str:
        """How the timer is named in speech: 'pizza timer', '10 minute timer', 'timer for 1 hour and 30 minutes'."""
        if self.is_reminder:
            return f"reminder to {self.text}"
        if self.name:
            return self.name if re.search(r"\btimer$", self.name) else f"{self.name} timer"
        spoken = speak_duration(timedelta(seconds=round(self.duration_s)))
        m = re.fullmatch(r"(\S+) (second|minute|hour|day)s?", spoken)
        if not m:
            return f"timer for {spoken}"
        count = "one" if m.group(1).lower() in ("a", "an", "1") else m.group(1)
        return f"{count} {m.group(2)} timer"


def _row(row: tuple) -> Timer:
    return Timer(*row)


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def rounded_left(seconds: float) -> timedelta:
    """Time left as people say it: seconds under ten minutes, whole minutes above."""
    if seconds <= 0:
        return timedelta(0)
    if seconds < 600:
        return timedelta(seconds=math.ceil(seconds - 0.05))  # 9.98 s left is "10 seconds"
    return timedelta(minutes=round(seconds / 60))


def announcement(t: Timer) -> str:
    """What Hark says when a timer or reminder comes due."""
    if t.is_reminder:
        return f"Reminder: {t.text}."
    return f"Your {t.label} is done."


def away_announcement(missed: list[Timer]) -> str:
    """One sentence for everything that came due while Hark was not running."""
    parts = [f"a reminder came due: {t.text}" if t.is_reminder else f"your {t.label} finished" for t in missed]
    if len(missed) == 1:
        return f"While I was away, {parts[0]}."
    return f"While I was away, {len(missed)} things came due: " + spoken_list(parts) + "."


def describe_left(t: Timer, now: float) -> str:
    """'pizza timer, 4 minutes left' / 'tea timer, paused with 2 minutes left'."""
    left = speak_duration(rounded_left(t.seconds_left(now)))
    if t.paused:
        return f"{t.label}, paused with {left} left"
    if t.seconds_left(now) <= 0:
        return f"{t.label}, finishing now"
    return f"{t.label}, {left} left"


class TimerService:
    """Timers and reminders in SQLite, fired by one background thread."""

    def __init__(self, path: Path, announce: Callable[[str], None], clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path).expanduser()
        self._announce = announce
        self._clock = clock
        self._cond = threading.Condition(threading.RLock())
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        self._missed: list[Timer] = []
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=10, isolation_level=None, check_same_thread=False)
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "DELETE FROM timers WHERE state IN ('fired', 'cancelled') AND ended_at < ?",
                (self._clock() - KEEP_ENDED_S,),
            )
        except (sqlite3.DatabaseError, OSError) as e:
            raise SkillError(
                f"I can't open the timer database at {self.path}: {e}. "
                "If the file is damaged, move it aside and Hark will start a new one."
            ) from e

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start firing. Whatever came due while Hark was not running is announced first, at once."""
        with self._cond:
            if self._thread is not None or self._closed:
                return
            self._missed = self._claim_due(self._clock())
            self._thread = threading.Thread(target=self._run, name="hark-timers", daemon=True)
            self._thread.start()

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        with self._cond:
            self._db.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        missed, self._missed = self._missed, []
        if missed:
            self._say(away_announcement(missed))
        while True:
            with self._cond:
                if self._closed:
                    return
                try:
                    due = self._claim_due(self._clock())
                    next_at = None if due else self._next_due_at()
                except sqlite3.Error:  # e.g. locked by another process for too long: try again soon
                    log.exception("reading %s failed; retrying", self.path)
                    self._cond.wait(ERROR_RETRY_S)
                    continue
                if not due:
                    wait = MAX_SLEEP_S if next_at is None else min(MAX_SLEEP_S, max(0.0, next_at - self._clock()))
                    self._cond.wait(wait)
                    continue
            # Speak outside the lock: the voice loop may call back into the service while speaking.
            for t in due:
                self._say(announcement(t))

    def _say(self, text: str) -> None:
        try:
            self._announce(text)
        except Exception:  # a broken speaker must not stop the timers
            log.exception("announcing %r failed", text)

    def _claim_due(self, now: float) -> list[Timer]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM timers WHERE state = 'running' AND due_at <= ? ORDER BY due_at, id", (now,)
        ).fetchall()
        claimed = []
        for r in rows:
            cur = self._db.execute(
                "UPDATE timers SET state = 'fired', ended_at = ? WHERE id = ? AND state = 'running' AND due_at <= ?",
                (now, r[0], now),
            )
            if cur.rowcount:  # another Hark process may have claimed it first
                claimed.append(_row(r))
        return claimed

    def _next_due_at(self) -> Optional[float]:
        row = self._db.execute("SELECT MIN(due_at) FROM timers WHERE state = 'running'").fetchone()
        return None if row is None else row[0]

    def _changed(self) -> None:
        self._cond.notify_all()

    # ---- reading --------------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock()

    def get(self, timer_id: int) -> Timer:
        with self._cond:
            row = self._db.execute(f"SELECT {_COLUMNS} FROM timers WHERE id = ?", (timer_id,)).fetchone()
        if row is None:
            raise SkillError(f"There is no timer number {timer_id}.")
        return _row(row)

    def active(self, kind: Optional[str] = None) -> list[Timer]:
        """Running and paused timers/reminders, soonest first (paused ones by time left)."""
        with self._cond:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM timers WHERE state IN ('running', 'paused') ORDER BY id"
            ).fetchall()
        now = self._clock()
        items = [_row(r) for r in rows if kind is None or r[1] == kind]
        return sorted(items, key=lambda t: (t.seconds_left(now), t.id))

    # ---- changing -------------------------------------------------------------------------------

    def add_timer(self, duration: timedelta, name: Optional[str] = None) -> Timer:
        seconds = duration.total_seconds()
        if seconds <= 0:
            raise SkillError("A timer needs a length above zero, like 10 minutes.")
        if duration > MAX_TIMER:
            raise SkillError("That's longer than a week. For something that far off, set a reminder instead.")
        return self._insert(TIMER, name, None, seconds, self._clock() + seconds)

    def add_reminder(self, text: str, due: datetime) -> Timer:
        text = " ".join(text.split())
        if not text:
            raise SkillError("What should I remind you about? Say, for example: remind me to call mom at 5 PM.")
        if len(text) > MAX_REMINDER_CHARS:
            raise SkillError(f"That reminder is too long; keep it under {MAX_REMINDER_CHARS} characters.")
        return self._insert(REMINDER, None, text, 0.0, due.timestamp())

    def _insert(self, kind: str, name: Optional[str], text: Optional[str], duration_s: float, due_at: float) -> Timer:
        with self._cond:
            cur = self._db.execute(
                "INSERT INTO timers(kind, name, text, duration_s, due_at, state, created_at) VALUES (?, ?, ?, ?, ?, 'running', ?)",
                (kind, name, text, duration_s, due_at, self._clock()),
            )
            self._changed()
            return self.get(int(cur.lastrowid))  # type: ignore[arg-type]

    def pause(self, timer_id: int) -> Timer:
        with self._cond:
            t = self.get(timer_id)
            if t.state != RUNNING:
                raise SkillError(f"Your {t.label} is not running.")
            self._db.execute(
                "UPDATE timers SET state = 'paused', remaining_s = ?, due_at = NULL WHERE id = ?",
                (t.seconds_left(self._clock()), timer_id),
            )
            self._changed()
            return self.get(timer_id)

    def resume(self, timer_id: int) -> Timer:
        with self._cond:
            t = self.get(timer_id)
            if t.state != PAUSED:
                raise SkillError(f"Your {t.label} is not paused.")
            self._db.execute(
                "UPDATE timers SET state = 'running', due_at = ?, remaining_s = NULL WHERE id = ?",
                (self._clock() + (t.remaining_s or 0.0), timer_id),
            )
            self._changed()
            return self.get(timer_id)

    def adjust(self, timer_id: int, delta: timedelta) -> Timer:
        """Add (positive) or take off (negative) time; refuses to take off more than is left."""
        with self._cond:
            t = self.get(timer_id)
            if t.state not in (RUNNING, PAUSED):
                raise SkillError(f"Your {t.label} has already finished.")
            left = t.seconds_left(self._clock()) + delta.total_seconds()
            if left <= 0:
                raise SkillError(
                    f"Your {t.label} has only {speak_duration(rounded_left(t.seconds_left(self._clock())))} left, "
                    f"so I can't take {speak_duration(-delta)} off. Say cancel the timer to stop it."
                )
            if left > MAX_TIMER.total_seconds():
                raise SkillError("That would make the timer longer than a week, so I left it as it was.")
            if t.state == PAUSED:
                self._db.execute("UPDATE timers SET remaining_s = ? WHERE id = ?", (left, timer_id))
            else:
                self._db.execute("UPDATE timers SET due_at = ? WHERE id = ?", (self._clock() + left, timer_id))
            self._changed()
            return self.get(timer_id)

    def cancel(self, timer_id: int) -> Timer:
        with self._cond:
            t = self.get(timer_id)
            cur = self._db.execute(
                "UPDATE timers SET state = 'cancelled', ended_at = ? WHERE id = ? AND state IN ('running', 'paused')",
                (self._clock(), timer_id),
            )
            if not cur.rowcount:
                raise SkillError(f"Your {t.label} has already finished.")
            self._changed()
            return t

    def cancel_all(self, kind: str) -> list[Timer]:
        with self._cond:
            items = self.active(kind)
            self._db.executemany(
                "UPDATE timers SET state = 'cancelled', ended_at = ? WHERE id = ? AND state IN ('running', 'paused')",
                [(self._clock(), t.id) for t in items],
            )
            self._changed()
            return items
