"""The video-to-audio models alice-mcp can run, as data: one parameter model and one :class:`FoleyModel` entry each.

Every fact comes from the foley-models reference (§2 per endpoint, §4 table); what it marks unverified is marked
here too (``verified=False`` limits and prices, ``unverified`` notes) and said by ``list_models``. ControlFoley is
left out on purpose: its stored schema is cut off after six input fields and its output is unknown (reference §2.6),
so it has no confirmed schema to build from.

Adding a model = its parameter model and :class:`FoleyModel` entry here, one recipe line in
:mod:`alice_mcp.engine.recipes.registry`, its twin endpoint (``tests/fal_twin/foley.py``) and its tests.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from alice_mcp.data.endpoints import Endpoint
from alice_mcp.data.errors import InputError
from alice_mcp.data.foley_spec import ClipLimits, FoleyModel
from alice_mcp.data.prices import PriceRule

SEED_RANGE = (0, 65535)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------------------------- HunyuanVideo-Foley


class HunyuanFoleyParams(_Params):
    """``fal-ai/hunyuan-video-foley`` input (reference §2.2)."""

    text_prompt: str = Field(min_length=1, description="Text description of the desired audio (required by fal).")
    negative_prompt: str = Field(default="noisy, harsh", description="Audio characteristics to avoid.")
    guidance_scale: float = Field(default=4.5, ge=1, le=10, description="Guidance scale (1-10).")
    num_inference_steps: int = Field(default=50, ge=10, le=100, description="Inference steps (10-100).")
    seed: Optional[int] = Field(default=None, description="Random seed for reproducible generation.")


HUNYUAN = FoleyModel(
    endpoint=Endpoint(
        id="fal-ai/hunyuan-video-foley",
        title="HunyuanVideo-Foley (video to video with audio)",
        output_key="video",
        suffix=".mp4",
        price=PriceRule(
            usd_per_extra_second=0.01,
            block_seconds=10,
            verified=False,
            source="third-party snapshot of fal's pricing API: $0.10 per 10 seconds (no fal page; rounding unknown, "
            "alice-mcp rounds up)",
        ),
        input_model=HunyuanFoleyParams,
        aliases=("hunyuan-video-foley", "hunyuan", "hunyuan-foley"),
    ),
    params=HunyuanFoleyParams,
    best_at="Best perceived quality and sync in its authors' MovieGen-Audio-Bench tables "
    "(MOS-Q 4.14 vs MMAudio's 3.58; DeSync 0.74 vs 0.80).",
    common={
        "prompt": "text_prompt",
        "negative_prompt": "negative_prompt",
        "seed": "seed",
        "num_steps": "num_inference_steps",
        "cfg_strength": "guidance_scale",
    },
    limits=ClipLimits(1, 15, verified=False, note="fal states no limit; upstream code reads at most 15 s"),
    output_kind="video",
    seed_range=SEED_RANGE,
    unverified=("clip limit (upstream 15 s)", "price", "audio format"),
)


# ------------------------------------------------------------------------------------------- ThinkSound


class ThinkSoundParams(_Params):
    """``fal-ai/thinksound`` input (reference §2.3)."""

    prompt: str = Field(default="", description="Guides the audio; if empty, ThinkSound writes it from the video.")
    seed: Optional[int] = Field(default=None, description="Random seed.")
    num_inference_steps: int = Field(default=24, ge=2, le=100, description="Inference steps (2-100).")
    cfg_scale: float = Field(default=5, ge=1, le=20, description="Classifier-free guidance (1-20).")


THINKSOUND = FoleyModel(
    endpoint=Endpoint(
        id="fal-ai/thinksound",
        title="ThinkSound (video to video with audio, writes its own prompt)",
        output_key="video",
        suffix=".mp4",
        price=PriceRule(
            usd_per_extra_second=0.0,
            base_usd=0.03,
            base_seconds=86_400,
            verified=False,
            source="fal bills $0.001 per COMPUTE second (GPU time), which no clip length predicts; alice-mcp quotes a "
            "ceiling of 30 compute seconds per call",
        ),
        input_model=ThinkSoundParams,
        aliases=("thinksound",),
    ),
    params=ThinkSoundParams,
    best_at="Writes its own prompt from the video (returned with the result) when you have no words for the sound.",
    common={"prompt": "prompt", "seed": "seed", "num_steps": "num_inference_steps", "cfg_strength": "cfg_scale"},
    limits=ClipLimits(1, 30, verified=False, note="fal states no limit; alice-mcp caps a call at 30 s"),
    output_kind="video",
    seed_range=SEED_RANGE,
    unverified=("clip limit", "cost per call (billed by GPU time)"),
)


# ------------------------------------------------------------------------------------------- Mirelo SFX v1.5


class MireloV15Params(_Params):
    """``mirelo-ai/sfx-v1.5/video-to-video`` input (reference §2.4.1)."""

    text_prompt: Optional[str] = Field(default=None, description="Additional description to guide the model.")
    num_samples: int = Field(default=2, ge=2, le=8, description="Samples per call (2-8; fal's minimum is 2).")
    seed: Optional[int] = Field(default=None, ge=1, description="Seed (>= 1).")
    duration: float = Field(default=10, ge=1, le=10, description="Seconds of audio (1-10).")
    start_offset: float = Field(default=0, ge=0, description="Where in the sent clip generation starts (s).")


MIRELO_V15 = FoleyModel(
    endpoint=Endpoint(
        id="mirelo-ai/sfx-v1.5/video-to-video",
        title="Mirelo SFX v1.5 (video to videos with audio, 2-8 samples)",
        output_key="video",
        suffix=".mp4",
        price=PriceRule(
            usd_per_extra_second=0.01,
            per_sample=True,
            verified=False,
            source="fal: $0.01 per second (https://fal.ai/models/mirelo-ai/sfx-v1.5/video-to-video/llms.txt); "
            "whether per sample is unverified, alice-mcp quotes per sample (the worst case)",
        ),
        input_model=MireloV15Params,
        aliases=("mirelo-sfx-v1.5", "mirelo-v1.5"),
    ),
    params=MireloV15Params,
    best_at="Several takes from one call (2-8 samples, default 2) of up to 10 s.",
    common={"prompt": "text_prompt", "seed": "seed"},
    limits=ClipLimits(1, 10),
    output_kind="video",
    samples_field="num_samples",
    seed_range=(1, 65535),
    duration_field="duration",
    unverified=("price per sample or per call",),
)


# ------------------------------------------------------------------------------------------- Mirelo SFX 1.6


class MireloV16Params(_Params):
    """``mirelo-ai/sfx1.6/video-to-video`` input (reference §2.4.2 a)."""

    text_prompt: Optional[str] = Field(default=None, description="Optional text prompt guiding generation.")
    duration: float = Field(default=10, ge=1, le=60, description="Seconds (1-60; > 10 uses a sliding window).")
    num_samples: int = Field(default=1, ge=1, le=4, description="Number of variations (1-4).")
    seed: Optional[int] = Field(default=None, description="Seed (-1 or none = random).")


MIRELO_V16 = FoleyModel(
    endpoint=Endpoint(
        id="mirelo-ai/sfx1.6/video-to-video",
        title="Mirelo SFX 1.6 (video to videos with audio, 1-4 samples, up to 60 s)",
        output_key="video",
        suffix=".mp4",
        price=PriceRule(
            usd_per_extra_second=0.01,
            per_sample=True,
            verified=False,
            source="fal: $0.01 per second (https://fal.ai/models/mirelo-ai/sfx1.6/video-to-video/llms.txt); "
            "per sample is unverified, alice-mcp quotes per sample",
        ),
        input_model=MireloV16Params,
        aliases=("mirelo-sfx-1.6", "mirelo-1.6", "mirelo"),
    ),
    params=MireloV16Params,
    best_at="Several takes from one call (1-4 samples) of up to 60 s, the longest window here.",
    common={"prompt": "text_prompt", "seed": "seed"},
    limits=ClipLimits(1, 60),
    output_kind="video",
    samples_field="num_samples",
    seed_range=SEED_RANGE,
    duration_field="duration",
    unverified=("price per sample or per call", "output file details"),
)


# ------------------------------------------------------------------------------------------- Kling video-to-audio


class KlingVideoToAudioParams(_Params):
    """``fal-ai/kling-video/video-to-audio`` input (reference §2.5). fal's defaults are demo text (car-race SFX and
    music), so alice-mcp requires the sound-effect prompt and sends an empty music prompt unless one is given."""

    sound_effect_prompt: str = Field(min_length=1, max_length=200, description="Sound effects (<= 200 characters).")
    background_music_prompt: str = Field(
        default="", max_length=200, description="Background music (<= 200 characters; empty = none asked for)."
    )
    asmr_mode: bool = Field(default=False, description="Enhances detailed sound effects for immersive content.")


KLING_V2A = FoleyModel(
    endpoint=Endpoint(
        id="fal-ai/kling-video/video-to-audio",
        title="Kling video-to-audio (sound effects + background music)",
        output_key="video",
        suffix=".mp4",
        price=PriceRule(
            usd_per_extra_second=0.0,
            base_usd=0.035,
            base_seconds=86_400,
            source="fal.ai published price: $0.035 per video "
            "(https://fal.ai/models/fal-ai/kling-video/video-to-audio/llms.txt)",
        ),
        input_model=KlingVideoToAudioParams,
        aliases=("kling-video-to-audio", "kling-v2a"),
    ),
    params=KlingVideoToAudioParams,
    best_at="Separate sound-effect and background-music prompts (+ ASMR mode); flat $0.035 per 3-20 s clip.",
    common={"prompt": "sound_effect_prompt"},
    limits=ClipLimits(3, 20, max_bytes=100 * 1024 * 1024, containers=("mp4", "mov")),
    output_kind="video",
    unverified=("whether an empty background_music_prompt means no music",),
)


# ------------------------------------------------------------------------------------------- PixVerse


class PixVerseSoundEffectsParams(_Params):
    """``fal-ai/pixverse/sound-effects`` input (reference §2.8)."""

    original_sound_switch: bool = Field(default=False, description="Keep the video's original audio.")
    prompt: str = Field(default="", description="The sound wanted; empty = a random sound effect.")


PIXVERSE = FoleyModel(
    endpoint=Endpoint(
        id="fal-ai/pixverse/sound-effects",
        title="PixVerse sound effects (video to video with audio)",
        output_key="video",
        suffix=".mp4",
        price=PriceRule(
            usd_per_extra_second=0.02,
            block_seconds=5,
            verified=False,
            source="third-party snapshot of fal's pricing API: $0.10 per 5 seconds (no fal page; alice-mcp rounds up)",
        ),
        input_model=PixVerseSoundEffectsParams,
        aliases=("pixverse-sound-effects", "pixverse"),
    ),
    params=PixVerseSoundEffectsParams,
    best_at="Sound effects and background music that can keep the clip's own sound (original_sound_switch).",
    common={"prompt": "prompt"},
    limits=ClipLimits(1, 30, verified=False, note="fal states no limit; alice-mcp caps a call at 30 s"),
    output_kind="video",
    unverified=("clip limit", "price"),
)


# ------------------------------------------------------------------------------------------- Sonilo SFX


class SoniloSegment(_Params):
    """One time range with its own description (Sonilo's ``SfxSegment``)."""

    start: float = Field(ge=0, description="Seconds from the video start; the first segment starts at 0.")
    end: float = Field(gt=0, description="Equals the next segment's start; the last ends <= the video length.")
    prompt: str = Field(default="", description="Sound description for this segment.")


class SoniloSoundEffectsParams(_Params):
    """``sonilo/v1.1/video-to-sound-effects`` input (reference §2.7 a)."""

    prompt: Optional[str] = Field(default=None, description="Steers every scene; empty = caption automatically.")
    segments: Optional[list[SoniloSegment]] = Field(
        default=None, description="Time ranges with their own descriptions (contiguous, first starts at 0)."
    )
    audio_format: Literal["wav", "mp3", "aac", "flac"] = Field(default="aac", description="Format of the track.")

    def model_post_init(self, _context: object) -> None:
        for i, seg in enumerate(self.segments or []):
            expected = 0.0 if i == 0 else self.segments[i - 1].end  # type: ignore[index]
            if abs(seg.start - expected) > 1e-6 or seg.end <= seg.start:
                raise InputError(
                    "Sonilo `segments` must start at 0 and be contiguous (each start = the previous end); "
                    f"segment {i + 1} is {seg.start:g}-{seg.end:g} s."
                )


SONILO_SFX = FoleyModel(
    endpoint=Endpoint(
        id="sonilo/v1.1/video-to-sound-effects",
        title="Sonilo v1.1 sound effects (audio track for the whole video)",
        output_key="audio",
        suffix=".flac",
        price=PriceRule(
            usd_per_extra_second=0.009,
            block_seconds=1,
            per_sample=True,
            source="fal.ai published price: $0.009 per second of output and per sample "
            "(https://fal.ai/models/sonilo/v1.1/video-to-sound-effects/llms.txt); rounding up is unverified",
        ),
        input_model=SoniloSoundEffectsParams,
        aliases=("sonilo-sfx", "sonilo"),
    ),
    params=SoniloSoundEffectsParams,
    best_at="Different sound descriptions per time range (segments) over a whole clip; returns the track alone.",
    common={"prompt": "prompt"},
    limits=ClipLimits(1, 180, verified=False, note="fal states no limit; third parties say 180 s"),
    output_kind="audio",
    fixed={"audio_format": "flac"},
    unverified=("clip limit", "per-second rounding"),
)
