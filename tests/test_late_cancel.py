"""A client that gives up mid-job never loses a paid result (issue 16, item 1), through the MCP wire against the twin.

fal's cancel removes a queued request, but only signals a running one; a hosted model may ignore the signal, finish
and bill. The twin's ``inprogress_cancel = "ignore"`` plays that model. A cancel after fal started the job must keep
following it and save the result with a note; a queued job cancelled is still cancelled and nothing is billed.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable

import anyio
import pytest
from mcp import Client

from alice_mcp.adapters.ledger import JobRecord, Ledger
from alice_mcp.jobs.state import LATE_CANCEL_NOTE
from tests.conftest import ALICE_BIN


def ledger_of(env: dict[str, str]) -> Ledger:
    return Ledger(Path(env["ALICE_DATA_DIR"]) / "ledger.sqlite3")


def _ok(result):  # type: ignore[no-untyped-def]
    assert result.is_error is False, result.content[0].text
    return result.structured_content


async def _until(check: Callable[[], object], seconds: float = 30.0) -> object:
    """Poll the ledger (no fixed sleeps): the first truthy value of ``check()``."""
    with anyio.fail_after(seconds):
        while not (value := check()):
            await anyio.sleep(0.02)
    return value


def _newest(ledger: Ledger) -> JobRecord | None:
    jobs = ledger.recent(1)
    return jobs[0] if jobs else None


def _started_at_fal(ledger: Ledger) -> JobRecord | None:
    record = _newest(ledger)
    return record if record is not None and record.details.get("fal_started_at") else None


def _ended(ledger: Ledger, job_id: str) -> JobRecord | None:
    record = ledger.get(job_id)
    return record if record is not None and not record.active else None


def _assert_kept(record: JobRecord, twin) -> None:  # type: ignore[no-untyped-def]
    assert record.status == "completed", (record.status, record.error)
    assert record.output_path and Path(record.output_path).is_file()
    assert record.details.get("late_cancel") == LATE_CANCEL_NOTE
    assert twin.state.cancels == [record.request_id]  # fal was asked to cancel it ...
    assert twin.state.billed_outputs() == [record.request_id]  # ... ran it anyway and billed it
    assert twin.state.submit_count() == 1  # never submitted (paid) twice


async def test_a_client_timeout_mid_run_keeps_the_paid_result(connect, clip, twin, inprocess_env) -> None:
    """The TypeScript SDK's 20 s timeout, reproduced with the Python client's own request timeout: the client sends
    notifications/cancelled while fal runs the job; the model ignores fal's signal; the file is saved anyway."""
    twin.state.inprogress_cancel = "ignore"
    twin.state.queue_seconds = 0.05
    twin.state.run_seconds = 10.0
    ledger = ledger_of(inprocess_env)
    async with connect() as client:
        with pytest.raises(Exception) as timed_out:  # the client's own timeout, below the server's bounded wait
            await client.call_tool(
                "add_audio_to_video",
                {"video": str(clip()), "prompt": "rain", "duration": 1},
                read_timeout_seconds=5.0,
            )
        assert "timed out" in str(timed_out.value).lower()
        job_id = _newest(ledger).id  # type: ignore[union-attr]
        record = await _until(lambda: _ended(ledger, job_id))
        listing = _ok(await client.call_tool("list_generations", {}))
        status = _ok(await client.call_tool("get_generation", {"job_id": job_id}))
    assert record.details.get("cancel_while_running") is True  # the cancel came after fal started it
    _assert_kept(record, twin)
    assert listing["jobs"][0]["note"] == LATE_CANCEL_NOTE and listing["jobs"][0]["status"] == "completed"
    assert status["note"] == LATE_CANCEL_NOTE and LATE_CANCEL_NOTE in status["message"]
    jobs = subprocess.run([str(ALICE_BIN), "jobs"], env={**os.environ}, capture_output=True, text=True, timeout=60)
    assert jobs.returncode == 0, jobs.stderr
    assert job_id in jobs.stdout and LATE_CANCEL_NOTE in jobs.stdout


async def test_a_call_cancelled_mid_run_keeps_the_paid_result(connect, clip, twin, inprocess_env) -> None:
    """The client cancels the call itself once fal runs the job (notifications/cancelled): same outcome."""
    twin.state.inprogress_cancel = "ignore"
    twin.state.run_seconds = 3.0
    ledger = ledger_of(inprocess_env)
    async with connect() as client:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.call_tool("add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1})

            tg.start_soon(call)
            started = await _until(lambda: _started_at_fal(ledger))
            tg.cancel_scope.cancel()
        record = await _until(lambda: _ended(ledger, started.id))  # type: ignore[attr-defined]
    _assert_kept(record, twin)


async def test_cancel_generation_of_a_running_job_says_it_will_be_billed_and_saves_it(
    connect, clip, twin, inprocess_env, output_dir
) -> None:
    twin.state.inprogress_cancel = "ignore"
    twin.state.run_seconds = 5.0
    ledger = ledger_of(inprocess_env)
    async with connect() as client:
        job_id = _ok(
            await client.call_tool(
                "add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1, "wait_seconds": 0.2}
            )
        )["job_id"]
        await _until(lambda: _started_at_fal(ledger))
        answer = _ok(await client.call_tool("cancel_generation", {"job_id": job_id}))
        done = _ok(await client.call_tool("get_generation", {"job_id": job_id, "wait_seconds": 30}))
    wanted = ledger.get(job_id).wanted_path  # type: ignore[union-attr]
    assert answer["status"] == "running"  # not dropped: fal may still finish it
    assert "billed" in answer["note"] and wanted in answer["note"]
    assert "billed" in answer["message"] and wanted in answer["message"]
    assert done["status"] == "completed" and done["note"] == LATE_CANCEL_NOTE
    assert done["output_path"] == wanted and Path(wanted).is_file()
    _assert_kept(ledger.get(job_id), twin)  # type: ignore[arg-type]


async def test_a_queued_job_cancelled_is_cancelled_and_not_billed(connect, clip, twin, inprocess_env, output_dir):
    twin.state.inprogress_cancel = "ignore"
    twin.state.queue_seconds = 4.0
    ledger = ledger_of(inprocess_env)
    async with connect() as client:
        job_id = _ok(
            await client.call_tool(
                "add_audio_to_video", {"video": str(clip()), "prompt": "x", "duration": 1, "wait_seconds": 0.2}
            )
        )["job_id"]
        await _until(lambda: (r := ledger.get(job_id)) is not None and r.request_id)
        answer = _ok(await client.call_tool("cancel_generation", {"job_id": job_id}))
    record = ledger.get(job_id)
    assert answer["status"] == "cancelled" and record.status == "cancelled"  # type: ignore[union-attr]
    assert not record.details.get("fal_started_at") and not record.details.get("late_cancel")  # type: ignore[union-attr]
    assert twin.state.cancels == [record.request_id] and twin.state.billed_outputs() == []  # type: ignore[union-attr]
    assert not [p for p in output_dir.rglob("*") if p.is_file()]


MOMENTS = ("uploading", "queued", "just submitted", "mid-run", "after completion")


async def test_no_paid_result_is_lost_whenever_the_client_gives_up(clip, twin, inprocess_env, capsys) -> None:
    """Every cancel moment, by the call's own cancellation (a client timeout) and by cancel_generation, against a
    model that ignores fal's cancel signal: every job fal billed has its file. Prints the counts."""
    from alice_mcp.mcp.server import build_server

    twin.state.inprogress_cancel = "ignore"
    ledger = ledger_of(inprocess_env)
    video = str(clip())
    runs: list[tuple[str, str, str]] = []  # (moment, how, job id)
    async with Client(build_server(), mode="legacy") as client:
        for moment in MOMENTS:
            for how in ("call cancelled", "cancel_generation"):
                if moment == "after completion" and how == "call cancelled":
                    continue  # the call has returned: nothing left to abandon
                twin.state.queue_seconds = 3.0 if moment == "queued" else 0.02
                twin.state.run_seconds = 2.0
                before = {r.id for r in ledger.recent(100)}

                def new_job(before: set[str] = before) -> JobRecord | None:
                    fresh = [r for r in ledger.recent(100) if r.id not in before]
                    return fresh[0] if fresh else None

                def reached(moment: str = moment) -> JobRecord | None:
                    record = new_job()
                    if record is None:
                        return None
                    if moment == "uploading":
                        return record if record.status == "pending" else None
                    if moment in ("queued", "just submitted"):
                        return record if record.request_id else None
                    if moment == "mid-run":
                        return record if record.details.get("fal_started_at") else None
                    return record if record.status == "completed" else None

                async with anyio.create_task_group() as tg:
                    prompt = f"{moment} {how}"  # a new request each time (never served from the cache)

                    async def call(prompt: str = prompt) -> None:
                        await client.call_tool("add_audio_to_video", {"video": video, "prompt": prompt, "duration": 1})

                    tg.start_soon(call)
                    record = await _until(reached)
                    if how == "call cancelled":
                        tg.cancel_scope.cancel()
                    else:
                        _ok(await client.call_tool("cancel_generation", {"job_id": record.id}))  # type: ignore[attr-defined]
                runs.append((moment, how, record.id))  # type: ignore[attr-defined]
                await _until(lambda job_id=record.id: _ended(ledger, job_id))  # type: ignore[attr-defined, misc]

    records = {job_id: ledger.get(job_id) for _, _, job_id in runs}
    by_request = {r.request_id: r for r in records.values() if r is not None and r.request_id}
    billed = twin.state.billed_outputs()
    saved = [r for r in records.values() if r.status == "completed" and Path(r.output_path).is_file()]  # type: ignore[union-attr, arg-type]
    lost = [rid for rid in billed if rid not in by_request or by_request[rid] not in saved]
    with capsys.disabled():
        print(
            f"\nlate cancel ({len(MOMENTS)} moments, inprogress_cancel=ignore): jobs {len(runs)}, "
            f"cancels sent to fal {len(twin.state.cancels)}, submits {twin.state.submit_count()}, "
            f"billed results {len(billed)}, results saved {len(saved)}, "
            f"cancelled {sum(r.status == 'cancelled' for r in records.values())}, paid results lost {len(lost)}"  # type: ignore[union-attr]
        )
        for moment, how, job_id in runs:
            r = records[job_id]
            print(
                f"  {moment:<17} {how:<18} -> {r.status}{' (note: late cancel)' if r.details.get('late_cancel') else ''}"
            )  # type: ignore[union-attr]
    assert lost == []
    assert twin.state.submit_count() == len({r.request_id for r in records.values() if r.request_id})  # type: ignore[union-attr]
    for moment, how, job_id in runs:
        r = records[job_id]
        if moment in ("uploading", "queued"):
            assert r.status == "cancelled" and r.request_id not in billed, (moment, how)  # type: ignore[union-attr]
        if moment in ("mid-run", "after completion"):
            assert r.status == "completed" and Path(r.output_path).is_file(), (moment, how)  # type: ignore[union-attr, arg-type]
        if moment == "mid-run":
            assert r.details.get("late_cancel") == LATE_CANCEL_NOTE  # type: ignore[union-attr]


def test_ctrl_c_on_a_job_fal_runs_says_it_will_be_billed_and_keeps_it(alice_env, clip, twin, output_dir) -> None:
    """CLI Ctrl-C once fal runs the job: the user is told it may still be billed and where its file will be; the job
    stays in the ledger and ``alice-mcp job ID --wait`` saves the file fal delivered."""
    import signal
    import time

    twin.state.inprogress_cancel = "ignore"
    twin.state.run_seconds = 8.0
    ledger = ledger_of(alice_env)
    proc = subprocess.Popen(
        [str(ALICE_BIN), "add-audio", str(clip()), "--prompt", "x", "--duration", "1"],
        env=alice_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the ledger shows fal running it (not a fixed sleep)
        if Path(alice_env["ALICE_DATA_DIR"], "ledger.sqlite3").exists() and _started_at_fal(ledger):
            break
        time.sleep(0.05)
    record = _started_at_fal(ledger)
    assert record is not None, "fal never started the job"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "may still finish and be billed" in stderr and record.wanted_path in stderr, stderr
    assert f"alice-mcp job {record.id} --wait" in stderr
    kept = ledger.get(record.id)
    assert kept.status in ("running", "completed_at_fal", "completed"), kept.status  # type: ignore[union-attr]
    waited = subprocess.run(
        [str(ALICE_BIN), "job", record.id, "--wait", "60"], env=alice_env, capture_output=True, text=True, timeout=120
    )
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.strip() == record.wanted_path and Path(record.wanted_path).is_file()
    _assert_kept(ledger.get(record.id), twin)  # type: ignore[arg-type]
