"""The stdio boundary: every malformed JSON-RPC line gets a JSON-RPC error instead of silence.

The MCP SDK's stdio transport validates each line against its message models and, when that fails, hands the
exception to the session, which only logs it: the client never hears back and waits until its own timeout. That
covers broken JSON, ``params`` that is not an object, ``id`` that is ``null``, fractional or boolean, 5,000-deep
nesting and a missing ``method``. :func:`serve_stdio` puts :func:`check_line` in front of the SDK: a line that is
not a valid request is answered here, per JSON-RPC 2.0, and never reaches the SDK:

* not JSON, or nested deeper than :data:`MAX_DEPTH`: ``-32700`` Parse error, ``id: null``;
* JSON but not a request/notification/response object (an array, a string, a bad ``jsonrpc``, an ``id`` that is
  not a string or an integer, a ``method`` that is not a string): ``-32600`` Invalid Request;
* a request whose ``params`` is not an object: ``-32602`` Invalid params, with the request's id.

Notifications (no ``id``) are never answered, as JSON-RPC says. Everything else passes to the SDK unchanged.
Reported upstream (MCP Python SDK): the stdio transport should answer unparseable or invalid messages itself.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any, AsyncIterator, Optional

import anyio

log = logging.getLogger(__name__)

MAX_DEPTH = 64  # MCP messages nest a few levels; tool arguments a few more
MAX_LINE_BYTES = 16 * 1024 * 1024
PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS = -32700, -32600, -32602


def _depth(text: str) -> int:
    """The deepest ``[``/``{`` nesting of a JSON text (strings skipped), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _error(code: int, message: str, request_id: Any = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def check_line(line: str) -> Optional[dict[str, Any]]:
    """``None`` when ``line`` may go to the SDK; else the JSON-RPC error object to answer with (or ``{}`` for a
    bad notification, which gets no answer)."""
    if not line.strip():
        return {}
    if len(line) > MAX_LINE_BYTES:
        return _error(INVALID_REQUEST, f"Invalid Request: the message is larger than {MAX_LINE_BYTES} bytes")
    if _depth(line) > MAX_DEPTH:
        return _error(PARSE_ERROR, f"Parse error: JSON nested deeper than {MAX_DEPTH} levels")
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as exc:
        return _error(PARSE_ERROR, f"Parse error: {str(exc)[:120]}")
    if not isinstance(message, dict):
        kind = "a batch (array)" if isinstance(message, list) else type(message).__name__
        return _error(INVALID_REQUEST, f"Invalid Request: a message must be a JSON object, not {kind}")
    has_id = "id" in message
    request_id = message.get("id")
    id_ok = isinstance(request_id, str) or (isinstance(request_id, int) and not isinstance(request_id, bool))
    if message.get("jsonrpc") != "2.0":
        return _error(INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"', request_id if id_ok else None)
    if has_id and not id_ok:
        return _error(
            INVALID_REQUEST, 'Invalid Request: "id" must be a string or an integer (not null, a fraction or a boolean)'
        )
    if "method" in message:
        if not isinstance(message["method"], str):
            return _error(INVALID_REQUEST, 'Invalid Request: "method" must be a string', request_id) if has_id else {}
        if "params" in message and not isinstance(message["params"], dict):
            if not has_id:
                return {}
            kind = type(message["params"]).__name__
            return _error(INVALID_PARAMS, f'Invalid params: "params" must be an object, not {kind}', request_id)
        return None
    if has_id and ("result" in message or "error" in message):
        return None  # a response to one of our requests (sampling, elicitation, roots)
    return _error(INVALID_REQUEST, 'Invalid Request: no "method" (and not a response)', request_id if id_ok else None)


def _claim_stdin():  # type: ignore[no-untyped-def]
    """Read the wire from a private copy of fd 0 and point fd 0 at the null device, as the SDK does, so child
    processes and stray reads never consume protocol bytes. Returns a binary file."""
    try:
        private = os.dup(0)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        return os.fdopen(private, "rb", closefd=False)
    except OSError:
        return sys.stdin.buffer


async def serve_stdio(server) -> None:  # type: ignore[no-untyped-def]
    """Run ``server`` (an ``MCPServer``) over stdio with :func:`check_line` in front of the SDK's parser."""
    import io

    import mcp_types as types
    from mcp.server.stdio import stdio_server
    from mcp.shared.message import SessionMessage

    ready = anyio.Event()
    holder: dict[str, Any] = {}

    async def lines() -> AsyncIterator[str]:
        wire = anyio.wrap_file(io.TextIOWrapper(_claim_stdin(), encoding="utf-8", errors="replace"))
        async for line in wire:
            problem = check_line(line)
            if problem is None:
                yield line
                continue
            if problem:  # answer it (a bad notification gets no answer)
                log.info("answering a malformed JSON-RPC line with %s", problem["error"]["code"])
                await ready.wait()
                error = types.JSONRPCError.model_validate(problem)
                await holder["write"].send(SessionMessage(error))

    lowlevel = server._lowlevel_server  # the SDK offers no public handle to run on custom streams
    async with stdio_server(stdin=lines()) as (read_stream, write_stream):  # type: ignore[arg-type]
        holder["write"] = write_stream
        ready.set()
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
