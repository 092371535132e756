"""Typing into a real X window: Xvfb, a Tk text widget in its own process with the focus, the real xdotool
and xclip chosen by `voice.inject`, and the widget's text read back after every phrase.

Non-ASCII text ("café", "naïve") takes the clipboard and a Ctrl+V; the edit commands take BackSpace; a German
(QWERTZ) layout set on the server with setxkbmap sends all text through the clipboard.
"""

from __future__ import annotations

import logging
import subprocess

import pytest

from tests.support.xvfb import TextWindow, Xvfb
from voice.dictation import Dictation
from voice.inject import Injector, choose

# Each test starts a Tk process on an X server of its own: not for the fast tier.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def xvfb():
    server = Xvfb().start()
    yield server
    server.stop()


@pytest.fixture
def window(xvfb, tmp_path):
    w = TextWindow(xvfb, tmp_path)
    yield w
    w.close()


def dictate_into(window: TextWindow, injector: Injector, phrases: list[str]) -> list[tuple[str, str, str]]:
    """Each phrase through the editor and into the window: (phrase, editor's text, window's text) after each."""
    d = Dictation()
    seen = []
    for phrase in phrases:
        injector.apply(d.hear(phrase).edits)
        seen.append((phrase, d.text, window.wait_text(d.text)))
    return seen


def test_phrases_non_ascii_and_edit_commands_reach_a_real_window(xvfb, window, caplog):
    caplog.set_level(logging.INFO, logger="hark.inject")
    plan = choose("auto", env=xvfb.env())
    assert (plan.session, plan.typer, plan.clipboard) == ("x11", "xdotool", "xclip")
    assert plan.layout is not None and plan.layout.layouts == ("us",)
    assert plan.describe() == "x11: typed with xdotool; non-ASCII text pasted with xclip; layout us"
    seen = dictate_into(
        window,
        Injector(plan),
        [
            "Hello world.",
            "New line.",
            "The café was naïve.",
            "Scratch that.",
            "It was fine, thanks",
            "Undo that.",  # removes "It was fine, thanks"
            "Undo that.",  # brings the scratched café sentence back
            "Dear Ann, new line, see you.",
        ],
    )
    for phrase, expected, got in seen:
        assert got == expected, f"after {phrase!r}"
    assert seen[2][2] == "Hello world.\nThe café was naïve."
    assert seen[3][2] == "Hello world.\n"
    assert seen[-1][2] == "Hello world.\nThe café was naïve. Dear Ann\nSee you."
    # The log says which way each phrase went: ASCII typed, non-ASCII pasted.
    assert "typing 12 characters with xdotool" in caplog.text
    assert "pasting 19 characters with xclip" in caplog.text
    assert "deleting 19 characters" in caplog.text


def test_a_qwertz_layout_sends_all_text_through_the_clipboard(xvfb, window):
    env = xvfb.env()
    subprocess.run(["setxkbmap", "de"], env=env, check=True)
    try:
        plan = choose("auto", env=env)
        assert plan.layout is not None and plan.layout.layouts == ("de",)
        assert plan.pastes("Zebras yawn.")
        seen = dictate_into(
            window, Injector(plan), ["Zebras yawn quietly.", "New line.", "Yes, zany.", "Scratch that."]
        )
    finally:
        subprocess.run(["setxkbmap", "us"], env=env, check=True)
    assert [got for _, _, got in seen] == [
        "Zebras yawn quietly.",
        "Zebras yawn quietly.\n",
        "Zebras yawn quietly.\nYes, zany.",
        "Zebras yawn quietly.\n",
    ]


def test_forced_typing_types_non_ascii_with_xdotool(xvfb, window):
    plan = choose("type", env=xvfb.env())
    seen = dictate_into(window, Injector(plan), ["Naïve café."])
    assert seen[0][2] == "Naïve café."
