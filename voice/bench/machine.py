"""The machine a benchmark ran on, and how busy other programs kept it while it ran."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path

from voice.bench.progress import say

ROOT = Path(__file__).resolve().parents[2]  # the checkout (git is asked which commit was measured)


def cpu_snapshot() -> tuple[float, float, float]:
    """(monotonic time, CPU seconds the whole machine was busy, CPU seconds of this process and its children)."""
    import psutil

    c = psutil.cpu_times()
    busy = c.user + c.nice + c.system + getattr(c, "irq", 0) + getattr(c, "softirq", 0) + getattr(c, "steal", 0)
    me = psutil.Process().cpu_times()
    return time.monotonic(), busy, me.user + me.system + me.children_user + me.children_system


def other_load(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """% of all cores that processes other than the benchmark (and its children) used between two snapshots."""
    wall = max(b[0] - a[0], 1e-6)
    return max(0.0, (b[1] - a[1]) - (b[2] - a[2])) / (wall * (os.cpu_count() or 1)) * 100


def wait_until_quiet(max_wait_s: float, threshold: float = 15.0) -> float:
    """Measure what else is running (3 s windows), waiting up to max_wait_s for it to drop below threshold."""
    deadline = time.monotonic() + max_wait_s
    while True:
        a = cpu_snapshot()
        time.sleep(3.0)
        load = other_load(a, cpu_snapshot())
        if load < threshold or time.monotonic() >= deadline:
            return load
        say(f"other programs use {load:.0f} % of the CPU; waiting for a quieter moment")


def machine_info() -> dict[str, str]:
    """The CPU, cores, memory, OS, Python, the versions of the packages that matter, the sound server, the commit."""
    import psutil

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = {}
    for dist in (
        "faster-whisper",
        "ctranslate2",
        "piper-tts",
        "onnxruntime",
        "webrtcvad-wheels",
        "ollama",
        "numpy",
        "sounddevice",
    ):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    pulse = "not installed"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        pulse = subprocess.run(["pulseaudio", "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    commit = ""
    try:  # read-only git queries: which code was measured
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        if commit and dirty:
            commit += " with uncommitted changes"
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "CPU": cpu,
        "Cores": f"{os.cpu_count()} logical ({usable} usable), no GPU used (device=cpu, int8)",
        "RAM": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python": platform.python_version(),
        "Packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "Sound server": pulse,
        "Hark": commit or "unknown",
    }
