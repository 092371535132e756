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
chosen_by), so readers of the old log keep working.  A cancelled call ran
nothing and writes nothing there (its CANCELLED event says why).

The question is a state of the dialogue, not a call that blocks it:
`begin()` validates, builds the plan and either runs the call (nothing to
ask) or announces the question and returns a `PendingAction`; `answer()`
takes whatever came next (the user's words, or None for silence, a timeout
or a barge-in that was no answer) and runs, re-asks once or cancels;
`cancel()` drops the question when the dialogue moves on.  `execute()` is
the same steps with `ask` in between, for one-shot commands.

Locking: a lock makes each step atomic (timers fire from another thread),
but it is not held while a question waits, so other calls may run between
`begin()` and `answer()`.  That is safe because of the plan: the skill
executes the plan it read back or raises `StateChanged` if its target has
moved meanwhile, and `answer()` settles each `PendingAction` once only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class PendingAction:
    """A question the gate has asked and is waiting on: the dialogue's 'confirming' state.

    Returned by `ConfirmationGate.begin` (and by `answer` for the one re-ask); hand it back to
    `answer` or `cancel`.  Only the gate makes these, and each settles once: a copy, a forged one
    or one already answered or cancelled runs nothing.
    """

    name: str
    arguments: dict[str, Any]  # validated
    plan: Plan  # what will run on a yes, exactly (the preview was built from it)
    question: str  # what to say now
    transcript: str
    source: str
    attempt: int = 1  # 1 for the question, 2 for the re-ask after an unclear answer
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])


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
        # One step at a time (timers fire from another thread); never held while a question waits.
        self._lock = threading.Lock()
        self._open: dict[str, PendingAction] = {}  # questions asked and not yet settled, by id

    # ------------------------------------------------------------ one call, blocking

    def execute(self, name: str, arguments: Any, *, transcript: str = "", source: str = "model") -> ActionOutcome:
        """Run one skill call through the gate, asking with `self.ask`; never raises for a skill's failure."""
        step = self.begin(name, arguments, transcript=transcript, source=source)
        while isinstance(step, PendingAction):
            try:
                reply = self.ask(step.question)
            except BaseException:  # the question itself failed (Ctrl-C, audio gone): it is dropped
                self.cancel(step, "the question was interrupted")
                raise
            step = self.answer(step, reply)
        return step

    # ------------------------------------------------------------ one call, step by step

    def begin(
        self, name: str, arguments: Any, *, transcript: str = "", source: str = "model"
    ) -> ActionOutcome | PendingAction:
        """Validate and plan a call; run it now if no question is needed, else ask (CONFIRM_REQUEST).

        A `PendingAction` means the question has been announced: speak `pending.question`, then
        pass what the user said to `answer`, or drop it with `cancel`.
        """
        with self._lock:
            self.events.emit(ev.ToolCall(skill=name, arguments=arguments, source=source))
            try:
                skill = self.registry.get(name)
                args = skill.validate(arguments)
            except SkillError as e:
                self.events.emit(ev.Error(stage="skill", message=str(e)))
                return ActionOutcome(name, arguments if isinstance(arguments, dict) else {}, False, str(e), False, None)

            self.ctx.transcript = transcript
            self.ctx.source = source
            waived = self._needs_question(skill, source)
            plan: Plan | None = None
            if skill.consequential or skill.confirm_if_model:
                # The plan is built even when no question is asked, so the skill always executes one.
                try:
                    plan = skill.describe_action(self.ctx, args)
                except SkillError as e:
                    self.events.emit(ev.ActionResult(skill=name, ok=False, text=str(e)))
                    return ActionOutcome(name, args, False, str(e), False, None)
            if waived is not None:
                return self._run(skill, args, plan, transcript, source, waived)
            assert plan is not None  # a question is only needed for a call that changes something
            pending = PendingAction(name, args, plan, confirm.question(plan.text), transcript, source)
            return self._ask_step(pending)

    def answer(self, pending: PendingAction, text: str | None) -> ActionOutcome | PendingAction:
        """The user's answer to `pending` (None: silence, a timeout, or a barge-in that was no answer).

        Strict yes runs the confirmed plan; no and silence cancel; an unclear answer is re-asked
        once (a new `PendingAction`), then cancels.
        """
        with self._lock:
            if not self._settle(pending):
                return self._stale(pending)
            verdict = classify_answer(text)
            self.events.emit(ev.ConfirmAnswer(text=text or "", verdict=verdict.value))
            tries = 2 if self.reask_on_unclear else 1
            if verdict is Verdict.UNCLEAR and pending.attempt < tries:
                again = PendingAction(
                    pending.name,
                    pending.arguments,
                    pending.plan,
                    confirm.reask(pending.plan.text),
                    pending.transcript,
                    pending.source,
                    pending.attempt + 1,
                )
                return self._ask_step(again)
            if verdict is not Verdict.YES:
                return self._cancelled(pending, _WHY_CANCELLED[verdict], text)
            self.events.emit(ev.Confirmed(skill=pending.name, answer=text or ""))
            try:
                skill = self.registry.get(pending.name)
            except SkillError as e:  # the skill went away while asking (a reload): nothing runs
                self.events.emit(ev.ActionResult(skill=pending.name, ok=False, text=str(e)))
                return ActionOutcome(pending.name, pending.arguments, False, str(e), False, None)
            # Another call may have run while the user was answering: this call's words, not its.
            self.ctx.transcript = pending.transcript
            self.ctx.source = pending.source
            confirmation = f"spoken yes: {text!r}"
            return self._run(skill, pending.arguments, pending.plan, pending.transcript, pending.source, confirmation)

    def cancel(self, pending: PendingAction, reason: str) -> ActionOutcome:
        """The dialogue dropped the question (a new instruction, shutdown): CANCELLED, nothing runs.

        Cancelling a question that is already settled does nothing more (and emits nothing).
        """
        with self._lock:
            if not self._settle(pending):
                return ActionOutcome(pending.name, pending.arguments, False, "Okay, I won't.", False, None)
            return self._cancelled(pending, reason, None)

    def open_questions(self) -> list[PendingAction]:
        """The questions asked and not yet answered or cancelled (oldest first)."""
        with self._lock:
            return list(self._open.values())

    # ------------------------------------------------------------ the steps' parts (lock held)

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

    def _ask_step(self, pending: PendingAction) -> PendingAction:
        self._open[pending.id] = pending
        self.set_state("confirming")
        self.events.emit(ev.ConfirmRequest(text=pending.question))
        return pending

    def _settle(self, pending: PendingAction) -> bool:
        """Close `pending`; False if the gate did not ask it or it is already settled (runs nothing)."""
        if self._open.get(pending.id) is not pending:
            return False
        del self._open[pending.id]
        return True

    def _stale(self, pending: PendingAction) -> ActionOutcome:
        log.warning("an answer came for a question that is no longer open (%s); nothing runs", pending.name)
        text = "That question was already settled, so I did nothing."
        return ActionOutcome(pending.name, pending.arguments, False, text, False, None)

    def _cancelled(self, pending: PendingAction, reason: str, answer: str | None) -> ActionOutcome:
        self.events.emit(ev.Cancelled(skill=pending.name, reason=reason, answer=answer))
        return ActionOutcome(pending.name, pending.arguments, False, "Okay, I won't.", False, None)

    def _run(
        self,
        skill: Skill,
        args: dict[str, Any],
        plan: Plan | None,
        transcript: str,
        source: str,
        confirmation: str,
    ) -> ActionOutcome:
        """Audit the intent, run the skill with the confirmed plan, audit the outcome."""
        name = skill.name
        entry_id: str | None = None
        if skill.consequential or skill.confirm_if_model:
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
                self.events.emit(ev.Error(stage="audit", message=text))
                self.events.emit(ev.ActionResult(skill=name, ok=False, text=text))
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
            self.events.emit(ev.Error(stage="skill", message=text))
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
                self.events.emit(ev.Error(stage="audit", message=f"{e}; the outcome of {name} is not recorded"))
        self.events.emit(ev.ActionResult(skill=name, ok=outcome.ok, text=outcome.text))
        return outcome

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
