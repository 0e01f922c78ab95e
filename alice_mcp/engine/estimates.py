"""Cost estimates: what generations will cost before anything is uploaded or submitted.

:func:`estimate_cost` prices ``count`` generations of any registered endpoint, from a ``duration`` or a local
video's billed length; :func:`billed_duration` applies the same duration rule add_audio_to_video uses (probe, segment,
30 s cap) without fetching URLs. Both read the price table, spend limits and read policy they are given.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import ValidationError

from alice_mcp.adapters.sources import RemoteVideo, resolve_video
from alice_mcp.data import params
from alice_mcp.data.endpoints import Endpoint
from alice_mcp.data.errors import InputError
from alice_mcp.data.money import usd
from alice_mcp.engine import planning
from alice_mcp.engine.models import CostEstimate
from alice_mcp.engine.recipes.foley import FoleyRecipe
from alice_mcp.engine.recipes.registry import resolve_recipe, video_to_audio_recipe
from alice_mcp.engine.recipes.video_to_audio import VideoToAudioRecipe
from alice_mcp.engine.takes import min_samples

if TYPE_CHECKING:
    from alice_mcp.engine.spend import SpendGuard
    from alice_mcp.jobs.services import JobServices


async def estimate_cost(
    services: JobServices,
    spend: SpendGuard,
    *,
    duration: float | None,
    video: str | None,
    count: int,
    start_time: float = 0.0,
    model: str | None = None,
    roots: list[str] | None = None,
) -> CostEstimate:
    """What ``count`` generations will cost, from ``duration`` or the length of ``video`` from ``start_time``.

    ``model`` names the endpoint (an id or alias, see :func:`~alice_mcp.engine.recipes.registry.resolve_recipe`);
    the default is the default video-to-audio model.
    """
    recipe = resolve_recipe(model) if model else video_to_audio_recipe(None)
    endpoint = recipe.endpoint
    takes_video = isinstance(recipe, VideoToAudioRecipe)
    notes: list[str] = []
    if duration is None and video and takes_video:
        whole = await _soundtrack_estimate(services, spend, endpoint.id, video, count, start_time, roots)
        if whole is not None:
            return whole
    if duration is None and video and takes_video:
        duration, more = await billed_duration(services, video, start_time, roots)
        notes += more
    elif video and not takes_video:
        notes.append(f"{endpoint.id} takes no video; `video` was ignored.")
    spec = recipe.spec if isinstance(recipe, FoleyRecipe) else None
    if duration is None:
        duration = _default_seconds(endpoint)
        notes.append(f"No duration or video given: assumed the default {duration:g} s.")
    if spec is not None and spec.duration_field is None:
        spec.check_clip(duration)  # a model that takes the whole clip: its own clip limits
    else:
        duration = _checked_seconds(endpoint, duration)
    samples = min_samples(spec) if spec is not None else 1
    if samples > 1:
        notes.append(f"{spec.alias} returns at least {samples} samples per call, each priced.")  # type: ignore[union-attr]
    rule = services.prices.rule(endpoint.id)
    total = services.prices.cost(endpoint.id, duration, count, samples)
    formula = rule.formula(duration, samples) + (f" x {count} generations" if count != 1 else "") + f" = {usd(total)}"
    if not rule.verified:
        notes.append(f"The price rule of {endpoint.id} is not published by fal (unverified): {rule.source}.")
    notes += await spend.limit_notes(endpoint.id, duration, count)
    return CostEstimate(
        usd=total,
        endpoint=endpoint.id,
        duration=duration,
        count=count,
        formula=formula,
        price_source=rule.source,
        notes=notes,
    )


async def _soundtrack_estimate(
    services: JobServices,
    spend: SpendGuard,
    endpoint_id: str,
    video: str,
    count: int,
    start_time: float,
    roots: list[str] | None,
) -> CostEstimate | None:
    """The estimate of a local clip longer than one window of the model: ``count`` whole soundtracks (takes), each
    every window and cue priced by the model's own rule, exactly as its job will bill. ``None`` when the clip fits
    one window (or is a URL)."""
    from alice_mcp.engine.models import VideoAudioRequest
    from alice_mcp.engine.recipes.registry import soundtrack_recipe

    soundtrack = soundtrack_recipe(endpoint_id)
    # the prompt does not change the price; a model that needs one gets a placeholder
    request = VideoAudioRequest(
        video=video, values={"prompt": "estimate"}, options={"start_time": start_time}, roots=roots
    )
    if not await soundtrack.wanted_for(services, request):
        return None
    plan, one = await soundtrack.estimate(services, request)
    total = round(one * count, 6)
    rule = services.prices.rule(endpoint_id)
    calls = len(plan.windows) + len(plan.cues)
    formula = (
        f"{len(plan.windows)} windows + {len(plan.cues)} cues of {soundtrack.spec.alias} ({plan.billed_seconds:g} s "
        f"billed for {plan.end - plan.start:g} s of video, {plan.overlap_seconds:g} s of it overlap) = {usd(one)} per "
        "soundtrack"
        + (f" x {count} takes (each a whole soundtrack: {count * calls} calls)" if count != 1 else "")
        + f" = {usd(total)}"
    )
    notes = [
        f"The clip from {plan.start:g} s to {plan.end:g} s is longer than one {soundtrack.spec.alias} window "
        f"({soundtrack.limits().max_s:g} s): it is made as a soundtrack of {len(plan.windows)} windows."
    ]
    if not rule.verified:
        notes.append(f"The price rule of {endpoint_id} is not published by fal (unverified): {rule.source}.")
    quote = await spend.quote(endpoint_id, total, plan.billed_seconds * count)
    if spend.max_per_call is not None and total > spend.max_per_call + 1e-12:
        notes.append(
            f"The whole ({usd(total)}) is over this server's per-call limit of {usd(spend.max_per_call)} "
            "(ALICE_MAX_COST_PER_CALL_USD) and would be refused."
        )
    elif spend.needs_approval(quote):
        notes.append(f"The whole ({usd(total)}) needs the user's approval, asked once (ALICE_CONFIRM_SPEND_ABOVE_USD).")
    return CostEstimate(
        usd=total,
        endpoint=endpoint_id,
        duration=plan.billed_seconds,
        count=count,
        formula=formula,
        price_source=rule.source,
        notes=notes,
    )


async def billed_duration(
    services: JobServices, video: str, start_time: float = 0.0, roots: list[str] | None = None
) -> tuple[float | None, list[str]]:
    """Seconds of audio a generation for a local ``video`` would bill: the same rule add_audio_to_video uses.
    A URL is not fetched here (estimates stay offline)."""
    from alice_mcp.media.pipeline import plan_media  # media loads on first use, not at start-up

    source = resolve_video(video, planning.read_policy(services.settings, roots))
    if isinstance(source, RemoteVideo):
        return None, ["The length of a URL video is not probed for estimates; pass `duration` for an exact figure."]
    options = planning.pipeline_options({"start_time": start_time})
    default = params.AudioSettings.model_fields["duration"].default
    plan = await plan_media(source, options, requested_duration=None, default_duration=default)
    clip = f"The clip is {plan.clip_duration:.2f} s long. " if plan.clip_duration is not None else ""
    return plan.duration, [clip.strip()] + plan.notes if clip else plan.notes


def _default_seconds(endpoint: Endpoint) -> float:
    """What an omitted ``duration`` means for ``endpoint``: its parameter table's default (MMAudio's for a model
    that takes the whole clip)."""
    model = endpoint.input_model or params.AudioSettings
    field = model.model_fields.get("duration") or params.AudioSettings.model_fields["duration"]
    return float(field.default)


def _checked_seconds(endpoint: Endpoint, seconds: float) -> float:
    """``seconds`` if ``endpoint``'s table allows it as a ``duration``; else :class:`InputError` saying what it allows."""
    from pydantic import TypeAdapter

    model = endpoint.input_model or params.AudioSettings
    field = model.model_fields["duration"]
    try:
        # the field's type with all its metadata (constraints and validators, e.g. Kling's 10 -> "10")
        duration_type: Any = operator.getitem(Annotated, (field.annotation, *field.metadata))
        TypeAdapter(duration_type).validate_python(seconds)
    except ValidationError as exc:
        rng = params.allowed_range("duration", model)
        allowed = f" (allowed: {rng})" if rng else ""
        raise InputError(f"`duration`: {exc.errors()[0]['msg']} for {endpoint.id}{allowed}; got {seconds!r}.") from None
    return float(seconds)
