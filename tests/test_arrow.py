"""The package arrow runs one way: voice/ imports skills/, never the reverse.

A skill can then be read, imported and tested without the voice pipeline (audio,
models, the CLI).  Walks the syntax tree of every module under skills/, so an
import hidden inside a function counts too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SKILLS = Path(__file__).resolve().parent.parent / "skills"


def voice_imports(path: Path) -> list[str]:
    """'file:line: import' for every import of `voice` (or a submodule) in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [
            f"{path.name}:{node.lineno}: {name}" for name in names if name == "voice" or name.startswith("voice.")
        ]
    return found


def test_no_module_under_skills_imports_voice():
    modules = sorted(SKILLS.rglob("*.py"))
    assert len(modules) > 10  # the walk really found the skills
    offenders = [hit for path in modules for hit in voice_imports(path)]
    assert offenders == [], "skills/ must not import voice/: " + "; ".join(offenders)


def test_the_checker_sees_every_spelling_of_an_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import voice.text\nfrom voice import events\ndef f():\n    from voice.config import X\n"
        "import voicemail\nfrom .voice import y\n"
    )
    assert voice_imports(sample) == ["sample.py:1: voice.text", "sample.py:2: voice", "sample.py:4: voice.config"]


def test_every_skill_module_imports_without_loading_voice():
    # The same rule, checked by running it: loading every skill leaves `voice` out of sys.modules.
    code = (
        "import sys\nfrom skills.registry import SkillRegistry\nreg = SkillRegistry.default()\n"
        "assert not reg.load_errors, reg.load_errors\n"
        "import skills.gate, skills.settings, skills.events\n"
        "loaded = sorted(m for m in sys.modules if m == 'voice' or m.startswith('voice.'))\n"
        "assert not loaded, loaded\nprint(len(reg))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=SKILLS.parent, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 20
