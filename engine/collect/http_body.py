"""Reading a request body off the wire, strictly: Content-Length or chunked, within a byte limit.

`body_framing(headers)` looks at the headers only (nothing is read), so the server can
refuse a request (bad framing, a body over the limit, an unknown write key) before it reads a
byte of its body. `read_body(rfile, framing, limit)` then reads exactly that body. Every
malformed request is an ApiError (400 unless said otherwise), never a read to the end of the
connection: a chunk size is 1 to 16 hexadecimal digits on a bounded line, the running total
is checked against the limit before a chunk is read, and a body that ends early is an error.
"""
from __future__ import annotations

import re

from engine.collect.protocol import ApiError, too_large

MAX_CHUNK_LINE = 1024       # bytes of a chunk-size line, extensions included
MAX_TRAILER_LINES = 32      # header lines after the last chunk
MAX_TRAILER_LINE = 8192
DRAIN_MOST = 16 << 20       # bytes read and discarded so a sender reads our refusal

_DIGITS = re.compile(r"[0-9]{1,18}")
# 1*HEXDIG, optional ";ext" (bounded by the line length), CRLF (a bare LF is tolerated)
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[^\r\n]*)?\r?\n")
_LINE_END = (b"\r\n", b"\n")

CHUNKED = -1  # the framing of a chunked body; otherwise the framing is its Content-Length


def body_framing(headers) -> int:
    """CHUNKED, or the body's Content-Length; refuses malformed framing."""
    encodings = headers.get_all("Transfer-Encoding") or []
    lengths = headers.get_all("Content-Length") or []
    if encodings:
        if lengths:  # which one frames the body is how requests get smuggled: refuse both
            raise ApiError(400, "Send Content-Length or Transfer-Encoding: chunked, not both.")
        codings = [c.strip().lower() for value in encodings for c in value.split(",")]
        if codings != ["chunked"]:
            raise ApiError(400, f"Transfer-Encoding {', '.join(codings)[:60]!r} is not supported; "
                                f"send chunked, or a Content-Length.")
        return CHUNKED
    if not lengths:
        raise ApiError(411, "Send a Content-Length header.")
    values = {v.strip() for value in lengths for v in value.split(",")}
    if len(values) != 1 or not _DIGITS.fullmatch(next(iter(values))):
        raise ApiError(400, "Content-Length must be one whole number of bytes (digits only).")
    return int(values.pop())


def read_body(rfile, framing: int, limit: int) -> bytes:
    """The body `body_framing` described, read within `limit` bytes."""
    if framing != CHUNKED:
        if framing > limit:
            raise too_large(limit)
        body = rfile.read(framing)
        if len(body) != framing:
            raise ApiError(400, f"The body ended after {len(body)} of its {framing} bytes.")
        return body
    chunks, total = [], 0
    while True:
        line = rfile.readline(MAX_CHUNK_LINE + 1)
        if not line.endswith(b"\n"):
            raise ApiError(400, "The chunked body ended before its last chunk." if len(line) <= MAX_CHUNK_LINE
                           else f"A chunk-size line is longer than {MAX_CHUNK_LINE} bytes.")
        match = _CHUNK_SIZE.fullmatch(line)
        if match is None:
            raise ApiError(400, "The chunked body is malformed: a chunk size must be "
                                "hexadecimal digits (e.g. 1f4) followed by CRLF.")
        size = int(match.group(1), 16)
        if size == 0:
            _read_trailers(rfile)
            return b"".join(chunks)
        total += size
        if total > limit:  # before reading the chunk: a sender cannot make us hold more
            raise too_large(limit)
        chunk = rfile.read(size)
        if len(chunk) != size:
            raise ApiError(400, "The chunked body ended in the middle of a chunk.")
        chunks.append(chunk)
        if rfile.readline(3) not in _LINE_END:
            raise ApiError(400, "The chunked body is malformed: a chunk is longer than its size "
                                "or does not end with CRLF.")


def _read_trailers(rfile) -> None:
    for _ in range(MAX_TRAILER_LINES):
        line = rfile.readline(MAX_TRAILER_LINE + 1)
        if line in _LINE_END:
            return
        if not line.endswith(b"\n"):
            raise ApiError(400, "The chunked body's trailer is cut short or too long.")
    raise ApiError(400, f"The chunked body has more than {MAX_TRAILER_LINES} trailer lines.")


def drain(rfile, length: int, most: int = DRAIN_MOST) -> None:
    """Read and discard up to `most` bytes of a refused body, so its sender sees our answer
    (closing a socket with unread data resets the connection)."""
    remaining = min(length, most)
    while remaining > 0:
        chunk = rfile.read(min(remaining, 1 << 16))
        if not chunk:
            return
        remaining -= len(chunk)
