"""Reading a recording: sound levels in 10 ms windows, where speech in it starts and ends, where sound stops."""

from __future__ import annotations

import numpy as np

from voice.audio import RATE

# A sound counts as speech down to this far below the loudest 10 ms of the utterance.
SPEECH_END_DB_BELOW_PEAK = 25.0
AUDIBLE_DBFS = -40.0
# Quieter than this counts as silence on the output (Piper's softest speech is far louder).
SILENT_DBFS = -60.0


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


def speech_start_s(samples: np.ndarray) -> float | None:
    """Where speech starts: the start of the first 10 ms within SPEECH_END_DB_BELOW_PEAK of the loudest 10 ms."""
    db = db_windows(samples)
    if len(db) == 0 or db.max() < -70:
        return None
    loud = np.nonzero(db >= db.max() - SPEECH_END_DB_BELOW_PEAK)[0]
    return float(loud[0]) / 100.0


def silence_from(samples: np.ndarray, min_s: float, dbfs: float = SILENT_DBFS) -> int | None:
    """Sample offset where the first run of at least `min_s` seconds below `dbfs` begins; None if none does.

    Hark's output between replies is digital silence, and Piper's pause between sentences is shorter than
    the runs looked for here, so this is where playback stopped.
    """
    win = RATE // 100
    quiet = db_windows(samples, win) < dbfs
    need = max(1, round(min_s * 100))
    run = 0
    for i, q in enumerate(quiet):
        run = run + 1 if q else 0
        if run == need:
            return (i - need + 1) * win
    return None


def first_sample_at_or_above(samples: np.ndarray, dbfs: float) -> int | None:
    """Index of the first 10 ms window at `dbfs` or louder, as a sample offset; None if there is none."""
    loud = np.nonzero(db_windows(samples) >= dbfs)[0]
    return int(loud[0]) * (RATE // 100) if len(loud) else None


def first_nonzero(samples: np.ndarray) -> int | None:
    """Index of the first sample that is not digital silence."""
    nz = np.nonzero(np.abs(samples.astype(np.int32)) > 0)[0]
    return int(nz[0]) if len(nz) else None
