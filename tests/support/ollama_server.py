"""The Ollama-protocol server the tests use: it lives in `voice/bench/ollama_server.py` (`hark bench` needs it).

Standalone: python tests/support/ollama_server.py --port 11434 --model qwen3:1.7b [--script replies.json]
"""

from __future__ import annotations

from voice.bench.ollama_server import (
    DEFAULT_CAPABILITIES,
    VERSION,
    Answered,
    FakeModel,
    FakeOllama,
    RecordedRequest,
    Reply,
    full_name,
    main,
    parse_keep_alive,
)

__all__ = [
    "DEFAULT_CAPABILITIES",
    "VERSION",
    "Answered",
    "FakeModel",
    "FakeOllama",
    "RecordedRequest",
    "Reply",
    "full_name",
    "main",
    "parse_keep_alive",
]

if __name__ == "__main__":
    main()
