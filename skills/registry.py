"""The skill registry: every skill Hark can run, by name, and where they are found.

Skills are the `@skill` functions (see `skills.tool`) in every module of the
`skills` package and in the user's `skills.user_dir` folder; a module that
fails to load is recorded in `load_errors` and the others still load.  A
module may define `on_start(ctx)` for background work (`start()` runs it).
Running skills is not done here: every call goes through
`skills.gate.ConfirmationGate`.

The types a skill uses are defined in `skills.context` and `skills.tool` and
re-exported here, where skills have always imported them from.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import pkgutil
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from skills.context import (
    Plan,
    SkillArgumentError,
    SkillContext,
    SkillError,
    SkillResult,
    Source,
    StateChanged,
    UnknownSkillError,
)
from skills.tool import SKILL_ATTR, Preview, Skill, build_skill, skill

__all__ = [
    "SKILL_ATTR",
    "Plan",
    "Preview",
    "Skill",
    "SkillArgumentError",
    "SkillContext",
    "SkillError",
    "SkillRegistry",
    "SkillResult",
    "Source",
    "StateChanged",
    "UnknownSkillError",
    "build_skill",
    "skill",
]

log = logging.getLogger("hark.skills")


class SkillRegistry:
    """Every skill Hark can run, by name."""

    def __init__(self) -> None:
        self._skills: dict[str, Skill] = {}
        self._start_hooks: list[Callable[[SkillContext], None]] = []
        self.load_errors: list[str] = []

    def add(self, func: Callable[..., Any]) -> Skill:
        """Register one `@skill` function; a second skill with the same name replaces the first."""
        s = build_skill(func)
        if s.name in self._skills and self._skills[s.name].func is not func:
            log.warning("skill %s is defined twice; the later one (%s) wins", s.name, func.__module__)
        self._skills[s.name] = s
        return s

    def add_module(self, module: types.ModuleType) -> int:
        """Register every `@skill` function defined in `module` (and its `on_start` hook); returns how many."""
        n = 0
        for obj in vars(module).values():
            if callable(obj) and hasattr(obj, SKILL_ATTR) and getattr(obj, "__module__", None) == module.__name__:
                self.add(obj)
                n += 1
        # A module may define `on_start(ctx)` to start background work (timers that fire while idle).
        hook = getattr(module, "on_start", None)
        if callable(hook) and hook not in self._start_hooks:
            self._start_hooks.append(hook)
        return n

    def start(self, ctx: SkillContext) -> None:
        """Run every module's `on_start(ctx)` once, when the assistant starts."""
        for hook in self._start_hooks:
            try:
                hook(ctx)
            except Exception as e:
                msg = f"{hook.__module__}.on_start failed: {e}"
                log.exception(msg)
                self.load_errors.append(msg)

    def discover_package(self, package: str = "skills") -> None:
        """Load every module of a package as skills; a module that fails is recorded in `load_errors`."""
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__):
            if info.name.startswith("_"):
                continue
            modname = f"{package}.{info.name}"
            try:
                self.add_module(importlib.import_module(modname))
            except Exception as e:  # one broken module must not take the others down
                msg = f"skill module {modname} failed to load: {e}"
                log.error(msg)
                self.load_errors.append(msg)

    def discover_folder(self, folder: Path) -> None:
        """Load every `*.py` in a user folder as a skill module."""
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            msg = f"skills.user_dir {folder} is not a directory; no user skills loaded"
            log.warning(msg)
            self.load_errors.append(msg)
            return
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            modname = f"hark_user_skills.{path.stem}"
            try:
                spec = importlib.util.spec_from_file_location(modname, path)
                assert spec and spec.loader
                module = importlib.util.module_from_spec(spec)
                sys.modules[modname] = module
                spec.loader.exec_module(module)
                self.add_module(module)
            except Exception as e:
                msg = f"user skill {path} failed to load: {e}"
                log.error(msg)
                self.load_errors.append(msg)

    @classmethod
    def default(cls, user_dir: Path | None = None) -> SkillRegistry:
        """Hark's built-in skills, plus the user's from `user_dir`."""
        reg = cls()
        reg.discover_package("skills")
        if user_dir:
            reg.discover_folder(user_dir)
        return reg

    def get(self, name: str) -> Skill:
        """The skill called `name`, or UnknownSkillError (speakable)."""
        try:
            return self._skills[name]
        except KeyError:
            raise UnknownSkillError(f"I don't have a skill called {name.replace('_', ' ')}.") from None

    def __contains__(self, name: object) -> bool:
        return name in self._skills

    def __iter__(self):
        return iter(self._skills.values())

    def __len__(self) -> int:
        return len(self._skills)

    def names(self) -> list[str]:
        """Every skill name, sorted."""
        return sorted(self._skills)

    def tool_schemas(self) -> list[dict[str, Any]]:
        """Every skill's tool definition, in Ollama's `tools=` format."""
        return [s.tool_schema() for s in self._skills.values()]
