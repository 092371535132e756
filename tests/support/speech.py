"""The shared speech recordings: their manifest and files, split into speech and non-speech."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.support.paths import SPEECH_DIR


def manifest() -> list[dict[str, str]]:
    """Every row of `manifest.tsv` (file, seconds, speaker_or_source, reference_transcript, ...)."""
    path = SPEECH_DIR / "manifest.tsv"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: the shared speech recordings are needed "
            "(../shared/data/speech, or set HARK_SPEECH_DATA to their folder)"
        )
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def is_speech(row: dict[str, str]) -> bool:
    """Whether a manifest row is speech (the noise, silence and music clips are marked NON-SPEECH)."""
    return not row["speaker_or_source"].startswith("NON-SPEECH")


def speech_rows() -> list[dict[str, str]]:
    """The manifest rows that are speech."""
    return [r for r in manifest() if is_speech(r)]


def nonspeech_rows() -> list[dict[str, str]]:
    """The manifest rows that are noise, silence or music."""
    return [r for r in manifest() if not is_speech(r)]


def speech_file(name: str) -> Path:
    """The path of one recording, which must exist."""
    path = SPEECH_DIR / name
    assert path.exists(), f"shared speech data missing: {path} (the tests need ../shared/data/speech)"
    return path
