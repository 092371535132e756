"""A microphone that disappears is reported and reopened when it returns: `hark listen` on a real
PulseAudio device (its own daemon, since this test kills it), through PortAudio and ALSA's pulse plugin.

Killing the daemon is the disappearance PortAudio can see: unloading only the null sink's module
makes PulseAudio move the recording to another source (stream rescue), so nothing stops there.
"""

from __future__ import annotations

import shutil
import time

import pytest

from tests.support.listen import HarkProcess
from tests.support.ollama_server import FakeOllama
from tests.support.pulse import Pulse
from tests.support.speech import speech_file

MODEL = "qwen3:1.7b"


@pytest.fixture
def own_pulse(tmp_path):
    assert shutil.which("pulseaudio"), "pulseaudio is not installed: run `make test`, which installs it"
    p = Pulse(tmp_path / "pulse").start()
    yield p
    p.stop()


def test_a_lost_microphone_is_reported_and_reopened_when_it_returns(own_pulse, tmp_path, _data_dir):
    config = tmp_path / "config.yaml"
    config.write_text(f"llm:\n  model: {MODEL}\n")
    with FakeOllama() as ollama:
        ollama.add_model(MODEL, capabilities=["completion", "tools", "thinking"])
        h = HarkProcess(own_pulse.client_env(HARK_DATA_DIR=str(_data_dir), OLLAMA_HOST=ollama.url), config)
        try:
            h.wait_for("ready", timeout=180)
            time.sleep(2.5)  # a fresh null-sink monitor delivers nothing for its first moments
            own_pulse.play(speech_file("cmu_goforward.wav"))
            assert h.wait_for("transcript", timeout=60)["text"].lower().startswith("go forward")
            h.wait_for("reply", timeout=60)

            own_pulse.stop()  # the sound server (and with it the microphone) is gone
            lost = h.wait_for("error", timeout=30, stage="microphone")
            assert "reopen" in lost["message"]
            assert lost["spoken"] == "I lost the microphone; I'll keep trying to reopen it."
            time.sleep(3)
            assert h.proc.poll() is None  # still running, still trying

            own_pulse.start()  # it comes back
            back = h.wait_for("microphone_back", timeout=60)
            assert back["microphone"]
            time.sleep(3)
            own_pulse.play(speech_file("cmu_goforward.wav"))
            transcript = h.wait_for("transcript", timeout=60)
            assert transcript["text"].lower().startswith("go forward")
            assert h.wait_for("reply", timeout=60)["text"] == f"You said: {transcript['text']}"
            # The speaker came back with the sound server: the reply was played, not lost.
            after = h.seen[[e["event"] for e in h.seen].index("microphone_back") :]
            assert "audio_out_start" in [e["event"] for e in after]
            assert not [e for e in after if e["event"] == "error" and e.get("stage") == "speech"], after
        finally:
            code = h.stop()
        assert code == 0, "".join(h.stderr)[-2000:]
        assert "Traceback" not in "".join(h.stderr)


def test_an_announcement_counts_as_played_only_when_the_speaker_played_it(own_pulse, synth, monkeypatch, _data_dir):
    """A timer is marked fired by `on_played`: never while the speaker is gone, and once it is back."""
    from skills.registry import SkillRegistry
    from voice.assistant import Assistant, Parts
    from voice.audio_devices import refresh_devices
    from voice.config import Config
    from voice.events import EventBus
    from voice.llm import Brain
    from voice.speaker import SpeakerSink

    for k, v in own_pulse.client_env().items():
        if k.startswith(("PULSE", "XDG", "HOME")):
            monkeypatch.setenv(k, v)
    refresh_devices()
    cfg = Config()
    events = EventBus()
    sink = SpeakerSink(None, synth.sample_rate)
    a = Assistant(
        Parts(cfg, events, None, synth, sink, Brain(cfg.llm, "http://127.0.0.1:9"), SkillRegistry(), _data_dir)
    )
    played: list[str] = []
    try:
        a.announce("Your tea timer is done.", on_played=lambda: played.append("tea"))
        a.speak_announcements()
        assert played == ["tea"]  # a working speaker: heard, then marked

        own_pulse.stop()  # the speaker goes away
        time.sleep(1.0)
        a.announce("Your pasta timer is done.", on_played=lambda: played.append("pasta"))
        t0 = time.monotonic()
        a.speak_announcements()
        assert time.monotonic() - t0 < 10  # no long wait on a dead device
        assert played == ["tea"]  # not heard, so not marked
        assert [d for d in events.history if d.name == "reply"][-1].data["played"] is False
        assert any(e.data.get("stage") == "speech" for e in events.history if e.name == "error")

        own_pulse.start()  # it comes back: the next announcement reopens the speaker and is heard
        time.sleep(2.5)
        a.announce("Your pasta timer is done.", on_played=lambda: played.append("pasta"))
        a.speak_announcements()
        assert played == ["tea", "pasta"]
    finally:
        a.close()
