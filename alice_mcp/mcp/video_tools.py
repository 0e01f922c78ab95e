"""The MCP face of text-to-video: the ``generate_video`` tool (Kling v2.1 on fal), registered by ``build_server``.

Like every tool it only turns arguments into a request model, calls the core and renders the result.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ResourceLink, TextContent, ToolAnnotations

from alice_mcp.data.idempotency import claim_for
from alice_mcp.data.kling_params import (
    KlingAspectRatioArg,
    KlingCfgScaleArg,
    KlingDurationArg,
    KlingNegativePromptArg,
    KlingPromptArg,
    KlingVideoSettings,
    kling_settings_from,
)
from alice_mcp.data.money import usd
from alice_mcp.data.params import table_default
from alice_mcp.engine.models import VideoRequest, VideoResult
from alice_mcp.mcp.approvals import KlingGuard, approval_message, two_step
from alice_mcp.mcp.tool_support import (
    ApprovalIdArg,
    IdempotencyKeyArg,
    OutputPathArg,
    WaitArg,
    core_of,
    cost_meta,
    progress_sink,
    tool_errors,
)


def register_video_tools(mcp: MCPServer) -> None:
    """Add ``generate_video`` to ``mcp``."""

    @mcp.tool(
        title="Generate a video from text (paid, Kling)",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
        ),
    )
    async def generate_video(
        prompt: KlingPromptArg,
        ctx: Context,
        guard: KlingGuard,  # filled by the user's approval; not in the schema
        duration: KlingDurationArg = table_default("duration", KlingVideoSettings),
        aspect_ratio: KlingAspectRatioArg = table_default("aspect_ratio", KlingVideoSettings),
        negative_prompt: KlingNegativePromptArg = table_default("negative_prompt", KlingVideoSettings),
        cfg_scale: KlingCfgScaleArg = table_default("cfg_scale", KlingVideoSettings),
        output_path: OutputPathArg = None,
        wait_seconds: WaitArg = 40.0,
        approval_id: ApprovalIdArg = None,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> Annotated[CallToolResult, VideoResult]:
        """Generate a silent video clip from a text prompt with Kling v2.1
        (fal-ai/kling-video/v2.1/master/text-to-video) and save the MP4 to the output folder. COSTS MONEY: $1.40 for 5 s, $2.80 for 10 s; use
        estimate_cost with model "kling" first. Kling jobs usually take minutes: after `wait_seconds` a "running"
        result comes with a job_id for get_generation. To give the video sound, call add_audio_to_video with the
        returned output_path."""
        with tool_errors("generate_video"):
            values = {
                "prompt": prompt,
                "duration": duration,
                "aspect_ratio": aspect_ratio,
                "negative_prompt": negative_prompt,
                "cfg_scale": cfg_scale,
            }
            started = time.monotonic()
            job = {**values, "output_path": output_path}
            once = claim_for(idempotency_key, "generate_video", job)
            step = await two_step(ctx, "generate_video", job, guard, approval_id)
            if step.offer is not None:
                settings = kling_settings_from(values)
                return _video_result(
                    VideoResult(
                        job_id=None,
                        status="needs_approval",
                        message=approval_message(step.offer),
                        endpoint=step.offer.endpoint,
                        **settings.model_dump(),
                        cost_usd=step.offer.cost_usd,
                        elapsed_s=round(time.monotonic() - started, 3),
                        approval=step.offer,
                    )
                )
            request = VideoRequest(values=values, output_path=output_path)
            result = await core_of(ctx).generate_video(
                request, progress_sink(ctx), wait_seconds=wait_seconds, confirm=step.confirm, idempotency=once
            )
            return _video_result(result)


def _video_result(result: VideoResult) -> CallToolResult:
    """A short summary, a link to the file and the structured result (never the media bytes)."""
    structured = result.model_dump(mode="json")
    if result.status == "needs_approval":
        return CallToolResult(
            content=[TextContent(type="text", text=result.message or "")], structured_content=structured
        )
    if result.status == "running" or result.output_path is None:
        return CallToolResult(
            content=[TextContent(type="text", text=f"Job {result.job_id}: {result.message}")],
            structured_content=structured,
            meta={"cost": cost_meta(result)},
        )
    path = Path(result.output_path)
    summary = (
        f"Saved {result.output_path} ({result.duration} s, {result.aspect_ratio}, no sound yet; "
        f"~{usd(result.cost_usd)}, {result.elapsed_s:.1f} s). Pass this path to add_audio_to_video to give it sound."
    )
    return CallToolResult(
        content=[
            TextContent(type="text", text=summary),
            ResourceLink(type="resource_link", uri=path.as_uri(), name=path.name, mime_type="video/mp4"),
        ],
        structured_content=structured,
        meta={"cost": cost_meta(result)},
    )
