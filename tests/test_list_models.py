"""list_models (tool and alice://models resource) and the model guidance in soundtrack_clip, over the MCP wire."""

from __future__ import annotations

import json

from alice_mcp.engine.recipes.registry import foley_models


async def test_list_models_tool_and_resource(connect) -> None:
    async with connect() as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        listed = await client.call_tool("list_models", {})
        resource = await client.read_resource("alice://models")
        prompt = await client.get_prompt("soundtrack_clip", {"video": "a.mp4"})
        presets = json.loads((await client.read_resource("alice://presets")).contents[0].text)
    assert tools["list_models"].annotations.read_only_hint is True
    models = listed.structured_content["models"]
    assert [m["endpoint_id"] for m in models] == [m.id for m in foley_models()]
    assert json.loads(resource.contents[0].text)["models"] == models
    by_name = {m["model"]: m for m in models}
    assert by_name["mmaudio-v2"]["default"] is True and by_name["mmaudio-v2"]["price"] == "$0.001 per second"
    kling = by_name["kling-video-to-audio"]
    assert kling["limits"] == "3-20 s per call, <= 100 MB, mp4/mov only" and kling["price"] == "$0.035 per call"
    assert kling["common_arguments"] == {"prompt": "sound_effect_prompt"}
    assert kling["model_options"] == ["background_music_prompt", "asmr_mode"] and kling["seed"] is None
    hunyuan = by_name["hunyuan-video-foley"]
    assert "MOS-Q 4.14" in hunyuan["best_at"] and hunyuan["price"].endswith("(unverified)")
    assert hunyuan["common_arguments"]["cfg_strength"] == "guidance_scale"
    assert by_name["mirelo-sfx-v1.5"]["multi_sample"] and "num_samples" in by_name["mirelo-sfx-v1.5"]["model_options"]
    assert "ControlFoley" not in json.dumps(models)  # no confirmed schema: left out
    text = prompt.messages[0].content.text
    assert all(f"`{m['model']}`" in text for m in models) and "takes" in text
    assert {p["id"]: p["model"] for p in presets["presets"]}["footsteps-door"] == "hunyuan-video-foley"


async def test_estimate_cost_prices_each_model_by_its_own_rule(connect) -> None:
    async with connect() as client:
        got = {}
        for model, seconds in (("kling-video-to-audio", 12), ("hunyuan", 12), ("mmaudio-v2", 12), ("pixverse", 7)):
            result = await client.call_tool("estimate_cost", {"duration": seconds, "model": model})
            assert not result.is_error, result.content
            got[model] = result.structured_content["usd"]
    assert got == {"kling-video-to-audio": 0.035, "hunyuan": 0.2, "mmaudio-v2": 0.012, "pixverse": 0.2}
    async with connect() as client:
        mirelo = await client.call_tool("estimate_cost", {"duration": 5, "model": "mirelo-sfx-v1.5"})
        kling = await client.call_tool("estimate_cost", {"duration": 25, "model": "kling-video-to-audio"})
    assert mirelo.structured_content["usd"] == 0.1 and "2 samples" in mirelo.structured_content["formula"]
    assert kling.is_error and "at most 20 s per call" in kling.content[0].text
