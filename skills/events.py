"""Typed pipeline events: the base class, the gate's events, and the sink they are sent to.

Every event is a frozen dataclass with a class-level `name` (the string the
`--json` output prints as "event") and typed, keyword-only fields.  It has one
JSON form: `to_json()` gives `{"t": ..., "event": name, **data}`, where `data`
is the fields under their printed keys, in declaration order.  Two rules keep
that form exactly what scripts read before the events were typed:

- a field that defaults to None is left out while it is None (those events
  simply did not carry the key); a required field that is None prints null;
- a field declared with `field(metadata=AS_NAME)` prints under "name" (`name`
  on an event is the event's own name, so the skill's name is `skill` in Python).

`t` (seconds since the pipeline started) is stamped by whoever delivers the
event (`voice.events.EventBus`); a freshly made event has t=0.

The gate's events live here because skills never import the voice pipeline
(the arrow runs voice -> skills); `voice/events.py` re-exports them next to
the pipeline's own, so the `--json` output and the tests see one set.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

_KEY = "json_key"  # field metadata: the key the field is printed under, when not its attribute name
# `field(metadata=AS_NAME)`: the skill's name, printed as "name" (the attribute `name` is the event's own).
AS_NAME = MappingProxyType({_KEY: "name"})

TOOL_CALL = "tool_call"
CONFIRM_REQUEST = "confirm_request"
CONFIRM_ANSWER = "confirm_answer"
CONFIRMED = "confirmed"
CANCELLED = "cancelled"
ACTION_RESULT = "action_result"
ERROR = "error"


_PAYLOADS: dict[type, tuple[tuple[str, str, bool], ...]] = {}


def _payload(cls: type[Event]) -> tuple[tuple[str, str, bool], ...]:
    """(attribute, printed key, left out when None) for each field of `cls` but `t` (worked out once per class)."""
    found = _PAYLOADS.get(cls)
    if found is None:
        fields = [f for f in dataclasses.fields(cls) if f.name != "t"]
        found = _PAYLOADS[cls] = tuple((f.name, f.metadata.get(_KEY, f.name), f.default is None) for f in fields)
    return found


@dataclass(frozen=True, kw_only=True)
class Event:
    """One pipeline event; subclasses set `name` and declare the fields."""

    name: ClassVar[str] = ""
    t: float = 0.0  # seconds since the pipeline started; stamped on delivery

    @property
    def data(self) -> dict[str, Any]:
        """The fields under their printed keys (a fresh dict: changing it changes nothing)."""
        out: dict[str, Any] = {}
        for attr, printed, optional in _payload(type(self)):
            value = getattr(self, attr)
            if not (optional and value is None):
                out[printed] = value
        return out

    def to_json(self) -> str:
        """The event as one JSON object (`--json` output): "t" and "event" first, then `data`."""
        return json.dumps({"t": round(self.t, 4), "event": self.name, **self.data}, ensure_ascii=False, default=str)

    @classmethod
    def printed_keys(cls) -> tuple[str, ...]:
        """The keys this kind's fields print under, in order (without "t" and "event")."""
        return tuple(printed for _, printed, _ in _payload(cls))

    @classmethod
    def from_fields(cls, **fields: Any) -> Event:
        """The event from its printed keys (`name=` for `skill`); an unknown or missing key raises TypeError."""
        by_key = {printed: attr for attr, printed, _ in _payload(cls)}
        unknown = sorted(set(fields) - set(by_key))
        if unknown:
            raise TypeError(f"event '{cls.name}' has no field {', '.join(unknown)}; its fields are {sorted(by_key)}")
        try:
            return cls(**{by_key[k]: v for k, v in fields.items()})
        except TypeError as e:  # a required field is missing
            raise TypeError(f"event '{cls.name}': {e}") from None


@dataclass(frozen=True, kw_only=True)
class ToolCall(Event):
    """A skill is about to be called (before any question): by whom and with what."""

    name: ClassVar[str] = TOOL_CALL
    skill: str = field(metadata=AS_NAME)
    arguments: dict[str, Any]
    source: str  # "template", "model" or "keyboard"


@dataclass(frozen=True, kw_only=True)
class ConfirmRequest(Event):
    """The gate asks before a consequential call."""

    name: ClassVar[str] = CONFIRM_REQUEST
    text: str  # the question


@dataclass(frozen=True, kw_only=True)
class ConfirmAnswer(Event):
    """What came back to the question, and what the gate made of it."""

    name: ClassVar[str] = CONFIRM_ANSWER
    text: str  # "" for silence
    verdict: str  # a `skills.confirm.Verdict` value


@dataclass(frozen=True, kw_only=True)
class Confirmed(Event):
    """A yes: the call runs."""

    name: ClassVar[str] = CONFIRMED
    skill: str = field(metadata=AS_NAME)
    answer: str


@dataclass(frozen=True, kw_only=True)
class Cancelled(Event):
    """No yes: the call does not run."""

    name: ClassVar[str] = CANCELLED
    skill: str = field(metadata=AS_NAME)
    reason: str
    answer: str | None  # None (printed null): no answer came


@dataclass(frozen=True, kw_only=True)
class ActionResult(Event):
    """How a call went."""

    name: ClassVar[str] = ACTION_RESULT
    skill: str = field(metadata=AS_NAME)
    ok: bool
    text: str


@dataclass(frozen=True, kw_only=True)
class Error(Event):
    """Something failed; `stage` says where (llm, stt, skill, audit, microphone, voice, ...)."""

    name: ClassVar[str] = ERROR
    stage: str
    message: str
    file: str | None = None  # the input file it concerns
    spoken: str | None = None  # what to say aloud, when that differs from `message`


GATE_EVENTS: tuple[type[Event], ...] = (
    ToolCall,
    ConfirmRequest,
    ConfirmAnswer,
    Confirmed,
    Cancelled,
    ActionResult,
    Error,
)


class EventSink(Protocol):
    """Where events go: the voice loop's EventBus, or a list in a test."""

    def emit(self, event: Event, /) -> Any:
        """Report one event; the return value is not used."""
        ...
