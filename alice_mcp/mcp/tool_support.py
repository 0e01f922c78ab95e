"""What every MCP tool shares: argument types, error mapping (AliceError -> ToolError), progress rendering,
the core of the running server, and the cost metadata of a result."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from typing import Annotated, Any, Iterator, Optional, Union, cast

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from alice_mcp.data.errors import AliceError
from alice_mcp.data.progress import Progress, overall_percent
from alice_mcp.engine.core import AliceCore
from alice_mcp.engine.models import GenerationResult, VideoResult

log = logging.getLogger(__name__)

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
VideoModelArg = Annotated[
    Optional[Union[str, list[str]]],
    Field(
        default=None,
        description="The video-to-audio model (see list_models): its short name or fal endpoint id; default "
        '"mmaudio-v2". A list of models makes one take per model (per `takes`), to compare them.',
    ),
]
ModelOptionsArg = Annotated[
    Optional[dict[str, Any]],
    Field(
        default=None,
        description="Controls only this model has, keyed by its own fal field names (list_models shows them), e.g. "
        '{"background_music_prompt": "tense strings"} for kling-video-to-audio.',
    ),
]
TakesArg = Annotated[
    int,
    Field(
        ge=1,
        le=4,
        description="How many variants to make (1-4) under one quote and one approval: different seeds, or the "
        "model's own multi-sample output. Each take is its own saved video.",
    ),
]
ModelArg = Annotated[
    Optional[str],
    Field(
        default=None,
        max_length=128,
        description='Which model to price: a video-to-audio model (see list_models; default "mmaudio-v2"), '
        '"mmaudio-v2/text-to-audio" (generate_audio) or "kling" (generate_video). A fal endpoint id works too.',
    ),
]
OutputPathArg = Annotated[
    Optional[str],
    Field(default=None, max_length=4096, description="File name or path inside the output folder (optional)."),
]
MAX_WAIT_S = 50.0
WaitArg = Annotated[
    float,
    Field(
        ge=0,
        le=MAX_WAIT_S,
        description="Seconds to wait for the result (at most 50, under MCP hosts' 60 s limit). If the job is not "
        'done by then, the result has status "running" and a job_id for get_generation; the job keeps going.',
    ),
]
ForceArg = Annotated[
    bool,
    Field(description="Generate again (and pay) even if the same request with the same explicit seed was made before."),
]
ApprovalIdArg = Annotated[
    Optional[str],
    Field(
        default=None,
        max_length=64,
        description="Only after the user approved a quoted job (a result with status needs_approval): its "
        "approval_id, with exactly the same other arguments. Never invent one.",
    ),
]
IdempotencyKeyArg = Annotated[
    Optional[str],
    Field(
        default=None,
        description="Optional: a name for this request (1-128 of A-Z a-z 0-9 . _ : -, e.g. a UUID). Retrying with the "
        "same key and the same arguments returns the same job and never pays twice, even while the first call runs "
        "or after a restart; the same key with other arguments is an error.",
    ),
]
JobIdArg = Annotated[str, Field(min_length=1, max_length=64, description="The job_id a generation tool returned.")]


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


def progress_sink(ctx: Context):  # type: ignore[no-untyped-def]
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


def given_values(ctx: Context, arguments: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The values of ``names`` among a tool's ``arguments`` that the caller really sent in this ``tools/call``.

    An omitted argument arrives in the tool as the table default the schema publishes; it is left out here, so the
    core lets a preset (or a quality tier) fill it in. A value the caller sent wins, even one equal to the default.
    """
    params = ctx.request_context.params or {}
    sent = params.get("arguments") or {}
    return {name: arguments[name] for name in names if name in sent}


def job_arguments(arguments: dict) -> dict:
    """A tool's own arguments (what makes two calls the same request), without the context and resolved helpers."""
    return {k: v for k, v in arguments.items() if k not in ("ctx", "guard", "started", "self")}


def core_of(ctx: Context) -> AliceCore:
    """The running server's core (what ``build_server``'s lifespan yields)."""
    return cast(AliceCore, ctx.request_context.lifespan_context)


def cost_meta(result: GenerationResult | VideoResult) -> dict:
    """The result's cost for hosts that read ``_meta.cost`` (LibreChat#14489's shape), plus today's total."""
    meta = {"usd": result.cost_usd, "provider": "fal", "model": result.endpoint}
    if result.spent_today_usd is not None:
        meta["today_usd"] = result.spent_today_usd
    return meta
