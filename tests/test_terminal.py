"""What the command line prints, and what it takes from the keyboard.

User and model text is shown literally (no rich markup, no control characters); `hark ask`
prints its reply alone on stdout, takes typed answers on a real pseudo-terminal under the
same strict rule as spoken ones, ignores piped stdin, exits 0 done / 1 failed / 3 cancelled,
and with --quiet never imports the speech synthesizer.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import threading
import time
from pathlib import Path

import pytest

from skills.store import TaskStore
from tests.support.cli import HARK, hark_env, run_hark
from tests.support.ollama_server import FakeOllama, Reply
from tests.support.paths import ROOT
from tests.support.tasks import open_task_texts
from voice import events as ev

MODEL = "qwen3:1.7b"
MARKUP = "close the [/b] tag"
LINK = "see [link=https://evil.example]https://good.example[/link] now"
ESCAPE = "wipe \x1b[2J\x1b]0;pwned\x07 the screen\x9b2J"


class TerminalSession:
    """`hark ARGS` with stdin on a pseudo-terminal, as if typed at a keyboard; stdout/stderr captured."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [*HARK, *args], cwd=ROOT, env=env, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        os.close(slave)
        self.out: list[bytes] = []
        self.err: list[bytes] = []
        for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(
                target=lambda s=stream, k=sink: k.extend(iter(lambda: s.read1(4096), b"")), daemon=True
            ).start()
        # Drain the terminal's echo of what is typed, so it can never fill up.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        try:
            while os.read(self.master, 4096):
                pass
        except OSError:
            pass

    @property
    def stdout(self) -> str:
        return b"".join(self.out).decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return b"".join(self.err).decode("utf-8", "replace")

    def wait_for(self, needle: str, count: int = 1, timeout: float = 120) -> None:
        deadline = time.time() + timeout
        while self.stderr.count(needle) < count:
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader threads catch up
                if self.stderr.count(needle) >= count:
                    return
                raise AssertionError(f"hark exited ({self.proc.returncode}) before {needle!r}: {self.stderr}")
            if time.time() > deadline:
                raise AssertionError(f"no {needle!r} within {timeout}s: {self.stderr}")
            time.sleep(0.05)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self, timeout: float = 120) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            time.sleep(0.2)
            os.close(self.master)


PROMPT = "your answer (yes or no):"


def seed(data_dir: Path, *texts: str) -> None:
    store = TaskStore(data_dir / "hark.db")
    for t in texts:
        store.add(t, "inbox")
    store.close()


@pytest.fixture
def env(_data_dir):
    return hark_env(HARK_DATA_DIR=str(_data_dir), OLLAMA_HOST="http://127.0.0.1:9", COLUMNS="200")


# ------------------------------------------------------------ user text is shown, never obeyed


def test_tasks_list_and_history_show_markup_and_escapes_literally(env, _data_dir):
    for text in (MARKUP, LINK, ESCAPE):
        r = run_hark("tasks", "add", text, env=env)
        assert r.returncode == 0, r.stderr
        assert "\x1b" not in r.stdout and "\x9b" not in r.stdout and "\x07" not in r.stdout
    listed = run_hark("tasks", "list", env=env)
    assert listed.returncode == 0, listed.stderr  # was: rich MarkupError on "[/b]"
    assert "Traceback" not in listed.stderr
    assert MARKUP in listed.stdout
    assert "[link=https://evil.example]https://good.example[/link]" in listed.stdout  # the real target is visible
    assert "wipe [2J]0;pwned the screen2J" in listed.stdout
    assert not any(c in listed.stdout for c in "\x1b\x07\x9b")
    done = run_hark("tasks", "done", "1", env=env)
    assert done.stdout.strip() == f"Done #1: {MARKUP}"
    exported = run_hark("tasks", "export", env=env)
    assert MARKUP in exported.stdout and "\x1b" not in exported.stdout

    with (_data_dir / "audit.jsonl").open("a") as f:
        f.write(
            json.dumps(
                {
                    "time": "2026-11-30T10:00:00+00:00",
                    "skill": "add_task",
                    "arguments": {"item": LINK},
                    "transcript": ESCAPE + " " + MARKUP,
                    "confirmation": "spoken yes: '[bold]yes'",
                }
            )
            + "\n"
        )
    history = run_hark("history", env=env)
    assert history.returncode == 0, history.stderr
    assert "[link=https://evil.example]" in history.stdout and "[/b] tag" in history.stdout
    assert "'[bold]yes'" in history.stdout and not any(c in history.stdout for c in "\x1b\x07\x9b")


def test_the_live_printer_shows_reply_lines_with_brackets(capsys):
    """`hark listen` prints through this printer: a reply in brackets used to vanish as markup."""
    from voice.cli import _human_printer

    show = _human_printer(one_shot=False)
    show(ev.Transcript(text="add [red]milk[/red] \x1b[2J", language="en", duration=1.0, seconds=0.1))
    show(ev.Reply(text="[Added milk.] [link=https://evil.example]https://good.example[/link] [/b]"))
    show(ev.ConfirmRequest(text="I'll delete [b]3[/b] tasks. Should I do that?"))
    show(ev.Error(stage="llm", message="bad line [1, 2]\x1b[31m"))
    err = capsys.readouterr().err
    assert "you: add [red]milk[/red] [2J" in err
    assert "hark: [Added milk.] [link=https://evil.example]https://good.example[/link] [/b]" in err
    assert "hark asks: I'll delete [b]3[/b] tasks." in err
    assert "error: bad line [1, 2][31m" in err
    assert "\x1b" not in err


def test_ask_prints_the_models_reply_alone_on_stdout(env):
    said = "Line [red]one[/red] stays, [bold]and[/] so does [1, 2]. Then \x1b[2Jnothing is cleared."
    with FakeOllama() as server:
        server.add_model(MODEL)
        server.script(MODEL, [Reply(content=said)])
        r = run_hark("ask", "--quiet", "tell me something", env={**env, "OLLAMA_HOST": server.url})
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Line [red]one[/red] stays, [bold]and[/] so does [1, 2]. Then [2Jnothing is cleared.\n"
    assert "listening" not in r.stderr and "\x1b" not in r.stderr


def test_reply_goes_to_stdout_with_no_loop_chatter(env):
    r = run_hark("ask", "--quiet", "what time is it", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("It's ") and r.stdout.count("\n") == 1
    assert "listening" not in r.stderr


# ------------------------------------------------------------ answers from the keyboard


@pytest.mark.parametrize(
    "typed, confirms",
    [
        (["yes"], True),
        (["Yeah, do it."], True),
        (["no"], False),
        (["sure thing, I guess not"], False),
        (["Okay, that's not what I asked"], False),
        (["I'm sure you misheard me", "no"], False),  # unclear: asked once more, then no
        (["Turn right at the light", "yes"], True),  # unclear, then a real yes
        ([""], False),  # an empty line is silence
    ],
)
def test_ask_on_a_terminal_takes_a_typed_answer(env, _data_dir, typed, confirms):
    seed(_data_dir, "buy milk", "call mom", "fix the bike")
    session = TerminalSession("ask", "--quiet", "delete all my tasks", env=env)
    for i, line in enumerate(typed, start=1):
        session.wait_for(PROMPT, count=i)
        session.type(line + "\n")
    code = session.finish()
    err = session.stderr
    assert "hark asks: I'll delete all 3" in err
    if len(typed) > 1:
        assert "Please say yes or no" in err
    if confirms:
        assert code == 0, err
        assert open_task_texts(_data_dir) == []
        assert "Deleted" in session.stdout
    else:
        assert code == 3, err
        assert open_task_texts(_data_dir) == ["buy milk", "call mom", "fix the bike"]
        assert "Okay, I won't." in session.stdout
    assert "Traceback" not in err


def test_end_of_input_at_the_question_cancels(env, _data_dir):
    seed(_data_dir, "buy milk")
    session = TerminalSession("ask", "--quiet", "delete all my tasks", env=env)
    session.wait_for(PROMPT)
    session.type("\x04")  # Ctrl-D
    assert session.finish() == 3, session.stderr
    assert open_task_texts(_data_dir) == ["buy milk"]


def test_with_no_terminal_only_answer_files_answer(env, _data_dir):
    seed(_data_dir, "buy milk", "call mom")
    piped = run_hark("ask", "--quiet", "delete all my tasks", env=env, input="yes\nyes\n")
    assert piped.returncode == 3, piped.stderr  # a piped "yes" is not the user's answer
    assert PROMPT not in piped.stderr
    assert open_task_texts(_data_dir) == ["buy milk", "call mom"]
    from tests.support.speech import speech_file

    spoken = run_hark(
        "ask",
        "--quiet",
        "delete all my tasks",
        "--answers",
        str(speech_file("speechcommands_yes.wav")),
        env=env,
        input="no\n",
    )
    assert spoken.returncode == 0, spoken.stderr
    assert open_task_texts(_data_dir) == []


def test_a_failed_action_exits_1(env, _data_dir):
    r = run_hark("ask", "--quiet", "undo that", env=env)  # nothing to undo
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "nothing to undo" in r.stdout.lower()
    down = run_hark("ask", "--quiet", "tell me a joke", env=env)  # the model is unreachable
    assert down.returncode == 1 and "Traceback" not in down.stderr


def test_exit_codes_are_documented():
    r = run_hark("ask", "--help", env=hark_env(COLUMNS="200"))
    assert "Exit codes: 0 done; 1 an action failed" in r.stdout and "3 not confirmed" in r.stdout


# ------------------------------------------------------------ --quiet loads no voice


def _imported(stderr: str) -> set[str]:
    """Module names from `python -X importtime` output."""
    return {line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def test_quiet_ask_never_imports_the_speech_synthesizer(env, tmp_path):
    quiet = subprocess.run(
        [HARK[0], "-X", "importtime", *HARK[1:], "ask", "--quiet", "what time is it"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    modules = _imported(quiet.stderr)
    assert {"voice.assistant", "skills.gate"} <= modules  # the check sees the imports
    assert not {m for m in modules if m.split(".")[0] in ("piper", "onnxruntime")}
    # The same check does see Piper when the reply is spoken (into a file here).
    spoken = subprocess.run(
        [HARK[0], "-X", "importtime", *HARK[1:], "ask", "--output", str(tmp_path / "r.wav"), "what time is it"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert spoken.returncode == 0, spoken.stderr[-2000:]
    assert "piper" in {m.split(".")[0] for m in _imported(spoken.stderr)}
