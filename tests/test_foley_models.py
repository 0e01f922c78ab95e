"""Every video-to-audio model end to end against the fal twin, over the MCP wire, the CLI and the Python API: its own
payload field names (the twin's request log), its limits and errors before anything is paid, takes and their cost.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ALICE_BIN

# model alias -> (fal endpoint, extra arguments, the payload fields the twin must see)
MODELS = {
    "mmaudio-v2": (
        "fal-ai/mmaudio-v2",
        {"negative_prompt": "music"},
        {"prompt", "negative_prompt", "seed", "duration", "num_steps", "cfg_strength", "mask_away_clip"},
    ),
    "hunyuan-video-foley": (
        "fal-ai/hunyuan-video-foley",
        {"negative_prompt": "music", "num_steps": 12, "cfg_strength": 3},
        {"text_prompt", "negative_prompt", "num_inference_steps", "guidance_scale", "seed"},
    ),
    "thinksound": ("fal-ai/thinksound", {"num_steps": 8}, {"prompt", "num_inference_steps", "cfg_scale", "seed"}),
    "mirelo-sfx-v1.5": (
        "mirelo-ai/sfx-v1.5/video-to-video",
        {},
        {"text_prompt", "num_samples", "seed", "duration", "start_offset"},
    ),
    "mirelo-sfx-1.6": ("mirelo-ai/sfx1.6/video-to-video", {}, {"text_prompt", "num_samples", "seed", "duration"}),
    "kling-video-to-audio": (
        "fal-ai/kling-video/video-to-audio",
        {"model_options": {"background_music_prompt": "soft piano"}},
        {"sound_effect_prompt", "background_music_prompt", "asmr_mode"},
    ),
    "pixverse-sound-effects": ("fal-ai/pixverse/sound-effects", {}, {"prompt", "original_sound_switch"}),
    "sonilo-sfx": ("sonilo/v1.1/video-to-sound-effects", {}, {"prompt", "audio_format"}),
}


SEEDLESS = ("fal-ai/kling-video/video-to-audio", "fal-ai/pixverse/sound-effects", "sonilo/v1.1/video-to-sound-effects")


@pytest.mark.parametrize("alias", list(MODELS))
async def test_each_model_over_the_mcp_wire(connect, twin, clip, alias) -> None:
    if connect.mode != "legacy":
        pytest.skip("one protocol era per model keeps the suite fast")
    endpoint, extra, fields = MODELS[alias]
    video = clip("clip.mp4", 3.0)
    args = {"video": str(video), "prompt": "rain on a tin roof", "model": alias, "wait_seconds": 30, **extra}
    if MODELS[alias][0] not in SEEDLESS:
        args["seed"] = 7
    async with connect() as client:
        result = await client.call_tool("add_audio_to_video", args)
    assert not result.is_error, result.content
    data = result.structured_content
    (submit,) = twin.state.submits
    assert submit.endpoint == endpoint
    assert set(submit.payload) == fields | {"video_url"}, submit.payload
    prompt_field = {"hunyuan-video-foley": "text_prompt", "kling-video-to-audio": "sound_effect_prompt"}.get(
        alias, "text_prompt" if alias.startswith("mirelo") else "prompt"
    )
    assert submit.payload[prompt_field] == "rain on a tin roof"
    assert data["status"] == "completed" and Path(data["output_path"]).is_file()
    if alias == "mmaudio-v2":  # a single MMAudio take keeps its original result shape
        assert data["seed"] == 7 and data["takes"] == []
        return
    assert data["model"] == alias and data["takes"][0]["output_path"] == data["output_path"]
    assert len(data["takes"]) == (2 if alias == "mirelo-sfx-v1.5" else 1)  # v1.5 cannot make fewer than 2
    assert all(Path(t["output_path"]).is_file() for t in data["takes"])
    assert data["cost_usd"] == pytest.approx(sum(t["cost_usd"] for t in data["takes"]))


async def test_three_takes_one_quote_three_submits_distinct_seeds_then_cached(connect, twin, clip) -> None:
    if connect.mode != "legacy":
        pytest.skip("one protocol era is enough")
    video = str(clip("clip.mp4", 2.0))
    args = {"video": video, "prompt": "footsteps", "takes": 3, "seed": 100, "wait_seconds": 30}
    async with connect() as client:
        first = await client.call_tool("add_audio_to_video", args)
        again = await client.call_tool("add_audio_to_video", args)
        status = await client.call_tool("get_generation", {"job_id": first.structured_content["job_id"]})
    assert not first.is_error, first.content
    data = first.structured_content
    seeds = [t["seed"] for t in data["takes"]]
    assert seeds == [100, 101, 102] and len({t["output_path"] for t in data["takes"]}) == 3
    assert all(Path(t["output_path"]).is_file() for t in data["takes"])
    assert twin.state.submit_count("fal-ai/mmaudio-v2") == 3
    assert data["cost_usd"] == pytest.approx(3 * 0.002) and data["output_path"] == data["takes"][0]["output_path"]
    assert len(twin.state.uploads) == 1  # the clip went up once for all takes
    text = first.content[0].text
    assert "3 takes" in text and "ask which take to keep" in text and "seed 101" in text
    assert sum(1 for c in first.content if c.type == "resource_link") == 3
    # the same explicit seeds again: free, take by take
    assert [t["cached"] for t in again.structured_content["takes"]] == [True, True, True]
    assert again.structured_content["cost_usd"] == 0 and twin.state.submit_count() == 3
    assert not status.is_error


async def test_multi_sample_model_makes_its_takes_in_one_submit(connect, twin, clip) -> None:
    if connect.mode != "legacy":
        pytest.skip("one protocol era is enough")
    args = {"video": str(clip("clip.mp4", 2.0)), "prompt": "door", "model": "mirelo-sfx-1.6", "takes": 3}
    async with connect() as client:
        result = await client.call_tool("add_audio_to_video", {**args, "wait_seconds": 30})
    data = result.structured_content
    (submit,) = twin.state.submits
    assert submit.payload["num_samples"] == 3 and len(data["takes"]) == 3
    assert len({t["output_path"] for t in data["takes"]}) == 3 and all(
        Path(t["output_path"]).is_file() for t in data["takes"]
    )
    assert data["cost_usd"] == pytest.approx(0.01 * 2 * 3)  # $0.01/s per sample (the quoted worst case)


async def test_a_list_of_models_makes_one_take_each(connect, twin, clip) -> None:
    if connect.mode != "legacy":
        pytest.skip("one protocol era is enough")
    args = {"video": str(clip("clip.mp4", 3.0)), "prompt": "rain", "model": ["mmaudio-v2", "kling-video-to-audio"]}
    async with connect() as client:
        result = await client.call_tool("add_audio_to_video", {**args, "seed": 9, "wait_seconds": 30})
    assert not result.is_error, result.content
    takes = result.structured_content["takes"]
    assert [t["model"] for t in takes] == ["mmaudio-v2", "kling-video-to-audio"]
    assert [t["seed"] for t in takes] == [9, None]
    assert sorted(s.endpoint for s in twin.state.submits) == ["fal-ai/kling-video/video-to-audio", "fal-ai/mmaudio-v2"]


@pytest.mark.parametrize(
    "args,words",
    [
        ({"model": "controlfoley"}, ["Unknown model 'controlfoley'", "hunyuan-video-foley", "pixverse-sound-effects"]),
        ({"model": "kling-video-to-audio", "duration": 2}, ["needs at least 3 s", "start_time"]),
        # one call (`duration`) longer than the model takes; without `duration` the clip is a soundtrack of windows
        ({"model": "mirelo-sfx-v1.5", "duration": 12}, ["at most 10 s per call", "mmaudio-v2"]),
        ({"model": "kling-video-to-audio", "model_options": {"volume": 3}}, ["`volume`", "background_music_prompt"]),
        ({"model": "kling-video-to-audio", "seed": 3}, ["no `seed` control"]),
        ({"model": "hunyuan-video-foley", "cfg_strength": 15}, ["guidance_scale", "cfg_strength"]),
        ({"takes": 5}, ["takes"]),
    ],
)
async def test_bad_input_fails_before_anything_is_paid(connect, twin, clip, args, words) -> None:
    if connect.mode != "legacy":
        pytest.skip("one protocol era is enough")
    seconds = 12.0 if args.get("model") == "mirelo-sfx-v1.5" else 3.0
    async with connect() as client:
        result = await client.call_tool(
            "add_audio_to_video", {"video": str(clip("clip.mp4", seconds)), "prompt": "rain", **args}
        )
    assert result.is_error
    text = result.content[0].text
    assert all(w in text for w in words), text
    assert twin.state.submit_count(include_rejected=True) == 0 and twin.state.uploads == []


def test_cli_model_and_takes(alice_env, twin, clip) -> None:
    video = clip("clip.mp4", 3.0)
    out = subprocess.run(
        [
            str(ALICE_BIN),
            "add-audio",
            str(video),
            "--prompt",
            "rain",
            "--model",
            "hunyuan",
            "--takes",
            "2",
            "--seed",
            "4",
            "--model-option",
            'negative_prompt="x"',
            "--json",
        ],
        env=alice_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0 and "`negative_prompt` is set by the common argument" in out.stdout + out.stderr
    out = subprocess.run(
        [
            str(ALICE_BIN),
            "add-audio",
            str(video),
            "--prompt",
            "rain",
            "--model",
            "kling-video-to-audio",
            "--model-option",
            'background_music_prompt="calm"',
            "--model-option",
            "asmr_mode=true",
            "--json",
        ],
        env=alice_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    (submit,) = twin.state.submits
    assert submit.payload == {
        "video_url": submit.payload["video_url"],
        "sound_effect_prompt": "rain",
        "background_music_prompt": "calm",
        "asmr_mode": True,
    }
    assert data["model"] == "kling-video-to-audio" and Path(data["output_path"]).is_file()


async def test_python_api_model_and_takes(inprocess_env, twin, clip) -> None:
    from alice_mcp.api import AliceOrchestrator, GenerationRequest, GenerationType

    async with AliceOrchestrator() as alice:
        result = await alice.generate_creative_asset(
            GenerationRequest(
                generation_type=GenerationType.AUDIO,
                model="thinksound",
                prompt="wind",
                reference_assets=[clip("clip.mp4", 2.0)],
                parameters={"seed": 11, "takes": 2, "cfg_strength": 3.5},  # -> ThinkSound's cfg_scale
            )
        )
    assert [s.endpoint for s in twin.state.submits] == ["fal-ai/thinksound"] * 2
    assert {s.payload["cfg_scale"] for s in twin.state.submits} == {3.5}
    assert sorted(s.payload["seed"] for s in twin.state.submits) == [11, 12]
    assert sorted(s.payload["num_inference_steps"] for s in twin.state.submits) == [24, 24]
    assert result.model == "fal-ai/thinksound" and result.file_path.is_file()
    assert result.cost_usd == pytest.approx(2 * 0.03)


async def test_sonilo_segments_and_its_audio_track_onto_the_original(connect, twin, clip) -> None:
    if connect.mode != "legacy":
        pytest.skip("one protocol era is enough")
    segments = [{"start": 0, "end": 1.5, "prompt": "steps"}, {"start": 1.5, "end": 3, "prompt": "door"}]
    args = {"video": str(clip("clip.mp4", 3.0)), "prompt": "hallway", "model": "sonilo-sfx"}
    async with connect() as client:
        bad = await client.call_tool(
            "add_audio_to_video", {**args, "model_options": {"segments": [{"start": 1, "end": 2}]}}
        )
        result = await client.call_tool(
            "add_audio_to_video", {**args, "model_options": {"segments": segments}, "wait_seconds": 30}
        )
    assert bad.is_error and "must start at 0" in bad.content[0].text
    (submit,) = [s for s in twin.state.submits if s.payload.get("segments")]
    assert submit.payload["segments"] == segments and submit.payload["audio_format"] == "flac"
    data = result.structured_content
    assert Path(data["output_path"]).suffix == ".mp4" and Path(data["output_path"]).is_file()
    assert data["takes"][0]["cost_usd"] == pytest.approx(0.009 * 3)
