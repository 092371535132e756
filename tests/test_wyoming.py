"""Remote speech over Wyoming: real wyoming-faster-whisper and wyoming-piper servers on loopback.

Transcription through the server is compared with the local engine on the shared
recordings; synthesis through the server is played into a WAV and heard back by
Whisper; every fault (refused, wrong port, timeout, garbage, a server killed
mid-utterance) gets its message and exactly one fallback to the local engine,
and no audio the user gave is lost.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import jiwer
import numpy as np
import pytest
from whisper_normalizer.english import EnglishTextNormalizer

from tests.support.cli import hark_env, run_hark
from tests.support.speech import nonspeech_rows, speech_file, speech_rows
from tests.support.wyoming_servers import free_port, piper_server, whisper_server
from tests.test_stt import endpointed
from voice import events as ev
from voice.audio import RATE, read_audio
from voice.config import SttConfig, TtsConfig
from voice.events import EventBus
from voice.speak import Mouth
from voice.speaker import WavSink
from voice.stt import SttError
from voice.tts import TtsError
from voice.wyoming_link import WyomingError, server_problem
from voice.wyoming_stt import FallbackTranscriber, WyomingTranscriber, guess_language
from voice.wyoming_tts import FallbackSynthesizer, LanguageVoices, WyomingSynthesizer, language_voices

# Every test here starts a real server or loads a real model (make test-fast skips them).
pytestmark = pytest.mark.slow
normalize = EnglishTextNormalizer()


@pytest.fixture(scope="session")
def asr_server(tmp_path_factory):
    server = whisper_server(tmp_path_factory.mktemp("wyoming-whisper")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tts_server(tmp_path_factory):
    server = piper_server(tmp_path_factory.mktemp("wyoming-piper")).start()
    yield server
    server.stop()


def remote_stt(uri: str, **kw) -> WyomingTranscriber:
    return WyomingTranscriber(uri, SttConfig(model="tiny.en", device="cpu", uri=uri, **kw))


def with_fallback(uri: str, transcriber, events: list | None = None, **kw) -> FallbackTranscriber:
    def emit(event):
        if events is not None:
            events.append((event.name, event.data))

    return FallbackTranscriber(remote_stt(uri, **kw), lambda: transcriber, emit)


class FakeSocketServer:
    """A loopback listener that misbehaves on purpose: sends `reply` bytes, or nothing, then maybe hangs up."""

    def __init__(self, reply: bytes = b"", hang_up: bool = True) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.uri = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.reply = reply
        self.hang_up = hang_up
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.conns.append(conn)
            if self.reply:
                conn.sendall(self.reply)
            if self.hang_up:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)
        for c in self.conns:
            c.close()
        self.sock.close()


# ---------------------------------------------------------------- speech to text


def test_shared_speech_through_the_server_scores_like_the_local_engine(asr_server, transcriber):
    remote = remote_stt(asr_server.uri)
    refs, local_hyps, remote_hyps = [], [], []
    for row in speech_rows():
        audio = read_audio(speech_file(row["file"]))
        pieces = endpointed(audio)
        refs.append(normalize(row["reference_transcript"]))
        local_hyps.append(normalize(" ".join(transcriber.transcribe(p).text for p in pieces)))
        remote_hyps.append(normalize(" ".join(remote.transcribe(p).text for p in pieces)))
    local_wer = jiwer.wer(refs, local_hyps)
    remote_wer = jiwer.wer(refs, remote_hyps)
    print(f"WER over {len(refs)} recordings: local {local_wer:.3%}, server {remote_wer:.3%}")
    assert remote_wer <= local_wer + 0.01, list(zip(refs, local_hyps, remote_hyps, strict=True))


def test_audio_streams_while_speaking_and_the_transcript_comes_soon_after(asr_server):
    """Chunks go out as they are fed (paced like a microphone); after audio-stop only decoding is left."""
    audio = read_audio(speech_file("cmu_goforward.wav"))
    stream = remote_stt(asr_server.uri).open_stream()
    frame = RATE * 30 // 1000
    sent_before_end = 0
    for i in range(0, len(audio), frame):
        stream.feed(audio[i : i + frame])
        sent_before_end += 1
        if i % (frame * 10) == 0:
            time.sleep(0.03)  # a microphone delivers over time; the server already holds what was said
    t = stream.finish()
    assert normalize(t.text) == normalize("go forward ten meters")
    assert sent_before_end > 50 and t.language == "en"
    assert len(stream.audio) == len(audio)
    assert t.seconds < 10.0


def test_a_refused_connection_falls_back_once_with_a_clear_message(transcriber):
    port = free_port()  # nothing listens there
    events: list = []
    fb = with_fallback(f"tcp://127.0.0.1:{port}", transcriber, events)
    audio = read_audio(speech_file("cmu_goforward.wav"))
    t = fb.transcribe(audio)
    assert normalize(t.text) == normalize("go forward ten meters")
    assert fb.fallbacks == 1
    [(name, data)] = events
    assert name == ev.ERROR and data["stage"] == "stt_server"
    assert "refused the connection" in data["message"] and f"127.0.0.1:{port}" in data["message"]
    assert "transcribed on this machine instead" in data["message"]


def test_fallback_off_is_an_stt_error_naming_the_setting():
    uri = f"tcp://127.0.0.1:{free_port()}"
    fb = FallbackTranscriber(remote_stt(uri), None)
    with pytest.raises(SttError, match=r"refused the connection.*stt.fallback_to_local"):
        fb.transcribe(read_audio(speech_file("speechcommands_yes.wav")))


def test_the_wrong_port_a_speech_server_times_out_and_falls_back(tts_server, transcriber):
    """The Piper server ignores audio: no transcript comes, the timeout ends the wait, the local engine answers."""
    events: list = []
    fb = with_fallback(tts_server.uri, transcriber, events, timeout_s=1.5)
    t0 = time.monotonic()
    t = fb.transcribe(read_audio(speech_file("speechcommands_yes.wav")))
    assert time.monotonic() - t0 < 30
    assert normalize(t.text) == "yes" and fb.fallbacks == 1
    assert "sent no answer within 1.5 s" in events[0][1]["message"]
    problem = server_problem(tts_server.uri, "asr")
    assert problem and "offers no speech to text" in problem and "check the port" in problem


@pytest.mark.parametrize(
    "reply, needle",
    [
        (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "not the Wyoming protocol"),
        (b"[1, 2, 3]\n", "not the Wyoming protocol"),
        (b'{"type": "transcript", "data_length": 5}\n{"te', "not the Wyoming protocol"),
        (b"", "closed the connection"),
    ],
    ids=["http", "json-not-an-event", "cut-mid-event", "hang-up"],
)
def test_garbage_on_the_socket_is_a_fault_not_a_crash(transcriber, reply, needle):
    fake = FakeSocketServer(reply)
    try:
        events: list = []
        fb = with_fallback(fake.uri, transcriber, events, timeout_s=3)
        t = fb.transcribe(read_audio(speech_file("speechcommands_no.wav")))
        assert normalize(t.text) == "no" and fb.fallbacks == 1
        assert needle in events[0][1]["message"] or "dropped the connection" in events[0][1]["message"]
    finally:
        fake.close()


def test_a_server_that_never_answers_times_out(transcriber):
    fake = FakeSocketServer(hang_up=False)
    try:
        events: list = []
        fb = with_fallback(fake.uri, transcriber, events, timeout_s=1.0)
        t = fb.transcribe(read_audio(speech_file("speechcommands_yes.wav")))
        assert normalize(t.text) == "yes"
        assert "sent no answer within 1 s" in events[0][1]["message"]
    finally:
        fake.close()


def test_an_unreachable_address_is_reported_and_falls_back(tmp_path, transcriber):
    events: list = []
    fb = with_fallback(f"unix://{tmp_path}/no-such.sock", transcriber, events)
    assert normalize(fb.transcribe(read_audio(speech_file("speechcommands_yes.wav"))).text) == "yes"
    assert "cannot be reached" in events[0][1]["message"]


def test_server_killed_mid_utterance_loses_nothing(tmp_path, transcriber):
    """Half the utterance reaches the server, then it dies: the local engine gets all of it."""
    server = whisper_server(tmp_path / "srv").start()
    try:
        audio = read_audio(speech_file("jfk_ask_not.wav"))
        events: list = []
        fb = with_fallback(server.uri, transcriber, events, timeout_s=5)
        stream = fb.open_stream()
        half = len(audio) // 2
        for i in range(0, half, 4800):
            stream.feed(audio[i : min(i + 4800, half)])
        server.kill()
        for i in range(half, len(audio), 4800):
            stream.feed(audio[i : i + 4800])
        t = stream.finish()
    finally:
        server.stop()
    assert len(stream.remote.audio) == len(audio) and np.array_equal(stream.remote.audio, audio)
    assert fb.fallbacks == 1 and len(events) == 1
    assert normalize(t.text) == normalize(transcriber.transcribe(audio).text)
    assert "ask not what your country can do for you" in normalize(t.text)
    assert server.uri in events[0][1]["message"]


def test_the_transcribe_command_uses_the_server(asr_server):
    r = run_hark("transcribe", "--stt", asr_server.uri, "--json", str(speech_file("cmu_goforward.wav")))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert normalize(out["text"]) == normalize("go forward ten meters")


def test_a_bad_stt_option_is_one_sentence():
    r = run_hark("transcribe", "--stt", "http://gpu-box:10300", str(speech_file("cmu_goforward.wav")))
    assert r.returncode == 1
    assert "is not a Wyoming server address" in r.stderr and "Traceback" not in r.stderr


def test_language_is_guessed_from_the_script():
    assert guess_language("불 켜 줘") == "ko"
    assert guess_language("電気をつけて") == "ja"
    assert guess_language("turn on the light") == ""


# ---------------------------------------------------------------- speech synthesis


def test_synthesis_through_the_server_arrives_in_chunks_and_is_heard_back(tts_server, transcriber):
    synth = WyomingSynthesizer(tts_server.uri, TtsConfig(uri=tts_server.uri))
    text = "Your timer is done. The pizza is ready. Enjoy your dinner."
    t0 = time.perf_counter()
    chunks, first = [], None
    for c in synth.synthesize(text):
        if first is None:
            first = time.perf_counter() - t0
        chunks.append(c)
    total = time.perf_counter() - t0
    audio = np.concatenate(chunks)
    assert synth.sample_rate == 22050 and audio.dtype == np.float32
    assert len(chunks) > 3 and first is not None and first < total  # played as it arrives, not at the end
    assert 2.0 < len(audio) / synth.sample_rate < 12.0 and np.abs(audio).max() > 0.05
    from voice.audio import resample, to_int16

    heard = transcriber.transcribe(to_int16(resample(audio, synth.sample_rate, RATE)))
    assert "pizza is ready" in normalize(heard.text)


def test_synthesis_through_the_server_plays_through_the_mouth(tts_server, tmp_path, transcriber):
    synth = FallbackSynthesizer(WyomingSynthesizer(tts_server.uri, TtsConfig(uri=tts_server.uri)), None)
    out = tmp_path / "reply.wav"
    sink = WavSink(out, synth.sample_rate)
    mouth = Mouth(synth, sink, EventBus())
    mouth.say("Added oat milk to your shopping list.")
    mouth.wait()
    mouth.close()
    sink.close()
    heard = transcriber.transcribe(read_audio(out))
    assert "shopping list" in normalize(heard.text) and synth.fallbacks == 0


def test_synthesis_falls_back_when_the_server_is_down(synth, transcriber):
    events: list = []
    uri = f"tcp://127.0.0.1:{free_port()}"
    fb = FallbackSynthesizer(
        WyomingSynthesizer(uri, TtsConfig(uri=uri)), lambda: synth, lambda e: events.append((e.name, e.data))
    )
    audio = np.concatenate(list(fb.synthesize("The timer is done.")))
    assert fb.fallbacks == 1 and fb.sample_rate == synth.sample_rate
    assert "refused the connection" in events[0][1]["message"] and events[0][1]["stage"] == "tts_server"
    from voice.audio import resample, to_int16

    assert "timer" in normalize(transcriber.transcribe(to_int16(resample(audio, fb.sample_rate, RATE))).text)


@pytest.mark.parametrize(
    "reply, hang_up, needle",
    [
        (b"SSH-2.0-OpenSSH_9.6\r\n", True, "not the Wyoming protocol"),
        (b"", False, "sent no answer within 1 s"),
    ],
    ids=["garbage", "silent"],
)
def test_synthesis_from_a_misbehaving_server_falls_back(synth, reply, hang_up, needle):
    fake = FakeSocketServer(reply, hang_up=hang_up)
    events: list = []
    try:
        fb = FallbackSynthesizer(
            WyomingSynthesizer(fake.uri, TtsConfig(uri=fake.uri, timeout_s=1.0)),
            lambda: synth,
            lambda e: events.append((e.name, e.data)),
        )
        audio = list(fb.synthesize("Done."))
    finally:
        fake.close()
    assert audio and fb.fallbacks == 1 and needle in events[0][1]["message"]


def test_synthesis_server_killed_mid_reply_says_the_sentence_again_locally(tmp_path, synth):
    server = piper_server(tmp_path / "piper").start()
    events: list = []
    text = "One. " + " ".join(f"This is sentence number {i} of a long answer." for i in range(2, 12))
    fb = FallbackSynthesizer(
        WyomingSynthesizer(server.uri, TtsConfig(uri=server.uri, timeout_s=60)),
        lambda: synth,
        lambda e: events.append((e.name, e.data)),
    )
    got = []
    try:
        for chunk in fb.synthesize(text):
            if not got:
                server.kill()  # the first sentence is here; the rest never will be
            got.append((fb._current is synth, len(chunk)))
    finally:
        server.stop()
    assert fb.fallbacks == 1 and len(events) == 1 and "Traceback" not in events[0][1]["message"]
    remote_part = [n for local, n in got if not local]
    local_part = sum(n for local, n in got if local)
    assert remote_part and got[0][0] is False and got[-1][0] is True  # the server's start, then the local voice
    local_len = sum(len(c) for c in synth.synthesize(text))
    assert abs(local_part - local_len) < 0.15 * local_len  # the whole reply was said again, not just the rest


def test_fallback_off_for_speech_is_a_tts_error():
    uri = f"tcp://127.0.0.1:{free_port()}"
    fb = FallbackSynthesizer(WyomingSynthesizer(uri, TtsConfig(uri=uri)), None)
    with pytest.raises(TtsError, match=r"tts\.fallback_to_local"):
        list(fb.synthesize("Hello."))


def test_the_say_command_uses_the_server(tts_server, tmp_path, transcriber):
    out = tmp_path / "say.wav"
    r = run_hark("say", "--tts", tts_server.uri, "--out", str(out), "Three tasks are on your list.")
    assert r.returncode == 0, r.stderr
    assert "tasks" in normalize(transcriber.transcribe(read_audio(out)).text)


def test_doctor_checks_each_configured_server(asr_server, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"stt:\n  uri: {asr_server.uri}\ntts:\n  uri: tcp://127.0.0.1:{free_port()}\n")
    r = run_hark("doctor", "--json", "--config", str(cfg), env=hark_env())
    checks = {c["name"]: c for c in map(json.loads, r.stdout.splitlines())}
    assert checks["speech-to-text server"]["ok"] is True
    tts = checks["speech server"]
    assert tts["ok"] is False and "refused the connection" in tts["detail"] and "wyoming_piper" in tts["fix"]


# ---------------------------------------------------------------- a voice per language


def test_a_language_without_a_voice_gets_a_spoken_note_in_the_default_voice(synth, transcriber):
    bus = EventBus()
    seen: list = []
    bus.subscribe(lambda e: seen.append(e))
    router = language_voices(synth, TtsConfig(), "auto", lambda cfg: synth, bus)
    assert isinstance(router, LanguageVoices)
    bus.emit(ev.Transcript(text="불 켜 줘", language="ko", duration=1.0, seconds=0.1))
    first = list(router.synthesize("불을 켰어요."))
    second = list(router.synthesize("다른 것도 있어요."))
    assert first and not second  # one note per turn, the reply itself only on the screen
    from voice.audio import resample, to_int16

    heard = normalize(transcriber.transcribe(to_int16(resample(np.concatenate(first), synth.sample_rate, RATE))).text)
    assert "voice" in heard and "answer is on the screen" in heard  # ("Korean" itself tiny.en hears variously)
    assert any(e.name == ev.ERROR and "Korean" in e.data["message"] for e in seen)
    bus.emit(ev.Transcript(text="turn on the light", language="en", duration=1.0, seconds=0.1))
    assert list(router.synthesize("Done."))  # English again: the default voice speaks


def test_a_language_mapped_to_a_wyoming_voice_is_spoken_by_that_server(tts_server, synth):
    bus = EventBus()
    cfg = TtsConfig(voices={"fr": tts_server.uri})
    router = language_voices(synth, cfg, "auto", lambda c: synth, bus)
    bus.emit(ev.Transcript(text="allume la lumière", language="fr", duration=1.0, seconds=0.1))
    audio = list(router.synthesize("D'accord."))
    assert audio and isinstance(router._current, WyomingSynthesizer)


def test_a_language_voice_on_a_server_that_is_down_gets_the_note(synth, transcriber):
    bus = EventBus()
    seen: list = []
    bus.subscribe(seen.append)
    router = language_voices(
        synth, TtsConfig(voices={"fr": f"tcp://127.0.0.1:{free_port()}"}), "auto", lambda c: synth, bus
    )
    bus.emit(ev.Transcript(text="allume la lumière", language="fr", duration=1.0, seconds=0.1))
    note = list(router.synthesize("D'accord."))
    assert note and not list(router.synthesize("C'est fait."))
    from voice.audio import resample, to_int16

    heard = normalize(transcriber.transcribe(to_int16(resample(np.concatenate(note), synth.sample_rate, RATE))).text)
    assert "not available" in heard and "answer is on the screen" in heard
    assert any(e.name == ev.ERROR and "refused the connection" in e.data["message"] for e in seen)


def test_fixed_language_keeps_the_plain_voice(synth):
    assert language_voices(synth, TtsConfig(), "en", lambda c: synth, EventBus()) is synth


def test_auto_language_with_a_multilingual_model_reports_the_language_per_utterance(tmp_path):
    from tests.support.paths import models_dir
    from voice.stt import WhisperTranscriber

    t = WhisperTranscriber(SttConfig(model="base", device="cpu", language="auto"), models_dir()).load()
    out = t.transcribe(read_audio(speech_file("jfk_ask_not.wav")))
    assert out.language == "en" and "ask not" in normalize(out.text)


def test_an_address_without_a_port_says_what_it_needs():
    stream = WyomingTranscriber("tcp://gpu-box", SttConfig()).open_stream()
    stream.feed(np.zeros(4800, np.int16))
    with pytest.raises(WyomingError, match="needs a host and a port"):
        stream.finish()
    assert len(stream.audio) == 4800


def test_feeding_never_waits_for_the_network(transcriber):
    """The microphone's thread feeds frames: a server that accepts but never reads must not hold it up."""
    fake = FakeSocketServer(hang_up=False)
    try:
        fb = with_fallback(fake.uri, transcriber, timeout_s=1.0)
        audio = read_audio(speech_file("jfk_ask_not.wav"))
        stream = fb.open_stream()
        t0 = time.perf_counter()
        for i in range(0, len(audio), 480):
            stream.feed(audio[i : i + 480])
        assert time.perf_counter() - t0 < 0.5  # 11 s of audio in 30 ms frames, queued at once
        t = stream.finish()
        assert "ask not what your country can do for you" in normalize(t.text) and fb.fallbacks == 1
    finally:
        fake.close()


def test_an_utterance_cut_differently_from_what_was_streamed_is_sent_whole(asr_server, transcriber):
    fb = with_fallback(asr_server.uri, transcriber)
    audio = read_audio(speech_file("cmu_goforward.wav"))
    stream = fb.open_stream()
    stream.feed(audio[: len(audio) // 3])  # the listener streamed a part, then trimmed the utterance differently
    t = stream.finish(audio)
    assert normalize(t.text) == normalize("go forward ten meters") and fb.fallbacks == 0


@pytest.mark.parametrize("row", nonspeech_rows(), ids=lambda r: r["file"])
def test_no_words_from_the_server_on_noise_music_or_silence(asr_server, row):
    t = remote_stt(asr_server.uri).transcribe(read_audio(speech_file(row["file"])))
    assert t.text == "", t


def test_an_unreachable_server_is_skipped_for_a_while_then_tried_again(transcriber, monkeypatch):
    """A sleeping server must not cost every turn its connect timeout; once back, it is used again."""
    import voice.wyoming_stt as wstt

    fake = FakeSocketServer(hang_up=False)
    port = int(fake.uri.rsplit(":", 1)[1])
    fake.close()  # the port is free again: refused
    events: list = []
    fb = with_fallback(f"tcp://127.0.0.1:{port}", transcriber, events)
    yes = read_audio(speech_file("speechcommands_yes.wav"))
    assert normalize(fb.transcribe(yes).text) == "yes"
    assert normalize(fb.transcribe(yes).text) == "yes"
    assert fb.fallbacks == 2 and len(events) == 1 and "tried again in 30 s" in events[0][1]["message"]
    assert isinstance(fb.open_stream().remote, wstt.HeldStream)
    monkeypatch.setattr(wstt.time, "monotonic", lambda: time.perf_counter() + 10_000)  # time passes
    assert isinstance(fb.open_stream().remote, wstt.RemoteStream)


def test_an_unreachable_speech_server_is_not_waited_for_on_every_sentence(synth):
    events: list = []
    uri = f"tcp://127.0.0.1:{free_port()}"
    fb = FallbackSynthesizer(
        WyomingSynthesizer(uri, TtsConfig(uri=uri)), lambda: synth, lambda e: events.append((e.name, e.data))
    )
    assert list(fb.synthesize("One.")) and list(fb.synthesize("Two.")) and list(fb.synthesize("Three."))
    assert len(events) == 1 and fb.fallbacks == 1  # one message; the next sentences go straight to the local voice


# ---------------------------------------------------------------- live: audio goes out while the user speaks


class WyomingTap:
    """A loopback proxy in front of a real server: passes every event on and notes when each from Hark arrived.

    Times are this process's monotonic clock, the same clock the test plays speech by.
    """

    def __init__(self, upstream_uri: str) -> None:
        host, port = upstream_uri.removeprefix("tcp://").rsplit(":", 1)
        self.upstream = (host, int(port))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.uri = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.arrivals: list[tuple[float, int, str]] = []  # (when, connection number, event type)
        self.connections = 0
        self.closed: dict[int, float] = {}  # connection number -> when Hark closed it
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._pipe, args=(conn, self.connections), daemon=True).start()

    def _pipe(self, conn: socket.socket, number: int) -> None:
        from wyoming.event import read_event, write_event

        up = socket.create_connection(self.upstream)

        def back() -> None:  # the server's answers, byte for byte
            try:
                while data := up.recv(65536):
                    conn.sendall(data)
            except OSError:
                pass
            conn.close()

        threading.Thread(target=back, daemon=True).start()
        reader, writer = conn.makefile("rb"), up.makefile("wb")
        try:
            while (event := read_event(reader)) is not None:
                self.arrivals.append((time.monotonic(), number, event.type))
                write_event(event, writer)
        except (OSError, ValueError):
            pass
        self.closed[number] = time.monotonic()
        up.close()

    def of(self, kind: str) -> list[tuple[float, int]]:
        return [(t, n) for t, n, k in self.arrivals if k == kind]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def tap(asr_server):
    t = WyomingTap(asr_server.uri)
    yield t
    t.close()


@pytest.fixture
def listen_with_stt(pulse, tmp_path, _data_dir):
    """`hark listen --json --stt URI` on the PulseAudio null sinks, with an Ollama-protocol server for answers."""
    from tests.support.listen import HarkProcess
    from tests.support.ollama_server import FakeOllama

    config = tmp_path / "config.yaml"
    config.write_text("llm:\n  model: qwen3:1.7b\n")
    ollama = FakeOllama().__enter__()
    ollama.add_model("qwen3:1.7b", capabilities=["completion", "tools", "thinking"])
    procs: list[HarkProcess] = []

    def start(stt_uri: str) -> HarkProcess:
        env = pulse.client_env(HARK_DATA_DIR=str(_data_dir), OLLAMA_HOST=ollama.url)
        p = HarkProcess(env, config, "--stt", stt_uri)
        procs.append(p)
        p.wait_for("ready", timeout=120)
        return p

    yield start
    for p in procs:
        p.stop()
    ollama.__exit__(None, None, None)


def test_live_speech_reaches_the_server_while_the_user_is_still_speaking(pulse, tap, listen_with_stt):
    """Through real devices: the server has most of the utterance before its end, and the transcript is right."""
    h = listen_with_stt(tap.uri)
    time.sleep(0.5)  # a fresh null-sink monitor delivers nothing for its first moments
    played_at = time.monotonic()
    pulse.play(speech_file("cmu_goforward.wav"))  # speech from 0.33 s to 2.5 s of the file
    speech_over = played_at + 2.5
    transcript = h.wait_for("transcript", timeout=60)
    assert normalize(transcript["text"]) == normalize("go forward ten meters"), transcript
    names = [e["event"] for e in h.seen]
    assert names.index("speech_start") < names.index("speech_end") < names.index("transcript")
    assert not [e for e in h.seen if e["event"] == "error"], h.seen

    # One utterance, one stream: opened at the start of speech, never sent again whole.
    [(opened, conn)] = [(t, n) for t, n in tap.of("transcribe")]
    chunks = [t for t, n in tap.of("audio-chunk") if n == conn]
    [(stopped, _)] = [(t, n) for t, n in tap.of("audio-stop") if n == conn]
    assert opened < speech_over and chunks[0] < speech_over
    # Much of what was said was at the server before the user had finished saying it: at least 0.6 s of
    # 30 ms frames (about 60 here on an idle machine; fewer under load, as the microphone's blocks arrive late).
    before_end = [t for t in chunks if t < speech_over]
    assert len(before_end) >= 20, (len(before_end), len(chunks))
    assert stopped > speech_over and stopped - chunks[0] > 1.5  # not a burst sent after the end


def test_live_speech_too_short_to_keep_is_cancelled_at_the_server(pulse, tap, listen_with_stt, tmp_path):
    """A blip opens a stream like any speech; once it is discarded the stream is closed and nothing is transcribed."""
    from voice.audio import write_wav

    speech = read_audio(speech_file("cmu_goforward.wav"))
    blip = tmp_path / "blip.wav"  # 150 ms of the recording's speech: under vad.min_utterance_ms of voice
    write_wav(
        blip,
        np.concatenate(
            [np.zeros(RATE // 2, np.int16), speech[int(0.4 * RATE) : int(0.55 * RATE)], np.zeros(RATE, np.int16)]
        ),
        RATE,
    )
    h = listen_with_stt(tap.uri)
    time.sleep(0.5)
    pulse.play(blip)
    end = h.wait_for("speech_end", timeout=30)
    assert end.get("discarded"), end
    later = h.drain(2.0)
    assert not [e for e in h.seen + later if e["event"] in ("transcript", "error")], h.seen + later
    [(opened, conn)] = tap.of("transcribe")  # streaming began at the start of speech ...
    assert conn in tap.closed and not tap.of("audio-stop")  # ... and was dropped, never finished
    assert tap.closed[conn] - opened < 5.0
