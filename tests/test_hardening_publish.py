"""Finding 13: publishing a result and recording "completed" is idempotent. A server killed (or frozen and taken
over) right after publishing the file, before the ledger says "completed", is recovered without a second copy: the
recovery finds the published file through the claim recorded before the link, and records it as the result.

The real `alice-mcp` process over stdio; the window is made observable by the one test hook
(``ALICE_TEST_STOP_AFTER_PUBLISH``): the server stops itself right after a file appears in the output folder."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import anyio
import pytest
from mcp import Client

from alice_mcp.adapters.ledger import Ledger
from alice_mcp.adapters.output_policy import STOP_AFTER_PUBLISH_ENV
from tests.conftest import files_in, stdio_params

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP/SIGKILL")


def _ledger(env: dict[str, str]) -> Ledger:
    return Ledger(Path(env["ALICE_DATA_DIR"]) / "ledger.sqlite3")


def _stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except (OSError, IndexError):
        return False


async def _until(predicate, seconds: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    with anyio.fail_after(seconds):
        while not predicate():
            await anyio.sleep(0.05)


async def _stop_after_publish(env: dict[str, str], source: Path, ledger: Ledger) -> tuple[int, str, tuple]:
    """Start a job in a server that stops itself right after publishing into the output folder; returns its pid, the
    job id and (client, task group context, task group) for the caller to close."""
    pid = 0

    def owner_stopped() -> bool:
        nonlocal pid
        jobs = ledger.recent(1)
        if not jobs or not jobs[0].owner:
            return False
        pid = int(jobs[0].owner.split("|")[1])
        return _stopped(pid)

    async def call(client: Client) -> None:
        try:
            await client.call_tool("add_audio_to_video", {"video": str(source), "prompt": "rain", "duration": 1})
        except Exception:  # noqa: BLE001 - the client sees its server stop or die
            pass

    client_cm = Client(stdio_params(env), mode="legacy")
    client = await client_cm.__aenter__()
    tg_cm = anyio.create_task_group()
    tg = await tg_cm.__aenter__()
    tg.start_soon(call, client)
    await _until(owner_stopped)
    return pid, ledger.recent(1)[0].id, (client_cm, tg_cm, tg)


async def test_kill_after_publish_then_restart_adopts_the_file(alice_env, clip, twin, output_dir) -> None:
    ledger = _ledger(alice_env)
    hooked = {**alice_env, STOP_AFTER_PUBLISH_ENV: str(output_dir)}
    pid, job_id, (client_cm, tg_cm, tg) = await _stop_after_publish(hooked, clip("kill.mp4"), ledger)
    published = [name for name in files_in(output_dir) if not name.startswith(".")]
    assert len(published) == 1, files_in(output_dir)
    assert ledger.get(job_id).status != "completed"  # the window: the file is out, the ledger doesn't know yet
    os.kill(pid, signal.SIGKILL)
    tg.cancel_scope.cancel()
    try:
        await tg_cm.__aexit__(None, None, None)
        await client_cm.__aexit__(None, None, None)
    except Exception:  # noqa: BLE001
        pass

    async with Client(stdio_params(alice_env), mode="legacy") as client:
        result = await client.call_tool("get_generation", {"job_id": job_id, "wait_seconds": 30})
    assert result.is_error is False, result.content[0].text
    data = result.structured_content
    assert data["status"] == "completed"
    assert files_in(output_dir) == published  # no "-2" copy, no leftover temp file
    assert Path(data["output_path"]) == output_dir / published[0]
    assert twin.state.submit_count() == 1


async def test_frozen_server_taken_over_makes_no_second_copy(alice_env, clip, twin, output_dir) -> None:
    ledger = _ledger(alice_env)
    hooked = {**alice_env, STOP_AFTER_PUBLISH_ENV: str(output_dir)}
    pid, job_id, (client_cm, tg_cm, tg) = await _stop_after_publish(hooked, clip("frozen.mp4"), ledger)
    published = [name for name in files_in(output_dir) if not name.startswith(".")]
    assert len(published) == 1 and ledger.get(job_id).status != "completed"
    with sqlite3.connect(ledger.path) as db:  # the frozen owner's heartbeat goes stale (as after 45 s)
        db.execute("UPDATE jobs SET heartbeat_at = heartbeat_at - 3600 WHERE id = ?", (job_id,))
    try:
        async with Client(stdio_params(alice_env), mode="legacy") as client:
            result = await client.call_tool("get_generation", {"job_id": job_id, "wait_seconds": 30})
        assert result.is_error is False, result.content[0].text
        data = result.structured_content
        assert data["status"] == "completed"
        assert files_in(output_dir) == published
        assert Path(data["output_path"]) == output_dir / published[0]
        os.kill(pid, signal.SIGCONT)  # the frozen server wakes: its late "completed" changes nothing
        await _until(lambda: not _stopped(pid))
    finally:
        os.kill(pid, signal.SIGKILL)
        tg.cancel_scope.cancel()
        try:
            await tg_cm.__aexit__(None, None, None)
            await client_cm.__aexit__(None, None, None)
        except Exception:  # noqa: BLE001
            pass
    assert files_in(output_dir) == published
    assert ledger.get(job_id).output_path == str(output_dir / published[0])
    assert twin.state.submit_count() == 1


def _temp(folder: Path, data: bytes) -> Path:
    path = folder / f".alice-partial-{len(list(folder.iterdir()))}.mp4"
    path.write_bytes(data)
    return path


def test_a_recorded_claim_is_adopted_only_while_it_names_the_very_file(tmp_path: Path) -> None:
    """The claim pins size, mtime and inode: a file put under that name later is never taken for the result."""
    from alice_mcp.adapters.output_policy import PublishJournal, publish, publishing_for

    claims: dict[str, dict] = {}
    journal = PublishJournal(recorded=claims.get, record=claims.__setitem__)
    wanted = tmp_path / "out.mp4"
    with publishing_for(journal):
        first = publish(_temp(tmp_path, b"result"), wanted)
        again = publish(_temp(tmp_path, b"result"), wanted)  # the recovery: the same file, no copy
        assert first == again == wanted and claims[str(wanted)]["path"] == str(wanted)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]
        wanted.unlink()
        wanted.write_bytes(b"someone else's file")  # same name, another file
        third = publish(_temp(tmp_path, b"result"), wanted)
    assert third == tmp_path / "out-2.mp4" and wanted.read_bytes() == b"someone else's file"
    assert claims[str(wanted)]["path"] == str(third)
