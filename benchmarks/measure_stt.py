"""Transcription: seconds per utterance, real-time factor and WER of Whisper tiny.en and base.

Measured on the shared recordings, with what each model writes on the non-speech clips.
"""

from __future__ import annotations

import gc
import statistics
from typing import Any

from benchmarks.figures import Report, fig, perf
from benchmarks.measure_load import MODELS
from tests.support.speech import is_speech, manifest, speech_file


def measure(rep: Report, runs: int, quick: bool = False) -> None:
    """Transcribe every speech file `runs` times per model as Hark calls Whisper (beam 1, int8, CPU)."""
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    from voice.audio import RATE, read_audio
    from voice.build import models_dir
    from voice.config import SttConfig
    from voice.stt import WhisperTranscriber

    rows = manifest()
    speech = [r for r in rows if is_speech(r)]
    noise = [r for r in rows if not is_speech(r)]
    audio = {r["file"]: read_audio(speech_file(r["file"])) for r in speech}
    noise_audio = {r["file"]: read_audio(speech_file(r["file"])) for r in noise}
    total_audio = sum(len(a) for a in audio.values()) / RATE
    norm = EnglishTextNormalizer()
    refs = [norm(r["reference_transcript"]) for r in speech]
    per_file: dict[str, dict[str, Any]] = {r["file"]: {"seconds": len(audio[r["file"]]) / RATE} for r in speech}
    wer_detail, invented_words = {}, {}
    for model in MODELS:
        t = WhisperTranscriber(SttConfig(model=model, device="cpu", beam_size=1), models_dir()).load()
        t.warm()
        timings: dict[str, list[float]] = {f: [] for f in audio}
        texts: dict[str, str] = {}
        rtf_runs = []
        for _ in range(runs):
            spent = 0.0
            for name, samples in audio.items():
                t0 = perf()
                result = t.transcribe(samples)
                dt = perf() - t0
                timings[name].append(dt)
                texts.setdefault(name, result.text)  # greedy decoding: every run gives the same text
                spent += dt
            rtf_runs.append(spent / total_audio)
        hyps = [norm(texts[r["file"]]) for r in speech]
        wer = jiwer.process_words(refs, hyps)
        short = [x for r in speech if float(r["seconds"]) <= 3.0 for x in timings[r["file"]]]
        long_ = [x for r in speech if float(r["seconds"]) >= 10.0 for x in timings[r["file"]]]
        rep.add(
            "stt",
            f"{model}_rtf",
            fig(
                f"{model}: real-time factor, all {len(speech)} speech files ({total_audio:.0f} s of audio)",
                "",
                rtf_runs,
            ),
        )
        rep.add(
            "stt",
            f"{model}_short",
            fig(
                f"{model}: seconds per short command (1–3 s files)",
                "s",
                short,
                facts="tiny.en: ~0.5 s (0.3–0.75) for a 2 s command",
            ),
        )
        rep.add("stt", f"{model}_long", fig(f"{model}: seconds per long utterance (11–33 s files)", "s", long_))
        rep.add(
            "stt",
            f"{model}_wer",
            fig(
                f"{model}: WER over the {len(speech)} speech files",
                "",
                [wer.wer],
                facts="0.063 tiny.en / 0.074 base (other set, beam 5)",
            ),
        )
        for r, ref, hyp in zip(speech, refs, hyps, strict=True):
            name = r["file"]
            per_file[name][model] = {
                "median": statistics.median(timings[name]),
                "min": min(timings[name]),
                "max": max(timings[name]),
                "words": len(ref.split()),
                "text": texts[name],
                **file_errors(ref, hyp),
            }
        invented_words[model] = {
            name: text for name, samples in noise_audio.items() if (text := t.transcribe(samples).text).strip()
        }
        wer_detail[model] = {
            "substitutions": wer.substitutions,
            "deletions": wer.deletions,
            "insertions": wer.insertions,
            "words": sum(len(x.split()) for x in refs),
        }
        del t
        gc.collect()
    rep.extra["stt"] = {
        "files": per_file,
        "wer_detail": wer_detail,
        "noise": invented_words,
        "noise_files": [r["file"] for r in noise],
    }


def file_errors(ref: str, hyp: str) -> dict[str, Any]:
    """Word errors of one normalized transcript, each shown with two words of context on either side."""
    import jiwer

    one = jiwer.process_words(ref, hyp)
    rw, hw = ref.split(), hyp.split()
    diffs = [
        f'"{" ".join(rw[max(0, c.ref_start_idx - 2) : c.ref_end_idx + 2])}" → '
        f'"{" ".join(hw[max(0, c.hyp_start_idx - 2) : c.hyp_end_idx + 2])}"'
        for c in one.alignments[0]
        if c.type != "equal"
    ]
    return {
        "errors": one.substitutions + one.deletions + one.insertions,
        "diffs": list(dict.fromkeys(diffs)),
    }  # neighbouring errors share their context
