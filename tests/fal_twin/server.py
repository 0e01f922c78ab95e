"""Network front of the twin: a CONNECT proxy that terminates TLS itself.

Contract
--------
* ``TwinServer(handler, ssl_ctx, limiter_rate)`` runs one asyncio loop in a
  daemon thread with two listeners on 127.0.0.1 (random free ports):

  - ``proxy_port``: an HTTP proxy accepting only ``CONNECT host:443``. It
    answers ``200 Connection established`` and then performs the TLS
    handshake *in-process* with the twin certificate (no second hop), and
    serves HTTP/1.1 on the tunnel, routed by the ``Host`` header (falling
    back to the CONNECT host). ``CONNECT host:<other port>`` gets ``403``
    and plain absolute-URI proxy requests get ``405`` (httpx raises
    ``ProxyError``).
  - ``https_port``: the same HTTPS service directly (for clients that point
    at ``https://127.0.0.1:<port>`` with an explicit Host header).

* ``stop()`` cancels every connection task, closes the listeners and joins
  the thread (bounded); it is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import sys
import threading
from typing import Any, Callable, Coroutine

from .web import Handler, RateLimiter, serve_connection

log = logging.getLogger("fal_twin")


class TwinServer:
    def __init__(self, handler: Handler, ssl_ctx: ssl.SSLContext, get_rate: Callable[[], float | None]) -> None:
        self._handler = handler
        self._ssl = ssl_ctx
        self._get_rate = get_rate
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="fal-twin-loop", daemon=True)
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._tasks: set[asyncio.Task] = set()
        self._servers: list[asyncio.AbstractServer] = []
        self.proxy_port = 0
        self.https_port = 0
        self._stopped = False

    # --------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            raise RuntimeError("fal twin failed to start") from self._startup_error
        if not self._ready.is_set():
            raise RuntimeError("fal twin did not start within 10 s")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start_listeners())
        except BaseException as exc:  # pragma: no cover - startup failure
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _start_listeners(self) -> None:
        self.limiter = RateLimiter(self._get_rate)
        proxy = await asyncio.start_server(self._on_proxy_conn, "127.0.0.1", 0, limit=256 * 1024)
        direct = await asyncio.start_server(self._on_tls_conn, "127.0.0.1", 0, ssl=self._ssl, limit=256 * 1024)
        self._servers = [proxy, direct]
        self.proxy_port = proxy.sockets[0].getsockname()[1]
        self.https_port = direct.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._stopped or not self._thread.is_alive():
            self._stopped = True
            return
        self._stopped = True
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            fut.result(5)
        except Exception:  # pragma: no cover
            log.exception("fal twin shutdown error")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=3)

    def run_coroutine(self, coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # ------------------------------------------------------------- connections
    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _on_tls_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track()
        try:
            await serve_connection(reader, writer, self._handler, "127.0.0.1", self.limiter)
        except asyncio.CancelledError:
            pass  # twin shutting down

    async def _on_proxy_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track()
        try:
            await self._proxy(reader, writer)
        except asyncio.CancelledError:
            writer.close()  # twin shutting down

    async def _proxy(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionError):
            writer.close()
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3 or parts[0].upper() != "CONNECT":
            await self._refuse(writer, 405, "Method Not Allowed", "the fal twin proxy only supports CONNECT")
            return
        host, _, port = parts[1].rpartition(":")
        host = host.strip("[]").lower()
        if port != "443" or not host:
            await self._refuse(writer, 403, "Forbidden", f"the fal twin proxy only tunnels to port 443, not {parts[1]}")
            return
        try:
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await start_tls(writer, self._ssl)
        except (ConnectionError, ssl.SSLError, OSError, asyncio.TimeoutError):
            writer.close()
            return
        await serve_connection(reader, writer, self._handler, host, self.limiter)

    @staticmethod
    async def _refuse(writer: asyncio.StreamWriter, status: int, reason: str, text: str) -> None:
        body = text.encode()
        writer.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        try:
            await writer.drain()
        except ConnectionError:
            pass
        writer.close()


async def start_tls(writer: asyncio.StreamWriter, context: ssl.SSLContext) -> None:
    """Upgrade the server side of ``writer``'s connection to TLS, on every Python the package supports.

    ``StreamWriter.start_tls`` exists from Python 3.11; on 3.10 this does what it does there: hand the transport to
    ``loop.start_tls`` and point the writer and its protocol at the TLS transport.
    """
    if sys.version_info >= (3, 11):
        await writer.start_tls(context, ssl_handshake_timeout=30)
        return
    await writer.drain()
    protocol = writer._protocol  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    tls = await loop.start_tls(writer.transport, protocol, context, server_side=True, ssl_handshake_timeout=30)
    writer._transport = tls  # type: ignore[attr-defined]
    protocol._transport = tls
    protocol._over_ssl = True
