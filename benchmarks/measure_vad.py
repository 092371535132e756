"""Voice activity: CPU time per 30 ms frame of webrtcvad alone and of Hark's whole endpointer."""

from __future__ import annotations

from benchmarks.figures import Report, fig, perf
from tests.support.speech import manifest, speech_file


def measure(rep: Report, runs: int, quick: bool = False) -> None:
    """Run every frame of every shared recording (speech, noise, music) through both, with Hark's defaults."""
    import webrtcvad

    from voice.audio import RATE, frames_of, read_audio
    from voice.config import VadConfig
    from voice.vad import Endpointer

    cfg = VadConfig()
    files = [read_audio(speech_file(r["file"])) for r in manifest()]
    frames = [[f.copy() for f in frames_of(a, RATE * 30 // 1000)] for a in files]
    count = sum(len(f) for f in frames)
    vad_us, endpoint_us = [], []
    for _ in range(runs):
        vad = webrtcvad.Vad(cfg.aggressiveness)
        t0 = perf()
        for per_file in frames:
            for frame in per_file:
                vad.is_speech(frame.tobytes(), RATE)
        vad_us.append((perf() - t0) / count * 1e6)
        endpointers = [Endpointer(cfg, 30) for _ in frames]
        t0 = perf()
        for ep, per_file in zip(endpointers, frames, strict=True):
            for frame in per_file:
                ep.process(frame)
            ep.flush()
        endpoint_us.append((perf() - t0) / count * 1e6)
    rep.add("vad", "webrtcvad", fig("webrtcvad alone, per 30 ms frame", "µs", vad_us, facts="2.2 µs"))
    rep.add(
        "vad",
        "endpointer",
        fig("Endpointer (webrtcvad + pre-roll, hysteresis, hangover), per 30 ms frame", "µs", endpoint_us),
    )
    rep.extra["vad"] = {"frames": count, "aggressiveness": cfg.aggressiveness, "hangover_ms": cfg.hangover_ms}
