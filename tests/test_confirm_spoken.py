"""Spoken answers to a confirmation question, as real audio.

Piper says them, Whisper tiny.en hears them, `classify_answer` judges what it heard. Then the whole
path through the CLI (`hark run` with `--answers` WAVs): a sentence that merely contains a yes-word,
or Hark's own question heard back, leaves the task list alone; a spoken "yes" clears it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from skills.confirm import Verdict, classify_answer, question, reask
from tests.support.cli import hark_env, run_hark
from tests.support.ollama_server import FakeOllama
from tests.support.speech import speech_file
from tests.support.tasks import open_task_texts
from voice.audio import RATE, read_audio, resample, to_int16, write_wav

MODEL = "qwen3:1.7b"
PREVIEW = "I'll delete all 3 of your tasks."


@pytest.fixture(scope="session")
def say(synth, tmp_path_factory):
    """Piper's voice saying a sentence: 16 kHz int16 samples and a WAV of them (cached per session)."""
    folder = tmp_path_factory.mktemp("answers")
    cache: dict[str, tuple[np.ndarray, Path]] = {}

    def make(text: str) -> tuple[np.ndarray, Path]:
        if text not in cache:
            from piper import SynthesisConfig

            # No generator noise: the same sentence always sounds the same, so the test is repeatable.
            steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
            audio = np.concatenate([c.audio_float_array for c in synth.voice.synthesize(text, steady)])
            pad = np.zeros(int(0.4 * synth.sample_rate), np.float32)
            audio = np.concatenate([pad, audio, pad])
            samples = to_int16(resample(audio.astype(np.float32), synth.sample_rate, RATE))
            path = folder / f"{len(cache)}.wav"
            write_wav(path, samples, RATE)
            cache[text] = (samples, path)
        return cache[text]

    return make


def heard(transcriber, samples: np.ndarray) -> tuple[str, Verdict]:
    text = transcriber.transcribe(samples).text
    return text, classify_answer(text)


# ---------------------------------------------------------------- in process: audio -> Whisper -> verdict


@pytest.mark.parametrize(
    "answer",
    ["Yes.", "Yeah, do it.", "Sure.", "Go ahead.", "Yes, please.", "Confirm.", "Yep, go for it.", "Absolutely."],
)
def test_spoken_yes_confirms(say, transcriber, answer):
    text, verdict = heard(transcriber, say(answer)[0])
    assert verdict is Verdict.YES, f"{answer!r} was heard as {text!r}"


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sure you misheard me.",
        "Remind me to confirm the dentist appointment.",
        "Turn right at the light.",
        "Okay, that's not what I asked.",
        "Yes, go ahead and delete them.",
        "Sure, but first read me the list.",
        "No.",
        "No, wait.",
        "Don't do it.",
        "Maybe later.",
        "Yes, maybe.",
        # Hark's own words, heard back
        "Shall I go ahead?",
        question(PREVIEW),
        reask(PREVIEW),
        question("I'll undo adding 'okay'."),
        question("I'll run the backup command: rsync -a docs backup."),
    ],
)
def test_spoken_non_answers_never_confirm(say, transcriber, answer):
    text, verdict = heard(transcriber, say(answer)[0])
    assert text.strip(), f"Whisper heard nothing in {answer!r}: the test would prove nothing"
    assert verdict is not Verdict.YES, f"{answer!r} was heard as {text!r}"


@pytest.mark.parametrize(
    "answer, verdict",
    [
        ("No.", Verdict.NO),
        ("Okay, that's not what I asked.", Verdict.NO),
        ("Turn right at the light.", Verdict.UNCLEAR),
        ("I'm sure you misheard me.", Verdict.UNCLEAR),
    ],
)
def test_spoken_answers_are_classified_exactly(say, transcriber, answer, verdict):
    text, got = heard(transcriber, say(answer)[0])
    assert got is verdict, f"{answer!r} was heard as {text!r}"


@pytest.mark.parametrize(
    "name, verdict", [("speechcommands_yes.wav", Verdict.YES), ("speechcommands_no.wav", Verdict.NO)]
)
def test_real_recorded_answers(transcriber, name, verdict):
    text, got = heard(transcriber, read_audio(speech_file(name)))
    assert got is verdict, f"{name} was heard as {text!r}"


def test_silence_is_silence(transcriber):
    text, got = heard(transcriber, read_audio(speech_file("silence_speechcommands_1s.wav")))
    assert got is Verdict.SILENCE, text


# ---------------------------------------------------------------- end to end: hark run --answers


@pytest.fixture
def three_tasks(_data_dir):
    env = hark_env(HARK_DATA_DIR=str(_data_dir))
    for t in ("buy milk", "call mom", "fix the bike"):
        r = run_hark("tasks", "add", t, env=env)
        assert r.returncode == 0, r.stderr
    assert open_task_texts(_data_dir) == ["buy milk", "call mom", "fix the bike"]
    return _data_dir


def _clear_by_voice(say, data_dir: Path, answers: list[Path], tmp_path: Path) -> list[dict]:
    """Say "Delete all my tasks." (a template: no model) and answer Hark's question(s) with WAVs."""
    with FakeOllama() as ollama:
        ollama.add_model(MODEL, capabilities=["completion", "tools", "thinking"])
        r = run_hark(
            "run",
            "--input",
            str(say("Delete all my tasks.")[1]),
            *[a for wav in answers for a in ("--answers", str(wav))],
            "--output",
            str(tmp_path / "reply.wav"),
            "--json",
            env=hark_env(HARK_DATA_DIR=str(data_dir), OLLAMA_HOST=ollama.url),
        )
        assert ollama.bodies("/api/chat") == []  # the template chose the call; the model was never asked
    events = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    asked = [e["text"] for e in events if e["event"] == "confirm_request"]
    assert asked and "all 3 of your tasks" in asked[0], (r.stdout, r.stderr)
    return events


def _audit(data_dir: Path) -> list[dict]:
    audit = data_dir / "audit.jsonl"
    if not audit.exists():
        return []
    return [json.loads(line) for line in audit.read_text().splitlines() if line.strip()]


def _executed_clears(data_dir: Path) -> list[dict]:
    """Audit entries saying the clear ran (its outcome line)."""
    return [e for e in _audit(data_dir) if e.get("skill") == "clear_tasks" and e.get("executed")]


# Each run answers twice: an unclear first answer earns one re-ask, and the second answer is
# another non-answer, so both are judged through the real CLI.
@pytest.mark.parametrize(
    "first, second",
    [
        ("I'm sure you misheard me.", "Turn right at the light."),
        ("Shall I go ahead?", question(PREVIEW)),  # Hark's old and new question, heard back
        ("Remind me to confirm the dentist appointment.", reask(PREVIEW)),
    ],
    ids=["misheard-then-turn-right", "hark-questions-heard-back", "contained-confirm-then-reask"],
)
def test_spoken_non_answer_keeps_every_task(say, three_tasks, tmp_path, first, second):
    events = _clear_by_voice(say, three_tasks, [say(first)[1], say(second)[1]], tmp_path)
    assert open_task_texts(three_tasks) == ["buy milk", "call mom", "fix the bike"]
    assert not [e for e in events if e["event"] == "confirmed"]
    assert [e for e in events if e["event"] == "cancelled"]
    assert _executed_clears(three_tasks) == []
    assert not [e for e in _audit(three_tasks) if "yes" in str(e.get("confirmation", "")).lower()]
    answers = [e for e in events if e["event"] == "confirm_answer"]
    assert len(answers) == 2 and answers[0]["verdict"] == "unclear", answers
    assert "yes" not in [a["verdict"] for a in answers]
    asked = [e["text"] for e in events if e["event"] == "confirm_request"]
    assert "say yes or no" in asked[1] and "3" in asked[1]  # the one re-ask names the two answers


@pytest.mark.parametrize(
    "answers",
    [["Yes."], ["speechcommands_yes.wav"], ["Turn right at the light.", "Yes."]],
    ids=["spoken-yes", "recorded-yes", "unclear-then-yes"],
)
def test_spoken_yes_clears_the_list(say, three_tasks, tmp_path, answers):
    wavs = [speech_file(a) if a.endswith(".wav") else say(a)[1] for a in answers]
    events = _clear_by_voice(say, three_tasks, wavs, tmp_path)
    assert open_task_texts(three_tasks) == []
    assert [e["verdict"] for e in events if e["event"] == "confirm_answer"][-1] == "yes"
    assert [e for e in events if e["event"] == "confirmed"]
    done = _executed_clears(three_tasks)
    assert len(done) == 1 and done[0]["ok"] and "spoken yes" in done[0]["confirmation"]
