"""generate_audio (fal-ai/mmaudio-v2/text-to-audio) through the MCP wire against the fal twin."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media import audio_rms, describe


async def test_text_to_audio_saves_a_flac(connect, twin, output_dir) -> None:
    async with connect() as client:
        result = await client.call_tool("generate_audio", {"preset": "campfire", "duration": 3, "seed": 9})
    assert result.is_error is False, result.content[0].text
    data = result.structured_content
    out = Path(data["output_path"])
    assert out.suffix == ".flac" and out.parent == output_dir.resolve()
    info = describe(out)
    assert info.audio_codec == "flac" and info.audio_duration == pytest.approx(3.0, abs=0.1)
    assert audio_rms(out) > 0.01
    submit = twin.state.submits[0]
    assert submit.endpoint == "fal-ai/mmaudio-v2/text-to-audio"
    assert "video_url" not in submit.payload and submit.payload["seed"] == 9
    assert data["audio_url"].startswith("https://") and data["cost_usd"] == pytest.approx(0.003)


async def test_text_to_audio_needs_a_prompt_or_preset(connect, twin) -> None:
    async with connect() as client:
        result = await client.call_tool("generate_audio", {"duration": 3})
    assert result.is_error is True and "prompt" in result.content[0].text
    assert twin.state.submit_count() == 0
