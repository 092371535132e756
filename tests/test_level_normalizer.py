"""The endpointer's automatic gain keeps a sorted copy of recent peaks instead of calling np.percentile
per frame, and gains a frame with in-place ufuncs: the frames the classifier hears must be exactly
what the original version gave."""

from __future__ import annotations

import numpy as np

from voice.vad import LevelNormalizer


class PercentileNormalizer(LevelNormalizer):
    """The reference: the normalizer as it was, with np.percentile over the recent peaks each frame."""

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        peak = float(np.max(np.abs(frame.astype(np.int32)))) if len(frame) else 0.0
        if peak > 0:
            self._peaks.append(peak)
        if peak > self.envelope:
            self.envelope = peak
        elif self._hold == 0:
            self.envelope = max(self.envelope * self.release, self.target / self.max_gain)
        gain = min(self.max_gain, self.target / max(self.envelope, 1.0))
        if not self._peaks:
            gain = 1.0
        else:
            gain = min(gain, self.noise_ceiling / max(1.0, float(np.percentile(self._peaks, 10))))
        self.gain = max(1.0, gain)
        if self.gain == 1.0:
            return frame
        return np.clip(frame.astype(np.float32) * self.gain, -32768, 32767).astype(np.int16)


def room_and_speech(seed: int, n: int = 2500) -> list[np.ndarray]:
    """Stretches of digital silence, hiss at several levels, quiet and loud tones (a room and speakers)."""
    rng = np.random.default_rng(seed)
    frames: list[np.ndarray] = []
    while len(frames) < n:
        level = rng.choice([0.0, 1.0, 3.0, 10.0, 60.0, 200.0, 3000.0, 20000.0])
        for _ in range(int(rng.integers(5, 150))):
            if level == 0.0:
                frames.append(np.zeros(480, np.int16))
            elif level >= 3000.0:
                tone = np.sin(np.arange(480) / rng.uniform(3, 9) + rng.uniform(0, 6.3)) * level
                frames.append(tone.astype(np.int16))
            else:
                frames.append(np.clip(rng.normal(0, level, 480), -32768, 32767).astype(np.int16))
    return frames[:n]


def test_the_floor_is_numpys_10th_percentile_of_the_recent_peaks():
    agc = LevelNormalizer(floor_window_s=0.3)  # a 10-frame window: many evictions, every length from 1 up
    for i, frame in enumerate(room_and_speech(1, 600)):
        agc(frame)
        agc.voiced(i % 5 == 0)
        if agc._peaks:
            assert sorted(agc._peaks) == agc._sorted
            assert agc._floor() == np.percentile(agc._peaks, 10), (i, list(agc._peaks))


def test_the_classifier_hears_exactly_what_the_percentile_version_gave():
    for seed in range(3):
        fast, reference = LevelNormalizer(), PercentileNormalizer()
        gained = 0
        for i, frame in enumerate(room_and_speech(seed)):
            a, b = fast(frame), reference(frame)
            assert np.array_equal(a, b), (seed, i, fast.gain, reference.gain)
            assert fast.gain == reference.gain
            gained += fast.gain > 1.0
            voiced = bool(np.abs(frame.astype(np.int32)).max() > 2000)
            fast.voiced(voiced)
            reference.voiced(voiced)
        assert gained > 100  # the quiet stretches really were lifted, so the floor mattered


def test_the_loudest_negative_sample_counts_as_a_peak():
    agc = LevelNormalizer()
    frame = np.zeros(480, np.int16)
    frame[7] = -32768
    agc(frame)
    assert agc._peaks[-1] == 32768.0
