"""The turn loop: one utterance or typed instruction in, one spoken answer out.

Stages run as: utterance -> transcript -> template match (no model) or the
language model with skills as tools -> confirmation gate -> speech. The
model's answer is spoken sentence by sentence while it is still streaming.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional

from skills.gate import ConfirmationGate
from skills.intents import IntentMatcher
from skills.registry import SkillContext, SkillRegistry
from voice import events as ev
from voice.audio import AudioSink, write_wav
from voice.config import Config
from voice.events import EventBus
from voice.listen import Utterance, UtteranceSource
from voice.llm import Brain, BrainError, Conversation, StreamBroken, TextDelta, ThinkingDelta, ToolRequest
from voice.speak import Mouth
from voice.stt import SttError, Transcriber
from voice.text import SentenceStream
from voice.tts import Synthesizer
from voice.turn import State, TurnState

log = logging.getLogger("hark.assistant")


@dataclass
class Parts:
    """Everything the loop needs, built once (models loaded and warmed) by `voice.build`."""

    config: Config
    events: EventBus
    transcriber: Optional[Transcriber]
    synth: Synthesizer
    sink: AudioSink
    brain: Brain
    registry: SkillRegistry
    data_dir: Path


class Assistant:
    def __init__(self, parts: Parts, listener: Optional[UtteranceSource] = None) -> None:
        self.parts = parts
        self.config = parts.config
        self.events = parts.events
        self.listener = listener
        self.state = TurnState(parts.events)
        self.mouth = Mouth(parts.synth, parts.sink, parts.events, parts.config.tts.sentence_silence_s)
        self.ctx = SkillContext(config=parts.config, data_dir=parts.data_dir, announce=self.announce)
        self.intents = IntentMatcher(parts.registry)
        self.gate = ConfirmationGate(
            parts.registry, self.ctx, parts.events, ask=self._ask,
            audit_path=parts.data_dir / "audit.jsonl",
            not_required=set(parts.config.confirm.not_required_for),
            reask_on_unclear=parts.config.confirm.reask_on_unclear,
            set_state=self.state.to,
        )
        self.conversation = Conversation(parts.config.llm.system_prompt, parts.config.llm.max_history_messages)
        self._announcements: "queue.Queue[str]" = queue.Queue()
        self._spoken: list[str] = []
        self._speaking = False
        self._turn_lock = threading.Lock()
        for problem in parts.registry.load_errors:
            self.events.emit(ev.ERROR, stage="skills", message=problem)
        parts.registry.start(self.ctx)

    # ------------------------------------------------------------ speech out

    def _speak(self, text: str) -> None:
        if not text.strip():
            return
        if not self._speaking:
            self._speaking = True
            if self.listener and self.config.audio.mute_while_speaking:
                self.listener.pause()
        if self.state.state != State.SPEAKING and self.state.state != State.CONFIRMING:
            self.state.to(State.SPEAKING)
        said = self.mouth.say(text)
        if said:
            self._spoken.append(said)

    def _finish_speaking(self) -> None:
        """Wait until everything said has been heard, then listen again (never to ourselves)."""
        if not self._speaking:
            return  # nothing said: keep what the user may have said meanwhile
        self.mouth.wait()
        self._speaking = False
        if self.listener and self.config.audio.mute_while_speaking:
            self.listener.resume()

    def announce(self, text: str) -> None:
        """Something to say unprompted (a timer is due); spoken at the next idle moment. Any thread."""
        self.events.emit(ev.TIMER_FIRED, text=text)
        self._announcements.put(text)

    def speak_announcements(self) -> None:
        while True:
            try:
                text = self._announcements.get_nowait()
            except queue.Empty:
                return
            with self._turn_lock:
                self._spoken = []
                self._speak(text)
                self._finish_speaking()
                self.events.emit(ev.REPLY, text=text, announcement=True)
                self.state.to(State.LISTENING)

    # ------------------------------------------------------------ speech in

    def transcribe(self, utt: Utterance) -> str:
        if self.config.debug.record_audio:
            folder = self.parts.data_dir / "recordings"
            write_wav(folder / f"{datetime.now():%Y%m%d-%H%M%S-%f}.wav", utt.audio, 16000)
        if self.parts.transcriber is None:
            raise SttError("no speech-to-text model is loaded")
        t = self.parts.transcriber.transcribe(utt.audio)
        self.events.emit(ev.TRANSCRIPT, text=t.text, language=t.language, duration=t.duration, seconds=t.seconds)
        return t.text

    def _ask(self, question: str) -> Optional[str]:
        """The gate's question: speak it, wait until it has been heard, then take the answer."""
        self._speak(question)
        self._finish_speaking()
        if self.listener is None or self.listener.exhausted:
            return None
        utt = self.listener.next_utterance(timeout=self.config.confirm.timeout_s)
        if utt is None:
            return None
        try:
            text = self.transcribe(utt)
        except SttError as e:
            self.events.emit(ev.ERROR, stage="stt", message=str(e))
            return None
        return text or None

    # ------------------------------------------------------------ turns

    def handle_utterance(self, utt: Utterance) -> None:
        with self._turn_lock:
            if self.state.state == State.LISTENING:
                self.state.to(State.RECORDING)
            self.state.to(State.TRANSCRIBING)
            try:
                text = self.transcribe(utt)
            except SttError as e:
                self.events.emit(ev.ERROR, stage="stt", message=str(e))
                self._spoken = []
                self._speak("Sorry, speech recognition failed. " + str(e))
                self._end_turn()
                return
            if utt.truncated:
                self._spoken = []
                self._speak(f"That was too long; I only heard the first {self.config.vad.max_utterance_s:g} seconds.")
            if not text:
                self._end_turn(reply=False)
                return
            self._handle_text_locked(text, keep_spoken=utt.truncated)

    def handle_text(self, text: str) -> None:
        with self._turn_lock:
            self._handle_text_locked(text)

    def _handle_text_locked(self, text: str, keep_spoken: bool = False) -> None:
        if not keep_spoken:
            self._spoken = []
        self.state.to(State.THINKING)
        match = self.intents.match(text)
        if match is not None:
            self.events.emit(ev.INTENT, name=match.name, arguments=match.arguments, sentence=match.sentence)
            outcome = self.gate.execute(match.name, match.arguments, transcript=text, source="template")
            self._speak(outcome.text)
        else:
            self._ask_model(text)
        self._end_turn()

    def _end_turn(self, reply: bool = True) -> None:
        self._finish_speaking()
        if reply:
            self.events.emit(ev.REPLY, text=" ".join(self._spoken))
        if self.state.state != State.LISTENING:
            self.state.to(State.LISTENING)

    def _ask_model(self, text: str) -> None:
        brain = self.parts.brain
        conv = self.conversation
        mark = conv.mark()
        conv.add_user(text)
        sentences = SentenceStream()
        answer: list[str] = []
        calls: list[ToolRequest] = []
        thinking = 0
        try:
            for item in brain.respond(conv, self.parts.registry.tool_schemas()):
                if isinstance(item, TextDelta):
                    answer.append(item.text)
                    for sentence in sentences.push(item.text):
                        self._speak(sentence)
                elif isinstance(item, ThinkingDelta):
                    thinking += item.chars
                elif isinstance(item, ToolRequest):
                    calls.append(item)
            for sentence in sentences.flush():
                self._speak(sentence)
        except BrainError as e:
            partial = "".join(answer) or (e.partial if isinstance(e, StreamBroken) else "")
            self.events.emit(ev.ERROR, stage="llm", message=str(e))
            # The unfinished sentence is not spoken (it would end mid-word); the finished ones were.
            # Keep the user's words and whatever was already said; drop only the broken half-turn.
            conv.rollback(mark)
            conv.add_user(text)
            conv.add_assistant(partial + (" [answer cut off]" if partial else "[no answer: " + str(e) + "]"))
            self._speak(str(e))
            return
        finally:
            if thinking:
                self.events.emit(ev.THINKING, chars=thinking)
        conv.add_assistant("".join(answer), calls or None)
        # Skill results are spoken as they are: no second model round (faster, and nothing invented).
        for call in calls:
            outcome = self.gate.execute(call.name, call.arguments, transcript=text, source="model")
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
            utt = self.listener.next_utterance(timeout=idle_poll_s)
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
