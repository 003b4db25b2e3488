"""The collector on the wire: malformed requests over a raw socket get a JSON 400 (never a
traceback or a dropped connection), and a refused body is not read."""
from __future__ import annotations

import base64
import io
import json
import socket
import threading

import pytest

from engine.collect import Collector
from engine.collect.server import CollectorHandler, _Server
from engine.sources import create_source
from tests.engine.collect_helpers import event_count, post, wait_for

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


@pytest.fixture
def source(workspace, admin):
    return create_source(workspace, admin, "Website", "events")


@pytest.fixture
def server_errors(monkeypatch):
    """Whatever reaches socketserver's handle_error (which prints a traceback)."""
    errors = []
    monkeypatch.setattr(_Server, "handle_error", lambda self, request, address: errors.append(address))
    return errors


@pytest.fixture
def bytes_read(monkeypatch):
    """How many bytes the server read off its connections (counted below its buffer)."""
    counter = [0]

    class Counting(io.RawIOBase):
        def __init__(self, raw):
            self.raw = raw

        def readable(self):
            return True

        def readinto(self, buffer):
            n = self.raw.readinto(buffer)
            counter[0] += n or 0
            return n

    setup = CollectorHandler.setup

    def counting_setup(self):
        setup(self)
        self.rfile = io.BufferedReader(Counting(self.connection.makefile("rb", buffering=0)))

    monkeypatch.setattr(CollectorHandler, "setup", counting_setup)
    return counter


@pytest.fixture
def collector(workspace, source, server_errors, bytes_read):
    c = Collector(workspace, "127.0.0.1", 0, interval=0.2).start()
    yield c
    c.stop()


def _auth(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def _head(key: str, *headers: str, path: str = "/v1/batch") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: {_auth(key)}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _exchange(port: int, request: bytes, *, then: bytes = b"", timeout: float = 10) -> tuple[int, dict]:
    """Send a raw request, read one answer (status, JSON body); the socket is left to close."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request + then)
        return _read_answer(sock)


def _read_answer(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        assert more, f"the connection closed without an answer: {data!r}"
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))
    while len(body) < length:
        more = sock.recv(65536)
        assert more, "the connection closed in the middle of the answer"
        body += more
    return status, json.loads(body[:length])


def _event_body(**event) -> bytes:
    return json.dumps({"batch": [{"type": "track", "event": "E", "userId": "u", **event}]}).encode()


def _with_length(key: str, body: bytes) -> bytes:
    return _head(key, f"Content-Length: {len(body)}") + body


def _deep(levels: int) -> bytes:
    return (b'{"batch": [{"type": "track", "event": "E", "userId": "u", "properties": {"p": '
            + b"[" * levels + b"]" * levels + b"}}]}")


MALFORMED = {
    # chunked framing
    "negative chunk size": (("Transfer-Encoding: chunked",), b"-1\r\n" + b"x" * 100),
    "chunk size with 0x": (("Transfer-Encoding: chunked",), b"0x10\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n"),
    "chunk size with a sign and underscore": (("Transfer-Encoding: chunked",), b"+1_0\r\n"),
    "chunk size not hex": (("Transfer-Encoding: chunked",), b"zz-not-hex\r\n"),
    "chunk-size line without end": (("Transfer-Encoding: chunked",), b"a" * 5000),
    "chunk longer than its size": (("Transfer-Encoding: chunked",), b"2\r\n{}{}\r\n0\r\n\r\n"),
    "unsupported transfer coding": (("Transfer-Encoding: gzip, chunked",), b"0\r\n\r\n"),
    "chunked and a length": (("Transfer-Encoding: chunked", "Content-Length: 5"), b"0\r\n\r\n"),
    # Content-Length
    "negative content length": (("Content-Length: -5",), b"{}"),
    "content length with underscore": (("Content-Length: 1_0",), b"{}"),
    "content length with a sign": (("Content-Length: +2",), b"{}"),
    "content length not a number": (("Content-Length: ten",), b"{}"),
    "two different content lengths": (("Content-Length: 2", "Content-Length: 3"), b"{}"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_framing_gets_a_json_400_and_the_server_goes_on(case, collector, source, workspace,
                                                                  server_errors):
    headers, body = MALFORMED[case]
    status, answer = _exchange(collector.port, _head(source.write_key, *headers) + body)
    assert status == 400, answer
    assert answer["success"] is False and answer["code"] == "invalid_request" and answer["message"]
    assert server_errors == []
    assert post(collector.url, "/v1/track", {"userId": "u", "event": "ok"}, key=source.write_key)[0] == 200
    assert wait_for(lambda: event_count(workspace) == 1, 20)


BAD_BODIES = {
    "nested past the parser's depth": (_deep(100_000), "nested too deeply"),
    "nested past orjson's depth": (_deep(1_500), "nested too deeply"),
    "a batch sentAt before year 1 in UTC": (
        json.dumps({"batch": [], "sentAt": "0001-01-01T00:00:00+05:00"}).encode(), "out of range"),
    "NaN is not JSON": (
        b'{"batch": [{"type": "track", "event": "E", "userId": "u", "properties": {"p": NaN}}]}',
        "not valid JSON"),
    "a number past a double's range": (
        b'{"batch": [{"type": "track", "event": "E", "userId": "u", "properties": {"p": 1e999}}]}',
        "number out of range"),
    "... beside an integer past 64 bits": (
        b'{"batch": [{"type": "track", "event": "E", "userId": "u", "properties": {"p": 1e999, '
        b'"q": 123456789012345678901234567890}}]}', "number out of range"),
    "a body shorter than its length": (None, "ended after"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_malformed_bodies_get_a_json_400(case, collector, source, workspace, server_errors):
    body, needle = BAD_BODIES[case]
    if body is None:  # says 100 bytes, sends 2, then stops sending
        with socket.create_connection(("127.0.0.1", collector.port), timeout=10) as sock:
            sock.sendall(_head(source.write_key, "Content-Length: 100") + b"{}")
            sock.shutdown(socket.SHUT_WR)
            status, answer = _read_answer(sock)
    else:
        status, answer = _exchange(collector.port, _with_length(source.write_key, body))
    assert status == 400, answer
    assert needle in answer["message"]
    assert server_errors == []
    assert collector.spool.appended_events == 0, "nothing from a refused request is acknowledged"


# Valid JSON with one call out of range: that call is quarantined, the request answers 200.
OUT_OF_RANGE_CALLS = {
    "a timestamp past year 9999 once corrected": json.dumps({"batch": [
        {"type": "track", "event": "E", "userId": "u", "timestamp": "9999-12-31T23:59:59Z"}],
        "sentAt": "2000-01-01T00:00:00Z"}).encode(),
    "a timestamp before year 1 in UTC": _event_body(timestamp="0001-01-01T00:00:00+05:00"),
}


@pytest.mark.parametrize("case", list(OUT_OF_RANGE_CALLS))
def test_a_call_out_of_range_is_quarantined_not_refused(case, collector, source, workspace, server_errors):
    status, answer = _exchange(collector.port, _with_length(source.write_key, OUT_OF_RANGE_CALLS[case]))
    assert (status, answer) == (200, {"success": True})
    assert wait_for(lambda: workspace.scalar("SELECT count(*) FROM quarantine") == 1, 20)
    assert "out of range" in workspace.scalar("SELECT reason FROM quarantine")
    assert event_count(workspace) == 0 and server_errors == []


def test_an_unreadable_request_line_gets_a_json_400(collector, server_errors):
    status, answer = _exchange(collector.port, b"GARBAGE\r\n\r\n")
    assert status == 400 and answer["success"] is False and "Bad request" in answer["message"]
    assert server_errors == []


def test_a_deep_but_storable_event_is_acknowledged_and_lands(collector, source, workspace):
    status, answer = _exchange(collector.port, _with_length(source.write_key, _deep(200)))
    assert status == 200, answer
    assert wait_for(lambda: event_count(workspace) == 1, 20)


def _stream_then_answer(port: int, request: bytes, flood: int) -> tuple[int, dict]:
    """Send the request's head, keep pushing `flood` bytes from another thread without closing,
    and read the answer meanwhile: a server that reads to the end of the connection never answers."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)

    def push():
        block = b"7" * 65536
        try:
            for _ in range(flood // len(block)):
                sock.sendall(block)
        except OSError:  # the server closed the connection: what it should do
            pass

    try:
        sock.sendall(request)
        pusher = threading.Thread(target=push, daemon=True)
        pusher.start()
        answer = _read_answer(sock)
        pusher.join(30)
        return answer
    finally:
        sock.close()


@pytest.mark.parametrize("case, prefix, status", [
    ("negative chunk size", b"-1\r\n", 400),   # was read(-1): until the connection closed
    ("chunk past the body cap", b"fffffff\r\n", 413),
])
def test_a_bad_chunked_body_is_refused_before_it_is_read(case, prefix, status, collector, source,
                                                         bytes_read, server_errors):
    request = _head(source.write_key, "Transfer-Encoding: chunked") + prefix
    got, answer = _stream_then_answer(collector.port, request, flood=8 << 20)
    assert got == status, answer
    assert bytes_read[0] < 256 * 1024, f"the server read {bytes_read[0]:,} bytes of a refused body"
    assert server_errors == []


def test_an_unknown_header_key_is_refused_before_the_body_is_read(collector, source, bytes_read):
    request = _head("wk_not_a_key", "Transfer-Encoding: chunked") + b"7d000\r\n"
    status, answer = _stream_then_answer(collector.port, request, flood=8 << 20)
    assert status == 401 and "Unknown write key" in answer["message"]
    assert bytes_read[0] < 64 * 1024, f"the server read {bytes_read[0]:,} bytes before checking the key"
    assert collector.spool.appended_events == 0


def test_a_good_chunked_body_with_extensions_and_trailers_is_accepted(collector, source, workspace):
    body = _event_body(messageId="c1")
    chunked = (b"%x;name=value\r\n" % 10 + body[:10] + b"\r\n" + b"%X\r\n" % (len(body) - 10) + body[10:]
               + b"\r\n0\r\nX-Trailer: yes\r\n\r\n")
    status, answer = _exchange(collector.port, _head(source.write_key, "Transfer-Encoding: chunked") + chunked)
    assert (status, answer) == (200, {"success": True})
    assert wait_for(lambda: event_count(workspace) == 1, 20)
