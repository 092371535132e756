"""The template fast path: sentence templates matched before any model is asked.

Two tiers, tried in order:

1. Home Assistant's maintained templates (`skills.ha_intents`: timers, lists,
   time, date, never mind) in the language of the text: Hangul is Korean,
   otherwise the configured `stt.language`, then English.
2. Hark's own templates (the skills' `sentences=`, English, same hassil
   format) for everything Home Assistant has no intent for: status reports,
   notes, reminders, undo, configured commands, and Hark's extra phrasings.

A match is taken only if the skill accepts its arguments.  `run_command`
is taken only when its words name a configured command, so "start the pizza
timer" never runs a command.  Anything else goes to the model.

In Hark's own templates, every skill's `sentences` become hassil intents.  A
`{slot}` is a wildcard named after the skill parameter it fills; a parameter
typed as a `Literal` of strings becomes a closed list of those words instead,
so "what's overdue" fills `which="overdue"` and nothing else can.  A timer's
`{duration}` must be a length and nothing more, so "5 minutes called tea"
leaves "tea" for the template that names the timer.

Speech-to-text slips are forgiven in two narrow places, each only when the
plain text matches nothing: a first word heard as "at"/"and"/"ad" for "add",
and an item starting "by"/"bye" meaning "buy".
"""

from __future__ import annotations

import logging
import re
import typing
from dataclasses import dataclass
from typing import Any

from skills.ha_intents import HaCall, languages_for, load_language, plain_variants, render_reply, to_call
from skills.registry import Skill, SkillArgumentError, SkillContext, SkillError, SkillRegistry
from skills.when import parse_whole_duration

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
# List names every user has: the default list's ("my to do list") and the shopping list.
_LIST_WORDS = ("to do", "todo", "to dos", "todos", "task", "tasks", "shopping")
# Skills whose `duration` slot must be a length and nothing else, so the words after it can name the timer.
_TIMER_LENGTH_SKILLS = {"start_timer", "adjust_timer", "shorten_timer"}
# Homophones at the start of a dictated item: "add by oat milk" means "buy oat milk".
_ITEM_SLOTS = {"item", "new_text"}
_ITEM_HOMOPHONES = re.compile(r"^(?:by|bye)\b", re.IGNORECASE)


@dataclass(frozen=True)
class IntentMatch:
    """A skill call chosen by a template, and whose template it was."""

    name: str  # the skill to run
    arguments: dict[str, Any]  # only the slots the user actually said
    sentence: str  # the template that matched
    language: str = "en"  # whose templates matched
    intent: str = ""  # the Home Assistant intent, or "" for Hark's own templates
    ha_call: HaCall | None = None

    def reply(self, ctx: SkillContext, outcome_text: str, ok: bool, data: Any = None) -> str:
        """What to say after the call.

        The package's reply in the user's language when the call worked and one exists,
        else the skill's own (English) words.
        """
        if ok and self.ha_call is not None and self.language != "en":
            rendered = render_reply(self.language, self.ha_call, ctx, data)
            if rendered is not None:
                return rendered
        return outcome_text


def _literal_values(annotation: Any) -> list[str] | None:
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

    def __init__(
        self, registry: SkillRegistry, ctx: SkillContext | None = None, language: str | None = None, use_ha: bool = True
    ) -> None:
        """Compile the templates: Home Assistant's (English, Korean, the configured language) and the skills' own.

        `ctx` gives the task lists (HA's `{name}`) and the configured commands; `language`
        defaults to the configured `stt.language`.
        """
        self.registry = registry
        self.ctx = ctx
        if language is None and ctx is not None:
            language = getattr(getattr(ctx.config, "stt", None), "language", None)
        self.language = language
        # Templates that could not be used, with the reason (logged here; `hark intents test` prints them).
        self.problems: list[str] = []
        self._intents = self._build()
        # English, Korean (chosen by script) and the configured language, if the package has it.
        wanted = dict.fromkeys(["en", "ko", *languages_for("", language)])
        self._ha_languages = [lang for lang in wanted if use_ha and load_language(lang) is not None]
        # hassil compiles templates lazily on first use; pay that at start, not on the first command.
        self.match("add warm up to my list")
        for warm in ("nothing matches these warm up words", "5분짜리 타이머 맞춰줘"):
            self.match(warm)

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
                    expression: Any = parse_sentence(template).expression  # a Sentence: it has list_references
                    slots = {ref.slot_name for ref in expression.list_references()}
                except Exception as e:  # a user skill's broken template must not stop the others
                    self._problem(f"{skill.name}: template {template!r} is not valid ({e})")
                    continue
                unknown = slots - set(params)
                if unknown:
                    self._problem(
                        f"{skill.name}: template {template!r} names {sorted(unknown)}, "
                        f"which are not parameters of the skill"
                    )
                    continue
                templates.append(template)
                wildcards |= slots - set(closed)
            if not templates:
                continue
            local_lists = {
                p: {"values": [{"in": v.replace("_", " "), "out": v} for v in vals]} for p, vals in closed.items()
            }
            intents[skill.name] = {"data": [{"sentences": templates, "lists": local_lists}]}
        return Intents.from_dict(
            {
                "language": "en",
                "intents": intents,
                "lists": {name: {"wildcard": True} for name in sorted(wildcards)},
            }
        )

    def _problem(self, message: str) -> None:
        log.warning("%s", message)
        self.problems.append(message)

    def match(self, text: str) -> IntentMatch | None:
        """The best skill call for these words, or None (then the model decides)."""
        normalized = normalize_utterance(text or "")
        if not normalized:
            return None
        found = self._tiers(normalized)
        if found is None and _ADD_SLIPS.match(normalized):
            found = self._tiers(_ADD_SLIPS.sub("add", normalized, count=1))
        return found

    def _tiers(self, text: str) -> IntentMatch | None:
        found = self._ha_best(text)
        if found is not None and found.ha_call is not None and found.ha_call.response_key == "command":
            # "{command} in 10 minutes": when Hark's own templates know the whole sentence ("remind me to
            # call mom in 10 minutes", "set a reminder to ..."), that is the better reading.
            return self._best(text) or found
        return found or self._best(text)

    # ---- tier 1: Home Assistant's templates

    def _list_names(self) -> tuple[tuple[str, ...], frozenset[str]]:
        """(names `{name}` may be, the words that mean the default list)."""
        from skills.store import DEFAULT_LIST, TaskStore, normalize_list_name

        names = set(_LIST_WORDS)
        default = DEFAULT_LIST
        # Only an existing task database is read: matching a sentence never creates one.
        if self.ctx is not None and (self.ctx.data_dir / "hark.db").exists():
            try:
                store = TaskStore.for_context(self.ctx)
                names |= set(store.lists())
                default = store.default_list
            except Exception as e:  # an unreadable database: the fixed names still work
                log.debug("task lists unavailable for templates: %s", e)
        default_words = frozenset(n for n in names if normalize_list_name(n, default) == default)
        return tuple(sorted(names)), default_words

    def _ha_best(self, text: str) -> IntentMatch | None:
        languages = [lang for lang in languages_for(text, self.language) if lang in self._ha_languages]
        if not languages:
            return None
        list_names, default_words = self._list_names()
        for language in languages:
            for variant in [text, *plain_variants(text, language)]:
                found = self._ha_in(language, variant, list_names, default_words)
                if found is not None:
                    return found
        return None

    def _ha_in(
        self, language: str, text: str, list_names: tuple[str, ...], default_words: frozenset[str]
    ) -> IntentMatch | None:
        ha = load_language(language)
        assert ha is not None
        best: tuple[tuple[int, int, int], IntentMatch] | None = None
        for result in ha.recognize(text, list_names):
            call = to_call(result, text, default_words)
            if call is None or call.skill not in self.registry:
                continue
            arguments = {k: _clean_value(k, v) for k, v in call.arguments.items()}
            try:
                self.registry.get(call.skill).validate(arguments)
            except SkillArgumentError:
                continue
            wild = [e for e in result.entities_list if e.is_wildcard]
            score = (len(wild), -result.text_chunks_matched, sum(len(e.text or "") for e in wild))
            if best is None or score < best[0]:
                sentence = result.intent_sentence.text if result.intent_sentence else ""
                best = (score, IntentMatch(call.skill, arguments, sentence or "", language, result.intent.name, call))
        if best is None:
            return None
        area = best[1].ha_call.slots.get("area") if best[1].ha_call else None
        if area and self._is_timer_name(str(area)):
            return self._named_instead(best[1], str(area))  # "the kitchen timer" when a timer is named kitchen
        return best[1]

    def _is_timer_name(self, word: str) -> bool:
        """A room word that is also the name of one of the user's timers (read only if timers exist)."""
        if self.ctx is None or not (self.ctx.data_dir / "timers.db").exists():
            return False
        from skills.timer_store import TIMER
        from skills.timer_words import clean_timer_name
        from skills.timers import service_for

        wanted = clean_timer_name(word)
        return any(clean_timer_name(t.name) == wanted for t in service_for(self.ctx).active(TIMER) if t.name)

    def _named_instead(self, found: IntentMatch, name: str) -> IntentMatch:
        """The same call, acting on the timer named like the room word."""
        arguments = {**found.arguments, "name": name}
        try:
            self.registry.get(found.name).validate(arguments)
        except SkillArgumentError:
            return found
        return IntentMatch(found.name, arguments, found.sentence, found.language, found.intent, found.ha_call)

    def _names_a_command(self, arguments: dict[str, Any]) -> bool:
        """run_command only for a configured command: "start the pizza timer" is not one."""
        if self.ctx is None:
            return not re.search(r"\btimers?\b", str(arguments.get("name", "")), re.IGNORECASE)
        from skills.commands import resolve_command_name

        try:
            resolve_command_name(str(arguments.get("name", "")), dict(self.ctx.config.skills.commands or {}))
        except SkillError:
            return False
        return True

    # ---- tier 2: Hark's own templates

    def _best(self, text: str) -> IntentMatch | None:
        from hassil import recognize_all

        best: tuple[tuple[int, int, int], IntentMatch] | None = None
        for result in recognize_all(text, self._intents):
            skill: Skill = self.registry.get(result.intent.name)
            arguments = {e.name: _clean_value(e.name, e.value) for e in result.entities_list}
            if any(v == "" for v in arguments.values()):
                continue
            try:
                skill.validate(arguments)
            except SkillArgumentError:
                continue  # the skill would refuse these words; let the model try
            if skill.name == "run_command" and not self._names_a_command(arguments):
                continue
            if skill.name in _TIMER_LENGTH_SKILLS and parse_whole_duration(str(arguments.get("duration", ""))) is None:
                continue  # "{duration}" swallowed more than a length ("5 minutes called tea"): a longer template fits
            wild = [e for e in result.entities_list if e.is_wildcard]
            # Like hassil's recognize_best: fewest wildcards, most literal words, least wildcard text.
            score = (len(wild), -result.text_chunks_matched, sum(len(e.text or "") for e in wild))
            if best is None or score < best[0]:
                sentence = result.intent_sentence.text if result.intent_sentence else ""
                best = (score, IntentMatch(skill.name, arguments, sentence or ""))
        return best[1] if best else None
