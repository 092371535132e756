"""Piper: time to the first audio of a reply, and the real-time factor of synthesis."""

from __future__ import annotations

from benchmarks.figures import Report, fig, perf

ONE_SENTENCE = "Done, I added milk to your shopping list."
THREE_SENTENCES = (
    "It is ten past four in the afternoon. Your pasta timer ends in five minutes. "
    "Is there anything else I can do for you?"
)


def measure(rep: Report, runs: int, quick: bool = False) -> None:
    """Synthesize a one- and a three-sentence reply `runs` times each with the shipped voice."""
    from voice.build import models_dir
    from voice.config import TtsConfig
    from voice.tts import PiperSynthesizer

    synth = PiperSynthesizer(TtsConfig(), models_dir()).load()
    synth.warm()
    first: dict[str, list[float]] = {"one": [], "three": []}
    rtf: list[float] = []
    chunks = {}
    for _ in range(runs):
        for key, text in (("one", ONE_SENTENCE), ("three", THREE_SENTENCES)):
            t0 = perf()
            stream = synth.synthesize(text)
            head = next(stream)
            first[key].append((perf() - t0) * 1000)
            rest = list(stream)
            total = perf() - t0
            samples = len(head) + sum(len(c) for c in rest)
            chunks[key] = 1 + len(rest)
            rtf.append(total / (samples / synth.sample_rate))
    rep.add(
        "tts", "first_one", fig("Piper: first audio of a one-sentence reply", "ms", first["one"], facts="54–107 ms")
    )
    rep.add(
        "tts",
        "first_three",
        fig("Piper: first audio of a three-sentence reply", "ms", first["three"], facts="54–107 ms"),
    )
    rep.add("tts", "rtf", fig("Piper: real-time factor (synthesis time / audio length)", "", rtf, facts="about 0.025"))
    rep.extra["tts"] = {
        "chunks": chunks,
        "rate": synth.sample_rate,
        "texts": {"one": ONE_SENTENCE, "three": THREE_SENTENCES},
    }
