"""The confirmation gate: the single place where any skill runs.

Whoever chose the call (a sentence template, the language model or the user
at the keyboard), a consequential skill runs only after Hark has spoken what
it will do and heard an explicit yes.  Silence, "no" and anything unclear
cancel; one re-ask is allowed for an unclear answer.  Nothing the model says
can skip this: the check is on the registry's flags, in code, right before
the call.

What is confirmed is what runs: the skill's preview returns a `Plan` (exact
task ids, a journal entry, a count), the gate hands the confirmed plan to the
skill as `ctx.plan`, and a skill whose target changed meanwhile raises
`StateChanged` and changes nothing.

Every action that changes something is audited in `audit.jsonl` twice, each
line fsynced: an `intent` entry before it runs (no entry, no action) and an
`outcome` entry after.  The outcome line keeps every field of the older
single-line format (time, skill, arguments, transcript, confirmation,
chosen_by), so readers of the old log keep working.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from skills import confirm
from skills import events as ev
from skills.confirm import Verdict, classify_answer
from skills.events import EventSink
from skills.registry import Plan, Skill, SkillContext, SkillError, SkillRegistry, StateChanged
from skills.settings import ConfigError

log = logging.getLogger("hark.gate")

# Speak the question, wait until it has finished playing, then listen.
# Returns the user's answer as text, or None for silence / timeout.
AskFn = Callable[[str], str | None]

_WHY_CANCELLED = {Verdict.SILENCE: "no answer", Verdict.NO: "you said no", Verdict.UNCLEAR: "the answer was unclear"}


class AuditError(Exception):
    """The audit log cannot be written (the message is speakable)."""


@dataclass(frozen=True)
class ActionOutcome:
    """What came of one call through the gate: whether it ran, what to say, and how it was confirmed."""

    name: str
    arguments: dict[str, Any]
    ok: bool
    text: str  # what to tell the user (speakable)
    executed: bool  # the skill function actually ran and changed what it said
    # "spoken yes: ...", "not required by config", "chosen by a template", "not consequential"
    confirmation: str | None
    data: Any = None


def check_not_required(names: Iterable[str], registry: SkillRegistry) -> set[str]:
    """Validate `confirm.not_required_for` against the loaded skills; raise ConfigError naming the key.

    A skill that deletes, undoes, runs a command or types into a window
    (`always_confirm`) can never be waived, and a name no skill has is a typo
    that would otherwise silently waive nothing.
    """
    names = list(names)
    for name in names:
        if name not in registry:
            allowed = sorted(s.name for s in registry if s.consequential and not s.always_confirm)
            raise ConfigError(
                f"confirm.not_required_for: no skill called '{name}' (skills that ask first and may be named "
                f"here: {', '.join(allowed) or 'none'})."
            )
        skill = registry.get(name)
        if skill.always_confirm:
            raise ConfigError(
                f"confirm.not_required_for: '{name}' {_what_it_does(skill)}, so it is always confirmed; remove it."
            )
    return set(names)


def _what_it_does(skill: Skill) -> str:
    """'Delete one task (done or not) from its list.' -> 'deletes one task' (for the config error)."""
    first = re.split(r"\.\s|[;:(]", skill.description + " ", maxsplit=1)[0].strip(" .,")
    if not first:
        return "changes something that can't be taken back"
    verb, _, rest = first.partition(" ")
    verb = verb.lower()
    if verb.endswith(("s", "sh", "ch", "x", "o")):
        verb += "es"
    elif verb.endswith("y") and verb[-2:-1] not in "aeiou":
        verb = verb[:-1] + "ies"
    else:
        verb += "s"
    return f"{verb} {rest}".strip()


class ConfirmationGate:
    """Runs skills, asking first for every consequential one (see the module docstring)."""

    def __init__(
        self,
        registry: SkillRegistry,
        ctx: SkillContext,
        events: EventSink,
        ask: AskFn,
        audit_path: Path,
        *,
        not_required: set[str] | frozenset[str] = frozenset(),
        reask_on_unclear: bool = True,
        set_state: Callable[[str], None] = lambda state: None,
    ) -> None:
        self.registry = registry
        self.ctx = ctx
        self.events = events
        self.ask = ask
        self.audit_path = Path(audit_path)
        self.not_required = check_not_required(not_required, registry)
        self.reask_on_unclear = reask_on_unclear
        self.set_state = set_state
        self._lock = threading.Lock()  # one action at a time (timers fire from another thread)

    def execute(self, name: str, arguments: Any, *, transcript: str = "", source: str = "model") -> ActionOutcome:
        """Run one skill call through the gate (one call at a time); never raises for a skill's failure."""
        with self._lock:
            return self._execute(name, arguments, transcript, source)

    def _needs_question(self, skill: Skill, source: str) -> str | None:
        """None if the user must say yes first, else why not (recorded as the confirmation)."""
        if skill.consequential:
            # always_confirm is checked here too, not only in config: a gate built around
            # check_not_required still never waives a delete.
            if skill.name in self.not_required and not skill.always_confirm:
                return "not required by config"
            return None
        if skill.confirm_if_model:
            return None if source == "model" else f"chosen by {'a template' if source == 'template' else source}"
        return "not consequential"

    def _execute(self, name: str, arguments: Any, transcript: str, source: str) -> ActionOutcome:
        self.events.emit(ev.TOOL_CALL, name=name, arguments=arguments, source=source)
        try:
            skill = self.registry.get(name)
            args = skill.validate(arguments)
        except SkillError as e:
            self.events.emit(ev.ERROR, stage="skill", message=str(e))
            return ActionOutcome(name, arguments if isinstance(arguments, dict) else {}, False, str(e), False, None)

        self.ctx.transcript = transcript
        self.ctx.source = source
        changes = skill.consequential or skill.confirm_if_model
        waived = self._needs_question(skill, source)
        confirmation = waived or ""
        plan: Plan | None = None
        if changes:
            # The plan is built even when no question is asked, so the skill always executes one.
            try:
                plan = skill.describe_action(self.ctx, args)
            except SkillError as e:
                self.events.emit(ev.ACTION_RESULT, name=name, ok=False, text=str(e))
                return ActionOutcome(name, args, False, str(e), False, None)
        if waived is None:
            assert plan is not None
            verdict, answer = self._confirm(plan.text)
            if verdict is not Verdict.YES:
                reason = _WHY_CANCELLED[verdict]
                self.events.emit(ev.CANCELLED, name=name, reason=reason, answer=answer)
                return ActionOutcome(name, args, False, "Okay, I won't.", False, None)
            self.events.emit(ev.CONFIRMED, name=name, answer=answer)
            confirmation = f"spoken yes: {answer!r}"

        entry_id: str | None = None
        if changes:
            entry_id = uuid.uuid4().hex[:16]
            try:
                self._append(
                    {
                        **self._record(name, args, transcript, confirmation, source),
                        "phase": "intent",
                        "id": entry_id,
                        "plan": plan.text if plan else None,
                    }
                )
            except AuditError as e:
                text = f"{e}, so I did nothing."
                self.events.emit(ev.ERROR, stage="audit", message=text)
                self.events.emit(ev.ACTION_RESULT, name=name, ok=False, text=text)
                return ActionOutcome(name, args, False, text, False, confirmation)

        self.set_state("acting")
        self.ctx.plan = plan
        try:
            result = skill.run(self.ctx, args)
        except StateChanged as e:  # the confirmed target moved: the skill changed nothing
            outcome = ActionOutcome(name, args, False, str(e), False, confirmation)
        except SkillError as e:
            outcome = ActionOutcome(name, args, False, str(e), True, confirmation)
        except Exception as e:  # a bug in a skill must not end the loop
            log.exception("skill %s failed", name)
            text = f"Sorry, {skill.spoken_name} failed: {e}"
            self.events.emit(ev.ERROR, stage="skill", message=text)
            outcome = ActionOutcome(name, args, False, text, True, confirmation)
        else:
            outcome = ActionOutcome(name, args, True, result.text, True, confirmation, result.data)
        finally:
            self.ctx.plan = None
        if entry_id is not None:
            try:
                self._append(
                    {
                        **self._record(name, args, transcript, confirmation, source),
                        "phase": "outcome",
                        "id": entry_id,
                        "ok": outcome.ok,
                        "executed": outcome.executed,
                        "text": outcome.text,
                    }
                )
            except AuditError as e:  # the action already ran: say so in the log, keep its result
                self.events.emit(ev.ERROR, stage="audit", message=f"{e}; the outcome of {name} is not recorded")
        self.events.emit(ev.ACTION_RESULT, name=name, ok=outcome.ok, text=outcome.text)
        return outcome

    def _confirm(self, preview: str) -> tuple[Verdict, str | None]:
        question = confirm.question(preview)
        tries = 2 if self.reask_on_unclear else 1
        answer: str | None = None
        verdict = Verdict.SILENCE
        for _ in range(tries):
            self.set_state("confirming")
            self.events.emit(ev.CONFIRM_REQUEST, text=question)
            answer = self.ask(question)
            verdict = classify_answer(answer)
            self.events.emit(ev.CONFIRM_ANSWER, text=answer or "", verdict=verdict.value)
            if verdict is not Verdict.UNCLEAR:
                break
            question = confirm.reask(preview)
        return verdict, answer

    @staticmethod
    def _record(name: str, args: dict[str, Any], transcript: str, confirmation: str, source: str) -> dict[str, Any]:
        return {
            "time": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
            "skill": name,
            "arguments": args,
            "transcript": transcript,
            "confirmation": confirmation,
            "chosen_by": source,
        }

    def _append(self, record: dict[str, Any]) -> None:
        append_audit(self.audit_path, record)


def append_audit(path: Path, record: dict[str, Any]) -> None:
    """Append one line and fsync it (and the folder when the file is new): on disk before we go on.

    The one audit writer: the gate, and changes typed at the keyboard (`hark tasks`, `hark timers`).
    """
    line = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if new:
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    except OSError as e:
        raise AuditError(f"I can't write the audit log at {path} ({e.strerror or e})") from e
