"""The MCP face: tools that turn arguments into a request model, call the core, and render its result.

No logic lives here beyond argument plumbing, progress rendering and error mapping (AliceError → ToolError).
"""

from __future__ import annotations

import logging
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, AsyncIterator, Optional, Union

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ResourceLink, TextContent, ToolAnnotations
from pydantic import Field

from alice_mcp import __version__
from alice_mcp.adapters.settings import load_settings
from alice_mcp.data import params
from alice_mcp.data.idempotency import claim_for
from alice_mcp.data.money import usd
from alice_mcp.data.params import (
    PIPELINE_FIELDS,
    TABLE_FIELDS,
    TIMELINE_FIELDS,
    AudioFormatArg,
    CfgStrengthArg,
    CuesArg,
    DuckDbArg,
    DurationArg,
    EndTimeArg,
    GeneratedLevelArg,
    LoudnessArg,
    MaskAwayClipArg,
    NegativePromptArg,
    NumStepsArg,
    OriginalAudioArg,
    OriginalLevelArg,
    PipelineOptions,
    PromptArg,
    QualityArg,
    SeedArg,
    SegmentsArg,
    StartTimeArg,
    StemsArg,
    TimelineArg,
    TimelinePathsArg,
    VideoDurationArg,
    refuse_stems_without_a_mix,
    table_default,
    table_field,
)
from alice_mcp.data.presets import PRESETS, preset_values
from alice_mcp.engine.core import AliceCore
from alice_mcp.engine.models import (
    AudioRequest,
    AudioResult,
    BatchRequest,
    BatchResult,
    CostEstimate,
    GenerationList,
    GenerationResult,
    GenerationStatus,
    JobStatusName,
    PresetInfo,
    PresetList,
    VideoAudioRequest,
    VideoAudioResult,
)
from alice_mcp.mcp.approvals import (
    AudioGuard,
    RegenerateGuard,
    RootsArg,
    TwoStep,
    VideoGuard,
    approval_message,
    root_uris,
    two_step,
)
from alice_mcp.mcp.player import PLAYER_TOOL_META, player_extension
from alice_mcp.mcp.tool_support import (
    ApprovalIdArg,
    ForceArg,
    IdempotencyKeyArg,
    JobIdArg,
    ModelArg,
    ModelOptionsArg,
    OutputPathArg,
    PresetArg,
    TakesArg,
    VideoArg,
    VideoModelArg,
    WaitArg,
    core_of,
    cost_meta,
    given_values,
    job_arguments,
    progress_sink,
    tool_errors,
)
from alice_mcp.mcp.wire import AliceServer

log = logging.getLogger(__name__)

FILE_MIME = {
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".m4a": "audio/mp4",
}

INSTRUCTIONS = (
    "alice-mcp adds generated, synchronized audio (ambience, foley, music) to videos with fal.ai's MMAudio V2. "
    "Use list_audio_presets to pick a style, estimate_cost before paid work, then add_audio_to_video with a local "
    "path or https URL. Results are saved to the user's output folder; report the returned output_path. "
    'A call waits at most wait_seconds: if the result says status "running", call get_generation with its job_id '
    "(never start the same request again: that would pay twice)."
)


@asynccontextmanager
async def _lifespan(server: MCPServer) -> AsyncIterator[AliceCore]:
    settings = load_settings()
    core = AliceCore(settings)
    try:
        await anyio.to_thread.run_sync(_clean_work_folders, settings)
    except Exception:  # noqa: BLE001 - tidying up never stops the server
        log.debug("could not clean old work folders", exc_info=True)
    try:
        async with core.serving():
            yield core
    finally:
        await core.aclose()


def _clean_work_folders(settings) -> None:  # type: ignore[no-untyped-def]
    """Start-up: remove work folders a killed process left behind (media/pipeline.py)."""
    from alice_mcp.media.pipeline import work_base

    work_base(settings)


def build_server() -> MCPServer:
    """A new server with every tool registered. No network and no settings are read until it runs."""
    mcp = AliceServer(
        "alice-mcp",
        version=__version__,
        instructions=INSTRUCTIONS,
        lifespan=_lifespan,
        extensions=[player_extension()],
    )

    @mcp.tool(
        title="Add generated audio to a video (paid)",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
        meta=PLAYER_TOOL_META,
    )
    async def add_audio_to_video(
        video: VideoArg,
        ctx: Context,
        guard: VideoGuard,  # filled by the client's roots and the user's approval; not in the schema
        prompt: PromptArg = None,
        preset: PresetArg = None,
        negative_prompt: NegativePromptArg = table_default("negative_prompt"),
        duration: VideoDurationArg = None,
        num_steps: NumStepsArg = table_default("num_steps"),
        cfg_strength: CfgStrengthArg = table_default("cfg_strength"),
        seed: SeedArg = None,
        mask_away_clip: MaskAwayClipArg = table_default("mask_away_clip"),
        output_path: OutputPathArg = None,
        start_time: StartTimeArg = table_default("start_time", PipelineOptions),
        quality: QualityArg = None,
        audio_format: AudioFormatArg = table_default("audio_format", PipelineOptions),
        original_audio: OriginalAudioArg = table_default("original_audio", PipelineOptions),
        original_level: OriginalLevelArg = table_default("original_level", PipelineOptions),
        generated_level: GeneratedLevelArg = table_default("generated_level", PipelineOptions),
        duck_db: DuckDbArg = table_default("duck_db", PipelineOptions),
        loudness: LoudnessArg = table_default("loudness", PipelineOptions),
        stems: StemsArg = table_default("stems", PipelineOptions),
        timeline: TimelineArg = table_default("timeline", PipelineOptions),
        timeline_paths: TimelinePathsArg = table_default("timeline_paths", PipelineOptions),
        end_time: EndTimeArg = None,
        segments: SegmentsArg = None,
        cues: CuesArg = None,
        model: VideoModelArg = None,
        model_options: ModelOptionsArg = None,
        takes: TakesArg = 1,
        wait_seconds: WaitArg = 40.0,
        force: ForceArg = False,
        approval_id: ApprovalIdArg = None,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> Annotated[CallToolResult, VideoAudioResult]:
        """Generate a soundtrack (ambience, foley, music) synchronized to a video with fal.ai MMAudio V2 and save the
        video with that audio to the output folder, in the original's full quality and container. COSTS MONEY: fal
        charges $0.001 per second of audio (8 s ≈ $0.008); by default the whole clip is soundtracked (longer than
        30 s: overlapping windows joined with crossfades, ~1 s extra billed per seam; `segments` and `cues` lay out a
        timeline); use estimate_cost first for many or long clips. Give `prompt` or a `preset`. Waits at most `wait_seconds`; a
        "running" result comes with a job_id for get_generation. Repeating a request with the same explicit `seed`
        returns the saved file for free (cached)."""
        with tool_errors("add_audio_to_video"):
            arguments = locals()
            started = time.monotonic()
            values = given_values(ctx, arguments, TABLE_FIELDS)
            once = claim_for(idempotency_key, "add_audio_to_video", job_arguments(arguments))
            step, values = await _approval_step(ctx, "add_audio_to_video", arguments, values, guard, approval_id)
            if step.offer is not None:
                return _file_result(_needs_approval(VideoAudioResult, step, values, preset, quality, started))
            request = VideoAudioRequest(
                video=video,
                preset=preset,
                values=values,
                output_path=output_path,
                options=given_values(ctx, arguments, PIPELINE_FIELDS),
                timeline=given_values(ctx, arguments, TIMELINE_FIELDS),
                roots=guard.roots,
                model_options=model_options,
                takes=takes,
            )
            result = await core_of(ctx).add_audio_to_video(
                request,
                progress_sink(ctx),
                wait_seconds=wait_seconds,
                force=force,
                confirm=step.confirm,
                idempotency=once,
                model=model,
            )
            return _file_result(result)

    @mcp.tool(
        title="Generate audio from text (paid)",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
    )
    async def generate_audio(
        ctx: Context,
        guard: AudioGuard,  # filled by the user's approval; not in the schema
        prompt: PromptArg = None,
        preset: PresetArg = None,
        negative_prompt: NegativePromptArg = table_default("negative_prompt"),
        duration: DurationArg = table_default("duration"),
        num_steps: NumStepsArg = table_default("num_steps"),
        cfg_strength: CfgStrengthArg = table_default("cfg_strength"),
        seed: SeedArg = None,
        output_path: OutputPathArg = None,
        quality: QualityArg = None,
        stems: StemsArg = table_default("stems", PipelineOptions),
        wait_seconds: WaitArg = 40.0,
        force: ForceArg = False,
        approval_id: ApprovalIdArg = None,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> Annotated[CallToolResult, AudioResult]:
        """Generate a sound clip (FLAC) from a text prompt with fal.ai MMAudio V2 text-to-audio, no video needed, and
        save it to the output folder. COSTS MONEY: $0.001 per second of audio. Give `prompt` or a `preset`. Waits at
        most `wait_seconds` (a "running" result has a job_id for get_generation)."""
        with tool_errors("generate_audio"):
            refuse_stems_without_a_mix(stems)
            arguments = locals()
            started = time.monotonic()
            values = given_values(ctx, arguments, TABLE_FIELDS)
            once = claim_for(idempotency_key, "generate_audio", job_arguments(arguments))
            step, values = await _approval_step(ctx, "generate_audio", arguments, values, guard, approval_id)
            if step.offer is not None:
                return _file_result(_needs_approval(AudioResult, step, values, preset, quality, started))
            request = AudioRequest(preset=preset, values=values, output_path=output_path, quality=quality)
            result = await core_of(ctx).generate_audio(
                request,
                progress_sink(ctx),
                wait_seconds=wait_seconds,
                force=force,
                confirm=step.confirm,
                idempotency=once,
            )
            return _file_result(result)

    @mcp.tool(
        title="Add generated audio to many videos (paid)",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
    )
    async def add_audio_to_videos(
        videos: Annotated[
            list[str],
            Field(min_length=1, max_length=100, description="Video paths, https URLs, or folders (their video files)."),
        ],
        ctx: Context,
        roots: RootsArg,  # the client's roots; not in the schema
        prompt: PromptArg = None,
        preset: PresetArg = None,
        negative_prompt: NegativePromptArg = table_default("negative_prompt"),
        duration: VideoDurationArg = None,
        num_steps: NumStepsArg = table_default("num_steps"),
        cfg_strength: CfgStrengthArg = table_default("cfg_strength"),
        seed: SeedArg = None,
        mask_away_clip: MaskAwayClipArg = table_default("mask_away_clip"),
        start_time: StartTimeArg = table_default("start_time", PipelineOptions),
        quality: QualityArg = None,
        audio_format: AudioFormatArg = table_default("audio_format", PipelineOptions),
        original_audio: OriginalAudioArg = table_default("original_audio", PipelineOptions),
        original_level: OriginalLevelArg = table_default("original_level", PipelineOptions),
        generated_level: GeneratedLevelArg = table_default("generated_level", PipelineOptions),
        duck_db: DuckDbArg = table_default("duck_db", PipelineOptions),
        loudness: LoudnessArg = table_default("loudness", PipelineOptions),
        stems: StemsArg = table_default("stems", PipelineOptions),
        timeline: TimelineArg = table_default("timeline", PipelineOptions),
        timeline_paths: TimelinePathsArg = table_default("timeline_paths", PipelineOptions),
        wait_seconds: WaitArg = 40.0,
        force: ForceArg = False,
    ) -> BatchResult:
        """add_audio_to_video for many clips with the same settings: one job per video, the estimated total first,
        then each video's result or error. COSTS MONEY per clip ($0.001 per second of audio). Jobs still running
        after `wait_seconds` keep going; get their files with get_generation."""
        with tool_errors("add_audio_to_videos"):
            arguments = locals()
            request = BatchRequest(
                videos=videos,
                preset=preset,
                values=given_values(ctx, arguments, TABLE_FIELDS),
                options=given_values(ctx, arguments, PIPELINE_FIELDS),
                force=force,
                roots=root_uris(roots),
            )
            return await core_of(ctx).add_audio_to_videos(request, progress_sink(ctx), wait_seconds=wait_seconds)

    @mcp.tool(
        title="Get a generation's result or status",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
        ),
        meta=PLAYER_TOOL_META,
    )
    async def get_generation(job_id: JobIdArg, ctx: Context, wait_seconds: WaitArg = 40.0) -> GenerationStatus:
        """Wait up to `wait_seconds` for a job started by a generation tool and return its status: the saved file
        when completed, else where it is (queue position, fal's last log line). Also resumes a job after a restart
        and retries a failed download; it never submits or pays again."""
        with tool_errors("get_generation"):
            return await core_of(ctx).get_generation(job_id, wait_seconds, progress_sink(ctx))

    @mcp.tool(
        title="Regenerate soundtrack windows (paid)",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
    )
    async def regenerate_soundtrack_windows(
        job_id: JobIdArg,
        regenerate: RegenerateArg,
        ctx: Context,
        guard: RegenerateGuard,  # filled by the client's roots and the user's approval; not in the schema
        wait_seconds: WaitArg = 40.0,
    ) -> Annotated[CallToolResult, VideoAudioResult]:
        """Redo only some windows of a finished soundtrack (a job of add_audio_to_video with many windows), e.g. the
        window on either side of a seam whose `step_db` is large. COSTS MONEY for those windows alone: every other
        window and cue is kept, the soundtrack is joined again and saved as a new file (a new job_id)."""
        with tool_errors("regenerate_soundtrack_windows"):
            result = await core_of(ctx).regenerate_soundtrack_windows(
                job_id, list(regenerate), progress_sink(ctx), wait_seconds=wait_seconds, confirm=guard.confirm
            )
            return _file_result(result)

    @mcp.tool(
        title="Cancel a generation",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True
        ),
    )
    async def cancel_generation(job_id: JobIdArg, ctx: Context) -> GenerationStatus:
        """Cancel a job. A job still queued at fal (or not yet sent) is cancelled and not billed. A job fal has
        already started may still finish and be billed (fal only signals it): it is never dropped, and if fal
        finishes it, its file is saved (the result's `note` and `message` say so and where). A job fal already
        finished is kept and saved."""
        with tool_errors("cancel_generation"):
            return await core_of(ctx).cancel_generation(job_id)

    @mcp.tool(
        title="List recent generations",
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
    )
    async def list_generations(
        ctx: Context,
        limit: Annotated[int, Field(ge=1, le=200, description="How many jobs, newest first.")] = 20,
        status: Annotated[Optional[JobStatusName], Field(description="Only jobs with this status.")] = None,
    ) -> GenerationList:
        """Recent jobs from the ledger, newest first, with status, cost and output path."""
        with tool_errors("list_generations"):
            return await core_of(ctx).list_generations(limit, status)

    @mcp.tool(
        title="List audio style presets",
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
    )
    async def list_audio_presets() -> PresetList:
        """List the audio style presets (id, title, prompt, negative prompt, recommended settings, what it is for).
        Pass a preset's id as `preset` to add_audio_to_video."""
        return PresetList(presets=[PresetInfo(**p.model_dump()) for p in PRESETS])

    @mcp.tool(
        title="Estimate generation cost",
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
    )
    async def estimate_cost(
        ctx: Context,
        roots: RootsArg,  # the client's roots; not in the schema
        duration: Annotated[
            Optional[float],
            table_field(
                "duration",
                description="Seconds of audio to price (1-30). Default: the `video`'s length, else the model's default.",
            ),
        ] = None,
        video: Annotated[
            Optional[str],
            Field(default=None, max_length=4096, description="A local video whose length sets the duration."),
        ] = None,
        count: Annotated[int, Field(ge=1, le=10_000, description="How many generations.")] = 1,
        start_time: StartTimeArg = table_default("start_time", PipelineOptions),
        model: ModelArg = None,
    ) -> CostEstimate:
        """Estimate the USD cost of generating audio, from `duration` (seconds) or a local `video`'s length (from
        `start_time`), times `count`. A clip longer than one window of the model is priced as a whole soundtrack
        (every window and cue; `count` = takes, each a whole soundtrack). `model` "kling" prices generate_video
        instead. Free: nothing is uploaded or submitted."""
        with tool_errors("estimate_cost"):
            return await core_of(ctx).estimate_cost(
                duration=duration,
                video=video,
                count=count,
                start_time=start_time,
                model=model,
                roots=root_uris(roots),
            )

    _register_surfaces(mcp)
    return mcp


RegenerateArg = Annotated[
    list[Union[int, str]],
    Field(
        min_length=1,
        max_length=100,
        description="The windows to redo: each by its index (0, 1, ... as in the result's soundtrack.windows) or by "
        "a time on the clip such as '12.5s'.",
    ),
]


def _register_surfaces(mcp: MCPServer) -> None:
    """The tools, prompts and resources that live in their own modules (they import helpers from this one)."""
    from alice_mcp.mcp.model_tools import register_model_tools
    from alice_mcp.mcp.resources import register_prompts_and_resources
    from alice_mcp.mcp.video_tools import register_video_tools

    register_video_tools(mcp)
    register_model_tools(mcp)
    register_prompts_and_resources(mcp)


async def _approval_step(  # type: ignore[no-untyped-def]
    ctx: Context, tool: str, arguments: dict, values: dict, guard, approval_id: Optional[str]
) -> tuple[TwoStep, dict]:
    """The two-step approval of an MMAudio tool (see :func:`alice_mcp.mcp.approvals.two_step`) and the table values
    to run with: a quoted job without an explicit seed pins the seed it drew, and its approved run uses that seed."""
    given = job_arguments(arguments)
    seed = {} if values.get("seed") is not None else {"seed": params.draw_seed()}
    step = await two_step(ctx, tool, given, guard, approval_id, pin=seed)
    pinned_seed = (step.pinned or {}).get("seed")
    if step.offer is not None:
        return step, {**values, **seed}
    if approval_id is not None and values.get("seed") is None and pinned_seed is not None:
        return step, {**values, "seed": pinned_seed}
    return step, values


def _needs_approval(model, step: TwoStep, values: dict, preset, quality, started: float):  # type: ignore[no-untyped-def]
    """A tool's normal (non-error) result for a job that waits for the user's yes: the settings it will run with."""
    offer = step.offer
    assert offer is not None
    settings = params.settings_from(values, {**preset_values(preset), **params.quality_values(quality)})
    return model(
        job_id=None,
        status="needs_approval",
        message=approval_message(offer),
        endpoint=offer.endpoint,
        preset=preset,
        **{**settings.model_dump(), "duration": offer.seconds},  # what the quote bills (a clip: its length)
        cost_usd=offer.cost_usd,
        elapsed_s=round(time.monotonic() - started, 3),
        approval=offer,
    )


def _file_result(result: GenerationResult) -> CallToolResult:
    """A short text summary, a link to the file, and the structured result (never the media bytes)."""
    structured = result.model_dump(mode="json")
    if result.status == "needs_approval":
        return CallToolResult(
            content=[TextContent(type="text", text=result.message or "")], structured_content=structured
        )
    if result.status == "running" or result.output_path is None:
        text = f"Job {result.job_id}: {result.message}"
        return CallToolResult(
            content=[TextContent(type="text", text=text)],
            structured_content=structured,
            meta={"cost": cost_meta(result)},
        )
    path = Path(result.output_path)
    if result.cached:
        summary = (
            f"Already made by job {result.job_id} with the same input, settings and seed {result.seed}: "
            f"{result.output_path} (cached, $0). Pass force=true to generate again."
        )
    else:
        summary = (
            f"Saved {result.output_path} ({result.duration:g} s of audio, seed {result.seed}, "
            f"~{usd(result.cost_usd)}, {result.elapsed_s:.1f} s)."
        )
    takes = getattr(result, "takes", None) or []
    if len(takes) > 1:
        lines = [
            f"  {k}. {t.output_path} (model {t.model}, seed {t.seed if t.seed is not None else 'n/a'}, "
            f"~${t.cost_usd:.3f}{', cached' if t.cached else ''}{', fal copy ' + t.url if t.url else ''})"
            for k, t in enumerate(takes, 1)
        ]
        summary = (
            f"Made {len(takes)} takes (~${result.cost_usd:.3f} in all). Present them to the user as a numbered list "
            "with model and seed, let them listen (hosts with MCP Apps show a side-by-side player), and ask which "
            "take to keep; the others can be deleted. Repeating a take's seed with the same model reproduces it.\n"
            + "\n".join(lines)
        )
    elif takes and takes[0].model != "mmaudio-v2":
        summary = summary.rstrip(".") + f", model {takes[0].model})."
    for note in getattr(result, "notes", None) or []:
        summary += f"\nNote: {note}"
    paths = [Path(t.output_path) for t in takes if t.output_path] or [path]
    return CallToolResult(
        content=[
            TextContent(type="text", text=summary),
            *[
                ResourceLink(
                    type="resource_link",
                    uri=p.as_uri(),
                    name=p.name,
                    mime_type=FILE_MIME.get(p.suffix.lower(), "application/octet-stream"),
                )
                for p in paths
            ],
        ],
        structured_content=structured,
        meta={"cost": cost_meta(result)},
    )


def run_stdio() -> None:
    """Serve over stdio until the client disconnects, or until Ctrl-C (SIGINT).

    The SDK reads stdin in a worker thread whose blocking read cannot be interrupted, so the default Ctrl-C handling
    would wait for the next line on stdin. An idle server therefore stops at once: that loses nothing, since every
    job is in the ledger, fal keeps running the ones it has, and the next start resumes them (as after a host quits).
    While a file is being written (a result, a job's work folder), Ctrl-C first lets the writers clean up (at most
    :data:`STOP_GRACE_S`); a second Ctrl-C stops at once.
    """
    import signal

    import anyio

    from alice_mcp.mcp.stdio_guard import serve_stdio

    signal.signal(signal.SIGINT, _on_ctrl_c)
    server = build_server()
    log.info("alice-mcp %s: MCP server on stdio, waiting for a client (Ctrl-C stops it)", __version__)
    anyio.run(serve_stdio, server)  # malformed JSON-RPC lines are answered (stdio_guard.py)


STOP_GRACE_S = 5.0
_STOPPED = (
    "alice-mcp: stopped (Ctrl-C). Jobs still running at fal were not cancelled; the next start resumes them from "
    "the ledger.\n"
)


def _on_ctrl_c(signum: int, frame: object) -> None:
    """SIGINT handler of the stdio server: stop at once when idle, else let the files being written be cleaned up."""
    import signal
    import threading

    from alice_mcp.adapters import scratch

    if not scratch.busy():
        _exit_now()
    sys.stderr.write("alice-mcp: stopping (Ctrl-C): cleaning up the files being written...\n")
    sys.stderr.flush()
    signal.signal(signal.SIGINT, lambda *_: _exit_now())
    threading.Thread(target=_exit_after, args=(STOP_GRACE_S,), daemon=True).start()
    raise KeyboardInterrupt


def _exit_after(seconds: float) -> None:
    import time

    deadline = time.monotonic() + seconds
    from alice_mcp.adapters import scratch

    while scratch.busy() and time.monotonic() < deadline:
        time.sleep(0.05)
    _exit_now()


def _exit_now() -> None:
    """Say so on stderr and exit with 130 without waiting for stdin."""
    import os

    sys.stderr.write(_STOPPED)
    sys.stderr.flush()
    os._exit(130)
