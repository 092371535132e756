"""`hark dictate` on real speech: Piper's voice says the phrases and the edit commands into WAV files, and Hark's
command line (a subprocess: the endpointer, local Whisper tiny.en, the editor) prints the text with `--print`, or
types it with xdotool into a real Tk window under Xvfb; live, from a PulseAudio null-sink microphone.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.support.cli import HARK, hark_env, run_hark
from tests.support.polling import wait_for
from tests.support.xvfb import TextWindow, Xvfb
from voice.audio import RATE, resample, to_int16, write_wav


@pytest.fixture(scope="module")
def spoken(synth, tmp_path_factory):
    """A WAV of Piper saying each phrase, with `gap_s` of silence before and after each (cached per module)."""
    folder = tmp_path_factory.mktemp("dictation")
    cache: dict[tuple[str, ...], Path] = {}

    def make(*phrases: str, gap_s: float = 0.5) -> Path:
        if phrases not in cache:
            from piper import SynthesisConfig

            steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)  # the same words always sound the same
            pad = np.zeros(int(gap_s * synth.sample_rate), np.float32)
            parts = [pad]
            for phrase in phrases:
                parts += [c.audio_float_array for c in synth.voice.synthesize(phrase, steady)] + [pad]
            audio = to_int16(resample(np.concatenate(parts).astype(np.float32), synth.sample_rate, RATE))
            path = folder / f"{len(cache)}.wav"
            write_wav(path, audio, RATE)
            cache[phrases] = path
        return cache[phrases]

    return make


def inputs(*paths: Path) -> list[str]:
    return [arg for p in paths for arg in ("--input", str(p))]


def test_print_applies_new_line_and_scratch_that_to_real_speech(spoken):
    files = [spoken(p) for p in ("Hello world.", "New line.", "How are you?", "Scratch that.", "I like it.")]
    done = run_hark("dictate", *inputs(*files), "--print")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hello world.\nI like it.\n"
    # What was heard and done is shown on stderr, one line per phrase.
    heard = [line for line in done.stderr.splitlines() if line.startswith("heard: ")]
    assert len(heard) == 5
    assert "(new line, " in heard[1] and "(scratch that, " in heard[3] and "(typed, " in heard[4]


def test_one_file_holding_several_phrases_and_stop_dictation(spoken):
    # The pauses between phrases in one file cut it into utterances; nothing after "stop dictation" counts.
    story = spoken("Hello world.", "New paragraph.", "Scratch that.", "Stop dictation.", "How are you?", gap_s=1.2)
    after = spoken("I like it.")
    done = run_hark("dictate", *inputs(story, after), "--print")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Hello world.\n"
    assert "stop dictation" in done.stderr
    assert "How are you" not in done.stderr  # never even transcribed


def test_without_a_desktop_it_says_to_use_print(spoken, tmp_path):
    env = {k: v for k, v in hark_env().items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    done = run_hark("dictate", *inputs(spoken("Hello world.")), env=env)
    assert done.returncode == 1
    assert done.stderr.strip().startswith("hark: There is no graphical session to type into")
    assert "--print" in done.stderr and "Traceback" not in done.stderr


def test_hark_dictate_types_real_speech_into_the_focused_x_window(spoken, tmp_path):
    xvfb = Xvfb().start()
    try:
        window = TextWindow(xvfb, tmp_path)
        try:
            files = [spoken(p) for p in ("Hello world.", "New line.", "How are you?", "Scratch that.", "I like it.")]
            done = run_hark("dictate", *inputs(*files), env=hark_env(**xvfb.env()))
            text = window.wait_text("Hello world.\nI like it.")
        finally:
            window.close()
    finally:
        xvfb.stop()
    assert done.returncode == 0, done.stderr
    assert "typing: x11: typed with xdotool; non-ASCII text pasted with xclip; layout us" in done.stderr
    assert text == "Hello world.\nI like it."


def test_live_dictation_from_the_microphone_types_each_phrase_and_stops_on_command(spoken, pulse, tmp_path):
    # The real live path: PulseAudio's hark_in is the microphone, each phrase is typed into the Tk window as
    # soon as it is transcribed, and "stop dictation" ends the command by itself.
    xvfb = Xvfb().start()
    window = TextWindow(xvfb, tmp_path)
    proc = subprocess.Popen(
        [*HARK, "dictate"], env=pulse.client_env(DISPLAY=xvfb.display), stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or ()), daemon=True)
    reader.start()
    try:
        assert wait_for(lambda: any("Dictating" in line for line in lines), timeout=120), lines
        seen = []
        for phrase, expected in (
            ("Hello world.", "Hello world."),
            ("New line.", "Hello world.\n"),
            ("How are you?", "Hello world.\nHow are you?"),
            ("Scratch that.", "Hello world.\n"),
        ):
            pulse.play(spoken(phrase))
            seen.append(window.wait_text(expected, timeout=30))
        pulse.play(spoken("Stop dictation."))
        assert proc.wait(timeout=60) == 0, lines
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
        window.close()
        xvfb.stop()
    assert seen == ["Hello world.", "Hello world.\n", "Hello world.\nHow are you?", "Hello world.\n"]
    assert any("typing: x11: typed with xdotool" in line for line in lines)
