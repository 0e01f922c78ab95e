"""The seed guide's Python API (alice_mcp.api) running its own examples against the fal twin, in process."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.media import audio_rms, describe

KLING = "fal-ai/kling-video/v2.1/master/text-to-video"

# The seed guide's example, verbatim except for the import line.
SEED_EXAMPLE = """
from alice_mcp import AliceOrchestrator, GenerationRequest, GenerationType
alice = AliceOrchestrator()
request = GenerationRequest(
    prompt="peaceful nature sounds with birds chirping",
    generation_type=GenerationType.AUDIO,
    model="mmaudio-v2",
    parameters={"video_url": "https://example.com/my-nature-video.mp4", "duration": 10, "num_steps": 25},
)
result = await alice.generate_creative_asset(request)
print(f"Video with audio saved to: {result.file_path}")
"""

# The guide's two-step workflow: a Kling video first, then its sound.
SEED_WORKFLOW = """
from alice_mcp import AliceOrchestrator, GenerationRequest, GenerationType
alice = AliceOrchestrator()
video_request = GenerationRequest(
    prompt="a red fox trotting through a snowy forest at dawn",
    generation_type=GenerationType.VIDEO,
    model="kling-v2.1-pro-text",
    parameters={"duration": 5, "aspect_ratio": "16:9"},
)
video_result = await alice.generate_creative_asset(video_request)
audio_request = GenerationRequest(
    prompt="soft footsteps in snow, gentle winter wind, distant birds",
    generation_type=GenerationType.AUDIO,
    model="mmaudio-v2",
    parameters={"video_url": video_result.file_path.as_uri(), "duration": 5},
)
final_result = await alice.generate_creative_asset(audio_request)
print(f"Final video saved to: {final_result.file_path}")
"""


async def run_snippet(code: str) -> dict:
    """Run ``code`` as a notebook would (top-level ``await`` allowed); return its namespace."""
    namespace: dict = {}
    coroutine = eval(compile(code, "<seed guide>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT), namespace)
    if coroutine is not None:
        await coroutine
    return namespace


async def test_seed_example_runs_as_written(inprocess_env, twin, clip, output_dir, capsys) -> None:
    url = twin.public_url("my-nature-video.mp4", clip("nature.mp4", seconds=10.5).read_bytes(), host="example.com")
    assert url == "https://example.com/my-nature-video.mp4"
    namespace = await run_snippet(SEED_EXAMPLE)
    result = namespace["result"]
    assert capsys.readouterr().out == f"Video with audio saved to: {result.file_path}\n"
    assert isinstance(result.file_path, Path) and result.file_path.parent == output_dir.resolve()
    info = describe(result.file_path)
    assert info.video is not None and audio_rms(result.file_path) > 0.01
    submit = twin.state.submits[0]
    assert submit.endpoint == "fal-ai/mmaudio-v2" and twin.state.uploads == []
    assert submit.payload["video_url"] == url and submit.payload["duration"] == 10 and submit.payload["num_steps"] == 25
    assert result.parameters["seed"] == submit.payload["seed"] and result.parameters["num_steps"] == 25
    assert result.parameters["prompt"] == "peaceful nature sounds with birds chirping"
    assert result.cost_usd == pytest.approx(0.010) and result.url.startswith("https://v3.fal.media/")
    assert result.model == "fal-ai/mmaudio-v2" and result.request_id == submit.request_id
    await namespace["alice"].aclose()


async def test_guide_workflow_kling_video_then_its_sound(inprocess_env, twin, output_dir) -> None:
    namespace = await run_snippet(SEED_WORKFLOW)
    video_result, final = namespace["video_result"], namespace["final_result"]
    assert [s.endpoint for s in twin.state.submits] == [KLING, "fal-ai/mmaudio-v2"]
    kling_payload = twin.state.submits[0].payload
    assert kling_payload["duration"] == "5"  # a string on the wire, as fal's schema demands
    assert (
        kling_payload["aspect_ratio"] == "16:9" and kling_payload["negative_prompt"] == "blur, distort, and low quality"
    )
    assert video_result.cost_usd == pytest.approx(1.40) and video_result.parameters["duration"] == "5"
    assert describe(video_result.file_path).video[:2] == (640, 360)
    upload = twin.state.uploads[0]  # the Kling file, uploaded because video_url was a file:// URI
    assert upload.size == video_result.file_path.stat().st_size
    assert twin.state.submits[1].payload["video_url"] == upload.url
    info = describe(final.file_path)
    assert info.video[:2] == (640, 360) and info.audio_duration == pytest.approx(5.0, abs=0.3)
    assert audio_rms(final.file_path) > 0.01 and final.file_path.parent == output_dir.resolve()
    assert final.parameters["video_url"] == video_result.file_path.as_uri().removeprefix("file://")
    assert twin.state.billed_usd() == pytest.approx(1.405)
    await namespace["alice"].aclose()


async def test_reference_asset_relative_to_the_scripts_cwd_is_uploaded(
    inprocess_env, twin, clip, home, monkeypatch
) -> None:
    from alice_mcp import AliceOrchestrator, GenerationRequest, GenerationType

    source = clip("walk.mp4")
    monkeypatch.chdir(home)
    async with AliceOrchestrator() as alice:
        result = await alice.generate_creative_asset(
            GenerationRequest(
                prompt="footsteps",
                generation_type=GenerationType.AUDIO,
                reference_assets=["clips/walk.mp4"],
                parameters={
                    "duration": 2,
                    "seed": 7,
                    "cfg_strength": 3.0,
                    "negative_prompt": "music",
                    "mask_away_clip": True,
                },
            )
        )
    assert twin.state.uploads[0].size == source.stat().st_size
    payload = twin.state.submits[0].payload
    assert payload["video_url"] == twin.state.uploads[0].url
    assert (payload["seed"], payload["cfg_strength"], payload["negative_prompt"], payload["mask_away_clip"]) == (
        7,
        3.0,
        "music",
        True,
    )
    assert result.parameters["video_url"] == str(source) and result.parameters["seed"] == 7


async def test_media_options_go_through_parameters(inprocess_env, twin, clip) -> None:
    from alice_mcp import AliceError, AliceOrchestrator, GenerationRequest

    source = clip("segment.mp4", seconds=3.0)
    async with AliceOrchestrator() as alice:
        result = await alice.generate_creative_asset(
            GenerationRequest(
                prompt="birds",
                reference_assets=[source],
                parameters={"start_time": 1.0, "duration": 1.5, "quality": "draft", "audio_format": "flac"},
            )
        )
        with pytest.raises(AliceError, match="`start_time`"):
            await alice.generate_creative_asset(GenerationRequest(prompt="birds", parameters={"start_time": 1.0}))
    assert twin.state.submits[0].payload["num_steps"] == 10 and twin.state.submit_count() == 1
    assert result.details.media.segment_start == pytest.approx(1.0)
    assert Path(result.details.audio_path).suffix == ".flac"
    assert result.parameters["quality"] == "draft" and result.parameters["start_time"] == 1.0


async def test_audio_without_a_video_is_text_to_audio(inprocess_env, twin, output_dir) -> None:
    from alice_mcp import AliceOrchestrator, GenerationRequest, GenerationType

    events = []
    async with AliceOrchestrator() as alice:
        result = await alice.generate_creative_asset(
            GenerationRequest(
                prompt="thunder", generation_type=GenerationType.AUDIO, model="mmaudio-v2", parameters={"duration": 2}
            ),
            progress=events.append,
        )
    assert twin.state.submits[0].endpoint == "fal-ai/mmaudio-v2/text-to-audio"
    assert result.file_path.suffix == ".flac" and describe(result.file_path).audio_codec == "flac"
    assert (
        0 <= result.parameters["seed"] <= 65535 and result.parameters["seed"] == twin.state.submits[0].payload["seed"]
    )
    stages = [e.stage for e in events]
    assert stages[0] == "checking" and stages[-1] == "done" and "generating" in stages


@pytest.mark.parametrize(
    ("kind", "model", "parameters", "expected"),
    [
        ("audio", None, {"duration": 99}, ["`duration`", "from 1 to 30", "99"]),
        ("audio", None, {"num_steps": "many"}, ["`num_steps`", "integer"]),
        ("audio", None, {"bogus": 1}, ["`bogus`", "not permitted"]),
        ("video", "kling-v2.1-pro-text", {"duration": 7}, ["`duration`", "'5' or '10'"]),
        ("video", None, {"cfg_scale": 2}, ["`cfg_scale`", "from 0 to 1"]),
        ("video", "mmaudio-v2", {}, ["makes audio", "kling-v2.1-pro-text"]),
        ("audio", "kling-v2.1-pro-text", {}, ["makes video", "mmaudio-v2"]),
        ("audio", "no-such-model", {}, ["Unknown model", "mmaudio-v2"]),
        ("audio", None, {"video_url": "ftp://x/y.mp4"}, ["ftp"]),
    ],
)
async def test_bad_input_raises_a_clear_error_naming_the_field(
    inprocess_env, twin, kind, model, parameters, expected
) -> None:
    from alice_mcp import AliceError, AliceOrchestrator, GenerationRequest, GenerationType

    request = GenerationRequest(prompt="x", generation_type=GenerationType(kind), model=model, parameters=parameters)
    async with AliceOrchestrator() as alice:
        with pytest.raises(AliceError) as caught:
            await alice.generate_creative_asset(request)
    for words in expected:
        assert words in str(caught.value), str(caught.value)
    assert twin.state.submit_count(include_rejected=True) == 0 and twin.state.uploads == []


def test_wrong_request_types_are_refused_when_the_request_is_built() -> None:
    from alice_mcp import GenerationRequest

    with pytest.raises(ValidationError, match="generation_type"):
        GenerationRequest(prompt="x", generation_type="sound")
    with pytest.raises(ValidationError, match="parameters"):
        GenerationRequest(prompt="x", parameters=["duration", 5])


async def test_estimate_before_paying(inprocess_env, twin) -> None:
    from alice_mcp import AliceOrchestrator, GenerationRequest, GenerationType

    alice = AliceOrchestrator()
    video = await alice.estimate_cost(
        GenerationRequest(prompt="x", generation_type=GenerationType.VIDEO, parameters={"duration": "10"})
    )
    audio = await alice.estimate_cost(GenerationRequest(prompt="x", parameters={"duration": 12}), count=3)
    assert video.usd == pytest.approx(2.80) and video.endpoint == KLING
    assert audio.usd == pytest.approx(0.036) and audio.endpoint == "fal-ai/mmaudio-v2/text-to-audio"
    assert twin.state.requests == []


def test_importing_the_package_stays_cheap() -> None:
    code = (
        "import sys, alice_mcp; loaded = set(sys.modules); "
        "from alice_mcp import AliceOrchestrator; "
        "print(sorted(m for m in ('alice_mcp.api', 'mcp', 'fal_client', 'av') if m in loaded), "
        "sorted(m for m in ('mcp', 'fal_client', 'av') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] []"


async def test_settings_can_be_overridden_in_code(inprocess_env, twin, tmp_path) -> None:
    from alice_mcp import AliceError, AliceOrchestrator, GenerationRequest

    elsewhere = tmp_path / "elsewhere"
    async with AliceOrchestrator(output_dir=str(elsewhere)) as alice:
        result = await alice.generate_creative_asset(GenerationRequest(prompt="wind", parameters={"duration": 1}))
    assert result.file_path.parent == elsewhere.resolve()
    with pytest.raises(
        AliceError, match="duration`: Input should be less than or equal to 30 \\(allowed: from 1 to 30\\); got 99"
    ):
        async with AliceOrchestrator() as alice:
            await alice.generate_creative_asset(GenerationRequest(prompt="wind", parameters={"duration": 99}))
    with pytest.raises(AliceError, match="poll_interval_s"):
        AliceOrchestrator(poll_interval_s=-1)


async def test_a_repeated_seeded_request_is_served_from_the_ledger(inprocess_env, twin) -> None:
    from alice_mcp import AliceOrchestrator, GenerationRequest

    request = GenerationRequest(prompt="surf", parameters={"duration": 1, "seed": 99})
    async with AliceOrchestrator() as alice:
        first = await alice.generate_creative_asset(request)
        second = await alice.generate_creative_asset(request)
        forced = await alice.generate_creative_asset(request, force=True)
    assert (first.cached, second.cached, forced.cached) == (False, True, False)
    assert second.file_path == first.file_path and second.cost_usd == 0 and second.job_id == first.job_id
    assert forced.file_path != first.file_path and twin.state.submit_count() == 2


async def test_a_failed_job_raises_its_own_error(inprocess_env, twin) -> None:
    from alice_mcp import AliceOrchestrator, GenerationRequest
    from alice_mcp.data.errors import FalJobFailed

    twin.state.fail_next_jobs(1, error="GPU ran out of memory", error_type="runner_server_error")
    async with AliceOrchestrator() as alice:
        with pytest.raises(FalJobFailed, match="GPU ran out of memory"):
            await alice.generate_creative_asset(GenerationRequest(prompt="x", parameters={"duration": 1}))
