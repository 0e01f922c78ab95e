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
