"""The turn loop: one utterance or typed instruction in, one spoken answer out.

Stages run as: utterance -> transcript -> template match (no model) or the
language model with skills as tools -> confirmation gate -> speech. The
model's answer is spoken sentence by sentence while it is still streaming.

Every turn runs in a guard: an unexpected error becomes an `error` event (the
traceback goes to the log) and a short spoken apology, and the loop goes on.
A model turn runs at most `MAX_TOOL_CALLS` tools and speaks at most
`llm.max_spoken_chars` of its answer (the `reply` event carries all of it).
Only the live loop (`live=True`) starts the skills' background work (timers).

Live, `voice.engine.Engine` runs the turns on a worker thread and routes what the
user says: to a new turn, or to the question a turn is waiting on. `barge_in()`
(the user started speaking) stops Hark's voice at once; a reply cut that way ends
its turn, and the conversation keeps only the words the user heard.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from skills.gate import ActionOutcome, ConfirmationGate, PendingAction
from skills.intents import IntentMatcher
from skills.registry import SkillContext, SkillRegistry
from voice import events as ev
from voice.audio import RATE, write_wav
from voice.config import Config
from voice.events import EventBus
from voice.listen import Utterance, UtteranceSource
from voice.llm import DATA_RULE, Brain, BrainError, Conversation, StreamBroken, TextDelta, ThinkingDelta, ToolRequest
from voice.own_voice import echoes
from voice.speak import Mouth
from voice.speaker import AudioSink
from voice.stt import SttError, Transcriber
from voice.text import FIRST_CLAUSE_WORDS, SentenceStream
from voice.tts import Synthesizer
from voice.turn import State, TurnState

log = logging.getLogger("hark.assistant")

# An utterance begun while Hark spoke that repeats what it queued this recently is its own voice.
OWN_VOICE_WINDOW_S = 30.0
# More tool calls than this in one answer is a confused (or steered) model: the rest are dropped.
MAX_TOOL_CALLS = 3
APOLOGY = "Sorry, something went wrong; the details are in the log."


@dataclass
class Parts:
    """Everything the loop needs, built once (models loaded and warmed) by `voice.build`."""

    config: Config
    events: EventBus
    transcriber: Transcriber | None
    synth: Synthesizer
    sink: AudioSink
    brain: Brain
    registry: SkillRegistry
    data_dir: Path


class Assistant:
    """The turn loop: hear (or read) what the user said, answer it, and speak the answer."""

    def __init__(
        self,
        parts: Parts,
        listener: UtteranceSource | None = None,
        live: bool = False,
        answer: Callable[[str], str | None] | None = None,
    ) -> None:
        self.parts = parts
        self._answer = answer  # typed answers (`hark ask` at a terminal), asked instead of the listener
        self.config = parts.config
        self.events = parts.events
        self.listener = listener
        self.state = TurnState(parts.events)
        self.mouth = Mouth(parts.synth, parts.sink, parts.events, parts.config.tts.sentence_silence_s)
        self.ctx = SkillContext(config=parts.config, data_dir=parts.data_dir, announce=self.announce, live=live)
        self.intents = IntentMatcher(parts.registry, ctx=self.ctx)  # task lists, commands, stt.language
        self.gate = ConfirmationGate(
            parts.registry,
            self.ctx,
            parts.events,
            ask=self._ask,
            audit_path=parts.data_dir / "audit.jsonl",
            not_required=set(parts.config.confirm.not_required_for),
            reask_on_unclear=parts.config.confirm.reask_on_unclear,
            set_state=self.state.to,
        )
        # The data rule is added in code, so a customised system prompt still carries it.
        prompt = " ".join(p for p in (parts.config.llm.system_prompt.strip(), DATA_RULE) if p)
        self.conversation = Conversation(prompt, parts.config.llm.max_history_messages)
        self._announcements: queue.Queue[tuple[str, Callable[[], None] | None]] = queue.Queue()
        self._spoken: list[str] = []
        self._unspoken: list[str] = []  # printed in the reply but not read aloud (over max_spoken_chars)
        self._doubtful = False  # the last transcript was rejected by Whisper's own confidence
        self._speaking = False
        self._heard = False  # whether the last speech was fully played
        self._turn_lock = threading.Lock()
        # Barge-in: with an echo canceller the microphone stays open while Hark speaks.
        self.barge_in = False  # set by the engine when the echo canceller works
        self.routed = False  # the engine hands answers over through `answers` (else the listener is asked)
        self.answers: queue.Queue[Utterance | None] = queue.Queue()  # None: no answer will come (shutdown)
        self.awaiting_answer = threading.Event()  # a question is out: the next utterance is its answer
        self._interrupted = threading.Event()  # the user cut this turn's reply short
        self._heard_reply = ""  # what the user heard of it
        self._asked_model = False  # this turn went to the model (so the conversation holds its answer)
        self._recently_said: list[tuple[float, str]] = []  # (when, text): to recognise Hark's own voice
        for problem in parts.registry.load_errors:
            self.events.emit(ev.Error(stage="skills", message=problem))
        if live:  # one-shot `ask`/`run` never fire timers: the running `listen` says them
            parts.registry.start(self.ctx)
        self.events.subscribe(self._on_event)

    # ------------------------------------------------------------ speech out

    def _speak(self, text: str) -> None:
        if not text.strip():
            return
        if self._interrupted.is_set():
            return  # the user cut in: nothing more of this turn is said
        if not self._speaking:
            self._speaking = True
            if self.listener and not self.barge_in:
                self.listener.pause()
        if self.state.state != State.SPEAKING and self.state.state != State.CONFIRMING:
            self.state.to(State.SPEAKING)
        said = self.mouth.say(text)
        if said:
            self._spoken.append(said)
            self._recently_said.append((time.monotonic(), said))

    def _finish_speaking(self) -> None:
        """Wait until everything said has been heard, then listen again (never to ourselves)."""
        if not self._speaking:
            return  # nothing said: keep what the user may have said meanwhile
        self._heard = self.mouth.wait()
        self._speaking = False
        if self.listener and not self.barge_in:
            self.listener.resume()

    def interrupt(self) -> None:
        """The user started speaking (any thread): if Hark is talking, stop now.

        A question is only silenced (what the user says is its answer); a reply is cut,
        and its turn ends with the words that were heard.
        """
        if not self._speaking:
            return
        if self.awaiting_answer.is_set():
            self.mouth.interrupt()
            self.events.emit(ev.BargeIn(during="question"))
            return
        self._interrupted.set()
        self._heard_reply = self.mouth.interrupt()
        self.events.emit(ev.BargeIn(during="reply", heard=self._heard_reply))

    def own_voice(self, text: str) -> bool:
        """Whether a transcript is Hark's own recent words coming back (what the echo canceller missed)."""
        now = time.monotonic()
        self._recently_said = [(t, s) for t, s in self._recently_said if now - t < OWN_VOICE_WINDOW_S]
        return bool(self._recently_said) and echoes(text, " ".join(s for _, s in self._recently_said))

    def announce(self, text: str, on_played: Callable[[], None] | None = None) -> None:
        """Something to say unprompted (a timer is due); spoken at the next idle moment. Any thread.

        `on_played()` is called once the words have actually been played (not when queued),
        so a timer is marked fired only after the user could hear it.
        """
        self.events.emit(ev.TimerFired(text=text))
        self._announcements.put((text, on_played))

    def _on_event(self, event) -> None:
        # A lost microphone is said aloud too (if the speaker works), at the next idle moment.
        if event.name == ev.ERROR and event.data.get("stage") == "microphone" and event.data.get("spoken"):
            self._announcements.put((str(event.data["spoken"]), None))

    def speak_announcements(self) -> None:
        """Speak what skills announced (timers, reminders) while no turn was running."""
        while True:
            try:
                text, on_played = self._announcements.get_nowait()
            except queue.Empty:
                return
            with self._turn_lock:
                try:
                    self._begin_turn()
                    self._spoken = []
                    failures = self.mouth.failures
                    self._heard = False
                    self._speak(text)
                    self._finish_speaking()
                    heard = self._heard and self.mouth.failures == failures
                    self.events.emit(ev.Reply(text=text, announcement=True, played=heard))
                    if on_played is not None and heard:
                        on_played()  # only now may a timer count as fired
                    elif on_played is not None:
                        self.events.emit(
                            ev.Error(
                                stage="speech",
                                message="An announcement could not be played, so it was not marked as heard.",
                            )
                        )
                except Exception as e:
                    self._recover(e, "announcement")
                    continue
                self.state.to(State.LISTENING)

    # ------------------------------------------------------------ speech in

    def transcribe(self, utt: Utterance) -> str:
        """The text of an utterance: from its stream when it was sent while spoken, else transcribed whole."""
        if self.config.debug.record_audio:
            folder = self.parts.data_dir / "recordings"
            try:
                write_wav(folder / f"{datetime.now():%Y%m%d-%H%M%S-%f}.wav", utt.audio, RATE)
            except OSError as e:  # a debugging aid must never cost the user's turn
                log.warning("could not keep the recording in %s: %s", folder, e)
                self.events.emit(ev.Error(stage="recording", message=f"could not keep the recording in {folder}: {e}"))
        if utt.stream is not None:
            # The listener streamed it while the user spoke (a Wyoming server): only the decoding is left.
            t = utt.stream.finish(utt.audio)
        elif self.parts.transcriber is None:
            raise SttError("no speech-to-text model is loaded")
        else:
            t = self.parts.transcriber.transcribe(utt.audio)
        self.events.emit(ev.Transcript(text=t.text, language=t.language, duration=t.duration, seconds=t.seconds))
        self._doubtful = bool(t.doubtful)  # heard, but Whisper itself doubts the words
        return t.text

    def _ask(self, question: str) -> str | None:
        """The gate's question: speak it, wait until it has been heard, then take the answer."""
        if self.routed:
            self.awaiting_answer.set()  # from now on, what the user says answers it (even mid-question)
        try:
            self._speak(question)
            self._finish_speaking()
            if self._answer is not None:
                return self._answer(question)
            if self.listener is None or self.listener.exhausted:
                return None
            utt = self._next_answer() if self.routed else self.listener.next_utterance(self.config.confirm.timeout_s)
        finally:
            self.awaiting_answer.clear()
        if utt is None:
            return None
        try:
            text = self.transcribe(utt)
        except SttError as e:
            self.events.emit(ev.Error(stage="stt", message=str(e)))
            return None
        if text and utt.over_speech and self.own_voice(text):  # its own question heard back is no answer
            self.events.emit(ev.OwnVoice(text=text, message="That was my own voice, not yours; I ignored it."))
            return None
        return text or None

    def _act(self, name: str, arguments: object, transcript: str, source: str) -> ActionOutcome:
        """One skill call through the gate, the question being a state of the dialogue.

        While the gate's `PendingAction` is open (`awaiting_answer`), the next thing the user
        says, or silence, settles it.
        """
        step = self.gate.begin(name, arguments, transcript=transcript, source=source)
        while isinstance(step, PendingAction):
            try:
                answer = self._ask(step.question)
            except BaseException:
                self.gate.cancel(step, "the question was interrupted")
                raise
            step = self.gate.answer(step, answer)
        return step

    def _next_answer(self) -> Utterance | None:
        """The engine's next utterance, within `confirm.timeout_s` of the question (longer if one has begun)."""
        try:
            return self.answers.get(timeout=self.config.confirm.timeout_s)
        except queue.Empty:
            pass
        endpointer = getattr(self.listener, "endpointer", None)
        if endpointer is None or not endpointer.in_speech:
            return None  # silence: the question is cancelled
        try:
            return self.answers.get(timeout=self.config.vad.max_utterance_s + 1.0)
        except queue.Empty:
            return None

    # ------------------------------------------------------------ turns

    def handle_utterance(self, utt: Utterance) -> None:
        """One spoken turn: transcribe, then answer (an unexpected error is reported, never raised)."""
        with self._turn_lock:
            try:
                self._handle_utterance_locked(utt)
            except Exception as e:
                self._recover(e, "turn")

    def _begin_turn(self) -> None:
        self._asked_model = False
        self._interrupted.clear()
        self._heard_reply = ""
        self.mouth.new_reply()

    def _handle_utterance_locked(self, utt: Utterance) -> None:
        self._begin_turn()
        self._unspoken = []
        if self.state.state == State.LISTENING:
            self.state.to(State.RECORDING)
        self.state.to(State.TRANSCRIBING)
        try:
            text = self.transcribe(utt)
        except SttError as e:
            self.events.emit(ev.Error(stage="stt", message=str(e)))
            self._spoken = []
            self._speak("Sorry, speech recognition failed. " + str(e))
            self._end_turn()
            return
        if utt.truncated:
            self._spoken = []
            self._speak(f"That was too long; I only heard the first {self.config.vad.max_utterance_s:g} seconds.")
        if not text and self._doubtful:  # never guess: an invented sentence could act
            self._spoken = []
            self._speak("Sorry, I didn't catch that.")
            self._end_turn()
            return
        if not text:
            self._end_turn(reply=False)
            return
        if utt.over_speech and self.own_voice(text):  # never act on Hark's own words
            self.events.emit(ev.OwnVoice(text=text, message="That was my own voice, not yours; I ignored it."))
            self._end_turn(reply=False)
            return
        self._handle_text_locked(text, keep_spoken=utt.truncated)

    def handle_text(self, text: str) -> None:
        """One typed turn: answer the text (an unexpected error is reported, never raised)."""
        with self._turn_lock:
            try:
                self._begin_turn()
                self._handle_text_locked(text)
            except Exception as e:
                self._recover(e, "turn")

    def _recover(self, e: Exception, what: str) -> None:
        """The guard: an unexpected error ends this turn, never the loop."""
        log.exception("unexpected error in %s", what)
        self.events.emit(ev.Error(stage=what, message=f"Unexpected error: {type(e).__name__}: {e}"))
        try:
            self.mouth.stop()  # drop the rest of a half-spoken answer
            if self.state.state == State.RECORDING:
                self.state.to(State.LISTENING)
            self._spoken = []
            self._unspoken = []
            self._speak(APOLOGY)
            self._end_turn()
        except Exception:  # even the apology failed (no speaker): the log has it, listen on
            log.exception("could not recover from the error")
            self._speaking = False
            if self.listener is not None:
                try:
                    self.listener.resume()
                except Exception:
                    log.exception("could not resume listening")
            self.state.state = State.LISTENING

    def _handle_text_locked(self, text: str, keep_spoken: bool = False) -> None:
        if not keep_spoken:
            self._spoken = []
        self._unspoken = []
        self.state.to(State.THINKING)
        match = self.intents.match(text)
        if match is not None:
            self.events.emit(
                ev.Intent(
                    skill=match.name,
                    arguments=match.arguments,
                    sentence=match.sentence,
                    language=match.language,
                    intent=match.intent,
                )
            )
            outcome = self._act(match.name, match.arguments, text, "template")
            # In the sentence's language where the package has a reply (Korean), else the skill's (English) words.
            reply = match.reply(self.ctx, outcome.text, outcome.ok, outcome.data)
            self._say_in(match.language if reply != outcome.text else "en", reply)
        else:
            self._ask_model(text)
        self._end_turn()

    def _say_in(self, language: str, text: str) -> None:
        """Speak a reply in `language`; with no voice for it, print it (in the reply event) and say why once."""
        tts = self.config.tts
        if language == tts.language or language in tts.voices or not text.strip():
            self._speak(text)
            return
        self._unspoken.append(text)
        self.events.emit(
            ev.Error(
                stage="voice",
                message=(
                    f"No {language} voice is installed, so this reply is printed only. To hear it, set "
                    f"tts.voices: {{{language}: <a {language} Piper voice .onnx or a Wyoming URI>}} in the config."
                ),
            )
        )

    def _end_turn(self, reply: bool = True) -> None:
        self._finish_speaking()
        if self._interrupted.is_set() and self._asked_model:
            self.conversation.cut_reply(self._heard_reply)  # the model remembers what was heard, not meant
        if reply and self._interrupted.is_set():
            self.events.emit(ev.Reply(text=self._heard_reply, interrupted=True))
        elif reply:
            if self._unspoken:
                self.events.emit(
                    ev.Reply(
                        text=" ".join(self._spoken + self._unspoken),
                        unspoken_chars=sum(len(t) for t in self._unspoken),
                    )
                )
            else:
                self.events.emit(ev.Reply(text=" ".join(self._spoken)))
        if self.state.state != State.LISTENING:
            self.state.to(State.LISTENING)

    def _ask_model(self, text: str) -> None:
        self._asked_model = True
        brain = self.parts.brain
        conv = self.conversation
        mark = conv.mark()
        conv.add_user(text)
        sentences = SentenceStream(first_clause_words=FIRST_CLAUSE_WORDS)  # speak the first clause at once
        answer: list[str] = []
        calls: list[ToolRequest] = []
        thinking = 0
        budget = [self.config.llm.max_spoken_chars]

        def say(sentence: str) -> None:
            # Past the cap (or once one sentence didn't fit) the answer is printed, not read aloud.
            if self._unspoken or len(sentence) > budget[0]:
                self._unspoken.append(sentence.strip())
                return
            budget[0] -= len(sentence)
            self._speak(sentence)

        try:
            for item in brain.respond(conv, self.parts.registry.tool_schemas()):
                if self._interrupted.is_set():
                    break  # the user cut in: stop generating (closing the stream stops the model)
                if isinstance(item, TextDelta):
                    answer.append(item.text)
                    for sentence in sentences.push(item.text):
                        say(sentence)
                elif isinstance(item, ThinkingDelta):
                    thinking += item.chars
                elif isinstance(item, ToolRequest):
                    calls.append(item)
            for sentence in sentences.flush():
                say(sentence)
        except BrainError as e:
            partial = "".join(answer) or (e.partial if isinstance(e, StreamBroken) else "")
            self.events.emit(ev.Error(stage="llm", message=str(e)))
            # The unfinished sentence is not spoken (it would end mid-word); the finished ones were.
            # Keep the user's words and whatever was already said; drop only the broken half-turn.
            conv.rollback(mark)
            conv.add_user(text)
            conv.add_assistant(partial + (" [answer cut off]" if partial else "[no answer: " + str(e) + "]"))
            self._speak(e.spoken)
            return
        finally:
            if thinking:
                self.events.emit(ev.Thinking(chars=thinking))
        if self._interrupted.is_set():
            # No action runs; `_end_turn` leaves the model only the words the user heard.
            conv.add_assistant("".join(answer))
            if calls:
                self.events.emit(ev.Cancelled(skill=calls[0].name, reason="interrupted", answer=None))
            return
        if self._unspoken:
            self._speak("The rest is on the screen.")
        if len(calls) > MAX_TOOL_CALLS:
            dropped = calls[MAX_TOOL_CALLS:]
            calls = calls[:MAX_TOOL_CALLS]
            self.events.emit(
                ev.Error(
                    stage="llm",
                    message=(
                        f"The model asked for {len(calls) + len(dropped)} actions in one answer; only the first "
                        f"{MAX_TOOL_CALLS} are considered, the rest were dropped: {', '.join(c.name for c in dropped)}."
                    ),
                )
            )
            self._speak(
                f"The model asked for {len(calls) + len(dropped)} actions at once; "
                f"I'll only consider the first {MAX_TOOL_CALLS}."
            )
        conv.add_assistant("".join(answer), calls or None)
        # Skill results are spoken as they are: no second model round (faster, and nothing invented).
        for call in calls:
            if self._interrupted.is_set():
                break
            outcome = self._act(call.name, call.arguments, text, "model")
            result = outcome.text if outcome.executed or outcome.ok else (outcome.text + " (not done)")
            conv.add_tool_result(call.name, result)
            self._speak(outcome.text)
        if not calls and not "".join(answer).strip():
            self._speak("Sorry, I have no answer to that.")

    # ------------------------------------------------------------ loops

    def run(self, stop: threading.Event, idle_poll_s: float = 0.2) -> None:
        """Serve until `stop` is set or the utterance source runs out."""
        assert self.listener is not None
        while not stop.is_set():
            self.speak_announcements()
            if self.listener.exhausted:
                break
            try:
                utt = self.listener.next_utterance(timeout=idle_poll_s)
            except Exception as e:  # the source failed: report it, and keep serving
                log.exception("reading the next utterance failed")
                self.events.emit(ev.Error(stage="listen", message=f"Unexpected error: {type(e).__name__}: {e}"))
                stop.wait(idle_poll_s)
                continue
            if utt is None:
                continue
            self.handle_utterance(utt)
        self.speak_announcements()

    def close(self) -> None:
        """Shut down in order: input first, then processing, then output."""
        if self.listener:
            self.listener.close()
        self.ctx.close()
        self.mouth.close()
        self.parts.sink.close()
