"""The spoken yes/no classifier that guards every consequential action (skills/confirm.py).

The rule: an answer confirms only when, fillers and politeness dropped, what remains is an
affirmation on its own. A sentence that merely contains a yes-word is not an answer, any
negation or hedge wins, and Hark's own question (or re-ask) is never a yes.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from skills.confirm import Verdict, classify_answer, question, reask
from skills.registry import Plan, SkillContext, SkillError, SkillRegistry
from voice.config import Config, data_dir

# ---------------------------------------------------------------- real yeses

YES_ANSWERS = [
    # the short answers a user gives, as Whisper writes them (punctuation, case and spacing vary)
    "yes",
    "Yes.",
    "Yes!",
    "YES",
    "YES!",
    " Yes.",
    "  yes  ",
    "yes.",
    "Yes, please.",
    "yes please",
    "Yes please!",
    "yeah",
    " Yeah.",
    "Yeah!",
    "Yeah, do it.",
    "yeah do it",
    "Yeah, go ahead.",
    "yep",
    "Yep.",
    "Yep, go for it.",
    "yup",
    "Yup!",
    "sure",
    "Sure.",
    "Sure!",
    "Sure thing.",
    "go ahead",
    "Go ahead.",
    "Go ahead, please.",
    "do it",
    "Do it.",
    "Do it!",
    "Just do it.",
    "Yeah, do it now.",
    "confirm",
    "Confirm.",
    "Confirmed.",
    "I confirm.",
    "that's right",
    "That's right.",
    "That\u2019s right.",
    "That is right.",
    "Correct.",
    "That's correct.",
    "absolutely",
    "Absolutely!",
    "Of course.",
    "Definitely.",
    "Certainly.",
    "Proceed.",
    "Please do.",
    "Go for it.",
    "Let's do it.",
    "Affirmative.",
    "Yes, yes.",
    "Yes, go ahead.",
    "yes, go ahead",
    "Yes, do it.",
    "Yes, confirm.",
    "Yes, that's right.",
    "Yes, I'm sure.",
    "Yes, I am sure.",
    "I'm sure.",
    # fillers and politeness around an affirmation
    "Uh, yes.",
    "Um, yeah.",
    "Umm... yes.",
    "Well, yes.",
    "Oh, yes please.",
    "Okay, yes.",
    "Okay then, go ahead.",
    "OK, do it.",
    "Alright, go ahead.",
    "All right, yes.",
    "Yes, thanks.",
    "Yes, thank you.",
    "Sure, thanks!",
    "Hark, yes.",
    "Hey Hark, go ahead.",
    "Yes, please, Hark.",
    "Yes. Yes. Go ahead.",
    "Yeah-yeah.",
    "Go ahead!",
    "Yes\u2026 please.",
]


@pytest.mark.parametrize("answer", YES_ANSWERS)
def test_an_affirmation_on_its_own_confirms(answer: str) -> None:
    assert classify_answer(answer) is Verdict.YES


# ---------------------------------------------------------------- sentences that merely contain a yes-word

CONTAINED_YES = [
    # reproduced in issue 10: each of these deleted all 3 tasks
    "I'm sure you misheard me",
    "I'm sure you misheard me.",
    "Remind me to confirm the dentist appointment.",
    "Turn right at the light.",
    "Turn right at the light",
    # more of the same kind
    "Sure, but first tell me what's on the list.",
    "Yes, go ahead and delete them.",
    "Yes, delete them.",
    "Yeah, and add milk too.",
    "Do it tomorrow.",
    "Go ahead with the backup.",
    "Confirm the dentist appointment.",
    "That's right what you said earlier, remind me later.",
    "Yes I was saying something else.",
    "Absolutely the wrong list.",
    "Of course you would say that.",
    "Right now I'm busy.",
    "Yeah, right.",
    "Right, do it.",
    "I said yes to the dentist.",
    "The answer was yes.",
    "Say yes.",
    "yes sir, no sir, three bags full",
    "Play some music.",
    "What's the weather?",
    "Yes 3.",
    "Sure, in a minute.",
    "You can go ahead and do it later",
    "Do it again.",
    "Please read my tasks.",
    "Yes, and then read me the news.",
]


@pytest.mark.parametrize("answer", CONTAINED_YES)
def test_a_sentence_that_merely_contains_a_yes_word_is_not_a_yes(answer: str) -> None:
    assert classify_answer(answer) is not Verdict.YES


@pytest.mark.parametrize(
    "answer, verdict",
    [
        ("I'm sure you misheard me", Verdict.UNCLEAR),
        ("Remind me to confirm the dentist appointment", Verdict.UNCLEAR),
        ("Turn right at the light", Verdict.UNCLEAR),
        ("Okay, that's not what I asked", Verdict.NO),  # a negation: NO, not merely unclear
        ("Shall I go ahead?", Verdict.UNCLEAR),
        ("Yes, go ahead and delete them", Verdict.UNCLEAR),  # documented choice: only consent words confirm
        ("Yes, I'm sure", Verdict.YES),
        ("Yeah, right.", Verdict.UNCLEAR),
    ],
)
def test_issue_sentences_are_classified_exactly(answer: str, verdict: Verdict) -> None:
    assert classify_answer(answer) is verdict


# ---------------------------------------------------------------- negations win


@pytest.mark.parametrize(
    "answer",
    [
        "no",
        "No.",
        "NO!",
        "nope",
        "Nope.",
        "nah",
        "Nah.",
        "No thanks.",
        "No, thank you.",
        "cancel",
        "Cancel.",
        "Cancel that.",
        "stop",
        "Stop!",
        "don't",
        "Don\u2019t.",
        "Don't do it.",
        "do not",
        "Do not.",
        "no, wait",
        "wait",
        "Wait!",
        "hold on",
        "Hang on.",
        "never mind",
        "Nevermind.",
        "forget it",
        "abort",
        "Not now.",
        "Not yet.",
        "Negative.",
        "Wrong.",
        "That's wrong.",
        "That's not right.",
        "Incorrect.",
        "I can't.",
        "Never.",
        # a negation anywhere wins over a yes in the same answer
        "yes no",
        "yes... no, wait",
        "Yes. No, stop!",
        "okay wait",
        "yes, don't",
        "sure, why not",
        "go ahead, no cancel",
        "Yes, no, I mean no.",
        "Yeah, no.",
        "Sure... actually, no.",
        "Yes! Wait.",
        "Okay, that's not what I asked.",
        "Okay, that's not what I asked",
        "I'm not sure.",
        "Do it. No, don't.",
        "Go ahead? No.",
        "No, I'm sure you misheard me.",
        "That isn't what I said.",
        "I didn't say yes.",
        "Yes, don't.",
        "No problem, go ahead.",
        "Yes or no?",
    ],
)
def test_any_negation_cancels(answer: str) -> None:
    assert classify_answer(answer) is Verdict.NO


# ---------------------------------------------------------------- hedges, questions and noise are unclear


@pytest.mark.parametrize(
    "answer",
    [
        "maybe",
        "Maybe.",
        "maybe later",
        "Yes, maybe.",
        "yes, maybe",
        "Yeah, I guess.",
        "I guess so.",
        "I think so.",
        "Probably.",
        "Perhaps.",
        "Sure, perhaps.",
        "hmm",
        "Hmm, yes.",
        "what?",
        "What?",
        "Which one?",
        "Why?",
        "Yes?",
        "Go ahead?",
        "Do it?",
        "Sure?",
        "Really?",
        "yes, but",
        "Yes, but later.",
        "banana",
        "um",
        "Uh...",
        "Okay.",
        "OK.",
        "Okay then.",
        "Alright.",
        "Right.",
        "Well.",
        "Please.",
        "Thanks.",
        "Thank you.",
        "you",
        "Hark.",
        "play some music",
        "Do that.",
        "I do.",
        "Go.",
        "Ahead.",
    ],
)
def test_hedges_questions_and_noise_are_unclear(answer: str) -> None:
    assert classify_answer(answer) is Verdict.UNCLEAR


@pytest.mark.parametrize("answer", [None, "", "   ", "...", "\n", "!?", " . "])
def test_nothing_heard_is_silence(answer: str | None) -> None:
    assert classify_answer(answer) is Verdict.SILENCE


@pytest.mark.parametrize(
    "word",
    [
        "know",
        "nobody",
        "snow",
        "notebook",
        "stopwatch",
        "yesterday",
        "eyes",
        "canceled",
        "surely",
        "sureness",
        "confirmation",
        "yeast",
        "nowhere",
    ],
)
def test_words_containing_yes_or_no_do_not_count(word: str) -> None:
    # whole words only: "I know" is not "no", "yesterday" is not "yes"
    assert classify_answer(f"I {word}") is Verdict.UNCLEAR
    assert classify_answer(word) is not Verdict.YES


# ---------------------------------------------------------------- Hark's own words never confirm

# Previews as the skills word them, with user text that is itself a yes-phrase where one can appear.
YESSY = ["yes", "okay", "go ahead", "sure", "do it", "confirm", "yes please", "that's right", "absolutely"]
PREVIEWS = [
    "I'll delete all 3 of your tasks.",
    "I'll delete all 3 of your tasks on every list.",
    "I'll delete your one task.",
    "I'll delete all 2 tasks on your shopping list, and 1 finished one.",
    "I'll delete 1 finished task.",
    "I'll run the command backup",
    "I'll run the backup command: rsync -a ~/docs /mnt/backup.",
    "I'll undo adding 'okay'",
    "I'll undo clearing 2 tasks from your list.",
    "I'll erase everything.",
    "I'll cancel all 2 timers: the tea timer and the pasta timer.",
    "I'll cancel your one reminder: call mom.",
    "I'll add 'buy oat milk' to your shopping list.",
    "I'll add 'call mom' to your list, due tomorrow at 5 PM.",
    "I'll mark 'buy oat milk' as done.",
    "I'll change 'call mom' to say 'call mom about Sunday'.",
    "I'll write down: 'the plumber comes on Friday'.",
    "I'll clear tasks.",
    "I'll undo last change.",
    *[f"I'll add '{y}' to your list." for y in YESSY],
    *[f"I'll undo adding '{y}'." for y in YESSY],
    *[f"I'll delete '{y}' from your list." for y in YESSY],
    *[f"I'll mark '{y}' as done." for y in YESSY],
    *[f"I'll write down: '{y}'." for y in YESSY],
    *[f"I'll run the {y} command: echo {y}." for y in YESSY],
    *[f"I'll delete your reminder to {y}, due in 10 minutes." for y in YESSY],
    *[f"I'll change '{y}' to say '{y}'." for y in YESSY],
    *[f"I'll cancel your one timer, the {y} timer." for y in YESSY],
]


def _spoken_forms(said: str) -> list[str]:
    """What Whisper may write for Hark's own words: as said, without punctuation, upper case, last sentence alone."""
    plain = said.replace("?", "").replace(".", "").replace(":", "").replace("'", "")
    last = said.rsplit(". ", 1)[-1]
    return [said, said.lower(), said.upper(), plain, last, last.rstrip("?"), last.rstrip("?") + "."]


@pytest.mark.parametrize("preview", PREVIEWS)
def test_hark_hearing_its_own_question_never_confirms(preview: str) -> None:
    for said in (question(preview), reask(preview)):
        for form in _spoken_forms(said):
            assert classify_answer(form) is not Verdict.YES, form


def test_question_and_reask_wording() -> None:
    q = question("I'll delete all 3 of your tasks.")
    assert q == "I'll delete all 3 of your tasks. Should I do that?"
    r = reask("I'll delete all 3 of your tasks.")
    assert "yes" in r.lower() and "no" in r.lower()  # the re-ask names the two answers
    assert "all 3 of your tasks" in r
    # The old wording held a yes-phrase ("go ahead"); the question must not.
    for phrase in ("go ahead", "confirm", "do it", "sure", "proceed"):
        assert phrase not in q.lower()


@pytest.fixture
def real_previews(tmp_path):
    """Every consequential skill's own preview, over state whose user text is yes-phrases."""
    cfg = Config.model_validate({"skills": {"commands": {y.replace("'", ""): f"echo {y}" for y in YESSY}}})
    ctx = SkillContext(config=cfg, data_dir=data_dir(), clock=lambda: datetime(2026, 11, 23, 14, 5))
    reg = SkillRegistry.default()
    for y in YESSY:
        reg.get("add_task").run(ctx, reg.get("add_task").validate({"item": y}))
        reg.get("start_timer").run(ctx, reg.get("start_timer").validate({"duration": "10 minutes", "name": y}))
        reg.get("remind_me").run(ctx, reg.get("remind_me").validate({"what": y, "when": "in 2 hours"}))
    calls = [
        ("clear_tasks", {}),
        ("clear_tasks", {"list_name": "all"}),
        ("undo_last_change", {}),
        ("cancel_all_timers", {}),
        ("cancel_all_reminders", {}),
    ]
    for y in YESSY:
        calls += [
            ("add_task", {"item": y}),
            ("add_task", {"item": y, "list_name": y}),
            ("complete_task", {"item": y}),
            ("delete_task", {"item": y}),
            ("edit_task", {"item": y, "new_text": y}),
            ("take_note", {"text": y}),
            ("run_command", {"name": y.replace("'", "")}),
            ("cancel_reminder", {"what": y}),
        ]
    out: list[str] = []
    for name, args in calls:
        s = reg.get(name)
        try:
            p = s.describe_action(ctx, s.validate(args))
        except SkillError:
            continue
        out.append(p.text if isinstance(p, Plan) else p)
    yield out
    ctx.close()


def test_no_real_preview_question_is_a_yes(real_previews) -> None:
    assert len(real_previews) >= 40, real_previews  # the skills really produced them
    assert any("'go ahead'" in p for p in real_previews) and any("all 9 of your tasks" in p for p in real_previews)
    for preview in real_previews:
        for said in (question(preview), reask(preview)):
            for form in _spoken_forms(said):
                assert classify_answer(form) is not Verdict.YES, form


# ------------------------------------------------------------------ Korean answers


@pytest.mark.parametrize("answer", ["네", "네.", "예", "응", "네, 해주세요.", "그래", "음 그래", "진행해줘", "확인"])
def test_korean_yes(answer):
    assert classify_answer(answer) is Verdict.YES


@pytest.mark.parametrize("answer", ["아니요", "아니, 잠깐", "취소해", "안 돼", "하지 마", "네... 아니요"])
def test_korean_no(answer):
    assert classify_answer(answer) is Verdict.NO


@pytest.mark.parametrize("answer", ["네가 뭐라고?", "어", "내일 치과 예약 확인해 달라고 했어", "오른쪽으로 가"])
def test_korean_sentence_that_is_not_an_answer_is_unclear(answer):
    assert classify_answer(answer) is Verdict.UNCLEAR
