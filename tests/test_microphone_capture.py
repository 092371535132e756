"""The microphone's raw int16 capture: the callback only queues bytes, `frames()` cuts them into 30 ms
frames (and resamples a device that cannot do 16 kHz). On the private PulseAudio daemon's null sink,
whose loopback is bit-exact at 16 kHz, what is played into hark_in must come out sample for sample.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.support.speech import speech_file
from voice.audio import read_audio


@pytest.fixture
def mic_env(pulse, monkeypatch):
    """This process's PortAudio talking to the test daemon (its default source is hark_in.monitor)."""
    from voice.audio_devices import refresh_devices

    for k, v in pulse.client_env().items():
        if k.startswith(("PULSE", "XDG", "HOME")):
            monkeypatch.setenv(k, v)
    refresh_devices()
    return pulse


def capture(mic, seconds: float) -> list[np.ndarray]:
    """Every frame the microphone gives for `seconds` (None ticks left out)."""
    got: list[np.ndarray] = []
    deadline = time.monotonic() + seconds
    for frame in mic.frames(timeout=0.2):
        if frame is not None:
            got.append(frame)
        if time.monotonic() > deadline:
            break
    return got


def test_what_is_played_into_the_microphone_comes_out_sample_for_sample(mic_env):
    from voice.microphone import MicrophoneSource

    played = read_audio(speech_file("cmu_goforward.wav"))
    mic = MicrophoneSource().start()
    try:
        assert mic.frame_samples == 480 and mic.device_rate == 16000
        time.sleep(2.5)  # a fresh null-sink monitor delivers nothing for its first moments
        mic.drain()
        threading.Timer(0.3, mic_env.play, args=(speech_file("cmu_goforward.wav"),)).start()
        frames = capture(mic, len(played) / 16000 + 2.0)
        assert mic.healthy() is None
    finally:
        mic.close()
    assert all(f.dtype == np.int16 and f.shape == (480,) for f in frames)
    assert frames[0].flags.writeable  # callers may work on a frame in place
    heard = np.concatenate(frames).astype(np.int32)
    # Where the recording starts in what was heard: 200 samples from its first loud one, matched.
    # (The sound server's float32 round trip moves samples by at most 1.)
    loud = int(np.argmax(np.abs(played) > 3000))
    pattern = played[loud : loud + 200].astype(np.int32)
    found = [
        i - loud
        for i in np.flatnonzero(np.abs(heard - pattern[0]) <= 1)
        if i >= loud and np.abs(heard[i : i + 200] - pattern).max() <= 1
    ]
    assert len(found) == 1, found
    start = found[0]
    assert start + len(played) <= len(heard), "the end of the recording was not captured"
    # Every sample, in order: nothing dropped or doubled where blocks were cut into frames. (The
    # stream's first few milliseconds come out as silence: the server fades a new stream in.)
    assert np.abs(heard[start + 480 : start + len(played)] - played[480:]).max() <= 1
    assert mic.overflows == 0


def test_drain_drops_what_was_heard_and_close_ends_the_frames(mic_env):
    from voice.microphone import MicrophoneSource

    mic = MicrophoneSource().start()
    try:
        time.sleep(1.0)  # about 33 frames' worth queues up while nobody reads
        mic.drain()
        assert mic._queue.qsize() <= 1 and len(mic._pending) == 0
        assert capture(mic, 1.0)  # and capture goes on
    finally:
        mic.close()
    assert mic.closed.is_set()
    assert list(mic.frames(timeout=0.1)) == []


def test_a_device_without_16k_is_resampled_into_whole_frames(mic_env):
    """A 48 kHz device's blocks (here a 440 Hz tone, as its callback would queue them) become 16 kHz frames."""
    import soxr

    from voice.microphone import MicrophoneSource

    mic = MicrophoneSource()  # not started: the blocks below are what a 48 kHz stream's callback queues
    resampler = soxr.ResampleStream(48000, 16000, 1, dtype="int16")
    tone = (np.sin(2 * np.pi * 440 * np.arange(1440 * 67) / 48000) * 10000).astype(np.int16)
    for block in np.split(tone, len(tone) // 1440):
        mic._queue.put_nowait((block.tobytes(), resampler))
    frames = []
    for frame in mic.frames(timeout=0.1):
        if frame is None:
            break
        frames.append(frame)
    mic.close()
    assert all(f.shape == (480,) and f.dtype == np.int16 for f in frames)
    out = np.concatenate(frames)
    assert abs(len(out) - 480 * 67) <= 2 * 480  # 2 s at 16 kHz, less the resampler's delay
    steady = out[2000:-2000].astype(np.float64)
    crossings = np.count_nonzero(np.diff(np.signbit(steady)))
    assert abs(crossings / 2 / (len(steady) / 16000) - 440) < 5  # still a 440 Hz tone
    assert 9000 < np.abs(steady).max() <= 10500
