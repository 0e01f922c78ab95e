"""Read-only MCP surfaces for assistants: the ``soundtrack_clip`` prompt, the ``alice://presets`` resources and
``alice://jobs/{job_id}`` (a job's status from the ledger).

Registered by ``build_server``. Nothing here costs money or touches the network.
"""

from __future__ import annotations

import json
from typing import Annotated, Optional

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from pydantic import Field

from alice_mcp.data.errors import AliceError, InputError, JobNotFound
from alice_mcp.data.presets import PRESETS, get_preset
from alice_mcp.engine.models import PresetInfo, PresetList
from alice_mcp.engine.recipes.registry import foley_models
from alice_mcp.mcp.tool_support import core_of

PRESETS_URI = "alice://presets"
JOBS_URI = "alice://jobs"


def soundtrack_instructions(video: str, mood: str | None = None) -> str:
    """The steps an assistant should follow to soundtrack ``video`` (optionally in a ``mood``)."""
    wanted = (
        f"The user wants it to feel: {mood.strip()}."
        if mood and mood.strip()
        else ("The user gave no mood: choose what fits what happens in the clip.")
    )
    catalogue = "\n".join(
        f"   - `{p.id}`: {p.title}. {p.use_for}" + (f" (recommended model: {p.model})" if p.model else "")
        for p in PRESETS
    )
    models = "\n".join(f"   - `{m.alias}`: {m.best_at} Limits: {m.limits.describe()}." for m in foley_models())
    how = "Pick by what the clip needs:"
    return f"""Add a generated, synchronized soundtrack to this video: {video}
{wanted}

1. Choose the sound. Pick the preset below whose use matches the mood and the scene (details: resource
   {PRESETS_URI} or the list_audio_presets tool). If none fits, write a short, concrete `prompt` naming the sound
   sources, the place and any music style, plus a `negative_prompt` for what to keep out (e.g. "speech, music").
{catalogue}
   Choose the model (`model`; details: list_models or resource alice://models). {how}
{models}
   A preset may recommend a model (its `model` field); the default mmaudio-v2 is right unless a reason above applies.
   To let the user choose between variants, pass `takes` (2-4), or a list of models to compare them.
2. Estimate the cost: call estimate_cost with video="{video}" and the model. Tell the user the amount (and the clip length it
   found) before any paid call, and go on only if they agree.
3. Call add_audio_to_video with video="{video}" and the preset or prompt you chose. Pass `duration` = the clip
   length estimate_cost reported (at most 30 s) unless the user wants less.
4. Report the `output_path` from the result, the `seed` (to reproduce the result) and `cost_usd`. With several
   `takes`, list each take (its output_path, seed, model, cost) and ask the user which one to keep.
If a tool returns an error, tell the user what it said and what to change; never repeat a paid call blindly."""


def register_prompts_and_resources(mcp: MCPServer) -> None:
    """Add the ``soundtrack_clip`` prompt, the preset resources and the job resource to ``mcp``."""

    @mcp.prompt(title="Soundtrack a video clip")
    def soundtrack_clip(
        video: Annotated[str, Field(description="The clip: an absolute path, ~/path, file:// URI or https:// URL.")],
        mood: Annotated[Optional[str], Field(description="How it should feel, e.g. 'cozy', 'tense', 'epic'.")] = None,
    ) -> str:
        """Guide the assistant through soundtracking a clip: pick a preset or write a prompt, estimate the cost,
        call add_audio_to_video, report the saved path."""
        return soundtrack_instructions(video, mood)

    @mcp.resource(PRESETS_URI, name="presets", title="Audio style presets", mime_type="application/json")
    def presets() -> str:
        """Every audio style preset (id, title, prompt, negative prompt, settings, what it is for) as JSON."""
        return PresetList(presets=[PresetInfo(**p.model_dump()) for p in PRESETS]).model_dump_json(indent=2)

    @mcp.resource(
        PRESETS_URI + "/{preset_id}", name="preset", title="One audio style preset", mime_type="application/json"
    )
    def preset(preset_id: str) -> str:
        """One audio style preset by id, as JSON."""
        try:
            found = get_preset(preset_id)
        except InputError as exc:
            raise ResourceNotFoundError(exc.message) from None
        return json.dumps(PresetInfo(**found.model_dump()).model_dump(), indent=2)

    @mcp.resource(JOBS_URI + "/{job_id}", name="job", title="A generation job", mime_type="application/json")
    async def job(job_id: str, ctx: Context) -> str:
        """A job's status from the ledger (status, message, output path, cost, settings), as get_generation reports
        it but without waiting for or resuming the job, as JSON."""
        try:
            status = await core_of(ctx).generation_status(job_id)
        except JobNotFound as exc:
            raise ResourceNotFoundError(exc.message) from None
        except AliceError as exc:
            raise ResourceError(exc.message) from None
        return status.model_dump_json(indent=2)
