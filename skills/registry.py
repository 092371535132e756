"""The skill registry: a typed, documented Python function becomes a tool.

    @skill(consequential=True, preview=lambda ctx, list_name=None: "I'll delete ...")
    def clear_tasks(ctx: SkillContext, list_name: str | None = None) -> str:
        \"\"\"Delete every task in a list.

        Args:
            list_name: Which list; the default list when not given.
        \"\"\"

The registry derives the JSON schema offered to the model from the signature
and docstring, validates the model's arguments with pydantic (a wrong or
missing argument becomes a `SkillArgumentError` with a speakable message),
and records whether the skill is consequential.  Running skills is not done
here: every call goes through `skills.gate.ConfirmationGate`.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import pkgutil
import re
import sys
import threading
import types
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Optional, Union, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

log = logging.getLogger("hark.skills")

SKILL_ATTR = "__hark_skill__"


class SkillError(Exception):
    """A skill failed in a way the user should hear about (message is speakable)."""


class SkillArgumentError(SkillError):
    """The arguments given to a skill do not fit its signature."""


class UnknownSkillError(SkillError):
    """No skill has that name."""


class StateChanged(SkillError):
    """What the user confirmed no longer matches the stored state; nothing was changed.

    Raised by a skill executing a locked `Plan` whose target changed while Hark
    was asking ("Your list changed while I was asking, so I deleted nothing.").
    """


@dataclass(frozen=True)
class Plan:
    """What a consequential call will do, fixed when the preview is spoken.

    A preview may return a Plan instead of a plain string: `text` is what Hark
    says before asking, `data` is exactly what will be acted on (task ids, a
    journal entry, a command line, a count).  The gate hands the confirmed plan
    to the skill as `ctx.plan`; the skill executes exactly that, or raises
    `StateChanged` if the state it names has changed since.
    """

    text: str
    data: Any = None


# Who chose a call: a sentence template, the language model, or the user at the keyboard.
Source = str


@dataclass
class SkillContext:
    """What a skill may use: configuration, the data directory, shared resources."""

    config: Any
    data_dir: Path
    transcript: str = ""
    clock: Callable[[], datetime] = datetime.now
    # Say something unprompted (a timer is due). The voice loop replaces this with speech.
    # `announce(text, on_played)`: the loop calls `on_played()` once the words have been played.
    # With no voice loop the words go to the log, and only at DEBUG (the log holds no user words at INFO).
    announce: Callable[..., None] = field(default=lambda text, on_played=None: log.debug("announcement: %s", text))
    # Only the live loop (`hark listen`, later `ptt`) fires timers; one-shot commands never do.
    live: bool = False
    # Set by the gate around each call: who chose it, and the plan the user confirmed (if any).
    source: Source = "model"
    plan: Optional[Plan] = None
    _resources: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> datetime:
        return self.clock()

    def resource(self, key: str, factory: Callable[[], Any]) -> Any:
        """A shared object (a database, a timer service) created once per process."""
        with self._lock:
            if key not in self._resources:
                self._resources[key] = factory()
            return self._resources[key]

    def close(self) -> None:
        with self._lock:
            for res in self._resources.values():
                close = getattr(res, "close", None)
                if callable(close):
                    try:
                        close()
                    except Exception:
                        log.exception("closing %r failed", res)
            self._resources.clear()


@dataclass(frozen=True)
class SkillResult:
    text: str
    data: Any = None


Preview = Union[str, Callable[..., Union[str, Plan]], None]


@dataclass
class Skill:
    name: str
    func: Callable[..., Any]
    description: str
    consequential: bool
    preview: Preview
    sentences: tuple[str, ...]
    args_model: type[BaseModel]
    param_docs: dict[str, str]
    wants_context: bool
    # Deletes, undoes, runs a command or types into a window: `confirm.not_required_for` can't name it.
    always_confirm: bool = False
    # Not consequential when a template chose it, but confirmed when the model did
    # (cancelling, shortening or pausing a timer or reminder).
    confirm_if_model: bool = False

    def tool_schema(self) -> dict[str, Any]:
        """The tool definition in Ollama's `tools=` format."""
        schema = self.args_model.model_json_schema()
        props = {}
        for pname, prop in schema.get("properties", {}).items():
            prop = _simplify(prop)
            if pname in self.param_docs:
                prop["description"] = self.param_docs[pname]
            props[pname] = prop
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": props,
                    "required": list(schema.get("required", [])),
                },
            },
        }

    def validate(self, arguments: Any) -> dict[str, Any]:
        """Check and coerce arguments; raise SkillArgumentError with a speakable reason."""
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, dict):
            raise SkillArgumentError(
                f"The arguments for {self.spoken_name} were not understood (expected named values, got {type(arguments).__name__})."
            )
        try:
            model = self.args_model.model_validate(arguments)
        except ValidationError as e:
            problems = []
            for err in e.errors():
                key = ".".join(str(p) for p in err["loc"]) or "arguments"
                if err["type"] == "missing":
                    problems.append(f"{key} is missing")
                elif err["type"] == "extra_forbidden":
                    problems.append(f"{key} is not something {self.spoken_name} takes")
                else:
                    problems.append(f"{key} is not valid ({err['msg'].lower()})")
            raise SkillArgumentError(f"I couldn't run {self.spoken_name}: " + "; ".join(problems) + ".") from e
        return model.model_dump()

    def describe_action(self, ctx: SkillContext, arguments: dict[str, Any]) -> Plan:
        """What a call will do: the spoken preview and the exact target, as a `Plan`.

        A preview may return a Plan or a plain string (wrapped into a Plan with no data).
        A preview raises SkillError when it already knows the call cannot work;
        the gate then says why instead of asking for a yes that would change nothing.
        """
        if callable(self.preview):
            try:
                made = self.preview(ctx, **arguments)
                return made if isinstance(made, Plan) else Plan(str(made))
            except SkillError:
                raise  # the call cannot work (no such task): say so instead of asking
            except Exception:
                log.exception("preview of %s failed", self.name)
        elif isinstance(self.preview, str):
            try:
                return Plan(self.preview.format(**arguments))
            except (KeyError, IndexError, ValueError):
                return Plan(self.preview)
        return Plan(f"I'll {self.spoken_name}.")

    @property
    def spoken_name(self) -> str:
        return self.name.replace("_", " ")

    def run(self, ctx: SkillContext, arguments: dict[str, Any]) -> SkillResult:
        """Call the function. Only the confirmation gate calls this."""
        result = self.func(ctx, **arguments) if self.wants_context else self.func(**arguments)
        if isinstance(result, SkillResult):
            return result
        return SkillResult(text="" if result is None else str(result))


def _simplify(prop: dict[str, Any]) -> dict[str, Any]:
    """Flatten pydantic's Optional[X] (anyOf X|null) and drop titles: small models read plain schemas better."""
    prop = {k: v for k, v in prop.items() if k != "title"}
    any_of = prop.pop("anyOf", None)
    if any_of:
        kinds = [p for p in any_of if p.get("type") != "null"]
        if len(kinds) == 1:
            prop = {**{k: v for k, v in kinds[0].items() if k != "title"}, **prop}
        else:
            prop["anyOf"] = kinds
    if prop.get("default") is None:
        prop.pop("default", None)
    return prop


_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^\s*(\w+)(?:\s*\([^)]*\))?:\s*(.+)$")
_SECTION = re.compile(r"^\s*(Returns|Raises|Yields|Examples?|Notes?):\s*$")


def parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {param: description})."""
    doc = inspect.cleandoc(doc or "")
    desc_lines: list[str] = []
    params: dict[str, str] = {}
    in_args = False
    arg_indent: Optional[int] = None
    last: Optional[str] = None
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
    description = " ".join(l.strip() for l in desc_lines if l.strip())
    return description, params


def skill(
    *,
    consequential: bool = False,
    preview: Preview = None,
    sentences: Optional[list[str]] = None,
    name: Optional[str] = None,
    always_confirm: bool = False,
    confirm_if_model: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a function as a skill. `consequential` skills always pass the spoken confirmation.

    `always_confirm` (implies consequential): the skill deletes, undoes, runs a command or
    types into a window, so configuration cannot turn its confirmation off.
    `confirm_if_model`: confirmed only when the language model chose the call.
    """

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        setattr(func, SKILL_ATTR, {
            "consequential": consequential or always_confirm,
            "preview": preview,
            "sentences": tuple(sentences or ()),
            "name": name or func.__name__,
            "always_confirm": always_confirm,
            "confirm_if_model": confirm_if_model,
        })
        return func

    return mark


def build_skill(func: Callable[..., Any]) -> Skill:
    meta = getattr(func, SKILL_ATTR)
    if not func.__doc__ or not func.__doc__.strip():
        raise TypeError(f"skill {func.__qualname__} needs a docstring: it is the tool's description")
    description, param_docs = parse_docstring(func.__doc__)
    hints = get_type_hints(func)
    sig = inspect.signature(func)
    fields: dict[str, Any] = {}
    wants_context = False
    for i, (pname, param) in enumerate(sig.parameters.items()):
        if i == 0 and (hints.get(pname) is SkillContext or pname == "ctx"):
            wants_context = True
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"skill {func.__qualname__}: *args/**kwargs cannot become a tool schema")
        if pname not in hints:
            raise TypeError(f"skill {func.__qualname__}: parameter '{pname}' needs a type annotation")
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[pname] = (hints[pname], default)
    args_model = create_model(  # type: ignore[call-overload]
        f"{meta['name']}_args", __config__=ConfigDict(extra="forbid"), **fields
    )
    return Skill(
        name=meta["name"],
        func=func,
        description=description,
        consequential=bool(meta["consequential"]),
        preview=meta["preview"],
        sentences=meta["sentences"],
        args_model=args_model,
        param_docs=param_docs,
        wants_context=wants_context,
        always_confirm=bool(meta.get("always_confirm", False)),
        confirm_if_model=bool(meta.get("confirm_if_model", False)),
    )


class SkillRegistry:
    """Every skill Hark can run, by name."""

    def __init__(self) -> None:
        self._skills: dict[str, Skill] = {}
        self._start_hooks: list[Callable[[SkillContext], None]] = []
        self.load_errors: list[str] = []

    def add(self, func: Callable[..., Any]) -> Skill:
        s = build_skill(func)
        if s.name in self._skills and self._skills[s.name].func is not func:
            log.warning("skill %s is defined twice; the later one (%s) wins", s.name, func.__module__)
        self._skills[s.name] = s
        return s

    def add_module(self, module: types.ModuleType) -> int:
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
    def default(cls, user_dir: Optional[Path] = None) -> "SkillRegistry":
        reg = cls()
        reg.discover_package("skills")
        if user_dir:
            reg.discover_folder(user_dir)
        return reg

    def get(self, name: str) -> Skill:
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
        return sorted(self._skills)

    def tool_schemas(self) -> list[dict[str, Any]]:
        return [s.tool_schema() for s in self._skills.values()]
