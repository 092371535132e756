"""One connection to a Wyoming server (speech to text or speech synthesis), with plain-language faults.

The framing is the `wyoming` package's own (`read_event` / `write_event` over a
socket file); this module only adds what Hark needs around it: `tcp://` and
`unix://` URIs, a connect timeout and a per-read timeout, and every failure
turned into a `WyomingError` whose message names the server and what to do.
A reply that is not the Wyoming protocol (garbage on the socket) is a fault
like any other, never a crash.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from dataclasses import dataclass
from typing import BinaryIO, cast
from urllib.parse import parse_qs, urlparse

from wyoming.error import Error as WyError
from wyoming.event import Event, read_event, write_event
from wyoming.info import Describe, Info

log = logging.getLogger("hark.wyoming")

LOCAL = "local"


class WyomingError(Exception):
    """A Wyoming server could not be used; the message says which, what happened and what to do.

    `unreachable`: the connection itself failed (down, refused, no route), as opposed to a
    server that answered and then failed; callers may stop trying it for a while.
    """

    unreachable = False


@dataclass(frozen=True)
class ServerAddress:
    """Where a server is, parsed from its URI."""

    uri: str  # as configured, for messages
    scheme: str  # "tcp" or "unix"
    host: str = ""
    port: int = 0
    path: str = ""  # unix socket path
    voice: str | None = None  # `?voice=NAME`: which voice to ask a TTS server for


def is_remote(uri: str | None) -> bool:
    """True for a server address, False for `local` (or nothing)."""
    return bool(uri) and str(uri).strip().lower() != LOCAL


def uri_problem(uri: str) -> str | None:
    """Why `uri` is not a usable backend ("local", tcp://host:port, unix:///path), or None."""
    try:
        parse_uri(uri)
    except WyomingError as e:
        return str(e)
    return None


def parse_uri(uri: str) -> ServerAddress:
    """Split a tcp:// or unix:// URI (and its `?voice=`); WyomingError saying the right form otherwise."""
    text = uri.strip()
    p = urlparse(text)
    voice = next(iter(parse_qs(p.query).get("voice", [])), None)
    if p.scheme == "tcp":
        try:
            port = p.port
        except ValueError:
            port = None
        if not p.hostname or port is None:
            raise WyomingError(f"'{uri}' needs a host and a port, like tcp://192.168.1.20:10300")
        return ServerAddress(text, "tcp", host=p.hostname, port=port, voice=voice)
    if p.scheme == "unix" and p.path:
        return ServerAddress(text, "unix", path=p.path, voice=voice)
    raise WyomingError(f"'{uri}' is not a Wyoming server address: use 'local' or tcp://host:port (or unix:///path)")


class Connection:
    """A blocking socket speaking Wyoming events; every method raises only WyomingError."""

    def __init__(self, uri: str, what: str, connect_timeout: float, timeout: float) -> None:
        self.address = parse_uri(uri)
        self.what = what  # "speech-to-text" / "speech" server, for messages
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._file: BinaryIO | None = None
        a = self.address
        try:
            if a.scheme == "tcp":
                self._sock = socket.create_connection((a.host, a.port), timeout=connect_timeout)
            else:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self._sock.settimeout(connect_timeout)
                self._sock.connect(a.path)
        except ConnectionRefusedError as e:
            raise self._fault(
                "refused the connection: nothing is listening on that port (is the server "
                "running, and is the port right?)",
                unreachable=True,
            ) from e
        except TimeoutError as e:
            raise self._fault(
                f"did not answer within {connect_timeout:g} s (is the machine on and reachable?)", unreachable=True
            ) from e
        except socket.gaierror as e:
            raise self._fault(f"has a host name that cannot be resolved ({e.strerror or e})", unreachable=True) from e
        except OSError as e:
            raise self._fault(f"cannot be reached ({e.strerror or e})", unreachable=True) from e
        self._sock.settimeout(timeout)
        self._file = cast(BinaryIO, self._sock.makefile("rwb"))

    def _fault(self, what: str, unreachable: bool = False) -> WyomingError:
        e = WyomingError(f"the {self.what} server at {self.address.uri} {what}")
        e.unreachable = unreachable
        return e

    def send(self, event: Event) -> None:
        """Write one event; a dropped or stalled connection is a WyomingError."""
        try:
            assert self._file is not None
            write_event(event, self._file)
            self._file.flush()
        except TimeoutError as e:
            raise self._fault(f"stopped taking audio for {self.timeout:g} s") from e
        except (OSError, ValueError, AttributeError) as e:  # ValueError/AttributeError: file already closed
            raise self._fault(f"dropped the connection ({getattr(e, 'strerror', None) or e})") from e

    def receive(self) -> Event:
        """The next event; a closed connection, a timeout, garbage or a server's error event are faults."""
        if self._file is None:
            raise self._fault("is no longer connected")
        try:
            event = read_event(self._file)
        except TimeoutError as e:
            raise self._fault(f"sent no answer within {self.timeout:g} s") from e
        except OSError as e:
            raise self._fault(f"dropped the connection ({e.strerror or e})") from e
        except Exception as e:  # JSON that is not an event: wrong keys, wrong types
            raise self._fault(f"sent something that is not the Wyoming protocol ({type(e).__name__})") from e
        if event is None:  # read_event: end of stream, or a line that is not JSON
            raise self._fault(
                "closed the connection or sent something that is not the Wyoming protocol "
                "(is that port really a Wyoming server?)"
            )
        if WyError.is_type(event.type):
            err = WyError.from_event(event)
            raise self._fault(f"reported an error: {err.text}")
        return event

    def close(self) -> None:
        """Close the socket (idempotent, never raises)."""
        for thing in (self._file, self._sock):
            if thing is not None:
                with contextlib.suppress(OSError):
                    thing.close()
        self._file = None
        self._sock = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def describe(uri: str, what: str, timeout: float = 3.0) -> Info:
    """Ask a server what it is (Wyoming `describe`); raises WyomingError with the reason and fix."""
    with Connection(uri, what, timeout, timeout) as conn:
        conn.send(Describe().event())
        while True:
            event = conn.receive()
            if Info.is_type(event.type):
                return Info.from_event(event)


def server_problem(uri: str, kind: str, timeout: float = 3.0) -> str | None:
    """For `hark doctor`: None when the server at `uri` answers and offers `kind` ("asr" or "tts"), else why."""
    what = "speech-to-text" if kind == "asr" else "speech"
    try:
        info = describe(uri, what, timeout)
    except WyomingError as e:
        return str(e)
    programs = info.asr if kind == "asr" else info.tts
    if not programs:
        offers, other = ("speech to text", "speech synthesis")[:: 1 if kind == "asr" else -1]
        return f"the server at {uri} answers but offers no {offers} (it may be a {other} server: check the port)"
    return None
