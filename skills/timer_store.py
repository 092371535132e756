"""The timer store: timers and reminders in SQLite, and the journal that makes "undo that" work.

State lives in its own SQLite file, `<data dir>/timers.db` (not the task
store's `hark.db`: that file's schema version belongs to the task store, and
timers change every few seconds while tasks rarely do).  Times are stored as
Unix epoch seconds, so a timer keeps its length across a restart and a clock
change of the local zone does not move it.

Every change the user makes (start, cancel, pause, resume, adjust) is written
to the `changes` journal in the same transaction, so "undo that" can name it
and reverse it (`last_change()`, `undo()`).  Changes the user confirmed run
through the `*_exact` methods, which act on the ids in the confirmed plan or
raise `StateChanged` and change nothing.  Firing due timers is
`skills.timer_service.TimerService`'s job (a subclass of `TimerStore`); the
spoken skills are in `skills/timers.py`.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from skills.phrasing import capitalize, spoken_list
from skills.registry import SkillError, StateChanged
from skills.when import speak_duration, speak_when

log = logging.getLogger("hark.timers")

TIMER = "timer"
REMINDER = "reminder"
RUNNING, PAUSED, CLAIMED, FIRED, CANCELLED = "running", "paused", "claimed", "fired", "cancelled"
ACTIVE = (RUNNING, PAUSED)
MAX_TIMER = timedelta(days=7)
MAX_REMINDER_CHARS = 300
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
COLUMNS = "id, kind, name, text, duration_s, due_at, remaining_s, state, created_at"


@dataclass(frozen=True)
class Timer:
    """A timer or a reminder as stored."""

    id: int
    kind: str
    name: str | None
    text: str | None
    duration_s: float
    due_at: float | None
    remaining_s: float | None
    state: str
    created_at: float

    @property
    def is_reminder(self) -> bool:
        """A reminder (words said when due) rather than a timer."""
        return self.kind == REMINDER

    @property
    def paused(self) -> bool:
        """Paused: its time left is frozen."""
        return self.state == PAUSED

    def seconds_left(self, now: float) -> float:
        """Seconds until it is due (0 when due or past)."""
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


def timer_from_row(row: tuple) -> Timer:
    """A `Timer` from a row selected with COLUMNS."""
    return Timer(*row)


def rounded_left(seconds: float) -> timedelta:
    """Time left as people say it: seconds under ten minutes, whole minutes above."""
    if seconds <= 0:
        return timedelta(0)
    if seconds < 600:
        return timedelta(seconds=math.ceil(seconds - 0.05))  # 9.98 s left is "10 seconds"
    return timedelta(minutes=round(seconds / 60))


def describe_left(t: Timer, now: float) -> str:
    """'pizza timer, 4 minutes left' / 'tea timer, paused with 2 minutes left'."""
    left = left_words(t.seconds_left(now))
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
    description: str  # "cancelled the tea timer"
    undo_text: str  # "restart the tea timer with 4 minutes left"
    undoable: bool
    why_not: str = ""


def _snapshot(t: Timer, now: float) -> dict[str, Any]:
    return {"state": t.state, "due_at": t.due_at, "remaining_s": t.remaining_s, "left": t.seconds_left(now)}


def left_words(seconds: float) -> str:
    """Time left as said: '4 minutes', '9 seconds' (rounded the way people say it)."""
    return speak_duration(rounded_left(seconds))


class TimerStore:
    """Timers and reminders in SQLite, with the journal of changes; safe to share between threads."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path).expanduser()
        self._clock = clock
        # One lock for the connection; a Condition so the firing thread can sleep on it until a change.
        self._cond = threading.Condition(threading.RLock())
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
                self._db.execute("DELETE FROM timers WHERE state IN ('fired', 'cancelled') AND ended_at < ?", (cutoff,))
                self._db.execute("DELETE FROM changes WHERE at < ?", (cutoff,))
        except SkillError:
            pass  # a read-only folder: timers can still be listed; changing one says why it can't

    def _problem(self, e: Exception, doing: str) -> str:
        """A speakable reason; only a damaged file gets the advice to move it aside."""
        text = str(e).lower()
        if isinstance(e, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
            return (
                f"I can't {doing} the timer database at {self.path}: {e}. "
                "If the file is damaged, move it aside and Hark will start a new one."
            )
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
                self._db.execute(f"INSERT INTO timers({COLUMNS}, ended_at) SELECT {COLUMNS}, ended_at FROM timers_v0")
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

    def close(self) -> None:
        """Close the database."""
        with self._cond:
            self._db.close()

    def _changed(self) -> None:
        """Wake whoever waits for the next due time (the firing thread): the timers changed."""
        self._cond.notify_all()

    # ---- reading --------------------------------------------------------------------------------

    def now(self) -> float:
        """The store's clock, in epoch seconds."""
        return self._clock()

    def get(self, timer_id: int) -> Timer:
        """The timer or reminder with this id, or a SkillError."""
        with self._cond:
            row = self._db.execute(f"SELECT {COLUMNS} FROM timers WHERE id = ?", (timer_id,)).fetchone()
        if row is None:
            raise SkillError(f"There is no timer number {timer_id}.")
        return timer_from_row(row)

    def active(self, kind: str | None = None) -> list[Timer]:
        """Running and paused timers/reminders, soonest first (paused ones by time left)."""
        with self._cond:
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM timers WHERE state IN ('running', 'paused') ORDER BY id"
            ).fetchall()
        now = self._clock()
        items = [timer_from_row(r) for r in rows if kind is None or r[1] == kind]
        return sorted(items, key=lambda t: (t.seconds_left(now), t.id))

    # ---- the journal ----------------------------------------------------------------------------

    def _journal(self, action: str, items: list[dict[str, Any]], description: str, undo_text: str) -> None:
        self._db.execute(
            "INSERT INTO changes(at, action, items, description, undo_text) VALUES (?, ?, ?, ?, ?)",
            (self._clock(), action, json.dumps(items), description, undo_text),
        )

    def _last_row(self) -> tuple | None:
        return self._db.execute(
            "SELECT id, at, action, items, description, undo_text FROM changes WHERE undone_at IS NULL "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()

    def last_change(self) -> TimerChange | None:
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
                return f"the {t.label} has only {left_words(t.seconds_left(now))} left.", False
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
                (before["state"], due, left, item["id"]),
            )
        elif action == "pause":
            t = self.get(item["id"])
            self._db.execute(
                "UPDATE timers SET state = 'running', due_at = ?, remaining_s = NULL WHERE id = ?",
                (now + t.seconds_left(now), item["id"]),
            )
        elif action == "resume":
            t = self.get(item["id"])
            self._db.execute(
                "UPDATE timers SET state = 'paused', remaining_s = ?, due_at = NULL WHERE id = ?",
                (t.seconds_left(now), item["id"]),
            )
        elif action == "adjust":
            t = self.get(item["id"])
            self._set_left(t, t.seconds_left(now) - item["delta_s"], now)

    def _set_left(self, t: Timer, left: float, now: float) -> None:
        if t.state == PAUSED:
            self._db.execute("UPDATE timers SET remaining_s = ? WHERE id = ?", (left, t.id))
        else:
            self._db.execute("UPDATE timers SET due_at = ? WHERE id = ?", (now + left, t.id))

    # ---- changing -------------------------------------------------------------------------------

    def add_timer(self, duration: timedelta, name: str | None = None) -> Timer:
        """Start a timer of `duration` (above zero, at most a week), journaled for undo."""
        seconds = duration.total_seconds()
        if seconds <= 0:
            raise SkillError("A timer needs a length above zero, like 10 minutes.")
        if duration > MAX_TIMER:
            raise SkillError("That's longer than a week. For something that far off, set a reminder instead.")
        return self._insert(TIMER, name, None, seconds, self._clock() + seconds)

    def add_reminder(self, text: str, due: datetime) -> Timer:
        """Set a reminder due at `due`, journaled for undo."""
        text = " ".join(text.split())
        if not text:
            raise SkillError("What should I remind you about? Say, for example: remind me to call mom at 5 PM.")
        if len(text) > MAX_REMINDER_CHARS:
            raise SkillError(f"That reminder is too long; keep it under {MAX_REMINDER_CHARS} characters.")
        return self._insert(REMINDER, None, text, 0.0, due.timestamp())

    def _insert(self, kind: str, name: str | None, text: str | None, duration_s: float, due_at: float) -> Timer:
        with self._tx():
            cur = self._db.execute(
                "INSERT INTO timers(kind, name, text, duration_s, due_at, state, created_at) "
                "VALUES (?, ?, ?, ?, ?, 'running', ?)",
                (kind, name, text, duration_s, due_at, self._clock()),
            )
            assert cur.lastrowid is not None  # always set after an INSERT
            t = self.get(int(cur.lastrowid))
            now = self._clock()
            if t.is_reminder:
                what = f"set a reminder to {t.text}", f"delete the reminder to {t.text}"
            else:
                what = f"started the {t.label}", f"cancel the {t.label}"
            self._journal("start", [{"id": t.id, "before": None, "after": _snapshot(t, now)}], *what)
            self._changed()
            return t

    def _require(self, timer_id: int, expected: str | None) -> Timer:
        """The timer; with `expected` (from a confirmed plan) it must still be in that state."""
        t = self.get(timer_id)
        if expected is not None and t.state != expected:
            raise StateChanged("Your timers changed while I was asking, so I changed nothing.")
        return t

    def pause(self, timer_id: int, expect_state: str | None = None) -> Timer:
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
            self._journal(
                "pause",
                [{"id": t.id, "before": _snapshot(t, now), "after": _snapshot(after, now)}],
                f"paused the {t.label}",
                f"resume the {t.label}",
            )
            self._changed()
            return after

    def resume(self, timer_id: int) -> Timer:
        """Resume a paused timer."""
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
            self._journal(
                "resume",
                [{"id": t.id, "before": _snapshot(t, now), "after": _snapshot(after, now)}],
                f"resumed the {t.label}",
                f"pause the {t.label} again",
            )
            self._changed()
            return after

    def adjust(self, timer_id: int, delta: timedelta, expect_state: str | None = None) -> Timer:
        """Add (positive) or take off (negative) time; refuses to take off more than is left."""
        with self._tx():
            t = self._require(timer_id, expect_state)
            if t.state not in ACTIVE:
                raise SkillError(f"Your {t.label} has already finished.")
            now = self._clock()
            left = t.seconds_left(now) + delta.total_seconds()
            if left <= 0:
                raise SkillError(
                    f"Your {t.label} has only {left_words(t.seconds_left(now))} left, "
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
            self._journal(
                "adjust",
                [
                    {
                        "id": t.id,
                        "before": _snapshot(t, now),
                        "after": _snapshot(after, now),
                        "delta_s": delta.total_seconds(),
                    }
                ],
                *what,
            )
            self._changed()
            return after

    def cancel(self, timer_id: int) -> Timer:
        """Cancel one active timer or reminder."""
        with self._tx():
            t = self.get(timer_id)
            if t.state not in ACTIVE:
                raise SkillError(f"Your {t.label} has already finished.")
            return self._cancel_rows([t])[0]

    def cancel_all(self, kind: str) -> list[Timer]:
        """Cancel every active timer (or reminder) there is right now."""
        with self._tx():
            return self._cancel_rows(self.active(kind))

    def cancel_exact(self, ids: Sequence[int], kind: str | None = None) -> list[Timer]:
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
        left = left_words(t.seconds_left(now.timestamp()))
        if t.paused:
            return f"cancelled the {t.label}", f"restore the {t.label}, paused with {left} left"
        return f"cancelled the {t.label}", f"restart the {t.label} with {left} left"
    if all(t.is_reminder for t in items):
        return (
            f"deleted {len(items)} reminders: " + spoken_list([t.text or "" for t in items]),
            f"restore those {len(items)} reminders",
        )
    return (
        f"cancelled {len(items)} timers: " + spoken_list([t.label for t in items]),
        f"restart those {len(items)} timers with the time each had left",
    )


_DONE = (
    ("restart ", "Restarted "),
    ("restore ", "Restored "),
    ("cancel ", "Cancelled "),
    ("delete ", "Deleted "),
    ("resume ", "Resumed "),
    ("pause ", "Paused "),
    ("take ", "Took "),
    ("put ", "Put "),
)


def _done_text(undo_text: str) -> str:
    """The undo text as done: 'restart the tea timer ...' -> 'Restarted the tea timer ...'."""
    for verb, done in _DONE:
        if undo_text.startswith(verb):
            return done + undo_text[len(verb) :] + "."
    return capitalize(undo_text) + "."
