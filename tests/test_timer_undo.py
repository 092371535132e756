"""The timer journal: every change the user makes can be named and reversed ("undo that")."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from skills.registry import SkillError, StateChanged
from skills.timer_service import TimerService


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(tmp_path, clock):
    s = TimerService(tmp_path / "timers.db", lambda text, on_played=None: None, clock=clock)
    yield s
    s.close()


def test_no_changes_yet(service):
    assert service.last_change() is None


def test_undo_a_start_cancels_it(service, clock):
    t = service.add_timer(timedelta(minutes=5), "tea")
    change = service.last_change()
    assert change is not None and change.undoable and change.why_not == ""
    assert change.at == clock.now
    assert (change.description, change.undo_text) == ("started the tea timer", "cancel the tea timer")
    assert service.undo(change.id) == "Cancelled the tea timer."
    assert service.active() == [] and service.get(t.id).state == "cancelled"
    assert service.last_change() is None  # undone changes are not offered again


def test_undo_a_cancel_restarts_it_with_the_time_it_had_left(service, clock):
    t = service.add_timer(timedelta(minutes=10), "tea")
    clock.now += 6 * 60
    service.cancel(t.id)
    change = service.last_change()
    assert change.description == "cancelled the tea timer"
    assert change.undo_text == "restart the tea timer with 4 minutes left"
    clock.now += 3600  # time does not run while it is cancelled
    assert service.undo(change.id) == "Restarted the tea timer with 4 minutes left."
    (back,) = service.active()
    assert back.id == t.id and back.state == "running" and back.seconds_left(clock.now) == pytest.approx(240)


def test_undo_a_cancelled_paused_timer_and_a_reminder(service, clock):
    t = service.add_timer(timedelta(minutes=3), "stew")
    service.pause(t.id)
    service.cancel(t.id)
    assert service.last_change().undo_text == "restore the stew timer, paused with 3 minutes left"
    service.undo(service.last_change().id)
    assert service.get(t.id).paused and service.get(t.id).remaining_s == pytest.approx(180)

    due = datetime.fromtimestamp(clock.now) + timedelta(hours=2)
    r = service.add_reminder("call mom", due)
    service.cancel(r.id)
    change = service.last_change()
    assert change.description == "deleted the reminder to call mom" and change.undoable
    service.undo(change.id)
    assert service.get(r.id).state == "running" and service.get(r.id).due_at == due.timestamp()


def test_a_reminder_whose_time_passed_is_not_restored(service, clock):
    r = service.add_reminder("call mom", datetime.fromtimestamp(clock.now) + timedelta(minutes=10))
    service.cancel(r.id)
    clock.now += 3600
    change = service.last_change()
    assert not change.undoable and "which has passed" in change.why_not
    with pytest.raises(SkillError, match="which has passed"):
        service.undo(change.id)
    assert service.get(r.id).state == "cancelled"


def test_undo_pause_resume_and_adjust(service, clock):
    t = service.add_timer(timedelta(minutes=10), "pizza")
    service.pause(t.id)
    assert service.last_change().description == "paused the pizza timer"
    assert service.undo(service.last_change().id) == "Resumed the pizza timer."
    assert service.get(t.id).state == "running"
    service.pause(t.id)
    service.resume(t.id)
    assert service.last_change().undo_text == "pause the pizza timer again"
    service.undo(service.last_change().id)
    assert service.get(t.id).paused
    service.resume(t.id)
    service.adjust(t.id, timedelta(minutes=5))
    change = service.last_change()
    assert change.description == "added 5 minutes to the pizza timer"
    assert change.undo_text == "take the 5 minutes off again"
    service.undo(change.id)
    assert service.get(t.id).seconds_left(clock.now) == pytest.approx(600)
    service.adjust(t.id, -timedelta(minutes=2))
    assert service.last_change().undo_text == "put the 2 minutes back"
    assert service.undo(service.last_change().id) == "Put the 2 minutes back."
    assert service.get(t.id).seconds_left(clock.now) == pytest.approx(600)


def test_undo_cancel_all_restores_each(service, clock):
    a = service.add_timer(timedelta(minutes=4), "egg")
    b = service.add_timer(timedelta(minutes=9), "tea")
    service.cancel_all("timer")
    change = service.last_change()
    assert change.description == "cancelled 2 timers: egg timer and tea timer"
    service.undo(change.id)
    assert {(t.id, round(t.seconds_left(clock.now))) for t in service.active()} == {(a.id, 240), (b.id, 540)}


def test_a_timer_that_already_fired_cannot_be_undone(tmp_path):
    spoken: list[str] = []
    service = TimerService(tmp_path / "timers.db", spoken.append)
    service.start()
    try:
        service.add_timer(timedelta(seconds=0.1), "egg")
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and service.get(1).state != "fired":
            time.sleep(0.01)
        change = service.last_change()
        assert change.description == "started the egg timer"
        assert not change.undoable and change.why_not == "the egg timer already went off."
        with pytest.raises(StateChanged, match="already went off"):
            service.undo(change.id)
    finally:
        service.close()


def test_undo_refuses_a_change_that_is_no_longer_the_last(service, tmp_path, clock):
    t = service.add_timer(timedelta(minutes=5), "tea")
    service.cancel(t.id)
    offered = service.last_change()
    # Another Hark process on the same file changes something while the undo is being confirmed.
    other = TimerService(tmp_path / "timers.db", lambda text, on_played=None: None, clock=clock)
    try:
        other.add_timer(timedelta(minutes=1), "egg")
    finally:
        other.close()
    with pytest.raises(StateChanged, match="changed while I was asking, so I undid nothing"):
        service.undo(offered.id)
    assert service.get(t.id).state == "cancelled"
    assert [x.name for x in service.active()] == ["egg"]


def test_undo_refuses_when_the_timer_moved(service, tmp_path, clock):
    t = service.add_timer(timedelta(minutes=5), "tea")
    service.pause(t.id)
    offered = service.last_change()
    # Changed behind the journal's back (say, fired by another process).
    service._db.execute("UPDATE timers SET state = 'fired' WHERE id = ?", (t.id,))
    with pytest.raises(StateChanged):
        service.undo(offered.id)
    assert service.get(t.id).state == "fired"


def test_a_full_disk_is_a_clear_message_and_changes_nothing(service):
    service.add_timer(timedelta(minutes=5), "tea")
    pages = service._db.execute("PRAGMA page_count").fetchone()[0]
    service._db.execute(f"PRAGMA max_page_count = {pages + 1}")  # SQLite's own "database or disk is full"
    added = 1
    with pytest.raises(SkillError) as caught:
        for i in range(200):
            service.add_reminder("x" * 290 + str(i), datetime.fromtimestamp(service.now()) + timedelta(hours=1))
            added += 1
    message = str(caught.value)
    assert message.endswith("the disk is full, so nothing changed.") and "move it aside" not in message
    # The failed add left no row and no journal entry behind: rows and journal still agree.
    assert len(service.active()) == added
    assert service._db.execute("SELECT COUNT(*) FROM changes").fetchone()[0] == added


def test_a_damaged_file_is_the_only_case_that_advises_moving_it(tmp_path):
    path = tmp_path / "timers.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SkillError, match="move it aside"):
        TimerService(path, print)
    folder = tmp_path / "as-folder.db"
    folder.mkdir()
    with pytest.raises(SkillError) as caught:
        TimerService(folder, print)
    assert "move it aside" not in str(caught.value)
