"""A soundtrack's parts as the user sees them (get_generation, `alice-mcp job`, the Python API), and regenerating
windows from the CLI and the Python API, against the fal twin.

A part that fails twice leaves silence and is listed as failed with its error; the note says how to fill it in the
face's own words; regenerating that window pays for it alone and fills it.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ALICE_BIN, files_in
from tests.media import describe
from tests.soundtrack_media import make_scenes


@pytest.fixture
def clip36(home: Path) -> Path:
    folder = home / "clips"
    folder.mkdir(exist_ok=True)
    return make_scenes(folder / "walk.mp4", 36.0, [18.0], size=(64, 36), fps=12, gop=24)


async def test_a_failed_window_is_listed_and_regenerated_through_the_python_api(
    clip36, twin, inprocess_env, output_dir, monkeypatch
) -> None:
    from alice_mcp.api import AliceOrchestrator, GenerationRequest

    monkeypatch.setenv("ALICE_MAX_CONCURRENT_JOBS", "1")  # one part at a time: the first one fails twice
    twin.state.fail_next_jobs(2, error="GPU on fire", error_type="runner_server_error")
    request = GenerationRequest(prompt="footsteps", parameters={"seed": 3}, reference_assets=[clip36])
    async with AliceOrchestrator() as alice:
        asset = await alice.generate_creative_asset(request)
        report = asset.details.soundtrack  # type: ignore[union-attr]
        assert report is not None
        windows = report.windows
        failed = [w for w in windows if w.status == "failed"]
        assert len(failed) == 1 and failed[0].attempts == 2 and "GPU on fire" in (failed[0].error or "")
        assert all(w.status == "done" and w.attempts == 1 and w.error is None for w in windows if w not in failed)
        lost = failed[0].index
        hint = f'call AliceOrchestrator.regenerate_soundtrack_windows("{asset.job_id}", [{lost}])'
        assert any(hint in n for n in asset.details.notes), asset.details.notes

        # get_generation lists the same parts: span, status and cost of each
        status = await alice.get_generation(asset.job_id, 0)
        assert status.soundtrack is not None
        listed = [(w.index, w.start, w.end, w.status, w.cost_usd) for w in status.soundtrack.windows]
        assert listed == [(w.index, w.start, w.end, w.status, w.cost_usd) for w in windows]
        assert all(w.cost_usd > 0 for w in status.soundtrack.windows)

        # regenerate the lost window: one more submit, paid for that window alone, and no silence left
        submits = twin.state.submit_count()
        again = await alice.regenerate_soundtrack_windows(asset.job_id, [lost])
    assert again.job_id != asset.job_id and again.file_path.is_file() and again.file_path != asset.file_path
    assert twin.state.submit_count() == submits + 1
    assert again.cost_usd == pytest.approx(failed[0].cost_usd)
    redone = again.details.soundtrack  # type: ignore[union-attr]
    assert redone is not None and [w.status for w in redone.windows] == ["done"] * len(windows)
    assert [w.cost_usd > 0 for w in redone.windows] == [w.index == lost for w in windows]
    assert describe(again.file_path).audio_duration == pytest.approx(36.0, abs=0.05)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ALICE_BIN), *args], env=env, capture_output=True, text=True, timeout=300)


def test_the_cli_lists_parts_and_regenerates_a_window_by_time(clip36, twin, alice_env, output_dir) -> None:
    made = _cli(alice_env, "add-audio", str(clip36), "--prompt", "rain", "--seed", "8", "--json", "--yes")
    assert made.returncode == 0, made.stderr[-2000:]
    first = json.loads(made.stdout)
    windows = first["soundtrack"]["windows"]
    assert len(windows) >= 2

    # `alice-mcp job ID`: the parts on stderr (span, status, cost), the whole report with --json
    shown = _cli(alice_env, "job", first["job_id"])
    assert shown.returncode == 0, shown.stderr
    assert f"soundtrack: {len(windows)} of {len(windows)} parts done" in shown.stderr
    for w in windows:
        assert f"window {w['index']:<3} {w['start']:7.2f}-{w['end']:<7.2f} s  done" in shown.stderr, shown.stderr
    as_json = json.loads(_cli(alice_env, "job", first["job_id"], "--json").stdout)
    assert [(w["start"], w["end"], w["status"]) for w in as_json["soundtrack"]["windows"]] == [
        (w["start"], w["end"], "done") for w in windows
    ]

    # `alice-mcp regenerate ID 12.5s`: the window around that time alone, as a new file
    last = windows[-1]
    at = f"{(last['start'] + last['end']) / 2:g}s"
    redone = _cli(alice_env, "regenerate", first["job_id"], at, "--json", "--yes")
    assert redone.returncode == 0, redone.stderr[-2000:]
    second = json.loads(redone.stdout)
    assert second["job_id"] != first["job_id"] and second["cost_usd"] == pytest.approx(last["cost_usd"])
    assert twin.state.submit_count() == len(windows) + 1
    assert sorted(files_in(output_dir)) == sorted([Path(first["output_path"]).name, Path(second["output_path"]).name])

    # a window that does not exist: exit 3 (input), nothing submitted
    bad = _cli(alice_env, "regenerate", first["job_id"], "99")
    assert bad.returncode == 3 and "window 99 does not exist" in bad.stderr, bad.stderr
    assert twin.state.submit_count() == len(windows) + 1


@pytest.fixture
def full_output_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An output folder on a small tmpfs that is already full (needs root to mount; skipped otherwise)."""
    import os

    from tests.test_hardening_diskfull import _fill

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs as the output folder")
    mount = tmp_path / "full-out"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.decode(errors='replace').strip()}")
    try:
        _fill(mount / "filler")
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


async def test_a_soundtrack_that_cannot_be_saved_keeps_every_paid_part_reachable(
    clip36, twin, inprocess_env, full_output_disk
) -> None:
    from alice_mcp.adapters.ledger import Ledger
    from alice_mcp.api import AliceOrchestrator, GenerationRequest
    from alice_mcp.data.errors import OutputError

    before = sorted(p.name for p in full_output_disk.iterdir())
    request = GenerationRequest(prompt="rain", parameters={"seed": 2}, reference_assets=[clip36])
    async with AliceOrchestrator(output_dir=full_output_disk) as alice:
        with pytest.raises(OutputError) as caught:
            await alice.generate_creative_asset(request)
    message = caught.value.message
    assert "The soundtrack could not be saved" in message and "no partial file was left" in message, message
    # no partial (hidden) file left in the output folder
    assert sorted(p.name for p in full_output_disk.iterdir()) == before
    # every paid part's audio is named in the error and still there, and the joined track too
    ledger = Ledger(Path(inprocess_env["ALICE_DATA_DIR"]) / "ledger.sqlite3")
    parent = next(r for r in ledger.recent(5) if r.kind == "soundtrack")
    assert parent.status == "failed" and parent.error == message
    parts = ledger.parts_of(parent.id)
    assert parts and all(p.status == "completed" for p in parts)
    for part in parts:
        assert part.output_path is not None and Path(part.output_path).is_file()
        assert part.output_path in message
    joined = Path(inprocess_env["ALICE_DATA_DIR"]) / "soundtracks" / parent.id / "joined-soundtrack.m4a"
    assert str(joined) in message and describe(joined).audio_duration == pytest.approx(36.0, abs=0.05)
    assert twin.state.billed_usd() == pytest.approx(sum(p.cost_usd for p in parts))
