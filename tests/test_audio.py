"""Audio files in and out, and device selection errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf

from tests.support.speech import speech_file
from voice.audio import AudioFileError, DeviceError, read_audio, resample
from voice.audio_devices import resolve_device
from voice.speaker import WavSink


def test_any_rate_and_channels_become_16k_mono(tmp_path):
    ref = read_audio(speech_file("cmu_goforward.wav"))
    stereo44 = np.stack([resample(ref, 16000, 44100)] * 2, axis=1)
    path = tmp_path / "stereo44.flac"
    sf.write(path, stereo44, 44100)
    back = read_audio(path)
    assert back.dtype == np.int16
    assert abs(len(back) - len(ref)) <= 2
    # Same signal after a round trip through 44.1 kHz stereo FLAC.
    corr = np.corrcoef(back[: len(ref)].astype(float), ref[: len(back)].astype(float))[0, 1]
    assert corr > 0.99


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty"),
        (b"just some text, not audio", "not a readable audio file"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "not a readable audio file"),
    ],
)
def test_bad_files_get_clear_messages(tmp_path, content, message):
    path = tmp_path / "x.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFileError, match=message):
        read_audio(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(AudioFileError, match="no such file"):
        read_audio(tmp_path / "nope.wav")
    with pytest.raises(AudioFileError, match="is a directory"):
        read_audio(tmp_path)


def test_truncated_wav_uses_what_is_there_and_warns(tmp_path, caplog):
    data = speech_file("jfk_ask_not.wav").read_bytes()
    path = tmp_path / "cut.wav"
    path.write_bytes(data[: len(data) // 3])
    with caplog.at_level(logging.WARNING, logger="hark.audio"):
        audio = read_audio(path)
    assert 3.0 < len(audio) / 16000 < 4.0
    assert "truncated" in caplog.text


def test_wav_sink_writes_at_the_voice_rate(tmp_path):
    sink = WavSink(tmp_path / "out.wav", 22050)
    heard = []
    sink.on_first_audio = lambda: heard.append(1)
    sink.play(np.ones(16000, np.float32) * 0.1, 16000)
    sink.play(np.ones(22050, np.float32) * 0.1, 22050)
    sink.close()
    data, rate = sf.read(tmp_path / "out.wav")
    assert rate == 22050 and abs(len(data) - 44100) < 5
    assert heard == [1]


def test_unknown_device_lists_what_exists(pulse, monkeypatch):
    from voice.audio_devices import refresh_devices

    for k, v in pulse.env.items():
        monkeypatch.setenv(k, v)
    refresh_devices()
    with pytest.raises(DeviceError, match=r"no input device matches 'no-such-mic'\. Available input devices: .*pulse"):
        resolve_device("no-such-mic", "input")
    with pytest.raises(DeviceError, match="no output device with index 99"):
        resolve_device(99, "output")
    assert "pulse" in resolve_device("pulse", "output").name
