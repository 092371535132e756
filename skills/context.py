"""What a skill sees and says: its context, its result, the plan it executes, the errors it raises.

The types every skill module imports (through `skills.registry`, which
re-exports them, or the `skills` package).  A skill gets a `SkillContext`
(configuration, data folder, clock, shared resources, the confirmed `Plan`),
returns text or a `SkillResult`, and raises `SkillError` with a speakable
message when it fails.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from skills.settings import SkillSettings

log = logging.getLogger("hark.skills")


class SkillError(Exception):
    """A skill failed in a way the user should hear about (message is speakable)."""


class SkillArgumentError(SkillError):
    """The arguments given to a skill do not fit its signature."""


class UnknownSkillError(SkillError):
    """No skill has that name."""


class StateChanged(SkillError):
    """What the user confirmed no longer matches the stored state; nothing was changed.

    Raised by a skill executing a locked `Plan` whose target changed while Hark
    was asking ("Your list changed while I was asking, so I deleted nothing.").
    """


@dataclass(frozen=True)
class Plan:
    """What a consequential call will do, fixed when the preview is spoken.

    A preview may return a Plan instead of a plain string: `text` is what Hark
    says before asking, `data` is exactly what will be acted on (task ids, a
    journal entry, a command line, a count).  The gate hands the confirmed plan
    to the skill as `ctx.plan`; the skill executes exactly that, or raises
    `StateChanged` if the state it names has changed since.
    """

    text: str
    data: Any = None


# Who chose a call: a sentence template, the language model, or the user at the keyboard.
Source = str


@dataclass
class SkillContext:
    """What a skill may use: configuration, the data directory, shared resources."""

    config: SkillSettings  # Hark's whole `Config`; skills read `config.skills`
    data_dir: Path
    transcript: str = ""
    clock: Callable[[], datetime] = datetime.now
    # Say something unprompted (a timer is due). The voice loop replaces this with speech.
    # `announce(text, on_played)`: the loop calls `on_played()` once the words have been played.
    # With no voice loop the words go to the log, and only at DEBUG (the log holds no user words at INFO).
    announce: Callable[..., None] = field(default=lambda text, on_played=None: log.debug("announcement: %s", text))
    # Only the live loop (`hark listen`, later `ptt`) fires timers; one-shot commands never do.
    live: bool = False
    # Set by the gate around each call: who chose it, and the plan the user confirmed (if any).
    source: Source = "model"
    plan: Plan | None = None
    _resources: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        """The current local time (the test clock in tests)."""
        return self.clock()

    def resource(self, key: str, factory: Callable[[], Any]) -> Any:
        """A shared object (a database, a timer service) created once per process."""
        with self._lock:
            if key not in self._resources:
                self._resources[key] = factory()
            return self._resources[key]

    def close(self) -> None:
        """Close every shared resource (databases, the timer thread); a failure is logged, not raised."""
        with self._lock:
            for res in self._resources.values():
                close = getattr(res, "close", None)
                if callable(close):
                    try:
                        close()
                    except Exception:
                        log.exception("closing %r failed", res)
            self._resources.clear()


@dataclass(frozen=True)
class SkillResult:
    """What a skill returns: the words to say, and optional data for `--json`."""

    text: str
    data: Any = None
