"""add_audio_to_video end to end through the MCP wire (in memory, both protocol eras) against the fal twin."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import files_in
from tests.media import audio_rms, describe


async def test_local_clip_gets_a_soundtrack(connect, clip, twin, output_dir) -> None:
    source = clip("tavern.mp4", seconds=2.0)
    async with connect() as client:
        result = await client.call_tool(
            "add_audio_to_video", {"video": str(source), "prompt": "tavern ambience", "duration": 2, "seed": 42}
        )
    assert result.is_error is False, result.content[0].text
    data = result.structured_content
    out = Path(data["output_path"])
    assert out.is_absolute() and out.parent == output_dir.resolve() and out.exists()
    info = describe(out)
    assert info.video is not None and info.audio_duration == pytest.approx(2.0, abs=0.2)
    assert audio_rms(out) > 0.01
    assert data["seed"] == 42 and data["duration"] == 2 and data["num_steps"] == 25 and data["cfg_strength"] == 4.5
    assert data["prompt"] == "tavern ambience" and data["negative_prompt"] == ""
    assert data["cost_usd"] == pytest.approx(0.002)
    assert data["request_id"] == twin.state.submits[0].request_id
    assert data["video_url"].startswith("https://")
    assert "Saved" in result.content[0].text
    assert twin.state.submit_count() == 1
    upload = twin.state.uploads[0]
    assert upload.size == source.stat().st_size
    assert (
        upload.lifecycle == {"expiration_duration_seconds": 86400}
        or upload.lifecycle.get("expiration_duration_seconds") == 86400
    )
    payload = twin.state.submits[0].payload
    assert payload["video_url"] == upload.url and payload["seed"] == 42
    assert files_in(output_dir) == [out.name]


async def test_seed_is_drawn_and_reported_when_omitted(connect, clip, twin) -> None:
    source = clip()
    async with connect() as client:
        result = await client.call_tool("add_audio_to_video", {"video": str(source), "prompt": "rain"})
    assert result.is_error is False, result.content[0].text
    seed = result.structured_content["seed"]
    assert 0 <= seed <= 65535
    assert twin.state.submits[0].payload["seed"] == seed


async def test_https_url_is_passed_to_fal_as_is(connect, clip, twin, output_dir) -> None:
    url = twin.public_url("street.mp4", clip("street.mp4").read_bytes())
    async with connect() as client:
        result = await client.call_tool("add_audio_to_video", {"video": url, "preset": "city-street", "duration": 2})
    assert result.is_error is False, result.content[0].text
    assert twin.state.uploads == []
    assert twin.state.submits[0].payload["video_url"] == url
    assert Path(result.structured_content["output_path"]).name.startswith("street-city-street-seed")


@pytest.mark.parametrize("form", ["uri", "tilde"])
async def test_file_uri_and_home_relative_paths(connect, clip, twin, home, form) -> None:
    source = clip("door.mp4")
    video = source.as_uri() if form == "uri" else "~/clips/door.mp4"
    async with connect() as client:
        result = await client.call_tool("add_audio_to_video", {"video": video, "prompt": "door creak", "duration": 1})
    assert result.is_error is False, result.content[0].text
    assert twin.state.uploads[0].size == source.stat().st_size


async def test_preset_fills_in_and_explicit_values_win(connect, clip, twin) -> None:
    source = clip()
    async with connect() as client:
        result = await client.call_tool(
            "add_audio_to_video", {"video": str(source), "preset": "footsteps-door", "cfg_strength": 2.0, "duration": 1}
        )
    assert result.is_error is False, result.content[0].text
    payload = twin.state.submits[0].payload
    assert "footsteps" in payload["prompt"] and "music" in payload["negative_prompt"]
    assert payload["num_steps"] == 30  # from the preset
    assert payload["cfg_strength"] == 2.0  # explicit wins over the preset's 6.0
    assert result.structured_content["preset"] == "footsteps-door"


async def test_an_explicit_value_equal_to_the_table_default_still_wins(connect, clip, twin) -> None:
    """The schema publishes the table defaults, yet only what the caller really sent overrides a preset or tier."""
    source = clip()
    async with connect() as client:
        result = await client.call_tool(
            "add_audio_to_video",
            {
                "video": str(source),
                "preset": "footsteps-door",  # cfg_strength 6.0, num_steps 30, a negative prompt
                "cfg_strength": 4.5,  # the table default, sent on purpose
                "negative_prompt": "",  # clear the preset's
                "duration": 1,
            },
        )
        tier = await client.call_tool(
            "add_audio_to_video",
            {"video": str(source), "prompt": "rain", "quality": "high", "num_steps": 25, "duration": 1},
        )
    assert result.is_error is False, result.content[0].text
    assert tier.is_error is False, tier.content[0].text
    preset_payload, tier_payload = (submit.payload for submit in twin.state.submits)
    assert preset_payload["cfg_strength"] == 4.5 and preset_payload["negative_prompt"] == ""
    assert preset_payload["num_steps"] == 30  # not sent: the preset fills it, not the published default 25
    assert tier_payload["num_steps"] == 25  # an explicit value wins over the tier's 50


async def test_output_path_inside_the_folder_and_never_overwritten(connect, clip, twin, output_dir) -> None:
    source = clip()
    async with connect() as client:
        first = await client.call_tool(
            "add_audio_to_video", {"video": str(source), "prompt": "x", "duration": 1, "output_path": "mine.mp4"}
        )
        second = await client.call_tool(
            "add_audio_to_video", {"video": str(source), "prompt": "x", "duration": 1, "output_path": "mine.mp4"}
        )
    assert Path(first.structured_content["output_path"]) == output_dir.resolve() / "mine.mp4"
    assert Path(second.structured_content["output_path"]) == output_dir.resolve() / "mine-2.mp4"
    assert files_in(output_dir) == ["mine-2.mp4", "mine.mp4"]


async def test_progress_is_monotonic_with_messages(connect, clip, twin) -> None:
    twin.state.queue_seconds = 0.3
    twin.state.run_seconds = 0.5
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress, total, message) -> None:  # type: ignore[no-untyped-def]
        seen.append((progress, total, message))

    async with connect() as client:
        result = await client.call_tool(
            "add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1}, progress_callback=on_progress
        )
    assert result.is_error is False
    values = [p for p, _, _ in seen]
    assert values == sorted(values) and values[-1] == 100
    messages = " ".join(m or "" for _, _, m in seen)
    for word in ("Uploading", "Queued", "Download", "Saved"):
        assert word in messages, (word, messages)
