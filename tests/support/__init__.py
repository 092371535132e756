"""What the tests and the benchmarks share: real helpers, each in its own module.

- `paths`: the repository root, the shared speech recordings, the models folder.
- `speech`: the recordings' manifest (`manifest`, `speech_rows`, `nonspeech_rows`, `speech_file`).
- `cli`: Hark's command line as a subprocess (`HARK`, `hark_env`, `run_hark`).
- `pulse`: a private PulseAudio daemon with two null sinks (`Pulse`).
- `listen`: `hark listen --json` as a subprocess whose events a test waits for (`HarkProcess`).
- `ollama_server`: a server that speaks Ollama's documented wire format (`FakeOllama`, `Reply`).
- `wyoming_servers`: the real `wyoming-faster-whisper` and `wyoming-piper` servers on loopback.

Import the modules you need (`from tests.support.pulse import Pulse`); nothing here loads a model or starts a
process on import. `tests` is importable from the repository root: pytest puts the root on the path
(`pythonpath` in pyproject.toml), `python -m benchmarks.run` runs from it.
"""
