"""Hark's skills: the actions the assistant can take.

Every module here (and every `*.py` in the user folder named by
`skills.user_dir`) is scanned for functions marked with `@skill`.
"""

from skills.registry import SkillContext, SkillError, SkillResult, skill

__all__ = ["SkillContext", "SkillError", "SkillResult", "skill"]
