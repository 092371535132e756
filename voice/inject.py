"""Typing into the focused window: the desktop tool that can do it, chosen once, and the edits applied with it.

`choose(method)` looks at the session (XDG_SESSION_TYPE, WAYLAND_DISPLAY, DISPLAY), the tools
installed and the keyboard layout, and returns a `Plan`; `Injector(plan).apply(edits)` carries out
`voice.dictation` edits: text is typed or pasted, a deletion is BackSpace pressed N times.

- X11: `xdotool type`. Wayland: `wtype` (wlroots desktops: Sway, Hyprland; it sends its own keymap, so
  any text and layout are safe) or `ydotool` (any compositor, through /dev/uinput and the ydotoold daemon;
  on GNOME and KDE, whose compositors lack the virtual-keyboard protocol wtype needs, ydotool is preferred).
- Typing key by key is unreliable for non-ASCII text and for non-QWERTY layouts (the tools map
  characters to US key positions, or to the first of several layouts): there, with `method="auto"`,
  the text goes through the clipboard (xclip or xsel on X11, wl-copy on Wayland) and a paste keystroke
  (Ctrl+V; Ctrl+Shift+V in a terminal). The clipboard then holds the last pasted text.
  `method="type"` or `"paste"` forces one way. Line breaks are always the Return key when typed.
- A missing tool is an `InjectError` whose one sentence names the Debian package to install.

The layout comes from `setxkbmap -query` on X11; on Wayland from XKB_DEFAULT_LAYOUT, GNOME's input
sources (gsettings) or `localectl`. An unknown layout counts as QWERTY (said in the plan's description).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from voice.dictation import Delete, Edit

log = logging.getLogger("hark.inject")

Method = Literal["auto", "type", "paste"]
METHODS: tuple[Method, ...] = ("auto", "type", "paste")
TOOL_TIMEOUT_S = 30.0
# After a paste keystroke the window fetches the clipboard on its own time: the next clipboard change waits this long.
PASTE_SETTLE_S = 0.3
KEY_DELAY_MS = 12  # between keystrokes: xdotool's own default, which applications keep up with
BACKSPACE_BATCH = 200  # BackSpace presses per tool call

# Layouts whose letters are where a US keyboard has them (xkb names). Others (de, fr, ru, ...) get the clipboard.
QWERTY_LAYOUTS = frozenset(
    {"us", "gb", "ie", "ca", "it", "es", "pt", "br", "latam", "nl", "dk", "no", "se", "fi", "is", "pl", "ro", "jp"}
)
NON_QWERTY_VARIANTS = ("dvorak", "colemak", "workman", "bepo", "neo", "azerty", "qwertz", "norman", "halmak")
TERMINALS = (
    "xterm",
    "uxterm",
    "urxvt",
    "rxvt",
    "terminal",  # gnome-terminal, xfce4-terminal, mate-terminal, Terminal
    "konsole",
    "alacritty",
    "kitty",
    "terminator",
    "tilix",
    "wezterm",
    "foot",
    "st-256color",
    "sakura",
    "guake",
    "tilda",
    "lxterminal",
    "qterminal",
    "ptyxis",
)


class InjectError(Exception):
    """Text cannot be typed into the focused window; the message says what to install or do."""


@dataclass(frozen=True)
class Layout:
    """The keyboard layout(s) in use, as xkb names ("us", "de"), with their variants ("dvorak"), and where from."""

    layouts: tuple[str, ...]
    variants: tuple[str, ...] = ()
    source: str = ""

    @property
    def qwerty(self) -> bool:
        """Whether typing key by key is safe: one layout, its letters where QWERTY has them."""
        if len(self.layouts) != 1 or self.layouts[0] not in QWERTY_LAYOUTS:
            return False
        return not any(v in variant for variant in self.variants for v in NON_QWERTY_VARIANTS)

    def __str__(self) -> str:
        variants = [v for v in self.variants if v]
        return ",".join(self.layouts) + (f" ({','.join(variants)})" if variants else "")


@dataclass(frozen=True)
class Plan:
    """How text reaches the focused window: the session, the typing tool, the clipboard tool, the layout."""

    session: Literal["x11", "wayland"]
    typer: str  # xdotool, wtype or ydotool
    clipboard: str | None  # xclip, xsel, wl-copy, or None
    method: Method = "auto"
    layout: Layout | None = None
    env: Mapping[str, str] | None = field(default=None, repr=False, compare=False)  # for the tools; None: ours

    @property
    def layout_safe(self) -> bool:
        """Whether the layout lets the typing tool type ASCII correctly."""
        if self.typer == "wtype":  # wtype uploads its own keymap: the user's layout does not matter
            return True
        return self.layout is None or self.layout.qwerty

    def pastes(self, text: str) -> bool:
        """Whether `text` goes through the clipboard rather than being typed."""
        if self.method == "paste":
            return True
        if self.method == "type" or self.clipboard is None:
            return False
        if self.typer == "wtype":
            return False
        return not (text.isascii() and self.layout_safe)

    def describe(self) -> str:
        """One line for the log: which tools, which layout, and when the clipboard is used."""
        layout = f"layout {self.layout}" if self.layout else "layout unknown, taken as QWERTY"
        if self.method == "paste":
            how = f"all text pasted with {self.clipboard} and {self.typer}"
        elif self.method == "type" or self.clipboard is None:
            how = f"all text typed with {self.typer}"
        elif self.typer == "wtype":
            how = "all text typed with wtype (it handles any text and layout)"
        elif self.layout_safe:
            how = f"typed with {self.typer}; non-ASCII text pasted with {self.clipboard}"
        else:
            how = f"pasted with {self.clipboard} and {self.typer} (typing is unreliable on this layout)"
        return f"{self.session}: {how}; {layout}"


# ---------------------------------------------------------------- choosing


def session_type(env: Mapping[str, str]) -> Literal["x11", "wayland"]:
    """The graphical session text would be typed into, from the environment."""
    kind = env.get("XDG_SESSION_TYPE", "").lower()
    if kind == "wayland" or (kind != "x11" and env.get("WAYLAND_DISPLAY")):
        return "wayland"
    if env.get("DISPLAY"):
        return "x11"
    raise InjectError(
        "There is no graphical session to type into (neither DISPLAY nor WAYLAND_DISPLAY is set): "
        "run `hark dictate` inside your desktop session, or add --print to print the text instead."
    )


def _run(args: list[str], env: Mapping[str, str] | None = None, timeout: float = 5.0) -> str | None:
    """A query's stdout, or None when the tool is missing or fails."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",")) if value.strip() else ()


def keyboard_layout(
    session: str, env: Mapping[str, str], query: Callable[[list[str]], str | None] | None = None
) -> Layout | None:
    """The keyboard layout in use, or None when no source says."""
    ask = query or (lambda args: _run(args, env))
    if session == "x11":
        out = ask(["setxkbmap", "-query"])
        if out is not None:
            fields = dict(re.findall(r"^(\w+):[ \t]*(\S*)", out, re.M))
            if fields.get("layout"):
                return Layout(_split(fields["layout"]), _split(fields.get("variant", "")), "setxkbmap")
        return None
    if env.get("XKB_DEFAULT_LAYOUT"):
        return Layout(_split(env["XKB_DEFAULT_LAYOUT"]), _split(env.get("XKB_DEFAULT_VARIANT", "")), "XKB_DEFAULT")
    if "GNOME" in env.get("XDG_CURRENT_DESKTOP", "").upper():
        out = ask(["gsettings", "get", "org.gnome.desktop.input-sources", "sources"])
        names = re.findall(r"\('xkb',\s*'([^']+)'\)", out or "")
        if names:  # 'de+neo': layout de, variant neo
            return Layout(
                tuple(n.split("+")[0] for n in names),
                tuple(n.split("+")[1] if "+" in n else "" for n in names),
                "gsettings",
            )
    out = ask(["localectl", "status"])
    if out:
        fields = dict(re.findall(r"X11 (Layout|Variant):\s*(\S+)", out))
        if fields.get("Layout"):
            return Layout(_split(fields["Layout"]), _split(fields.get("Variant", "")), "localectl")
    return None


def choose(
    method: Method = "auto",
    env: Mapping[str, str] | None = None,
    which: Callable[[str], str | None] = shutil.which,
    layout: Layout | None = None,
) -> Plan:
    """How to type here: the session's typing tool and clipboard tool, checked to exist, and the layout.

    `layout` None: detected. Raises `InjectError` (naming the package to install) when a needed tool is missing.
    """
    if method not in METHODS:
        raise InjectError(f"Unknown typing method '{method}': use auto, type or paste.")
    environ = dict(os.environ if env is None else env)
    session = session_type(environ)
    if session == "x11":
        if not which("xdotool"):
            raise InjectError("Typing into X11 windows needs xdotool: install it with `sudo apt install xdotool`.")
        typer = "xdotool"
        clipboard = next((tool for tool in ("xclip", "xsel") if which(tool)), None)
        clip_package = "xclip"
    else:
        tools = [tool for tool in ("wtype", "ydotool") if which(tool)]
        desktop = environ.get("XDG_CURRENT_DESKTOP", "").upper()
        if "GNOME" in desktop or "KDE" in desktop:
            tools.sort(key=lambda tool: tool != "ydotool")  # their compositors lack wtype's virtual keyboard
        if not tools:
            raise InjectError(
                "Typing into Wayland windows needs wtype (Sway, Hyprland and other wlroots desktops) or ydotool "
                "(GNOME, KDE; its ydotoold daemon must run): install one with `sudo apt install wtype` or "
                "`sudo apt install ydotool`."
            )
        typer = tools[0]
        clipboard = "wl-copy" if which("wl-copy") else None
        clip_package = "wl-clipboard"
    if layout is None:
        layout = keyboard_layout(session, environ)
    plan = Plan(session, typer, clipboard, method, layout, env)
    if clipboard is None:
        needs = "all text" if method == "paste" else "non-ASCII text" if plan.layout_safe else "text on this layout"
        message = f"Pasting {needs} needs a clipboard tool: install it with `sudo apt install {clip_package}`" + (
            "." if method == "paste" else "; until then it is typed, and may come out wrong."
        )
        if method == "paste" or (typer != "wtype" and method == "auto" and not plan.layout_safe):
            raise InjectError(message)
        if typer != "wtype" and method == "auto":
            log.warning(message)
    return plan


# ---------------------------------------------------------------- typing


class Injector:
    """Applies dictation edits to the focused window with the tools of a `Plan`."""

    def __init__(self, plan: Plan, key_delay_ms: int = KEY_DELAY_MS) -> None:
        self.plan = plan
        self.key_delay_ms = key_delay_ms
        self._ydotool_codes: bool | None = None  # ydotool 1.x takes raw key codes; 0.1.x takes key names
        self._pasted_at = 0.0

    def apply(self, edits: Iterable[Edit]) -> None:
        """Carry out the edits in order: text typed or pasted, deletions as BackSpace presses."""
        for edit in edits:
            if isinstance(edit, Delete):
                self.delete(edit.count)
            else:
                self.type_text(edit.text)

    def type_text(self, text: str) -> None:
        """Put `text` at the cursor of the focused window."""
        if not text:
            return
        if self.plan.pastes(text):
            log.info("pasting %d characters with %s", len(text), self.plan.clipboard)
            self._paste(text)
            return
        log.info("typing %d characters with %s", len(text), self.plan.typer)
        for i, line in enumerate(text.split("\n")):
            if i:
                self._keys(["Return"])
            if line:
                self._type(line)

    def delete(self, count: int) -> None:
        """Delete the `count` characters before the cursor."""
        log.info("deleting %d characters", count)
        while count > 0:
            n = min(count, BACKSPACE_BATCH)
            self._keys(["BackSpace"] * n)
            count -= n

    # ---- the tools

    def _tool(self, args: list[str], stdin: str | None = None) -> None:
        """Run one tool to completion; its failure is an `InjectError` with its own message."""
        env = dict(self.plan.env) if self.plan.env is not None else None
        try:
            # stderr to a file, not a pipe: xclip and xsel stay behind to serve the clipboard, holding
            # whatever output they were given open, so a pipe would never reach its end.
            with tempfile.TemporaryFile() as errors:
                done = subprocess.run(
                    args,
                    input=(stdin or "").encode(),
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                    env=env,
                    timeout=TOOL_TIMEOUT_S,
                    check=False,
                )
                errors.seek(0)
                message = errors.read().decode(errors="replace")
        except FileNotFoundError as e:
            raise InjectError(f"{args[0]} is no longer installed: install it again, or pick another --method.") from e
        except subprocess.TimeoutExpired as e:
            raise InjectError(f"{args[0]} did not finish typing within {TOOL_TIMEOUT_S:g} seconds.") from e
        if done.returncode != 0:
            detail = " ".join(message.split())[:300] or f"exit status {done.returncode}"
            hint = ""
            if args[0] == "ydotool":
                hint = " Is ydotoold running, and may you write /dev/uinput?"
            elif "virtual keyboard protocol" in message:
                hint = " This desktop (GNOME, KDE) has no virtual keyboard for wtype: install ydotool and run ydotoold."
            raise InjectError(f"{args[0]} could not type into the focused window: {detail}.{hint}")

    def _type(self, text: str) -> None:
        if self.plan.typer == "xdotool":
            self._tool(["xdotool", "type", "--clearmodifiers", "--delay", str(self.key_delay_ms), "--", text])
        elif self.plan.typer == "wtype":
            self._tool(["wtype", "--", text])  # no delay option before wtype 0.5; it paces itself
        elif self._ydotool_raw():
            self._tool(["ydotool", "type", "--key-delay", str(self.key_delay_ms), "--", text])
        else:  # ydotool 0.1.x parses options with boost, which has no "--"
            self._tool(["ydotool", "type", "--key-delay", str(self.key_delay_ms), text])

    def _keys(self, keys: list[str]) -> None:
        """Press keys or chords given as xdotool names ("BackSpace", "Return", "ctrl+v")."""
        if self.plan.typer == "xdotool":
            self._tool(["xdotool", "key", "--clearmodifiers", "--delay", str(self.key_delay_ms), *keys])
        elif self.plan.typer == "wtype":
            args = ["wtype"]
            for chord in keys:
                *mods, key = chord.split("+")
                args += [a for m in mods for a in ("-M", m)] + ["-k", key] + [a for m in mods for a in ("-m", m)]
            self._tool(args)
        elif self._ydotool_raw():
            self._tool(["ydotool", "key", "--key-delay", str(self.key_delay_ms), *_raw_codes(keys)])
        else:
            self._tool(["ydotool", "key", "--key-delay", str(self.key_delay_ms), *keys])

    def _ydotool_raw(self) -> bool:
        if self._ydotool_codes is None:
            env = dict(self.plan.env) if self.plan.env is not None else None
            try:
                done = subprocess.run(["ydotool", "key", "--help"], capture_output=True, text=True, env=env, timeout=5)
                usage = done.stdout + done.stderr
            except (OSError, subprocess.TimeoutExpired):
                usage = ""
            self._ydotool_codes = "key sequence" not in usage  # 0.1.x: "<key sequence>"; 1.x: "<keycode>:<pressed>"
        return self._ydotool_codes

    def _paste(self, text: str) -> None:
        wait = self._pasted_at + PASTE_SETTLE_S - time.monotonic()
        if wait > 0:  # the window may not have fetched the last paste yet
            time.sleep(wait)
        clipboard = self.plan.clipboard
        if clipboard == "xclip":
            self._tool(["xclip", "-selection", "clipboard", "-in"], text)
        elif clipboard == "xsel":
            self._tool(["xsel", "--clipboard", "--input"], text)
        else:
            self._tool(["wl-copy"], text)
        self._keys(["ctrl+shift+v" if self._in_terminal() else "ctrl+v"])
        self._pasted_at = time.monotonic()

    def _in_terminal(self) -> bool:
        """Whether the focused window is a terminal (they paste with Ctrl+Shift+V); only known on X11."""
        if self.plan.session != "x11":
            return False
        env = dict(self.plan.env) if self.plan.env is not None else None
        window = (_run(["xdotool", "getwindowfocus"], env) or "").strip()
        if not window.isdigit():
            return False
        # The focus is often a child window without a class: ask up the tree (xprop follows no parents itself).
        for _ in range(4):
            classes = _run(["xprop", "-id", window, "WM_CLASS"], env) or ""
            names = re.findall(r'"([^"]*)"', classes)
            if names:
                return any(t in name.lower() for name in names for t in TERMINALS)
            tree = _run(["xwininfo", "-id", window, "-children"], env) or ""
            parent = re.search(r"Parent window id: (0x[0-9a-f]+)", tree)
            if not parent or int(parent.group(1), 16) == 0:
                return False
            window = str(int(parent.group(1), 16))
        return False


# Linux input key codes (input-event-codes.h) for ydotool 1.x, which takes `code:1` (press) and `code:0` (release).
_KEY_CODES = {"ctrl": 29, "shift": 42, "alt": 56, "super": 125, "v": 47, "BackSpace": 14, "Return": 28}


def _raw_codes(keys: list[str]) -> list[str]:
    codes: list[str] = []
    for chord in keys:
        parts = [_KEY_CODES[k] for k in chord.split("+")]
        codes += [f"{c}:1" for c in parts] + [f"{c}:0" for c in reversed(parts)]
    return codes
