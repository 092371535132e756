"""Progress lines of a benchmark run, on stderr (stdout carries the result)."""

from __future__ import annotations

import sys
import time


def say(msg: str) -> None:
    """One progress line on stderr, with the time of day."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)
