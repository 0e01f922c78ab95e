"""The real `alice-mcp` process over stdio: SIGKILL it mid-job and start it again (the paid job is resumed by its fal
request id, never re-submitted); a client cancel over the wire cancels the fal job."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import anyio
import pytest
from mcp import Client

from alice_mcp.adapters.ledger import Ledger
from tests.conftest import files_in, stdio_params
from tests.media import describe


def _ledger(env: dict[str, str]) -> Ledger:
    return Ledger(Path(env["ALICE_DATA_DIR"]) / "ledger.sqlite3")


async def _until(predicate, seconds: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    with anyio.fail_after(seconds):
        while not predicate():
            await anyio.sleep(0.05)


def _running(ledger: Ledger) -> bool:
    jobs = ledger.recent(1)
    return bool(jobs) and jobs[0].status == "running"


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
async def test_sigkill_mid_job_then_restart_returns_the_file(alice_env, clip, twin, output_dir) -> None:
    twin.state.run_seconds = 3.0
    ledger = _ledger(alice_env)
    source = clip("killed.mkv")  # fal returns mp4: an .mkv result proves the resumed job was finished from the original
    try:
        async with Client(stdio_params(alice_env), mode="legacy") as client:
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    await client.call_tool(
                        "add_audio_to_video", {"video": str(source), "prompt": "rain", "duration": 1}
                    )

                tg.start_soon(call)
                await _until(lambda: _running(ledger))
                owner_pid = int(ledger.recent(1)[0].owner.split("|")[1])
                assert owner_pid != os.getpid()
                os.kill(owner_pid, signal.SIGKILL)  # no cleanup of any kind
                await anyio.sleep(0.5)
                tg.cancel_scope.cancel()
    except Exception:  # noqa: BLE001 - the client sees its server die; that is the point
        pass
    job = ledger.recent(1)[0]
    assert job.status == "running" and job.request_id == twin.state.submits[0].request_id
    assert files_in(output_dir) == []

    async with Client(stdio_params(alice_env), mode="legacy") as client:
        result = await client.call_tool("get_generation", {"job_id": job.id, "wait_seconds": 30})
    assert result.is_error is False, result.content[0].text
    data = result.structured_content
    assert data["status"] == "completed" and Path(data["output_path"]).exists()
    assert Path(data["output_path"]).suffix == ".mkv" and describe(Path(data["output_path"])).audio_duration
    assert twin.state.submit_count() == 1 and len(twin.state.uploads) == 1 and twin.state.cancels == []
    assert files_in(output_dir) == [Path(data["output_path"]).name]


async def test_client_cancel_over_stdio_cancels_the_fal_job(alice_env, clip, twin, output_dir) -> None:
    twin.state.run_seconds = 5.0
    ledger = _ledger(alice_env)
    async with Client(stdio_params(alice_env), mode="legacy") as client:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.call_tool("add_audio_to_video", {"video": str(clip()), "prompt": "rain", "duration": 1})

            tg.start_soon(call)
            await _until(lambda: _running(ledger))
            tg.cancel_scope.cancel()  # the SDK client sends notifications/cancelled
        await _until(lambda: ledger.recent(1)[0].status == "cancelled")
        listed = await client.call_tool("list_generations", {"status": "cancelled"})
    job = ledger.recent(1)[0]
    assert twin.state.cancels == [job.request_id]
    assert [j["job_id"] for j in listed.structured_content["jobs"]] == [job.id]
    assert files_in(output_dir) == []
