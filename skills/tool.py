"""A typed, documented Python function becomes a tool: `@skill` and the `Skill` it builds.

    @skill(consequential=True, preview=lambda ctx, list_name=None: "I'll delete ...")
    def clear_tasks(ctx: SkillContext, list_name: str | None = None) -> str:
        \"\"\"Delete every task in a list (an `Args:` section documents `list_name`).\"\"\"

`build_skill` derives the JSON schema offered to the model from the signature
and docstring, validates the model's arguments with pydantic (a wrong or
missing argument becomes a `SkillArgumentError` with a speakable message),
and records whether the skill is consequential.  Running skills is not done
here: every call goes through `skills.gate.ConfirmationGate`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from skills.context import Plan, SkillArgumentError, SkillContext, SkillError, SkillResult
from skills.docstrings import parse_docstring

log = logging.getLogger("hark.skills")

SKILL_ATTR = "__hark_skill__"

Preview = str | Callable[..., str | Plan] | None


@dataclass
class Skill:
    """One skill: the function, its tool schema and the flags the gate checks."""

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
                f"The arguments for {self.spoken_name} were not understood "
                f"(expected named values, got {type(arguments).__name__})."
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
        """The skill's name as said: 'add_task' -> 'add task'."""
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


def skill(
    *,
    consequential: bool = False,
    preview: Preview = None,
    sentences: list[str] | None = None,
    name: str | None = None,
    always_confirm: bool = False,
    confirm_if_model: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a function as a skill. `consequential` skills always pass the spoken confirmation.

    `always_confirm` (implies consequential): the skill deletes, undoes, runs a command or
    types into a window, so configuration cannot turn its confirmation off.
    `confirm_if_model`: confirmed only when the language model chose the call.
    """

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        setattr(
            func,
            SKILL_ATTR,
            {
                "consequential": consequential or always_confirm,
                "preview": preview,
                "sentences": tuple(sentences or ()),
                "name": name or func.__name__,
                "always_confirm": always_confirm,
                "confirm_if_model": confirm_if_model,
            },
        )
        return func

    return mark


def build_skill(func: Callable[..., Any]) -> Skill:
    """Turn a function marked with `@skill` into a `Skill` (its schema from the signature and docstring)."""
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
    args_model = create_model(f"{meta['name']}_args", __config__=ConfigDict(extra="forbid"), **fields)
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
