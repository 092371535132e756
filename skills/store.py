"""The task store: named lists of tasks in SQLite, with an undo journal.

One connection guarded by a lock serves every thread.  WAL with
`synchronous=FULL` and one transaction per change means a crash or a kill
loses nothing that was committed and never leaves a half-written change.
Every change also writes a journal entry holding the rows as they were
before it, so `undo()` can put them back exactly.

Changes a user confirmed are plan-locked: a caller passes what it read back
(`expected=` a task as it was, the exact rows of a bulk delete, the journal
entry to undo), and the store checks it inside the same write transaction as
the change.  If anything differs, it raises `StateChanged` and changes nothing.

Times are stored as naive local ISO strings (`2026-11-23T17:00:00`): they
sort as text, and "due today" is about the user's wall clock.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from skills.matching import best_match, word_similarity
from skills.registry import SkillContext, SkillError, StateChanged

DEFAULT_LIST = "inbox"
MAX_TEXT_CHARS = 500
JOURNAL_KEEP = 100

# Words that mean "the default list" once articles and the word "list" are gone.
_DEFAULT_LIST_WORDS = {"", "to do", "todo", "to dos", "todos", "task", "tasks", "default", "main"}
_LEADING_WORDS = re.compile(r"^(?:(?:my|the|our|a|an|your)\s+)+")
_TRAILING_LIST = re.compile(r"\s*\blist$")

# Migrations by schema version: _MIGRATIONS[n] brings a version-n database to n+1.
_MIGRATIONS = [
    """
    CREATE TABLE lists (
        name TEXT PRIMARY KEY,
        created TEXT NOT NULL
    );
    CREATE TABLE tasks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: an undone add never hands its id to another task
        list TEXT NOT NULL REFERENCES lists(name) ON UPDATE CASCADE,
        text TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        due TEXT,
        created TEXT NOT NULL,
        completed TEXT
    );
    CREATE INDEX tasks_list ON tasks(list, done);
    CREATE INDEX tasks_due ON tasks(due) WHERE due IS NOT NULL;
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,
        description TEXT NOT NULL,
        task_ids TEXT NOT NULL,   -- JSON: ids the change touched or created
        before TEXT NOT NULL,     -- JSON: those rows as they were before the change
        new_lists TEXT NOT NULL   -- JSON: lists the change created
    );
    """,
    # Epoch seconds of each change (real time, sub-second): "undo" compares it with timer changes.
    """
    ALTER TABLE journal ADD COLUMN at REAL;
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)

_TASK_COLUMNS = ("id", "list", "text", "done", "due", "created", "completed")


class StoreError(SkillError):
    """The task store cannot do what was asked (the message is speakable)."""


def changed_while_asking(did: str) -> StateChanged:
    """The refusal for a confirmed change whose target moved: 'Your list changed ..., so I deleted nothing.'."""
    return StateChanged(f"Your list changed while I was asking, so I {did}.")


@dataclass(frozen=True)
class JournalEntry:
    """One change `undo()` can revert: its id, when it was made (epoch seconds) and what it was."""

    id: int
    at: float
    description: str


@dataclass(frozen=True)
class Task:
    """One task as stored."""

    id: int
    list: str
    text: str
    done: bool
    due: datetime | None
    created: datetime
    completed: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (ISO times or null)."""
        return {
            "id": self.id,
            "list": self.list,
            "text": self.text,
            "done": self.done,
            "due": _iso(self.due),
            "created": _iso(self.created),
            "completed": _iso(self.completed),
        }


def normalize_list_name(name: str | None, default: str = DEFAULT_LIST) -> str:
    """'my shopping list' / 'the Shopping List' / 'shopping' -> 'shopping'; 'to do list', 'my list' -> default."""
    if name is None:
        return default
    text = name.lower().replace("’", "'").replace("-", " ").replace("_", " ")
    text = re.sub(r"[^\w' ]+", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = _LEADING_WORDS.sub("", text)
    text = _TRAILING_LIST.sub("", text).strip()
    text = re.sub(r"'s$", "", text)
    if text in _DEFAULT_LIST_WORDS or text == default:
        return default
    return text


def spoken_list_name(name: str, default: str = DEFAULT_LIST) -> str:
    """How a list is named in speech: 'your list' for the default one, else 'your shopping list'."""
    return "your list" if name == default else f"your {name} list"


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat(timespec="seconds")


def _local_naive(dt: datetime) -> datetime:
    """Stored times are local wall-clock time without a zone (see the module docstring)."""
    if dt.tzinfo is not None:
        dt = dt.astimezone().replace(tzinfo=None)
    return dt.replace(microsecond=0)


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _row_to_task(row: sqlite3.Row | tuple) -> Task:
    r = dict(zip(_TASK_COLUMNS, row, strict=False))
    return Task(
        id=r["id"],
        list=r["list"],
        text=r["text"],
        done=bool(r["done"]),
        due=_parse_time(r["due"]),
        created=_parse_time(r["created"]),  # type: ignore[arg-type]  # NOT NULL in the schema, so never None
        completed=_parse_time(r["completed"]),
    )


def _match_key(text: str) -> str:
    """Lower-case words without punctuation or leading articles, for comparing spoken text to tasks."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^\w' ]+", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"^(?:(?:the|my|a|an|that|this)\s+)+", "", text)


class TaskStore:
    """Tasks on named lists, in one SQLite file. Safe to share between threads."""

    def __init__(
        self,
        path: Path,
        default_list: str = DEFAULT_LIST,
        clock: Callable[[], datetime] = datetime.now,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path).expanduser()
        self.default_list = normalize_list_name(default_list, DEFAULT_LIST)
        self._clock = clock
        self._wall = wall  # real time for journal order across stores; `clock` may be fixed in tests
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are opened explicitly (BEGIN IMMEDIATE) in _tx.
            self._db = sqlite3.connect(str(self.path), timeout=10, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (sqlite3.DatabaseError, OSError) as e:
            raise StoreError(
                f"I can't open the task database at {self.path}: {e}. "
                "If the file is damaged, move it aside and Hark will start a new one."
            ) from e

    @classmethod
    def for_context(cls, ctx: SkillContext) -> TaskStore:
        """The process-wide store for a skill context (one connection shared by all skills)."""
        return ctx.resource(
            "tasks",
            lambda: cls(ctx.data_dir / "hark.db", default_list=ctx.config.skills.default_list, clock=ctx.now),
        )

    # ---- plumbing -------------------------------------------------------------------------------

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The task database {self.path} was written by a newer Hark (schema {version}); update Hark to use it."
            )
        for target in range(version, SCHEMA_VERSION):
            with self._lock:
                # One script, one transaction: a migration is applied whole or not at all.
                try:
                    self._db.executescript(
                        f"BEGIN IMMEDIATE; {_MIGRATIONS[target]}; PRAGMA user_version = {target + 1}; COMMIT;"
                    )
                except sqlite3.Error:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    if self._db.execute("PRAGMA user_version").fetchone()[0] > target:
                        continue  # another Hark process opening the same file applied it first
                    raise

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is committed, or none of it."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: tuple = ()) -> list[Task]:
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [_row_to_task(r) for r in rows]

    def _now(self) -> str:
        return _iso(_local_naive(self._clock()))  # type: ignore[return-value]  # _iso(datetime) is a str

    def _ensure_list(self, db: sqlite3.Connection, name: str) -> bool:
        """Create the list if needed; True if it is new."""
        cur = db.execute("INSERT OR IGNORE INTO lists(name, created) VALUES (?, ?)", (name, self._now()))
        return cur.rowcount > 0

    def _journal(
        self,
        db: sqlite3.Connection,
        description: str,
        task_ids: list[int],
        before: list[Task],
        new_lists: tuple[str, ...] = (),
    ) -> None:
        rows = [[t.id, t.list, t.text, int(t.done), _iso(t.due), _iso(t.created), _iso(t.completed)] for t in before]
        db.execute(
            "INSERT INTO journal(time, at, description, task_ids, before, new_lists) VALUES (?, ?, ?, ?, ?, ?)",
            (
                self._now(),
                self._wall(),
                description,
                json.dumps(task_ids),
                json.dumps(rows),
                json.dumps(list(new_lists)),
            ),
        )
        db.execute("DELETE FROM journal WHERE id <= (SELECT MAX(id) FROM journal) - ?", (JOURNAL_KEEP,))

    def _get(self, db: sqlite3.Connection, task_id: int) -> Task:
        row = db.execute(f"SELECT {', '.join(_TASK_COLUMNS)} FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise StoreError(f"There is no task number {task_id}.")
        return _row_to_task(row)

    def _get_expected(self, db: sqlite3.Connection, task_id: int, expected: Task | None, did: str) -> Task:
        """The task as stored; if the caller confirmed it as `expected` and it differs (or is gone), StateChanged."""
        if expected is None:
            return self._get(db, task_id)
        row = db.execute(f"SELECT {', '.join(_TASK_COLUMNS)} FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None or _row_to_task(row) != expected:
            raise changed_while_asking(did)
        return expected

    def _clean_text(self, text: str) -> str:
        text = re.sub(r"\s+", " ", text or "").strip()
        if not text:
            raise StoreError("The task has no words. Say what it is, like: add buy oat milk to my list.")
        if len(text) > MAX_TEXT_CHARS:
            raise StoreError(f"That task is too long ({len(text)} characters); keep it under {MAX_TEXT_CHARS}.")
        return text

    def list_name(self, name: str | None) -> str:
        """Normalize a spoken list name against this store's default list."""
        return normalize_list_name(name, self.default_list)

    def spoken_list_name(self, name: str) -> str:
        """How a list is named in speech ('your shopping list')."""
        return spoken_list_name(name, self.default_list)

    # ---- reading --------------------------------------------------------------------------------

    def get(self, task_id: int) -> Task:
        """The task with this id, or StoreError."""
        with self._lock:
            return self._get(self._db, task_id)

    def list_tasks(self, list_name: str | None = None, include_done: bool = False) -> list[Task]:
        """Tasks in the order they were added; `list_name=None` means every list."""
        where, params = [], []
        if list_name is not None:
            where.append("list = ?")
            params.append(self.list_name(list_name))
        if not include_done:
            where.append("done = 0")
        sql = f"SELECT {', '.join(_TASK_COLUMNS)} FROM tasks"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return self._query(sql + " ORDER BY id", tuple(params))

    def due_between(self, start: datetime, end: datetime) -> list[Task]:
        """Open tasks due at or after `start` and before `end`, soonest first."""
        return self._query(
            f"SELECT {', '.join(_TASK_COLUMNS)} FROM tasks WHERE done = 0 AND due >= ? AND due < ? ORDER BY due, id",
            (_iso(_local_naive(start)), _iso(_local_naive(end))),
        )

    def overdue(self, now: datetime) -> list[Task]:
        """Open tasks whose due time has passed, oldest first."""
        return self._query(
            f"SELECT {', '.join(_TASK_COLUMNS)} FROM tasks WHERE done = 0 AND due < ? ORDER BY due, id",
            (_iso(_local_naive(now)),),
        )

    def lists(self) -> list[str]:
        """Every list name, the default list first."""
        with self._lock:
            names = [r[0] for r in self._db.execute("SELECT name FROM lists ORDER BY name").fetchall()]
        return [self.default_list] + [n for n in names if n != self.default_list]

    def find(self, query: str, list_name: str | None = None, include_done: bool = False) -> list[Task]:
        """Tasks that spoken words most likely mean, best first.

        Exact matches win over tasks that contain every spoken word, which win over
        fuzzy matches (transcription slips: "by oat milk" finds "buy oat milk").
        More than one result means the words fit several tasks equally well.
        """
        key = _match_key(query)
        if not key:
            return []
        candidates = self.list_tasks(list_name, include_done=include_done)
        exact = [t for t in candidates if _match_key(t.text) == key]
        if exact:
            return exact
        pattern = re.compile(rf"\b{re.escape(key)}\b")
        contained = [t for t in candidates if pattern.search(_match_key(t.text))]
        if contained:
            return contained
        # Several tasks within 0.05 of the best are all returned: the caller asks which one.
        return list(
            best_match(key, candidates, lambda t: _match_key(t.text), margin=0.05, score=word_similarity).contenders
        )

    # ---- changing -------------------------------------------------------------------------------

    def add(self, text: str, list_name: str | None = None, due: datetime | None = None) -> Task:
        """Add a task; its list is created if needed."""
        text = self._clean_text(text)
        name = self.list_name(list_name)
        now = self._now()
        due_iso = None if due is None else _iso(_local_naive(due))
        with self._tx() as db:
            new_list = self._ensure_list(db, name)
            cur = db.execute(
                "INSERT INTO tasks(list, text, done, due, created) VALUES (?, ?, 0, ?, ?)", (name, text, due_iso, now)
            )
            assert cur.lastrowid is not None  # always set after an INSERT
            task_id = int(cur.lastrowid)
            self._journal(
                db, f"adding '{text}' to {self.spoken_list_name(name)}", [task_id], [], (name,) if new_list else ()
            )
            return self._get(db, task_id)

    def complete(self, task_id: int, *, expected: Task | None = None) -> Task:
        """Mark a task done; with `expected` (a confirmed plan) it must still be as it was read back."""
        with self._tx() as db:
            before = self._get_expected(db, task_id, expected, "marked nothing done")
            if before.done:
                raise StoreError(f"'{before.text}' is already done.")
            db.execute("UPDATE tasks SET done = 1, completed = ? WHERE id = ?", (self._now(), task_id))
            self._journal(db, f"marking '{before.text}' as done", [task_id], [before])
            return self._get(db, task_id)

    def edit(
        self,
        task_id: int,
        text: str | None = None,
        due: datetime | None = None,
        *,
        clear_due: bool = False,
        expected: Task | None = None,
    ) -> Task:
        """Change a task's text and/or due time (`clear_due=True` removes the due time)."""
        with self._tx() as db:
            before = self._get_expected(db, task_id, expected, "changed nothing")
            new_text = before.text if text is None else self._clean_text(text)
            if clear_due:
                new_due = None
            elif due is not None:
                new_due = _iso(_local_naive(due))
            else:
                new_due = _iso(before.due)
            if new_text == before.text and new_due == _iso(before.due):
                raise StoreError(f"'{before.text}' already says that; nothing changed.")
            db.execute("UPDATE tasks SET text = ?, due = ? WHERE id = ?", (new_text, new_due, task_id))
            what = (
                f"changing '{before.text}' to '{new_text}'"
                if new_text != before.text
                else f"changing when '{before.text}' is due"
            )
            self._journal(db, what, [task_id], [before])
            return self._get(db, task_id)

    def delete(self, task_id: int, *, expected: Task | None = None) -> Task:
        """Delete one task; returns it as it was."""
        with self._tx() as db:
            before = self._get_expected(db, task_id, expected, "deleted nothing")
            db.execute("DELETE FROM tasks WHERE id = ?", (task_id,))
            self._journal(
                db, f"deleting '{before.text}' from {self.spoken_list_name(before.list)}", [task_id], [before]
            )
            return before

    def clear(self, list_name: str | None, *, expected: list[Task] | tuple[Task, ...] | None = None) -> int:
        """Delete every task (done or not) on a list; `None` means every list. Returns how many.

        With `expected` (the exact tasks the user agreed to delete), a list that gained,
        lost or changed a task meanwhile raises StateChanged and nothing is deleted.
        """
        with self._tx() as db:
            if list_name is None:
                rows = db.execute(f"SELECT {', '.join(_TASK_COLUMNS)} FROM tasks ORDER BY id").fetchall()
                where = "your lists"
            else:
                name = self.list_name(list_name)
                rows = db.execute(
                    f"SELECT {', '.join(_TASK_COLUMNS)} FROM tasks WHERE list = ? ORDER BY id", (name,)
                ).fetchall()
                where = self.spoken_list_name(name)
            before = [_row_to_task(r) for r in rows]
            if expected is not None and before != list(expected):
                raise changed_while_asking("deleted nothing")
            if not before:
                return 0
            ids = [t.id for t in before]
            db.executemany("DELETE FROM tasks WHERE id = ?", [(i,) for i in ids])
            noun = "task" if len(ids) == 1 else "tasks"
            self._journal(db, f"clearing {len(ids)} {noun} from {where}", ids, before)
            return len(ids)

    def last_change(self) -> str | None:
        """What `undo()` would revert, or None."""
        entry = self.last_entry()
        return None if entry is None else entry.description

    def last_entry(self) -> JournalEntry | None:
        """The change `undo()` would revert (with its id, to lock a confirmed undo to it), or None."""
        with self._lock:
            row = self._db.execute("SELECT id, at, time, description FROM journal ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        entry_id, at, stamp, description = row
        if at is None:  # written before the `at` column existed: its local wall-clock time
            at = datetime.fromisoformat(stamp).timestamp()
        return JournalEntry(entry_id, float(at), description)

    def undo(self, *, expected_entry: int | None = None) -> str | None:
        """Revert the most recent change exactly; returns its description, or None if there is none.

        With `expected_entry` (the journal id the user agreed to undo), a newer change made
        meanwhile raises StateChanged and nothing is undone.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT id, description, task_ids, before, new_lists FROM journal ORDER BY id DESC LIMIT 1"
            ).fetchone()
            if expected_entry is not None and (row is None or row[0] != expected_entry):
                raise changed_while_asking("undid nothing")
            if row is None:
                return None
            entry_id, description, task_ids, before, new_lists = row
            db.executemany("DELETE FROM tasks WHERE id = ?", [(i,) for i in json.loads(task_ids)])
            for values in json.loads(before):
                self._ensure_list(db, values[1])
                db.execute(f"INSERT INTO tasks({', '.join(_TASK_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)", values)
            for name in json.loads(new_lists):
                db.execute(
                    "DELETE FROM lists WHERE name = ? AND NOT EXISTS (SELECT 1 FROM tasks WHERE list = ?)", (name, name)
                )
            db.execute("DELETE FROM journal WHERE id = ?", (entry_id,))
            return description

    def close(self) -> None:
        """Close the database."""
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.close()
