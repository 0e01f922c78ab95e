"""Sync to the frame on the footage people really have: every corpus clip (tests/media_corpus.py), whole and as a
``start_time`` segment, in ``replace`` and ``mix`` mode, through the Python API against the fal twin.

Measured on the finished file with its own timestamps (edit lists applied, as a player sees it):

* every requested frame of the original is shown, and the video packets are a bit-identical contiguous run of the
  original's;
* each click the twin put under a flash it saw lands within ±5 ms of that flash in the result (one proxy frame for
  proxies that had to drop frames: VFR, > 30 fps);
* the audio lasts as long as the video, within one audio frame;
* the generated track's level is the same as in fal's own file (±0.5 dB) on every path.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pytest

from tests.media_corpus import CORPUS, MissingEncoder, build, measure, measure_audio

SYNC_TOLERANCE_S = 0.005
LEVEL_TOLERANCE_DB = 0.5
AUDIO_FRAME_S = 1024 / 44100  # one AAC frame at the lower of the rates involved (fal's 44.1 kHz, ours 48 kHz)

CASES = [
    pytest.param(name, segment, mode, id=f"{name}-{'segment' if segment else 'whole'}-{mode}")
    for name in CORPUS
    for segment in (False, True)
    for mode in ("replace", "mix")
]


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]


def contiguous_run(part: list[bytes], whole: list[bytes]) -> bool:
    """``part`` is ``whole[i:j]`` - except that the leading pictures of an open GOP (decoded after the first
    keyframe but shown before it, so undecodable without the GOP before) may be left out right after it."""
    if not part:
        return False
    for start in (i for i, packet in enumerate(whole) if packet == part[0]):
        for skipped in range(0, 4):
            rest = whole[start + 1 + skipped : start + len(part) + skipped]
            if rest == part[1:]:
                return True
    return False


async def run_case(name: str, segment: bool, mode: str, corpus_dir: Path, home: Path, twin, **extra) -> dict:  # type: ignore[no-untyped-def]
    from alice_mcp import AliceOrchestrator, GenerationRequest

    spec = CORPUS[name]
    try:
        built = build(name, corpus_dir)
    except MissingEncoder as exc:
        pytest.skip(str(exc))
    source = home / built.name
    shutil.copyfile(built, source)
    twin.state.queue_seconds = twin.state.run_seconds = 0.0
    twin.state.result_channels = 1  # MMAudio's track is mono
    twin.state.sync_clicks = True  # a click under every flash the twin sees
    parameters: dict = {"seed": 3, "original_audio": mode, **extra}
    if segment:
        parameters["start_time"] = spec.segment_start
    async with AliceOrchestrator() as alice:
        result = await alice.generate_creative_asset(
            GenerationRequest(prompt="clicks", reference_assets=[source], parameters=parameters)
        )
    return {"result": result, "source": source, "fal": Path(twin.store.resolve(result.url).path)}


@pytest.mark.parametrize(("name", "segment", "mode"), CASES)
async def test_corpus_clip_keeps_frames_sync_length_and_level(
    name: str, segment: bool, mode: str, corpus_dir: Path, inprocess_env, home: Path, twin
) -> None:
    spec = CORPUS[name]
    run = await run_case(name, segment, mode, corpus_dir, home, twin)
    result, source = run["result"], run["source"]
    media = result.details.media
    out = Path(result.file_path)
    original, finished, fal = measure(source), measure(out), measure(run["fal"])
    notes = (
        f"{media.upload_method}; clicks {[round(c, 4) for c in finished.clicks]}, flashes "
        f"{[round(f, 4) for f in finished.flashes]}, fal clicks {[round(c, 4) for c in fal.clicks]}; "
        + " | ".join(result.details.notes)
    )

    # every requested frame, bit-identical packets
    origin = original.video_start
    start = media.segment_start
    end = media.segment_end
    wanted = [digest for t, digest in original.frames if start - 1e-3 <= t - origin < end - 1e-3]
    shown = [digest for _, digest in finished.frames]
    missing = [d for d in wanted if d not in shown]
    assert not missing, f"{len(missing)} of {len(wanted)} requested frames missing ({notes})"
    assert contiguous_run(video_packets(out), video_packets(source)), "video packets are not a copy of the original's"

    # sync: every click sits on the flash it was made for
    assert fal.clicks, "the twin saw no flash in what it was sent"
    assert finished.clicks, "no click in the result"
    tolerance = SYNC_TOLERANCE_S
    if media.upload_method == "proxy" and (spec.vfr or (media.fps or 0) > 30):
        tolerance = 1 / 30 + 1e-3  # the proxy keeps at most 30 fps: an event can wait for the next proxy frame
    for click in finished.clicks:
        nearest = min(finished.flashes, key=lambda f: abs(f - click))
        assert abs(click - nearest) <= tolerance, f"click at {click:.4f} s, flash at {nearest:.4f} s ({notes})"
    in_range = [f for f in finished.flashes if finished.clicks and f >= finished.clicks[0] - tolerance]
    assert len(finished.clicks) == len(in_range), (finished.clicks, finished.flashes)

    # length: audio as long as the video
    assert finished.audio_start is not None and finished.audio_end is not None
    assert abs(finished.audio_end - finished.video_end) <= AUDIO_FRAME_S + 1e-3
    assert abs(finished.audio_start - finished.video_start) <= AUDIO_FRAME_S + 1e-3

    # level: the generated clicks are as loud as in fal's file
    assert fal.click_level_db is not None and finished.click_level_db is not None
    assert abs(finished.click_level_db - fal.click_level_db) <= LEVEL_TOLERANCE_DB

    # streams and labels: the generated track replaces the first audio track, everything else is carried over
    assert finished.streams == original.streams, (finished.streams, original.streams)
    assert_labels_kept(source, out)


def assert_labels_kept(source: Path, out: Path) -> None:
    from alice_mcp.media.streams import has_faststart

    with av.open(str(source)) as before, av.open(str(out)) as after:
        v_in, v_out = before.streams.video[0], after.streams.video[0]
        if v_in.codec_tag == "hvc1":
            assert v_out.codec_tag == "hvc1"
        if before.format.name.startswith("mov"):
            assert has_faststart(out) == has_faststart(source)
        for key in ("title", "creation_time"):
            if key in before.metadata:
                assert after.metadata.get(key) == before.metadata[key]
        languages = [s.metadata.get("language") for s in before.streams if s.type != "video"]
        assert [s.metadata.get("language") for s in after.streams if s.type != "video"] == languages
        if before.chapters():
            assert [c["metadata"].get("title") for c in after.chapters()] == [
                c["metadata"].get("title") for c in before.chapters() if c["end"] * c["time_base"] > 0
            ][: len(after.chapters())]
            assert after.chapters()


@pytest.mark.parametrize("audio_format", ["m4a", "wav", "flac"])
async def test_exported_track_keeps_fals_timing_and_level(
    audio_format: str, corpus_dir: Path, inprocess_env, home: Path, twin
) -> None:
    """The track saved alone starts with fal's first sample (AAC priming signalled in the .m4a) at fal's level."""
    run = await run_case("h264_mp4", False, "replace", corpus_dir, home, twin, audio_format=audio_format)
    track = Path(run["result"].details.audio_path)
    assert track.suffix == f".{audio_format}"
    exported, fal = measure_audio(track), measure(run["fal"])
    assert len(exported.clicks) == len(fal.clicks) == 3
    for ours, theirs in zip(exported.clicks, fal.clicks, strict=True):
        assert abs(ours - theirs) <= SYNC_TOLERANCE_S, (exported.clicks, fal.clicks)
    assert exported.click_level_db is not None and fal.click_level_db is not None
    assert abs(exported.click_level_db - fal.click_level_db) <= LEVEL_TOLERANCE_DB
