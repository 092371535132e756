"""Dictation without a microphone or a window: the editor (phrases in, edits out) and the choice of typing tool.

The editor is pure, so these tests feed it transcripts as Whisper writes them and check both the text and
that replaying its edits (what a window receives) gives the same text. The typing-tool choice is a decision
on the session's environment, the tools installed and the layout: those are its inputs here; the real tools
typing into a real X window are tested in test_dictation_x11.py.
"""

from __future__ import annotations

import random

import pytest

from voice.dictation import (
    NEW_LINE,
    NEW_PARAGRAPH,
    SCRATCH,
    STOP,
    UNDO,
    Delete,
    Dictation,
    TypeText,
    apply_edits,
    command_of,
)
from voice.inject import InjectError, Layout, Plan, choose, keyboard_layout


def dictate(*phrases: str) -> tuple[Dictation, str]:
    """The editor after `phrases`, and the text a window holds after receiving every edit it emitted."""
    d = Dictation()
    window = ""
    for p in phrases:
        window = apply_edits(window, d.hear(p).edits)
    assert window == d.text, "the edits must bring a window to exactly the editor's text"
    return d, window


# ---------------------------------------------------------------- spacing and capitals


def test_phrases_are_joined_with_one_space_and_whispers_punctuation_is_kept():
    _, text = dictate("Hello world.", "How are you?", "I'm fine, thanks")
    assert text == "Hello world. How are you? I'm fine, thanks"


def test_no_space_before_punctuation_and_a_capital_after_a_sentence_end():
    _, text = dictate("it works", ", mostly.", "and then", "it stopped!", "why", "? Because.")
    assert text == "It works, mostly. And then it stopped! Why? Because."


def test_whispers_capitals_are_never_lowered():
    _, text = dictate("I went to Paris", "With Ann.")
    assert text == "I went to Paris With Ann."


def test_the_first_phrase_and_each_line_start_with_a_capital_and_no_space():
    d, text = dictate("dear Ann,", "new line", "thanks for the tea.")
    assert text == "Dear Ann,\nThanks for the tea."
    assert d.hear("new paragraph").edits == (TypeText("\n\n"),)
    d.hear('"see you," she said.')
    assert d.text == 'Dear Ann,\nThanks for the tea.\n\n"See you," she said.'


# ---------------------------------------------------------------- line breaks


@pytest.mark.parametrize("said", ["New line.", "new line", "Newline!", "New-line", "NEW LINE,"])
def test_new_line_however_whisper_writes_it(said):
    _, text = dictate("First.", said, "second.")
    assert text == "First.\nSecond."


def test_new_paragraph_is_an_empty_line():
    _, text = dictate("One.", "New paragraph.", "Two.")
    assert text == "One.\n\nTwo."


def test_a_break_spoken_as_a_clause_inside_a_phrase():
    d = Dictation()
    step = d.hear("Dear Anne, new line, thanks for the tea.")  # tiny.en's transcript of Piper saying it
    assert step.commands == (NEW_LINE,)
    assert d.text == "Dear Anne\nThanks for the tea."
    step = d.hear("That was it. New paragraph. Bye.")
    assert step.commands == (NEW_PARAGRAPH,)
    assert d.text == "Dear Anne\nThanks for the tea. That was it.\n\nBye."


def test_the_words_new_line_inside_a_sentence_are_text():
    _, text = dictate("They sell a new line of shoes.", "A new paragraph is there")
    assert text == "They sell a new line of shoes. A new paragraph is there"


# ---------------------------------------------------------------- scratch, undo, stop


def test_scratch_that_removes_the_last_phrase_and_repeats():
    d = Dictation()
    d.hear("Hello world.")
    d.hear("New line.")
    d.hear("How are you?")
    step = d.hear("Scratch that.")
    assert step.commands == (SCRATCH,)
    assert step.edits == (Delete(len("How are you?")),)
    assert d.text == "Hello world.\n"
    assert d.hear("scratch that").edits == (Delete(1),)
    assert d.text == "Hello world."
    d.hear("Scratch that!")
    d.hear("Scratch that.")  # nothing left: nothing to do
    assert d.text == ""


def test_after_a_scratch_the_next_phrase_joins_the_text_that_is_left():
    _, text = dictate("Hello world.", "This is wrong", "Scratch that.", "bye.")
    assert text == "Hello world. Bye."
    _, text = dictate("wrong start", "Scratch that.", "right start")
    assert text == "Right start"


def test_undo_that_undoes_a_phrase_then_brings_back_a_scratched_one():
    d = Dictation()
    d.hear("Keep this.")
    d.hear("Then this.")
    d.hear("Scratch that.")
    d.hear("Another one.")
    step = d.hear("Undo that.")
    assert step.commands == (UNDO,)
    assert d.text == "Keep this."
    step = d.hear("undo that")
    assert step.edits == (TypeText(" Then this."),)
    assert d.text == "Keep this. Then this."


def test_undo_heard_as_and_do_that():
    # tiny.en writes Piper's "Undo that." as "And do that." (measured): it is the command.
    _, text = dictate("One.", "Two.", "And do that.")
    assert text == "One."
    assert command_of("And do that.") == UNDO


def test_undo_with_nothing_done_does_nothing():
    d = Dictation()
    assert d.hear("Undo that.").edits == ()
    assert d.text == ""


def test_stop_dictation_ends_and_later_phrases_do_nothing():
    d = Dictation()
    d.hear("Almost done.")
    step = d.hear("Stop dictation.")
    assert step.stopped and step.commands == (STOP,) and step.edits == ()
    later = d.hear("This is not typed.")
    assert later.ignored and later.edits == ()
    assert d.text == "Almost done."


def test_stop_dictation_at_the_end_of_a_phrase_types_the_rest_first():
    d = Dictation()
    step = d.hear("That is all. Stop dictation.")
    assert step.stopped and step.commands == (STOP,)
    assert step.edits == (TypeText("That is all."),)
    assert d.stopped


def test_start_dictation_while_dictating_is_not_typed():
    _, text = dictate("Start dictation.", "Hello.")
    assert text == "Hello."


# ---------------------------------------------------------------- what is never typed


@pytest.mark.parametrize("noise", ["", "   ", "[BLANK_AUDIO]", "(music)", "...", "♪ la la ♪", "*sigh*"])
def test_phrases_without_words_change_nothing(noise):
    d = Dictation()
    d.hear("Text.")
    step = d.hear(noise)
    assert step.ignored and step.edits == ()
    assert d.text == "Text."


def test_control_characters_in_a_transcript_are_never_typed():
    _, text = dictate("one\ttwo\x1b[2J three\nfour\u202e")
    assert text == "One two [2J three four"


def test_lengths_count_composed_characters():
    # "café" with a combining accent is 5 code points, but one BackSpace deletes "é": NFC makes it 4.
    d = Dictation()
    d.hear("cafe\u0301")
    assert d.text == "Café"
    assert d.hear("Scratch that.").edits == (Delete(4),)


def test_any_mix_of_phrases_and_commands_replays_to_the_same_text():
    phrases = [
        "Hello world.",
        "how are you?",
        ", really",
        "New line.",
        "New paragraph.",
        "Scratch that.",
        "Undo that.",
        "Dear Ann, new line, thanks.",
        "naïve café",
        "[BLANK_AUDIO]",
    ]
    rng = random.Random(14)
    for _ in range(300):
        said = [rng.choice(phrases) for _ in range(rng.randint(1, 12))]
        dictate(*said)  # asserts the replayed edits give the editor's text


# ---------------------------------------------------------------- choosing the typing tool

ALL_TOOLS = {"xdotool", "xclip", "xsel", "wtype", "ydotool", "wl-copy"}
US = Layout(("us",))


def tools(*names: str):
    return lambda name: f"/usr/bin/{name}" if name in names else None


def test_x11_types_with_xdotool_and_pastes_only_non_ascii_on_a_us_layout():
    plan = choose(env={"DISPLAY": ":0"}, which=tools(*ALL_TOOLS), layout=US)
    assert (plan.session, plan.typer, plan.clipboard) == ("x11", "xdotool", "xclip")
    assert not plan.pastes("Hello world.\n")
    assert plan.pastes("The café was naïve.")
    assert "non-ASCII text pasted with xclip" in plan.describe()


@pytest.mark.parametrize(
    "layout",
    [
        Layout(("de",)),
        Layout(("fr",)),
        Layout(("us",), ("dvorak",)),
        Layout(("us", "ru")),
        Layout(("gb",), ("colemak",)),
    ],
)
def test_a_non_qwerty_layout_pastes_everything(layout):
    plan = choose(env={"DISPLAY": ":0"}, which=tools(*ALL_TOOLS), layout=layout)
    assert not layout.qwerty
    assert plan.pastes("plain ascii")
    assert "typing is unreliable on this layout" in plan.describe()


def test_forced_methods():
    assert choose("type", env={"DISPLAY": ":0"}, which=tools(*ALL_TOOLS), layout=US).pastes("café") is False
    assert choose("paste", env={"DISPLAY": ":0"}, which=tools(*ALL_TOOLS), layout=US).pastes("abc") is True
    with pytest.raises(InjectError, match="auto, type or paste"):
        choose("shout", env={"DISPLAY": ":0"}, which=tools(*ALL_TOOLS), layout=US)  # type: ignore[arg-type]


def test_wayland_prefers_wtype_which_types_any_text_itself():
    env = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"}
    plan = choose(env=env, which=tools(*ALL_TOOLS), layout=Layout(("de",)))
    assert (plan.session, plan.typer, plan.clipboard) == ("wayland", "wtype", "wl-copy")
    assert not plan.pastes("naïve café")


@pytest.mark.parametrize("desktop", ["GNOME", "ubuntu:GNOME", "KDE"])
def test_gnome_and_kde_use_ydotool_and_paste_non_ascii(desktop):
    env = {"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": desktop}
    plan = choose(env=env, which=tools(*ALL_TOOLS), layout=US)
    assert plan.typer == "ydotool"
    assert plan.pastes("naïve") and not plan.pastes("naive")


def test_no_session_says_to_run_it_on_the_desktop_or_print():
    with pytest.raises(InjectError, match="--print"):
        choose(env={}, which=tools(*ALL_TOOLS), layout=US)


def test_a_missing_tool_names_the_package_to_install():
    with pytest.raises(InjectError, match=r"sudo apt install xdotool"):
        choose(env={"DISPLAY": ":0"}, which=tools("xclip"), layout=US)
    with pytest.raises(InjectError, match=r"sudo apt install wtype.*sudo apt install ydotool"):
        choose(env={"WAYLAND_DISPLAY": "w"}, which=tools("wl-copy"), layout=US)
    with pytest.raises(InjectError, match=r"sudo apt install xclip"):
        choose("paste", env={"DISPLAY": ":0"}, which=tools("xdotool"), layout=US)
    with pytest.raises(InjectError, match=r"sudo apt install wl-clipboard"):
        choose(env={"WAYLAND_DISPLAY": "w"}, which=tools("ydotool"), layout=Layout(("de",)))


def test_without_a_clipboard_tool_non_ascii_is_typed_with_a_warning(caplog):
    plan = choose(env={"DISPLAY": ":0"}, which=tools("xdotool"), layout=US)
    assert plan.clipboard is None and not plan.pastes("café")
    assert "sudo apt install xclip" in caplog.text


def test_the_layout_is_read_from_setxkbmap_and_on_wayland_from_the_desktop():
    answers = {
        ("setxkbmap", "-query"): "rules:      evdev\nmodel:      pc105\nlayout:     us,de\nvariant:    ,nodeadkeys\n",
        ("gsettings", "get", "org.gnome.desktop.input-sources", "sources"): "[('xkb', 'fr+azerty'), ('xkb', 'us')]",
        ("localectl", "status"): "System Locale: LANG=C.UTF-8\n    X11 Layout: de\n     X11 Model: pc105\n",
    }

    def query(args):
        return answers.get(tuple(args))

    x11 = keyboard_layout("x11", {}, query)
    assert x11 == Layout(("us", "de"), ("", "nodeadkeys"), "setxkbmap") and not x11.qwerty
    gnome = keyboard_layout("wayland", {"XDG_CURRENT_DESKTOP": "GNOME"}, query)
    assert gnome is not None and gnome.layouts == ("fr", "us") and gnome.variants == ("azerty", "")
    assert keyboard_layout("wayland", {}, query) == Layout(("de",), (), "localectl")
    assert keyboard_layout("wayland", {"XKB_DEFAULT_LAYOUT": "us"}, query) == Layout(("us",), (), "XKB_DEFAULT")
    assert keyboard_layout("x11", {}, lambda args: None) is None


def test_an_unknown_layout_is_taken_as_qwerty_and_said_so():
    plan = Plan("x11", "xdotool", "xclip", "auto", None)
    assert not plan.pastes("abc") and plan.pastes("é")
    assert "layout unknown, taken as QWERTY" in plan.describe()
