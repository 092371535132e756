"""`hark timers` and `hark reminders`: list and cancel them from the keyboard.

A typed cancel is the user's own instruction, so nothing is asked; it still goes through
`TimerService` (so it is journaled and "undo that" brings it back) and is written to the
audit log like a change typed in `hark tasks` (`chosen_by: keyboard`). No timer thread is
started here: only the live loop fires timers.
"""

import json as jsonlib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from voice.cli_tasks import ConfigOption, JsonOption, _echo, _fail, keyboard_change

if TYPE_CHECKING:
    from skills.timer_service import Timer, TimerService

TIMER, REMINDER = "timer", "reminder"


def _service(config: Path | None) -> "TimerService":
    from skills.registry import SkillError
    from skills.timer_service import TimerService
    from voice.config import ConfigError, data_dir, load_config

    try:
        load_config(config)
    except ConfigError as e:
        raise _fail(str(e)) from None
    try:
        return TimerService(data_dir() / "timers.db", lambda text, on_played=None: None)
    except SkillError as e:
        raise _fail(str(e)) from None


def _row(t: "Timer", now: float) -> dict:
    from skills.timer_service import describe_left

    due = datetime.fromtimestamp(t.due_at).isoformat(timespec="seconds") if t.due_at and not t.paused else None
    return {
        "id": t.id,
        "kind": t.kind,
        "name": t.name,
        "text": t.text,
        "state": t.state,
        "seconds_left": round(t.seconds_left(now)),
        "due": due,
        "description": describe_left(t, now),
    }


def make_app(kind: str) -> typer.Typer:
    """`hark timers` or `hark reminders` (`kind`: timer or reminder): list and cancel."""
    noun = f"{kind}s"
    app = typer.Typer(help=f"Your {noun}: list and cancel.", no_args_is_help=True)

    @app.command("list")
    def list_cmd(json: JsonOption = False, config: ConfigOption = None) -> None:
        service = _service(config)
        try:
            now = service.now()
            rows = [_row(t, now) for t in service.active(kind)]
        finally:
            service.close()
        if json:
            typer.echo(jsonlib.dumps(rows, ensure_ascii=False, indent=2))
        elif not rows:
            _echo(f"No {noun}.")
        else:
            for r in rows:
                when = f" (due {r['due'].replace('T', ' ')})" if kind == REMINDER and r["due"] else ""
                _echo(f"#{r['id']}  {r['description']}{when}")

    list_cmd.__doc__ = f"List the running and paused {noun}."

    @app.command("cancel")
    def cancel_cmd(
        ids: Annotated[list[int] | None, typer.Argument(help=f"The {kind}'s number (see `hark {noun} list`).")] = None,
        all_: Annotated[bool, typer.Option("--all", "-a", help=f"Cancel every {kind}.")] = False,
        config: ConfigOption = None,
    ) -> None:
        from skills.registry import SkillError
        from skills.timer_service import ACTIVE

        if not ids and not all_:
            raise _fail(f"say which {kind} to cancel (its number from `hark {noun} list`), or --all.")
        service = _service(config)
        try:
            if all_:
                items = keyboard_change(f"cancel_all_{noun}", {}, lambda: service.cancel_all(kind))
            else:
                wanted = list(ids or [])

                def cancel() -> list["Timer"]:
                    for i in wanted:  # a number from the other command's list is refused, not cancelled
                        t = service.get(i)
                        if t.kind != kind:
                            raise SkillError(f"#{i} is not a {kind}; see `hark {noun} list`.")
                        if t.state not in ACTIVE:
                            raise SkillError(f"#{i}, the {t.label}, has already finished.")
                    return service.cancel_exact(wanted)

                items = keyboard_change(f"cancel_{kind}", {"ids": wanted}, cancel)
        except SkillError as e:
            raise _fail(str(e)) from None
        finally:
            service.close()
        if not items:
            _echo(f"No {noun} to cancel.")
        for t in items:
            _echo(f"Cancelled #{t.id}: {t.label}. (`hark ask 'undo that'` brings it back.)")

    cancel_cmd.__doc__ = f"Cancel {noun} by number, or every one with --all."
    return app


timers_app = make_app(TIMER)
reminders_app = make_app(REMINDER)
