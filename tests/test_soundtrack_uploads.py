"""The uploads of a soundtrack's parts come from ONE decoding pass over the span (issue 13, P7): every part still
gets its own file starting at its own first frame, frame for frame what the single-generation proxy makes of its
span, and the twin's clicks land on the flashes of each part within ±5 ms."""

from __future__ import annotations

import math
from pathlib import Path

import av
import pytest

from alice_mcp.adapters.ledger import Ledger
from tests.media_corpus import build, measure, measure_audio
from tests.soundtrack_media import FLASH_S, flash_onsets, make_flashes

SECONDS = 40.0
FPS = 24
CUE = {"at": 7.25, "duration": 1.5, "prompt": "door slam"}
SYNC_TOLERANCE_S = 0.005


async def test_each_part_upload_is_its_own_span_from_one_pass_and_keeps_sync(home, twin, inprocess_env) -> None:
    from alice_mcp.api import AliceOrchestrator, GenerationRequest

    folder = home / "clips"
    folder.mkdir()
    # MPEG-TS (its clock starts at 1.4 s): every part is re-encoded, windows and the cue alike
    clip = make_flashes(folder / "flashes.ts", SECONDS, FPS, gop=FPS, origin=1.4)
    twin.state.sync_clicks = True
    twin.state.queue_seconds = twin.state.run_seconds = 0.0
    request = GenerationRequest(prompt="room tone", parameters={"seed": 5, "cues": [CUE]}, reference_assets=[clip])
    async with AliceOrchestrator() as alice:
        asset = await alice.generate_creative_asset(request)
    data = asset.details.model_dump(mode="json")
    assert data["status"] == "completed", data
    ledger = Ledger(Path(inprocess_env["ALICE_DATA_DIR"]) / "ledger.sqlite3")
    parent = ledger.get(data["job_id"])
    parts = {p.details["part"]: p for p in ledger.parts_of(parent.id)}
    spans = {p["key"]: (p["start"], p["end"]) for p in parent.details["parts"]}
    assert len(spans) >= 4 and "c0" in spans and set(parts) == set(spans)
    assert twin.state.submit_count() == len(spans)

    # one pass made every part's upload, decoding the span once (overlaps and the cue were not decoded again)
    one_pass = parent.details["upload_pass"]
    assert set(one_pass["frames_written"]) == set(spans)
    assert all(p.details["upload_method"] == "proxy" for p in parts.values())
    written = sum(one_pass["frames_written"].values())
    assert one_pass["frames_decoded"] <= SECONDS * FPS < written

    for key, (start, end) in spans.items():
        # the parts start on frames here (keyframes, and a cue asked at a frame's time): no rounding to a slot
        assert start * FPS == pytest.approx(round(start * FPS), abs=1e-6), (key, start)
        # the part's own file: its span from its first frame, one frame per slot, every flash where it belongs
        upload = measure(Path(twin.store.resolve(parts[key].details["uploaded_url"]).path))
        frames = math.ceil((end - start) * FPS - 1e-6)
        assert len(upload.frames) == one_pass["frames_written"][key] == frames, key
        expected = [max(0.0, f - start) for f in flash_onsets(SECONDS) if start - FLASH_S < f < end - 1e-3]
        assert upload.flashes == pytest.approx(expected, abs=1e-3), (key, start, end)
        # sync: fal's audio for the part clicks on each flash within 5 ms of where the clip has it
        clicks = measure_audio(Path(parts[key].output_path)).clicks
        assert len(clicks) == len(expected), (key, clicks, expected)
        for click, flash in zip(clicks, expected, strict=True):
            assert abs(click - flash) <= SYNC_TOLERANCE_S, (key, click, flash)


@pytest.mark.parametrize("name", ["h264_mp4_vfr", "h264_mkv_bframes_long_gop", "h264_ts_offset"])
def test_one_pass_writes_what_the_single_generation_proxy_writes(name: str, tmp_path: Path) -> None:
    """Overlapping spans (and one inside another, like a cue) in one pass: each file holds exactly the packets the
    single-generation proxy writes for that span alone (VFR keeps its own timestamps, B-frames, an MPEG-TS clock)."""
    from alice_mcp.media.plan import MediaPlan
    from alice_mcp.media.prepare import keyframe_at_or_before, write_proxy
    from alice_mcp.media.probe import probe_video
    from alice_mcp.media.proxy_pass import ProxyJob, write_proxies

    clip = build(name, tmp_path)
    info = probe_video(clip)
    fps = 30.0 if "vfr" in name or "mkv" in name else 24.0
    spans = [(0.0, 1.2), (0.7, 2.1), (1.05, 1.6), (1.9, info.duration)]
    jobs = [ProxyJob(f"p{i}", a, b, tmp_path / f"p{i}.mp4", (96, 72), fps) for i, (a, b) in enumerate(spans)]
    finished: list[str] = []
    report = write_proxies(clip, jobs, lambda key, path: finished.append(key), origin=info.origin)
    assert finished == ["p0", "p2", "p1", "p3"]  # each released as soon as its span is over
    assert report.frames_decoded < sum(report.written.values())
    for job in jobs:
        keyframe = keyframe_at_or_before(clip, job.start, info.origin)
        alone = MediaPlan(
            source=str(clip),
            upload_method="proxy",
            start=job.start,
            end=job.end,
            keyframe=keyframe,
            duration=job.end - job.start,
            origin=info.origin,
            proxy_size=job.size,
            proxy_fps=job.fps,
        )
        write_proxy(clip, alone, tmp_path / f"alone-{job.key}.mp4")
        assert _packets(job.dest) == _packets(tmp_path / f"alone-{job.key}.mp4"), job.key


def test_spans_far_apart_get_a_pass_each_and_the_gap_is_not_decoded(tmp_path: Path) -> None:
    """Regenerating two windows far apart (or resuming) decodes their spans, not the video between them."""
    from alice_mcp.media.proxy_pass import ProxyJob, write_proxies

    clip = build("h264_mp4", tmp_path)  # 3 s at 24 fps, a keyframe every 0.5 s
    jobs = [
        ProxyJob("a", 0.0, 0.6, tmp_path / "a.mp4", (96, 72), 24.0),
        ProxyJob("b", 2.0, 2.9, tmp_path / "b.mp4", (96, 72), 24.0),
    ]
    together = write_proxies(clip, jobs, lambda key, path: None)
    apart = write_proxies(clip, jobs, lambda key, path: None, max_gap_s=0.5)
    assert together.frames_decoded >= 2.9 * 24 - 1
    assert apart.frames_decoded <= (0.6 + 0.9 + 2 * 0.5) * 24  # each span from the keyframe before it
    assert apart.written == together.written == {"a": 15, "b": 22}


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.video[0]) if p.size]
