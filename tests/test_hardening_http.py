"""Issue 12, finding 8: HTTP exposure is safe by construction.

Real `alice-mcp serve --transport http` processes: DNS-rebinding protection (Host and Origin) is on for every bind
address, not only the three strings the SDK knows; ``--host`` takes IPv6 in brackets; ``--allow-remote`` says what
it exposes.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from mcp import Client

from tests.conftest import ALICE_BIN

HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def _free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _wait(host: str, port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}")
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the HTTP server never started listening")


@pytest.fixture
def serve(alice_env) -> Iterator:  # type: ignore[no-untyped-def]
    procs: list[tuple[subprocess.Popen, Path]] = []

    def start(host_arg: str, connect_host: str, *extra: str) -> tuple[int, Path]:
        port = _free_port(connect_host)
        errors = Path(tempfile.mkstemp(suffix=".log")[1])
        with errors.open("w") as err:
            proc = subprocess.Popen(
                [str(ALICE_BIN), "serve", "--transport", "http", "--host", host_arg, "--port", str(port), *extra],
                env=alice_env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        procs.append((proc, errors))
        _wait(connect_host, port, proc)
        return port, errors

    yield start
    for proc, errors in procs:
        proc.terminate()
        proc.wait(timeout=15)
        errors.unlink(missing_ok=True)


def test_a_loopback_address_other_than_127_0_0_1_checks_host_and_origin(serve) -> None:
    port, _ = serve("127.0.0.2", "127.0.0.2")
    url = f"http://127.0.0.2:{port}/mcp"
    foreign_host = httpx.post(url, headers={**HEADERS, "Host": "evil.example"}, json=INIT, timeout=10)
    foreign_origin = httpx.post(url, headers={**HEADERS, "Origin": "http://evil.example"}, json=INIT, timeout=10)
    own = httpx.post(url, headers={**HEADERS, "Origin": f"http://127.0.0.2:{port}"}, json=INIT, timeout=10)
    assert foreign_host.status_code == 421, foreign_host.text
    assert foreign_origin.status_code == 403, foreign_origin.text
    assert own.status_code == 200, own.text


def test_a_specific_remote_address_allows_only_itself(serve) -> None:
    # 127.0.0.3 stands for a LAN address here: the allowed set is derived from what the server listens on
    port, _ = serve("127.0.0.3", "127.0.0.3")
    url = f"http://127.0.0.3:{port}/mcp"
    assert httpx.post(url, headers={**HEADERS, "Host": f"attacker.example:{port}"}, json=INIT).status_code == 421
    assert httpx.post(url, headers=HEADERS, json=INIT, timeout=10).status_code == 200


async def test_host_takes_ipv6_in_brackets(serve) -> None:
    port, _ = serve("[::1]", "::1")
    async with Client(f"http://[::1]:{port}/mcp") as client:
        tools = {t.name for t in (await client.list_tools()).tools}
    assert "add_audio_to_video" in tools
    evil = httpx.post(f"http://[::1]:{port}/mcp", headers={**HEADERS, "Host": "evil.example"}, json=INIT)
    assert evil.status_code == 421


def test_allow_remote_says_what_it_exposes(serve) -> None:
    port, errors = serve("0.0.0.0", "127.0.0.1", "--allow-remote")
    log = errors.read_text()
    deadline = time.monotonic() + 10
    while "WITHOUT authentication" not in log and time.monotonic() < deadline:
        time.sleep(0.05)
        log = errors.read_text()
    assert "WITHOUT authentication" in log and "fal" in log and "allowed folders" in log
    evil = httpx.post(f"http://127.0.0.1:{port}/mcp", headers={**HEADERS, "Host": "evil.example"}, json=INIT)
    assert evil.status_code == 421  # rebinding protection is on for 0.0.0.0 too
