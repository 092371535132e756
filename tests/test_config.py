"""config.yaml: documented defaults equal the code's, and mistakes name the key."""

from __future__ import annotations

import pytest

from tests.support.cli import run_hark
from tests.support.paths import ROOT
from voice.config import Config, ConfigError, load_config


def test_shipped_config_yaml_is_the_defaults():
    assert load_config(ROOT / "config.yaml") == Config()


def test_every_key_in_config_yaml_is_commented():
    """Each key has a comment above it, shared at most with the keys right before it."""
    lines = (ROOT / "config.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        is_key = line.startswith("  ") and not line.startswith("    ") and not line.strip().startswith("#")
        if not is_key:
            continue
        j = i - 1
        while j >= 0 and lines[j].startswith("  ") and not lines[j].strip().startswith("#"):
            j -= 1  # keys (and folded text) sharing one comment
        assert j >= 0 and lines[j].strip().startswith("#"), f"config.yaml line {i + 1} has no comment: {line}"


@pytest.mark.parametrize(
    "text,needle",
    [
        ("vad:\n  agressiveness: 2\n", "unknown key 'vad.agressiveness'"),
        ("vad:\n  aggressiveness: 7\n", "'vad.aggressiveness'"),
        ("stt:\n  beam_size: lots\n", "'stt.beam_size'"),
        ("sttt:\n  model: x\n", "unknown key 'sttt'"),
        ("- a\n- b\n", "must be a mapping"),
        ("vad: [unclosed\n", "not valid YAML"),
    ],
)
def test_mistakes_name_the_key(tmp_path, text, needle):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        load_config(p)


@pytest.mark.parametrize(
    "text,needle",
    [
        ("vad:\n  hangvoer_ms: 300\n", "unknown key 'vad.hangvoer_ms' (did you mean 'vad.hangover_ms'?)"),
        ("sttt:\n  model: x\n", "did you mean 'stt'?"),
        ("llm:\n  modle: x\n", "did you mean 'llm.model'?"),
    ],
)
def test_a_typo_gets_a_suggestion(tmp_path, text, needle):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert needle in str(e.value)


def test_yaml_syntax_error_is_one_sentence_with_the_line(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("vad:\n  hangover_ms: 300\nstt: model: x\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    message = str(e.value)
    assert "\n" not in message and str(p) in message and "line 3" in message
    assert 'in "<unicode string>"' not in message  # no raw PyYAML dump


def test_missing_explicit_config_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "none.yaml")


def test_ollama_host_order(monkeypatch):
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert Config().ollama_host == "http://127.0.0.1:11434"
    monkeypatch.setenv("OLLAMA_HOST", "http://10.0.0.5:11434")
    assert Config().ollama_host == "http://10.0.0.5:11434"
    assert Config.model_validate({"llm": {"host": "http://box:11434"}}).ollama_host == "http://box:11434"


def test_cli_reports_a_bad_config_and_exits_1(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("tts:\n  voise: x\n")
    r = run_hark("doctor", "--config", str(p))
    assert r.returncode == 1
    assert "unknown key 'tts.voise'" in r.stderr
    assert "Traceback" not in r.stderr


def test_every_command_has_help_and_config():
    for cmd in (
        ["listen"],
        ["transcribe"],
        ["say"],
        ["run"],
        ["ask"],
        ["devices"],
        ["doctor"],
        ["models", "list"],
        ["models", "pull"],
        ["tasks", "list"],
        ["history"],
    ):
        r = run_hark(*cmd, "--help")
        assert r.returncode == 0, (cmd, r.stderr)
        assert "--config" in r.stdout, cmd
