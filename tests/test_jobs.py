"""Long jobs through the MCP wire (in memory, both eras): the ledger, bounded waits, get/cancel/list, resume,
"completed at fal" retries, and jobs fal refuses at result time."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from alice_mcp.adapters.ledger import Ledger
from tests.conftest import files_in


def ledger_of(env: dict[str, str]) -> Ledger:
    return Ledger(Path(env["ALICE_DATA_DIR"]) / "ledger.sqlite3")


def _ok(result):  # type: ignore[no-untyped-def]
    assert result.is_error is False, result.content[0].text
    return result.structured_content


async def test_every_transition_is_in_the_ledger(connect, clip, twin, inprocess_env, output_dir) -> None:
    async with connect() as client:
        data = _ok(
            await client.call_tool(
                "add_audio_to_video", {"video": str(clip()), "prompt": "rain", "duration": 1, "seed": 7}
            )
        )
    assert data["status"] == "completed" and data["job_id"].startswith("job_")
    ledger = ledger_of(inprocess_env)
    record = ledger.get(data["job_id"])
    assert record is not None and record.status == "completed"
    assert record.request_id == twin.state.submits[0].request_id == data["request_id"]
    assert record.output_path == data["output_path"] and Path(record.output_path).exists()
    assert record.cost_usd == pytest.approx(0.001) and record.settings["seed"] == 7
    assert record.payload["video_url"] == twin.state.uploads[0].url
    assert record.input_fingerprint.startswith("sha256:")
    statuses = [status for _, status, _ in ledger.events(record.id)]
    assert statuses == ["pending", "submitting", "running", "completed_at_fal", "completed"]


async def test_bounded_wait_returns_running_then_get_generation_returns_the_file(
    connect, clip, twin, output_dir
) -> None:
    twin.state.run_seconds = 1.5
    async with connect() as client:
        first = await client.call_tool(
            "add_audio_to_video", {"video": str(clip()), "prompt": "rain", "duration": 1, "wait_seconds": 0.2}
        )
        data = _ok(first)
        assert data["status"] == "running" and data["output_path"] is None and data["video_url"] is None
        assert "get_generation" in data["message"] and data["job_id"] in data["message"]
        assert data["job_id"] in first.content[0].text
        done = _ok(await client.call_tool("get_generation", {"job_id": data["job_id"], "wait_seconds": 20}))
    assert done["status"] == "completed" and done["progress"] == 100
    assert Path(done["output_path"]).exists() and done["output_path"].startswith(str(output_dir.resolve()))
    assert done["settings"]["prompt"] == "rain" and done["request_id"] == twin.state.submits[0].request_id
    assert twin.state.submit_count() == 1
    assert files_in(output_dir) == [Path(done["output_path"]).name]


async def test_get_generation_reports_where_a_running_job_is(connect, clip, twin, inprocess_env) -> None:
    twin.state.queue_seconds = 0.3
    twin.state.run_seconds = 3.0
    ledger = ledger_of(inprocess_env)
    async with connect() as client:
        job_id = _ok(
            await client.call_tool(
                "add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1, "wait_seconds": 1.0}
            )
        )["job_id"]
        with anyio.fail_after(20):  # ask once fal has logged a sampling step (the machine may be slow)
            while not ledger.get(job_id).last_log:
                await anyio.sleep(0.05)
        status = _ok(await client.call_tool("get_generation", {"job_id": job_id, "wait_seconds": 0.3}))
        await client.call_tool("cancel_generation", {"job_id": job_id})
    assert status["status"] == "running" and status["request_id"] == twin.state.submits[0].request_id
    assert status["stage"] == "generating" and 40 <= status["progress"] < 85
    assert status["last_log"] and "step" in status["last_log"]
    assert "get_generation" in status["message"]


async def test_unknown_job_id_is_a_clear_error(connect) -> None:
    async with connect() as client:
        result = await client.call_tool("get_generation", {"job_id": "job_nope"})
    assert result.is_error and "job_nope" in result.content[0].text and "list_generations" in result.content[0].text


async def test_list_generations_with_cost_output_and_status_filter(connect, clip, twin) -> None:
    async with connect() as client:
        one = _ok(await client.call_tool("add_audio_to_video", {"video": str(clip()), "prompt": "a", "duration": 2}))
        twin.state.fail_next_jobs(1, error="GPU on fire", error_type="runner_server_error")
        failed = await client.call_tool("add_audio_to_video", {"video": str(clip()), "prompt": "b", "duration": 1})
        listing = _ok(await client.call_tool("list_generations", {}))
        only_failed = _ok(await client.call_tool("list_generations", {"status": "failed"}))
    assert failed.is_error
    assert listing["count"] == 2 and listing["total_cost_usd"] == pytest.approx(0.003)
    newest, oldest = listing["jobs"]
    assert newest["status"] == "failed" and "GPU on fire" in newest["error"] and newest["prompt"] == "b"
    assert (
        oldest["job_id"] == one["job_id"]
        and oldest["output_path"] == one["output_path"]
        and oldest["cost_usd"] == pytest.approx(0.002)
    )
    assert [j["job_id"] for j in only_failed["jobs"]] == [newest["job_id"]]


async def test_cancel_generation_cancels_at_fal(connect, clip, twin, inprocess_env, output_dir) -> None:
    twin.state.run_seconds = 5.0
    ledger = ledger_of(inprocess_env)
    async with connect() as client:
        job_id = _ok(
            await client.call_tool(
                "add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1, "wait_seconds": 0.5}
            )
        )["job_id"]
        with anyio.fail_after(20):  # cancel once fal has the job (the machine may be slow)
            while ledger.get(job_id).status != "running":
                await anyio.sleep(0.05)
        cancelled = _ok(await client.call_tool("cancel_generation", {"job_id": job_id}))
        later = _ok(await client.call_tool("get_generation", {"job_id": job_id, "wait_seconds": 1}))
    request_id = twin.state.submits[0].request_id
    assert twin.state.cancels == [request_id]
    assert cancelled["status"] == "cancelled" and later["status"] == "cancelled"
    assert ledger_of(inprocess_env).get(job_id).status == "cancelled"
    assert files_in(output_dir) == []


async def test_client_cancel_of_the_call_cancels_the_fal_job(connect, clip, twin, inprocess_env, output_dir) -> None:
    twin.state.run_seconds = 5.0
    ledger = ledger_of(inprocess_env)
    async with connect() as client:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.call_tool("add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1})

            tg.start_soon(call)
            with anyio.fail_after(10):
                while not ledger.recent(1) or ledger.recent(1)[0].status != "running":
                    await anyio.sleep(0.05)
            tg.cancel_scope.cancel()
        with anyio.fail_after(10):
            while ledger.recent(1)[0].status == "running":
                await anyio.sleep(0.05)
    record = ledger.recent(1)[0]
    assert record.status == "cancelled"
    assert twin.state.cancels == [record.request_id]
    assert twin.state.submit_count() == 1 and files_in(output_dir) == []


async def test_a_new_server_resumes_a_job_the_previous_one_left(connect, clip, twin, output_dir, inprocess_env) -> None:
    twin.state.run_seconds = 1.5
    ledger = ledger_of(inprocess_env)
    async with connect() as client:
        job_id = _ok(
            await client.call_tool(
                "add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1, "wait_seconds": 0.3}
            )
        )["job_id"]
        with anyio.fail_after(20):  # the first server goes away once fal has the job (not before: that is no resume)
            while ledger.get(job_id).status != "running":
                await anyio.sleep(0.05)
    # the first server is gone (its background task stopped); the job is still at fal
    assert twin.state.cancels == []
    async with connect() as client:
        done = _ok(await client.call_tool("get_generation", {"job_id": job_id, "wait_seconds": 20}))
    assert done["status"] == "completed" and Path(done["output_path"]).exists(), done
    assert twin.state.submit_count() == 1 and len(twin.state.uploads) == 1
    assert files_in(output_dir) == [Path(done["output_path"]).name]


async def test_download_failure_leaves_completed_at_fal_and_get_generation_retries(
    connect, clip, twin, inprocess_env, output_dir
) -> None:
    twin.state.add_fault("download", 503, times=50)
    async with connect() as client:
        failed = await client.call_tool("add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1})
        assert failed.is_error
        job_id = ledger_of(inprocess_env).recent(1)[0].id
        assert job_id in failed.content[0].text and "get_generation" in failed.content[0].text
        pending = _ok(await client.call_tool("get_generation", {"job_id": job_id, "wait_seconds": 10}))
        assert pending["status"] == "completed_at_fal" and "download" in pending["message"] and pending["file_url"]
        assert files_in(output_dir) == []
        twin.state.clear_faults()
        done = _ok(await client.call_tool("get_generation", {"job_id": job_id, "wait_seconds": 10}))
    assert done["status"] == "completed" and Path(done["output_path"]).exists(), done
    assert twin.state.submit_count() == 1  # never re-submitted
    assert files_in(output_dir) == [Path(done["output_path"]).name]


async def test_validation_422_at_result_time_is_a_failure_never_retried(
    connect, clip, twin, inprocess_env, output_dir
) -> None:
    twin.state.schema_overrides = {"duration": {"le": 5}}
    async with connect() as client:
        failed = await client.call_tool(
            "add_audio_to_video", {"video": str(clip(seconds=8.5, size=(64, 48))), "prompt": "x", "duration": 8}
        )
        assert failed.is_error and "422" in failed.content[0].text and "`duration`" in failed.content[0].text
        job_id = ledger_of(inprocess_env).recent(1)[0].id
        results_fetched = sum(
            1 for r in twin.state.requests if r.path.endswith(twin.state.rejected_submits[0].request_id)
        )
        again = _ok(await client.call_tool("get_generation", {"job_id": job_id, "wait_seconds": 5}))
    assert again["status"] == "failed" and again["error_code"] == "fal_validation"
    assert (
        sum(1 for r in twin.state.requests if r.path.endswith(twin.state.rejected_submits[0].request_id))
        == results_fetched
    )
    assert twin.state.submit_count(include_rejected=True) == 1 and files_in(output_dir) == []
    async with connect() as client:  # a restart does not pick it up either
        await anyio.sleep(0.3)
        assert (
            _ok(await client.call_tool("get_generation", {"job_id": job_id, "wait_seconds": 0}))["status"] == "failed"
        )
    assert twin.state.submit_count(include_rejected=True) == 1


async def test_generate_audio_waits_are_bounded_too(connect, twin, output_dir) -> None:
    twin.state.run_seconds = 1.5
    async with connect() as client:
        data = _ok(await client.call_tool("generate_audio", {"prompt": "thunder", "duration": 1, "wait_seconds": 0.2}))
        assert data["status"] == "running" and data["audio_url"] is None
        done = _ok(await client.call_tool("get_generation", {"job_id": data["job_id"], "wait_seconds": 20}))
    assert done["status"] == "completed" and done["output_path"].endswith(".flac")


async def test_get_generation_relays_progress_monotonically(connect, clip, twin) -> None:
    twin.state.queue_seconds = 0.3
    twin.state.run_seconds = 1.0
    seen: list[tuple[float, str | None]] = []

    async def on_progress(progress, total, message) -> None:  # type: ignore[no-untyped-def]
        seen.append((progress, message))

    async with connect() as client:
        job_id = _ok(
            await client.call_tool(
                "add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1, "wait_seconds": 0}
            )
        )["job_id"]
        done = _ok(
            await client.call_tool(
                "get_generation", {"job_id": job_id, "wait_seconds": 20}, progress_callback=on_progress
            )
        )
    assert done["status"] == "completed"
    values = [p for p, _ in seen]
    assert values == sorted(values) and values[-1] == 100
    messages = " ".join(m or "" for _, m in seen)
    assert "Generating audio: step" in messages and "Download" in messages and "Saved" in messages


async def test_unusable_data_folder_fails_before_anything_is_paid(connect, clip, twin, tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("ALICE_DATA_DIR", str(blocker / "data"))
    async with connect() as client:
        result = await client.call_tool("add_audio_to_video", {"video": str(clip()), "prompt": "x"})
    assert result.is_error and "ALICE_DATA_DIR" in result.content[0].text
    assert twin.state.uploads == [] and twin.state.submit_count() == 0


async def test_cancel_while_uploading_never_submits(connect, clip, twin, inprocess_env, output_dir) -> None:
    twin.state.uplink_bytes_per_second = 20_000  # the ~15 kB clip takes most of a second to upload
    async with connect() as client:
        job_id = _ok(
            await client.call_tool(
                "add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1, "wait_seconds": 0.1}
            )
        )["job_id"]
        cancelled = _ok(await client.call_tool("cancel_generation", {"job_id": job_id}))
        await anyio.sleep(1.5)
    assert cancelled["status"] == "cancelled" and cancelled["request_id"] is None
    assert twin.state.submit_count(include_rejected=True) == 0 and twin.state.cancels == []
    assert ledger_of(inprocess_env).get(job_id).status == "cancelled" and files_in(output_dir) == []


async def test_a_job_cancelled_in_the_ledger_by_another_process_is_never_submitted(
    connect, clip, twin, inprocess_env
) -> None:
    twin.state.uplink_bytes_per_second = 20_000
    async with connect() as client:
        job_id = _ok(
            await client.call_tool(
                "add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1, "wait_seconds": 0.1}
            )
        )["job_id"]
        ledger_of(inprocess_env).update(
            job_id, status="cancelled", message="cancelled elsewhere"
        )  # as another process would
        status = _ok(await client.call_tool("get_generation", {"job_id": job_id, "wait_seconds": 3}))
        await anyio.sleep(1.5)
    assert status["status"] == "cancelled"
    assert twin.state.submit_count(include_rejected=True) == 0
