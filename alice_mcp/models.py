"""Request and result models shared by the core and every face. Results are the tools' output schemas."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, Field


class VideoAudioRequest(BaseModel):
    """What a face hands the core for one ``add_audio_to_video`` call.

    ``values`` holds the table parameters the caller gave explicitly (``None`` or absent = not given); the core merges
    them over the preset's and the table's defaults.
    """

    video: str
    preset: Optional[str] = None
    values: dict[str, Any] = Field(default_factory=dict)
    output_path: Optional[str] = None
    options: dict[str, Any] = Field(default_factory=dict)  # params.PipelineOptions fields; None = not given


class AudioRequest(BaseModel):
    """What a face hands the core for one text-to-audio generation (no video)."""

    preset: Optional[str] = None
    values: dict[str, Any] = Field(default_factory=dict)
    output_path: Optional[str] = None
    quality: Optional[Literal["draft", "balanced", "high"]] = None


class GenerationResult(BaseModel):
    """What every finished MMAudio generation reports: where the file is, the job, the settings used, the cost."""

    output_path: str = Field(description="Absolute path of the finished file on this machine.")
    request_id: str = Field(description="fal's request id of the job.")
    endpoint: str = Field(description="The fal endpoint that ran the job.")
    preset: Optional[str] = Field(default=None, description="The preset used, if any.")
    prompt: str
    negative_prompt: str
    duration: float = Field(description="Seconds of audio requested.")
    num_steps: int
    cfg_strength: float
    seed: int = Field(description="The seed used; pass it again to reproduce this result.")
    mask_away_clip: bool
    cost_usd: float = Field(description="Estimated cost of this job in USD (fal's published price x duration).")
    elapsed_s: float = Field(description="Wall time of the call in seconds.")


class MediaReport(BaseModel):
    """What alice-mcp did with the clip: what it found, which part it used, what it uploaded."""

    clip_duration: Optional[float] = Field(description="Length of the clip in seconds (None: a URL that could not be probed).")
    width: Optional[int] = None
    height: Optional[int] = None
    fps: Optional[float] = None
    has_audio: bool = Field(description="Whether the clip had its own sound.")
    segment_start: float = Field(description="Where the soundtrack starts in the clip (s).")
    segment_end: float = Field(description="Where it ends (s).")
    upload_method: str = Field(description="as_is (original file), cut (stream-copied segment), proxy (small re-encode), or url (fal fetched it).")
    uploaded_bytes: int = Field(description="Bytes sent to fal storage.")
    original_audio: str = Field(description="replace or mix.")


class VideoAudioResult(GenerationResult):
    """A finished video-with-audio generation."""

    video_url: str = Field(description="fal's URL of its copy of the result (expires on fal's schedule).")
    media: Optional[MediaReport] = Field(default=None, description="The clip, the segment and the upload.")
    audio_path: Optional[str] = Field(default=None, description="The generated track alone, if audio_format asked for it.")
    notes: list[str] = Field(default_factory=list, description="Things the user should know (clamped duration, …).")


class AudioResult(GenerationResult):
    """A finished text-to-audio generation (FLAC)."""

    audio_url: str = Field(description="fal's URL of its copy of the audio (expires on fal's schedule).")


class CostEstimate(BaseModel):
    """An estimate of what generation(s) will cost before anything is submitted."""

    usd: float = Field(description="Estimated total in USD.")
    endpoint: str
    duration: float = Field(description="Seconds of audio per generation the estimate assumes.")
    count: int
    formula: str = Field(description="How the number was computed.")
    price_source: str = Field(description="Where the price comes from.")
    notes: list[str] = Field(default_factory=list)


class PresetInfo(BaseModel):
    """One preset as the tools show it."""

    id: str
    title: str
    use_for: str
    prompt: str
    negative_prompt: str
    settings: dict[str, Any]


class PresetList(BaseModel):
    presets: list[PresetInfo]
