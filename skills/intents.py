"""The template fast path: sentence templates matched before any model is asked.

Every skill's `sentences` become hassil intents.  A `{slot}` is a wildcard
named after the skill parameter it fills; a parameter typed as a `Literal`
of strings becomes a closed list of those words instead, so "what's overdue"
fills `which="overdue"` and nothing else can.  A match counts only if the
skill accepts its arguments; anything else goes to the model.

Speech-to-text slips are forgiven in two narrow places, each only when the
plain text matches nothing: a first word heard as "at"/"and"/"ad" for "add",
and an item starting "by"/"bye" meaning "buy".
"""

from __future__ import annotations

import logging
import re
import typing
from dataclasses import dataclass
from typing import Any, Optional

from skills.registry import Skill, SkillArgumentError, SkillRegistry

log = logging.getLogger("hark.intents")

# Politeness and the assistant's name around a command; stripped by us, not by hassil's
# skip words, which would also cut them out of dictated text in the middle of a sentence.
_LEADING_FILLER = re.compile(
    r"^(?:(?:hey\s+|okay\s+|ok\s+)?hark|okay|ok|please|so|um|uh|can you|could you|would you|will you)\b[\s,]*",
    re.IGNORECASE,
)
_TRAILING_FILLER = re.compile(r"[\s,]+(?:please|thanks|thank you)$", re.IGNORECASE)
_TRAILING_PUNCT = re.compile(r"[\s.!?,;:…]+$")
# tiny.en's habitual mishearings of "add" as the first word.
_ADD_SLIPS = re.compile(r"^(?:at|and|ad|adds|had)\b", re.IGNORECASE)
# Homophones at the start of a dictated item: "add by oat milk" means "buy oat milk".
_ITEM_SLOTS = {"item", "new_text"}
_ITEM_HOMOPHONES = re.compile(r"^(?:by|bye)\b", re.IGNORECASE)


@dataclass(frozen=True)
class IntentMatch:
    name: str                    # the skill to run
    arguments: dict[str, Any]    # only the slots the user actually said
    sentence: str                # the template that matched


def _literal_values(annotation: Any) -> Optional[list[str]]:
    """The strings of `Literal[...]` (also inside Optional), or None."""
    if typing.get_origin(annotation) is typing.Literal:
        values = typing.get_args(annotation)
        return list(values) if all(isinstance(v, str) for v in values) else None
    for arg in typing.get_args(annotation):
        found = _literal_values(arg)
        if found:
            return found
    return None


def normalize_utterance(text: str) -> str:
    """A transcript as templates expect it: plain apostrophes, no filler, no final punctuation."""
    text = text.replace("’", "'").replace("‘", "'")
    text = re.sub(r"\bto-dos?\b", lambda m: m.group(0).replace("-", " "), text, flags=re.IGNORECASE)
    text = re.sub(r"\s+", " ", text).strip()
    text = _TRAILING_PUNCT.sub("", text)
    while True:
        stripped = _TRAILING_PUNCT.sub("", _TRAILING_FILLER.sub("", _LEADING_FILLER.sub("", text)))
        if stripped == text:
            return text
        text = stripped


def _clean_value(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = _TRAILING_PUNCT.sub("", value.strip()).strip(" \"'")
    if name in _ITEM_SLOTS:
        value = _ITEM_HOMOPHONES.sub("buy", value, count=1)
    return value


class IntentMatcher:
    """Matches an utterance to a skill call using the skills' sentence templates."""

    def __init__(self, registry: SkillRegistry) -> None:
        self.registry = registry
        # Templates that could not be used, with the reason (shown by `hark doctor`, logged here).
        self.problems: list[str] = []
        self._intents = self._build()
        # hassil compiles templates lazily on first use; pay that at start, not on the first command.
        self.match("add warm up to my list")

    def _build(self):
        from hassil import Intents, parse_sentence  # heavy-ish import, only when the assistant starts

        intents: dict[str, Any] = {}
        wildcards: set[str] = set()
        for skill in self.registry:
            params = skill.args_model.model_fields
            closed = {p: vals for p, f in params.items() if (vals := _literal_values(f.annotation))}
            templates = []
            for template in skill.sentences:
                try:
                    slots = {ref.slot_name for ref in parse_sentence(template).expression.list_references()}
                except Exception as e:  # a user skill's broken template must not stop the others
                    self._problem(f"{skill.name}: template {template!r} is not valid ({e})")
                    continue
                unknown = slots - set(params)
                if unknown:
                    self._problem(f"{skill.name}: template {template!r} names {sorted(unknown)}, "
                                  f"which are not parameters of the skill")
                    continue
                templates.append(template)
                wildcards |= slots - set(closed)
            if not templates:
                continue
            local_lists = {
                p: {"values": [{"in": v.replace("_", " "), "out": v} for v in vals]} for p, vals in closed.items()
            }
            intents[skill.name] = {"data": [{"sentences": templates, "lists": local_lists}]}
        return Intents.from_dict({
            "language": "en",
            "intents": intents,
            "lists": {name: {"wildcard": True} for name in sorted(wildcards)},
        })

    def _problem(self, message: str) -> None:
        log.warning("%s", message)
        self.problems.append(message)

    def match(self, text: str) -> Optional[IntentMatch]:
        """The best skill call for these words, or None (then the model decides)."""
        normalized = normalize_utterance(text or "")
        if not normalized:
            return None
        found = self._best(normalized)
        if found is None and _ADD_SLIPS.match(normalized):
            found = self._best(_ADD_SLIPS.sub("add", normalized, count=1))
        return found

    def _best(self, text: str) -> Optional[IntentMatch]:
        from hassil import recognize_all

        best: Optional[tuple[tuple[int, int, int], IntentMatch]] = None
        for result in recognize_all(text, self._intents):
            skill: Skill = self.registry.get(result.intent.name)
            arguments = {e.name: _clean_value(e.name, e.value) for e in result.entities_list}
            if any(v == "" for v in arguments.values()):
                continue
            try:
                skill.validate(arguments)
            except SkillArgumentError:
                continue  # the skill would refuse these words; let the model try
            wild = [e for e in result.entities_list if e.is_wildcard]
            # Like hassil's recognize_best: fewest wildcards, most literal words, least wildcard text.
            score = (len(wild), -result.text_chunks_matched, sum(len(e.text or "") for e in wild))
            if best is None or score < best[0]:
                sentence = result.intent_sentence.text if result.intent_sentence else ""
                best = (score, IntentMatch(skill.name, arguments, sentence or ""))
        return best[1] if best else None
