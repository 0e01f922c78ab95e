"""The MCP face: tools that turn arguments into a request model, call the core, and render its result.

No logic lives here beyond argument plumbing, progress rendering and error mapping (AliceError → ToolError).
"""

from __future__ import annotations

import logging
from pathlib import Path
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, AsyncIterator, Iterator, Optional

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, ResourceLink, TextContent, ToolAnnotations
from pydantic import Field

from . import __version__
from .config import load_settings
from .core import AliceCore
from .errors import AliceError
from .models import (
    AudioRequest,
    AudioResult,
    CostEstimate,
    GenerationResult,
    PresetInfo,
    PresetList,
    VideoAudioRequest,
    VideoAudioResult,
)
from .params import ARGS, PIPELINE_ARGS, PIPELINE_FIELDS, TABLE_FIELDS, VIDEO_DURATION_ARG
from .presets import PRESETS
from .progress import Progress, overall_percent

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "alice-mcp adds generated, synchronized audio (ambience, foley, music) to videos with fal.ai's MMAudio V2. "
    "Use list_audio_presets to pick a style, estimate_cost before paid work, then add_audio_to_video with a local "
    "path or https URL. Results are saved to the user's output folder; report the returned output_path."
)

VideoArg = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,
        description="The clip: an absolute local path, ~/path, file:// URI, or https:// URL.",
    ),
]
PresetArg = Annotated[
    Optional[str],
    Field(default=None, max_length=64, description="A preset id from list_audio_presets; explicit values win."),
]
VIDEO_MIME = {".mp4": "video/mp4", ".mov": "video/quicktime", ".mkv": "video/x-matroska", ".webm": "video/webm"}
OutputPathArg = Annotated[
    Optional[str],
    Field(default=None, max_length=4096, description="File name or path inside the output folder (optional)."),
]


@asynccontextmanager
async def _lifespan(server: MCPServer) -> AsyncIterator[AliceCore]:
    core = AliceCore(load_settings())
    try:
        yield core
    finally:
        await core.aclose()


@contextmanager
def tool_errors(tool: str) -> Iterator[None]:
    """AliceError → ToolError with its message; anything else is a bug: log it, say so, and where the log is."""
    try:
        yield
    except AliceError as exc:
        log.info("%s: %s (%s)", tool, exc.message, exc.code)
        raise ToolError(exc.message) from None
    except ToolError:
        raise
    except Exception as exc:
        log.exception("bug in %s", tool)
        raise ToolError(
            f"Internal error in alice-mcp ({type(exc).__name__}); this is a bug. The traceback is in the server's "
            "stderr log (for Claude Desktop: mcp-server-alice-mcp.log)."
        ) from None


def _progress_sink(ctx: Context):  # type: ignore[no-untyped-def]
    """Render core progress as MCP progress notifications: monotonic, 0-100, only if the client asked."""
    last = -1.0

    async def sink(event: Progress) -> None:
        nonlocal last
        value = max(overall_percent(event), last)
        if value == last and event.stage not in ("queued", "generating"):
            return
        last = value
        await ctx.report_progress(value, 100, event.message)

    return sink


def _core(ctx: Context) -> AliceCore:
    return ctx.request_context.lifespan_context


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
    ) -> Annotated[CallToolResult, VideoAudioResult]:
        """Generate a soundtrack (ambience, foley, music) synchronized to a video with fal.ai MMAudio V2 and save the
        video with that audio to the output folder, in the original's full quality and container. COSTS MONEY: fal
        charges $0.001 per second of audio (8 s ≈ $0.008); by default the whole clip up to 30 s is soundtracked; use
        estimate_cost first for many or long clips. Give `prompt` or a `preset`."""
        with tool_errors("add_audio_to_video"):
            arguments = locals()
            request = VideoAudioRequest(
                video=video, preset=preset, values=_table_values(arguments), output_path=output_path,
                options={name: arguments.get(name) for name in PIPELINE_FIELDS},
            )
            result = await _core(ctx).add_audio_to_video(request, _progress_sink(ctx))
            return _file_result(result, VIDEO_MIME.get(Path(result.output_path).suffix.lower(), "video/mp4"))

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
    ) -> Annotated[CallToolResult, AudioResult]:
        """Generate a sound clip (FLAC) from a text prompt with fal.ai MMAudio V2 text-to-audio, no video needed, and
        save it to the output folder. COSTS MONEY: $0.001 per second of audio. Give `prompt` or a `preset`."""
        with tool_errors("generate_audio"):
            request = AudioRequest(preset=preset, values=_table_values(locals()), output_path=output_path, quality=quality)
            result = await _core(ctx).generate_audio(request, _progress_sink(ctx))
            return _file_result(result, "audio/flac")

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
        video: Annotated[Optional[str], Field(default=None, max_length=4096, description="A local video whose length sets the duration.")] = None,
        count: Annotated[int, Field(ge=1, le=10_000, description="How many generations.")] = 1,
        start_time: PIPELINE_ARGS["start_time"] = None,
    ) -> CostEstimate:
        """Estimate the USD cost of generating audio, from `duration` (seconds) or a local `video`'s length (from
        `start_time`, up to 30 s), times `count`. Free: nothing is uploaded or submitted."""
        with tool_errors("estimate_cost"):
            return await _core(ctx).estimate_cost(duration=duration, video=video, count=count, start_time=start_time or 0.0)

    return mcp


def _table_values(arguments: dict) -> dict:
    """The table parameters among a tool's arguments (``None`` = not given)."""
    return {name: arguments.get(name) for name in TABLE_FIELDS}


def _file_result(result: GenerationResult, mime_type: str) -> CallToolResult:
    """A short text summary, a link to the file, and the structured result (never the media bytes)."""
    path = Path(result.output_path)
    summary = (
        f"Saved {result.output_path} ({result.duration:g} s of audio, seed {result.seed}, "
        f"~${result.cost_usd:.3f}, {result.elapsed_s:.1f} s)."
    )
    for note in getattr(result, "notes", None) or []:
        summary += f"\nNote: {note}"
    return CallToolResult(
        content=[
            TextContent(type="text", text=summary),
            ResourceLink(type="resource_link", uri=path.as_uri(), name=path.name, mime_type=mime_type),
        ],
        structured_content=result.model_dump(mode="json"),
    )


def run_stdio() -> None:
    """Serve over stdio until the client disconnects."""
    build_server().run("stdio")
