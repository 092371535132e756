"""Hark's voice pipeline: audio -> VAD -> transcript -> model/skills -> speech -> audio."""

__version__ = "0.1.0"
