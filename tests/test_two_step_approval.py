"""Approval on every host: a Kling video ($1.40, above ALICE_CONFIRM_SPEND_ABOVE_USD's default $1) from a host
without elicitation (Claude Desktop's chat) comes back as a normal result, status "needs_approval", with the quote
and an approval_id; the repeat call with it runs exactly the quoted job. Through the MCP wire against the twin."""

from __future__ import annotations

import pytest

from alice_mcp.mcp import approvals
from tests.conftest import files_in

KLING = "fal-ai/kling-video/v2.1/master/text-to-video"
FOX = {"prompt": "a red fox in the snow", "duration": 5, "aspect_ratio": "9:16"}


async def _quote(client, arguments=FOX):  # type: ignore[no-untyped-def]
    offered = await client.call_tool("generate_video", arguments)
    assert offered.is_error is False, offered.content[0].text
    data = offered.structured_content
    assert data["status"] == "needs_approval" and data["job_id"] is None
    return data["approval"], offered.content[0].text


async def test_a_host_without_elicitation_gets_a_quote_then_runs_exactly_that_job(connect, twin, output_dir) -> None:
    async with connect() as client:  # no elicitation capability
        approval, text = await _quote(client)
        assert twin.state.submit_count() == 0 and files_in(output_dir) == []  # nothing ran or was paid
        assert approval["cost_usd"] == pytest.approx(1.40) and approval["endpoint"] == KLING
        assert "$1.40" in approval["formula"] and approval["expires_at"].endswith("+00:00")
        assert "$1.40" in text and approval["approval_id"] in text
        done = await client.call_tool("generate_video", {**FOX, "approval_id": approval["approval_id"]})
        assert done.is_error is False, done.content[0].text
        assert done.structured_content["status"] == "completed" and done.structured_content["cost_usd"] == 1.40
        again = await client.call_tool("generate_video", {**FOX, "approval_id": approval["approval_id"]})
    assert again.is_error is True and "already used" in again.content[0].text
    (submit,) = twin.state.submits  # one job, the quoted one
    assert submit.endpoint == KLING and submit.payload["duration"] == "5" and submit.payload["aspect_ratio"] == "9:16"
    assert submit.payload["prompt"] == FOX["prompt"]


async def test_an_approval_is_bound_to_its_arguments_and_to_its_time(connect, twin, monkeypatch) -> None:
    async with connect() as client:
        approval, _ = await _quote(client)
        other = await client.call_tool(
            "generate_video", {**FOX, "duration": 10, "approval_id": approval["approval_id"]}
        )
        assert other.is_error is True and "different request" in other.content[0].text
        unknown = await client.call_tool("generate_video", {**FOX, "approval_id": "appr_made_up"})
        assert unknown.is_error is True and "not an approval this server gave" in unknown.content[0].text
        monkeypatch.setattr(approvals, "APPROVAL_TTL_S", -1.0)  # the next quote has already lapsed
        stale, _ = await _quote(client)
        late = await client.call_tool("generate_video", {**FOX, "approval_id": stale["approval_id"]})
        assert late.is_error is True and "expired" in late.content[0].text
        for refused in (other, unknown, late):
            assert "Nothing was uploaded, submitted or charged" in refused.content[0].text
    assert twin.state.submit_count() == 0 and twin.state.uploads == []


async def test_an_approved_audio_job_runs_with_the_quoted_length_and_seed(connect, clip, twin, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_CONFIRM_SPEND_ABOVE_USD", "0.001")  # a 2 s MMAudio job ($0.002) needs approval
    arguments = {"video": str(clip(seconds=2.0)), "prompt": "rain on a tin roof"}  # no duration, no seed
    async with connect() as client:
        offered = await client.call_tool("add_audio_to_video", arguments)
        quote = offered.structured_content
        assert offered.is_error is False and quote["status"] == "needs_approval", offered.content[0].text
        assert twin.state.uploads == [] and twin.state.submit_count() == 0
        done = await client.call_tool(
            "add_audio_to_video", {**arguments, "approval_id": quote["approval"]["approval_id"]}
        )
    assert done.is_error is False and done.structured_content["status"] == "completed", done.content[0].text
    (submit,) = twin.state.submits
    assert submit.payload["seed"] == quote["seed"] == done.structured_content["seed"]  # the quoted job exactly
    assert submit.payload["duration"] == pytest.approx(quote["duration"]) == pytest.approx(quote["approval"]["seconds"])
    assert quote["cost_usd"] == pytest.approx(0.002) and done.structured_content["cost_usd"] == pytest.approx(0.002)
