"""Issue 12, findings 1 and 16: inputs are only ever what the read policy allowed.

An HLS playlist, a concat list or an image-sequence pattern inside an allowed folder names files elsewhere; FFmpeg
must never follow them (a leak of videos outside the allowed folders and in hidden folders). Through the MCP wire:
nothing is uploaded or submitted, and ``estimate_cost`` does not measure them either.
"""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from mcp import Client

from tests.media import make_clip


@pytest.fixture
def legacy(inprocess_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from alice_mcp.mcp.server import build_server

    return lambda: Client(build_server(), mode="legacy")


def _transport_stream(source: Path, dest: Path) -> Path:
    """``source``'s video stream-copied into an MPEG-TS segment (what an HLS playlist lists)."""
    with av.open(str(source)) as src, av.open(str(dest), "w", format="mpegts") as out:
        stream = src.streams.video[0]
        copy = out.add_stream_from_template(stream)
        for packet in src.demux(stream):
            if packet.dts is None:
                continue
            packet.stream = copy
            out.mux(packet)
    return dest


@pytest.fixture
def secrets_elsewhere(tmp_path: Path, home: Path) -> dict[str, Path]:
    """A video outside every allowed folder and one in a hidden folder under home, as TS segments and MP4s."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    hidden = home / ".private"
    hidden.mkdir()
    out_mp4 = make_clip(outside / "secret.mp4", 1.0)
    hid_mp4 = make_clip(hidden / "secret.mp4", 1.0)
    return {
        "outside_ts": _transport_stream(out_mp4, outside / "secret.ts"),
        "hidden_ts": _transport_stream(hid_mp4, hidden / "secret.ts"),
        "outside_mp4": out_mp4,
    }


def _playlists(home: Path, secrets: dict[str, Path]) -> dict[str, Path]:
    clips = home / "clips"
    clips.mkdir(exist_ok=True)
    m3u8 = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n{}\n#EXT-X-ENDLIST\n"
    files = {
        "hls_outside.m3u8": m3u8.format(secrets["outside_ts"]),
        "hls_hidden.m3u8": m3u8.format("../.private/secret.ts"),
        "hls_named.mp4": m3u8.format(secrets["outside_ts"]),  # a playlist under a video's name
        "concat.mp4": f"ffconcat version 1.0\nfile '{secrets['outside_mp4']}'\n",
    }
    for name, text in files.items():
        (clips / name).write_text(text)
    return {name: clips / name for name in files}


@pytest.mark.parametrize("name", ["hls_outside.m3u8", "hls_hidden.m3u8", "hls_named.mp4", "concat.mp4"])
async def test_a_playlist_never_reads_files_elsewhere(legacy, twin, home, secrets_elsewhere, name) -> None:
    playlist = _playlists(home, secrets_elsewhere)[name]
    async with legacy() as client:
        result = await client.call_tool("add_audio_to_video", {"video": str(playlist), "prompt": "x", "seed": 1})
        estimate = await client.call_tool("estimate_cost", {"video": str(playlist)})
    assert result.is_error is True, result.structured_content
    text = result.content[0].text
    assert "playlist" in text or "not a video" in text, text
    assert twin.state.uploads == [] and twin.state.submit_count() == 0 and twin.state.uploaded_bytes() == 0
    assert estimate.is_error is True, estimate.structured_content  # not measured either


# ------------------------------------------------------------------------------------- finding 16: swaps, leftovers
async def test_a_folder_swapped_for_a_symlink_after_the_check_uploads_nothing_from_outside(
    inprocess_env, clip, twin, home, tmp_path, monkeypatch
) -> None:
    """The approval question is asked after the clip was checked and probed and before it is read for upload: the
    user's folder is swapped for a symlink to an outside folder holding another clip under the same name."""
    from mcp.types import ElicitResult

    from alice_mcp.mcp.server import build_server

    monkeypatch.setenv("ALICE_CONFIRM_SPEND_ABOVE_USD", "0.0001")
    inside = clip("same.mp4", seconds=1.0)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    make_clip(outside / "same.mp4", 1.0, size=(96, 64))
    secret = (outside / "same.mp4").read_bytes()
    assert secret != inside.read_bytes()

    async def swap_then_approve(context, params) -> ElicitResult:  # type: ignore[no-untyped-def]
        inside.parent.rename(home / "clips-moved")
        inside.parent.symlink_to(outside, target_is_directory=True)
        return ElicitResult(action="accept", content={"approve": True})

    async with Client(build_server(), mode="legacy", elicitation_callback=swap_then_approve) as client:
        result = await client.call_tool("add_audio_to_video", {"video": str(inside), "prompt": "x", "duration": 1})
    uploaded = [Path(twin.store.resolve(u.url).path).read_bytes() for u in twin.state.uploads]
    assert secret not in uploaded, "the outside file was uploaded"
    assert result.is_error is True and twin.state.submit_count() == 0


@pytest.mark.parametrize("swap", ["folder_symlink", "file_replaced"])
def test_every_read_after_the_check_is_of_the_checked_file(home, tmp_path, clip, swap) -> None:
    """The window the wire cannot hold open: between the policy check (resolve) and the reads of the job (probe,
    cut, proxy, the copy that is uploaded). Whatever the path leads to by then, only the checked file is read."""
    from alice_mcp.adapters.input_files import private_copy
    from alice_mcp.adapters.read_policy import ReadPolicy
    from alice_mcp.adapters.sources import resolve_local_video
    from alice_mcp.data.errors import InputError
    from alice_mcp.media.probe import probe_video

    inside = clip("same.mp4", seconds=1.0)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    make_clip(outside / "same.mp4", 1.0, size=(96, 64))
    checked = resolve_local_video(inside, ReadPolicy(allowed=(home.resolve(),)))
    if swap == "folder_symlink":
        inside.parent.rename(home / "clips-moved")
        inside.parent.symlink_to(outside, target_is_directory=True)
    else:
        inside.unlink()
        (outside / "same.mp4").rename(inside)
    with pytest.raises(InputError, match="changed after it was checked"):
        private_copy(checked.path, tmp_path / "upload.mp4")
    with pytest.raises(InputError, match="changed after it was checked"):
        probe_video(checked.path)


def test_work_folders_left_by_a_killed_process_are_removed_at_start_up(alice_env, tmp_path) -> None:
    import os
    import subprocess
    import time

    from tests.conftest import ALICE_BIN

    work = Path(alice_env["ALICE_DATA_DIR"]) / "work"
    dead = subprocess.Popen(["true"])
    dead.wait()
    leftovers = [work / f"job-{dead.pid}-abc123", work / "job-old0001"]
    live = work / f"job-{os.getpid()}-live01"  # a running process's job: kept
    for folder in (*leftovers, live):
        folder.mkdir(parents=True)
        (folder / "proxy.mp4").write_bytes(b"x" * 1000)
    old = time.time() - 3 * 86400
    os.utime(work / "job-old0001", (old, old))
    proc = subprocess.run(
        [str(ALICE_BIN)],
        input='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
        '"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}\n',
        capture_output=True,
        text=True,
        env=alice_env,
        timeout=60,
    )
    assert '"id":1' in proc.stdout
    assert not any(folder.exists() for folder in leftovers)
    assert live.exists()
