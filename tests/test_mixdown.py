"""The finished mix (issue 15) through the real entry points against the fal twin, measured on the files written.

The clip's own sound is a known speech-like signal: tone bursts at known times over digital silence. Measured:
how far the ducked bed dips under the bursts (dB), the result's loudness and true peak with an independent meter
(``pyloudnorm``, BS.1770, on the decoded output; true peak by 4x oversampling), the residual of stems summed
against the pre-master mix (dB), and the timeline read back by OpenTimelineIO and its adapters.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import opentimelineio as otio
import pyloudnorm
import pytest
from mcp import Client
from scipy.signal import resample_poly

from tests.conftest import files_in
from tests.media import make_clip
from tests.test_cli import run_cli

RATE = 48000
BURST = (1.0, 2.0)  # the clip's sound: a tone burst from 1 s to 2 s of a 3 s clip, silence around it


@pytest.fixture
def legacy(inprocess_env: dict[str, str]):  # type: ignore[no-untyped-def]
    from alice_mcp.mcp.server import build_server

    return lambda: Client(build_server(), mode="legacy")


@pytest.fixture
def burst_clip(home: Path):  # type: ignore[no-untyped-def]
    """``burst_clip(name)``: a 3 s 160x120 clip whose sound is a 0.3-amplitude 440 Hz tone during ``BURST``."""

    def factory(name: str = "talk.mp4", seconds: float = 3.0) -> Path:
        folder = home / "clips"
        folder.mkdir(exist_ok=True)
        silent = make_clip(folder / f"picture-{name}", seconds)
        dest = folder / name
        with av.open(str(silent)) as src, av.open(str(dest), "w") as out:
            video = src.streams.video[0]
            video_out = out.add_stream_from_template(video)
            audio = out.add_stream("aac", rate=RATE, layout="stereo")
            for packet in src.demux(video):
                if packet.dts is None:
                    continue
                packet.stream = video_out
                out.mux(packet)
            t = np.arange(int(seconds * RATE)) / RATE
            wave = np.where((t >= BURST[0]) & (t < BURST[1]), 0.3 * np.sin(2 * np.pi * 440 * t), 0.0)
            for start in range(0, len(wave), 1024):
                chunk = wave[start : start + 1024].astype(np.float32)
                frame = av.AudioFrame.from_ndarray(np.vstack([chunk, chunk]), format="fltp", layout="stereo")
                frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
                for packet in audio.encode(frame):
                    out.mux(packet)
            for packet in audio.encode(None):
                out.mux(packet)
        silent.unlink()
        return dest

    return factory


def decoded(path: Path) -> tuple[np.ndarray, int]:
    """The first audio track of ``path`` as float64 ``(samples, channels)`` and its sample rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        chunks = [frame.to_ndarray() for frame in container.decode(stream)]
    data = np.concatenate(chunks, axis=1)  # planar (channels, samples) or packed (1, samples*channels)
    channels = stream.codec_context.channels
    if data.shape[0] != channels:
        data = data.reshape(-1, channels).T
    return data.T.astype(np.float64), rate


def level_db(samples: np.ndarray, rate: int, start: float, end: float) -> float:
    window = samples[int(start * rate) : int(end * rate)]
    return 20 * math.log10(math.sqrt(float(np.mean(window**2))) + 1e-12)


def true_peak_dbtp(samples: np.ndarray) -> float:
    """BS.1770 true peak, independently: 4x oversampled (polyphase FIR), the largest magnitude, in dB."""
    oversampled = resample_poly(samples, 4, 1, axis=0)
    return 20 * math.log10(float(np.max(np.abs(oversampled))))


async def _call(client_factory, tool: str = "add_audio_to_video", **arguments: Any) -> Any:  # type: ignore[no-untyped-def]
    async with client_factory() as client:
        return await client.call_tool(tool, {"prompt": "soft pad", "seed": 5, **arguments})


async def test_duck_loudness_stems_and_timeline_through_the_mcp_wire(legacy, burst_clip, twin, output_dir) -> None:
    source = burst_clip()
    result = await _call(
        legacy,
        video=str(source),
        original_audio="duck",
        original_level=1.0,
        duck_db=12,
        loudness="youtube",
        stems=True,
        timeline="otio",
    )
    assert result.is_error is False, result.content[0].text
    data, text = result.structured_content, result.content[0].text
    out = Path(data["output_path"])
    stems = {name: out.with_name(f"{out.stem}.{name}.wav") for name in ("bed", "original", "mix")}
    assert all(path.exists() for path in stems.values()), files_in(output_dir)

    # the bed dips at least duck_db - 2 dB under the burst, and comes back after it
    bed, rate = decoded(stems["bed"])
    assert rate == RATE
    gap = level_db(bed, rate, 0.0, 1.0)
    under = level_db(bed, rate, BURST[0] + 0.25, BURST[1])
    after = level_db(bed, rate, 2.75, 3.0)
    assert gap - under >= 12 - 2, (gap, under)
    assert abs(after - gap) < 3, (gap, after)

    # the stems sum back to the pre-master mix (residual under -60 dB relative to the mix)
    original, _ = decoded(stems["original"])
    mix, _ = decoded(stems["mix"])
    assert len(bed) == len(original) == len(mix)
    residual = mix - (bed + original)
    assert 10 * math.log10(np.mean(residual**2) / np.mean(mix**2) + 1e-30) < -60

    # youtube: -14 +-1 LUFS integrated, true peak <= -1 dBTP, measured independently on the decoded output
    final, final_rate = decoded(out)
    integrated = pyloudnorm.Meter(final_rate).integrated_loudness(final)
    assert integrated == pytest.approx(-14, abs=1.0)
    assert true_peak_dbtp(final) <= -1.0
    # the reported figures are the written file's (within a meter's rounding of pyloudnorm's)
    assert "Loudness of the saved file (measured, EBU R128)" in text
    loudness = data["loudness"]  # the structured result carries the same measured figures
    assert loudness["integrated_lufs"] == pytest.approx(integrated, abs=0.3) and loudness["measured_on"] == str(out)
    assert (
        loudness["target"] == "youtube" and loudness["target_lufs"] == -14 and loudness["target_true_peak_dbtp"] == -1
    )
    assert data["stems"] == {name: str(path) for name, path in stems.items()}
    assert data["timeline_path"] == str(out.with_suffix(".otio"))
    reported = float(text.split("(measured, EBU R128): ")[1].split(" LUFS")[0])
    assert reported == pytest.approx(integrated, abs=0.3)

    print(  # the figures, for `pytest -s` (the report quotes them)
        f"dip under the burst {gap - under:.1f} dB, recovery {after - gap:+.1f} dB; stems residual "
        f"{10 * math.log10(np.mean(residual**2) / np.mean(mix**2) + 1e-30):.0f} dB; pyloudnorm {integrated:.2f} LUFS, "
        f"true peak {true_peak_dbtp(final):.2f} dBTP; reported {reported:.2f} LUFS"
    )

    # the timeline: the original clip on the video track, each stem on its own audio track, all 3 s from 0
    timeline = otio.adapters.read_from_file(str(out.with_suffix(".otio")))
    tracks = {track.name: track for track in timeline.tracks}
    assert set(tracks) == {"Video", "Bed", "Original", "Mix"}
    (video_clip,) = list(tracks["Video"])
    assert video_clip.media_reference.target_url == source.resolve().as_uri()
    assert video_clip.source_range.start_time.to_seconds() == pytest.approx(0.0)
    assert video_clip.source_range.duration.to_seconds() == pytest.approx(3.0, abs=0.05)
    for name in ("Bed", "Original", "Mix"):
        (stem_clip,) = list(tracks[name])
        assert stem_clip.media_reference.target_url == stems[name.lower()].as_uri()
        assert stem_clip.range_in_parent().start_time.to_seconds() == 0
        assert stem_clip.source_range.duration.to_seconds() == pytest.approx(3.0, abs=0.05)


def test_cli_flags_write_an_fcpxml_the_adapter_reads_back(alice_env, burst_clip, twin, output_dir) -> None:
    source = burst_clip("cli.mov")
    proc = run_cli(
        alice_env,
        "add-audio",
        str(source),
        "--prompt",
        "soft pad",
        "--seed",
        "3",
        "--original-audio",
        "duck",
        "--loudness",
        "youtube",
        "--stems",
        "--timeline",
        "fcpxml",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    out = Path(data["output_path"])
    assert "Loudness of the saved file (measured, EBU R128)" in proc.stderr + proc.stdout
    timeline_path = out.with_suffix(".fcpxml")
    assert timeline_path.exists(), files_in(output_dir)
    timeline = otio.adapters.read_from_file(str(timeline_path), adapter_name="fcpx_xml")
    clips = {clip.name: clip for clip in timeline.find_clips()}
    assert set(clips) == {source.name} | {f"{out.stem}.{name}.wav" for name in ("bed", "original", "mix")}
    assert clips[source.name].media_reference.target_url == source.resolve().as_uri()
    for clip in clips.values():
        assert clip.source_range.duration.to_seconds() == pytest.approx(3.0, abs=0.05)
        assert clip.range_in_parent().start_time.to_seconds() == 0
    final, rate = decoded(out)
    assert pyloudnorm.Meter(rate).integrated_loudness(final) == pytest.approx(-14, abs=1.0)


async def test_python_api_social_loudness_and_a_relative_edl(inprocess_env, burst_clip, twin, output_dir) -> None:
    from alice_mcp import AliceOrchestrator, GenerationRequest

    source = burst_clip("api.mp4")
    async with AliceOrchestrator() as alice:
        result = await alice.generate_creative_asset(
            GenerationRequest(
                prompt="soft pad",
                reference_assets=[source],
                parameters={
                    "original_audio": "mix",
                    "loudness": "social",
                    "timeline": "edl",
                    "timeline_paths": "relative",
                },
            )
        )
    out = result.file_path
    final, rate = decoded(out)
    assert pyloudnorm.Meter(rate).integrated_loudness(final) == pytest.approx(-16, abs=1.0)
    assert true_peak_dbtp(final) <= -1.0
    assert any("target social: -16 LUFS" in note for note in result.details.notes)
    assert any("so they were saved too" in note for note in result.details.notes)  # the timeline needs stems
    assert out.with_suffix(".edl").exists(), result.details.notes
    timeline = otio.adapters.read_from_file(str(out.with_suffix(".edl")), adapter_name="cmx_3600", rate=24)
    (clip,) = list(timeline.find_clips())  # CMX 3600 carries the video track; the stems are beside it
    assert clip.name == "api.mp4" and clip.media_reference.target_url == "../home/clips/api.mp4"  # relative
    assert clip.source_range.start_time.to_seconds() == 0
    assert clip.source_range.duration.to_seconds() == pytest.approx(3.0, abs=0.05)
    assert set(result.details.stems) == {"bed", "original", "mix"}
    assert all(Path(path).exists() for path in result.details.stems.values())
    assert result.details.timeline_path == str(out.with_suffix(".edl"))
    assert result.details.loudness.target == "social" and result.details.loudness.integrated_lufs is not None


async def test_bad_finishing_input_fails_before_anything_is_paid(legacy, burst_clip, twin) -> None:
    source = str(burst_clip())
    for arguments, expected in (
        ({"loudness": -50}, "outside -40 to -5 LUFS"),
        ({"loudness": "loud"}, "unknown loudness target"),
        ({"timeline": "aaf"}, "timeline"),
    ):
        result = await _call(legacy, video=source, **arguments)
        assert result.is_error is True and expected in result.content[0].text, result.content[0].text
    result = await _call(legacy, video="https://example.com/talk.mp4", loudness="youtube", stems=True)
    assert result.is_error is True and "`loudness`, `stems` need a local file" in result.content[0].text
    result = await _call(legacy, tool="generate_audio", stems=True)
    assert result.is_error is True and "mixes nothing, so there are no stems" in result.content[0].text
    assert twin.state.uploads == [] and twin.state.submit_count() == 0


async def test_duck_on_a_clip_without_sound_is_a_note_and_the_bed_is_kept(legacy, clip, twin) -> None:
    result = await _call(legacy, video=str(clip("mute.mp4", seconds=2.0)), original_audio="duck", stems=True)
    assert result.is_error is False, result.content[0].text
    text = result.content[0].text
    assert "no sound of its own, so original_audio=duck made no difference" in text
    out = Path(result.structured_content["output_path"])
    bed, rate = decoded(out.with_name(f"{out.stem}.bed.wav"))
    mix, _ = decoded(out.with_name(f"{out.stem}.mix.wav"))
    assert not out.with_name(f"{out.stem}.original.wav").exists()
    assert level_db(bed, rate, 0, 2) > -40 and np.max(np.abs(mix - bed)) < 1e-6  # un-ducked, the mix is the bed


async def test_narration_bed_preset_ducks_at_youtube_loudness(legacy, burst_clip, twin) -> None:
    result = await _call(legacy, video=str(burst_clip()), preset="narration-bed")
    assert result.is_error is False, result.content[0].text
    data = result.structured_content
    assert data["media"]["original_audio"] == "duck" and data["loudness"]["target"] == "youtube", data
    final, rate = decoded(Path(data["output_path"]))
    assert pyloudnorm.Meter(rate).integrated_loudness(final) == pytest.approx(-14, abs=1.0)
    explicit = await _call(legacy, video=str(burst_clip("again.mp4")), preset="narration-bed", loudness="none")
    assert explicit.structured_content["loudness"].get("target") is None  # an explicit option wins over the preset


async def test_narration_bed_preset_lists_its_finishing(legacy) -> None:
    async with legacy() as client:
        result = await client.call_tool("list_audio_presets", {})
    presets = {preset["id"]: preset for preset in result.structured_content["presets"]}
    assert presets["narration-bed"]["finishing"] == {
        "original_audio": "duck",
        "original_level": 1.0,
        "loudness": "youtube",
    }
    assert presets["tavern"]["finishing"] == {}


async def test_a_loud_target_keeps_the_true_peak_ceiling(legacy, burst_clip, twin) -> None:
    """-6 LUFS on this mix needs more gain than the -1 dBTP ceiling allows: loudnorm limits instead of one gain."""
    result = await _call(legacy, video=str(burst_clip()), original_audio="mix", original_level=1.0, loudness=-6)
    assert result.is_error is False, result.content[0].text
    final, rate = decoded(Path(result.structured_content["output_path"]))
    integrated, peak = pyloudnorm.Meter(rate).integrated_loudness(final), true_peak_dbtp(final)
    print(f"-6 LUFS target: pyloudnorm {integrated:.2f} LUFS, true peak {peak:.2f} dBTP")
    assert peak <= -1.0
    text = result.content[0].text
    assert ("NOT met" in text) == (abs(integrated + 6) > 1.0), text


def test_cli_text_to_audio_with_stems_explains_instead(alice_env, twin) -> None:
    proc = run_cli(alice_env, "text-to-audio", "--prompt", "rain", "--stems")
    assert proc.returncode != 0 and "mixes nothing, so there are no stems" in proc.stderr, proc.stderr
    assert twin.state.submit_count() == 0


async def test_timeline_starts_the_original_at_the_segment_start(legacy, burst_clip, twin) -> None:
    source = burst_clip("segment.mp4")
    result = await _call(legacy, video=str(source), start_time=0.5, timeline="otio")
    assert result.is_error is False, result.content[0].text
    assert "The timeline refers to the stems, so they were saved too." in result.content[0].text
    out = Path(result.structured_content["output_path"])
    timeline = otio.adapters.read_from_file(str(out.with_suffix(".otio")))
    video_track, *audio_tracks = timeline.tracks
    (video_clip,) = list(video_track)
    assert video_clip.source_range.start_time.to_seconds() == pytest.approx(0.5, abs=1 / 24)
    assert video_clip.source_range.duration.to_seconds() == pytest.approx(2.5, abs=1 / 24)
    assert [track.name for track in audio_tracks] == ["Bed", "Mix"]  # replace: no own sound in the mix
    for track in audio_tracks:
        (stem,) = list(track)
        assert stem.range_in_parent().start_time.to_seconds() == 0
        assert stem.source_range.duration.to_seconds() == pytest.approx(2.5, abs=1 / 24)
        samples, rate = decoded(Path(stem.media_reference.target_url.removeprefix("file://")))
        assert len(samples) / rate == pytest.approx(2.5, abs=0.01)


def test_markers_for_seams_and_cues_reach_otio_and_fcpxml(tmp_path: Path) -> None:
    """The hook for long-form seams and cues: markers at result times land on the video clip, in both formats."""
    from alice_mcp.media.timeline import write_timeline

    video, bed = tmp_path / "clip.mp4", tmp_path / "clip.bed.wav"
    for fmt, suffix in (("otio", ".otio"), ("fcpxml", ".fcpxml")):
        path = write_timeline(
            tmp_path / f"t{suffix}",
            fmt,
            name="t",
            video=video,
            source_start=2.0,
            length=10.0,
            fps=25,
            stems={"bed": bed},
            markers=[(4.0, "seam 1"), (7.4, "cue: door")],
        )
        timeline = otio.adapters.read_from_file(str(path))
        clip = next(c for c in timeline.find_clips() if c.name == "clip.mp4")
        assert [(m.name, m.marked_range.start_time.to_seconds()) for m in clip.markers] == [
            ("seam 1", 6.0),
            ("cue: door", 9.4),
        ], fmt
