"""The media pipeline through the MCP wire against the fal twin: real clips made with PyAV, real outputs measured.

What is asserted: the duration chosen and billed, the segment, the bytes fal received, that the result keeps the
original's container, resolution and frame rate with an audio track as long as its video, and that exports and
mixes exist and are audible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.conftest import files_in
from tests.media import audio_rms, describe, display_rotation, measured_seconds

AUDIO_CODEC = {"mp4": "aac", "mov": "aac", "mkv": "aac", "webm": "opus"}


@pytest.fixture
def legacy(inprocess_env: dict[str, str]):  # type: ignore[no-untyped-def]
    """One in-memory client in the era hosts speak (the heavier media tests run once, not per era)."""
    from alice_mcp.mcp.server import build_server

    return lambda: Client(build_server(), mode="legacy")


async def _call(client_factory, **arguments: Any) -> dict:  # type: ignore[no-untyped-def]
    async with client_factory() as client:
        result = await client.call_tool("add_audio_to_video", {"prompt": "footsteps", "seed": 7, **arguments})
    assert result.is_error is False, result.content[0].text
    data = result.structured_content
    data["_text"] = result.content[0].text
    return data


def _uploaded_file(twin, index: int = 0) -> Path:  # type: ignore[no-untyped-def]
    stored = twin.store.resolve(twin.state.uploads[index].url)
    assert stored is not None
    return Path(stored.path)


@pytest.mark.parametrize(
    ("kind", "size", "fps"),
    [("mp4", (320, 240), 24), ("mov", (160, 120), 30), ("mkv", (160, 120), 60), ("webm", (160, 90), 24)],
)
async def test_result_keeps_container_size_and_rate_with_audio_as_long_as_video(
    legacy, clip, twin, output_dir, kind, size, fps
) -> None:
    source = clip(f"walk.{kind}", seconds=2.0, size=size, fps=fps, with_audio=True)
    data = await _call(legacy, video=str(source))
    out = Path(data["output_path"])
    assert out.suffix == f".{kind}" and out.parent == output_dir.resolve()
    info = describe(out)
    assert info.video is not None and info.video[:2] == size and info.video[2] == pytest.approx(fps, rel=0.01)
    assert info.audio_codec == AUDIO_CODEC[kind]
    assert info.video_codec == describe(source).video_codec  # stream-copied, not re-encoded
    video_s, audio_s = measured_seconds(out)
    assert video_s == pytest.approx(2.0, abs=0.1) and audio_s == pytest.approx(video_s, abs=0.1)
    assert audio_rms(out) > 0.01
    # no duration given: the clip's length; a small clip goes up as it is
    payload = twin.state.submits[0].payload
    assert payload["duration"] == pytest.approx(2.0, abs=0.05) and data["duration"] == payload["duration"]
    media = data["media"]
    assert media["clip_duration"] == pytest.approx(2.0, abs=0.05) and media["has_audio"] is True
    assert (media["width"], media["height"]) == size and media["upload_method"] == "as_is"
    assert media["uploaded_bytes"] == source.stat().st_size == twin.state.uploaded_bytes()
    assert files_in(output_dir) == [out.name]


async def test_long_clip_without_duration_gets_a_whole_soundtrack(legacy, clip, twin) -> None:
    """Longer than the model's 30 s window and no `duration`: the whole clip is soundtracked in windows."""
    source = clip("long.mp4", seconds=45.0, size=(64, 48), fps=24)
    data = await _call(legacy, video=str(source))
    durations = [submit.payload["duration"] for submit in twin.state.submits]
    assert len(durations) >= 2 and all(1 <= d <= 30 for d in durations)
    assert data["soundtrack"] is not None
    video_s, audio_s = measured_seconds(Path(data["output_path"]))
    assert video_s == pytest.approx(45.0, abs=0.1) and audio_s == pytest.approx(45.0, abs=0.1)


async def test_segment_of_a_90_second_clip_is_cut_before_upload(legacy, clip, twin) -> None:
    source = clip("ninety.mkv", seconds=90.0, size=(64, 48), fps=24, gop=24, with_audio=False)
    data = await _call(legacy, video=str(source), start_time=70, duration=30)
    media = data["media"]
    assert (media["segment_start"], media["segment_end"]) == (70, pytest.approx(90.0, abs=0.05))
    assert twin.state.submits[0].payload["duration"] == pytest.approx(20.0, abs=0.05)
    assert any("longer than the clip has" in note for note in data["notes"])
    assert media["upload_method"] == "cut"
    uploaded = _uploaded_file(twin)
    assert twin.state.uploaded_bytes() == media["uploaded_bytes"] == uploaded.stat().st_size
    assert media["uploaded_bytes"] < source.stat().st_size / 3
    assert measured_seconds(uploaded)[0] == pytest.approx(20.0, abs=0.1)
    video_s, audio_s = measured_seconds(Path(data["output_path"]))
    assert video_s == pytest.approx(20.0, abs=0.1) and audio_s == pytest.approx(video_s, abs=0.1)


async def test_half_second_clip_bills_fal_minimum_and_keeps_its_length(legacy, clip, twin) -> None:
    source = clip("blip.mp4", seconds=0.5, size=(160, 120), fps=24)
    data = await _call(legacy, video=str(source))
    assert twin.state.submits[0].payload["duration"] == 1
    assert any("at least 1 s" in note for note in data["notes"])
    video_s, audio_s = measured_seconds(Path(data["output_path"]))
    assert video_s == pytest.approx(0.5, abs=0.05) and audio_s == pytest.approx(video_s, abs=0.05)


async def test_start_between_keyframes_uploads_an_exact_proxy_and_mp4_hides_the_lead_in(legacy, clip, twin) -> None:
    source = clip("gop.mp4", seconds=8.0, size=(320, 240), fps=30, gop=60)
    data = await _call(legacy, video=str(source), start_time=3.0, duration=4)
    media = data["media"]
    assert media["upload_method"] == "proxy" and (media["segment_start"], media["segment_end"]) == (3.0, 7.0)
    proxy = describe(_uploaded_file(twin))
    assert proxy.audio_codec is None and proxy.video_codec == "h264"
    assert measured_seconds(_uploaded_file(twin))[0] == pytest.approx(4.0, abs=0.05)
    out = Path(data["output_path"])
    assert describe(out).video[:2] == (320, 240)
    video_s, audio_s = measured_seconds(out)
    assert video_s == pytest.approx(4.0, abs=0.05) and audio_s == pytest.approx(4.0, abs=0.05)


async def test_matroska_keeps_the_lead_in_frames_with_silence_and_says_so(legacy, clip, twin) -> None:
    source = clip("gop.mkv", seconds=6.0, size=(160, 120), fps=24, gop=48)
    data = await _call(legacy, video=str(source), start_time=3.0, duration=2)
    assert twin.state.submits[0].payload["duration"] == 2
    assert any("keyframe" in note for note in data["notes"])
    video_s, audio_s = measured_seconds(Path(data["output_path"]))
    assert video_s == pytest.approx(3.0, abs=0.06)  # keyframe at 2.0 s, segment 3.0-5.0
    assert audio_s == pytest.approx(video_s, abs=0.06)


async def test_4k_clip_goes_up_as_a_480p_proxy_at_30_fps(legacy, clip, twin) -> None:
    source = clip("uhd.mp4", seconds=0.6, size=(3840, 2160), fps=60, gop=12)
    data = await _call(legacy, video=str(source), start_time=0.1)
    assert data["media"]["upload_method"] == "proxy"
    proxy = describe(_uploaded_file(twin))
    assert proxy.video is not None and proxy.video[:2] == (854, 480) and proxy.video[2] == pytest.approx(30)
    out = describe(Path(data["output_path"]))
    assert out.video is not None and out.video[:2] == (3840, 2160) and out.video[2] == pytest.approx(60)
    assert twin.state.uploaded_bytes() == data["media"]["uploaded_bytes"]


@pytest.mark.parametrize("audio_format", ["wav", "flac", "m4a"])
async def test_generated_track_is_exported_next_to_the_video(legacy, clip, twin, output_dir, audio_format) -> None:
    source = clip("door.mp4", seconds=1.5)
    data = await _call(legacy, video=str(source), audio_format=audio_format)
    video, track = Path(data["output_path"]), Path(data["audio_path"])
    assert track.parent == video.parent and track.name == f"{video.stem}.{audio_format}"
    assert describe(track).audio_duration == pytest.approx(1.5, abs=0.06)
    assert audio_rms(track) > 0.01
    assert files_in(output_dir) == sorted([video.name, track.name])


async def test_mix_keeps_the_clips_own_sound_at_the_given_levels(legacy, clip, twin) -> None:
    source = clip("tone.mov", seconds=2.0, with_audio=True)
    only_original = await _call(
        legacy, video=str(source), original_audio="mix", original_level=1.0, generated_level=0.0
    )
    assert audio_rms(Path(only_original["output_path"])) == pytest.approx(audio_rms(source), rel=0.15)
    mixed = await _call(legacy, video=str(source), original_audio="mix")
    replaced = await _call(legacy, video=str(source))
    mixed_rms, replaced_rms = audio_rms(Path(mixed["output_path"])), audio_rms(Path(replaced["output_path"]))
    assert mixed_rms > 0.01 and replaced_rms > 0.01 and abs(mixed_rms - replaced_rms) > 0.01
    assert mixed["media"]["original_audio"] == "mix"


async def test_mix_on_a_silent_clip_is_ignored_with_a_note(legacy, clip, twin) -> None:
    data = await _call(legacy, video=str(clip("mute.mp4", seconds=1.0)), original_audio="mix")
    assert any("no sound of its own" in note for note in data["notes"])
    assert audio_rms(Path(data["output_path"])) > 0.01


@pytest.mark.parametrize(
    ("quality", "num_steps", "preset", "expected"),
    [
        ("draft", None, None, 10),
        ("high", None, None, 50),
        ("high", 30, None, 30),
        ("draft", None, "footsteps-door", 10),
        (None, None, "footsteps-door", 30),
        ("balanced", None, None, 25),
    ],
)
async def test_quality_tiers_set_steps_and_explicit_steps_win(
    legacy, clip, twin, quality, num_steps, preset, expected
) -> None:
    arguments = {"video": str(clip(seconds=1.0)), "quality": quality, "num_steps": num_steps, "preset": preset}
    data = await _call(legacy, **{k: v for k, v in arguments.items() if v is not None})
    assert twin.state.submits[0].payload["num_steps"] == expected == data["num_steps"]


async def test_work_files_are_removed_and_never_in_the_output_folder(legacy, clip, twin, output_dir, tmp_path) -> None:
    source = clip("seg.mp4", seconds=4.0, gop=12)
    data = await _call(legacy, video=str(source), start_time=1.0, duration=2)
    assert data["media"]["upload_method"] == "cut"
    assert files_in(output_dir) == [Path(data["output_path"]).name]
    assert files_in(tmp_path / "data" / "work") == []


async def test_phone_rotation_survives_in_the_proxy_and_the_result(legacy, clip, twin) -> None:
    source = clip("portrait.mp4", seconds=2.0, size=(320, 240), fps=30, gop=30, rotation=90)
    data = await _call(legacy, video=str(source), start_time=0.5)
    assert data["media"]["upload_method"] == "proxy"
    assert display_rotation(_uploaded_file(twin)) == 90
    assert display_rotation(Path(data["output_path"])) == 90


async def test_a_paid_result_is_kept_when_the_original_cannot_be_reassembled(legacy, clip, twin, output_dir) -> None:
    source = clip("vanishing.mp4", seconds=1.5)
    twin.state.queue_seconds = 1.0

    async def on_progress(progress, total, message) -> None:  # type: ignore[no-untyped-def]
        if message and message.startswith("Uploaded"):
            source.write_bytes(b"the user overwrote the clip meanwhile")

    async with legacy() as client:
        result = await client.call_tool(
            "add_audio_to_video",
            {"video": str(source), "prompt": "x", "audio_format": "wav"},
            progress_callback=on_progress,
        )
    assert result.is_error is False, result.content[0].text
    data = result.structured_content
    assert any("saved fal's version instead" in note for note in data["notes"])
    out = Path(data["output_path"])
    assert out.exists() and describe(out).audio_codec == "aac" and audio_rms(out) > 0.01
    assert Path(data["audio_path"]).exists()
    assert files_in(output_dir) == sorted([out.name, Path(data["audio_path"]).name])


async def test_url_result_can_still_export_the_track(legacy, clip, twin, output_dir) -> None:
    url = twin.public_url("web.mp4", clip("web.mp4", seconds=2.0).read_bytes())
    data = await _call(legacy, video=url, audio_format="flac", original_audio="mix")
    assert any("needs a local file" in note for note in data["notes"])
    track = Path(data["audio_path"])
    assert track.suffix == ".flac" and describe(track).audio_duration == pytest.approx(2.0, abs=0.06)


async def test_output_path_in_a_container_that_cannot_hold_the_video_keeps_the_original(legacy, clip, twin) -> None:
    data = await _call(legacy, video=str(clip("h264.mp4", seconds=1.0)), output_path="mine.webm")
    out = Path(data["output_path"])
    assert out.name == "mine.mp4" and describe(out).audio_codec == "aac"
    assert any("cannot hold" in note for note in data["notes"])
    webm = await _call(legacy, video=str(clip("vp9.webm", seconds=1.0)), output_path="as.mkv")
    assert Path(webm["output_path"]).suffix == ".mkv" and describe(Path(webm["output_path"])).video_codec == "vp9"


async def test_b_frame_clip_cut_mid_gop_keeps_every_frame_decodable(legacy, clip, twin) -> None:
    source = clip("bframes.mp4", seconds=3.0, size=(160, 120), fps=24, gop=24, bframes=2)
    data = await _call(legacy, video=str(source), start_time=1.0, duration=1.5)
    assert data["media"]["upload_method"] == "cut"
    for path in (_uploaded_file(twin), Path(data["output_path"])):
        video_s, _ = measured_seconds(path)
        # every frame up to the end, plus at most the reference frames trailing B-frames need (bf=2: 3 frames)
        assert 1.5 - 0.01 <= video_s <= 1.5 + 3 / 24 + 0.01, path
    video_s, audio_s = measured_seconds(Path(data["output_path"]))
    assert audio_s == pytest.approx(video_s, abs=0.05)  # AAC ends on a whole 1024-sample frame


async def test_cancelling_while_the_proxy_is_made_uploads_nothing_and_leaves_nothing(
    legacy, clip, twin, output_dir, tmp_path
) -> None:
    import anyio

    source = clip("slow.mp4", seconds=2.0, size=(1920, 1080), fps=60, gop=120)
    making = anyio.Event()

    async def on_progress(progress, total, message) -> None:  # type: ignore[no-untyped-def]
        if message and message.startswith("Making a"):
            making.set()

    async with legacy() as client:
        async with anyio.create_task_group() as tasks:

            async def call() -> None:
                await client.call_tool(
                    "add_audio_to_video",
                    {"video": str(source), "prompt": "x", "start_time": 0.5},
                    progress_callback=on_progress,
                )

            tasks.start_soon(call)
            with anyio.fail_after(30):
                await making.wait()
            tasks.cancel_scope.cancel()
    await anyio.sleep(0.5)
    assert twin.state.uploads == [] and twin.state.submit_count() == 0
    assert files_in(output_dir) == [] and files_in(tmp_path / "data" / "work") == []
