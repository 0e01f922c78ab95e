"""Self-tests of the twin's video-to-audio endpoints beyond MMAudio (tests/fal_twin/foley.py), driven by the REAL
fal_client through the twin's proxy: each endpoint's own field names, its 422s, its output shape and its billing.
"""

from __future__ import annotations

from pathlib import Path

import fal_client
import pytest
from fal_client.client import FalClientHTTPError

from tests.fal_twin import FalTwin, make_clip, probe
from tests.test_fal_twin import client, fetch

HUNYUAN = "fal-ai/hunyuan-video-foley"
THINKSOUND = "fal-ai/thinksound"
MIRELO15 = "mirelo-ai/sfx-v1.5/video-to-video"
MIRELO16 = "mirelo-ai/sfx1.6/video-to-video"
KLING_V2A = "fal-ai/kling-video/video-to-audio"
PIXVERSE = "fal-ai/pixverse/sound-effects"
SONILO = "sonilo/v1.1/video-to-sound-effects"


@pytest.fixture(scope="module")
def ftwin():
    with FalTwin(queue_seconds=0.05, run_seconds=0.1) as twin:
        yield twin


@pytest.fixture
def tw(ftwin: FalTwin, monkeypatch: pytest.MonkeyPatch) -> FalTwin:
    ftwin.reset()
    for name in ("ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy", "SSL_CERT_DIR", "FAL_KEY_ID", "FAL_KEY_SECRET"):
        monkeypatch.delenv(name, raising=False)
    for name, value in ftwin.env.items():
        monkeypatch.setenv(name, value)
    return ftwin


@pytest.fixture(scope="module")
def clip4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(make_clip(str(tmp_path_factory.mktemp("foley") / "clip4.mp4"), 4.0, 96, 64, 12))


async def _probe(tw: FalTwin, file: dict, name: str) -> dict:
    data = await fetch(file["url"])
    assert file["file_size"] == len(data)
    path = Path(tw._dir) / name
    path.write_bytes(data)
    return probe(str(path))


# (endpoint, payload with the model's own field names, output key, how many files, seconds, kind, billed usd)
CASES = [
    (HUNYUAN, {"text_prompt": "steps on gravel", "seed": 3, "num_inference_steps": 10}, "video", 1, 4.0, 0.10),
    (THINKSOUND, {"prompt": "", "cfg_scale": 3, "num_inference_steps": 4}, "video", 1, 4.0, None),
    (MIRELO15, {"text_prompt": "door", "duration": 3, "seed": 5}, "video", 2, 3.0, 0.06),
    (MIRELO16, {"text_prompt": "door", "duration": 2, "num_samples": 3}, "video", 3, 2.0, 0.06),
    (
        KLING_V2A,
        {"sound_effect_prompt": "rain", "background_music_prompt": "", "asmr_mode": True},
        "video",
        1,
        4.0,
        0.035,
    ),
    (PIXVERSE, {"prompt": "sea waves", "original_sound_switch": False}, "video", 1, 4.0, 0.10),
    (SONILO, {"prompt": "wind", "audio_format": "wav"}, "audio", 1, 4.0, 0.036),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("endpoint,fields,key,count,seconds,usd", CASES, ids=[c[0] for c in CASES])
async def test_each_endpoint_output_shape_and_billing(tw, clip4, endpoint, fields, key, count, seconds, usd) -> None:
    fc = client()
    url = await fc.upload_file(clip4)
    out = await fc.subscribe(endpoint, {"video_url": url, **fields})
    files = out[key] if isinstance(out[key], list) else [out[key]]
    assert len(files) == count
    peaks = set()
    for i, file in enumerate(files):
        info = await _probe(tw, file, f"{endpoint.replace('/', '_')}-{i}")
        assert abs(info["audio"]["seconds"] - seconds) < 0.1 and info["audio"]["peak"] > 0.05
        if key == "video":
            assert abs(info["video"]["seconds"] - seconds) < 0.1
        else:
            assert info["video"] is None
        peaks.add(round(info["audio"]["peak"], 4))
    assert len(peaks) == count  # every sample is a different take
    (record,) = tw.state.submits
    assert record.endpoint == endpoint and record.payload == {"video_url": url, **fields}  # the exact fields sent
    expected = usd if usd is not None else 0.001 * 0.1  # ThinkSound: $0.001 per compute second (run_seconds)
    assert tw.state.billed_usd() == pytest.approx(expected)


@pytest.mark.asyncio
async def test_thinksound_writes_its_own_prompt_and_kling_returns_video_and_mp3(tw, clip4) -> None:
    fc = client()
    url = await fc.upload_file(clip4)
    out = await fc.subscribe(THINKSOUND, {"video_url": url})
    assert out["prompt"] and out["video"]["file_name"] == "thinksound-output.mp4"
    out = await fc.subscribe(KLING_V2A, {"video_url": url, "sound_effect_prompt": "rain"})
    assert out["audio"]["content_type"] == "audio/mpeg"
    info = await _probe(tw, out["audio"], "kling.mp3")
    assert info["audio"]["codec"].startswith("mp3") and info["video"] is None


@pytest.mark.asyncio
async def test_a_wrong_field_name_is_rejected_as_fal_does(tw, clip4) -> None:
    """Unknown fields are ignored (FastAPI's default): a wrong name for a REQUIRED field is a 422 ``missing``; a
    wrong name for an optional one silently leaves fal's default (Kling's demo prompt), visible in the job input."""
    fc = client()
    url = await fc.upload_file(clip4)
    with pytest.raises(FalClientHTTPError) as err:
        await fc.subscribe(HUNYUAN, {"video_url": url, "prompt": "steps"})
    assert err.value.status_code == 422
    assert err.value.message == [
        {
            "type": "missing",
            "loc": ["body", "text_prompt"],
            "msg": "Field required",
            "input": {"video_url": url, "prompt": "steps"},
        }
    ]
    assert tw.state.submit_count() == 0 and len(tw.state.rejected_submits) == 1 and tw.state.billed_usd() == 0
    handle = await fc.submit(KLING_V2A, {"video_url": url, "prompt": "rain"})
    await handle.get()
    job = tw.state.job(handle.request_id)
    assert job.input["sound_effect_prompt"] == "Car tires screech as they accelerate in a drag race"
    assert "prompt" not in job.input


@pytest.mark.asyncio
async def test_out_of_range_values_get_fal_422s(tw, clip4) -> None:
    fc = client()
    url = await fc.upload_file(clip4)
    for endpoint, fields, loc, error_type in (
        (MIRELO15, {"num_samples": 1}, "num_samples", "greater_than_equal"),
        (MIRELO15, {"duration": 12}, "duration", "less_than_equal"),
        (MIRELO16, {"num_samples": 5}, "num_samples", "less_than_equal"),
        (HUNYUAN, {"text_prompt": "x", "guidance_scale": 11}, "guidance_scale", "less_than_equal"),
        (THINKSOUND, {"num_inference_steps": 1}, "num_inference_steps", "greater_than_equal"),
        (KLING_V2A, {"sound_effect_prompt": "x" * 201}, "sound_effect_prompt", "string_too_long"),
        (SONILO, {"audio_format": "ogg"}, "audio_format", "literal_error"),
    ):
        with pytest.raises(FalClientHTTPError) as err:
            await fc.subscribe(endpoint, {"video_url": url, **fields})
        assert err.value.status_code == 422
        (entry,) = err.value.message
        assert (entry["loc"], entry["type"]) == (["body", loc], error_type), endpoint
    assert tw.state.submit_count() == 0 and tw.state.billed_usd() == 0


@pytest.mark.asyncio
async def test_runner_side_media_checks(tw, tmp_path) -> None:
    fc = client()
    short = await fc.upload_file(make_clip(str(tmp_path / "short.mp4"), 2.0, 96, 64, 12))
    with pytest.raises(FalClientHTTPError) as err:
        await fc.subscribe(KLING_V2A, {"video_url": short, "sound_effect_prompt": "rain"})
    (entry,) = err.value.message
    assert err.value.status_code == 422 and (entry["loc"], entry["type"]) == (
        ["body", "video_url"],
        "video_duration_error",
    )
    assert tw.state.billed_usd() == 0  # failures are not billed
    assert isinstance(await fc.status(KLING_V2A, tw.state.submits[0].request_id), fal_client.Completed)


@pytest.mark.asyncio
async def test_sonilo_rejects_segments_that_are_not_contiguous(tw, clip4) -> None:
    fc = client()
    url = await fc.upload_file(clip4)
    segments = [{"start": 0, "end": 1, "prompt": "a"}, {"start": 1.5, "end": 2, "prompt": "b"}]
    with pytest.raises(FalClientHTTPError) as err:
        await fc.subscribe(SONILO, {"video_url": url, "segments": segments})
    (entry,) = err.value.message
    assert (entry["loc"], entry["type"]) == (["body", "segments"], "segments_error")
    assert tw.state.billed_usd() == 0
