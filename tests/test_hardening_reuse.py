"""Issue 12, finding 4: a lost fal storage copy of a deduplicated upload is recovered, not reused forever.

Through the MCP wire against the twin: the clip is uploaded once; fal's copy then disappears (storage cleared);
the next call for the same clip reuses the recorded URL, fal cannot fetch it (``file_download_error``), and the
server forgets that upload, uploads the clip again and resubmits once, in the same call. The failed attempt is
not counted as spend (fal does not bill a failed input fetch).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client


@pytest.fixture
def legacy(inprocess_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from alice_mcp.mcp.server import build_server

    return lambda: Client(build_server(), mode="legacy")


async def test_a_lost_storage_copy_is_uploaded_again_and_the_job_resubmitted_once(legacy, clip, twin) -> None:
    source = clip()
    async with legacy() as client:
        first = await client.call_tool("add_audio_to_video", {"video": str(source), "prompt": "a", "duration": 1})
        assert first.is_error is False, first.content[0].text
        twin.store.clear(keep_public=True)  # fal's copy of the upload is gone
        second = await client.call_tool("add_audio_to_video", {"video": str(source), "prompt": "b", "duration": 1})
        third = await client.call_tool("add_audio_to_video", {"video": str(source), "prompt": "c", "duration": 1})
    texts = [r.content[0].text for r in (second, third)]
    assert second.is_error is False, texts[0]
    assert Path(second.structured_content["output_path"]).exists()
    assert third.is_error is False, texts[1]
    assert len(twin.state.uploads) == 2  # uploaded again once, then reused
    assert twin.state.submit_count() == 3  # no paid submit of a URL fal could not fetch


async def test_a_failed_input_fetch_is_not_counted_as_spend(legacy, twin) -> None:
    """fal does not bill a job whose input it could not fetch; today's spend leaves it out."""
    gone = twin.public_url("gone.mp4", b"\0" * 64)
    twin.store.clear(keep_public=False)  # the URL answered once; now fal cannot fetch it
    async with legacy() as client:
        failed = await client.call_tool("add_audio_to_video", {"video": gone, "prompt": "x", "duration": 2})
        listing = await client.call_tool("list_generations", {"limit": 1})
        ok = await client.call_tool("generate_audio", {"prompt": "x", "duration": 1})
    assert failed.is_error is True and "download" in failed.content[0].text.lower()
    assert listing.is_error is False
    assert ok.is_error is False, ok.content[0].text
    assert ok.structured_content["spent_today_usd"] == pytest.approx(0.001)  # the failed fetch is not in it


async def test_a_copy_lost_after_the_check_is_uploaded_again_and_resubmitted_once(legacy, clip, twin) -> None:
    """The race the HEAD check can't close: fal's copy vanishes after the check, before the runner fetches it. The
    job is resubmitted once with a fresh upload, in the same call; fal bills only the job that ran; spend counts once."""
    source = clip()
    async with legacy() as client:
        first = await client.call_tool("add_audio_to_video", {"video": str(source), "prompt": "a", "duration": 1})
        assert first.is_error is False, first.content[0].text
        twin.state.lose_next_inputs(1)  # the reused copy passes the HEAD check, then is gone when the runner fetches
        second = await client.call_tool("add_audio_to_video", {"video": str(source), "prompt": "b", "duration": 1})
        listing = await client.call_tool("list_generations", {"limit": 5})
    assert second.is_error is False, second.content[0].text
    data = second.structured_content
    assert data["status"] == "completed" and Path(data["output_path"]).exists()
    assert any("uploaded again" in note and "resubmitted once" in note for note in data["notes"]), data["notes"]
    assert len(twin.state.uploads) == 2  # the clip went up again once
    lost, rerun = (twin.state.job(s.request_id) for s in twin.state.submits[1:])
    assert twin.state.submit_count() == 3  # the first call, the failed fetch, the resubmit
    assert lost.error is not None and lost.error[1][0]["type"] == "file_download_error" and lost.output is None
    assert rerun.error is None and rerun.output is not None  # the one fal bills
    assert len(listing.structured_content["jobs"]) == 2  # one ledger job per call
    assert data["spent_today_usd"] == pytest.approx(0.002)  # two $0.001 jobs: the failed fetch counted nowhere


async def test_a_second_lost_copy_is_not_resubmitted_again(legacy, clip, twin) -> None:
    """Resubmitted ONCE: if the fresh upload can't be fetched either, the call fails and says why."""
    source = clip()
    async with legacy() as client:
        first = await client.call_tool("add_audio_to_video", {"video": str(source), "prompt": "a", "duration": 1})
        assert first.is_error is False, first.content[0].text
        twin.state.lose_next_inputs(2)
        second = await client.call_tool("add_audio_to_video", {"video": str(source), "prompt": "b", "duration": 1})
    assert second.is_error is True
    assert "download" in second.content[0].text.lower()
    assert twin.state.submit_count() == 3 and len(twin.state.uploads) == 2
