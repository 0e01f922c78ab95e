"""A soundtrack of any length with every video-to-audio model, and takes of whole soundtracks, against the fal twin.

Each model's windows are sized by its own clip limits, each part's payload uses the model's own field names (the
twin validates them as fal does), the whole is quoted and approved once, and what a model cannot do fails before
anything is uploaded or paid.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import anyio
import pytest

from alice_mcp.adapters.ledger import Ledger
from tests.conftest import ALICE_BIN, files_in
from tests.media import describe
from tests.soundtrack_media import make_scenes

HUNYUAN_FIELDS = {"video_url", "text_prompt", "negative_prompt", "guidance_scale", "num_inference_steps", "seed"}


@pytest.fixture
def scenes(home: Path):  # type: ignore[no-untyped-def]
    """``scenes(seconds)``: a tiny clip (64x36, 12 fps) with one scene cut."""

    def factory(seconds: float, name: str = "clip.mp4") -> Path:
        folder = home / "clips"
        folder.mkdir(exist_ok=True)
        return make_scenes(folder / name, seconds, [seconds / 2], size=(64, 36), fps=12, gop=24)

    return factory


async def until_done(client, data: dict) -> dict:  # type: ignore[no-untyped-def]
    """Follow a running job with get_generation until it ends; its final status."""
    with anyio.fail_after(300):
        while data["status"] not in ("completed", "failed", "cancelled"):
            result = await client.call_tool("get_generation", {"job_id": data["job_id"], "wait_seconds": 50})
            assert result.is_error is False, result.content[0].text
            data = result.structured_content
    return data


def _ledger(env: dict[str, str]) -> Ledger:
    return Ledger(Path(env["ALICE_DATA_DIR"]) / "ledger.sqlite3")


async def test_hunyuan_makes_a_whole_soundtrack_of_15_s_windows_over_the_mcp_wire(
    connect, scenes, twin, inprocess_env, output_dir
) -> None:
    clip = scenes(24.0)
    async with connect() as client:
        result = await client.call_tool(
            "add_audio_to_video",
            {"video": str(clip), "prompt": "footsteps on gravel", "seed": 11, "model": "hunyuan", "wait_seconds": 50},
        )
        assert result.is_error is False, result.content[0].text
        data = await until_done(client, result.structured_content)
    assert data["status"] == "completed", data
    windows = data["soundtrack"]["windows"]
    assert len(windows) >= 2 and all(w["end"] - w["start"] <= 15.0 + 1e-6 for w in windows)
    assert windows[0]["start"] == 0 and windows[-1]["end"] == 24.0
    # one submit per window, each with Hunyuan's own field names only (no MMAudio `duration`, `prompt`)
    submits = twin.state.submits
    assert len(submits) == len(windows) and {s.endpoint for s in submits} == {"fal-ai/hunyuan-video-foley"}
    for submit in submits:
        assert set(submit.payload) <= HUNYUAN_FIELDS, submit.payload
        assert submit.payload["text_prompt"] == "footsteps on gravel" and submit.payload["seed"] == 11
    out = Path(data["output_path"])
    assert files_in(output_dir) == [out.name]
    assert describe(out).audio_duration == pytest.approx(24.0, abs=0.05)
    # paid once: the parent's cost is the quote, the sum of the parts, and what the twin billed
    ledger = _ledger(inprocess_env)
    parts = ledger.parts_of(data["job_id"])
    assert len(parts) == len(windows) and all(p.status == "completed" for p in parts)
    assert data["cost_usd"] == pytest.approx(sum(p.cost_usd for p in parts)) == pytest.approx(twin.state.billed_usd())
    blocks = sum(math.ceil(round(w["end"] - w["start"], 6) / 10) for w in windows)
    assert data["cost_usd"] == pytest.approx(0.10 * blocks)  # $0.10 per started 10 s, per window


async def test_kling_windows_respect_3_to_20_s_and_a_short_cue_is_refused_before_any_upload(
    connect, scenes, twin
) -> None:
    clip = scenes(26.0)
    async with connect() as client:
        refused = await client.call_tool(
            "add_audio_to_video",
            {
                "video": str(clip),
                "prompt": "engine",
                "model": "kling-video-to-audio",
                "cues": [{"at": 5, "duration": 1.5, "prompt": "door slam"}],
            },
        )
        assert refused.is_error is True
        assert "`cues[0].duration` 1.5 s (allowed: 3 to 20 s" in refused.content[0].text, refused.content[0].text
        assert twin.state.uploads == [] and twin.state.submit_count() == 0
        seeded = await client.call_tool(
            "add_audio_to_video", {"video": str(clip), "prompt": "engine", "model": "kling-video-to-audio", "seed": 3}
        )
        assert seeded.is_error is True and "has no `seed` control" in seeded.content[0].text, seeded.content[0].text
        assert twin.state.submit_count() == 0
        result = await client.call_tool(
            "add_audio_to_video",
            {
                "video": str(clip),
                "prompt": "engine",
                "model": "kling-video-to-audio",
                "model_options": {"background_music_prompt": "tense"},
                "wait_seconds": 50,
            },
        )
        assert result.is_error is False, result.content[0].text
        data = await until_done(client, result.structured_content)
    windows = data["soundtrack"]["windows"]
    assert len(windows) == 2 and all(3.0 <= w["end"] - w["start"] <= 20.0 for w in windows)
    assert {s.payload["background_music_prompt"] for s in twin.state.submits} == {"tense"}
    assert {s.payload["sound_effect_prompt"] for s in twin.state.submits} == {"engine"}
    assert twin.state.submit_count() == 2 and data["cost_usd"] == pytest.approx(2 * 0.035)
    assert describe(Path(data["output_path"])).audio_duration == pytest.approx(26.0, abs=0.05)


async def test_takes_of_a_long_clip_are_whole_soundtracks_approved_once(
    scenes, twin, inprocess_env, monkeypatch
) -> None:
    from alice_mcp.api import AliceOrchestrator, GenerationRequest

    monkeypatch.setenv("ALICE_CONFIRM_SPEND_ABOVE_USD", "0.001")
    clip = scenes(36.0)
    asked: list[float] = []

    async def approve(quote) -> bool:  # type: ignore[no-untyped-def]
        asked.append(quote.usd)
        assert twin.state.uploads == [] and twin.state.submit_count() == 0  # asked before anything is sent
        return True

    request = GenerationRequest(prompt="wind", parameters={"seed": 40, "takes": 2}, reference_assets=[clip])
    async with AliceOrchestrator() as alice:
        asset = await alice.generate_creative_asset(request, confirm_spend=approve)
    result = asset.details
    takes = result.takes
    assert len(takes) == 2 and [t.seed for t in takes] == [40, 41]
    assert all(t.output_path and Path(t.output_path).is_file() for t in takes)
    assert len({t.output_path for t in takes}) == 2
    for take in takes:
        assert describe(Path(take.output_path)).audio_duration == pytest.approx(36.0, abs=0.05)  # type: ignore[arg-type]
    windows = result.soundtrack.windows  # type: ignore[union-attr]
    assert len(windows) >= 3
    # each take is every window again: takes x windows submits, seeds by take
    assert twin.state.submit_count() == 2 * len(windows)
    assert sorted({s.payload["seed"] for s in twin.state.submits}) == [40, 41]
    # one approval for the whole, and the whole is what was billed
    assert asked == [pytest.approx(result.cost_usd)] and result.cost_usd == pytest.approx(twin.state.billed_usd())
    assert any(f"2 take(s) x ({len(windows)} windows + 0 cues) = {2 * len(windows)} calls" in n for n in result.notes)
    # a repeat with the same explicit seeds is free, take by take
    async with AliceOrchestrator() as alice:
        again = await alice.generate_creative_asset(request, confirm_spend=approve)
    assert again.cost_usd == 0 and all(t.cached for t in again.details.takes)  # type: ignore[union-attr]
    assert twin.state.submit_count() == 2 * len(windows)


def test_the_cli_compares_two_models_on_a_long_clip(scenes, twin, alice_env, output_dir) -> None:
    clip = scenes(20.0)
    command = [str(ALICE_BIN), "add-audio", str(clip), "--prompt", "rain", "--model", "mmaudio", "--model", "hunyuan"]
    done = subprocess.run([*command, "--json", "--yes"], env=alice_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout)
    assert [t["model"] for t in data["takes"]] == ["mmaudio-v2", "hunyuan-video-foley"]
    by_endpoint = {e: twin.state.submit_count(e) for e in ("fal-ai/mmaudio-v2", "fal-ai/hunyuan-video-foley")}
    assert by_endpoint["fal-ai/mmaudio-v2"] >= 1 and by_endpoint["fal-ai/hunyuan-video-foley"] >= 2
    assert any("mmaudio-v2: 1 take(s)" in n and "hunyuan-video-foley: 1 take(s)" in n for n in data["notes"])
    for take in data["takes"]:
        assert describe(Path(take["output_path"])).audio_duration == pytest.approx(20.0, abs=0.05)
