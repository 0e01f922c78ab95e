"""The seed guide's workflow through MCP tools: a Kling video first (generate_video), then its sound
(add_audio_to_video on the video's file:// URI), against the fal twin."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp.types import ElicitResult

from tests.conftest import files_in
from tests.media import audio_rms, describe

KLING = "fal-ai/kling-video/v2.1/master/text-to-video"


def approving_user(questions: list[str]):  # type: ignore[no-untyped-def]
    """Kling costs more than ALICE_CONFIRM_SPEND_ABOVE_USD's default ($1): the user is asked, and approves."""

    async def answer(context, params) -> ElicitResult:  # type: ignore[no-untyped-def]
        questions.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})

    return answer


async def test_video_then_its_sound_through_mcp_tools(connect, twin, output_dir) -> None:
    questions: list[str] = []
    async with connect(elicitation_callback=approving_user(questions)) as client:
        estimate = await client.call_tool("estimate_cost", {"model": "kling-v2.1-pro-text", "duration": 5})
        video = await client.call_tool(
            "generate_video", {"prompt": "a lighthouse in a storm at night", "duration": 5, "aspect_ratio": "9:16"}
        )
        assert video.is_error is False, video.content[0].text
        video_path = Path(video.structured_content["output_path"])
        sound = await client.call_tool(
            "add_audio_to_video", {"video": video_path.as_uri(), "preset": "rain-metal-roof", "duration": 5}
        )
    assert (
        estimate.structured_content["usd"] == pytest.approx(1.40) and estimate.structured_content["endpoint"] == KLING
    )
    assert len(questions) == 1 and "$1.40" in questions[0]  # only Kling is over the threshold
    data = video.structured_content
    assert data["duration"] == "5" and data["cost_usd"] == pytest.approx(1.40) and data["endpoint"] == KLING
    assert "add_audio_to_video" in video.content[0].text
    assert describe(video_path).video[:2] == (360, 640) and describe(video_path).audio_codec is None
    assert sound.is_error is False, sound.content[0].text
    final = Path(sound.structured_content["output_path"])
    info = describe(final)
    assert (
        info.video[:2] == (360, 640) and info.audio_duration == pytest.approx(5.0, abs=0.3) and audio_rms(final) > 0.01
    )
    kling, mmaudio = twin.state.submits
    assert kling.endpoint == KLING and kling.payload["duration"] == "5"  # int 5 from the caller, string on the wire
    assert kling.payload["negative_prompt"] == "blur, distort, and low quality" and kling.payload["cfg_scale"] == 0.5
    assert mmaudio.payload["video_url"] == twin.state.uploads[0].url
    assert twin.state.uploads[0].size == video_path.stat().st_size
    assert sorted(files_in(output_dir)) == sorted([video_path.name, final.name])


async def test_generate_video_refuses_what_kling_does_not_take(connect, twin) -> None:
    async with connect() as client:
        bad_duration = await client.call_tool("generate_video", {"prompt": "x", "duration": "7"})
        no_prompt = await client.call_tool("generate_video", {"duration": "10"})
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert bad_duration.is_error is True
    assert bad_duration.content[0].text.endswith('`duration` got "7"; allowed: one of "5", "10".')
    assert no_prompt.is_error is True and "`prompt` is required (What the video shows" in no_prompt.content[0].text
    assert twin.state.submit_count(include_rejected=True) == 0
    tool = tools["generate_video"]
    assert tool.annotations.read_only_hint is False and tool.annotations.open_world_hint is True
    schema = tool.input_schema["properties"]
    assert tool.input_schema["required"] == ["prompt"]
    assert schema["duration"]["enum"] == ["5", "10"] and schema["duration"]["default"] == "5"
    assert schema["cfg_scale"]["maximum"] == 1 and schema["cfg_scale"]["default"] == 0.5
    assert "$1.40" in tool.description


async def test_the_seeds_pro_model_name_is_never_sent_to_fal(connect, twin) -> None:
    async with connect() as client:
        result = await client.call_tool(
            "estimate_cost", {"model": "fal-ai/kling-video/v2.1/pro/text-to-video", "duration": 10}
        )
        unknown = await client.call_tool("estimate_cost", {"model": "sora", "duration": 5})
    assert result.structured_content["endpoint"] == KLING and result.structured_content["usd"] == pytest.approx(2.80)
    assert unknown.is_error is True and "kling-v2.1-pro-text" in unknown.content[0].text


async def test_a_long_kling_job_returns_a_job_id_and_finishes_in_the_background(connect, twin, output_dir) -> None:
    twin.state.run_seconds = 1.5
    async with connect(elicitation_callback=approving_user([])) as client:
        started = await client.call_tool("generate_video", {"prompt": "waves", "wait_seconds": 0.2})
        assert started.is_error is False, started.content[0].text
        running = started.structured_content
        finished = await client.call_tool("get_generation", {"job_id": running["job_id"], "wait_seconds": 30})
    assert running["status"] == "running" and running["output_path"] is None and "get_generation" in running["message"]
    assert "get_generation" in started.content[0].text
    done = finished.structured_content
    assert done["status"] == "completed" and done["tool"] == "generate_video" and done["endpoint"] == KLING
    assert Path(done["output_path"]).parent == output_dir.resolve() and describe(Path(done["output_path"])).video[
        :2
    ] == (640, 360)
    assert done["cost_usd"] == pytest.approx(1.40) and twin.state.submit_count() == 1
