"""Pipeline events: one typed record per stage transition.

Events are at once the user's `--json` output, the log, and the tests' oracle.
Every event carries `t`, seconds since the pipeline started (monotonic clock).
The log holds the user's words (transcripts, replies, tool arguments) only at
DEBUG; at INFO it records each event's name, sizes and timings.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from skills import events as _gate

log = logging.getLogger("hark.events")

# Names emitted by the pipeline (kept here so they are documented in one place).
READY = "ready"  # microphone, speaker: the live loop is listening
SPEECH_START = "speech_start"  # audio_t: position in the input stream (s)
SPEECH_END = "speech_end"  # audio_t, duration
UTTERANCE_TOO_LONG = "utterance_too_long"  # max_s, message
NO_SPEECH = "no_speech"  # file, message: an input file held no speech
TRANSCRIPT = "transcript"  # text, language, seconds
STATE = "state"  # state: listening/recording/transcribing/thinking/confirming/acting/speaking
INTENT = "intent"  # name, arguments (template match, no model)
THINKING = "thinking"  # chars: how much reasoning the model did (never its text)
REPLY = "reply"  # text
AUDIO_OUT_START = "audio_out_start"
AUDIO_OUT_END = "audio_out_end"
TIMER_FIRED = "timer_fired"
MICROPHONE_BACK = "microphone_back"  # microphone, message: a lost microphone works again
# The gate's events: named on the skills' side (skills never import voice/), the same strings here.
TOOL_CALL = _gate.TOOL_CALL
CONFIRM_REQUEST = _gate.CONFIRM_REQUEST
CONFIRM_ANSWER = _gate.CONFIRM_ANSWER
CONFIRMED = _gate.CONFIRMED
CANCELLED = _gate.CANCELLED
ACTION_RESULT = _gate.ACTION_RESULT
ERROR = _gate.ERROR

HISTORY_LIMIT = 1000  # events kept in EventBus.history (a long session must not grow without bound)

# Fields whose values are safe to log at INFO: names and states, never the user's words.
_PLAIN_FIELDS = frozenset(
    {
        "name",
        "stage",
        "state",
        "previous",
        "verdict",
        "source",
        "language",
        "announcement",
        "microphone",
        "speaker",
        "ok",
        "file",
        "reason",
    }
)


@dataclass(frozen=True)
class Event:
    """One pipeline event: its name, when (seconds since start) and its fields."""

    name: str
    t: float
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """The event as one JSON object (`--json` output)."""
        return json.dumps({"t": round(self.t, 4), "event": self.name, **self.data}, ensure_ascii=False, default=str)


Listener = Callable[[Event], None]


class EventBus:
    """Fan-out of events to listeners (JSON printer, log, tests). Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._t0 = clock()
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self.history: deque[Event] = deque(maxlen=HISTORY_LIMIT)

    def now(self) -> float:
        """Seconds since the bus was made."""
        return self._clock() - self._t0

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` with every event from now on."""
        with self._lock:
            self._listeners.append(listener)

    def emit(self, name: str, /, **data: Any) -> Event:
        """Record an event and hand it to every listener; a failing listener is logged and skipped."""
        event = Event(name, self.now(), data)
        with self._lock:
            self.history.append(event)
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a broken printer must not stop the pipeline
                log.exception("event listener failed on %s", name)
        return event

    def names(self) -> list[str]:
        """The names of the events kept in history, in order."""
        return [e.name for e in self.history]


def json_lines_writer(stream: IO[str]) -> Listener:
    """A listener that writes each event as one JSON line (`--json`)."""
    lock = threading.Lock()

    def write(event: Event) -> None:
        with lock:
            stream.write(event.to_json() + "\n")
            stream.flush()

    return write


def redacted(event: Event) -> str:
    """The event without the user's words: text becomes its length, arguments their key names."""
    out: dict[str, Any] = {"t": round(event.t, 4), "event": event.name}
    for key, value in event.data.items():
        if key in _PLAIN_FIELDS or isinstance(value, (bool, int, float)) or value is None:
            out[key] = value
        elif event.name == ERROR and key == "message":
            out[key] = value  # errors are the log's purpose; their detail is needed to fix them
        elif isinstance(value, str):
            out[key + "_chars"] = len(value)
        elif isinstance(value, dict):
            out[key + "_keys"] = sorted(str(k) for k in value)
        else:
            out[key + "_type"] = type(value).__name__
    return json.dumps(out, ensure_ascii=False, default=str)


def log_writer(logger: logging.Logger = log) -> Listener:
    """A listener that logs each event without the user's words at INFO (the words at DEBUG)."""

    def write(event: Event) -> None:
        level = logging.WARNING if event.name == ERROR else logging.INFO
        logger.log(level, "%s", redacted(event))
        if any(k not in _PLAIN_FIELDS and isinstance(v, (str, dict, list)) for k, v in event.data.items()):
            logger.debug("%s detail: %s", event.name, event.to_json())

    return write
