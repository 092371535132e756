"""The audio format inside Hark, its conversions, and audio files.

Inside the pipeline audio is 16 kHz mono int16 in 30 ms frames. Devices and
files are opened at whatever rate they have and resampled at the edge (soxr),
so no other stage ever sees another format. The edge is this module (files),
`voice.audio_devices` (PortAudio's devices), `voice.microphone` and
`voice.speaker`: only they touch audio files or sounddevice.
"""

from __future__ import annotations

import logging
import struct
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

log = logging.getLogger("hark.audio")

RATE = 16000
DeviceSpec = int | str | None


class AudioError(Exception):
    """An audio file or device problem; the message says what to do."""


class AudioFileError(AudioError):
    """An audio file is missing, unreadable or empty."""


class DeviceError(AudioError):
    """An audio device is missing or cannot be opened."""


# ---------------------------------------------------------------- conversion


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] as int16 (int16 passes through)."""
    if samples.dtype == np.int16:
        return samples
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)


def to_float32(samples: np.ndarray) -> np.ndarray:
    """Int16 or float64 audio as float32 in [-1, 1]."""
    if samples.dtype == np.float32:
        return samples
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    return samples.astype(np.float32)


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample mono audio (float32 or int16 in, same dtype out)."""
    if rate_in == rate_out or len(samples) == 0:
        return samples
    import soxr

    out = soxr.resample(to_float32(samples), rate_in, rate_out, quality="HQ")
    return to_int16(out) if samples.dtype == np.int16 else out.astype(np.float32)


QUIET_PEAK_DBFS = -30.0  # an utterance whose loudest sample is below this is lifted
LIFT_TO_PEAK_DBFS = -6.0
LIFT_MAX_DB = 40.0


def lift_quiet(samples: np.ndarray) -> np.ndarray:
    """A quiet speaker's utterance (int16), raised so its peak is at -6 dBFS (at most +40 dB).

    Whisper's Silero filter drops speech at -60 dBFS as "no speech"; at a normal level the same
    words pass. Audio at a normal level is returned unchanged; digital silence stays silence.
    """
    peak = float(np.max(np.abs(samples.astype(np.int32)))) if len(samples) else 0.0
    if peak == 0.0 or peak >= 32768 * 10 ** (QUIET_PEAK_DBFS / 20):
        return samples
    gain = min(32768 * 10 ** (LIFT_TO_PEAK_DBFS / 20) / peak, 10 ** (LIFT_MAX_DB / 20))
    return np.clip(np.round(samples.astype(np.float32) * gain), -32768, 32767).astype(np.int16)


def frames_of(samples: np.ndarray, frame_samples: int) -> Iterator[np.ndarray]:
    """Split int16 audio into fixed frames; the last partial frame is zero-padded."""
    for start in range(0, len(samples), frame_samples):
        frame = samples[start : start + frame_samples]
        if len(frame) < frame_samples:
            frame = np.concatenate([frame, np.zeros(frame_samples - len(frame), np.int16)])
        yield frame


# ---------------------------------------------------------------- files


def _wav_truncation(path: Path) -> str | None:
    """For RIFF/WAVE files, say so if the data chunk is shorter than its header claims."""
    try:
        with path.open("rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            size = path.stat().st_size
            pos = 12
            while True:
                chunk = f.read(8)
                if len(chunk) < 8:
                    return None
                cid, clen = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                pos += 8
                if cid == b"data":
                    if clen != 0xFFFFFFFF and pos + clen > size:
                        return f"its header promises {clen} bytes of audio but only {size - pos} are there"
                    return None
                pos += clen + (clen & 1)
                f.seek(pos)
    except OSError:
        return None


def read_audio(path: str | Path) -> np.ndarray:
    """Read any audio file soundfile knows (WAV, FLAC, OGG, ...) as 16 kHz mono int16.

    Raises AudioFileError with a message that names the file and the fix.
    """
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioFileError(f"{path}: no such file")
    if path.is_dir():
        raise AudioFileError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioFileError(f"{path}: the file is empty (0 bytes)")
    truncated = _wav_truncation(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except sf.LibsndfileError as e:
        raise AudioFileError(
            f"{path}: not a readable audio file ({e.error_string if hasattr(e, 'error_string') else e}). "
            "Give a WAV, FLAC or OGG file, e.g. record one with `arecord -f S16_LE -r 16000 -c 1 file.wav`."
        ) from e
    except (OSError, RuntimeError) as e:
        raise AudioFileError(f"{path}: cannot read it ({e})") from e
    if truncated:
        log.warning("%s is truncated: %s; using the audio that is there", path, truncated)
    if data.shape[0] == 0:
        raise AudioFileError(f"{path}: the file holds no audio samples" + (f" ({truncated})" if truncated else ""))
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return to_int16(resample(mono.astype(np.float32), int(rate), RATE))


def write_wav(path: str | Path, samples: np.ndarray, rate: int) -> None:
    """Write mono audio (int16 or float) as a 16-bit WAV file, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(to_int16(samples).tobytes())
