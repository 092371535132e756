"""Korean: typed Hangul is matched with the Korean templates and answered with the package's Korean replies.

Real matcher, real gate (answered "yes"), real timer service and task store on a tmp data directory.
Where the package has no Korean reply, or the skill could not act, Hark's own English words are used.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from skills.gate import ConfirmationGate
from skills.intents import IntentMatcher
from skills.registry import SkillContext, SkillRegistry
from skills.store import TaskStore
from skills.timer_service import TIMER
from skills.timers import service_for
from voice.config import Config
from voice.events import EventBus

NOW = datetime(2026, 11, 30, 14, 5)


@pytest.fixture(scope="module")
def registry() -> SkillRegistry:
    return SkillRegistry.default()


@pytest.fixture
def ctx(tmp_path):
    c = SkillContext(config=Config(), data_dir=tmp_path, clock=lambda: NOW)
    yield c
    c.close()


@pytest.fixture
def say(registry, ctx):
    matcher = IntentMatcher(registry, ctx=ctx)
    questions: list[str] = []

    def turn(text: str) -> tuple[str, str]:
        """(skill run, what Hark answers) for one typed sentence."""
        found = matcher.match(text)
        assert found is not None, f"{text!r} matched nothing"
        gate = ConfirmationGate(
            registry, ctx, EventBus(), lambda q: questions.append(q) or "yes", Path(ctx.data_dir) / "audit.jsonl"
        )
        outcome = gate.execute(found.name, found.arguments, transcript=text, source="template")
        return found.name, found.reply(ctx, outcome.text, outcome.ok, outcome.data)

    turn.questions = questions  # type: ignore[attr-defined]
    return turn


def test_start_a_timer_in_korean(say, ctx):
    assert say("5분짜리 타이머 맞춰줘") == ("start_timer", "5분 타이머를 설정했습니다")
    timers = service_for(ctx).active(TIMER)
    assert [t.duration_s for t in timers] == [300]


def test_time_and_date_in_korean(say):
    assert say("지금 몇 시야") == ("current_time", "오후 2시 5분")
    assert say("오늘 며칠이야") == ("current_date", "2026년 11월 30일")


def test_shopping_list_in_korean(say, ctx):
    assert say("쇼핑 리스트에 우유 추가해줘") == ("add_task", "우유 추가되었습니다")
    assert [t.text for t in TaskStore.for_context(ctx).list_tasks("shopping")] == ["우유"]


def test_timer_status_pause_resume_and_cancel_all_in_korean(say, ctx):
    service = service_for(ctx)
    service.add_timer(timedelta(minutes=10), None)
    skill, reply = say("타이머 얼마나 남았어")
    assert skill == "time_left" and reply.endswith("남았습니다.") and ("10분" in reply or "9분" in reply)
    assert say("타이머 일시정지") == ("pause_timer", "타이머를 일시정지했습니다")
    assert say("타이머 다시 시작해") == ("resume_timer", "타이머를 다시 시작했습니다")
    service.add_timer(timedelta(minutes=3), "pizza")
    assert say("모든 타이머 취소") == ("cancel_all_timers", "타이머 2개를 취소했습니다.")
    assert service.active(TIMER) == []


def test_when_the_skill_cannot_act_the_reply_is_hark_s_own(say):
    # No timer to cancel: the package's "timer cancelled" would be a lie, so Hark's own words are used.
    assert say("타이머 취소") == ("cancel_timer", "You have no timers running.")


def test_never_mind_says_nothing(say):
    assert say("아니야") == ("never_mind", "")


def test_english_replies_stay_hark_s_own(say):
    skill, reply = say("set a timer for 5 minutes")
    assert (skill, reply) == ("start_timer", "Timer set for 5 minutes.")


def test_korean_text_never_falls_into_english_templates(registry, ctx):
    matcher = IntentMatcher(registry, ctx=ctx)
    assert matcher.match("안녕하세요 오늘 날씨 어때요") is None  # small talk goes to the model
    found = matcher.match("타이머 10분으로 맞춰줘")
    assert found is not None and found.language == "ko" and found.arguments == {"duration": "10 minutes"}


def test_the_readme_korean_example_works(say):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "5분짜리 타이머 맞춰줘" in readme and "stt.language: ko" in readme
    assert say("5분짜리 타이머 맞춰줘")[1] == "5분 타이머를 설정했습니다"
