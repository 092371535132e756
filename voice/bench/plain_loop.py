"""The plain-loop anchor: a voice loop built straight from the design card, measured beside Hark by `hark bench`.

    python -m voice.bench.plain_loop --host URL --model NAME --whisper DIR --voice VOICE.onnx

webrtcvad (aggressiveness 3) on 30 ms frames, speech from 3 voiced frames of 5, the end after 300 ms of
non-speech; the whole utterance to faster-whisper (tiny.en, beam 1, int8 on the CPU); the reply from the
`ollama` client; Piper speaks it as it yields each sentence. The microphone is
`sounddevice.RawInputStream(dtype="int16", blocksize=480)` whose callback only queues the bytes (no numpy
work there); what it hears while busy (transcribing, answering, speaking) is dropped, so it never hears itself
and cannot be interrupted. No intents, no confirmation, no level normalisation.

It prints the events Hark prints with `--json` (ready, state, speech_start, speech_end, transcript, reply,
audio_out_start, audio_out_end, error) with `t` in seconds since its start, so one harness measures both.
Ctrl-C (SIGINT) or SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import collections
import json
import queue
import signal
import sys
import time
from typing import Any

RATE = 16000
FRAME = 480  # samples: 30 ms at 16 kHz, the frame webrtcvad takes
HANGOVER_FRAMES = 10  # 300 ms of non-speech ends an utterance
PRE_ROLL_FRAMES = 10  # 300 ms kept from before the trigger, so the first word is whole
START_VOICED, START_WINDOW = 3, 5  # speech starts when 3 of the last 5 frames are voiced
MIN_UTTERANCE_FRAMES = 8  # shorter than 240 ms: a click or a cough, dropped
SYSTEM_PROMPT = "You are a voice assistant. Answer in one to three short spoken sentences."


class Events:
    """Hark's JSON-lines event format on stdout: {"t": seconds since start, "event": name, ...}."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self, name: str, **fields: Any) -> None:
        """Print one event."""
        line = {"t": round(time.monotonic() - self.t0, 4), "event": name, **fields}
        print(json.dumps(line, ensure_ascii=False), flush=True)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Load the models, listen on the default microphone and answer on the default speaker until stopped."""
    parser = argparse.ArgumentParser(description="The plain voice loop `hark bench` measures beside Hark.")
    parser.add_argument("--host", required=True, help="the Ollama server's URL")
    parser.add_argument("--model", required=True, help="the model to chat with")
    parser.add_argument("--whisper", required=True, help="a CTranslate2 Whisper model directory")
    parser.add_argument("--voice", required=True, help="a Piper voice (.onnx, its .onnx.json beside it)")
    args = parser.parse_args(argv)
    emit = Events()
    signal.signal(signal.SIGTERM, _interrupt)

    import numpy as np
    import ollama
    import sounddevice as sd
    import webrtcvad
    from faster_whisper import WhisperModel
    from piper import PiperVoice

    whisper = WhisperModel(args.whisper, device="cpu", compute_type="int8")
    segments, _ = whisper.transcribe(np.zeros(RATE, np.float32), beam_size=1, language="en")
    list(segments)  # warm: the first call is slow
    voice = PiperVoice.load(args.voice)
    for _ in voice.synthesize("Ready."):
        pass
    client = ollama.Client(host=args.host, trust_env=False)
    vad = webrtcvad.Vad(3)
    history: list[dict[str, str]] = [{"role": "system", "content": SYSTEM_PROMPT}]

    heard: queue.Queue[bytes] = queue.Queue()

    def callback(indata: Any, frames: int, time_info: Any, status: Any) -> None:  # PortAudio's thread
        heard.put(bytes(indata))

    speaker = sd.RawOutputStream(samplerate=voice.config.sample_rate, channels=1, dtype="int16")
    mic = sd.RawInputStream(samplerate=RATE, channels=1, dtype="int16", blocksize=FRAME, callback=callback)

    def answer(audio: Any) -> None:
        emit("state", state="transcribing")
        t0 = time.perf_counter()
        segments, _ = whisper.transcribe(audio, beam_size=1, language="en")
        text = "".join(s.text for s in segments).strip()
        emit("transcript", text=text, language="en", seconds=round(time.perf_counter() - t0, 3))
        if not text:
            return
        emit("state", state="thinking")
        history.append({"role": "user", "content": text})
        try:
            reply = client.chat(model=args.model, messages=history[:1] + history[-10:]).message.content or ""
        except Exception as e:  # the server down: say so on the event stream and keep listening
            emit("error", stage="llm", message=f"{type(e).__name__}: {e}")
            return
        reply = reply.strip()
        history.append({"role": "assistant", "content": reply})
        emit("reply", text=reply)
        if not reply:
            return
        emit("state", state="speaking")
        speaker.start()
        for i, chunk in enumerate(voice.synthesize(reply)):
            if i == 0:
                emit("audio_out_start")
            speaker.write(chunk.audio_int16_bytes)
        speaker.stop()  # returns once everything written has been played
        emit("audio_out_end")

    pos = 0  # samples read from the microphone: the stream time of `audio_t`
    ring: collections.deque[bytes] = collections.deque(maxlen=PRE_ROLL_FRAMES)
    recent: collections.deque[bool] = collections.deque(maxlen=START_WINDOW)
    utterance: list[bytes] | None = None
    silent = voiced_frames = 0
    mic.start()
    emit("ready", microphone=str(sd.query_devices(kind="input")["name"]),
         speaker=str(sd.query_devices(kind="output")["name"]))  # fmt: skip
    emit("state", state="listening")
    try:
        while True:
            frame = heard.get()
            pos += len(frame) // 2
            voiced = vad.is_speech(frame, RATE)
            if utterance is None:
                ring.append(frame)
                recent.append(voiced)
                if sum(recent) >= START_VOICED:
                    utterance, silent, voiced_frames = list(ring), 0, sum(recent)
                    first_voiced = pos - (len(recent) - list(recent).index(True)) * FRAME
                    emit("speech_start", audio_t=round(first_voiced / RATE, 3))  # as Hark: the first voiced frame
                    emit("state", state="recording")
                continue
            utterance.append(frame)
            voiced_frames += voiced
            silent = 0 if voiced else silent + 1
            if silent < HANGOVER_FRAMES:
                continue
            duration = len(utterance) * FRAME / RATE
            if voiced_frames < MIN_UTTERANCE_FRAMES:
                emit("speech_end", audio_t=round(pos / RATE, 3), discarded="too short")
            else:
                emit("speech_end", audio_t=round(pos / RATE, 3), duration=round(duration, 3))
                answer(np.frombuffer(b"".join(utterance), np.int16).astype(np.float32) / 32768.0)
            utterance = None
            ring.clear()
            recent.clear()
            while not heard.empty():  # what it heard while busy is dropped: it never hears itself
                pos += len(heard.get_nowait()) // 2
            emit("state", state="listening")
    except KeyboardInterrupt:
        pass
    finally:
        mic.stop()
        mic.close()
        speaker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
