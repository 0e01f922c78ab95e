"""The real `alice-mcp` process over stdio, as an MCP host launches it, against the fal twin."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from tests.conftest import stdio_params
from tests.media import audio_rms, describe


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_local_mp4_in_mp4_with_audio_out(mode, alice_env, clip, twin, output_dir) -> None:
    source = clip("forest.mp4", seconds=2.0, size=(320, 240))
    async with Client(stdio_params(alice_env), mode=mode) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"add_audio_to_video", "list_audio_presets", "estimate_cost"} <= tools
        result = await client.call_tool(
            "add_audio_to_video", {"video": str(source), "preset": "nature-birds", "duration": 2}
        )
    assert result.is_error is False, result.content[0].text
    out = Path(result.structured_content["output_path"])
    assert out.is_absolute() and out.exists() and out.parent == output_dir.resolve()
    info = describe(out)
    assert info.video is not None and info.video[:2] == (320, 240)
    assert info.audio_duration == pytest.approx(2.0, abs=0.2)
    assert audio_rms(out) > 0.01
    assert twin.state.submit_count() == 1


async def test_python_dash_m_runs_the_same_server(alice_env) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "alice_mcp"], env=alice_env)
    async with Client(params, mode="legacy") as client:
        result = await client.call_tool("estimate_cost", {"duration": 8})
    assert result.structured_content["usd"] == pytest.approx(0.008)


async def test_starts_and_lists_tools_without_a_fal_key(alice_env) -> None:
    env = {k: v for k, v in alice_env.items() if k != "FAL_KEY"}
    async with Client(stdio_params(env), mode="legacy") as client:
        tools = (await client.list_tools()).tools
        presets = await client.call_tool("list_audio_presets", {})
    assert len(tools) >= 3
    assert len(presets.structured_content["presets"]) >= 12
