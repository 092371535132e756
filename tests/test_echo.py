"""The echo canceller (voice.echo): Hark must never take its own voice for the user's.

On the private PulseAudio daemon a `module-loopback` plays what Hark says (hark_out) back into
what it hears (hark_in), as a laptop's speaker would into its microphone: at full level, 0.25-0.35
s later. Hark's own SpeakerSink feeds the canceller from its output callback and its own
MicrophoneSource delivers the frames; Hark's endpointer (VadConfig defaults) listens to the
frames before and after cancelling. Real Piper replies must never start "speech" after
cancelling (before it, nearly every one does); a real recording played into the microphone over
a reply must. Measurements (ERLE, CPU per frame, detection delay) are printed (`pytest -s`).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pytest

from tests.support.speech import speech_file
from voice.audio import RATE, read_audio, resample
from voice.config import VadConfig
from voice.vad import Endpointer, SpeechStarted

FRAME = 480  # 30 ms at 16 kHz
REPLIES = [
    "Done. Anything else?",
    "The timer is set for five minutes.",
    "It is half past three in the afternoon.",
    "I added milk and eggs to your shopping list.",
    "Sorry, I did not catch that. Could you say it again?",
    "Your meeting with Anna starts in twenty minutes, in the small room.",
    "The file was saved to your documents folder.",
]
LONG_REPLY = (
    "Here is a long answer about the weather this week. On Monday it will be sunny and warm, with a light "
    "breeze from the west. On Tuesday clouds will come in during the afternoon, and rain follows at night."
)


def say(synth, text: str) -> np.ndarray:
    return np.concatenate(list(synth.synthesize(text)))


def started(endpointer: Endpointer, frame: np.ndarray) -> bool:
    return any(isinstance(e, SpeechStarted) for e in endpointer.process(frame))


@dataclass
class Heard:
    """What the listener thread saw, frame by frame (index = stream time / 30 ms)."""

    raw: list[np.ndarray] = field(default_factory=list)
    clean: list[np.ndarray] = field(default_factory=list)
    playing: list[bool] = field(default_factory=list)
    cpu_ns: list[int] = field(default_factory=list)
    raw_starts: list[int] = field(default_factory=list)  # frame indices where SpeechStarted was reported
    clean_starts: list[int] = field(default_factory=list)

    def cpu_us(self, playing: bool) -> tuple[float, float]:
        c = np.array([t for t, p in zip(self.cpu_ns, self.playing, strict=True) if p == playing]) / 1000
        return (float(np.median(c)), float(np.mean(c))) if len(c) else (0.0, 0.0)


class Rig:
    """Hark's speaker and microphone on the test daemon, the speaker looped back into the microphone.

    A listener thread cancels every microphone frame and runs an endpointer on the frames before
    and after cancelling.
    """

    def __init__(self, pulse, rate: int) -> None:
        from voice.echo import EchoCanceller
        from voice.microphone import MicrophoneSource
        from voice.speaker import SpeakerSink

        self.pulse = pulse
        self.module = subprocess.run(
            ["pactl", "load-module", "module-loopback", "source=hark_out.monitor", "sink=hark_in"],
            env=pulse.client_env(), capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        self.echo = EchoCanceller()
        self.sink = SpeakerSink(rate=rate)
        self.sink.render_tap = self.echo.render  # exactly what the output callback hands the device
        self.mic = MicrophoneSource().start()
        self.heard = Heard()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()
        time.sleep(2.5)  # a fresh null-sink monitor delivers nothing for its first moments

    def _listen(self) -> None:
        h = self.heard
        raw_ep, clean_ep = Endpointer(VadConfig()), Endpointer(VadConfig())
        for frame in self.mic.frames(timeout=0.2):
            if self._stop.is_set():
                return
            if frame is None:
                continue
            t = time.thread_time_ns()
            clean = self.echo.capture(frame)
            h.cpu_ns.append(time.thread_time_ns() - t)
            h.playing.append(self.echo.playing)
            h.raw.append(frame)
            h.clean.append(clean)
            if started(raw_ep, frame):
                h.raw_starts.append(len(h.raw) - 1)
            if started(clean_ep, clean):
                h.clean_starts.append(len(h.clean) - 1)

    @property
    def now(self) -> int:
        """The index of the next frame the listener will see."""
        return len(self.heard.raw)

    def play(self, audio: np.ndarray, rate: int, then_s: float = 0.8) -> None:
        self.sink.play(audio, rate)
        assert self.sink.wait(30), "the reply was not played"
        time.sleep(then_s)

    def stop(self) -> Heard:
        """Stop listening; what was heard."""
        self._stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive()
        return self.heard

    def close(self) -> None:
        self.stop()
        self.mic.close()
        self.sink.close()
        subprocess.run(["pactl", "unload-module", self.module], env=self.pulse.client_env(), check=True)

    def erle_db(self) -> float:
        """How much quieter what Hark heard while playing came out, after cancelling and gating."""
        h = self.heard
        on = np.array(h.playing)
        raw = np.concatenate(h.raw).astype(np.float64).reshape(-1, FRAME)[on]
        clean = np.concatenate(h.clean).astype(np.float64).reshape(-1, FRAME)[on]
        return 10 * np.log10(np.sum(raw**2) / max(1.0, np.sum(clean**2)))

    def report(self, label: str) -> None:
        h, s = self.heard, self.echo.stats()
        print(
            f"\n{label}: SpeechStarted without cancelling {len(h.raw_starts)}, with {len(h.clean_starts)}; "
            f"ERLE of the module {s['erle_db']} dB, delivered {self.erle_db():.1f} dB; capture() CPU per 30 ms "
            "frame while playing median %.0f / mean %.0f us, idle median %.0f / mean %.0f us; %s"
            % (*h.cpu_us(True), *h.cpu_us(False), s)
        )


@pytest.fixture
def rig(pulse, synth, monkeypatch):
    """The rig, in this process's PortAudio talking to the test daemon."""
    from voice.audio_devices import refresh_devices

    for k, v in pulse.client_env().items():
        if k.startswith(("PULSE", "XDG", "HOME")):
            monkeypatch.setenv(k, v)
    refresh_devices()
    r = Rig(pulse, synth.sample_rate)
    yield r
    r.close()


def test_hark_does_not_hear_itself_over_twenty_one_replies(rig, synth):
    replies = [say(synth, text) for text in REPLIES]
    for i in range(3 * len(REPLIES)):
        rig.play(replies[i % len(replies)], synth.sample_rate)
    h = rig.stop()
    rig.report("21 replies")
    assert len(h.raw_starts) >= 15, f"the loopback should make Hark hear itself: {len(h.raw_starts)} starts"
    assert h.clean_starts == [], f"Hark heard itself at {[round(i * 0.03, 2) for i in h.clean_starts]} s"
    assert rig.echo.stats()["erle_db"] > 30
    assert h.cpu_us(True)[0] < 5000  # far below a frame's 30 ms


def test_a_reply_cut_short_does_not_make_the_next_one_heard(rig, synth):
    """SpeakerSink.cut restarts the output stream: the canceller must start over, not lose the echo."""
    long, short = say(synth, LONG_REPLY), say(synth, REPLIES[1])
    rig.play(short, synth.sample_rate)
    restarts = rig.echo.stats()["restarts"]  # opening the stream counts as one too
    for _ in range(3):
        rig.sink.play(long, synth.sample_rate)
        time.sleep(1.5)
        rig.sink.cut()
        time.sleep(1.0)
        rig.play(short, synth.sample_rate)
    h = rig.stop()
    rig.report("3 cut replies")
    assert h.clean_starts == [], f"Hark heard itself at {[round(i * 0.03, 2) for i in h.clean_starts]} s"
    assert rig.echo.stats()["restarts"] >= restarts + 3  # every cut was seen


@pytest.mark.parametrize("name", ["cmu_goforward.wav", "speech_recognition_one_two_three.wav", "jfk_ask_not.wav"])
def test_a_person_talking_over_a_reply_is_heard(rig, synth, name):
    rig.play(say(synth, REPLIES[5]), synth.sample_rate)  # Hark's first words teach the canceller the echo
    begin = rig.now
    rig.sink.play(say(synth, LONG_REPLY), synth.sample_rate)
    time.sleep(1.5)
    rig.pulse.play(speech_file(name))  # into the microphone, over the reply; returns when played
    rig.sink.wait(30)
    time.sleep(1.0)
    h = rig.stop()
    rig.report(name)

    # Where the recording is in what the microphone heard (it is unlike Hark's voice, so the
    # cross-correlation peak finds it), and where its speech starts: the first 30 ms frame within
    # 25 dB of its loudest.
    person = read_audio(speech_file(name)).astype(np.float64)
    heard = np.concatenate(h.raw[begin:]).astype(np.float64)
    n = 1 << int(np.ceil(np.log2(len(heard) + len(person))))
    offset = int(np.argmax(np.fft.irfft(np.fft.rfft(heard, n) * np.conj(np.fft.rfft(person, n)), n)[: len(heard)]))
    frames = person[: len(person) // FRAME * FRAME].reshape(-1, FRAME)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1)
    onset = (offset + int(np.argmax(level > level.max() - 25)) * FRAME) / RATE

    # The endpointer on the recording alone, for comparison: how late it reports speech by itself.
    alone = Endpointer(VadConfig())
    alone_at = next(i for i, f in enumerate(frames.astype(np.int16)) if started(alone, f)) * FRAME / RATE
    alone_at -= onset - offset / RATE

    starts = [(i - begin) * FRAME / RATE for i in h.clean_starts if i >= begin]
    assert starts, f"{name} was not heard over the reply"
    print(
        f"{name}: speech at {onset:.2f} s into the reply; SpeechStarted {1000 * (starts[0] - onset):.0f} ms after it "
        f"(on the recording alone: {1000 * alone_at:.0f} ms)"
    )
    assert starts[0] > onset, f"speech was reported at {starts[0]:.2f} s, before the person spoke ({onset:.2f} s)"
    assert starts[0] - onset < 1.0


def test_an_echo_of_known_delay_is_removed_and_the_speech_over_it_kept():
    """Without devices: a recording at 48 kHz as Hark's voice, its echo (150 ms later, a small room,
    a little noise) and a person speaking over it, all fed at the pace real devices would."""
    from voice.echo import EchoCanceller

    hark = read_audio(speech_file("librispeech_2412-153948-0000.wav")).astype(np.float32) / 32768
    person = read_audio(speech_file("cmu_goforward.wav")).astype(np.float64)
    rng = np.random.default_rng(7)
    lead_in, delay = RATE, int(0.15 * RATE)  # 1 s of room noise before Hark speaks
    echo = np.convolve(np.concatenate([np.zeros(lead_in + delay), hark]), [0.5, 0.2, 0.0, 0.1])[
        : lead_in + delay + len(hark)
    ]
    mic = echo * 32767 + rng.normal(0, 32768 * 10 ** (-65 / 20), len(echo))
    at = lead_in + 6 * RATE  # the person starts 6 s into Hark's reply
    mic[at : at + len(person)] += person
    mic = np.clip(mic, -32768, 32767).astype(np.int16)
    render = resample(np.concatenate([np.zeros(lead_in, np.float32), hark]), RATE, 48000)

    canceller = EchoCanceller()
    block, sent, t0 = 1920, 0, time.monotonic()  # SpeakerSink's 40 ms blocks at 48 kHz
    clean_ep, raw_ep = Endpointer(VadConfig()), Endpointer(VadConfig())
    out, clean_starts, raw_starts = [], [], []
    for k in range(len(mic) // FRAME):
        while sent < len(render) and sent / 48000 <= (k + 1) * FRAME / RATE:  # handed to the device by now
            canceller.render(render[sent : sent + block], 48000, at=t0 + sent / 48000)
            sent += block
        frame = mic[k * FRAME : (k + 1) * FRAME]
        cleaned = canceller.capture(frame)
        if sent <= lead_in * 3 - block:
            assert cleaned is frame  # nothing played yet: untouched, and no work done
        out.append(cleaned)
        if started(clean_ep, cleaned):
            clean_starts.append(k * FRAME / RATE)
        if started(raw_ep, frame):
            raw_starts.append(k * FRAME / RATE)

    cleaned = np.concatenate(out).astype(np.float64)
    alone = slice(lead_in + 3 * RATE, at)  # Hark alone, after the canceller's warm-up
    erle = 10 * np.log10(np.sum(mic[alone].astype(np.float64) ** 2) / np.sum(cleaned[alone] ** 2))
    print(f"\noffline: ERLE {erle:.1f} dB, {canceller.stats()}; SpeechStarted raw {raw_starts}, cleaned {clean_starts}")
    assert erle > 20 and canceller.stats()["restarts"] == 0  # the room noise (-65 dBFS) is left, ~35 dB below
    assert raw_starts and raw_starts[0] < at / RATE  # the echo alone sounds like speech
    assert clean_starts and at / RATE < clean_starts[0] < at / RATE + 1.0  # only the person does, once cleaned
    # The person's words come through: most of their energy is still there.
    said = slice(at, at + len(person))
    kept = np.sum(cleaned[said] ** 2) / np.sum(person**2)
    assert kept > 0.3, f"only {kept:.0%} of the person's speech energy came through"


def test_without_the_library_the_error_says_how_to_install_it(monkeypatch):
    from voice import echo

    monkeypatch.setitem(sys.modules, "livekit", None)  # `import livekit` now raises ImportError
    with pytest.raises(echo.EchoCancellerUnavailable, match=r"pip install livekit==1\.2\.0"):
        echo.EchoCanceller()


def test_the_sound_servers_own_canceller_loads_with_the_command_given(pulse):
    from voice.echo import pulse_echo_cancel_command

    env = pulse.client_env()
    cmd = pulse_echo_cancel_command(source_master="hark_in.monitor", sink_master="hark_out", name="hark_test_ec")
    module = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout.strip()
    try:
        sources = subprocess.run(["pactl", "list", "short", "sources"], env=env, capture_output=True, text=True).stdout
        sinks = subprocess.run(["pactl", "list", "short", "sinks"], env=env, capture_output=True, text=True).stdout
        assert "hark_test_ec_source" in sources and "hark_test_ec_sink" in sinks
    finally:
        subprocess.run(["pactl", "unload-module", module], env=env, check=True)
