"""The probe is the gate before any upload or charge: what is not a complete, decodable video is refused with a
clear message, and nothing reaches fal. URLs are probed from their header with Range reads, or fall back."""

from __future__ import annotations

from pathlib import Path

import pytest

from alice_mcp.data.errors import InputError
from alice_mcp.media.plan import choose_duration, proxy_geometry
from alice_mcp.media.probe import VideoInfo, probe_video
from tests.media import make_audio_only, make_clip, make_still_image


async def _call(connect, **arguments):  # type: ignore[no-untyped-def]
    async with connect() as client:
        return await client.call_tool("add_audio_to_video", {"prompt": "x", **arguments})


def _truncated(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    bad = path.with_name(f"cut-{path.name}")
    bad.write_bytes(data[: int(len(data) * keep)])
    return bad


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda folder: (
                (folder / "notes.mp4").write_text("just some text, not a video\n" * 50) and folder / "notes.mp4"
            ),
            "not a video FFmpeg can read",
        ),
        (lambda folder: make_still_image(folder / "photo.mp4"), "still image"),
        (lambda folder: make_audio_only(folder / "song.mp4"), "no video stream"),
        (lambda folder: (folder / "empty.mp4").write_bytes(b"") or folder / "empty.mp4", "empty"),
        (lambda folder: _truncated(make_clip(folder / "whole.mp4", 2.0), 0.6), "not a video FFmpeg can read"),
        (lambda folder: _truncated(make_clip(folder / "whole.mkv", 4.0), 0.5), "truncated"),
    ],
    ids=["text", "image", "audio-only", "empty", "truncated-mp4", "truncated-mkv"],
)
async def test_non_video_is_refused_before_any_upload_or_charge(connect, twin, home, make, expected) -> None:
    folder = home / "clips"
    folder.mkdir(exist_ok=True)
    path = make(folder)
    async with connect() as client:
        result = await client.call_tool("add_audio_to_video", {"video": str(path), "prompt": "x"})
    assert result.is_error is True
    text = result.content[0].text
    assert expected in text and str(path) in text
    assert twin.state.uploads == [] and twin.state.submit_count(include_rejected=True) == 0


async def test_start_time_past_the_end_is_refused_before_upload(connect, clip, twin) -> None:
    result = await _call(connect, video=str(clip(seconds=2.0)), start_time=5)
    assert result.is_error is True and "past the end of the clip" in result.content[0].text
    assert twin.state.uploads == [] and twin.state.submit_count() == 0


async def test_url_duration_comes_from_a_small_range_probe(connect, clip, twin) -> None:
    source = clip("remote.mp4", seconds=3.0, size=(320, 240))
    url = twin.public_url("remote.mp4", source.read_bytes())
    result = await _call(connect, video=url)
    assert result.is_error is False, result.content[0].text
    assert twin.state.submits[0].payload["duration"] == pytest.approx(3.0, abs=0.05)
    assert twin.state.submits[0].payload["video_url"] == url and twin.state.uploads == []
    media = result.structured_content["media"]
    assert media["upload_method"] == "url" and media["uploaded_bytes"] == 0 and media["width"] == 320
    probes = [r for r in twin.state.requests if r.host == "media.example.test"]
    assert probes and all(r.status_code == 206 for r in probes)


async def test_unprobeable_url_falls_back_to_the_default_duration_and_says_so(connect, clip, twin) -> None:
    url = twin.public_url("flaky.mp4", clip("flaky.mp4", seconds=3.0).read_bytes())
    twin.state.add_fault("download", 503, times=1, path_contains="flaky")
    result = await _call(connect, video=url)
    assert result.is_error is False, result.content[0].text
    assert twin.state.submits[0].payload["duration"] == 8
    notes = result.structured_content["notes"]
    assert any("could not be probed" in note and "duration" in note for note in notes)


async def test_start_time_with_a_url_is_refused_before_submit(connect, clip, twin) -> None:
    url = twin.public_url("far.mp4", clip("far.mp4").read_bytes())
    result = await _call(connect, video=url, start_time=1)
    assert result.is_error is True and "local file" in result.content[0].text
    assert twin.state.submit_count() == 0


async def test_estimate_uses_the_same_duration_rule(connect, clip) -> None:
    path = clip("est.mp4", seconds=45.0, size=(64, 48))
    async with connect() as client:
        whole = await client.call_tool("estimate_cost", {"video": str(path)})
        tail = await client.call_tool("estimate_cost", {"video": str(path), "start_time": 40})
    # no duration: the whole clip, longer than one 30 s window, is quoted as the soundtrack add_audio_to_video makes
    estimate = whole.structured_content
    assert 45.0 <= estimate["duration"] <= 46.0 and "windows" in estimate["formula"]
    assert estimate["usd"] == pytest.approx(estimate["duration"] * 0.001)
    assert tail.structured_content["duration"] == pytest.approx(5.0, abs=0.05)


def test_probe_reports_what_the_planner_needs(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "p.webm", 1.0, size=(160, 90), fps=30, with_audio=True)
    info = probe_video(path)
    assert (info.width, info.height, info.fps, info.has_audio) == (160, 90, 30.0, True)
    assert info.duration == pytest.approx(1.0, abs=0.05) and info.size_bytes == path.stat().st_size
    assert info.video_codec == "vp9" and info.audio_codec == "opus"


@pytest.mark.parametrize(
    ("clip_s", "start", "requested", "end", "billed"),
    [
        (10.0, 0.0, None, 10.0, 10.0),
        (45.0, 0.0, None, 30.0, 30.0),
        (45.0, 40.0, None, 45.0, 5.0),
        (10.0, 2.0, 30.0, 10.0, 8.0),
        (0.5, 0.0, None, 0.5, 1.0),
        (None, 0.0, None, 8.0, 8.0),
        (20.0, 0.0, 4.0, 4.0, 4.0),
    ],
)
def test_duration_rule(clip_s, start, requested, end, billed) -> None:
    got_end, got_billed, _ = choose_duration(clip_s, start, requested, 8.0)
    assert (got_end, got_billed) == (pytest.approx(end), pytest.approx(billed))


def test_start_at_the_end_is_an_input_error() -> None:
    with pytest.raises(InputError, match="past the end"):
        choose_duration(10.0, 10.0, None, 8.0)


@pytest.mark.parametrize(
    ("size", "fps", "expected_size", "expected_fps"),
    [
        ((3840, 2160), 60.0, (854, 480), 30.0),
        ((1080, 1920), 30.0, (480, 854), 30.0),
        ((320, 240), 50.0, (320, 240), 25.0),
        ((1920, 1080), 24.0, (854, 480), 24.0),
        ((1920, 1080), 120.0, (854, 480), 30.0),
    ],
)
def test_proxy_geometry(size, fps, expected_size, expected_fps) -> None:
    assert proxy_geometry(*size, fps) == (expected_size, pytest.approx(expected_fps))


def _info(width: int, height: int, fps: float, mbps: float, seconds: float) -> VideoInfo:
    return VideoInfo(
        container="mov,mp4,m4a,3gp,3g2,mj2",
        duration=seconds,
        width=width,
        height=height,
        fps=fps,
        video_codec="h264",
        has_audio=True,
        size_bytes=int(mbps * 125_000 * seconds),
        bit_rate=int(mbps * 1e6),
    )


@pytest.mark.parametrize(
    ("info", "start", "end", "keyframe", "expected"),
    [
        (_info(1920, 1080, 30, 16, 60), 0.0, 30.0, 0.0, "proxy"),  # big segment
        (_info(3840, 2160, 30, 45, 20), 0.0, 20.0, 0.0, "proxy"),
        (_info(640, 360, 30, 4.6, 6), 0.0, 6.0, 0.0, "proxy"),  # small but re-encoding saves upload time
        (_info(320, 240, 24, 0.2, 2), 0.0, 2.0, 0.0, "as_is"),  # tiny: nothing to gain
        (_info(320, 240, 24, 0.2, 90), 60.0, 90.0, 60.0, "cut"),  # low bitrate segment on a keyframe
        (_info(320, 240, 24, 0.2, 90), 61.0, 90.0, 60.0, "proxy"),  # between keyframes: only a re-encode is exact
        (_info(320, 240, 24, 0.2, 90), 0.0, 30.0, 0.0, "cut"),  # whole file would be 3x the segment
    ],
)
def test_upload_rule(info, start, end, keyframe, expected) -> None:
    from alice_mcp.media.plan import choose_upload

    assert choose_upload(info, start, end, keyframe, ".mp4") == expected
