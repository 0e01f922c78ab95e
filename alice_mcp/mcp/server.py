"""The MCP face: tools that turn arguments into a request model, call the core, and render its result.

No logic lives here beyond argument plumbing, progress rendering and error mapping (AliceError → ToolError).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, AsyncIterator, Optional

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ResourceLink, TextContent, ToolAnnotations
from pydantic import Field

from alice_mcp import __version__
from alice_mcp.adapters.settings import load_settings
from alice_mcp.data.params import (
    ARGS,
    PIPELINE_ARGS,
    PIPELINE_FIELDS,
    TABLE_FIELDS,
    VIDEO_DURATION_ARG,
    refuse_stems_without_a_mix,
)
from alice_mcp.data.presets import PRESETS
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
from alice_mcp.mcp.approvals import AudioGuard, RootsArg, VideoGuard, root_uris
from alice_mcp.mcp.tool_support import (
    ForceArg,
    JobIdArg,
    ModelArg,
    OutputPathArg,
    PresetArg,
    VideoArg,
    WaitArg,
    core_of,
    cost_meta,
    progress_sink,
    tool_errors,
)

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
    mcp = MCPServer("alice-mcp", version=__version__, instructions=INSTRUCTIONS, lifespan=_lifespan)

    @mcp.tool(
        title="Add generated audio to a video (paid)",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
    )
    async def add_audio_to_video(
        video: VideoArg,
        ctx: Context,
        prompt: ARGS["prompt"] = None,
        preset: PresetArg = None,
        negative_prompt: ARGS["negative_prompt"] = None,
        duration: VIDEO_DURATION_ARG = None,
        num_steps: ARGS["num_steps"] = None,
        cfg_strength: ARGS["cfg_strength"] = None,
        seed: ARGS["seed"] = None,
        mask_away_clip: ARGS["mask_away_clip"] = None,
        output_path: OutputPathArg = None,
        start_time: PIPELINE_ARGS["start_time"] = None,
        quality: PIPELINE_ARGS["quality"] = None,
        audio_format: PIPELINE_ARGS["audio_format"] = None,
        original_audio: PIPELINE_ARGS["original_audio"] = None,
        original_level: PIPELINE_ARGS["original_level"] = None,
        generated_level: PIPELINE_ARGS["generated_level"] = None,
        duck_db: PIPELINE_ARGS["duck_db"] = None,
        loudness: PIPELINE_ARGS["loudness"] = None,
        stems: PIPELINE_ARGS["stems"] = None,
        timeline: PIPELINE_ARGS["timeline"] = None,
        timeline_paths: PIPELINE_ARGS["timeline_paths"] = None,
        wait_seconds: WaitArg = 40.0,
        force: ForceArg = False,
        guard: VideoGuard = None,  # type: ignore[assignment] - filled by the client's roots and the user's approval
    ) -> Annotated[CallToolResult, VideoAudioResult]:
        """Generate a soundtrack (ambience, foley, music) synchronized to a video with fal.ai MMAudio V2 and save the
        video with that audio to the output folder, in the original's full quality and container. COSTS MONEY: fal
        charges $0.001 per second of audio (8 s ≈ $0.008); by default the whole clip up to 30 s is soundtracked; use
        estimate_cost first for many or long clips. Give `prompt` or a `preset`. Waits at most `wait_seconds`; a
        "running" result comes with a job_id for get_generation. Repeating a request with the same explicit `seed`
        returns the saved file for free (cached)."""
        with tool_errors("add_audio_to_video"):
            arguments = locals()
            request = VideoAudioRequest(
                video=video,
                preset=preset,
                values=_table_values(arguments),
                output_path=output_path,
                options=_pipeline_values(arguments),
                roots=guard.roots,
            )
            result = await core_of(ctx).add_audio_to_video(
                request, progress_sink(ctx), wait_seconds=wait_seconds, force=force, confirm=guard.confirm
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
        prompt: ARGS["prompt"] = None,
        preset: PresetArg = None,
        negative_prompt: ARGS["negative_prompt"] = None,
        duration: ARGS["duration"] = None,
        num_steps: ARGS["num_steps"] = None,
        cfg_strength: ARGS["cfg_strength"] = None,
        seed: ARGS["seed"] = None,
        output_path: OutputPathArg = None,
        quality: PIPELINE_ARGS["quality"] = None,
        stems: PIPELINE_ARGS["stems"] = None,
        wait_seconds: WaitArg = 40.0,
        force: ForceArg = False,
        guard: AudioGuard = None,  # type: ignore[assignment] - filled by the user's approval
    ) -> Annotated[CallToolResult, AudioResult]:
        """Generate a sound clip (FLAC) from a text prompt with fal.ai MMAudio V2 text-to-audio, no video needed, and
        save it to the output folder. COSTS MONEY: $0.001 per second of audio. Give `prompt` or a `preset`. Waits at
        most `wait_seconds` (a "running" result has a job_id for get_generation)."""
        with tool_errors("generate_audio"):
            refuse_stems_without_a_mix(stems)
            request = AudioRequest(
                preset=preset, values=_table_values(locals()), output_path=output_path, quality=quality
            )
            result = await core_of(ctx).generate_audio(
                request, progress_sink(ctx), wait_seconds=wait_seconds, force=force, confirm=guard.confirm
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
        prompt: ARGS["prompt"] = None,
        preset: PresetArg = None,
        negative_prompt: ARGS["negative_prompt"] = None,
        duration: VIDEO_DURATION_ARG = None,
        num_steps: ARGS["num_steps"] = None,
        cfg_strength: ARGS["cfg_strength"] = None,
        seed: ARGS["seed"] = None,
        mask_away_clip: ARGS["mask_away_clip"] = None,
        start_time: PIPELINE_ARGS["start_time"] = None,
        quality: PIPELINE_ARGS["quality"] = None,
        audio_format: PIPELINE_ARGS["audio_format"] = None,
        original_audio: PIPELINE_ARGS["original_audio"] = None,
        original_level: PIPELINE_ARGS["original_level"] = None,
        generated_level: PIPELINE_ARGS["generated_level"] = None,
        duck_db: PIPELINE_ARGS["duck_db"] = None,
        loudness: PIPELINE_ARGS["loudness"] = None,
        stems: PIPELINE_ARGS["stems"] = None,
        timeline: PIPELINE_ARGS["timeline"] = None,
        timeline_paths: PIPELINE_ARGS["timeline_paths"] = None,
        wait_seconds: WaitArg = 40.0,
        force: ForceArg = False,
        roots: RootsArg = None,
    ) -> BatchResult:
        """add_audio_to_video for many clips with the same settings: one job per video, the estimated total first,
        then each video's result or error. COSTS MONEY per clip ($0.001 per second of audio). Jobs still running
        after `wait_seconds` keep going; get their files with get_generation."""
        with tool_errors("add_audio_to_videos"):
            arguments = locals()
            request = BatchRequest(
                videos=videos,
                preset=preset,
                values=_table_values(arguments),
                options=_pipeline_values(arguments),
                force=force,
                roots=root_uris(roots),
            )
            return await core_of(ctx).add_audio_to_videos(request, progress_sink(ctx), wait_seconds=wait_seconds)

    @mcp.tool(
        title="Get a generation's result or status",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
        ),
    )
    async def get_generation(job_id: JobIdArg, ctx: Context, wait_seconds: WaitArg = 40.0) -> GenerationStatus:
        """Wait up to `wait_seconds` for a job started by a generation tool and return its status: the saved file
        when completed, else where it is (queue position, fal's last log line). Also resumes a job after a restart
        and retries a failed download; it never submits or pays again."""
        with tool_errors("get_generation"):
            return await core_of(ctx).get_generation(job_id, wait_seconds, progress_sink(ctx))

    @mcp.tool(
        title="Cancel a generation",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True
        ),
    )
    async def cancel_generation(job_id: JobIdArg, ctx: Context) -> GenerationStatus:
        """Cancel a running job at fal and record it as cancelled. A job fal already finished is kept (it is paid);
        its file is still saved."""
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
        duration: ARGS["duration"] = None,
        video: Annotated[
            Optional[str],
            Field(default=None, max_length=4096, description="A local video whose length sets the duration."),
        ] = None,
        count: Annotated[int, Field(ge=1, le=10_000, description="How many generations.")] = 1,
        start_time: PIPELINE_ARGS["start_time"] = None,
        model: ModelArg = None,
        roots: RootsArg = None,
    ) -> CostEstimate:
        """Estimate the USD cost of generating audio, from `duration` (seconds) or a local `video`'s length (from
        `start_time`, up to 30 s), times `count`. `model` "kling" prices generate_video instead. Free: nothing is
        uploaded or submitted."""
        with tool_errors("estimate_cost"):
            return await core_of(ctx).estimate_cost(
                duration=duration,
                video=video,
                count=count,
                start_time=start_time or 0.0,
                model=model,
                roots=root_uris(roots),
            )

    _register_surfaces(mcp)
    return mcp


def _register_surfaces(mcp: MCPServer) -> None:
    """The tools, prompts and resources that live in their own modules (they import helpers from this one)."""
    from alice_mcp.mcp.resources import register_prompts_and_resources
    from alice_mcp.mcp.video_tools import register_video_tools

    register_video_tools(mcp)
    register_prompts_and_resources(mcp)


def _table_values(arguments: dict) -> dict:
    """The table parameters among a tool's arguments (``None`` = not given)."""
    return {name: arguments.get(name) for name in TABLE_FIELDS}


def _pipeline_values(arguments: dict) -> dict:
    """The media pipeline options among a tool's arguments (``None`` = not given)."""
    return {name: arguments.get(name) for name in PIPELINE_FIELDS}


def _file_result(result: GenerationResult) -> CallToolResult:
    """A short text summary, a link to the file, and the structured result (never the media bytes)."""
    structured = result.model_dump(mode="json")
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
            f"~${result.cost_usd:.3f}, {result.elapsed_s:.1f} s)."
        )
    for note in getattr(result, "notes", None) or []:
        summary += f"\nNote: {note}"
    return CallToolResult(
        content=[
            TextContent(type="text", text=summary),
            ResourceLink(
                type="resource_link",
                uri=path.as_uri(),
                name=path.name,
                mime_type=FILE_MIME.get(path.suffix.lower(), "application/octet-stream"),
            ),
        ],
        structured_content=structured,
        meta={"cost": cost_meta(result)},
    )


def run_stdio() -> None:
    """Serve over stdio until the client disconnects; malformed JSON-RPC lines are answered (stdio_guard.py)."""
    import anyio

    from alice_mcp.mcp.stdio_guard import serve_stdio

    anyio.run(serve_stdio, build_server())
