"""The live engine: hearing, thinking and speaking at once, so Hark answers sooner and can be interrupted.

Threads, and what each owns (data flows one way: audio -> utterances -> turns -> speech):
- the microphone callback (PortAudio) -> the listener thread: echo cancelling, endpointing, and
  speculative transcription on its own worker (voice.listen, voice.speculate);
- this engine's thread: takes each utterance and decides where it goes (below);
- one turn thread at a time: transcript -> templates or the model -> the gate -> sentences;
- the speech thread (voice.speak) -> the speaker callback: synthesis and playback.

Where an utterance goes is the dialogue's state:
- a question is out (`Assistant.awaiting_answer`, while the gate's `PendingAction` is open: the
  confirming state): it is the answer, even when it began while the question was still being
  spoken; silence until `confirm.timeout_s` is the answer "nothing", and so is shutting down;
- a turn is still running: it waits, and runs as the next turn;
- otherwise it starts a turn.
Barge-in: when the listener hears speech start while Hark speaks, `Assistant.interrupt` stops the
voice from the listener's thread at once (no queue in between); a cut reply ends its turn, and the
utterance that interrupted it runs next. Timer announcements are spoken only between turns.

Barge-in needs the echo canceller (`audio.barge_in`); without it (or when it cannot load) Hark
stops hearing while it speaks, as before. Push-to-talk plugs in as another utterance source.
"""

from __future__ import annotations

import collections
import logging
import threading

from voice import events as ev
from voice.assistant import Assistant
from voice.listen import Utterance, UtteranceSource

log = logging.getLogger("hark.engine")


class Engine:
    """Routes the listener's utterances to turns (on a worker thread) or to the question a turn asked."""

    def __init__(self, assistant: Assistant, listener: UtteranceSource, poll_s: float = 0.05) -> None:
        self.assistant = assistant
        self.listener = listener
        self.poll_s = poll_s
        assistant.routed = True  # answers come through the engine, not straight from the listener
        self._waiting: collections.deque[Utterance] = collections.deque()
        self._turn: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        """Whether a turn is running."""
        return self._turn is not None and self._turn.is_alive()

    def _route(self, utt: Utterance) -> None:
        if self.busy and self.assistant.awaiting_answer.is_set():
            # Even a brief one: a short "yes" over the question is an answer, and a leak of the
            # question itself holds no yes (skills.confirm).
            self.assistant.answers.put(utt)
        elif utt.over_speech and not utt.stopped_hark:
            # Begun over Hark's voice and never long enough to stop it: a leak of its own voice, or a cough.
            log.info("ignored %.2f s of sound heard over Hark's voice", utt.end_t - utt.start_t)
        else:
            self._waiting.append(utt)

    def _start_turn(self, utt: Utterance) -> None:
        self._turn = threading.Thread(
            target=self.assistant.handle_utterance, args=(utt,), name="hark-turn", daemon=True
        )
        self._turn.start()

    def run(self, stop: threading.Event) -> None:
        """Serve until `stop` is set or the utterance source runs out."""
        while not stop.is_set():
            if not self.busy:
                if self._waiting:
                    self._start_turn(self._waiting.popleft())
                    continue
                self.assistant.speak_announcements()  # only between turns
                if self.listener.exhausted:
                    break
            try:
                utt = self.listener.next_utterance(timeout=self.poll_s)
            except Exception as e:  # the source failed: report it, and keep serving
                log.exception("reading the next utterance failed")
                self.assistant.events.emit(
                    ev.Error(stage="listen", message=f"Unexpected error: {type(e).__name__}: {e}")
                )
                stop.wait(0.2)
                continue
            if utt is not None:
                self._route(utt)
        self.finish()

    def finish(self, timeout: float = 10.0) -> None:
        """Let a running turn end (its speech is cut short), then say what is still announced."""
        turn = self._turn
        if turn is not None and turn.is_alive():
            self.assistant.interrupt()
            if self.assistant.awaiting_answer.is_set():
                self.assistant.answers.put(None)  # a question still out is cancelled, not left waiting
            turn.join(timeout)
        self.assistant.speak_announcements()
