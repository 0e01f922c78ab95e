"""Nothing but JSON-RPC on stdout, ever: not at start-up, not in errors, not while a job runs."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ALICE_BIN


def _messages(*requests: dict) -> str:
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "purity", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        *requests,
    ]
    return "".join(json.dumps(line) + "\n" for line in lines)


def _run(env: dict[str, str], stdin: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command) or [str(ALICE_BIN)], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )


def test_stdout_carries_only_json_rpc(alice_env, clip) -> None:
    env = {**alice_env, "PYTHONUNBUFFERED": "1", "ALICE_LOG_LEVEL": "DEBUG", "PATH": "/usr/bin:/bin"}
    requests = [
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "estimate_cost", "arguments": {"duration": 8}}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
            "name": "add_audio_to_video", "arguments": {"video": "/no/such/file.mp4", "prompt": "x"}}},
        {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
            "name": "add_audio_to_video", "arguments": {"video": str(clip()), "prompt": "x", "duration": 1}}},
    ]
    for command in ([str(ALICE_BIN)], [sys.executable, "-m", "alice_mcp"]):
        proc = _run(env, _messages(*requests), *command)
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        parsed = [json.loads(line) for line in lines]  # raises on any non-JSON byte
        assert all(msg.get("jsonrpc") == "2.0" for msg in parsed)
        answered = {msg.get("id") for msg in parsed}
        assert {1, 2, 3, 4, 5} <= answered, proc.stderr[-2000:]
        by_id = {msg["id"]: msg for msg in parsed if "id" in msg}
        assert by_id[4]["result"]["isError"] is True
        assert by_id[5]["result"]["isError"] is False, by_id[5]
        assert "submitted" in proc.stderr  # logs go to stderr


def test_version_and_help_do_not_start_a_server() -> None:
    proc = subprocess.run([str(ALICE_BIN), "--version"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.startswith("alice-mcp ")
