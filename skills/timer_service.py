"""Firing timers: one thread announces each timer and reminder when it comes due, once.

Only in the live loop: `start()` is called by `skills.timers.on_start` when
`ctx.live`.  One daemon thread sleeps on a Condition until the next due time
(capped at 30 s so a timer added by another Hark process or a laptop waking
from sleep is noticed).  A due row is first *claimed* (`running -> claimed`,
with this process as owner and a lease), then announced with
`announce(text, on_played)`; only `on_played()` marks it `fired`.  So:
- two processes sharing the file never announce the same timer twice (the
  claim is a compare-and-set);
- a claim whose owner died (its pid is gone, or its lease ran out) is taken
  over and announced at the next start, as "While I was away, ...": a crash
  between claim and speech loses nothing;
- a clean `close()` hands unplayed claims back.

Storing, changing and undoing timers is `skills.timer_store.TimerStore`'s job;
`TimerService` adds the firing thread to it.  The store's names are importable
from here too (`TIMER`, `Timer`, `describe_left`, ...).
"""

from __future__ import annotations

import inspect
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from skills.phrasing import spoken_list
from skills.timer_store import (
    ACTIVE,
    CLAIMED,
    COLUMNS,
    REMINDER,
    TIMER,
    Timer,
    TimerChange,
    TimerStore,
    describe_left,
    rounded_left,
    timer_from_row,
)

__all__ = [
    "ACTIVE",
    "CLAIM_LEASE_S",
    "REMINDER",
    "TIMER",
    "Timer",
    "TimerChange",
    "TimerService",
    "TimerStore",
    "announcement",
    "away_announcement",
    "deliver",
    "describe_left",
    "rounded_left",
]

log = logging.getLogger("hark.timers")

# Longest wait between looks at the database (another process may have added a timer).
MAX_SLEEP_S = 30.0
# A claim not yet played stays this process's for this long; the owner renews it while it waits
# (announcements wait for an idle moment), so only a dead or hung owner loses it.
CLAIM_LEASE_S = 120.0
ERROR_RETRY_S = 1.0


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


class TimerService(TimerStore):
    """Timers and reminders in SQLite, fired by one background thread (in the live process only)."""

    def __init__(self, path: Path, announce: Callable[..., None], clock: Callable[[], float] = time.time) -> None:
        self._announce = announce
        self._thread: threading.Thread | None = None
        self._closed = False
        self._missed: list[Timer] = []
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._pending: set[int] = set()  # claimed here, announced, not yet played
        super().__init__(path, clock)

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
        """Stop firing, hand back claims not yet played, and close the database."""
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
                    "WHERE state = 'claimed' AND claimed_by = ?",
                    (self._owner,),
                )
            except sqlite3.Error:
                log.exception("handing back unplayed timer claims failed; the lease will expire instead")
            self._pending.clear()
        super().close()

    @property
    def running(self) -> bool:
        """Whether the firing thread is running."""
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

    def _stale(self, owner: str | None, until: float | None, now: float) -> bool:
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
            f"SELECT {COLUMNS}, claimed_by, claim_until FROM timers "
            "WHERE (state = 'running' AND due_at <= ?) OR state = 'claimed' ORDER BY due_at, id",
            (now,),
        ).fetchall()
        until = now + CLAIM_LEASE_S
        claimed = []
        for r in rows:
            t, owner, lease = timer_from_row(r[:9]), r[9], r[10]
            if t.state == CLAIMED:
                if owner == self._owner and lease is not None and lease <= now and t.id not in self._pending:
                    pass  # our own failed announcement: try again
                elif not self._stale(owner, lease, now):
                    continue
                cur = self._db.execute(
                    "UPDATE timers SET claimed_by = ?, claim_until = ? WHERE id = ? AND state = 'claimed' "
                    "AND claimed_by IS ? AND claim_until IS ?",
                    (self._owner, until, t.id, owner, lease),
                )
            else:
                cur = self._db.execute(
                    "UPDATE timers SET state = 'claimed', claimed_by = ?, claim_until = ? "
                    "WHERE id = ? AND state = 'running' AND due_at <= ?",
                    (self._owner, until, t.id, now),
                )
            if cur.rowcount:  # another Hark process may have claimed it first
                claimed.append(t)
        return claimed

    def _next_due_at(self) -> float | None:
        row = self._db.execute("SELECT MIN(due_at) FROM timers WHERE state = 'running'").fetchone()
        return None if row is None else row[0]
