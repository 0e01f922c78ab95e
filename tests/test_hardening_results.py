"""Issue 12, finding 5: a 4xx from fal's result endpoint never turns a finished, billed job into ``failed``.

Through the MCP wire against the twin (which answers the result fetch of a completed job with 404, 400 or 410 a
number of times): a brief miss is retried with backoff and the result saved; a persistent one keeps the job (not
failed) with a message that does not claim fal "does not know" the model, and get_generation fetches it later
without paying again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client


@pytest.fixture
def legacy(inprocess_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from alice_mcp.mcp.server import build_server

    return lambda: Client(build_server(), mode="legacy")


@pytest.mark.parametrize("status", [404, 400, 410])
async def test_a_brief_result_miss_is_retried(legacy, clip, twin, status) -> None:
    twin.state.add_fault("result", status, times=2)
    async with legacy() as client:
        result = await client.call_tool("add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1})
    assert result.is_error is False, result.content[0].text
    assert Path(result.structured_content["output_path"]).exists() and twin.state.submit_count() == 1


async def test_a_persistent_result_miss_keeps_the_billed_job(legacy, clip, twin, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_RETRY_ATTEMPTS", "2")
    twin.state.add_fault("result", 404, times=2)
    async with legacy() as client:
        first = await client.call_tool("add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1})
        assert first.is_error is True
        text = first.content[0].text
        assert "does not know" not in text and "not paid again" in text, text
        listing = await client.call_tool("list_generations", {"limit": 1})
        job = listing.structured_content["jobs"][0] if "jobs" in listing.structured_content else None
        job_id = job["job_id"] if job else text.split("job_")[1][:12]
        job_id = job_id if job_id.startswith("job_") else "job_" + job_id
        done = await client.call_tool("get_generation", {"job_id": job_id, "wait_seconds": 20})
    assert done.is_error is False, done.content[0].text
    assert done.structured_content["status"] == "completed" and twin.state.submit_count() == 1
