"""Request and result models shared by the core and every face. Results are the tools' output schemas."""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, Field


class TakeInfo(BaseModel):
    """One take of an add_audio_to_video request: its own video with the generated audio."""

    output_path: Optional[str] = Field(description="The saved video with this take's audio (null while running).")
    seed: Optional[int] = Field(description="The seed of the call that made it (null: the model takes no seed).")
    sample: Optional[int] = Field(default=None, description="Which sample of a multi-sample call (1-based).")
    model: str
    endpoint: str
    cost_usd: float = Field(description="This take's share of the cost (0 when cached).")
    url: Optional[str] = Field(default=None, description="fal's URL of the generated file (the player uses it).")
    kind: str = "video"
    job_id: str
    cached: bool = False
    status: str = "completed"


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
    timeline: dict[str, Any] = Field(default_factory=dict)  # params.TimelineOptions fields; None = not given
    roots: Optional[list[str]] = Field(
        default=None, description="The client's MCP roots (file:// URIs): local files are read only inside them."
    )
    model_options: Optional[dict[str, Any]] = None  # the model's own fal fields (see list_models)
    takes: int = 1


class BatchRequest(BaseModel):
    """Many videos with shared settings: ``videos`` holds paths, URLs or folders (their video files, not recursive)."""

    videos: list[str]
    preset: Optional[str] = None
    values: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)  # params.PipelineOptions fields; None = not given
    force: bool = False
    roots: Optional[list[str]] = Field(
        default=None, description="The client's MCP roots (file:// URIs): local files are read only inside them."
    )


class AudioRequest(BaseModel):
    """What a face hands the core for one text-to-audio generation (no video)."""

    preset: Optional[str] = None
    values: dict[str, Any] = Field(default_factory=dict)
    output_path: Optional[str] = None
    quality: Optional[Literal["draft", "balanced", "high"]] = None


class ApprovalRequest(BaseModel):
    """A paid job quoted but not run: it waits for the user's yes (two-step approval, for hosts that cannot ask
    inside the protocol). Repeat the call with the same arguments and ``approval_id`` to run exactly this job."""

    approval_id: str = Field(description="Pass it back with exactly the same arguments once the user has said yes.")
    cost_usd: float = Field(description="What the job will cost in USD.")
    formula: str = Field(description="How the cost was computed.")
    seconds: float = Field(description="Seconds of output the cost covers.")
    endpoint: str = Field(description="The fal endpoint that will run the job.")
    expires_at: str = Field(description="When the approval lapses (ISO 8601, UTC); then ask for a new quote.")


class GenerationResult(BaseModel):
    """What every MMAudio generation reports: where the file is, the job, the settings used, the cost.

    A job still running after the call's wait has ``status="running"``, its ``job_id``, ``progress`` and a
    ``message``; ``output_path`` and the URLs are empty until it completes.
    """

    job_id: Optional[str] = Field(
        description="alice-mcp's id of the job: pass it to get_generation or cancel_generation (None while the job "
        "needs approval and has not started)."
    )
    status: Literal["completed", "running", "needs_approval"] = Field(
        description="completed: the file is saved. running: still in progress; call get_generation with job_id. "
        "needs_approval: nothing ran or was charged; ask the user to approve `approval` (cost and formula), then "
        "call again with the same arguments and its approval_id."
    )
    cached: bool = Field(
        default=False,
        description="True: the same request (same input, settings and explicit seed) was made before; its file is "
        "returned and nothing was paid.",
    )
    progress: Optional[float] = Field(default=None, description="How far a running job is, 0-100.")
    message: Optional[str] = Field(default=None, description="For a running job: where it is and what to do next.")
    output_path: Optional[str] = Field(default=None, description="Absolute path of the finished file on this machine.")
    request_id: Optional[str] = Field(default=None, description="fal's request id of the job (once submitted).")
    endpoint: str = Field(description="The fal endpoint that ran the job.")
    preset: Optional[str] = Field(default=None, description="The preset used, if any.")
    model: Optional[str] = Field(default=None, description="The model that made it (see list_models).")
    prompt: str = ""
    negative_prompt: Optional[str] = None
    duration: float = Field(description="Seconds of audio requested.")
    num_steps: Optional[int] = None
    cfg_strength: Optional[float] = None
    seed: Optional[int] = Field(
        default=None, description="The seed used (null for a model without seeds); pass it again to reproduce."
    )
    mask_away_clip: Optional[bool] = None
    cost_usd: float = Field(
        description="Estimated cost of this call in USD (fal's published price x duration; 0 when cached)."
    )
    spent_today_usd: Optional[float] = Field(
        default=None, description="Total recorded spend today (USD, since local midnight) on this server's fal jobs."
    )
    elapsed_s: float = Field(description="Wall time of the call in seconds.")
    approval: Optional[ApprovalRequest] = Field(
        default=None, description="With status needs_approval: the quote the user must approve, and its approval_id."
    )


class MediaReport(BaseModel):
    """What alice-mcp did with the clip: what it found, which part it used, what it uploaded."""

    clip_duration: Optional[float] = Field(
        description="Length of the clip in seconds (None: a URL that could not be probed)."
    )
    width: Optional[int] = None
    height: Optional[int] = None
    fps: Optional[float] = None
    has_audio: bool = Field(description="Whether the clip had its own sound.")
    segment_start: float = Field(description="Where the soundtrack starts in the clip (s).")
    segment_end: float = Field(description="Where it ends (s).")
    upload_method: str = Field(
        description="as_is (original file), cut (stream-copied segment), proxy (small re-encode), or url (fal fetched it)."
    )
    uploaded_bytes: int = Field(
        description="Bytes sent to fal storage (0 when an earlier upload of the same content was reused)."
    )
    original_audio: str = Field(description="replace, mix or duck.")


class LoudnessReport(BaseModel):
    """EBU R128 figures measured (FFmpeg's ebur128) on the saved file, never planned ones; the target, if any."""

    integrated_lufs: Optional[float] = Field(
        description="Integrated loudness of the saved file (LUFS); None: silent (below the meter's gate)."
    )
    true_peak_dbtp: Optional[float] = Field(description="Its true peak (dBTP); None: digital silence.")
    lra_lu: Optional[float] = Field(description="Its loudness range (LU).")
    measured_on: str = Field(description="The file measured.")
    target: Optional[str] = Field(default=None, description="youtube, social, broadcast or a number of LUFS.")
    target_lufs: Optional[float] = None
    target_true_peak_dbtp: Optional[float] = None
    premaster_lufs: Optional[float] = Field(
        default=None, description="Integrated loudness of the mix before normalisation (pass 1)."
    )


class SoundtrackPart(BaseModel):
    """One window or cue of a soundtrack: where it sits on the clip's timeline and how its job went."""

    index: int
    start: float = Field(description="Where the part's audio starts on the clip's timeline (s).")
    end: float = Field(description="Where it ends (s); windows overlap their neighbours by their crossfades.")
    prompt: str
    segment: Optional[int] = Field(default=None, description="The caller's segment this window belongs to.")
    gain_db: Optional[float] = Field(default=None, description="A cue's level over the bed (dB).")
    status: Literal["queued", "running", "done", "failed"] = Field(
        description="queued: waiting for a slot (ALICE_MAX_CONCURRENT_JOBS); running: its job is being made or at "
        "fal; done: its audio is in the soundtrack; failed: it failed twice (silence there: regenerate it)."
    )
    job_id: Optional[str] = Field(default=None, description="The part's own job (its latest attempt).")
    cost_usd: float = Field(description="What the part costs (its quote; 0 for a part kept from an earlier job).")
    attempts: Optional[int] = Field(
        default=None, description="How many times it was tried (a failure is retried once)."
    )
    error: Optional[str] = Field(default=None, description="Why a failed part failed (its last attempt's error).")


class SoundtrackSeam(BaseModel):
    """Where two windows meet: an equal-power crossfade, and the loudness step measured across it."""

    index: int = Field(description="The seam between window `index` and window `index + 1`.")
    at: float = Field(description="The seam's time on the clip's timeline (s).")
    kind: Literal["crossfade", "scene_cut"] = Field(description="scene_cut: a short crossfade at a hard picture cut.")
    fade_s: float = Field(description="Length of the crossfade (s).")
    step_db: Optional[float] = Field(
        default=None,
        description="Loudness after minus before the seam (dB, EBU R128 short-term); large steps are audible seams: "
        "regenerate the window on either side.",
    )
    measure: Optional[str] = Field(default=None, description="short-term (3 s) or momentary (0.4 s, short windows).")


class SoundtrackReport(BaseModel):
    """A soundtrack of any length: its windows, cues and seams on the clip's timeline, and how far its parts are."""

    start: float
    end: float
    windows: list[SoundtrackPart]
    cues: list[SoundtrackPart]
    seams: list[SoundtrackSeam]
    parts_done: int
    parts_total: int
    billed_seconds: float = Field(description="Seconds of audio billed for all parts (windows and cues).")
    overlap_seconds: float = Field(description="Of those, the seconds billed twice because windows overlap.")
    failed_spans: list[str] = Field(
        default_factory=list, description="Spans whose part failed twice: silence (or the clip's sound) there."
    )


class VideoAudioResult(GenerationResult):
    """A video-with-audio generation (finished, or still running)."""

    video_url: Optional[str] = Field(
        default=None, description="fal's URL of its copy of the result (expires on fal's schedule)."
    )
    media: Optional[MediaReport] = Field(default=None, description="The clip, the segment and the upload.")
    audio_path: Optional[str] = Field(
        default=None, description="The generated track alone, if audio_format asked for it."
    )
    notes: list[str] = Field(default_factory=list, description="Things the user should know (clamped duration, …).")
    loudness: Optional[LoudnessReport] = Field(
        default=None, description="The result's loudness, measured on the saved file (when it was mixed down)."
    )
    stems: dict[str, str] = Field(
        default_factory=dict,
        description="The stems saved next to the video (bed, cues, original, mix -> path): WAV, aligned, pre-master.",
    )
    timeline_path: Optional[str] = Field(default=None, description="The editing timeline saved next to the video.")
    soundtrack: Optional[SoundtrackReport] = Field(
        default=None, description="For a soundtrack of many windows: where each window and cue sits, and the seams."
    )
    takes: list[TakeInfo] = Field(
        default_factory=list,
        description="Every take of the request (output_path = the first take's); empty for a single MMAudio result.",
    )


class AudioResult(GenerationResult):
    """A finished text-to-audio generation (FLAC)."""

    audio_url: Optional[str] = Field(
        default=None, description="fal's URL of its copy of the audio (expires on fal's schedule)."
    )


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
    finishing: dict[str, Any] = Field(default_factory=dict, description="Media options the preset sets, if any.")
    model: Optional[str] = Field(default=None, description="A recommended `model` for this preset (a hint).")


class PresetList(BaseModel):
    presets: list[PresetInfo]


JobStatusName = Literal[
    "pending", "submitting", "running", "completed_at_fal", "completed", "failed", "cancelled", "submit_unknown"
]


class GenerationStatus(BaseModel):
    """A job as the ledger knows it, with live progress when it runs in this server."""

    job_id: str
    status: JobStatusName = Field(
        description="pending (preparing/uploading), submitting, running (at fal), completed_at_fal (fal finished; "
        "the file is not saved yet), completed, failed, cancelled, submit_unknown (fal may have accepted it; not re-sent)."
    )
    message: str = Field(description="What the status means and what to do next.")
    tool: str = Field(description="The tool that started the job.")
    endpoint: str
    request_id: Optional[str] = Field(default=None, description="fal's request id, once submitted.")
    output_path: Optional[str] = Field(default=None, description="Absolute path of the saved file (completed jobs).")
    file_url: Optional[str] = Field(default=None, description="fal's URL of the result, once fal finished.")
    cost_usd: float = Field(description="Estimated cost of the job in USD.")
    progress: Optional[float] = Field(default=None, description="0-100 while the job runs in this server.")
    stage: Optional[str] = Field(
        default=None, description="checking, uploading, queued, generating, downloading, finishing."
    )
    queue_position: Optional[int] = None
    last_log: Optional[str] = Field(default=None, description="fal's latest log line.")
    error: Optional[str] = None
    error_code: Optional[str] = None
    note: Optional[str] = Field(
        default=None, description="E.g. a cancel that came too late: fal ran the job anyway and its result is kept."
    )
    created_at: str = Field(description="When the job was recorded (ISO 8601, UTC).")
    updated_at: str
    settings: dict[str, Any] = Field(default_factory=dict, description="The generation settings (prompt, seed, ...).")
    soundtrack: Optional[SoundtrackReport] = Field(
        default=None, description="For a soundtrack of many windows: its windows, cues, seams and parts done."
    )


class GenerationSummary(BaseModel):
    """One line of list_generations."""

    job_id: str
    status: JobStatusName
    tool: str
    created_at: str
    cost_usd: float
    output_path: Optional[str] = None
    prompt: Optional[str] = None
    error: Optional[str] = None
    note: Optional[str] = None


class GenerationList(BaseModel):
    jobs: list[GenerationSummary]
    count: int
    total_cost_usd: float = Field(description="Sum of the listed jobs' estimated costs.")


class BatchItem(BaseModel):
    """One video of a batch: its job, or why it could not start."""

    video: str
    job_id: Optional[str] = None
    status: Literal["completed", "running", "failed"]
    cached: bool = False
    output_path: Optional[str] = None
    cost_usd: float = 0.0
    error: Optional[str] = None


class BatchResult(BaseModel):
    """add_audio_to_videos: the estimate given up front, then one entry per video."""

    estimate_usd: float = Field(description="Estimated total for the videos that were started.")
    count: int
    completed: int
    running: int
    failed: int
    items: list[BatchItem]
    message: str


class VideoRequest(BaseModel):
    """What a face hands the core for one text-to-video generation (Kling). ``values`` holds the explicit
    :class:`~alice_mcp.data.kling_params.KlingVideoSettings` fields (``None`` or absent = not given)."""

    values: dict[str, Any] = Field(default_factory=dict)
    output_path: Optional[str] = None


class VideoResult(BaseModel):
    """A text-to-video generation (an MP4 without sound; add_audio_to_video can give it one): the saved file, or the
    job still running after the call's wait (``status="running"``, its ``job_id`` and a ``message``)."""

    job_id: Optional[str] = Field(
        description="alice-mcp's id of the job: pass it to get_generation or cancel_generation (None while the job "
        "needs approval and has not started)."
    )
    status: Literal["completed", "running", "needs_approval"] = Field(
        description="completed: the file is saved. running: still in progress; call get_generation with job_id. "
        "needs_approval: nothing ran or was charged; ask the user to approve `approval` (cost and formula), then "
        "call again with the same arguments and its approval_id."
    )
    progress: Optional[float] = Field(default=None, description="How far a running job is, 0-100.")
    message: Optional[str] = Field(default=None, description="For a running job: where it is and what to do next.")
    output_path: Optional[str] = Field(default=None, description="Absolute path of the finished video on this machine.")
    video_url: Optional[str] = Field(
        default=None, description="fal's URL of its copy of the video (expires on fal's schedule)."
    )
    request_id: Optional[str] = Field(default=None, description="fal's request id of the job (once submitted).")
    endpoint: str = Field(description="The fal endpoint that ran the job.")
    prompt: str
    negative_prompt: str
    duration: str = Field(description='Length of the video in seconds, as fal takes it ("5" or "10").')
    aspect_ratio: str
    cfg_scale: float
    cost_usd: float = Field(description="Estimated cost of this job in USD (fal's published price for its length).")
    spent_today_usd: Optional[float] = Field(
        default=None, description="Total recorded spend today (USD, since local midnight) on this server's fal jobs."
    )
    elapsed_s: float = Field(description="Wall time of the call in seconds.")
    approval: Optional[ApprovalRequest] = Field(
        default=None, description="With status needs_approval: the quote the user must approve, and its approval_id."
    )


class ModelInfo(BaseModel):
    """One video-to-audio model as ``list_models`` shows it (from :mod:`alice_mcp.data.foley_models`)."""

    model: str = Field(description="Short name to pass as `model` (the fal endpoint id works too).")
    endpoint_id: str
    title: str
    best_at: str = Field(description="What it is best at, from the published evidence.")
    limits: str = Field(description="Clip limits per call.")
    price: str = Field(description="fal's price rule ('(unverified)' when fal does not publish it).")
    output: str
    multi_sample: bool = Field(description="Whether one call returns several takes.")
    common_arguments: dict[str, str] = Field(description="Common argument -> this model's own fal field name.")
    model_options: list[str] = Field(description="Keys `model_options` takes (this model's own fal field names).")
    seed: Optional[str] = Field(description="Seed range, or null if the model takes no seed.")
    unverified: list[str] = Field(description="What fal does not confirm about this model.")
    default: bool = False


class ModelList(BaseModel):
    models: list[ModelInfo]
    how_to_choose: str
