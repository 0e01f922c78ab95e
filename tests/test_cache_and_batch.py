"""Reuse instead of paying twice (deterministic-request cache, upload dedupe), the concurrency cap, and batches."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import anyio
import pytest

from alice_mcp.adapters.ledger import Ledger
from alice_mcp.adapters.settings import Settings
from alice_mcp.engine.core import AliceCore
from alice_mcp.engine.models import VideoAudioRequest
from tests.conftest import files_in


def _ok(result):  # type: ignore[no-untyped-def]
    assert result.is_error is False, result.content[0].text
    return result.structured_content


async def test_repeated_request_with_a_seed_is_cached_and_free(connect, clip, twin, output_dir) -> None:
    source = clip()
    args = {"video": str(source), "prompt": "rain", "duration": 1, "seed": 11}
    async with connect() as client:
        first = _ok(await client.call_tool("add_audio_to_video", args))
        uploaded = twin.state.uploaded_bytes()
        again = await client.call_tool("add_audio_to_video", {**args, "output_path": "elsewhere.mp4"})
        copy = source.with_name("same-content.mp4")
        shutil.copyfile(source, copy)
        by_content = _ok(await client.call_tool("add_audio_to_video", {**args, "video": str(copy)}))
    second = _ok(again)
    assert second["cached"] is True and second["cost_usd"] == 0 and second["status"] == "completed"
    assert second["output_path"] == first["output_path"] and second["job_id"] == first["job_id"]
    assert "cached" in again.content[0].text and "force" in again.content[0].text
    assert by_content["cached"] is True  # same input content under another name
    assert twin.state.submit_count() == 1 and twin.state.uploaded_bytes() == uploaded
    assert files_in(output_dir) == [Path(first["output_path"]).name]


async def test_force_a_changed_parameter_or_no_seed_is_never_a_cache_hit(connect, clip, twin) -> None:
    source = clip()
    args = {"video": str(source), "prompt": "rain", "duration": 1}
    async with connect() as client:
        _ok(await client.call_tool("add_audio_to_video", {**args, "seed": 3}))
        forced = _ok(await client.call_tool("add_audio_to_video", {**args, "seed": 3, "force": True}))
        changed = _ok(await client.call_tool("add_audio_to_video", {**args, "seed": 3, "num_steps": 10}))
        unseeded = [_ok(await client.call_tool("add_audio_to_video", args)) for _ in range(2)]
    assert not forced["cached"] and not changed["cached"] and not any(r["cached"] for r in unseeded)
    assert twin.state.submit_count() == 5
    assert len(twin.state.uploads) == 1  # but the clip was uploaded once: same content, URL still valid


async def test_a_deleted_output_is_not_served_from_the_cache(connect, clip, twin) -> None:
    args = {"video": str(clip()), "prompt": "rain", "duration": 1, "seed": 5}
    async with connect() as client:
        first = _ok(await client.call_tool("add_audio_to_video", args))
        Path(first["output_path"]).unlink()
        second = _ok(await client.call_tool("add_audio_to_video", args))
    assert second["cached"] is False and Path(second["output_path"]).exists()
    assert twin.state.submit_count() == 2


async def test_an_expired_upload_is_uploaded_again(connect, clip, twin, inprocess_env) -> None:
    source = clip()
    async with connect() as client:
        _ok(await client.call_tool("add_audio_to_video", {"video": str(source), "prompt": "a", "duration": 1}))
        with sqlite3.connect(Path(inprocess_env["ALICE_DATA_DIR"]) / "ledger.sqlite3") as db:
            db.execute("UPDATE uploads SET expires_at = ?", (time.time() + 60,))  # inside the safety margin
        _ok(await client.call_tool("add_audio_to_video", {"video": str(source), "prompt": "b", "duration": 1}))
    assert len(twin.state.uploads) == 2


async def test_text_to_audio_with_a_seed_is_cached(connect, twin) -> None:
    async with connect() as client:
        first = _ok(await client.call_tool("generate_audio", {"prompt": "bell", "duration": 1, "seed": 9}))
        second = _ok(await client.call_tool("generate_audio", {"prompt": "bell", "duration": 1, "seed": 9}))
    assert second["cached"] and second["output_path"] == first["output_path"]
    assert twin.state.submit_count() == 1


async def test_concurrent_calls_respect_the_cap_on_fal_jobs(inprocess_env, clip, twin, monkeypatch) -> None:
    monkeypatch.setenv("ALICE_MAX_CONCURRENT_JOBS", "1")
    twin.state.run_seconds = 0.6
    core = AliceCore(Settings())
    results = []
    async with core.serving():
        async with anyio.create_task_group() as tg:
            for n in range(2):

                async def one(n: int = n) -> None:
                    request = VideoAudioRequest(video=str(clip(f"c{n}.mp4")), values={"prompt": "x", "duration": 1})
                    results.append(await core.add_audio_to_video(request, wait_seconds=30))

                tg.start_soon(one)
    await core.aclose()
    assert [r.status for r in results] == ["completed", "completed"]
    first, second = sorted(twin.state.submits, key=lambda s: s.time)
    job = twin.state.job(first.request_id)
    assert second.time >= job.submitted + job.queue_seconds + job.run_seconds  # the second waited for the first


async def test_batch_of_a_folder_and_a_bad_path(connect, clip, twin, home, output_dir) -> None:
    for name in ("a.mp4", "b.mp4", "c.mov"):
        clip(name, seconds=2)
    folder = clip("a.mp4", seconds=2).parent
    (folder / "notes.txt").write_text("not a video")
    async with connect() as client:
        result = await client.call_tool(
            "add_audio_to_videos", {"videos": [str(folder), str(home / "missing.mp4")], "prompt": "wind", "duration": 2}
        )
    data = _ok(result)
    assert data["count"] == 4 and data["completed"] == 3 and data["failed"] == 1 and data["running"] == 0
    assert data["estimate_usd"] == pytest.approx(3 * 0.002)
    items = {Path(i["video"]).name: i for i in data["items"]}
    assert set(items) == {"a.mp4", "b.mp4", "c.mov", "missing.mp4"}
    assert "not found" in items["missing.mp4"]["error"] and items["missing.mp4"]["job_id"] is None
    job_ids = {i["job_id"] for i in data["items"] if i["status"] == "completed"}
    assert len(job_ids) == 3 and all(Path(items[n]["output_path"]).exists() for n in ("a.mp4", "b.mp4", "c.mov"))
    assert twin.state.submit_count() == 3 and len(files_in(output_dir)) == 3


async def test_batch_returns_running_items_with_job_ids(connect, clip, twin) -> None:
    twin.state.run_seconds = 2.0
    videos = [str(clip(f"v{n}.mp4", seconds=1)) for n in range(3)]
    async with connect() as client:
        data = _ok(
            await client.call_tool(
                "add_audio_to_videos", {"videos": videos, "prompt": "x", "duration": 1, "wait_seconds": 0.2}
            )
        )
        assert data["running"] == 3 and all(i["job_id"] for i in data["items"]) and "get_generation" in data["message"]
        finals = [
            _ok(await client.call_tool("get_generation", {"job_id": i["job_id"], "wait_seconds": 20}))
            for i in data["items"]
        ]
    assert [f["status"] for f in finals] == ["completed"] * 3
    assert twin.state.submit_count() == 3


def test_spend_since_counts_submitted_and_maybe_submitted_jobs(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")

    def job(cost: float) -> str:
        return ledger.create_job(
            kind="t",
            endpoint="e",
            request={},
            settings={},
            wanted_path="/x",
            cost_usd=cost,
            input_fingerprint=None,
            cache_key=None,
            owner=None,
        ).id

    t0 = time.time()
    done, unknown, refused, never = job(0.01), job(0.02), job(0.04), job(0.08)
    for job_id in (done, unknown, refused):
        ledger.update(job_id, status="submitting", submitted_at=time.time())
    ledger.update(done, status="completed")
    ledger.update(unknown, status="submit_unknown")
    ledger.update(refused, status="failed", submitted_at=None)  # provably never reached fal
    assert ledger.spend_since(t0 - 1) == pytest.approx(0.03)
    assert ledger.spend_since(time.time() + 10) == 0
    assert ledger.get(never).status == "pending"
    assert ledger.update(done, status="failed") is None and ledger.get(done).status == "completed"  # terminal stays


async def test_a_file_in_a_former_output_folder_is_not_served(connect, clip, twin, tmp_path, monkeypatch) -> None:
    args = {"video": str(clip()), "prompt": "rain", "duration": 1, "seed": 21}
    async with connect() as client:
        first = _ok(await client.call_tool("add_audio_to_video", args))
    monkeypatch.setenv("ALICE_OUTPUT_DIR", str(tmp_path / "new-out"))
    async with connect() as client:
        second = _ok(await client.call_tool("add_audio_to_video", args))
    assert second["cached"] is False and Path(second["output_path"]).parent == (tmp_path / "new-out").resolve()
    assert Path(first["output_path"]).exists() and twin.state.submit_count() == 2
