"""A real X server (Xvfb) and a real X text window (a Tk text widget in its own process) that reports its text.

`Xvfb().start()` picks a free display itself (-displayfd). `TextWindow(display, tmp)` opens a window with one
Tk text widget, gives it the keyboard focus, and writes the widget's whole text to a file whenever it changes,
so a test reads back exactly what a typing tool put into the window.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.polling import wait_for

# The window: one Text widget with the focus; its content written (atomically) to argv[1] when it changes,
# and argv[1] + ".ready" created once the window is mapped and focused.
_WINDOW = r"""
import os, sys, tkinter as tk
out = sys.argv[1]
root = tk.Tk(className="HarkTestEditor")
root.title("Hark test editor")
text = tk.Text(root, width=80, height=20)
text.pack()
last = [None]
def poll():
    now = text.get("1.0", "end-1c")
    if now != last[0]:
        last[0] = now
        with open(out + ".tmp", "w", encoding="utf-8") as f:
            f.write(now)
        os.replace(out + ".tmp", out)
    root.after(20, poll)
def ready():
    text.focus_force()
    root.update()
    open(out + ".ready", "w").close()
root.after(20, poll)
root.after(300, ready)
root.mainloop()
"""


def tk_python() -> str:
    """A Python with tkinter: this one, else Debian's (python3-tk, installed by `make test`)."""
    for python in (sys.executable, "/usr/bin/python3"):
        has_tk = Path(python).exists() and subprocess.run([python, "-c", "import tkinter"], capture_output=True)
        if has_tk and has_tk.returncode == 0:
            return python
    raise AssertionError("no Python with tkinter: install python3-tk (`make test` does)")


class Xvfb:
    """A private, virtual X display for one test module."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.display = ""

    def start(self) -> Xvfb:
        assert shutil.which("Xvfb"), "Xvfb is not installed: run `make test`, which installs it (package xvfb)"
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(write)
        with os.fdopen(read) as f:
            number = f.readline().strip()  # written once the server accepts connections
        assert number.isdigit(), "Xvfb did not start"
        self.display = f":{number}"
        return self

    def env(self, **extra: str) -> dict[str, str]:
        """This process's environment, pointed at this display as an X11 session (no Wayland)."""
        env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
        env.update(DISPLAY=self.display, **extra)
        return env

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class TextWindow:
    """A Tk text window on `display` with the keyboard focus; `text()` is what it holds."""

    def __init__(self, xvfb: Xvfb, folder: Path) -> None:
        self.out = folder / "window.txt"
        self.proc = subprocess.Popen(
            [tk_python(), "-c", _WINDOW, str(self.out)], env=xvfb.env(), stdout=subprocess.DEVNULL
        )
        assert wait_for(lambda: Path(str(self.out) + ".ready").exists(), timeout=20), "the Tk window did not open"

    def text(self) -> str:
        return self.out.read_text(encoding="utf-8") if self.out.exists() else ""

    def wait_text(self, expected: str, timeout: float = 10.0) -> str:
        """The window's text once it equals `expected` (or whatever it holds after `timeout`)."""
        wait_for(lambda: self.text() == expected, timeout)
        return self.text()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
