"""The soundtrack_clip prompt and the alice://presets resources through the MCP client (both protocol eras)."""

from __future__ import annotations

import json

import pytest
from mcp import MCPError

from alice_mcp.data.presets import PRESETS


async def test_soundtrack_clip_guides_preset_estimate_call_report(connect) -> None:
    async with connect() as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
        with_mood = await client.get_prompt("soundtrack_clip", {"video": "~/clips/fox.mp4", "mood": "tense"})
        without = await client.get_prompt("soundtrack_clip", {"video": "https://example.com/a.mp4"})
    args = {a.name: a.required for a in listed["soundtrack_clip"].arguments}
    assert args == {"video": True, "mood": False}
    text = with_mood.messages[0].content.text
    assert "~/clips/fox.mp4" in text and "tense" in text
    steps = [text.index(word) for word in ("preset", "estimate_cost", "add_audio_to_video", "output_path")]
    assert steps == sorted(steps)  # pick a sound, estimate, call, report: in that order
    assert all(f"`{p.id}`" in text for p in PRESETS)
    assert "no mood" in without.messages[0].content.text


async def test_preset_resources(connect) -> None:
    async with connect() as client:
        static = {str(r.uri) for r in (await client.list_resources()).resources}
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        everything = json.loads((await client.read_resource("alice://presets")).contents[0].text)
        one = await client.read_resource("alice://presets/horror")
        with pytest.raises(MCPError) as missing:
            await client.read_resource("alice://presets/disco")
    assert "alice://presets" in static and "alice://presets/{preset_id}" in templates
    assert [p["id"] for p in everything["presets"]] == [p.id for p in PRESETS]
    horror = json.loads(one.contents[0].text)
    assert (
        horror["id"] == "horror"
        and horror["settings"] == {"cfg_strength": 5.5}
        and one.contents[0].mime_type == "application/json"
    )
    assert "Unknown preset 'disco'" in str(missing.value) and "tavern" in str(missing.value)


async def test_job_resource_reads_the_ledger(connect, twin) -> None:
    async with connect() as client:
        made = await client.call_tool("generate_audio", {"prompt": "wind", "duration": 1, "seed": 2})
        job_id = made.structured_content["job_id"]
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        read = await client.read_resource(f"alice://jobs/{job_id}")
        with pytest.raises(MCPError) as missing:
            await client.read_resource("alice://jobs/nope")
    assert "alice://jobs/{job_id}" in templates
    status = json.loads(read.contents[0].text)
    assert status["job_id"] == job_id and status["status"] == "completed"
    assert status["output_path"] == made.structured_content["output_path"] and status["settings"]["seed"] == 2
    assert "No job 'nope'" in str(missing.value)
