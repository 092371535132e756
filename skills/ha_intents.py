"""Home Assistant's sentence data (`home-assistant-intents`) mapped onto Hark's skills.

The package ships hassil templates and reply templates, maintained by Home
Assistant for many languages.  Hark loads ONLY the intents in
`INTENT_SKILLS` (with every intent loaded, generic ones such as "turn on
{name}" swallow timer sentences) and turns each match into one skill call:

    HassStartTimer(minutes=5, name="pizza") -> start_timer(duration="5 minutes", name="pizza")

Slot lists the templates expect are supplied here: `{name}` is a task list
name from the task store (HA's to-do lists), `{area}`/`{floor}` are common
room words that are accepted and ignored (Hark has no rooms; "stop the timer
in the kitchen" stops the timer).  A delayed command ("in 5 minutes, open the
garage door") becomes a reminder: Hark says it will remind you, never that it
will do it.

Languages: Hangul text is Korean; otherwise the configured language, then
English.  For a language other than English the reply is the package's
response template for the intent (Jinja, rendered here) when one exists and
the skill succeeded; English replies stay Hark's own, which say more.  Which
voice speaks a reply (or prints it, with a note, when the language has no
voice) is `voice.wyoming_tts.LanguageVoices`' business, not this module's.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from skills.registry import SkillContext, SkillResult, skill

log = logging.getLogger("hark.ha_intents")

# The intents Hark handles, and the skill each becomes.
INTENT_SKILLS: dict[str, str] = {
    "HassStartTimer": "start_timer",
    "HassTimerStatus": "time_left",
    "HassCancelTimer": "cancel_timer",
    "HassCancelAllTimers": "cancel_all_timers",
    "HassIncreaseTimer": "adjust_timer",
    "HassDecreaseTimer": "shorten_timer",
    "HassPauseTimer": "pause_timer",
    "HassUnpauseTimer": "resume_timer",
    "HassListAddItem": "add_task",
    "HassShoppingListAddItem": "add_task",
    "HassListCompleteItem": "complete_task",
    "HassShoppingListCompleteItem": "complete_task",
    "HassListRemoveItem": "delete_task",
    "HassGetCurrentTime": "current_time",
    "HassGetCurrentDate": "current_date",
    "HassNevermind": "never_mind",
}

# Room and floor words HA's templates accept; Hark has no rooms, so they are matched and dropped.
AREAS = {
    "en": [
        "kitchen",
        "living room",
        "lounge",
        "bedroom",
        "master bedroom",
        "guest room",
        "kids room",
        "office",
        "study",
        "garage",
        "bathroom",
        "dining room",
        "hallway",
        "hall",
        "basement",
        "attic",
        "garden",
        "patio",
        "laundry room",
        "den",
        "nursery",
        "porch",
        "workshop",
    ],
    "ko": [
        "주방",
        "부엌",
        "거실",
        "침실",
        "안방",
        "작은방",
        "서재",
        "사무실",
        "차고",
        "욕실",
        "화장실",
        "현관",
        "베란다",
        "다용도실",
    ],
}
FLOORS = {
    "en": ["upstairs", "downstairs", "ground floor", "first floor", "second floor", "top floor"],
    "ko": ["1층", "2층", "3층", "지하"],
}
# The shopping list's name in Hark's task store (HassShoppingList* intents).
SHOPPING_LIST = "shopping"

# Words a delayed command needs, per language (others always try those templates).
_DELAYED_GUARD = {"en": re.compile(r"\b(?:in|after)\b", re.IGNORECASE)}
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
# "in 10 minutes remind me to stretch": the delayed "command" is itself a reminder request.
_REMIND_ME = re.compile(r"^(?:please\s+)?(?:remind|tell)\s+me\s+(?:to|that|about)\s+", re.IGNORECASE)
_REMOVE_VERB = re.compile(r"^\s*(?:delete|remove)\b", re.IGNORECASE)
_SHOPPING_WORD = re.compile(r"\bshopping\b|쇼핑", re.IGNORECASE)


def script_language(text: str) -> str | None:
    """The language the script of `text` shows ("ko" for Hangul), or None for Latin script."""
    return "ko" if _HANGUL.search(text or "") else None


def languages_for(text: str, configured: str | None) -> list[str]:
    """Which languages' templates to try, best first: the script's, the configured one, English."""
    order = [script_language(text), _base_language(configured), "en"]
    out: list[str] = []
    for lang in order:
        if lang and lang not in out and lang in available_languages():
            out.append(lang)
    if script_language(text):  # Hangul never matches English templates: don't spend the time
        out = out[:1]
    return out


# Korean request endings the templates spell only some of: "설정해줘" / "추가해주세요" -> "설정해" / "추가해".
_KO_POLITE_END = re.compile(r"(?:\s*(?:줘|주세요|줄래|주실래요|줄래요))$")


def plain_variants(text: str, language: str) -> list[str]:
    """Other spellings of the same request to try when the text as said matches nothing."""
    if language == "ko":
        plain = _KO_POLITE_END.sub("", text).strip()
        if plain and plain != text:
            return [plain]
    return []


def _base_language(configured: str | None) -> str | None:
    if not configured or configured in ("auto", "detect"):
        return None
    return configured.split("-")[0].split("_")[0].lower()


@functools.cache
def available_languages() -> frozenset[str]:
    """The languages `home-assistant-intents` has templates for (none without the package)."""
    try:
        from home_assistant_intents import get_languages
    except ImportError:  # the package is a dependency; without it Hark's own templates still work
        return frozenset()
    return frozenset(get_languages())


class HaLanguage:
    """One language's templates, filtered to the intents Hark handles, compiled once."""

    def __init__(self, language: str) -> None:
        from hassil import Intents
        from hassil.intents import TextSlotList
        from home_assistant_intents import get_intents

        data = get_intents(language)
        if data is None:
            raise ValueError(f"home-assistant-intents has no language {language!r}")
        self.language = language
        wanted = {k: v for k, v in data["intents"].items() if k in INTENT_SKILLS}
        self.intent_names = sorted(wanted)
        # Delayed commands ("{command} in {minutes} minutes") start with a wildcard, which makes hassil
        # try every split of every sentence: they are kept apart and tried only when "in"/"after" is said.
        main, delayed = {}, {}
        for name, intent in wanted.items():
            blocks = intent.get("data", [])
            main[name] = {**intent, "data": [b for b in blocks if b.get("response") != "command"]}
            if later := [b for b in blocks if b.get("response") == "command"]:
                delayed[name] = {**intent, "data": later}
        self.intents = Intents.from_dict({**data, "intents": main})
        self.delayed = Intents.from_dict({**data, "intents": delayed}) if delayed else None
        self._delayed_guard = _DELAYED_GUARD.get(language)
        self.responses: dict[str, dict[str, str]] = data.get("responses", {}).get("intents", {})
        self._fixed_lists = {
            "area": TextSlotList.from_strings(AREAS.get(language, []), allow_template=False, name="area"),
            "floor": TextSlotList.from_strings(FLOORS.get(language, []), allow_template=False, name="floor"),
        }
        self._name_cache: tuple[tuple[str, ...], Any] = ((), None)

    def slot_lists(self, list_names: tuple[str, ...]) -> dict[str, Any]:
        """`{name}` is a to-do list; its values carry the context HA's list intents require."""
        from hassil.expression import TextChunk
        from hassil.intents import TextSlotList, TextSlotValue

        if self._name_cache[0] != list_names:  # rebuilt only when the task lists change
            values = [TextSlotValue(TextChunk(n), n, context={"domain": "todo"}) for n in list_names]
            self._name_cache = (list_names, TextSlotList(name="name", values=values))
        return {**self._fixed_lists, "name": self._name_cache[1]}

    def recognize(self, text: str, list_names: tuple[str, ...]) -> list[Any]:
        """Every hassil result for `text`; `list_names` are the task lists `{name}` may be."""
        from hassil import recognize_all

        lists = self.slot_lists(list_names)
        found = list(recognize_all(text, self.intents, slot_lists=lists, language=self.language))
        if self.delayed is not None and (self._delayed_guard is None or self._delayed_guard.search(text)):
            found += recognize_all(text, self.delayed, slot_lists=lists, language=self.language)
        return found

    def response_template(self, intent: str, key: str | None) -> str | None:
        """The package's reply template for an intent (its `response` key, else "default")."""
        templates = self.responses.get(intent) or {}
        return templates.get(key or "default") or templates.get("default")


@functools.cache
def load_language(language: str) -> HaLanguage | None:
    """The compiled templates for a language, or None when the package has none for it."""
    if language not in available_languages():
        return None
    try:
        return HaLanguage(language)
    except Exception as e:  # broken package data must not stop Hark's own templates
        log.warning("home-assistant-intents %s could not be loaded: %s", language, e)
        return None


# ---- a match becomes a skill call ------------------------------------------------------------------


@dataclass(frozen=True)
class HaCall:
    """One skill call made from a Home Assistant match, with the slots its reply template needs."""

    skill: str
    arguments: dict[str, Any]
    intent: str
    response_key: str | None
    slots: dict[str, Any] = field(default_factory=dict)  # HA's slot values, for the reply template


def _number(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip() in ("half", "1/2"):
        return 30.0  # HA's {timer_half} stands for 30 of the next unit down
    return float(value)


def _seconds(slots: dict[str, Any], prefix: str = "") -> float | None:
    parts = [(f"{prefix}hours", 3600), (f"{prefix}minutes", 60), (f"{prefix}seconds", 1)]
    if not any(k in slots for k, _ in parts):
        return None
    return sum(_number(slots[k]) * unit for k, unit in parts if k in slots)


def spoken_length(seconds: float) -> str:
    """A length as words every Hark duration parser reads back exactly ("1 hour and 30 minutes")."""
    from skills.when import speak_duration

    return speak_duration(timedelta(seconds=round(seconds)))


def _timer_name(slots: dict[str, Any]) -> str | None:
    """Which timer: its name, or an unnamed one by its length ("the 5 minute timer")."""
    name = slots.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    start = _seconds(slots, "start_")
    return spoken_length(start) if start else None


def _list_argument(name: str | None, default_words: frozenset[str]) -> str | None:
    if not name:
        return None
    return None if name.strip().lower() in default_words else name.strip()


def to_call(result: Any, text: str, default_words: frozenset[str] = frozenset()) -> HaCall | None:
    """The skill call for one hassil result, or None when Hark can't act on it."""
    intent = result.intent.name
    skill_name = INTENT_SKILLS.get(intent)
    if skill_name is None:
        return None
    slots = {e.name: (e.value.strip() if isinstance(e.value, str) else e.value) for e in result.entities_list}
    args: dict[str, Any] = {}
    if intent == "HassStartTimer":
        length = _seconds(slots)
        if not length:
            return None
        command = slots.get("conversation_command")
        if isinstance(command, str) and command.strip():
            # A delayed command: Hark can't run arbitrary commands later, so it says it will remind you.
            what = _REMIND_ME.sub("", command.strip()) or command.strip()
            return HaCall("remind_me", {"what": what, "when": f"in {spoken_length(length)}"}, intent, "command", slots)
        args = {"duration": spoken_length(length)}
        if isinstance(slots.get("name"), str) and slots["name"].strip():
            args["name"] = slots["name"].strip()
    elif intent in ("HassIncreaseTimer", "HassDecreaseTimer"):
        length = _seconds(slots)
        if not length:
            return None
        args = {"duration": spoken_length(length)}
        if (which := _timer_name(slots)) is not None:
            args["name"] = which
    elif intent in ("HassTimerStatus", "HassCancelTimer", "HassPauseTimer", "HassUnpauseTimer"):
        if (which := _timer_name(slots)) is not None:
            args["name"] = which
    elif intent == "HassListAddItem":
        args = {"item": slots.get("item")}
        if (lst := _list_argument(slots.get("name"), default_words)) is not None:
            args["list_name"] = lst
    elif intent == "HassShoppingListAddItem":
        args = {"item": slots.get("item")}
        # "add apples to my list" is Hark's default list; "my shopping list" is the shopping list.
        if _SHOPPING_WORD.search(text):
            args["list_name"] = SHOPPING_LIST
    elif intent in ("HassListCompleteItem", "HassShoppingListCompleteItem"):
        args = {"item": slots.get("item")}
        if _REMOVE_VERB.match(text):
            # "delete apples in my shopping list": the words ask to delete, so Hark deletes (and asks first).
            skill_name = "delete_task"
            lst = (
                slots.get("name")
                if intent == "HassListCompleteItem"
                else (SHOPPING_LIST if _SHOPPING_WORD.search(text) else None)
            )
            if (lst := _list_argument(lst, default_words)) is not None:
                args["list_name"] = lst
    elif intent == "HassListRemoveItem":
        args = {"item": slots.get("item")}
        if (lst := _list_argument(slots.get("name"), default_words)) is not None:
            args["list_name"] = lst
    if "item" in args and not (isinstance(args["item"], str) and args["item"].strip()):
        return None
    return HaCall(skill_name, args, intent, result.response, slots)


# ---- replies in the user's language -----------------------------------------------------------------


@functools.cache
def _jinja():
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(autoescape=False)


def _clean_number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _timer_slots(ctx: SkillContext) -> list[dict[str, Any]]:
    """The running timers as HA's HassTimerStatus reply template expects them."""
    from skills.timer_store import TIMER, rounded_left
    from skills.timers import service_for

    service = service_for(ctx)
    now = service.now()
    out = []
    for t in service.active(TIMER):
        left = int(rounded_left(t.seconds_left(now)).total_seconds())
        start = round(t.duration_s)
        out.append(
            {
                "is_active": not t.paused,
                "name": t.name or "",
                "area": "",
                "total_seconds_left": int(t.seconds_left(now)),
                "rounded_hours_left": left // 3600,
                "rounded_minutes_left": left % 3600 // 60,
                "rounded_seconds_left": left % 60,
                "start_hours": start // 3600,
                "start_minutes": start % 3600 // 60,
                "start_seconds": start % 60,
            }
        )
    return out


def render_reply(language: str, call: HaCall, ctx: SkillContext, data: Any) -> str | None:
    """The package's reply for a successful call in `language`, or None (then Hark's own words are used)."""
    if language == "en":
        return None
    lang = load_language(language)
    template = lang.response_template(call.intent, call.response_key) if lang else None
    if not template:
        return None
    slots = {k: _clean_number(v) for k, v in call.slots.items()}
    now = ctx.now()
    slots.update(time=now.time(), date=now.date())
    if call.intent == "HassTimerStatus":
        slots["timers"] = _timer_slots(ctx)
    if call.intent == "HassCancelAllTimers":
        slots["canceled"] = len(data) if isinstance(data, list) else 0
    try:
        text = _jinja().from_string(template).render(slots=slots)
    except Exception as e:  # a template Hark can't render: its own (English) words are still right
        log.warning("reply template %s/%s failed: %s", language, call.intent, e)
        return None
    return " ".join(text.split())


# ---- "never mind" ---------------------------------------------------------------------------------


@skill()
def never_mind(ctx: SkillContext) -> SkillResult:
    """Do nothing: the user changed their mind or said "never mind"."""
    return SkillResult("", None)
