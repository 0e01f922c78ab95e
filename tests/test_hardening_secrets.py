"""Issue 12, findings 9 and 10: the fal key never leaves the process or lands on disk; private data stays private.

A real stdio server whose fal job fails with an error text that echoes the key (and its id and secret parts): the
key is in no answer, no log line, and no ledger row or job event. The data folder is 700 and the ledger 600; results
follow the umask unless ALICE_PRIVATE_OUTPUTS=true makes them 600.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from mcp import Client

from tests.test_secret_scan import _scan, _video_call

KEY_ID, KEY_SECRET = "twin-id-4242", "twin-secret-9e1d77"
KEY = f"{KEY_ID}:{KEY_SECRET}"


def _ledger_text(data_dir: Path) -> str:
    db = sqlite3.connect(next(data_dir.rglob("ledger.sqlite3")))
    rows = [*db.execute("SELECT * FROM jobs"), *db.execute("SELECT * FROM job_events")]
    db.close()
    return json.dumps(rows, default=str)


@pytest.mark.parametrize("echo", [KEY, KEY_SECRET, KEY_ID])
def test_a_fal_error_echoing_the_key_is_scrubbed_everywhere(alice_env, clip, twin, tmp_path, echo) -> None:
    twin.state.fail_next_jobs(1, error=f"auth header was 'Key {echo}' for this runner", error_type="runner_error")
    env = {**alice_env, "FAL_KEY": KEY, "ALICE_LOG_LEVEL": "DEBUG", "PATH": "/usr/bin:/bin"}
    listing = {
        "jsonrpc": "2.0",
        "id": 3,
        "method": "tools/call",
        "params": {"name": "list_generations", "arguments": {"limit": 5}},
    }
    answers = _scan(env, [_video_call(2, str(clip()), seed=5), listing], [KEY, KEY_ID, KEY_SECRET])
    failed = next(a for a in answers if a.get("id") == 2)["result"]
    assert failed["isError"] is True and "[FAL_KEY]" in failed["content"][0]["text"]
    stored = _ledger_text(Path(alice_env["ALICE_DATA_DIR"]))
    assert "runner" in stored  # the error was stored ...
    for secret in (KEY, KEY_ID, KEY_SECRET):  # ... without the key
        assert secret not in stored


@pytest.fixture
def legacy(inprocess_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from alice_mcp.mcp.server import build_server

    return lambda: Client(build_server(), mode="legacy")


@pytest.mark.parametrize("private", [False, True])
async def test_data_folder_ledger_and_outputs_have_private_modes(legacy, clip, twin, monkeypatch, private) -> None:
    data_dir = Path(os.environ["ALICE_DATA_DIR"])
    if private:
        monkeypatch.setenv("ALICE_PRIVATE_OUTPUTS", "true")
    old = os.umask(0o022)
    try:
        async with legacy() as client:
            result = await client.call_tool("add_audio_to_video", {"video": str(clip()), "prompt": "x", "seed": 2})
    finally:
        os.umask(old)
    assert result.is_error is False, result.content[0].text
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    ledger = next(data_dir.rglob("ledger.sqlite3"))
    for path in ledger.parent.glob("ledger.sqlite3*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    output = Path(result.structured_content["output_path"])
    assert stat.S_IMODE(output.stat().st_mode) == (0o600 if private else 0o644)
