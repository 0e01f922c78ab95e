"""Presets and cost estimates, through the MCP wire."""

from __future__ import annotations

import pytest

USE_CASES = [
    "tavern",
    "bird",
    "rain",
    "city",
    "horror",
    "door",
    "fight",
    "orchestral",
    "electronic",
    "lo-fi",
    "narration",
    "sfx",
]


async def test_presets_cover_the_use_cases(connect) -> None:
    async with connect() as client:
        result = await client.call_tool("list_audio_presets", {})
    presets = result.structured_content["presets"]
    assert len(presets) >= 12
    text = " ".join(f"{p['id']} {p['title']} {p['prompt']}".lower() for p in presets)
    for case in USE_CASES:
        assert case in text, case
    for preset in presets:
        assert preset["prompt"] and preset["negative_prompt"] and preset["use_for"]
    sfx = next(p for p in presets if p["id"] == "sfx-only")
    assert "music" in sfx["negative_prompt"] and "speech" in sfx["negative_prompt"]


async def test_estimate_from_duration_uses_fals_price(connect) -> None:
    async with connect() as client:
        result = await client.call_tool("estimate_cost", {"duration": 8})
        many = await client.call_tool("estimate_cost", {"duration": 30, "count": 10})
    assert result.is_error is False
    assert result.structured_content["usd"] == pytest.approx(0.008)
    assert "0.001" in result.structured_content["formula"]
    assert "fal.ai" in result.structured_content["price_source"]
    assert many.structured_content["usd"] == pytest.approx(0.30)


async def test_estimate_from_a_local_clip_uses_its_length(connect, clip) -> None:
    path = clip("short.mp4", seconds=3.0)
    async with connect() as client:
        result = await client.call_tool("estimate_cost", {"video": str(path)})
    assert result.structured_content["duration"] == pytest.approx(3.0, abs=0.1)
    assert result.structured_content["usd"] == pytest.approx(0.003, abs=0.0002)


async def test_price_override_from_the_environment(connect, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_PRICE_OVERRIDES", '{"fal-ai/mmaudio-v2": 0.002}')
    async with connect() as client:
        result = await client.call_tool("estimate_cost", {"duration": 10})
    assert result.structured_content["usd"] == pytest.approx(0.02)
    assert "ALICE_PRICE_OVERRIDES" in result.structured_content["price_source"]


async def test_estimate_rejects_out_of_range_duration(connect) -> None:
    async with connect() as client:
        result = await client.call_tool("estimate_cost", {"duration": 31})
    assert result.is_error is True
    assert result.content[0].text.endswith("`duration` got 31; allowed: a number from 1 to 30, or leave it out.")
