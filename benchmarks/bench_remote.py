#!/usr/bin/env python3
"""Remote speech over Wyoming against the local engines, per utterance, on this machine.

    .venv/bin/python -m benchmarks.bench_remote [--runs N] [--quick]

Starts real `wyoming-faster-whisper` (tiny.en, int8, greedy: the local defaults) and `wyoming-piper`
(joe) servers on loopback and measures, for a short command and an 11 s sentence:

- local: `WhisperTranscriber.transcribe` on the whole utterance;
- server, after the end of speech: the audio was streamed while "spoken" (paced like a microphone),
  so only `audio-stop` -> `transcript` is left: what a turn waits for;
- server, whole utterance at once: connect + send + transcribe + answer (`hark transcribe --stt`);
- synthesis: time to the first audio of a one-sentence reply, Piper in process vs the Piper server.

On one machine the server shares the same 2 cores, so this is the protocol's cost; on a LAN GPU box the
decoding part shrinks and the transfer (32 kB per second of speech) is added. `measure()` has the
interface of benchmarks/measure_*.py (section "remote") so benchmarks/run.py can include it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.figures import Report, fig, perf

UTTERANCES = {"command": "cmu_goforward.wav", "sentence": "jfk_ask_not.wav"}
REPLY = "Done, I added milk to your shopping list."
FRAME = 480  # 30 ms at 16 kHz, as the microphone delivers it


def _streamed(remote, audio, pace: bool) -> float:
    """Feed frame by frame (at real-time pace when `pace`); return ms from end of speech to the transcript."""
    stream = remote.open_stream()
    start = perf()
    for i in range(0, len(audio), FRAME):
        stream.feed(audio[i : i + FRAME])
        if pace:
            ahead = (i + FRAME) / 16000 - (perf() - start)
            if ahead > 0:
                time.sleep(ahead)
    t0 = perf()
    stream.finish()
    return (perf() - t0) * 1000


def measure(rep: Report, runs: int, quick: bool = False) -> None:
    from tests.support.paths import models_dir
    from tests.support.speech import speech_file
    from tests.support.wyoming_servers import piper_server, whisper_server
    from voice.audio import read_audio
    from voice.config import SttConfig, TtsConfig
    from voice.stt import WhisperTranscriber
    from voice.tts import PiperSynthesizer
    from voice.wyoming_stt import WyomingTranscriber
    from voice.wyoming_tts import WyomingSynthesizer

    with tempfile.TemporaryDirectory(prefix="hark-bench-remote-") as tmp:
        asr = whisper_server(Path(tmp) / "whisper").start()
        tts = piper_server(Path(tmp) / "piper").start()
        try:
            cfg = SttConfig(model="tiny.en", device="cpu")
            local = WhisperTranscriber(cfg, models_dir()).load()
            local.warm()
            remote = WyomingTranscriber(asr.uri, cfg.model_copy(update={"uri": asr.uri, "timeout_s": 120.0}))
            warm = read_audio(speech_file(UTTERANCES["command"]))
            remote.transcribe(warm)  # the server's first request loads its transcriber
            for key, name in UTTERANCES.items():
                audio = read_audio(speech_file(name))
                seconds = len(audio) / 16000
                lo, whole, after_end = [], [], []
                for _ in range(runs):
                    t0 = perf()
                    local.transcribe(audio)
                    lo.append((perf() - t0) * 1000)
                    t0 = perf()
                    remote.transcribe(audio)
                    whole.append((perf() - t0) * 1000)
                    after_end.append(_streamed(remote, audio, pace=not quick))
                what = f"{key}, {seconds:.1f} s"
                rep.add("remote", f"{key}_local", fig(f"Local Whisper tiny.en ({what})", "ms", lo))
                rep.add(
                    "remote",
                    f"{key}_after_end",
                    fig(
                        f"Wyoming server, streamed while spoken: end of speech to transcript ({what})", "ms", after_end
                    ),
                )
                rep.add("remote", f"{key}_whole", fig(f"Wyoming server, whole utterance at once ({what})", "ms", whole))
                rep.add(
                    "remote",
                    f"{key}_overhead",
                    fig(
                        f"Wyoming server minus local, per utterance ({what})",
                        "ms",
                        [w - x for w, x in zip(sorted(whole), sorted(lo), strict=True)],
                    ),
                )
            piper = PiperSynthesizer(TtsConfig(), models_dir()).load()
            piper.warm()
            wy = WyomingSynthesizer(tts.uri, TtsConfig(uri=tts.uri, timeout_s=120.0))
            wy.warm()
            first_local, first_remote = [], []
            for _ in range(runs):
                for synth, out in ((piper, first_local), (wy, first_remote)):
                    t0 = perf()
                    stream = synth.synthesize(REPLY)
                    next(stream)
                    out.append((perf() - t0) * 1000)
                    for _chunk in stream:
                        pass
            rep.add(
                "remote", "tts_local", fig("Piper in process: first audio of a one-sentence reply", "ms", first_local)
            )
            rep.add(
                "remote", "tts_remote", fig("Piper server: first audio of a one-sentence reply", "ms", first_remote)
            )
        finally:
            asr.stop()
            tts.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one run, no real-time pacing")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    rep = Report(runs=runs, quick=args.quick)
    measure(rep, runs, args.quick)
    print(f"| remote speech ({runs} runs) | median | min | max |\n|---|---|---|---|")
    for f in rep.figures.get("remote", {}).values():
        print(f"| {f.label} | {f.fmt(f.main)} | {f.fmt(f.low)} | {f.fmt(f.high)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
