"""A minimal asyncio HTTP/1.1 server layer (h11) with fault primitives.

Why not uvicorn: the twin must drop connections abruptly ("reset"), accept
a request and then go silent ("timeout"), and throttle how fast request
bodies are *read off the socket* (uplink emulation). Owning the socket makes
all three exact and keeps 1 GB uploads streaming to disk.

Contract
--------
* ``serve_connection(reader, writer, handler, default_host, limiter)`` runs
  keep-alive request cycles. ``handler(Request)`` returns a
  :class:`Response`, :class:`Abort` or :class:`Hang`.
* Before anything is sent, the rest of the request body is drained (through
  the same throttle/counters), so a client always finishes sending its body
  and then sees the response / the reset / the silence.
* :class:`Abort`: SO_LINGER=0 + ``transport.abort()`` -> the peer gets a TCP
  RST with no (or no complete) response: httpx raises ``ReadError`` /
  ``RemoteProtocolError`` (both ``httpx.TransportError``).
* :class:`Hang`: nothing is sent for ``seconds``; then the connection is
  closed (FIN) without a response.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
import sys
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable
from urllib.parse import parse_qsl

import h11

log = logging.getLogger("fal_twin")

READ_CHUNK = 64 * 1024
FILE_CHUNK = 256 * 1024


class RateLimiter:
    """Shared token-bucket-ish pacing for request bodies (one uplink)."""

    def __init__(self, get_rate: Callable[[], float | None]) -> None:
        self._get_rate = get_rate
        self._next = 0.0

    async def consume(self, n: int) -> None:
        rate = self._get_rate()
        if not rate:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(now, self._next)
        self._next = start + n / float(rate)
        delay = self._next - now
        if delay > 0.001:
            await asyncio.sleep(delay)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: (path, offset, length): stream a file region instead of ``body``.
    file: tuple[str, int, int] | None = None
    #: async iterator of chunks (chunked transfer encoding) instead of ``body``.
    stream: AsyncIterator[bytes] | None = None


@dataclass
class Abort:
    """Drop the connection abruptly (TCP RST), no response."""


@dataclass
class Hang:
    """Send nothing for ``seconds``, then close the connection."""

    seconds: float


Result = Response | Abort | Hang
Handler = Callable[["Request"], Awaitable[Result]]


def json_response(status: int, obj: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, json.dumps(obj).encode(), [("content-type", "application/json"), *(headers or [])])


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limiter: RateLimiter) -> None:
        self.reader = reader
        self.writer = writer
        self.limiter = limiter
        self.h = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)

    async def next_event(self) -> Any:
        while True:
            event = self.h.next_event()
            if event is h11.NEED_DATA:
                data = await self.reader.read(READ_CHUNK)
                self.h.receive_data(data)
                continue
            return event

    async def send(self, event: Any) -> None:
        data = self.h.send(event)
        if data:
            self.writer.write(data)
            await self.writer.drain()


class Request:
    """One parsed request. ``path`` is the raw (percent-encoded) path."""

    def __init__(self, conn: _Conn, event: h11.Request, default_host: str) -> None:
        self._conn = conn
        self.method = event.method.decode("ascii").upper()
        target = event.target.decode("latin-1")
        self.path, _, self.query_string = target.partition("?")
        self.query = dict(parse_qsl(self.query_string, keep_blank_values=True))
        self.headers: dict[str, str] = {}
        for name, value in event.headers:
            self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        host = self.headers.get("host") or default_host
        self.host = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
        self.body_done = False
        #: When True, body bytes are paced by the uplink limiter and passed to
        #: ``on_body_bytes`` (set by upload routes before reading).
        self.uplink = False
        self.on_body_bytes: Callable[[int], None] | None = None

    async def iter_body(self) -> AsyncIterator[bytes]:
        while not self.body_done:
            event = await self._conn.next_event()
            if isinstance(event, h11.Data):
                n = len(event.data)
                if self.uplink:
                    if self.on_body_bytes:
                        self.on_body_bytes(n)
                    await self._conn.limiter.consume(n)
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self.body_done = True
            elif isinstance(event, h11.ConnectionClosed):
                self.body_done = True
                raise ConnectionError("client closed the connection mid-body")
            else:  # pragma: no cover - h11 guarantees Data/EndOfMessage here
                raise ConnectionError(f"unexpected event {event!r}")

    async def body(self, limit: int = 32 * 1024 * 1024) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in self.iter_body():
            size += len(chunk)
            if size > limit:
                raise ValueError("request body too large for an in-memory read")
            chunks.append(chunk)
        return b"".join(chunks)

    async def drain(self) -> None:
        async for _ in self.iter_body():
            pass


def _abort(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


async def _send_response(conn: _Conn, req: Request, resp: Response) -> None:
    headers = list(resp.headers)
    names = {k.lower() for k, _ in headers}
    if resp.file is not None:
        length = resp.file[2]
    elif resp.stream is None:
        length = len(resp.body)
    else:
        length = None
    if length is not None and "content-length" not in names:
        headers.append(("content-length", str(length)))
    await conn.send(h11.Response(status_code=resp.status, headers=headers))
    if req.method != "HEAD":
        if resp.file is not None:
            path, offset, remaining = resp.file
            with open(path, "rb") as f:
                f.seek(offset)
                while remaining > 0:
                    chunk = f.read(min(FILE_CHUNK, remaining))
                    if not chunk:
                        raise ConnectionError("stored file shrank while serving")
                    remaining -= len(chunk)
                    await conn.send(h11.Data(data=chunk))
        elif resp.stream is not None:
            async for chunk in resp.stream:
                if chunk:
                    await conn.send(h11.Data(data=chunk))
        elif resp.body:
            await conn.send(h11.Data(data=resp.body))
    await conn.send(h11.EndOfMessage())


async def serve_connection(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    handler: Handler,
    default_host: str,
    limiter: RateLimiter,
) -> None:
    conn = _Conn(reader, writer, limiter)
    try:
        while True:
            event = await conn.next_event()
            if not isinstance(event, h11.Request):
                break  # ConnectionClosed / PAUSED / junk
            req = Request(conn, event, default_host)
            try:
                result = await handler(req)
            except (ConnectionError, asyncio.CancelledError):
                raise
            except Exception:  # a twin bug: answer 500 instead of hanging the client
                log.exception("fal twin handler crashed for %s %s%s", req.method, req.host, req.path)
                result = json_response(500, {"detail": "fal twin internal error"})
            await req.drain()
            if isinstance(result, Abort):
                _abort(writer)
                return
            if isinstance(result, Hang):
                await asyncio.sleep(result.seconds)
                return
            await _send_response(conn, req, result)
            if conn.h.our_state is h11.MUST_CLOSE or conn.h.their_state is h11.MUST_CLOSE:
                break
            try:
                conn.h.start_next_cycle()
            except h11.LocalProtocolError:
                break
    except (ConnectionError, h11.ProtocolError, OSError, asyncio.IncompleteReadError):
        pass
    finally:
        await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close gracefully (TLS close_notify); abort if the peer does not
    cooperate within a second, so no socket outlives its connection."""
    transport = writer.transport
    try:
        if not transport.is_closing():
            writer.close()
        await asyncio.wait_for(writer.wait_closed(), 1.0)
    except BaseException:
        transport.abort()
        if not isinstance(sys.exc_info()[1], Exception):
            raise
