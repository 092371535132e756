"""Reading a recording: sound levels in 10 ms windows and where speech in it ends."""

from __future__ import annotations

import numpy as np

from voice.audio import RATE

# A sound counts as speech down to this far below the loudest 10 ms of the utterance.
SPEECH_END_DB_BELOW_PEAK = 25.0
AUDIBLE_DBFS = -40.0


def db_windows(samples: np.ndarray, win: int = RATE // 100) -> np.ndarray:
    """RMS level (dBFS) of consecutive 10 ms windows of int16 or float audio."""
    x = samples.astype(np.float32)
    if samples.dtype == np.int16:
        x /= 32768.0
    n = len(x) // win
    if n == 0:
        return np.zeros(0)
    rms = np.sqrt(np.mean(np.square(x[: n * win].reshape(n, win)), axis=1) + 1e-12)
    return 20 * np.log10(rms)


def speech_end_s(samples: np.ndarray) -> float | None:
    """Where speech ends: the end of the last 10 ms within SPEECH_END_DB_BELOW_PEAK of the loudest 10 ms."""
    db = db_windows(samples)
    if len(db) == 0 or db.max() < -70:
        return None
    loud = np.nonzero(db >= db.max() - SPEECH_END_DB_BELOW_PEAK)[0]
    return float(loud[-1] + 1) / 100.0


def first_sample_at_or_above(samples: np.ndarray, dbfs: float) -> int | None:
    """Index of the first 10 ms window at `dbfs` or louder, as a sample offset; None if there is none."""
    loud = np.nonzero(db_windows(samples) >= dbfs)[0]
    return int(loud[0]) * (RATE // 100) if len(loud) else None


def first_nonzero(samples: np.ndarray) -> int | None:
    """Index of the first sample that is not digital silence."""
    nz = np.nonzero(np.abs(samples.astype(np.int32)) > 0)[0]
    return int(nz[0]) if len(nz) else None
