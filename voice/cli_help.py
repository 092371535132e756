"""Plain help screens: no `<bool>`, `<list[Path]>` or `{text}` placeholders.

Typer 0.29 labels every parameter with its Python type in angle brackets (a flag shows
`<bool>`) and wraps required arguments in braces. `plain_help()` makes help read like
other command-line tools: flags have no label, a value is named in capitals (`TEXT`,
`FILE`, `SECONDS`), and arguments are `TEXT` / `[TEXT]` / `TEXT...`.
"""

from __future__ import annotations

from typing import Any

_LABELS = {"str": "TEXT", "int": "NUMBER", "float": "NUMBER", "path": "PATH", "file": "FILE", "directory": "DIR"}


def value_label(param: Any) -> str | None:
    """The word shown after an option or for an argument; None for a flag."""
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    if param.metavar is not None:
        return str(param.metavar)
    desc = param.type_descriptor
    if desc.is_choice:
        return "|".join(str(getattr(c, "value", c)) for c in desc.choices or ())
    if desc.is_path:
        return _LABELS.get(str(desc.path_type).lower(), "PATH")
    bare = param.bare_type().lower()
    for key, label in _LABELS.items():
        if key in bare:
            return label
    return "VALUE"


_done = False


def plain_help() -> None:
    """Patch Typer's parameter labels once (idempotent)."""
    global _done
    if _done:
        return
    from typer import core

    def option_type(self: Any, ctx: Any) -> str | None:
        return value_label(self)

    def argument_type(self: Any, ctx: Any) -> str | None:
        return None  # the argument's own name (in capitals) already says what it is

    def argument_name(self: Any) -> str:
        name = self.metavar or self.name.upper()
        return name + ("..." if self.nargs != 1 else "")

    def argument_usage(self: Any) -> str:
        name = self.metavar or self.name.upper()
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")

    # Typer has no public hook for these labels, so its four label methods are replaced here, in one place,
    # and tests/test_first_hour_cli.py checks every help screen; mypy rightly objects to assigning methods.
    core.TyperOption.display_type_rich = option_type  # type: ignore[method-assign]
    core.TyperArgument.display_type_rich = argument_type  # type: ignore[method-assign]
    core.TyperArgument._rich_display_name = argument_name  # type: ignore[method-assign]
    core.TyperArgument._usage_display_name = argument_usage  # type: ignore[method-assign]
    _done = True
