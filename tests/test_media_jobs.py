"""The media finish step lives in the job's resumable tail: a job collected later (get_generation) or after a
restart is still assembled from the ORIGINAL video, exactly like one that finished within the call."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import files_in
from tests.media import audio_rms, describe


def _ok(result):  # type: ignore[no-untyped-def]
    assert result.is_error is False, result.content[0].text
    return result.structured_content


async def test_a_job_collected_later_is_finished_from_the_original(connect, clip, twin, output_dir) -> None:
    twin.state.run_seconds = 1.0
    source = clip("scene.mkv", seconds=2.0, size=(320, 240), fps=30)
    async with connect() as client:
        started = _ok(
            await client.call_tool(
                "add_audio_to_video",
                {"video": str(source), "prompt": "rain", "audio_format": "wav", "wait_seconds": 0},
            )
        )
        assert started["status"] == "running" and started["output_path"] is None
        assert started["media"]["upload_method"] in ("as_is", "cut", "proxy")
        done = _ok(await client.call_tool("get_generation", {"job_id": started["job_id"], "wait_seconds": 30}))
    assert done["status"] == "completed"
    out = Path(done["output_path"])
    assert out.suffix == ".mkv"  # fal returns mp4; only the finish step keeps the original's container
    info = describe(out)
    assert info.video is not None and info.video[:2] == (320, 240) and info.video[2] == pytest.approx(30, abs=0.5)
    assert info.audio_duration == pytest.approx(2.0, abs=0.15) and audio_rms(out) > 0.01
    assert sorted(files_in(output_dir)) == sorted([out.name, out.with_suffix(".wav").name])
    assert twin.state.submit_count() == 1


@pytest.mark.parametrize(
    "extra, copied",
    [({}, True), ({"original_audio": "mix"}, False), ({"generated_level": 0.5}, False)],
)
async def test_falls_aac_is_copied_when_it_fits_and_encoded_otherwise(connect, clip, twin, extra, copied) -> None:
    """fal's AAC (44.1 kHz in the twin) goes into the result unchanged unless it must be mixed or re-levelled
    (then it is rendered and encoded at 48 kHz); either way the track covers the video."""
    import av

    source = clip("copy.mp4", seconds=2.0, size=(320, 240), with_audio=True)
    async with connect() as client:
        data = _ok(await client.call_tool("add_audio_to_video", {"video": str(source), "prompt": "rain", **extra}))
    out = Path(data["output_path"])
    with av.open(str(out)) as result:
        rate = result.streams.audio[0].codec_context.sample_rate
    assert rate == (44100 if copied else 48000)
    info = describe(out)
    assert info.audio_codec == "aac" and info.audio_duration == pytest.approx(2.0, abs=0.05) and audio_rms(out) > 0.01
