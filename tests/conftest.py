"""Shared fixtures: the real recordings, the real models (loaded once), a real PulseAudio daemon.

The helpers themselves live in `tests.support`; the names below are re-exported for the tests that import them
from here. Tests that load a model, open a sound device or run Hark's command line are marked `slow`
(see `pytest_collection_modifyitems`): `pytest -m "not slow"` (`make test-fast`) runs the rest.
"""

from __future__ import annotations

import functools
import inspect
import shutil
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.cli import HARK, hark_env, run_hark
from tests.support.ollama_server import FakeOllama
from tests.support.paths import ROOT, SPEECH_DIR, models_dir
from tests.support.pulse import Pulse
from tests.support.speech import manifest, nonspeech_rows, speech_file, speech_rows

__all__ = [
    "HARK",
    "ROOT",
    "SPEECH_DIR",
    "Pulse",
    "hark_env",
    "manifest",
    "nonspeech_rows",
    "run_hark",
    "speech_file",
    "speech_rows",
]

# Fixtures that load a Whisper or Piper model or start a sound server. `item.fixturenames` is the closure of a
# test's fixtures, so a test is caught through any fixture that depends on these as well.
SLOW_FIXTURES = frozenset({"transcriber", "synth", "pulse"})

# Calls that make a test slow wherever they appear in it or in one of its fixtures: Hark's command line in a
# subprocess (each run imports the whole pipeline, 1-3 s), any other Python subprocess, a model loaded by hand
# or a sound server of the test's own.
SLOW_CALLS = (
    "run_hark(",
    "HARK,",
    "[*HARK",
    '"voice.cli"',
    "sys.executable",
    "WhisperTranscriber(",
    "PiperSynthesizer(",
    "Pulse(",
)

# Tests slow for another reason (a helper class starts the subprocess, a module fixture builds something big,
# a property test, real waiting), found with `pytest -m "not slow" --durations=60`: each took over 1 s on 2
# shared cores. A module name marks all its tests; "module::test" one test with all its parameters.
SLOW_TESTS = frozenset(
    {
        "test_ha_sentences",  # its module fixture matches every Home Assistant test sentence (30 s)
        "test_terminal::test_quiet_ask_never_imports_the_speech_synthesizer",
        "test_terminal::test_ask_on_a_terminal_takes_a_typed_answer",
        "test_terminal::test_end_of_input_at_the_question_cancels",
        "test_wyoming::test_audio_streams_while_speaking_and_the_transcript_comes_soon_after",
        "test_text::test_random_texts_chunk_the_same_and_lose_nothing",
        "test_guard_llm::test_an_answer_trickling_past_the_deadline_is_stopped",
        "test_timers::test_pause_and_resume",
        "test_timers::test_what_came_due_while_closed_is_announced_at_start_once",
        "test_timers::test_adjusting_moves_the_due_time",
        "test_commands::test_huge_output_is_read_in_a_bounded_stream",
        "test_ha_intents::test_every_way_of_saying_a_length_sets_exactly_that_length",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark `slow` every test that needs a model, a sound device or a subprocess of Hark."""
    modules, used = set(), set()
    for item in items:
        module = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
        name = f"{module}::{getattr(item, 'originalname', item.name)}"
        modules.add(module)
        listed = {module, name} & SLOW_TESTS
        used |= listed
        if (
            listed
            or SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ()))
            or any(_calls_slow(f) for f in _functions(item))
        ):
            item.add_marker(pytest.mark.slow)
    # A renamed test would silently leave the fast tier slow: name the entries that match nothing collected.
    stale = sorted(e for e in SLOW_TESTS - used if e.split("::")[0] in modules)
    if stale:
        warnings.warn(f"tests/conftest.py SLOW_TESTS names tests that do not exist: {', '.join(stale)}", stacklevel=1)


def _functions(item: pytest.Item) -> list[Callable[..., Any]]:
    """The test function and the functions of the fixtures it uses."""
    funcs = [getattr(item, "function", None)]
    info = getattr(item, "_fixtureinfo", None)  # pytest has no public way to reach a test's fixture definitions
    for defs in info.name2fixturedefs.values() if info else ():
        funcs += [d.func for d in defs]
    return [f for f in funcs if f is not None]


@functools.cache
def _calls_slow(func: Callable[..., Any]) -> bool:
    try:
        source = inspect.getsource(func)
    except (OSError, TypeError):  # built in, or defined outside a file
        return False
    return any(call in source for call in SLOW_CALLS)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    """Every test gets its own HARK_DATA_DIR: nothing touches the user's real state."""
    d = tmp_path / "hark-data"
    monkeypatch.setenv("HARK_DATA_DIR", str(d))
    monkeypatch.setenv("HARK_MODELS_DIR", str(models_dir()))
    yield d


@pytest.fixture(scope="session")
def stt_config():
    from voice.config import SttConfig

    return SttConfig(model="tiny.en", device="cpu")


@pytest.fixture(scope="session")
def transcriber(stt_config):
    from voice.stt import WhisperTranscriber

    t = WhisperTranscriber(stt_config, models_dir()).load()
    t.warm()
    return t


@pytest.fixture(scope="session")
def synth():
    from voice.config import TtsConfig
    from voice.tts import PiperSynthesizer

    return PiperSynthesizer(TtsConfig(), models_dir()).load()


@pytest.fixture(scope="session")
def pulse(tmp_path_factory):
    assert shutil.which("pulseaudio"), "pulseaudio is not installed: run `make test`, which installs it"
    p = Pulse(tmp_path_factory.mktemp("pulse")).start()
    yield p
    p.stop()


@pytest.fixture
def ollama():
    """An Ollama-protocol server on loopback with `qwen3:1.7b` (tools, thinking), the tests' usual model."""
    with FakeOllama() as server:
        server.add_model("qwen3:1.7b", capabilities=["completion", "tools", "thinking"])
        yield server
