"""Issue 12, findings 6 and 14 (output half): output_path into folders, and plain answers for plain mistakes.

Through the MCP wire against the twin: a missing subfolder of the output folder is created; a hidden folder anywhere
in output_path, a NUL or an over-long name is refused before anything is paid; an output folder removed while the
job runs does not lose the paid result.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from mcp import Client

from tests.conftest import files_in


@pytest.fixture
def legacy(inprocess_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from alice_mcp.mcp.server import build_server

    return lambda: Client(build_server(), mode="legacy")


async def _add(factory, clip_path: Path, **extra):  # type: ignore[no-untyped-def]
    async with factory() as client:
        return await client.call_tool(
            "add_audio_to_video", {"video": str(clip_path), "prompt": "x", "duration": 1, "seed": 4, **extra}
        )


async def test_output_path_into_a_missing_subfolder_is_created(legacy, clip, twin, output_dir) -> None:
    result = await _add(legacy, clip(), output_path="sub/dir/new.mp4")
    assert result.is_error is False, result.content[0].text
    assert Path(result.structured_content["output_path"]) == output_dir.resolve() / "sub" / "dir" / "new.mp4"
    assert files_in(output_dir) == ["sub/dir/new.mp4"] and twin.state.submit_count() == 1


@pytest.mark.parametrize(
    "output_path, words",
    [
        ("sub/.hidden/x.mp4", "hidden"),
        (".hidden/x.mp4", "hidden"),
        ("a\x00b.mp4", "NUL"),
        ("n" * 300 + ".mp4", "too long"),
        ("sub/" + "d" * 256 + "/x.mp4", "too long"),
    ],
)
async def test_bad_output_paths_are_refused_before_payment(legacy, clip, twin, output_path, words) -> None:
    result = await _add(legacy, clip(), output_path=output_path)
    assert result.is_error is True
    text = result.content[0].text
    assert words in text and "bug" not in text.lower(), text
    assert twin.state.submit_count() == 0 and twin.state.uploads == []


async def test_an_output_folder_removed_mid_job_still_gets_the_paid_result(legacy, clip, twin, output_dir) -> None:
    twin.state.run_seconds = 1.0
    async with legacy() as client:
        first = await client.call_tool(
            "add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1, "wait_seconds": 0}
        )
        assert first.is_error is False, first.content[0].text
        job_id = first.structured_content["job_id"]
        shutil.rmtree(output_dir)  # the user tidies up while fal works
        done = await client.call_tool("get_generation", {"job_id": job_id, "wait_seconds": 20})
    assert done.is_error is False, done.content[0].text
    assert done.structured_content["status"] == "completed" and Path(done.structured_content["output_path"]).exists()
    assert twin.state.submit_count() == 1


@pytest.mark.parametrize("kind", ["submit", "status"])
async def test_an_nginx_error_page_becomes_a_sentence(legacy, clip, twin, monkeypatch, kind) -> None:
    monkeypatch.setenv("ALICE_HTTP_TIMEOUT_S", "5")
    twin.state.add_fault(kind, 503, times=200)
    async with legacy() as client:
        result = await client.call_tool(
            "add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1, "wait_seconds": 3}
        )
        text = result.content[0].text
        if not result.is_error and result.structured_content.get("job_id"):
            state = await client.call_tool("get_generation", {"job_id": result.structured_content["job_id"]})
            text += " " + state.content[0].text + json.dumps(state.structured_content)
    assert "<html" not in text.lower() and "nginx" not in text.lower() and "<center>" not in text, text
