"""One model on one Ollama server: the client, what the model can do, and its administration.

`OllamaModel` builds the `ollama` client (timeouts from config; proxy variables
ignored unless `llm.use_proxy`; chat tool calls read leniently, see
voice/llm/wire.py), reads the model's capabilities from /api/show once, and
administers it for `hark doctor` and `hark models`: `check` (never raises),
`list_models`, `pull` and `warm`.  Answering is `Brain` (voice/llm/brain.py),
built on this class.  Nothing is contacted until a method needs it; every
failure is a `BrainError` (voice/llm/errors.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from voice.config import LlmConfig
from voice.llm.errors import (
    BrainError,
    BrainTimeout,
    OllamaUnavailable,
    StreamBroken,
    ollama_message,
    translate,
)
from voice.llm.wire import lenient_chat

log = logging.getLogger("hark.llm")

_Self = TypeVar("_Self", bound="OllamaModel")


@dataclass(frozen=True)
class BrainStatus:
    """What `check` found: is Ollama there, is the model pulled, what can it do, and the fix."""

    host: str
    model: str
    reachable: bool
    model_present: bool
    capabilities: frozenset[str] = field(default_factory=frozenset)
    message_with_fix: str = ""

    @property
    def ok(self) -> bool:
        """Ollama answers and has the model."""
        return self.reachable and self.model_present


def keep_alive(value: str) -> str | float:
    """`llm.keep_alive` as Ollama reads it: a bare number is seconds ("-1" forever, "0" unload)."""
    value = str(value).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", value):  # Ollama rejects a number sent as a string
        number = float(value)
        return int(number) if number.is_integer() else number
    return value


def make_client(cfg: LlmConfig, host: str, read_timeout_s: float) -> Any:
    """An `ollama.Client` for `host` with Hark's timeouts, proxy rule and lenient chat reading."""
    import httpx
    import ollama

    timeout = httpx.Timeout(read_timeout_s, connect=cfg.connect_timeout_s)
    # trust_env=False: proxy variables are ignored unless llm.use_proxy (a loopback Ollama must stay local).
    return ollama.Client(host=host, timeout=timeout, trust_env=cfg.use_proxy, event_hooks={"response": [lenient_chat]})


class OllamaModel:
    """One model on one Ollama server. Nothing is loaded or contacted until used."""

    def __init__(self, cfg: LlmConfig, host: str) -> None:
        self.cfg = cfg
        self.host = host
        self.model = cfg.model
        self._client = make_client(cfg, host, cfg.response_timeout_s)
        self._patient_client: Any = None
        self._shown: dict[str, tuple[frozenset[str], str]] = {}

    def close(self) -> None:
        """Close the connections."""
        self._client.close()
        if self._patient_client is not None:
            self._patient_client.close()

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- model facts

    def capabilities(self) -> set[str]:
        """What the model can do ("completion", "tools", "thinking", ...), from /api/show."""
        return set(self._show()[0])

    def _show(self) -> tuple[frozenset[str], str]:
        """The model's capabilities and prompt template, asked once."""
        if self.model not in self._shown:
            try:
                info = self._client.show(self.model)
            except Exception as e:
                raise self._translate(e, partial="") from e
            template = info.template or ""
            caps = set(info.capabilities or ())
            if info.capabilities is None:
                # Ollama before capabilities were reported: infer them as Ollama itself does.
                caps.add("completion")
                if ".Tools" in template:
                    caps.add("tools")
            self._shown[self.model] = (frozenset(caps), template)
        return self._shown[self.model]

    def _translate(self, e: Exception, partial: str, model: str | None = None) -> BrainError:
        return translate(
            e,
            host=self.host,
            model=model or self.model,
            response_timeout_s=self.cfg.response_timeout_s,
            partial=partial,
        )

    # -- administration

    def check(self) -> BrainStatus:
        """For `hark doctor`: is Ollama there, is the model pulled, what can it do. Never raises."""
        try:
            caps = frozenset(self.capabilities())
        except OllamaUnavailable as e:
            return BrainStatus(self.host, self.model, False, False, frozenset(), str(e))
        except BrainError as e:  # ModelNotFound and the rest: Ollama answered
            return BrainStatus(self.host, self.model, True, False, frozenset(), str(e))
        except Exception as e:  # doctor must report, not crash
            log.exception("checking Ollama failed")
            return BrainStatus(
                self.host, self.model, False, False, frozenset(), f"Checking Ollama at {self.host} failed: {e}."
            )
        notes = []
        if "tools" not in caps:
            notes.append("it has no tool calling, so Hark will ask it for JSON instead (slower, less reliable)")
        if self.cfg.think and "thinking" not in caps:
            notes.append("it cannot think, so llm.think is ignored")
        message = f"Ollama at {self.host} has {self.model} ({', '.join(sorted(caps)) or 'no capabilities listed'})."
        if notes:
            message += " Note: " + "; ".join(notes) + "."
        return BrainStatus(self.host, self.model, True, True, caps, message)

    def warm(self) -> None:
        """Load the model now (an empty prompt) so the first answer is not slowed by loading."""
        try:
            self._patient().generate(model=self.model, prompt="", keep_alive=keep_alive(self.cfg.keep_alive))
        except Exception as e:
            raise self._translate(e, partial="") from e

    def list_models(self) -> list[dict[str, Any]]:
        """The models Ollama has: name, size, modified, parameter_size, family."""
        try:
            listed = self._client.list()
        except Exception as e:
            raise self._translate(e, partial="") from e
        out = []
        for m in listed.models:
            details = m.details
            out.append(
                {
                    "name": m.model,
                    "size": int(m.size or 0),
                    "modified": m.modified_at,
                    "parameter_size": details.parameter_size if details else None,
                    "family": details.family if details else None,
                }
            )
        return out

    def pull(self, model: str | None, on_progress: Callable[[str, int | None, int | None], None]) -> None:
        """Download a model through Ollama, reporting (status, completed, total) as it goes."""
        import ollama

        name = model or self.model
        last = None
        try:
            for progress in self._patient().pull(name, stream=True):
                last = progress.status
                on_progress(progress.status or "", progress.completed, progress.total)
        except Exception as e:
            if isinstance(e, ollama.ResponseError):
                reason = ollama_message(e).rstrip(".")
                raise BrainError(
                    f"Ollama could not pull {name}: {reason}. Check the name on ollama.com/library."
                ) from e
            err = self._translate(e, partial="", model=name)
            if isinstance(err, (StreamBroken, BrainTimeout)):
                err = BrainError(f"The download of {name} was interrupted; run the pull again, it resumes.")
            raise err from e
        finally:
            self._shown.pop(name, None)
        if last != "success":
            raise BrainError(f"The download of {name} stopped before it finished; run the pull again, it resumes.")

    def _patient(self) -> Any:
        # Pulls and model loads legitimately go quiet for minutes (digest checks, slow disks).
        if self._patient_client is None:
            read = max(self.cfg.response_timeout_s, 600.0)
            self._patient_client = make_client(self.cfg, self.host, read)
        return self._patient_client
