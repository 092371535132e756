"""The confirmation gate: the single place where any skill runs.

Whoever chose the call (a sentence template or the language model), a
consequential skill runs only after Hark has spoken what it will do and
heard an explicit yes.  Silence, "no" and anything unclear cancel; one
re-ask is allowed for an unclear answer.  Nothing the model says can skip
this: the check is on the registry's flag, in code, right before the call.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from skills.confirm import Verdict, classify_answer
from skills.registry import SkillContext, SkillError, SkillRegistry
from voice import events as ev
from voice.events import EventBus

log = logging.getLogger("hark.gate")

# Speak the question, wait until it has finished playing, then listen.
# Returns the user's answer as text, or None for silence / timeout.
AskFn = Callable[[str], Optional[str]]


@dataclass(frozen=True)
class ActionOutcome:
    name: str
    arguments: dict[str, Any]
    ok: bool
    text: str                     # what to tell the user (speakable)
    executed: bool                # the skill function actually ran
    confirmation: Optional[str]   # "spoken yes", "not required by config", "not consequential"
    data: Any = None


class ConfirmationGate:
    def __init__(
        self,
        registry: SkillRegistry,
        ctx: SkillContext,
        events: EventBus,
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
        self.not_required = set(not_required)
        self.reask_on_unclear = reask_on_unclear
        self.set_state = set_state
        self._lock = threading.Lock()  # one action at a time (timers fire from another thread)

    def execute(self, name: str, arguments: Any, *, transcript: str = "", source: str = "model") -> ActionOutcome:
        with self._lock:
            return self._execute(name, arguments, transcript, source)

    def _execute(self, name: str, arguments: Any, transcript: str, source: str) -> ActionOutcome:
        self.events.emit(ev.TOOL_CALL, name=name, arguments=arguments, source=source)
        try:
            skill = self.registry.get(name)
            args = skill.validate(arguments)
        except SkillError as e:
            self.events.emit(ev.ERROR, stage="skill", message=str(e))
            return ActionOutcome(name, arguments if isinstance(arguments, dict) else {}, False, str(e), False, None)

        self.ctx.transcript = transcript
        confirmation = "not consequential"
        if skill.consequential:
            if name in self.not_required:
                confirmation = "not required by config"
            else:
                try:
                    preview = skill.describe_action(self.ctx, args)
                except SkillError as e:
                    self.events.emit(ev.ACTION_RESULT, name=name, ok=False, text=str(e))
                    return ActionOutcome(name, args, False, str(e), False, None)
                verdict, answer = self._confirm(preview)
                if verdict is not Verdict.YES:
                    reason = {"silence": "no answer", "no": "you said no", "unclear": "the answer was unclear"}[verdict.value]
                    self.events.emit(ev.CANCELLED, name=name, reason=reason, answer=answer)
                    return ActionOutcome(name, args, False, "Okay, I won't.", False, None)
                self.events.emit(ev.CONFIRMED, name=name, answer=answer)
                confirmation = f"spoken yes: {answer!r}"

        self.set_state("acting")
        try:
            result = skill.run(self.ctx, args)
        except SkillError as e:
            self.events.emit(ev.ACTION_RESULT, name=name, ok=False, text=str(e))
            return ActionOutcome(name, args, False, str(e), True, confirmation)
        except Exception as e:  # a bug in a skill must not end the loop
            log.exception("skill %s failed", name)
            text = f"Sorry, {skill.spoken_name} failed: {e}"
            self.events.emit(ev.ERROR, stage="skill", message=text)
            self.events.emit(ev.ACTION_RESULT, name=name, ok=False, text=text)
            return ActionOutcome(name, args, False, text, True, confirmation)
        if skill.consequential:
            self._audit(name, args, transcript, confirmation, source)
        self.events.emit(ev.ACTION_RESULT, name=name, ok=True, text=result.text)
        return ActionOutcome(name, args, True, result.text, True, confirmation, result.data)

    def _confirm(self, preview: str) -> tuple[Verdict, Optional[str]]:
        question = preview.rstrip(" .") + ". Shall I go ahead?"
        tries = 2 if self.reask_on_unclear else 1
        answer: Optional[str] = None
        verdict = Verdict.SILENCE
        for attempt in range(tries):
            self.set_state("confirming")
            self.events.emit(ev.CONFIRM_REQUEST, text=question)
            answer = self.ask(question)
            verdict = classify_answer(answer)
            self.events.emit(ev.CONFIRM_ANSWER, text=answer or "", verdict=verdict.value)
            if verdict is not Verdict.UNCLEAR:
                break
            question = "Sorry, I didn't catch that. Please say yes or no: " + preview.rstrip(" .") + "?"
        return verdict, answer

    def _audit(self, name: str, args: dict[str, Any], transcript: str, confirmation: str, source: str) -> None:
        record = {
            "time": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
            "skill": name,
            "arguments": args,
            "transcript": transcript,
            "confirmation": confirmation,
            "chosen_by": source,
        }
        try:
            self.audit_path.parent.mkdir(parents=True, exist_ok=True)
            with self.audit_path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        except OSError as e:
            self.events.emit(ev.ERROR, stage="audit", message=f"could not write the audit log {self.audit_path}: {e}")
