"""Against the real fal.ai: run with `pytest -m live` and a real FAL_KEY. Skipped otherwise (CI has no key)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import stdio_params
from tests.media import describe, make_clip

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not os.environ.get("FAL_KEY"), reason="needs a real FAL_KEY"),
]


async def test_real_fal_adds_audio(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "live.mp4", 2.0)
    env = {"FAL_KEY": os.environ["FAL_KEY"], "ALICE_OUTPUT_DIR": str(tmp_path / "out"), "HOME": str(tmp_path)}
    async with Client(stdio_params(env), mode="legacy") as client:
        result = await client.call_tool("add_audio_to_video", {"video": str(clip), "prompt": "rain", "duration": 2})
    assert result.is_error is False, result.content[0].text
    assert describe(Path(result.structured_content["output_path"])).audio_duration
