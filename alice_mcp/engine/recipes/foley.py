"""Video-to-audio models as recipes, and takes: one ``add_audio_to_video`` request made by any model, as 1-4 variants.

A :class:`FoleyRecipe` is a :class:`VideoToAudioRecipe` whose settings are its model's own parameter model
(:class:`~alice_mcp.data.foley_spec.FoleyModel`): the common arguments are mapped onto the model's fal field names,
``model_options`` are validated by the model, its clip limits are checked and its price rule quotes the call.
Finishing handles every output shape: a video with the track, audio alone, or a list of samples (each sample is
put back onto the original video as its own take).

:func:`run_takes` plans every call of a request (:func:`alice_mcp.engine.takes.plan_takes`), probes and plans the
clip once, asks for ONE spend approval for the whole, starts the calls concurrently (the clip is uploaded once) and
records them as one job with parts (ledger ``parent_id``). A take whose explicit seed was made before is a free cache
hit; ``force`` makes every take again.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import anyio
from pydantic import BaseModel

from alice_mcp.adapters.ledger import COMPLETED, JobRecord
from alice_mcp.adapters.output_policy import output_name
from alice_mcp.adapters.sources import LocalVideo, resolve_video
from alice_mcp.data import params
from alice_mcp.data.errors import AliceError, InputError
from alice_mcp.data.foley_spec import COMMON_ARGS, FoleyModel
from alice_mcp.data.presets import preset_values
from alice_mcp.data.progress import ProgressSink, notify
from alice_mcp.engine import planning
from alice_mcp.engine.models import TakeInfo, VideoAudioRequest, VideoAudioResult
from alice_mcp.engine.planning import PreparedJob
from alice_mcp.engine.recipes.video_to_audio import VideoToAudioRecipe, _source_stem
from alice_mcp.engine.takes import MAX_TAKES, TakeCall, plan_takes, total_cost
from alice_mcp.jobs.follow import download_result
from alice_mcp.jobs.lifecycle import submit_and_finish
from alice_mcp.jobs.state import JobContext, submission_of

if TYPE_CHECKING:
    from alice_mcp.engine.spend import ConfirmSpend
    from alice_mcp.jobs.services import Finish
    from alice_mcp.media.plan import MediaPlan


class TakeSettings(BaseModel):
    """What the ledger records as a take's settings: the common view (rendered by results) and the model's own."""

    model: str
    prompt: str = ""
    negative_prompt: Optional[str] = None
    duration: float
    seed: Optional[int] = None
    fal: dict[str, Any]


class FoleyRecipe(VideoToAudioRecipe):
    """One video-to-audio model (its :class:`FoleyModel`) run as a recipe."""

    def __init__(self, spec: FoleyModel) -> None:
        super().__init__(spec.endpoint, lambda settings, video_url: spec.payload(settings, video_url))
        self.spec = spec

    def finisher(self, record: JobRecord) -> Finish | None:
        return self.finish_samples

    async def finish_samples(self, job: JobContext, url: str) -> Path:
        """Every sample of fal's output put onto the original video (the first at the wanted path, the others next
        to it); their paths and fal URLs go to the job's details."""
        from alice_mcp.media.pipeline import finish_media, workspace  # media loads on first use, not at start-up
        from alice_mcp.media.plan import MediaPlan

        record = job.record
        if int(record.details.get("samples") or 1) <= 1:
            path = await self.finish(job, url)
            await job.add_details(sample_paths=[str(path)], sample_urls=[url])
            return path
        output = await job.services.gateway().result(record.endpoint, submission_of(record))
        urls = self.spec.files(output)
        media = MediaPlan(**record.details["media_plan"])
        options = params.PipelineOptions(**record.details.get("pipeline_options", {}))
        wanted = Path(record.wanted_path)
        paths: list[str] = []
        with workspace(job.services.settings) as folder:
            for k, sample_url in enumerate(urls):
                target = wanted if k == 0 else wanted.with_name(f"{wanted.stem}-sample{k + 1}{wanted.suffix}")
                generated = await download_result(
                    job.services, sample_url, folder / f"sample{k}{self.endpoint.suffix}", record.request_id or "", None
                )
                finished = await finish_media(media, options, generated, target, job.progress)
                paths.append(str(finished.path))
        await job.add_details(sample_paths=paths, sample_urls=urls, notes=media.notes)
        return Path(paths[0])


def common_values(spec: FoleyModel, request: VideoAudioRequest, quality: str | None) -> dict[str, Any]:
    """Preset values (only the controls this model has) <- quality tier <- the explicit common arguments. An
    explicit value that is not a common argument must be one of the model's own options (else :class:`InputError`)."""
    merged: dict[str, Any] = {}
    for name, value in {**preset_values(request.preset), **params.quality_values(quality)}.items():
        if name in spec.common:
            merged[name] = value
    given = {k: v for k, v in request.values.items() if v is not None}
    merged.update({k: v for k, v in given.items() if k in COMMON_ARGS})
    return merged


def own_options(spec: FoleyModel, request: VideoAudioRequest) -> dict[str, Any] | None:
    """``model_options`` plus explicit values that are this model's own fields (e.g. MMAudio's ``mask_away_clip``);
    any other explicit value is refused, naming it."""
    extra = {k: v for k, v in request.values.items() if v is not None and k not in COMMON_ARGS}
    wrong = sorted(k for k in extra if k not in spec.option_names())
    if wrong:
        raise InputError(
            f"{', '.join('`' + k + '`' for k in wrong)}: not a control of {spec.alias}. Its own controls go in "
            f"`model_options`: {', '.join(spec.option_names()) or 'none'}."
        )
    merged = {**extra, **(request.model_options or {})}
    return merged or None


async def run_takes(
    core: Any,
    recipes: list[FoleyRecipe],
    request: VideoAudioRequest,
    progress: ProgressSink | None,
    *,
    started: float,
    wait_seconds: float | None,
    force: bool,
    confirm: ConfirmSpend | None,
    others: list[FoleyModel],
) -> VideoAudioResult:
    """Plan, price (one quote), approve once, run concurrently and report every take of ``request``. ``core`` is the
    :class:`~alice_mcp.engine.core.AliceCore` (its services, jobs and spend guard); ``others`` every known model
    (for the advice in errors)."""
    from alice_mcp.media.pipeline import plan_media

    services, jobs = core.services, core.jobs
    settings_env = services.settings
    await notify(progress, "checking", "Checking the request")
    options = planning.pipeline_options(request.options)
    source = resolve_video(request.video, planning.read_policy(settings_env, request.roots))
    await notify(progress, "checking", "Probing the clip")
    media = await plan_media(
        source,
        options,
        requested_duration=request.values.get("duration"),
        default_duration=params.MAX_DURATION_S,
        wanted_suffix=Path(request.output_path).suffix if request.output_path else None,
    )
    size = source.path.stat().st_size if isinstance(source, LocalVideo) else None
    suffix = source.path.suffix if isinstance(source, LocalVideo) else None
    specs = [r.spec for r in recipes]
    if len(recipes) * request.takes > MAX_TAKES:
        raise InputError(
            f"{len(recipes)} models x {request.takes} takes = {len(recipes) * request.takes} takes; "
            f"at most {MAX_TAKES} in all."
        )
    calls: list[TakeCall] = []
    for recipe in recipes:
        common = common_values(recipe.spec, request, options.quality)
        common.pop("duration", None)  # the media plan decided the segment's length
        if len(specs) > 1 and recipe.spec.seed_range is None:
            common.pop("seed", None)  # comparing models: the seed goes to those that take one
        calls.extend(
            plan_takes(
                [recipe.spec],
                request.takes,
                common,
                own_options(recipe.spec, request),
                media.duration,
                services.prices,
                size_bytes=size,
                suffix=suffix,
                others=others,
            )
        )
    services.gateway()  # a missing FAL_KEY fails here, before anything is uploaded
    by_id = {r.spec.id: r for r in recipes}
    prepared: list[tuple[TakeCall, PreparedJob]] = []
    for k, call in enumerate(calls):
        prepared.append(
            (call, await _prepare_call(core, by_id[call.model.id], call, k, request, media, options, source))
        )
    if force:
        prepared = [(c, PreparedJob(p.plan, p.work, None)) for c, p in prepared]
    to_pay = [(c, p) for c, p in prepared if p.cached is None]
    if to_pay:
        total = total_cost([c for c, _ in to_pay])
        await core.spend.authorize(to_pay[0][1].plan.endpoint.id, total, confirm, None)
    records = await start_all(core, prepared, progress, wait_seconds, started)
    first_recipe = by_id[records[0].endpoint]
    result = first_recipe.result(records[0], jobs, started, cached=prepared[0][1].cached is not None)
    result.model = first_recipe.spec.alias
    result.takes = _takes_of(records, [p.cached is not None for _, p in prepared], by_id)
    if len(result.takes) > 1 or calls[0].model.id != records[0].endpoint:
        result.cost_usd = round(sum(t.cost_usd for t in result.takes), 6)
    return result


async def _prepare_call(
    core: Any,
    recipe: FoleyRecipe,
    call: TakeCall,
    index: int,
    request: VideoAudioRequest,
    media: MediaPlan,
    options: params.PipelineOptions,
    source: Any,
) -> PreparedJob:
    from alice_mcp.media.pipeline import prepare_upload, workspace

    spec = recipe.spec
    own = call.settings.model_dump(exclude_none=True)
    prompt = own.get(spec.common.get("prompt", ""), "") or ""
    settings = TakeSettings(
        model=spec.alias,
        prompt=str(prompt),
        negative_prompt=own.get(spec.common["negative_prompt"]) if "negative_prompt" in spec.common else None,
        duration=media.duration,
        seed=call.seed,
        fal=own,
    )
    tag = f"seed{call.seed}" if call.seed is not None else f"take{index + 1}"
    default_name = output_name(
        _source_stem(source), request.preset or "audio", spec.alias, tag, suffix=media.output_suffix
    )
    if request.output_path and index > 0:
        given = Path(request.output_path)
        output_path: str | None = str(given.with_name(f"{given.stem}-take{index + 1}{given.suffix}"))
    else:
        output_path = request.output_path
    wanted = planning.output_target(core.services.settings, output_path, default_name)
    plan = await planning.plan_job(
        core.jobs,
        recipe.kind,
        recipe.endpoint,
        request,
        settings,
        wanted,
        call.cost_usd,
        source,
        details={
            "media_plan": media.model_dump(mode="json"),
            "pipeline_options": options.model_dump(mode="json"),
            "samples": call.samples,
            "model": spec.alias,
        },
        cacheable=call.seed is not None,
    )
    upload_lock = _upload_lock(core)

    async def work(job: JobContext) -> None:
        if not isinstance(source, LocalVideo):
            await submit_and_finish(job.services, job, call.payload(source.url))
            return

        async def send_clip() -> dict:
            async with upload_lock:  # every take sends the same clip: one upload, the others reuse it
                with workspace(core.services.settings) as folder:
                    upload = await prepare_upload(media, folder, job.progress)
                    return call.payload(await planning.upload_file(upload, job))

        await submit_and_finish(job.services, job, await send_clip(), reupload=send_clip)

    cached = await core.jobs.cached(plan, planning.output_root(core.services.settings))
    return PreparedJob(plan, work, cached)


_LOCKS: dict[int, anyio.Lock] = {}


def _upload_lock(core: Any) -> anyio.Lock:
    return _LOCKS.setdefault(id(core), anyio.Lock())


async def start_all(
    core: Any,
    prepared: list[tuple[Any, PreparedJob]],
    progress: ProgressSink | None,
    wait_seconds: float | None,
    started: float,
) -> list[JobRecord]:
    """Start every take not cached (the first one's id is the parent of the others), then wait for all at once."""
    records: list[Optional[JobRecord]] = [p.cached for _, p in prepared]
    parent: Optional[str] = None
    for k, (_, item) in enumerate(prepared):
        if item.cached is not None:
            parent = parent or item.cached.id
            continue
        record = await core.jobs.start(item.plan, item.work, progress if k == 0 else None, wait_seconds=0)
        if parent is None:
            parent = record.id
        else:
            await (await core.jobs.ledger()).set_parent(record.id, parent)
        records[k] = record
    left = None if wait_seconds is None else max(0.0, wait_seconds - (time.monotonic() - started))
    done: list[Optional[JobRecord]] = list(records)

    async def wait_one(k: int) -> None:
        record = records[k]
        assert record is not None
        if record.status != COMPLETED:
            done[k] = await core.jobs.wait(record.id, left if left is not None else 86_400.0, None)

    async with anyio.create_task_group() as group:
        for k in range(len(records)):
            group.start_soon(wait_one, k)
    for record in done:
        assert record is not None
        if record.error and record.status not in (COMPLETED,) and not record.active:
            raise AliceError(f"Take {record.id} failed: {record.error}", code=record.error_code or "take_failed")
    return [r for r in done if r is not None]


def _takes_of(records: list[JobRecord], cached: list[bool], recipes: dict[str, FoleyRecipe]) -> list[TakeInfo]:
    takes: list[TakeInfo] = []
    for record, was_cached in zip(records, cached, strict=True):
        spec = recipes[record.endpoint].spec
        paths = record.details.get("sample_paths") or ([record.output_path] if record.output_path else [None])
        urls = record.details.get("sample_urls") or [record.file_url]
        cost = 0.0 if was_cached else record.cost_usd
        for k, path in enumerate(paths):
            takes.append(
                TakeInfo(
                    output_path=path if record.status == COMPLETED else None,
                    seed=record.settings.get("seed"),
                    sample=k + 1 if len(paths) > 1 else None,
                    model=spec.alias,
                    endpoint=spec.id,
                    cost_usd=round(cost / len(paths), 6) if not math.isclose(cost, 0.0) else 0.0,
                    url=urls[k] if k < len(urls) else None,
                    kind="video",
                    job_id=record.id,
                    cached=was_cached,
                    status="completed" if record.status == COMPLETED else "running",
                )
            )
    return takes
