"""The skills' part of the configuration, and the error every configuration problem raises.

`voice.config.Config` holds a `SkillsConfig` under `skills:` and re-exports
`ConfigError`, so a skill (or the gate checking `confirm.not_required_for`)
can name both without importing the voice pipeline.  `SkillSettings` is what
`SkillContext.config` promises: any object with a `.skills` section (the full
`Config` in Hark, a smaller one in a test).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid."""


class Section(BaseModel):
    """A configuration section: unknown keys and wrong types are errors that name the key."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class SkillsConfig(Section):
    """`skills:` in config.yaml: where user skills live and what the built-in skills may use."""

    user_dir: Path | None = None
    default_list: str = "inbox"
    # Named commands the user may ask Hark to run ("run the backup"). name -> command line.
    commands: dict[str, str] = {}
    # Read-only status commands whose output is summarized in status reports. name -> command line.
    status_commands: dict[str, str] = {}
    git_repos: list[Path] = []
    notes_file: Path | None = None
    command_timeout_s: float = Field(60.0, gt=0)


class SkillSettings(Protocol):
    """What a skill may read from the configuration: the `skills:` section."""

    @property
    def skills(self) -> SkillsConfig:
        """The `skills:` section."""
        ...
