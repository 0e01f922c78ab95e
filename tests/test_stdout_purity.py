"""Nothing but JSON-RPC on stdout, ever: not at start-up, not in errors, not while a job runs."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

from tests.conftest import ALICE_BIN


def _messages(*requests: dict) -> str:
    lines = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "purity", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        *requests,
    ]
    return "".join(json.dumps(line) + "\n" for line in lines)


def _run(env: dict[str, str], stdin: str, expected_ids: set[int], *command: str) -> tuple[list[str], str]:
    """Feed ``stdin``, keep it open until every expected id is answered, then close it; return stdout lines, stderr."""
    errfile = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        list(command) or [str(ALICE_BIN)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errfile,
        text=True,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(stdin)
    proc.stdin.flush()
    lines: list[str] = []
    pending = set(expected_ids)
    while pending:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.strip():
            pending.discard(json.loads(line).get("id"))
    proc.stdin.close()
    rest = proc.stdout.read()
    proc.wait(timeout=60)
    errfile.seek(0)
    return lines + rest.splitlines(), errfile.read()


def test_stdout_carries_only_json_rpc(alice_env, clip) -> None:
    env = {**alice_env, "PYTHONUNBUFFERED": "1", "ALICE_LOG_LEVEL": "DEBUG", "PATH": "/usr/bin:/bin"}
    requests = [
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "estimate_cost", "arguments": {"duration": 8}},
        },
        {
            "jsonrpc": "2.0",
            "id": 4,
            "method": "tools/call",
            "params": {"name": "add_audio_to_video", "arguments": {"video": "/no/such/file.mp4", "prompt": "x"}},
        },
        {
            "jsonrpc": "2.0",
            "id": 5,
            "method": "tools/call",
            "params": {"name": "add_audio_to_video", "arguments": {"video": str(clip()), "prompt": "x", "duration": 1}},
        },
    ]
    for command in ([str(ALICE_BIN)], [sys.executable, "-m", "alice_mcp"]):
        stdout, stderr = _run(env, _messages(*requests), {1, 2, 3, 4, 5}, *command)
        lines = [line for line in stdout if line.strip()]
        parsed = [json.loads(line) for line in lines]  # raises on any non-JSON byte
        assert all(msg.get("jsonrpc") == "2.0" for msg in parsed)
        answered = {msg.get("id") for msg in parsed}
        assert {1, 2, 3, 4, 5} <= answered, stderr[-2000:]
        by_id = {msg["id"]: msg for msg in parsed if "id" in msg}
        assert by_id[4]["result"]["isError"] is True
        assert by_id[5]["result"]["isError"] is False, by_id[5]
        assert "submitted" in stderr  # logs go to stderr


def test_version_and_help_do_not_start_a_server() -> None:
    proc = subprocess.run([str(ALICE_BIN), "--version"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.startswith("alice-mcp ")
