"""Issue 12, finding 2 (and the data-folder half of 14): the data folder fills up while a submit is at fal.

A real stdio server whose data folder is a small tmpfs. The twin answers the submit late (the job is already
enqueued and billed); while it waits the test fills the disk, so the ledger cannot record fal's request id. The
server must keep serving, the paid job must stay known, and once space is back the result is delivered, with one
submit in all. Needs root (to mount a tmpfs); skipped otherwise.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Iterator

import anyio
import pytest
from mcp import Client

from alice_mcp.adapters.ledger import Ledger
from tests.conftest import stdio_params


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs as the data folder")
    mount = tmp_path / "data"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.decode(errors='replace').strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(path: Path) -> None:
    """Write ``path`` until the disk is full."""
    chunk = b"\0" * 65536
    with path.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError:
            pass
    smaller = path.with_name("filler-2")  # the last partial pages too
    try:
        with smaller.open("wb", buffering=0) as out:
            while True:
                out.write(b"\0" * 512)
    except OSError:
        pass


async def _until(predicate, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    with anyio.fail_after(seconds):
        while not predicate():
            await anyio.sleep(0.02)


async def test_a_full_data_folder_during_the_submit_keeps_the_server_and_the_paid_result(
    alice_env, clip, twin, output_dir, small_disk
) -> None:
    env = {**alice_env, "ALICE_DATA_DIR": str(small_disk)}
    twin.state.add_fault("submit", "slow", hang_seconds=1.5)
    source = clip()
    first: list = []
    async with Client(stdio_params(env), mode="legacy") as client:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                first.append(
                    await client.call_tool(
                        "add_audio_to_video", {"video": str(source), "prompt": "x", "duration": 1, "wait_seconds": 15}
                    )
                )

            tg.start_soon(call)
            await _until(lambda: twin.state.submit_count() == 1)  # at fal (billed); its answer is on the way
            await anyio.to_thread.run_sync(_fill, small_disk / "filler")
        text = first[0].content[0].text
        assert "this is a bug" not in text.lower(), text
        listing = await client.call_tool("list_generations", {"limit": 5})  # the server is still serving
        assert listing.is_error is False, listing.content[0].text
        job_id = re.search(r"job_[0-9a-f]{12}", text + json.dumps(listing.structured_content)).group(0)
        for name in ("filler", "filler-2"):  # space is back
            (small_disk / name).unlink(missing_ok=True)
        done = await client.call_tool("get_generation", {"job_id": job_id, "wait_seconds": 20})
    assert done.is_error is False, done.content[0].text
    data = done.structured_content
    assert data["status"] == "completed" and Path(data["output_path"]).exists()
    assert twin.state.submit_count() == 1
    record = Ledger(small_disk / "ledger.sqlite3").get(job_id)
    assert record is not None and record.status == "completed"
    assert record.request_id == twin.state.submits[0].request_id
