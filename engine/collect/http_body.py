"""Reading a request body off the wire: Content-Length or chunked, within a byte limit."""
from __future__ import annotations

from engine.collect.protocol import ApiError


def read_body(rfile, headers, limit: int) -> bytes:
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        chunks, total = [], 0
        while True:
            try:
                size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
            except ValueError:
                raise ApiError(400, "The chunked body is malformed.") from None
            if size == 0:
                while rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > limit:
                raise ApiError(413, f"The request body is larger than {limit // 1024} KB "
                                    f"(Segment's limit); send smaller batches.")
            chunks.append(rfile.read(size))
            rfile.readline()
    length = headers.get("Content-Length")
    if length is None:
        raise ApiError(411, "Send a Content-Length header.")
    try:
        length = int(length)
    except ValueError:
        raise ApiError(400, "Content-Length is not a number.") from None
    if length > limit:
        drain(rfile, length)  # so the sender reads our answer instead of a broken pipe
        raise ApiError(413, f"The request body is larger than {limit // 1024} KB "
                            f"(Segment's limit); send smaller batches.")
    return rfile.read(length)


def drain(rfile, length: int, most: int = 16 << 20) -> None:
    remaining = min(length, most)
    while remaining > 0:
        chunk = rfile.read(min(remaining, 1 << 16))
        if not chunk:
            return
        remaining -= len(chunk)
