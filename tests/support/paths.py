"""Where things are: the repository, the shared speech recordings (never copied into it), the models."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The real recordings live beside the repository (../shared/data/speech); HARK_SPEECH_DATA moves them.
SPEECH_DIR = Path(os.environ.get("HARK_SPEECH_DATA", ROOT.parent / "shared" / "data" / "speech"))


def models_dir() -> Path:
    """The repository's models folder (pip-installed models are resolved into it), created if missing."""
    d = ROOT / "models"
    d.mkdir(exist_ok=True)
    return d
