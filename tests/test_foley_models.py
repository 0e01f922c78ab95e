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


@pytest.mark.parametrize("alias", list(MODELS))
async def test_each_model_over_the_mcp_wire(connect, twin, clip, alias) -> None:
    if connect.mode != "legacy":
        pytest.skip("one protocol era per model keeps the suite fast")
    endpoint, extra, fields = MODELS[alias]
    video = clip("clip.mp4", 3.0)
    args = {"video": str(video), "prompt": "rain on a tin roof", "model": alias, "wait_seconds": 30, **extra}
    if alias not in ("kling-video-to-audio", "pixverse-sound-effects", "sonilo-sfx"):
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
