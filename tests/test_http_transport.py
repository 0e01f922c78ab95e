"""`alice-mcp serve --transport http`: the real process, reached with the SDK client over loopback, against the twin."""

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
from tests.media import describe


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the HTTP server never started listening")


@pytest.fixture
def http_server(alice_env) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    """A real `alice-mcp serve --transport http` on a free loopback port; yields (url, process, stderr file)."""
    port = _free_port()
    errors = Path(tempfile.mkstemp(suffix=".log")[1])
    with errors.open("w") as err:
        proc = subprocess.Popen(
            [str(ALICE_BIN), "serve", "--transport", "http", "--port", str(port)],
            env=alice_env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/mcp", proc, errors
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        errors.unlink(missing_ok=True)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_tools_prompts_and_resources_over_http(http_server, mode, clip, twin, output_dir) -> None:
    url, _, _ = http_server
    seen: list[float] = []

    async def on_progress(progress, total, message) -> None:  # type: ignore[no-untyped-def]
        seen.append(progress)

    async with Client(url, mode=mode) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"add_audio_to_video", "generate_audio", "generate_video", "estimate_cost"} <= tools
        result = await client.call_tool(
            "add_audio_to_video",
            {"video": str(clip()), "preset": "tavern", "duration": 2, "seed": 3},
            progress_callback=on_progress,
        )
        presets = await client.read_resource("alice://presets")
        prompt = await client.get_prompt("soundtrack_clip", {"video": "~/clips/a.mp4"})
    assert result.is_error is False, result.content[0].text
    out = Path(result.structured_content["output_path"])
    assert out.parent == output_dir.resolve() and describe(out).audio_duration == pytest.approx(2, abs=0.2)
    assert twin.state.submits[0].payload["seed"] == 3
    assert seen and seen == sorted(seen)
    assert '"tavern"' in presets.contents[0].text
    assert "estimate_cost" in prompt.messages[0].content.text


def test_the_http_server_keeps_stdout_clean_and_checks_the_host_header(http_server) -> None:
    url, proc, errors = http_server
    evil = httpx.post(
        url,
        headers={
            "Host": "evil.example",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        },
        json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        timeout=10,
    )
    assert evil.status_code in (400, 403, 421)  # DNS-rebinding protection on loopback
    proc.terminate()
    stdout, _ = proc.communicate(timeout=15)
    assert stdout == ""
    assert f"streamable HTTP at {url}\n" in errors.read_text()  # the whole URL, not cut by log redaction


def test_a_non_loopback_host_is_refused_without_allow_remote(alice_env) -> None:
    proc = subprocess.run(
        [str(ALICE_BIN), "serve", "--transport", "http", "--host", "0.0.0.0", "--port", str(_free_port())],
        env=alice_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 4
    assert "Refusing to listen on 0.0.0.0" in proc.stderr and "--allow-remote" in proc.stderr
