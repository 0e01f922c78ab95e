"""A soundtrack of any length with every video-to-audio model, and takes of whole soundtracks, against the fal twin.

Each model's windows are sized by its own clip limits, each part's payload uses the model's own field names (the
twin validates them as fal does), the whole is quoted and approved once, and what a model cannot do fails before
anything is uploaded or paid.
"""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import anyio
import pytest

from alice_mcp.adapters.ledger import Ledger
from tests.conftest import ALICE_BIN, files_in
from tests.media import describe
from tests.soundtrack_media import make_scenes

HUNYUAN_FIELDS = {"video_url", "text_prompt", "negative_prompt", "guidance_scale", "num_inference_steps", "seed"}


@pytest.fixture
def scenes(home: Path):  # type: ignore[no-untyped-def]
    """``scenes(seconds)``: a tiny clip (64x36, 12 fps) with one scene cut."""

    def factory(seconds: float, name: str = "clip.mp4") -> Path:
        folder = home / "clips"
        folder.mkdir(exist_ok=True)
        return make_scenes(folder / name, seconds, [seconds / 2], size=(64, 36), fps=12, gop=24)

    return factory


async def until_done(client, data: dict) -> dict:  # type: ignore[no-untyped-def]
    """Follow a running job with get_generation until it ends; its final status."""
    with anyio.fail_after(300):
        while data["status"] not in ("completed", "failed", "cancelled"):
            result = await client.call_tool("get_generation", {"job_id": data["job_id"], "wait_seconds": 50})
            assert result.is_error is False, result.content[0].text
            data = result.structured_content
    return data


def _ledger(env: dict[str, str]) -> Ledger:
    return Ledger(Path(env["ALICE_DATA_DIR"]) / "ledger.sqlite3")


async def test_hunyuan_makes_a_whole_soundtrack_of_15_s_windows_over_the_mcp_wire(
    connect, scenes, twin, inprocess_env, output_dir
) -> None:
    if connect.mode != "legacy":
        pytest.skip("one protocol era is enough")
    clip = scenes(24.0)
    async with connect() as client:
        result = await client.call_tool(
            "add_audio_to_video",
            {"video": str(clip), "prompt": "footsteps on gravel", "seed": 11, "model": "hunyuan", "wait_seconds": 50},
        )
        assert result.is_error is False, result.content[0].text
        data = await until_done(client, result.structured_content)
    assert data["status"] == "completed", data
    windows = data["soundtrack"]["windows"]
    assert len(windows) >= 2 and all(w["end"] - w["start"] <= 15.0 + 1e-6 for w in windows)
    assert windows[0]["start"] == 0 and windows[-1]["end"] == 24.0
    # one submit per window, each with Hunyuan's own field names only (no MMAudio `duration`, `prompt`)
    submits = twin.state.submits
    assert len(submits) == len(windows) and {s.endpoint for s in submits} == {"fal-ai/hunyuan-video-foley"}
    for submit in submits:
        assert set(submit.payload) <= HUNYUAN_FIELDS, submit.payload
        assert submit.payload["text_prompt"] == "footsteps on gravel" and submit.payload["seed"] == 11
    out = Path(data["output_path"])
    assert files_in(output_dir) == [out.name]
    assert describe(out).audio_duration == pytest.approx(24.0, abs=0.05)
    # paid once: the parent's cost is the quote, the sum of the parts, and what the twin billed
    ledger = _ledger(inprocess_env)
    parts = ledger.parts_of(data["job_id"])
    assert len(parts) == len(windows) and all(p.status == "completed" for p in parts)
    assert data["cost_usd"] == pytest.approx(sum(p.cost_usd for p in parts)) == pytest.approx(twin.state.billed_usd())
    blocks = sum(math.ceil(round(w["end"] - w["start"], 6) / 10) for w in windows)
    assert data["cost_usd"] == pytest.approx(0.10 * blocks)  # $0.10 per started 10 s, per window


async def test_kling_windows_respect_3_to_20_s_and_a_short_cue_is_refused_before_any_upload(
    connect, scenes, twin
) -> None:
    if connect.mode != "legacy":
        pytest.skip("one protocol era is enough")
    clip = scenes(26.0)
    async with connect() as client:
        refused = await client.call_tool(
            "add_audio_to_video",
            {
                "video": str(clip),
                "prompt": "engine",
                "model": "kling-video-to-audio",
                "cues": [{"at": 5, "duration": 1.5, "prompt": "door slam"}],
            },
        )
        assert refused.is_error is True
        assert "`cues[0].duration` 1.5 s (allowed: 3 to 20 s" in refused.content[0].text, refused.content[0].text
        assert twin.state.uploads == [] and twin.state.submit_count() == 0
        seeded = await client.call_tool(
            "add_audio_to_video", {"video": str(clip), "prompt": "engine", "model": "kling-video-to-audio", "seed": 3}
        )
        assert seeded.is_error is True and "has no `seed` control" in seeded.content[0].text, seeded.content[0].text
        assert twin.state.submit_count() == 0
        result = await client.call_tool(
            "add_audio_to_video",
            {
                "video": str(clip),
                "prompt": "engine",
                "model": "kling-video-to-audio",
                "model_options": {"background_music_prompt": "tense"},
                "wait_seconds": 50,
            },
        )
        assert result.is_error is False, result.content[0].text
        data = await until_done(client, result.structured_content)
    windows = data["soundtrack"]["windows"]
    assert len(windows) == 2 and all(3.0 <= w["end"] - w["start"] <= 20.0 for w in windows)
    assert {s.payload["background_music_prompt"] for s in twin.state.submits} == {"tense"}
    assert {s.payload["sound_effect_prompt"] for s in twin.state.submits} == {"engine"}
    assert twin.state.submit_count() == 2 and data["cost_usd"] == pytest.approx(2 * 0.035)
    assert describe(Path(data["output_path"])).audio_duration == pytest.approx(26.0, abs=0.05)


async def test_takes_of_a_long_clip_are_whole_soundtracks_approved_once(
    scenes, twin, inprocess_env, monkeypatch
) -> None:
    from alice_mcp.api import AliceOrchestrator, GenerationRequest

    monkeypatch.setenv("ALICE_CONFIRM_SPEND_ABOVE_USD", "0.001")
    clip = scenes(36.0)
    asked: list[float] = []

    async def approve(quote) -> bool:  # type: ignore[no-untyped-def]
        asked.append(quote.usd)
        assert twin.state.uploads == [] and twin.state.submit_count() == 0  # asked before anything is sent
        return True

    request = GenerationRequest(prompt="wind", parameters={"seed": 40, "takes": 2}, reference_assets=[clip])
    async with AliceOrchestrator() as alice:
        asset = await alice.generate_creative_asset(request, confirm_spend=approve)
    result = asset.details
    takes = result.takes
    assert len(takes) == 2 and [t.seed for t in takes] == [40, 41]
    assert all(t.output_path and Path(t.output_path).is_file() for t in takes)
    assert len({t.output_path for t in takes}) == 2
    for take in takes:
        assert describe(Path(take.output_path)).audio_duration == pytest.approx(36.0, abs=0.05)  # type: ignore[arg-type]
    windows = result.soundtrack.windows  # type: ignore[union-attr]
    assert len(windows) >= 3
    # each take is every window again: takes x windows submits, seeds by take
    assert twin.state.submit_count() == 2 * len(windows)
    assert sorted({s.payload["seed"] for s in twin.state.submits}) == [40, 41]
    # one approval for the whole, and the whole is what was billed
    assert asked == [pytest.approx(result.cost_usd)] and result.cost_usd == pytest.approx(twin.state.billed_usd())
    assert any(f"2 take(s) x ({len(windows)} windows + 0 cues) = {2 * len(windows)} calls" in n for n in result.notes)
    # a repeat with the same explicit seeds is free, take by take
    async with AliceOrchestrator() as alice:
        again = await alice.generate_creative_asset(request, confirm_spend=approve)
    assert again.cost_usd == 0 and all(t.cached for t in again.details.takes)  # type: ignore[union-attr]
    assert twin.state.submit_count() == 2 * len(windows)


def test_the_cli_compares_two_models_on_a_long_clip(scenes, twin, alice_env, output_dir) -> None:
    clip = scenes(20.0)
    command = [str(ALICE_BIN), "add-audio", str(clip), "--prompt", "rain", "--model", "mmaudio", "--model", "hunyuan"]
    done = subprocess.run([*command, "--json", "--yes"], env=alice_env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout)
    assert [t["model"] for t in data["takes"]] == ["mmaudio-v2", "hunyuan-video-foley"]
    by_endpoint = {e: twin.state.submit_count(e) for e in ("fal-ai/mmaudio-v2", "fal-ai/hunyuan-video-foley")}
    assert by_endpoint["fal-ai/mmaudio-v2"] >= 1 and by_endpoint["fal-ai/hunyuan-video-foley"] >= 2
    assert any("mmaudio-v2: 1 take(s)" in n and "hunyuan-video-foley: 1 take(s)" in n for n in data["notes"])
    for take in data["takes"]:
        assert describe(Path(take["output_path"])).audio_duration == pytest.approx(20.0, abs=0.05)


# ------------------------------------------------------------------------------------------ the finished mix
BURSTS = ((8.0, 12.0), (24.0, 28.0))  # the clip's "speech": 440 Hz tone bursts over digital silence
RATE = 48000


def _with_bursts(picture: Path, dest: Path, seconds: float) -> Path:
    """``picture`` (no sound) with a 0.3-amplitude tone during each of :data:`BURSTS`."""
    from fractions import Fraction

    import av
    import numpy as np

    with av.open(str(picture)) as src, av.open(str(dest), "w") as out:
        video = src.streams.video[0]
        video_out = out.add_stream_from_template(video)
        audio = out.add_stream("aac", rate=RATE, layout="stereo")
        for packet in src.demux(video):
            if packet.dts is None:
                continue
            packet.stream = video_out
            out.mux(packet)
        t = np.arange(int(seconds * RATE)) / RATE
        on = np.zeros_like(t, dtype=bool)
        for a, b in BURSTS:
            on |= (t >= a) & (t < b)
        wave = np.where(on, 0.3 * np.sin(2 * np.pi * 440 * t), 0.0)
        for start in range(0, len(wave), 1024):
            chunk = wave[start : start + 1024].astype(np.float32)
            frame = av.AudioFrame.from_ndarray(np.vstack([chunk, chunk]), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode(None):
            out.mux(packet)
    return dest


async def test_duck_loudness_stems_and_timeline_apply_to_a_multi_window_soundtrack(
    scenes, twin, inprocess_env, output_dir
) -> None:
    """The finished mix of issue 15 on a 36 s soundtrack of several windows, measured on the files written."""
    import numpy as np
    import opentimelineio as otio
    import pyloudnorm

    from alice_mcp.api import AliceOrchestrator, GenerationRequest
    from tests.test_mixdown import decoded, level_db, true_peak_dbtp

    seconds = 36.0
    clip = _with_bursts(scenes(seconds, "picture.mp4"), Path(inprocess_env["HOME"]) / "clips" / "talk.mp4", seconds)
    request = GenerationRequest(
        prompt="soft pad",
        parameters={
            "seed": 5,
            "original_audio": "duck",
            "original_level": 1.0,
            "duck_db": 12,
            "loudness": "youtube",
            "stems": True,
            "timeline": "otio",
            "cues": [{"at": 16.0, "duration": 2.0, "prompt": "door slam"}],
        },
        reference_assets=[clip],
    )
    async with AliceOrchestrator() as alice:
        asset = await alice.generate_creative_asset(request)
    result = asset.details
    report = result.soundtrack
    assert report is not None and len(report.windows) >= 2, report
    out = asset.file_path
    stems = {name: out.with_name(f"{out.stem}.{name}.wav") for name in ("bed", "cues", "original", "mix")}
    assert all(path.exists() for path in stems.values()), files_in(output_dir)
    assert result.stems == {name: str(path) for name, path in stems.items()}

    # the bed dips at least duck_db - 2 dB under each burst, against the gap before it
    bed, rate = decoded(stems["bed"])
    dips = []
    for a, b in BURSTS:
        gap = level_db(bed, rate, a - 3.0, a - 0.5)
        under = level_db(bed, rate, a + 0.25, b)
        dips.append(gap - under)
    assert min(dips) >= 12 - 2, dips

    # the cues are a stem of their own: sound where the cue is, silence elsewhere
    cues, _ = decoded(stems["cues"])
    assert level_db(cues, rate, 16.2, 17.8) > -40 and level_db(cues, rate, 0, 15.9) < -100
    assert level_db(cues, rate, 18.1, seconds) < -100

    # the stems sum back to the pre-master mix
    original, _ = decoded(stems["original"])
    mix, _ = decoded(stems["mix"])
    assert len(bed) == len(cues) == len(original) == len(mix)
    residual = 10 * math.log10(np.mean((mix - (bed + cues + original)) ** 2) / np.mean(mix**2) + 1e-30)
    assert residual < -60

    # youtube: -14 +-1 LUFS integrated, <= -1 dBTP, measured independently (pyloudnorm) on the decoded output
    final, final_rate = decoded(out)
    assert len(final) / final_rate == pytest.approx(seconds, abs=0.05)
    integrated = pyloudnorm.Meter(final_rate).integrated_loudness(final)
    peak = true_peak_dbtp(final)
    assert integrated == pytest.approx(-14, abs=1.0) and peak <= -1.0
    assert result.loudness is not None and result.loudness.integrated_lufs == pytest.approx(integrated, abs=0.3)

    # the timeline: a marker at every seam and cue on the original's clip, and the cues stem on a track
    timeline = otio.adapters.read_from_file(str(result.timeline_path))
    video_clip = next(c for c in timeline.find_clips() if c.name == clip.name)
    marks = sorted([round(s.at, 3) for s in report.seams] + [16.0])
    assert [round(m.marked_range.start_time.to_seconds(), 3) for m in video_clip.markers] == marks
    assert "Cues" in {track.name for track in timeline.tracks}
    print(
        f"soundtrack of {len(report.windows)} windows: bed dips {', '.join(f'{d:.1f}' for d in dips)} dB under the "
        f"bursts; stems residual {residual:.0f} dB; pyloudnorm {integrated:.2f} LUFS, true peak {peak:.2f} dBTP"
    )


async def test_takes_of_another_model_are_estimated_asked_once_and_billed_as_quoted(
    connect, scenes, twin, monkeypatch
) -> None:
    """estimate_cost, the user's approval and the bill agree for 2 takes of a Hunyuan soundtrack (windows x takes)."""
    if connect.mode != "legacy":
        pytest.skip("one protocol era is enough")
    from tests.test_spend_consent import User

    clip = scenes(24.0)
    monkeypatch.setenv("ALICE_CONFIRM_SPEND_ABOVE_USD", "0.01")
    user = User(twin)
    async with connect(elicitation_callback=user) as client:
        estimate = await client.call_tool("estimate_cost", {"video": str(clip), "model": "hunyuan", "count": 2})
        assert estimate.is_error is False, estimate.content[0].text
        quoted = estimate.structured_content
        assert "windows + 0 cues of hunyuan-video-foley" in quoted["formula"] and "x 2 takes" in quoted["formula"]
        result = await client.call_tool(
            "add_audio_to_video",
            {"video": str(clip), "prompt": "gravel", "model": "hunyuan", "takes": 2, "seed": 4, "wait_seconds": 50},
        )
        assert result.is_error is False, result.content[0].text
        data = result.structured_content
        for take in data["takes"][1:]:  # the first take's job is followed below; the others are listed
            assert take["model"] == "hunyuan-video-foley"
        if data["status"] != "completed":
            data = await until_done(client, data)
    from alice_mcp.data.money import usd

    (question,) = user.questions  # asked once, for the whole: both takes, every window, and how it multiplies
    assert f"about {usd(quoted['usd'])}?" in question and "hunyuan-video-foley: 2 take(s) x (" in question, question
    assert user.seen_at_question == [(0, 0)]  # asked before anything was uploaded or submitted
    assert twin.state.billed_usd() == pytest.approx(quoted["usd"])
    assert sorted({s.payload["seed"] for s in twin.state.submits}) == [4, 5]


@pytest.mark.parametrize(
    "model,window",
    [
        ("mmaudio-v2", 30),
        ("hunyuan-video-foley", 15),
        ("thinksound", 30),
        ("mirelo-sfx-v1.5", 10),
        ("mirelo-sfx-1.6", 60),
        ("kling-video-to-audio", 20),
        ("pixverse-sound-effects", 30),
        ("sonilo-sfx", 180),
    ],
)
async def test_every_model_sizes_a_long_clip_s_windows_by_its_own_limits(
    connect, scenes, twin, model: str, window: float
) -> None:
    """Just over one window of each model: estimate_cost plans it as a soundtrack of windows of that model."""
    if connect.mode != "legacy":
        pytest.skip("one protocol era is enough")
    clip = scenes(window + 4.0)
    async with connect() as client:
        result = await client.call_tool("estimate_cost", {"video": str(clip), "model": model})
    assert result.is_error is False, result.content[0].text
    data = result.structured_content
    windows = int(data["formula"].split(" windows + 0 cues of ")[0])
    assert 2 <= windows <= 4, data["formula"]  # more than one window; windows of the length the model does best on
    assert f"longer than one {model} window ({window:g} s)" in " ".join(data["notes"]), data["notes"]
    assert twin.state.uploads == [] and twin.state.submit_count() == 0


@pytest.mark.parametrize("model,seconds", [("mirelo-sfx-v1.5", 14.0), ("thinksound", 34.0), ("pixverse", 34.0)])
def test_more_models_make_whole_soundtracks_the_twin_accepts(
    scenes, twin, alice_env, model: str, seconds: float
) -> None:
    """Each part's payload passes the twin's schema for that model (a wrong field fails the part), and the result
    covers the whole clip; the CLI prints the cost that the twin billed."""
    clip = scenes(seconds)
    done = subprocess.run(
        [str(ALICE_BIN), "add-audio", str(clip), "--prompt", "wind", "--model", model, "--json", "--yes"],
        env=alice_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout)
    report = data["soundtrack"]
    assert len(report["windows"]) == 2 and all(w["status"] == "done" for w in report["windows"])
    assert twin.state.submit_count() == 2 and twin.state.submit_count(include_rejected=True) == 2
    assert describe(Path(data["output_path"])).audio_duration == pytest.approx(seconds, abs=0.05)
    if model != "thinksound":  # ThinkSound bills GPU seconds; alice-mcp quotes a ceiling per call
        assert data["cost_usd"] == pytest.approx(twin.state.billed_usd())


def test_a_clip_longer_than_30_s_is_whole_with_a_model_of_a_longer_window(scenes, twin, alice_env) -> None:
    """Mirelo 1.6 takes 60 s per call: a 36 s clip is one window of 36 s, not the first 30 s."""
    clip = scenes(36.0)
    done = subprocess.run(
        [str(ALICE_BIN), "add-audio", str(clip), "--prompt", "wind", "--model", "mirelo-sfx-1.6", "--json", "--yes"],
        env=alice_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout)
    assert [(w["start"], w["end"]) for w in data["soundtrack"]["windows"]] == [(0.0, 36.0)]
    (submit,) = twin.state.submits
    assert submit.payload["duration"] == pytest.approx(36.0) and submit.payload["num_samples"] == 1
    assert describe(Path(data["output_path"])).audio_duration == pytest.approx(36.0, abs=0.05)
    assert data["cost_usd"] == pytest.approx(0.36) == pytest.approx(twin.state.billed_usd())
