"""The turn loop's states and the transitions allowed between them.

listening -> recording -> transcribing -> thinking -> [confirming -> acting] -> speaking -> listening

The machine owns no device and no model: the assistant asks it to move, it
checks that the move is allowed and publishes a `state` event. A move that
is not in the table is a bug, and raises.
"""

from __future__ import annotations

import enum
import threading

from voice import events as ev
from voice.events import EventBus


class State(str, enum.Enum):
    """The named states of one turn; `--json` prints their values."""

    LISTENING = "listening"
    RECORDING = "recording"
    TRANSCRIBING = "transcribing"
    THINKING = "thinking"
    CONFIRMING = "confirming"
    ACTING = "acting"
    SPEAKING = "speaking"


S = State
ALLOWED: dict[State, frozenset[State]] = {
    S.LISTENING: frozenset({S.RECORDING, S.TRANSCRIBING, S.THINKING, S.SPEAKING}),
    S.RECORDING: frozenset({S.TRANSCRIBING, S.LISTENING}),
    S.TRANSCRIBING: frozenset({S.THINKING, S.LISTENING, S.SPEAKING}),
    S.THINKING: frozenset({S.SPEAKING, S.CONFIRMING, S.ACTING, S.LISTENING}),
    S.CONFIRMING: frozenset({S.CONFIRMING, S.ACTING, S.SPEAKING, S.LISTENING}),
    S.ACTING: frozenset({S.SPEAKING, S.CONFIRMING, S.ACTING, S.THINKING, S.LISTENING}),
    S.SPEAKING: frozenset({S.LISTENING, S.THINKING, S.CONFIRMING, S.ACTING}),
}


class InvalidTransition(RuntimeError):
    """A move the transition table does not allow: a bug in the loop, never the user's doing."""


class TurnState:
    """The current state, changed only along the table's transitions, with a `state` event for each."""

    def __init__(self, events: EventBus) -> None:
        self.events = events
        self.state = State.LISTENING
        self._lock = threading.Lock()

    def to(self, new: State | str) -> None:
        """Move to `new` (emitting a `state` event); InvalidTransition if the table forbids it."""
        new = State(new)
        with self._lock:
            old = self.state
            if new == old and new not in ALLOWED[old]:
                return  # already there (e.g. a second sentence while speaking)
            if new not in ALLOWED[old]:
                raise InvalidTransition(f"{old.value} -> {new.value} is not a valid turn transition")
            self.state = new
        self.events.emit(ev.State(state=new.value, previous=old.value))
