"""Issue 12, finding 11: add_audio_to_videos applies the per-call cap and the approval threshold to the whole batch.

Through the MCP wire against the twin: three 2-second clips ($0.002 each, $0.006 together) are refused as a whole,
before anything is uploaded, when the per-call cap or the approval threshold is below the total, even though each
job alone is under it; under the limits the batch runs.
"""

from __future__ import annotations

import pytest
from mcp import Client


@pytest.fixture
def legacy(inprocess_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from alice_mcp.mcp.server import build_server

    return lambda: Client(build_server(), mode="legacy")


async def _batch(factory, clips):  # type: ignore[no-untyped-def]
    async with factory() as client:
        return await client.call_tool(
            "add_audio_to_videos", {"videos": [str(c) for c in clips], "prompt": "x", "duration": 2}
        )


@pytest.mark.parametrize(
    "setting, words",
    [("ALICE_MAX_COST_PER_CALL_USD", "per call"), ("ALICE_CONFIRM_SPEND_ABOVE_USD", "approval")],
)
async def test_a_batch_over_the_call_limits_is_refused_whole(legacy, clip, twin, monkeypatch, setting, words) -> None:
    monkeypatch.setenv(setting, "0.005")  # each job ($0.002) is under it; the three together ($0.006) are not
    clips = [clip(f"b{i}.mp4", seconds=2.0) for i in range(3)]
    result = await _batch(legacy, clips)
    items = result.structured_content["items"] if result.structured_content else []
    assert items and all(item["status"] == "failed" and words in item["error"] for item in items), result
    assert twin.state.uploads == [] and twin.state.submit_count() == 0


async def test_a_batch_under_the_call_limits_runs(legacy, clip, twin, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_MAX_COST_PER_CALL_USD", "0.01")
    monkeypatch.setenv("ALICE_CONFIRM_SPEND_ABOVE_USD", "0.01")
    result = await _batch(legacy, [clip(f"c{i}.mp4", seconds=2.0) for i in range(3)])
    items = result.structured_content["items"]
    assert [item["status"] for item in items] == ["completed"] * 3, items
    assert twin.state.submit_count() == 3
