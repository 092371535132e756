"""Model load times: Whisper tiny.en and base, the Piper voice, and assembling Whisper base from its pip halves."""

from __future__ import annotations

import gc
import tempfile
from pathlib import Path

from benchmarks.figures import Report, fig, perf

MODELS = ("tiny.en", "base")


def measure(rep: Report, runs: int, quick: bool = False) -> None:
    """Time each model's `load()` with its files in the page cache (one untimed load first)."""
    import faster_whisper  # noqa: F401  imports stay out of the timings
    import piper  # noqa: F401  (same: loaded before the clock starts)

    from voice.build import models_dir
    from voice.config import SttConfig, TtsConfig
    from voice.stt import WhisperTranscriber, resolve_model
    from voice.tts import PiperSynthesizer

    mdir = models_dir()
    with tempfile.TemporaryDirectory(prefix="hark-bench-base-") as tmp:
        t0 = perf()
        resolve_model("base", Path(tmp), download=False)
        assembly = perf() - t0
    resolve_model("base", mdir, download=False)  # the real models dir, once (kept for later runs)
    rep.add(
        "load", "base_assembly", fig("Whisper base: assemble model.bin from the two pip halves (once)", "s", [assembly])
    )
    for model in MODELS:
        cfg = SttConfig(model=model, device="cpu")
        WhisperTranscriber(cfg, mdir).load()  # untimed: puts the model file in the page cache
        gc.collect()
        times = []
        for _ in range(runs):
            t = WhisperTranscriber(cfg, mdir).load()
            times.append(t.load_seconds)
            del t
            gc.collect()
        rep.add("load", f"whisper_{model}", fig(f"Whisper {model} load (int8, CPU)", "s", times))
    tts = TtsConfig()
    PiperSynthesizer(tts, mdir).load()
    times = []
    for _ in range(runs):
        s = PiperSynthesizer(tts, mdir).load()
        times.append(s.load_seconds)
        del s
        gc.collect()
    rep.add("load", "piper", fig(f"Piper voice load ({tts.voice})", "s", times, facts="0.28 s"))
