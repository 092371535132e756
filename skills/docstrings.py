"""Google-style docstrings read as a tool's description: the summary, and one line per argument.

A skill's docstring is what the language model reads about it, so the
registry takes the description and each `Args:` entry from it (see
`skills.registry.build_skill`).  Other sections (Returns, Raises, Examples)
are not offered to the model.
"""

from __future__ import annotations

import inspect
import re

_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^\s*(\w+)(?:\s*\([^)]*\))?:\s*(.+)$")
_SECTION = re.compile(r"^\s*(Returns|Raises|Yields|Examples?|Notes?):\s*$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {param: description})."""
    doc = inspect.cleandoc(doc or "")
    desc_lines: list[str] = []
    params: dict[str, str] = {}
    in_args = False
    arg_indent: int | None = None
    last: str | None = None
    for line in doc.splitlines():
        if _ARGS_HEADER.match(line):
            in_args = True
            continue
        if in_args:
            if _SECTION.match(line):
                in_args = False
                continue
            if not line.strip():
                continue
            indent = len(line) - len(line.lstrip())
            m = _ARG_LINE.match(line)
            if m and (arg_indent is None or indent <= arg_indent):
                arg_indent = indent
                last = m.group(1)
                params[last] = m.group(2).strip()
            elif last:
                params[last] += " " + line.strip()
            continue
        desc_lines.append(line)
    description = " ".join(line.strip() for line in desc_lines if line.strip())
    return description, params
