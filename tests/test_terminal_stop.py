"""Ctrl-C in a real terminal: the installed `alice-mcp` stdio server, idle, stops at once (a pseudo-terminal)."""

from __future__ import annotations

import json
import os
import pty
import select
import sys
import time

import pytest

from tests.conftest import ALICE_BIN

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "terminal", "version": "1"}},
}


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    """Read the terminal until ``needle`` shows up (or the process closes it); fail after ``timeout`` seconds."""
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{needle!r} never appeared; the terminal showed: {seen.decode(errors='replace')}")
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen


def test_ctrl_c_stops_an_idle_stdio_server_at_once(alice_env) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: the installed console script, its stdin/stdout/stderr on the terminal
        os.execve(str(ALICE_BIN), [str(ALICE_BIN)], alice_env)
    try:
        _read_until(fd, b"waiting for a client", timeout=60)
        # A session is open (what a host does first); no job runs: the server idles in its blocking stdin read.
        os.write(fd, json.dumps(INITIALIZE).encode() + b"\n")
        _read_until(fd, b'"serverInfo"', timeout=30)
        started = time.monotonic()
        os.write(fd, b"\x03")  # Ctrl-C typed at the terminal: the line discipline sends SIGINT, no Enter follows
        shown = _read_until(fd, b"stopped (Ctrl-C)", timeout=10)
        _, status = os.waitpid(pid, 0)
        stopped_after = time.monotonic() - started
    finally:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    text = shown.decode(errors="replace")
    assert os.WEXITSTATUS(status) == 130, text
    assert "cancelled" not in text.replace("were not cancelled", "")  # no false claim that a fal job was cancelled
    assert stopped_after < 10  # it did not wait for a line on stdin (none was ever sent)
