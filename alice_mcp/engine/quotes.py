"""Check a request before anyone is asked to pay for it: what it will cost, and whether it would fail anyway.

A face that asks the user to approve a spend (the MCP face, through elicitation) asks BEFORE the core runs the
request, so it needs the quote in advance. :func:`quote_request` computes it with the core's own rules (the
settings merge, the read policy, the clip's billed length, the operator's limits) without uploading or submitting
anything, and raises the :class:`~alice_mcp.data.errors.AliceError` the real call would raise, so nobody is asked to
approve a request that cannot run.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from alice_mcp.adapters.sources import LocalVideo, resolve_video
from alice_mcp.data import params
from alice_mcp.data.endpoints import Endpoint
from alice_mcp.engine import planning
from alice_mcp.engine.estimates import billed_duration
from alice_mcp.engine.spend import SpendQuote

if TYPE_CHECKING:
    from alice_mcp.engine.spend import SpendGuard
    from alice_mcp.jobs.services import JobServices


async def quote_request(
    services: JobServices,
    spend: SpendGuard,
    endpoint: Endpoint,
    preset: str | None,
    values: dict,
    *,
    video: str | None = None,
    roots: list[str] | None = None,
    start_time: float | None = None,
    timeline: dict | None = None,
    model: str | list[str] | None = None,
    takes: int = 1,
    model_options: dict | None = None,
) -> SpendQuote:
    """The spend a request will ask for, never below what its job will cost: a local clip's billed length follows
    the same rule as ``add_audio_to_video`` (the clip is probed; a soundtrack of many windows is planned and every
    window and cue priced, exactly as its job will bill; ``takes`` whole soundtracks of each ``model``); a URL
    without ``duration`` counts the table's maximum. Raises :class:`AliceError` when the request would fail (bad
    settings, refused path, over a limit)."""
    if video is not None and values.get("duration") is None:
        from alice_mcp.engine.models import VideoAudioRequest
        from alice_mcp.engine.recipes.registry import foley_recipes, soundtrack_recipe

        request = VideoAudioRequest(
            video=video,
            preset=preset,
            values=values,
            options={"start_time": start_time or 0.0},
            timeline=timeline or {},
            roots=roots,
            model_options=model_options,
            takes=takes,
        )
        names = [r.endpoint.id for r in foley_recipes(model)] if model is not None else [endpoint.id]
        soundtracks = [soundtrack_recipe(name) for name in names]
        wanted = [await s.wanted_for(services, request) for s in soundtracks]
        if any(wanted):  # many windows: the whole is quoted, every part of every take priced
            from alice_mcp.engine.takes import ModelShare, whole_formula

            shares: list[ModelShare] = []
            whole_seconds = 0.0
            for soundtrack in soundtracks:
                layout, one_usd = await soundtrack.estimate(services, request)
                whole_seconds += takes * layout.billed_seconds
                cost = round(takes * one_usd, 6)
                shares.append((soundtrack.spec.alias, takes, len(layout.windows), len(layout.cues), cost))
            whole_usd = round(sum(share[4] for share in shares), 6)
            many = takes != 1 or len(soundtracks) > 1 or soundtracks[0].own_fields
            quote = await spend.quote(
                soundtracks[0].endpoint.id,
                whole_usd,
                round(whole_seconds, 3),
                whole_formula(shares) if many else None,
            )
            spend.check_limits(quote)
            return quote
    settings = planning.resolve_settings(preset, values, None, services.words)
    seconds = settings.duration
    if video is not None:
        source = resolve_video(video, planning.read_policy(services.settings, roots))
        if values.get("duration") is None and isinstance(source, LocalVideo):
            billed, _ = await billed_duration(services, video, start_time or 0.0, roots)
            seconds = billed if billed is not None else seconds
        elif values.get("duration") is None:
            seconds = longest_generation()
    usd = services.prices.cost(endpoint.id, seconds)
    if video is not None and (model is not None or takes != 1 or model_options):
        usd = _takes_cost(services, model, takes, model_options, preset, values, seconds)
    quote = await spend.quote(endpoint.id, usd, seconds)
    spend.check_limits(quote)
    return quote


def _takes_cost(
    services: JobServices,
    model: str | list[str] | None,
    takes: int,
    model_options: dict | None,
    preset: str | None,
    values: dict,
    seconds: float,
) -> float:
    """The one quote of a takes request of one window (``takes`` variants of each ``model``), by each model's own
    price rule, as :func:`alice_mcp.engine.recipes.foley.run_takes` plans it."""
    from alice_mcp.engine.models import VideoAudioRequest
    from alice_mcp.engine.recipes.foley import common_values, own_options
    from alice_mcp.engine.recipes.registry import foley_recipes
    from alice_mcp.engine.takes import plan_takes, total_cost

    request = VideoAudioRequest(video="", preset=preset, values=values, model_options=model_options, takes=takes)
    recipes = foley_recipes(model)
    calls = []
    for recipe in recipes:
        common = {k: v for k, v in common_values(recipe.spec, request, None).items() if k != "duration"}
        if len(recipes) > 1 and recipe.spec.seed_range is None:
            common.pop("seed", None)
        calls += plan_takes([recipe.spec], takes, common, own_options(recipe.spec, request), seconds, services.prices)
    return total_cost(calls)


async def quote_video_generation(services: JobServices, spend: SpendGuard, values: dict) -> SpendQuote:
    """The spend a text-to-video request will ask for (its settings checked); raises :class:`AliceError`."""
    from alice_mcp.data.kling_params import kling_settings_from
    from alice_mcp.engine.recipes.registry import KLING_TEXT_TO_VIDEO

    seconds = kling_settings_from(values).seconds()
    quote = await spend.quote(KLING_TEXT_TO_VIDEO.id, services.prices.cost(KLING_TEXT_TO_VIDEO.id, seconds), seconds)
    spend.check_limits(quote)
    return quote


def longest_generation() -> float:
    """The table's longest generation, in seconds (the most any one MMAudio job can bill)."""
    limits = params.AudioSettings.model_fields["duration"].metadata
    return float(next(m.le for m in limits if getattr(m, "le", None) is not None))


def soundtrack_longest(max_soundtrack_seconds: float, cues: int) -> float:
    """The most seconds one soundtrack call can bill: the cap, one second of overlap per shortest window, and the
    longest generation per cue."""
    from alice_mcp.data.timeline import window_limits

    limits = window_limits("fal-ai/mmaudio-v2")
    seams = math.ceil(max_soundtrack_seconds / max(1.0, limits.aim_min - limits.overlap_s))
    return max_soundtrack_seconds + seams * limits.overlap_s + cues * longest_generation()
