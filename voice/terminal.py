"""Text for the terminal: what users dictate and models say is shown, never obeyed.

Every place the command line prints user or model text passes it through
`clean` (plain output) or `shown` (rich output).  Control characters other
than newline and tab are dropped, so an escape sequence in a task or an
answer cannot clear the screen, move the cursor or rewrite a line; Unicode
direction overrides are dropped too, so text cannot display reversed.
`shown` returns a rich `Text`, which rich never parses for markup or emoji
codes: "[/b]" cannot crash a table, "[link=...]" cannot hide a URL and a
reply line in brackets cannot vanish.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text

# C0 controls except \t and \n, DEL, C1 controls (incl. the 8-bit CSI \x9b), and the
# bidirectional overrides/isolates (U+202A-U+202E, U+2066-U+2069).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(value: Any) -> str:
    """`value` as text that is safe to write to a terminal as is (newline and tab kept)."""
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub("", text.replace("\r\n", "\n"))


def shown(value: Any, style: str = "") -> Text:
    """`value` cleaned, as a rich Text: printed literally, whatever brackets or colons it holds."""
    return Text(clean(value), style=style)
