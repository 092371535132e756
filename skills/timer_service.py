"""The timer store and clock: timers and reminders that survive a restart and fire while Hark is idle.

State lives in its own SQLite file, `<data dir>/timers.db` (not the task
store's `hark.db`: that file's schema version belongs to the task store, and
timers change every few seconds while tasks rarely do).  Times are stored as
Unix epoch seconds, so a timer keeps its length across a restart and a clock
change of the local zone does not move it.

Firing (only in the live loop: `start()` is called by `skills.timers.on_start`
when `ctx.live`).  One daemon thread sleeps on a Condition until the next due
time (capped at 30 s so a timer added by another Hark process or a laptop
waking from sleep is noticed).  A due row is first *claimed*
(`running -> claimed`, with this process as owner and a lease), then announced
with `announce(text, on_played)`; only `on_played()` marks it `fired`.  So:
- two processes sharing the file never announce the same timer twice (the
  claim is a compare-and-set);
- a claim whose owner died (its pid is gone, or its lease ran out) is taken
  over and announced at the next start, as "While I was away, ...": a crash
  between claim and speech loses nothing;
- a clean `close()` hands unplayed claims back.

Every change the user makes (start, cancel, pause, resume, adjust) is written
to the `changes` journal in the same transaction, so "undo that" can name it
and reverse it (`last_change()`, `undo()`).  Changes the user confirmed run
through the `*_exact` methods, which act on the ids in the confirmed plan or
raise `StateChanged` and change nothing.  The spoken skills are in
`skills/timers.py`.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import os
import re
import socket
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from skills.registry import SkillError, StateChanged
from skills.when import speak_duration, speak_when
from voice.text import spoken_list

log = logging.getLogger("hark.timers")

TIMER = "timer"
REMINDER = "reminder"
RUNNING, PAUSED, CLAIMED, FIRED, CANCELLED = "running", "paused", "claimed", "fired", "cancelled"
ACTIVE = (RUNNING, PAUSED)
# Longest wait between looks at the database (another process may have added a timer).
MAX_SLEEP_S = 30.0
# A claim not yet played stays this process's for this long; the owner renews it while it waits
# (announcements wait for an idle moment), so only a dead or hung owner loses it.
CLAIM_LEASE_S = 120.0
MAX_TIMER = timedelta(days=7)
MAX_REMINDER_CHARS = 300
ERROR_RETRY_S = 1.0
# Finished and cancelled rows (and journal entries) are kept this long, then pruned.
KEEP_ENDED_S = 7 * 24 * 3600
SCHEMA_VERSION = 1

_TIMERS_TABLE = """
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('timer', 'reminder')),
    name TEXT,                 -- a timer's name ("pizza"); NULL for an unnamed timer
    text TEXT,                 -- a reminder's words ("call mom")
    duration_s REAL NOT NULL,  -- a timer's length as set (names unnamed timers: "your 10 minute timer")
    due_at REAL,               -- epoch seconds; NULL while paused
    remaining_s REAL,          -- seconds left while paused
    state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'claimed', 'fired', 'cancelled')),
    created_at REAL NOT NULL,
    ended_at REAL,
    claimed_by TEXT,           -- 'host:pid:token' of the process announcing it (state 'claimed')
    claim_until REAL           -- the claim's lease
)
"""
_INDEX = "CREATE INDEX IF NOT EXISTS timers_due ON timers(state, due_at)"
_CHANGES_TABLE = """
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    action TEXT NOT NULL,      -- start, cancel, pause, resume, adjust
    items TEXT NOT NULL,       -- JSON: [{"id", "before": {...}, "after": {...}}]
    description TEXT NOT NULL, -- "cancelled the tea timer"
    undo_text TEXT NOT NULL,   -- "restart the tea timer with 4 minutes left"
    undone_at REAL
)
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



@dataclass(frozen=True)
class TimerChange:
    """One change the user made to timers or reminders, as "undo that" names it."""

    id: int
    at: float  # epoch seconds
    description: str    # "cancelled the tea timer"
    undo_text: str      # "restart the tea timer with 4 minutes left"
    undoable: bool
    why_not: str = ""


def takes_on_played(announce: Callable[..., None]) -> bool:
    try:
        inspect.signature(announce).bind("text", None)
        return True
    except (TypeError, ValueError):
        return False


def deliver(announce: Callable[..., None], text: str, on_played: Callable[[], None]) -> None:
    """Call `announce(text, on_played)`; a plain `announce(text)` counts as played when it returns."""
    if takes_on_played(announce):
        announce(text, on_played)
    else:
        announce(text)
        on_played()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (someone else's) or unknowable: trust the lease
    return True


def _snapshot(t: Timer, now: float) -> dict[str, Any]:
    return {"state": t.state, "due_at": t.due_at, "remaining_s": t.remaining_s, "left": t.seconds_left(now)}


def _left_words(seconds: float) -> str:
    return speak_duration(rounded_left(seconds))


class TimerService:
    """Timers and reminders in SQLite, fired by one background thread (in the live process only)."""

    def __init__(self, path: Path, announce: Callable[..., None], clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path).expanduser()
        self._announce = announce
        self._clock = clock
        self._cond = threading.Condition(threading.RLock())
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        self._missed: list[Timer] = []
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._pending: set[int] = set()  # claimed here, announced, not yet played
        self._ready = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=10, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as e:
            problem = self._problem(e, "open")
            raise SkillError(problem if problem.endswith(".") else problem + ".") from e
        try:
            self._migrate()
        except (sqlite3.Error, OSError) as e:
            self._db.close()
            problem = self._problem(e, "open")
            raise SkillError(problem if problem.endswith(".") else problem + ".") from e
        self._ready = True
        try:
            cutoff = self._clock() - KEEP_ENDED_S
            with self._tx():
                self._db.execute("DELETE FROM timers WHERE state IN ('fired', 'cancelled') AND ended_at < ?",
                                 (cutoff,))
                self._db.execute("DELETE FROM changes WHERE at < ?", (cutoff,))
        except SkillError:
            pass  # a read-only folder: timers can still be listed; changing one says why it can't

    def _problem(self, e: Exception, doing: str) -> str:
        """A speakable reason; only a damaged file gets the advice to move it aside."""
        text = str(e).lower()
        if isinstance(e, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
            return (f"I can't {doing} the timer database at {self.path}: {e}. "
                    "If the file is damaged, move it aside and Hark will start a new one.")
        if "full" in text:
            return f"I can't {doing} the timer database at {self.path}: the disk is full"
        if "readonly" in text or "read-only" in text or "permission" in text or isinstance(e, PermissionError):
            return f"I can't {doing} the timer database at {self.path}: its folder is read-only"
        return f"I can't {doing} the timer database at {self.path}: {e}"

    def _migrate(self) -> None:
        """Create the tables; a file from before claims and the journal gets its table rebuilt once."""
        if self._db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return  # nothing to write: a read-only folder can still be read
        with self._tx():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version >= SCHEMA_VERSION:
                return
            old = self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'timers'").fetchone()
            if old:  # SQLite can't widen a CHECK constraint: copy into a new table
                self._db.execute("DROP INDEX IF EXISTS timers_due")
                self._db.execute("ALTER TABLE timers RENAME TO timers_v0")
                self._db.execute(_TIMERS_TABLE)
                self._db.execute(f"INSERT INTO timers({_COLUMNS}, ended_at) SELECT {_COLUMNS}, ended_at FROM timers_v0")
                self._db.execute("DROP TABLE timers_v0")
            for statement in (_TIMERS_TABLE, _INDEX, _CHANGES_TABLE):
                self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _tx(self) -> Iterator[None]:
        """One write transaction (taken at once, so a check and its change see the same state)."""
        with self._cond:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:  # a full disk or read-only folder: a clear message, nothing changed
                if not self._ready:
                    raise  # while opening: __init__ says it
                log.warning("timer database write failed: %s", e)
                problem = self._problem(e, "write")
                raise SkillError(problem if problem.endswith(".") else problem + ", so nothing changed.") from e

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start firing. Whatever came due while no live Hark was running is announced first, at once."""
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
            try:  # claims never played go back: the next start announces them as missed
                self._db.execute(
                    "UPDATE timers SET state = 'running', claimed_by = NULL, claim_until = NULL "
                    "WHERE state = 'claimed' AND claimed_by = ?", (self._owner,))
            except sqlite3.Error:
                log.exception("handing back unplayed timer claims failed; the lease will expire instead")
            self._pending.clear()
            self._db.close()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        missed, self._missed = self._missed, []
        if missed:
            self._say(away_announcement(missed), missed)
        while True:
            with self._cond:
                if self._closed:
                    return
                try:
                    self._renew_claims()
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
                self._say(announcement(t), [t])

    def _say(self, text: str, items: Sequence[Timer]) -> None:
        ids = [t.id for t in items]
        with self._cond:
            self._pending.update(ids)
        try:
            deliver(self._announce, text, lambda: self._played(ids))
        except Exception:  # a broken speaker must not stop the timers; the claim's lease runs out and it is retried
            log.exception("announcing %r failed", text)
            with self._cond:
                self._pending.difference_update(ids)

    def _played(self, ids: Sequence[int]) -> None:
        """The announcement was heard: now (and only now) the rows are fired."""
        with self._cond:
            self._pending.difference_update(ids)
            if self._closed:
                return  # handed back at close: announced again at the next start rather than lost
            try:
                self._db.executemany(
                    "UPDATE timers SET state = 'fired', ended_at = ?, claimed_by = NULL, claim_until = NULL "
                    "WHERE id = ? AND state = 'claimed' AND claimed_by = ?",
                    [(self._clock(), i, self._owner) for i in ids],
                )
            except sqlite3.Error:
                log.exception("marking timers %s fired failed", ids)

    def _renew_claims(self) -> None:
        if self._pending:
            until = self._clock() + CLAIM_LEASE_S
            self._db.executemany(
                "UPDATE timers SET claim_until = ? WHERE id = ? AND state = 'claimed' AND claimed_by = ?",
                [(until, i, self._owner) for i in self._pending],
            )

    def _stale(self, owner: Optional[str], until: Optional[float], now: float) -> bool:
        if owner == self._owner:
            return False  # ours: renewed while pending; a failed announcement is retried when the lease ends
        if until is None or until <= now:
            return True
        host, _, rest = (owner or "").partition(":")
        pid = rest.partition(":")[0]
        return host == socket.gethostname() and pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid))

    def _claim_due(self, now: float) -> list[Timer]:
        """Claim every due running row, and every claim whose owner is gone (or whose lease ran out)."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS}, claimed_by, claim_until FROM timers "
            "WHERE (state = 'running' AND due_at <= ?) OR state = 'claimed' ORDER BY due_at, id", (now,)
        ).fetchall()
        until = now + CLAIM_LEASE_S
        claimed = []
        for r in rows:
            t, owner, lease = _row(r[:9]), r[9], r[10]
            if t.state == CLAIMED:
                if owner == self._owner and lease is not None and lease <= now and t.id not in self._pending:
                    pass  # our own failed announcement: try again
                elif not self._stale(owner, lease, now):
                    continue
                cur = self._db.execute(
                    "UPDATE timers SET claimed_by = ?, claim_until = ? WHERE id = ? AND state = 'claimed' "
                    "AND claimed_by IS ? AND claim_until IS ?", (self._owner, until, t.id, owner, lease))
            else:
                cur = self._db.execute(
                    "UPDATE timers SET state = 'claimed', claimed_by = ?, claim_until = ? "
                    "WHERE id = ? AND state = 'running' AND due_at <= ?", (self._owner, until, t.id, now))
            if cur.rowcount:  # another Hark process may have claimed it first
                claimed.append(t)
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

    # ---- the journal ----------------------------------------------------------------------------

    def _journal(self, action: str, items: list[dict[str, Any]], description: str, undo_text: str) -> None:
        self._db.execute(
            "INSERT INTO changes(at, action, items, description, undo_text) VALUES (?, ?, ?, ?, ?)",
            (self._clock(), action, json.dumps(items), description, undo_text),
        )

    def _last_row(self) -> Optional[tuple]:
        return self._db.execute(
            "SELECT id, at, action, items, description, undo_text FROM changes WHERE undone_at IS NULL "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()

    def last_change(self) -> Optional[TimerChange]:
        """The latest change the user made that was not undone yet, and whether it still can be."""
        with self._cond:
            row = self._last_row()
            if row is None:
                return None
            why_not, _ = self._why_not(row[2], json.loads(row[3]))
        return TimerChange(row[0], row[1], row[4], row[5], not why_not, why_not)

    def _why_not(self, action: str, items: list[dict[str, Any]]) -> tuple[str, bool]:
        """('', False) when the change can be reversed now, else (why not, whether its timers moved since)."""
        now = self._clock()
        for item in items:
            try:
                t = self.get(item["id"])
            except SkillError:
                return "that timer is gone.", True
            if t.state in (FIRED, CLAIMED):
                return f"the {t.label} already {'came due' if t.is_reminder else 'went off'}.", True
            if t.state != item["after"]["state"]:
                return f"the {t.label} has changed since.", True
            if action == "cancel" and t.is_reminder and (item["before"]["due_at"] or 0) <= now:
                due = datetime.fromtimestamp(item["before"]["due_at"] or now)
                said = speak_when(due, datetime.fromtimestamp(now))
                return f"the reminder to {t.text} was due {said}, which has passed.", False
            if action == "adjust" and t.seconds_left(now) - item["delta_s"] <= 0:
                return f"the {t.label} has only {_left_words(t.seconds_left(now))} left.", False
        return "", False

    def undo(self, change_id: int) -> str:
        """Reverse the change `change_id`, which must still be the last one; returns what was done (speakable).

        Raises StateChanged (nothing changed) if another change came after it or its timers moved
        since, and SkillError if it can't be undone (a timer that already went off).
        """
        with self._tx():
            row = self._last_row()
            if row is None or row[0] != change_id:
                raise StateChanged("Your timers changed while I was asking, so I undid nothing.")
            action, items = row[2], json.loads(row[3])
            why_not, moved = self._why_not(action, items)
            if why_not:
                raise (StateChanged if moved else SkillError)(f"I can't undo that: {why_not} So I changed nothing.")
            now = self._clock()
            for item in items:
                self._reverse(action, item, now)
            self._db.execute("UPDATE changes SET undone_at = ? WHERE id = ?", (now, change_id))
            self._changed()
        return _done_text(row[5])

    def _reverse(self, action: str, item: dict[str, Any], now: float) -> None:
        before = item["before"]
        if action == "start":
            self._db.execute("UPDATE timers SET state = 'cancelled', ended_at = ? WHERE id = ?", (now, item["id"]))
        elif action == "cancel":
            t = self.get(item["id"])
            if t.is_reminder:
                due, left = before["due_at"], None
            elif before["state"] == PAUSED:
                due, left = None, before["left"]
            else:
                due, left = now + before["left"], None
            self._db.execute(
                "UPDATE timers SET state = ?, due_at = ?, remaining_s = ?, ended_at = NULL WHERE id = ?",
                (before["state"], due, left, item["id"]))
        elif action == "pause":
            t = self.get(item["id"])
            self._db.execute("UPDATE timers SET state = 'running', due_at = ?, remaining_s = NULL WHERE id = ?",
                             (now + t.seconds_left(now), item["id"]))
        elif action == "resume":
            t = self.get(item["id"])
            self._db.execute("UPDATE timers SET state = 'paused', remaining_s = ?, due_at = NULL WHERE id = ?",
                             (t.seconds_left(now), item["id"]))
        elif action == "adjust":
            t = self.get(item["id"])
            self._set_left(t, t.seconds_left(now) - item["delta_s"], now)

    def _set_left(self, t: Timer, left: float, now: float) -> None:
        if t.state == PAUSED:
            self._db.execute("UPDATE timers SET remaining_s = ? WHERE id = ?", (left, t.id))
        else:
            self._db.execute("UPDATE timers SET due_at = ? WHERE id = ?", (now + left, t.id))

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
        with self._tx():
            cur = self._db.execute(
                "INSERT INTO timers(kind, name, text, duration_s, due_at, state, created_at) VALUES (?, ?, ?, ?, ?, 'running', ?)",
                (kind, name, text, duration_s, due_at, self._clock()),
            )
            t = self.get(int(cur.lastrowid))  # type: ignore[arg-type]
            now = self._clock()
            if t.is_reminder:
                what = f"set a reminder to {t.text}", f"delete the reminder to {t.text}"
            else:
                what = f"started the {t.label}", f"cancel the {t.label}"
            self._journal("start", [{"id": t.id, "before": None, "after": _snapshot(t, now)}], *what)
            self._changed()
            return t

    def _require(self, timer_id: int, expected: Optional[str]) -> Timer:
        """The timer; with `expected` (from a confirmed plan) it must still be in that state."""
        t = self.get(timer_id)
        if expected is not None and t.state != expected:
            raise StateChanged("Your timers changed while I was asking, so I changed nothing.")
        return t

    def pause(self, timer_id: int, expect_state: Optional[str] = None) -> Timer:
        """Pause a running timer. `expect_state` (from a confirmed plan): the state it must still be in."""
        with self._tx():
            t = self._require(timer_id, expect_state)
            if t.state != RUNNING:
                raise SkillError(f"Your {t.label} is not running.")
            now = self._clock()
            self._db.execute(
                "UPDATE timers SET state = 'paused', remaining_s = ?, due_at = NULL WHERE id = ?",
                (t.seconds_left(now), timer_id),
            )
            after = self.get(timer_id)
            self._journal("pause", [{"id": t.id, "before": _snapshot(t, now), "after": _snapshot(after, now)}],
                          f"paused the {t.label}", f"resume the {t.label}")
            self._changed()
            return after

    def resume(self, timer_id: int) -> Timer:
        with self._tx():
            t = self.get(timer_id)
            if t.state != PAUSED:
                raise SkillError(f"Your {t.label} is not paused.")
            now = self._clock()
            self._db.execute(
                "UPDATE timers SET state = 'running', due_at = ?, remaining_s = NULL WHERE id = ?",
                (now + (t.remaining_s or 0.0), timer_id),
            )
            after = self.get(timer_id)
            self._journal("resume", [{"id": t.id, "before": _snapshot(t, now), "after": _snapshot(after, now)}],
                          f"resumed the {t.label}", f"pause the {t.label} again")
            self._changed()
            return after

    def adjust(self, timer_id: int, delta: timedelta, expect_state: Optional[str] = None) -> Timer:
        """Add (positive) or take off (negative) time; refuses to take off more than is left."""
        with self._tx():
            t = self._require(timer_id, expect_state)
            if t.state not in ACTIVE:
                raise SkillError(f"Your {t.label} has already finished.")
            now = self._clock()
            left = t.seconds_left(now) + delta.total_seconds()
            if left <= 0:
                raise SkillError(
                    f"Your {t.label} has only {_left_words(t.seconds_left(now))} left, "
                    f"so I can't take {speak_duration(-delta)} off. Say cancel the timer to stop it."
                )
            if left > MAX_TIMER.total_seconds():
                raise SkillError("That would make the timer longer than a week, so I left it as it was.")
            self._set_left(t, left, now)
            after = self.get(timer_id)
            said = speak_duration(abs(delta))
            if delta.total_seconds() >= 0:
                what = f"added {said} to the {t.label}", f"take the {said} off again"
            else:
                what = f"took {said} off the {t.label}", f"put the {said} back"
            self._journal("adjust", [{"id": t.id, "before": _snapshot(t, now), "after": _snapshot(after, now),
                                      "delta_s": delta.total_seconds()}], *what)
            self._changed()
            return after

    def cancel(self, timer_id: int) -> Timer:
        with self._tx():
            t = self.get(timer_id)
            if t.state not in ACTIVE:
                raise SkillError(f"Your {t.label} has already finished.")
            return self._cancel_rows([t])[0]

    def cancel_all(self, kind: str) -> list[Timer]:
        """Cancel every active timer (or reminder) there is right now."""
        with self._tx():
            return self._cancel_rows(self.active(kind))

    def cancel_exact(self, ids: Sequence[int], kind: Optional[str] = None) -> list[Timer]:
        """Cancel exactly `ids` (a confirmed plan), all or nothing.

        Each id must still be active; with `kind`, `ids` must also still be every active row of
        that kind ("cancel all timers" as confirmed).  Otherwise raises StateChanged.
        """
        with self._tx():
            items = [self.get(i) for i in ids]
            changed = any(t.state not in ACTIVE for t in items)
            if kind is not None:
                changed = changed or sorted(t.id for t in self.active(kind)) != sorted(ids)
            if changed or not items:
                reminders = kind == REMINDER or (kind is None and all(t.is_reminder for t in items))
                noun = "reminders" if reminders else "timers"
                raise StateChanged(f"Your {noun} changed while I was asking, so I cancelled nothing.")
            return self._cancel_rows(items)

    def _cancel_rows(self, items: list[Timer]) -> list[Timer]:
        if not items:
            return []
        now = self._clock()
        self._db.executemany(
            "UPDATE timers SET state = 'cancelled', ended_at = ? WHERE id = ? AND state IN ('running', 'paused')",
            [(now, t.id) for t in items],
        )
        records = [{"id": t.id, "before": _snapshot(t, now), "after": {"state": CANCELLED}} for t in items]
        self._journal("cancel", records, *_cancel_words(items, datetime.fromtimestamp(now)))
        self._changed()
        return items


def _cancel_words(items: list[Timer], now: datetime) -> tuple[str, str]:
    """(description, undo text) of cancelling `items`."""
    if len(items) == 1:
        t = items[0]
        if t.is_reminder:
            due = speak_when(datetime.fromtimestamp(t.due_at or now.timestamp()), now)
            return f"deleted the reminder to {t.text}", f"restore the reminder to {t.text}, due {due}"
        left = _left_words(t.seconds_left(now.timestamp()))
        if t.paused:
            return f"cancelled the {t.label}", f"restore the {t.label}, paused with {left} left"
        return f"cancelled the {t.label}", f"restart the {t.label} with {left} left"
    if all(t.is_reminder for t in items):
        return (f"deleted {len(items)} reminders: " + spoken_list([t.text or "" for t in items]),
                f"restore those {len(items)} reminders")
    return (f"cancelled {len(items)} timers: " + spoken_list([t.label for t in items]),
            f"restart those {len(items)} timers with the time each had left")


_DONE = (("restart ", "Restarted "), ("restore ", "Restored "), ("cancel ", "Cancelled "), ("delete ", "Deleted "),
         ("resume ", "Resumed "), ("pause ", "Paused "), ("take ", "Took "), ("put ", "Put "))


def _done_text(undo_text: str) -> str:
    """'restart the tea timer with 4 minutes left' -> 'Restarted the tea timer with 4 minutes left.'"""
    for verb, done in _DONE:
        if undo_text.startswith(verb):
            return done + undo_text[len(verb):] + "."
    return undo_text[:1].upper() + undo_text[1:] + "."
