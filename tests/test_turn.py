"""The turn state machine: named states, allowed moves, an event at each move."""

from __future__ import annotations

import pytest

from voice.events import EventBus
from voice.turn import ALLOWED, InvalidTransition, State, TurnState


def test_a_full_spoken_turn_with_confirmation():
    bus = EventBus()
    turn = TurnState(bus)
    path = ["recording", "transcribing", "thinking", "confirming", "acting", "speaking", "listening"]
    for s in path:
        turn.to(s)
    states = [e.data["state"] for e in bus.history if e.name == "state"]
    assert states == path
    assert next(e.data["previous"] for e in bus.history) == "listening"
    assert all(e.t >= 0 for e in bus.history)


@pytest.mark.parametrize("old,new", [("listening", "acting"), ("recording", "speaking"), ("listening", "confirming")])
def test_invalid_moves_raise(old, new):
    turn = TurnState(EventBus())
    turn.state = State(old)
    with pytest.raises(InvalidTransition):
        turn.to(new)


def test_every_state_can_get_back_to_listening():
    for state, targets in ALLOWED.items():
        if state is not State.LISTENING:
            assert State.LISTENING in targets, state


def test_staying_in_a_state_is_not_an_event():
    bus = EventBus()
    turn = TurnState(bus)
    turn.to("thinking")
    turn.to("speaking")
    turn.to("speaking")
    assert [e.data["state"] for e in bus.history] == ["thinking", "speaking"]
