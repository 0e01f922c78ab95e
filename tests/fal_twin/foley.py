"""The video-to-audio ("foley") endpoints beyond MMAudio, one entry each (foley-models reference §2, §4, §5).

Each :class:`FoleyEndpoint` holds what the twin needs to emulate one endpoint: its input schema (field ->
``(annotation, Field kwargs)``, as in :mod:`.schemas`, validated by the same FastAPI-style pydantic model), how its
runner turns a valid input into fal's output JSON (video with audio, audio alone, or a list of samples), and its
billing rule. Adding an endpoint is one entry in :data:`ENDPOINTS`.

Behaviour chosen where the reference marks fal's as UNVERIFIED (asserted by tests/test_fal_twin_foley.py):

* Unknown input fields are IGNORED, as FastAPI/pydantic models do by default (reference §1.3 documents only the
  422 shape). A wrong field NAME therefore shows up as fal shows it: a ``missing`` 422 when the real field is
  required (Hunyuan's ``text_prompt``), otherwise silently the default (Kling's demo prompts).
* Validation happens on the runner like MMAudio's (``validate_at``): the result GET returns the 422.
* Runner-side media checks (422, ``loc: ["body", "video_url"]``; the ``type`` strings are the twin's own):
  Kling rejects a video outside 3.0-20.0 s, over 100 MB, or not MP4/MOV (``video_duration_error``,
  ``file_too_large``, ``video_format_error``); Sonilo rejects segments that do not start at 0, are not contiguous or
  end after the video (``segments_error``).
* Lengths: Hunyuan reads at most 15 s (upstream ``MAX_VIDEO_DURATION_SECONDS``; truncates silently), ThinkSound,
  PixVerse and Sonilo return the video's length, Mirelo ``min(duration, video - start_offset)``.
* Billing (``job.cost_usd``, successes only): Hunyuan $0.10 per started 10 s, PixVerse $0.10 per started 5 s (both
  S8, unverified); ThinkSound $0.001 per compute second (= the job's ``inference_time``); Mirelo $0.01 per second
  of ``duration`` PER SAMPLE (the worst case of the unverified reading); Kling $0.035 per call; Sonilo $0.009 per
  started second of output per sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional

from pydantic import BaseModel

from . import synth

#: marks a required field in a schema table (shared with :mod:`.schemas`)
REQUIRED = object()


class SfxSegment(BaseModel):
    """Sonilo's ``SfxSegment`` (all fields optional in fal's type)."""

    start: Optional[float] = None
    end: Optional[float] = None
    prompt: str = ""


class MediaRejected(Exception):
    """A runner-side 422 on ``field``."""

    def __init__(self, error_type: str, msg: str, field: str = "video_url") -> None:
        super().__init__(msg)
        self.error_type, self.msg, self.field = error_type, msg, field


class Runner:
    """What a render function may do: read the input video, write output files, charge the job."""

    def __init__(self, source: str, new_file: Callable[[str, str, Callable[[str], Any]], dict], run_seconds: float):
        self.source = source
        self._new_file = new_file
        self.run_seconds = run_seconds
        self.cost_usd = 0.0

    def seconds(self) -> float:
        return synth.video_seconds(self.source)

    def video(self, name: str, seconds: float, seed: Any, prompt: str, mode: str = "reencode") -> dict:
        """The input video's first ``seconds`` with a generated track (a fal ``File``)."""
        return self._new_file(
            name, "video/mp4", lambda dst: synth.mmaudio_video(self.source, dst, seconds, seed, prompt, mode)
        )

    def audio(self, name: str, seconds: float, seed: Any, prompt: str, fmt: str) -> dict:
        """A generated track alone, in ``fmt`` (a fal ``File``)."""
        ctype = synth.AUDIO_FORMATS[fmt][2]
        return self._new_file(name, ctype, lambda dst: synth.audio_file(dst, seconds, seed, prompt, fmt))


@dataclass(frozen=True)
class FoleyEndpoint:
    id: str
    schema: dict[str, tuple[Any, dict[str, Any]]]
    render: Callable[[Runner, dict], dict]


def _blocks(seconds: float, block: float) -> int:
    return max(1, math.ceil(round(seconds, 6) / block))


# ------------------------------------------------------------------------------------------- HunyuanVideo-Foley


def _hunyuan(run: Runner, inp: dict) -> dict:
    seconds = min(run.seconds(), 15.0)
    run.cost_usd = 0.10 * _blocks(seconds, 10)
    return {"video": run.video("hunyuan_foley.mp4", seconds, inp["seed"], inp["text_prompt"])}


# ------------------------------------------------------------------------------------------- ThinkSound


def _thinksound(run: Runner, inp: dict) -> dict:
    prompt = inp["prompt"] or "Generated from the video: ambient room tone with soft movement."
    run.cost_usd = 0.001 * run.run_seconds
    return {"video": run.video("thinksound-output.mp4", run.seconds(), inp["seed"], prompt), "prompt": prompt}


# ------------------------------------------------------------------------------------------- Mirelo SFX


def _mirelo(version: str) -> Callable[[Runner, dict], dict]:
    def render(run: Runner, inp: dict) -> dict:
        offset = float(inp.get("start_offset") or 0)
        seconds = max(0.1, min(float(inp["duration"]), run.seconds() - offset))
        samples = int(inp["num_samples"])
        seed = inp["seed"]
        run.cost_usd = 0.01 * float(inp["duration"]) * samples
        return {
            "video": [
                run.video(f"generated_output_{k + 1}.mp4", seconds, f"{version}:{seed}:{k}", inp["text_prompt"] or "")
                for k in range(samples)
            ]
        }

    return render


# ------------------------------------------------------------------------------------------- Kling video-to-audio

KLING_MIN_S, KLING_MAX_S, KLING_MAX_BYTES = 3.0, 20.0, 100 * 1024 * 1024


def _kling(run: Runner, inp: dict) -> dict:
    import os

    with open(run.source, "rb") as f:
        head = f.read(12)
    if head[4:8] != b"ftyp":
        raise MediaRejected("video_format_error", "Only .mp4/.mov formats are supported.")
    if os.path.getsize(run.source) > KLING_MAX_BYTES:
        raise MediaRejected("file_too_large", "File size does not exceed 100MB.")
    seconds = run.seconds()
    if not KLING_MIN_S - 1e-3 <= seconds <= KLING_MAX_S + 1e-3:
        raise MediaRejected("video_duration_error", f"Video duration between 3.0s and 20.0s (got {seconds:.2f}s).")
    prompt = f"{inp['sound_effect_prompt']}|{inp['background_music_prompt']}|{inp['asmr_mode']}"
    run.cost_usd = 0.035
    return {
        "video": run.video("dubbed_video.mp4", seconds, None, prompt),
        "audio": run.audio("extracted_audio.mp3", seconds, None, prompt, "mp3"),
    }


# ------------------------------------------------------------------------------------------- PixVerse


def _pixverse(run: Runner, inp: dict) -> dict:
    seconds = run.seconds()
    run.cost_usd = 0.10 * _blocks(seconds, 5)
    prompt = f"{inp['prompt']}|{inp['original_sound_switch']}"
    return {"video": run.video("output.mp4", seconds, None, prompt)}


# ------------------------------------------------------------------------------------------- Sonilo


def _sonilo_sfx(run: Runner, inp: dict) -> dict:
    seconds = run.seconds()
    segments = inp.get("segments") or []
    for i, seg in enumerate(segments):
        start, end = seg.get("start"), seg.get("end")
        expected_start = 0.0 if i == 0 else segments[i - 1].get("end")
        if start is None or end is None or abs(start - expected_start) > 1e-6 or end <= start:
            raise MediaRejected("segments_error", "Segments must start at 0 and be contiguous.", "segments")
    if segments and segments[-1]["end"] > seconds + 1e-3:
        raise MediaRejected("segments_error", "The last segment's end must be <= the video duration.", "segments")
    prompt = "|".join([inp.get("prompt") or ""] + [s.get("prompt", "") for s in segments])
    fmt = inp["audio_format"]
    run.cost_usd = 0.009 * math.ceil(round(seconds, 6))
    track = run.audio(f"sound_effects{synth.AUDIO_FORMATS[fmt][3]}", seconds, None, prompt, fmt)
    return {"audio": track, "audios": [track]}


# ------------------------------------------------------------------------------------------- the table

_MIRELO_15 = {
    "video_url": (str, {"default": REQUIRED, "min_length": 1, "max_length": 2083}),
    "text_prompt": (Optional[str], {"default": None}),
    "num_samples": (Optional[int], {"default": 2, "ge": 2, "le": 8}),
    "seed": (Optional[int], {"default": 8069, "ge": 1}),
    "duration": (Optional[float], {"default": 10, "ge": 1, "le": 10}),
    "start_offset": (Optional[float], {"default": 0, "ge": 0}),
}

_ENTRIES = [
    FoleyEndpoint(
        "fal-ai/hunyuan-video-foley",
        {
            "video_url": (str, {"default": REQUIRED}),
            "text_prompt": (str, {"default": REQUIRED}),
            "negative_prompt": (str, {"default": "noisy, harsh"}),
            "guidance_scale": (float, {"default": 4.5, "ge": 1, "le": 10}),
            "num_inference_steps": (int, {"default": 50, "ge": 10, "le": 100}),
            "seed": (Optional[int], {"default": None}),
        },
        _hunyuan,
    ),
    FoleyEndpoint(
        "fal-ai/thinksound",
        {
            "video_url": (str, {"default": REQUIRED}),
            "prompt": (str, {"default": ""}),
            "seed": (Optional[int], {"default": None}),
            "num_inference_steps": (int, {"default": 24, "ge": 2, "le": 100}),
            "cfg_scale": (float, {"default": 5, "ge": 1, "le": 20}),
        },
        _thinksound,
    ),
    FoleyEndpoint("mirelo-ai/sfx-v1.5/video-to-video", _MIRELO_15, _mirelo("1.5")),
    FoleyEndpoint(
        "mirelo-ai/sfx1.6/video-to-video",
        {
            "video_url": (str, {"default": REQUIRED}),
            "text_prompt": (Optional[str], {"default": None}),
            "duration": (float, {"default": 10, "ge": 1, "le": 60}),
            "num_samples": (int, {"default": 1, "ge": 1, "le": 4}),
            "seed": (Optional[int], {"default": None}),
        },
        _mirelo("1.6"),
    ),
    FoleyEndpoint(
        "fal-ai/kling-video/video-to-audio",
        {
            "video_url": (str, {"default": REQUIRED}),
            "sound_effect_prompt": (
                str,
                {"default": "Car tires screech as they accelerate in a drag race", "max_length": 200},
            ),
            "background_music_prompt": (str, {"default": "intense car race", "max_length": 200}),
            "asmr_mode": (bool, {"default": False}),
        },
        _kling,
    ),
    FoleyEndpoint(
        "fal-ai/pixverse/sound-effects",
        {
            "video_url": (str, {"default": REQUIRED}),
            "original_sound_switch": (bool, {"default": False}),
            "prompt": (str, {"default": ""}),
        },
        _pixverse,
    ),
    FoleyEndpoint(
        "sonilo/v1.1/video-to-sound-effects",
        {
            "video_url": (str, {"default": REQUIRED}),
            "prompt": (Optional[str], {"default": None}),
            "segments": (Optional[list[SfxSegment]], {"default": None}),
            "audio_format": (Literal["wav", "mp3", "aac", "flac"], {"default": "aac"}),
        },
        _sonilo_sfx,
    ),
]

ENDPOINTS: dict[str, FoleyEndpoint] = {e.id: e for e in _ENTRIES}
