"""Pipeline events: one typed record per stage transition.

Events are at once the user's `--json` output, the log, and the tests' oracle.
Each kind is a frozen dataclass (the base `Event` and the gate's events are in
`skills/events.py`, re-exported here): a class-level `name`, typed keyword-only
fields, `data` (the fields as a dict) and one JSON form, `to_json()`, which
prints `{"t": ..., "event": name, **data}` exactly as before the events were
typed (scripts read it).  Every delivered event carries `t`, seconds since the
pipeline started (monotonic clock), stamped by the bus:

    bus.emit(ev.Transcript(text="hi", language="en", duration=0.8, seconds=0.2))

Call the classes through the module (`ev.State`, `ev.Transcript`): the bare
names would shadow `voice.turn.State` and `voice.stt.Transcript`.
The log holds the user's words (transcripts, replies, tool arguments) only at
DEBUG; at INFO it records each event's name, sizes and timings.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar

from skills import events as _gate
from skills.events import AS_NAME
from skills.events import ActionResult as ActionResult
from skills.events import Cancelled as Cancelled
from skills.events import ConfirmAnswer as ConfirmAnswer
from skills.events import Confirmed as Confirmed
from skills.events import ConfirmRequest as ConfirmRequest
from skills.events import Error as Error
from skills.events import Event as Event
from skills.events import ToolCall as ToolCall

log = logging.getLogger("hark.events")

# Names emitted by the pipeline (the classes below carry them as `name`).
READY = "ready"
SPEECH_START = "speech_start"
SPEECH_END = "speech_end"
UTTERANCE_TOO_LONG = "utterance_too_long"
NO_SPEECH = "no_speech"
TRANSCRIPT = "transcript"
STATE = "state"
INTENT = "intent"
THINKING = "thinking"
REPLY = "reply"
AUDIO_OUT_START = "audio_out_start"
AUDIO_OUT_END = "audio_out_end"
TIMER_FIRED = "timer_fired"
MICROPHONE_BACK = "microphone_back"
BARGE_IN = "barge_in"  # the user spoke over Hark: its voice stopped
OWN_VOICE = "own_voice"  # a transcript was Hark's own words coming back: ignored
# The gate's events: named on the skills' side (skills never import voice/), the same strings here.
TOOL_CALL = _gate.TOOL_CALL
CONFIRM_REQUEST = _gate.CONFIRM_REQUEST
CONFIRM_ANSWER = _gate.CONFIRM_ANSWER
CONFIRMED = _gate.CONFIRMED
CANCELLED = _gate.CANCELLED
ACTION_RESULT = _gate.ACTION_RESULT
ERROR = _gate.ERROR


@dataclass(frozen=True, kw_only=True)
class Ready(Event):
    """The live loop is listening."""

    name: ClassVar[str] = READY
    microphone: str
    speaker: str


@dataclass(frozen=True, kw_only=True)
class SpeechStart(Event):
    """The endpointer heard speech begin."""

    name: ClassVar[str] = SPEECH_START
    audio_t: float  # position in the input stream (s)
    source: str  # "microphone" or the input file


@dataclass(frozen=True, kw_only=True)
class SpeechEnd(Event):
    """The endpointer decided the speech ended: with its `duration`, or `discarded` and why."""

    name: ClassVar[str] = SPEECH_END
    audio_t: float
    duration: float | None = None
    discarded: str | None = None
    source: str
    ended: str | None = None  # why it ended before the usual silence (e.g. "words complete")


@dataclass(frozen=True, kw_only=True)
class UtteranceTooLong(Event):
    """Only the first `max_s` seconds of an utterance were kept."""

    name: ClassVar[str] = UTTERANCE_TOO_LONG
    max_s: float
    message: str


@dataclass(frozen=True, kw_only=True)
class NoSpeech(Event):
    """An input file held no speech."""

    name: ClassVar[str] = NO_SPEECH
    file: str
    message: str


@dataclass(frozen=True, kw_only=True)
class Transcript(Event):
    """What was heard: the text, its language, the audio's length and the work's time (s)."""

    name: ClassVar[str] = TRANSCRIPT
    text: str
    language: str
    duration: float
    seconds: float


@dataclass(frozen=True, kw_only=True)
class State(Event):
    """The dialogue moved between listening/recording/transcribing/thinking/confirming/acting/speaking."""

    name: ClassVar[str] = STATE
    state: str
    previous: str


@dataclass(frozen=True, kw_only=True)
class Intent(Event):
    """A sentence template chose the call (no model involved)."""

    name: ClassVar[str] = INTENT
    skill: str = field(metadata=AS_NAME)
    arguments: dict[str, Any]
    sentence: str  # the template that matched
    language: str
    intent: str  # the Home Assistant intent, or "" for Hark's own templates


@dataclass(frozen=True, kw_only=True)
class Thinking(Event):
    """How much reasoning the model did (its size, never its text)."""

    name: ClassVar[str] = THINKING
    chars: int


@dataclass(frozen=True, kw_only=True)
class Reply(Event):
    """What Hark answered (an announcement says whether it was `played`)."""

    name: ClassVar[str] = REPLY
    text: str
    announcement: bool | None = None
    played: bool | None = None
    unspoken_chars: int | None = None  # the part shown but not said
    interrupted: bool | None = None  # the user cut the reply short; `text` is what they heard


@dataclass(frozen=True, kw_only=True)
class AudioOutStart(Event):
    """Reply audio started playing."""

    name: ClassVar[str] = AUDIO_OUT_START


@dataclass(frozen=True, kw_only=True)
class AudioOutEnd(Event):
    """Reply audio finished playing."""

    name: ClassVar[str] = AUDIO_OUT_END


@dataclass(frozen=True, kw_only=True)
class TimerFired(Event):
    """A timer went off; `text` is its announcement."""

    name: ClassVar[str] = TIMER_FIRED
    text: str


@dataclass(frozen=True, kw_only=True)
class MicrophoneBack(Event):
    """A lost microphone works again."""

    name: ClassVar[str] = MICROPHONE_BACK
    microphone: str
    message: str


@dataclass(frozen=True, kw_only=True)
class BargeIn(Event):
    """The user started speaking while Hark spoke: playback stopped (`during` a reply or a question)."""

    name: ClassVar[str] = BARGE_IN
    during: str
    heard: str | None = None  # of a reply: the words the user heard before cutting in


@dataclass(frozen=True, kw_only=True)
class OwnVoice(Event):
    """What the microphone heard was Hark's own recent words (the echo canceller missed them): ignored."""

    name: ClassVar[str] = OWN_VOICE
    text: str
    message: str


def _registry(*classes: type[Event]) -> dict[str, type[Event]]:
    out: dict[str, type[Event]] = {}
    for cls in classes:
        if not cls.name or cls.name in out:
            raise ValueError(f"event class {cls.__name__} has an empty or repeated name {cls.name!r}")
        out[cls.name] = cls
    return out


# Every event kind by its name (`event_from_fields` reads a printed event back with it).
EVENT_TYPES: dict[str, type[Event]] = _registry(
    Ready,
    SpeechStart,
    SpeechEnd,
    UtteranceTooLong,
    NoSpeech,
    Transcript,
    State,
    Intent,
    Thinking,
    Reply,
    AudioOutStart,
    AudioOutEnd,
    TimerFired,
    MicrophoneBack,
    BargeIn,
    OwnVoice,
    *_gate.GATE_EVENTS,
)


def event_from_fields(name: str, /, **fields: Any) -> Event:
    """The typed event called `name`, from its printed keys; an unknown name or field raises."""
    cls = EVENT_TYPES.get(name)
    if cls is None:
        raise ValueError(f"there is no event called '{name}'; the events are {sorted(EVENT_TYPES)}")
    return cls.from_fields(**fields)


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

    def emit(self, event: Event, /) -> Event:
        """Stamp `event` with `t`, record it and hand it to every listener; return the stamped event.

        A failing listener is logged and skipped.
        """
        event = dataclasses.replace(event, t=self.now())
        with self._lock:
            self.history.append(event)
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:  # a broken printer must not stop the pipeline
                log.exception("event listener failed on %s", event.name)
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
