"""What can go wrong talking to the model, and the one place failures are translated.

Every failure becomes a `BrainError` whose message is short, speakable and says
how to fix it; `.partial` keeps answer text already streamed.  `translate` maps
an httpx, ollama or parse failure to one (anything else is a bug and
propagates); `refusal` tells a request refused for lack of a capability
("tools", "thinking") from any other 400.
"""

from __future__ import annotations

import json


class BrainError(Exception):
    """The model could not answer; str(e) is a short speakable message with the fix."""

    def __init__(self, message: str, partial: str = "") -> None:
        super().__init__(message)
        # Answer text already streamed before the failure (may be spoken or discarded).
        self.partial = partial

    @property
    def spoken(self) -> str:
        """What to say aloud; the full message (with any address) is printed and logged."""
        return str(self)


class OllamaUnavailable(BrainError):
    """Nothing answers at the Ollama address."""

    @property
    def spoken(self) -> str:
        """A short sentence without the address: a URL read aloud helps nobody."""
        return "I can't reach the language model."


class ModelNotFound(BrainError):
    """Ollama runs but the model is not pulled."""


class BrainTimeout(BrainError):
    """The model took longer than `llm.response_timeout_s` to say anything."""


class StreamBroken(BrainError):
    """The answer stopped before Ollama said it was done; `.partial` has the text so far."""


class AnswerDeadline(BrainTimeout):
    """The answer kept streaming past `llm.answer_deadline_s`; `.partial` has the text so far."""


UNREADABLE = "Ollama sent something I couldn't read; try again, or update Ollama."


def _seconds(value: float) -> str:
    return f"{value:g} second{'' if value == 1 else 's'}"


def translate(e: Exception, *, host: str, model: str, response_timeout_s: float, partial: str) -> BrainError:
    """Map an httpx/ollama/parse failure to a speakable BrainError (other exceptions propagate)."""
    import httpx
    import ollama
    import pydantic

    if isinstance(e, BrainError):
        return e
    if isinstance(e, (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol, ConnectionError)):
        return OllamaUnavailable(
            f"I can't reach Ollama at {host}; start it with `ollama serve` or set OLLAMA_HOST.", partial
        )
    if isinstance(e, httpx.TimeoutException):
        return BrainTimeout(
            f"The model took longer than {_seconds(response_timeout_s)} to answer; "
            "try again, or raise llm.response_timeout_s.",
            partial,
        )
    if isinstance(e, httpx.TransportError):  # reset, closed mid-body, protocol errors
        return StreamBroken(
            "The connection to Ollama broke in the middle of the answer; check that it is still running and try again.",
            partial,
        )
    if isinstance(e, ollama.ResponseError):
        return _from_response(e, host, model, partial)
    if isinstance(e, ollama.RequestError):
        return BrainError(f"The request to Ollama was not valid: {e.error}.", partial)
    if isinstance(e, (json.JSONDecodeError, pydantic.ValidationError)):
        return StreamBroken(UNREADABLE, partial)
    if isinstance(e, httpx.HTTPError):
        return BrainError(f"Talking to Ollama failed: {e}.", partial)
    raise e


def _from_response(e: Exception, host: str, model: str, partial: str) -> BrainError:
    """An error Ollama itself answered with (a status code and a message)."""
    message = ollama_message(e)
    status = getattr(e, "status_code", None)
    if status == 404 and "model" in message.lower():
        return ModelNotFound(
            f"The model {model} isn't pulled; run `hark models pull` or `ollama pull {model}`.", partial
        )
    if status == -1:  # an {"error": ...} line after the answer had started
        return StreamBroken(f"Ollama stopped in the middle of the answer: {message.rstrip('.')}. Try again.", partial)
    if status == 404:
        return BrainError(f"{host} does not answer like Ollama ({message}); check OLLAMA_HOST.", partial)
    return BrainError(f"Ollama said: {message.rstrip('.')}.", partial)


def ollama_message(e: Exception) -> str:
    """The text of an `ollama.ResponseError` ("" for anything else)."""
    return str(getattr(e, "error", "") or "").strip()


def refusal(e: Exception) -> str | None:
    """'tools' or 'thinking' if Ollama refused the request for lack of that capability."""
    if getattr(e, "status_code", None) != 400:
        return None
    message = ollama_message(e)
    for what in ("tools", "thinking"):
        if f"does not support {what}" in message:
            return what
    return None
