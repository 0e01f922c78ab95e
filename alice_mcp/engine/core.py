"""The generation core: one flow shared by every face (MCP tools, CLI, Python API).

``add_audio_to_video``: check the request → resolve and probe the input, plan the segment (:mod:`alice_mcp.media.pipeline`)
→ (reuse a cached result) → record the job in the ledger → make the upload file (original, stream-copied cut or
proxy) and upload it (deduplicated) → submit to fal's queue once → follow the job → fetch the result → download it
and put its audio onto the original video → publish it atomically into the output folder. Everything after the ledger record runs as a background job
(:mod:`alice_mcp.jobs.manager`, :mod:`alice_mcp.jobs.lifecycle`); a call waits for it at most ``wait_seconds``. The core knows nothing
of MCP, argparse or terminals; it reports through a :data:`~alice_mcp.data.progress.ProgressSink` and raises
:class:`~alice_mcp.data.errors.AliceError` for anything the user can act on.
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, AsyncIterator, Optional
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from alice_mcp.adapters.ledger import JobRecord
from alice_mcp.adapters.output_policy import ensure_output_dir, safe_stem, target_path
from alice_mcp.adapters.read_policy import ReadPolicy
from alice_mcp.adapters.settings import Settings
from alice_mcp.adapters.sources import LocalVideo, RemoteVideo, resolve_video
from alice_mcp.data import params
from alice_mcp.data.endpoints import KLING_TEXT_TO_VIDEO, MMAUDIO_TEXT, MMAUDIO_VIDEO, Endpoint, published_prices
from alice_mcp.data.errors import AliceError, InputError
from alice_mcp.data.kling_params import kling_settings_from
from alice_mcp.data.presets import preset_values
from alice_mcp.data.prices import PriceTable, parse_overrides
from alice_mcp.data.progress import ProgressSink, notify
from alice_mcp.engine import estimates
from alice_mcp.engine import reuse as cache
from alice_mcp.engine import status as views
from alice_mcp.engine.models import (
    AudioRequest,
    AudioResult,
    BatchRequest,
    BatchResult,
    CostEstimate,
    GenerationList,
    GenerationStatus,
    VideoAudioRequest,
    VideoAudioResult,
    VideoRequest,
    VideoResult,
)
from alice_mcp.engine.spend import ConfirmSpend, SpendGuard, start_of_today
from alice_mcp.jobs import lifecycle as jobflow
from alice_mcp.jobs.manager import JobManager
from alice_mcp.jobs.state import JobContext, JobPlan, Work
from alice_mcp.media.pipeline import plan_media, prepare_upload, workspace

if TYPE_CHECKING:  # fal_client loads on the first paid call, not at start-up
    from alice_mcp.adapters.fal import FalGateway

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedJob:
    """A checked, planned job that nothing was paid for yet: the plan, its work, and a cached result if one exists."""

    plan: JobPlan
    work: Work
    cached: Optional[JobRecord]


@dataclass(frozen=True)
class FinishedJob:
    """A fal job whose output file was saved: fal's request id, fal's URL of the file, our local path."""

    request_id: str
    file_url: str
    path: Path


class AliceCore:
    """Runs generations for one operator configuration. Cheap to create: no network until a job runs."""

    def __init__(self, settings: Settings, *, gateway: FalGateway | None = None) -> None:
        self.settings = settings
        self.prices = PriceTable(published_prices(), parse_overrides(settings.price_overrides))
        self._gateway = gateway
        self.jobs = JobManager(self)
        self.spend = SpendGuard(settings, self.prices, self._spent_today)

    @asynccontextmanager
    async def serving(self) -> AsyncIterator["AliceCore"]:
        """Run background jobs (and resume those left in flight) while the face serves; see :mod:`alice_mcp.jobs.manager`."""
        async with self.jobs.running():
            yield self

    def gateway(self) -> FalGateway:
        """The fal gateway, created on first use; :class:`ConfigError` when ``FAL_KEY`` is missing."""
        if self._gateway is None:
            from alice_mcp.adapters.fal import FalGateway

            self._gateway = FalGateway(
                self.settings.require_fal_key(),
                http_timeout_s=self.settings.http_timeout_s,
                upload_ttl=self.settings.upload_ttl,
                retry_attempts=self.settings.retry_attempts,
                retry_backoff_s=self.settings.retry_backoff_s,
            )
        return self._gateway

    async def aclose(self) -> None:
        await self.jobs.aclose()
        if self._gateway is not None:
            await self._gateway.aclose()
            self._gateway = None

    # ----------------------------------------------------------------------------------------------- settings
    def resolve_settings(self, preset: str | None, values: dict, quality: str | None = None) -> params.AudioSettings:
        """Table defaults ← preset ← quality tier ← explicit values, validated; a seed is drawn when none is given."""
        try:
            settings = params.settings_from(values, {**preset_values(preset), **params.quality_values(quality)})
        except ValidationError as exc:
            if any(err.get("loc") == ("prompt",) and err.get("type") == "missing" for err in exc.errors()):
                raise InputError(
                    "Give a `prompt` describing the sound, or a `preset` (see list_audio_presets)."
                ) from None
            raise InputError(params.describe_validation_error(exc)) from None
        if settings.seed is None:
            settings = settings.model_copy(update={"seed": params.draw_seed()})
        return settings

    # ------------------------------------------------------------------------------------------------ estimate
    async def estimate_cost(
        self,
        *,
        duration: float | None,
        video: str | None,
        count: int,
        start_time: float = 0.0,
        model: str | None = None,
        roots: list[str] | None = None,
    ) -> CostEstimate:
        """What ``count`` generations will cost; see :func:`alice_mcp.engine.estimates.estimate_cost`."""
        return await estimates.estimate_cost(
            self, duration=duration, video=video, count=count, start_time=start_time, model=model, roots=roots
        )

    def _pipeline_options(self, values: dict) -> params.PipelineOptions:
        try:
            return params.pipeline_options_from(values)
        except ValidationError as exc:
            raise InputError(params.describe_validation_error(exc)) from None

    # ---------------------------------------------------------------------------------------------- generation
    async def add_audio_to_video(
        self,
        request: VideoAudioRequest,
        progress: ProgressSink | None = None,
        *,
        wait_seconds: float | None = None,
        force: bool = False,
        confirm: ConfirmSpend | None = None,
    ) -> VideoAudioResult:
        """Run one paid MMAudio video-to-video job, or return the saved result of the same deterministic request
        (``cached``; ``force`` skips that). Waits up to ``wait_seconds`` (``None``: to the end); a job still running
        comes back with ``status="running"`` and its ``job_id``, and keeps going. Raises :class:`AliceError`.

        ``confirm`` is the face's way to ask the user when the job costs more than ``ALICE_CONFIRM_SPEND_ABOVE_USD``
        (none: such jobs fail closed); the spend is checked before anything is uploaded (:meth:`start_paid_job`)."""
        started = time.monotonic()
        prepared = await self.prepare_video_job(request, progress, force=force)
        if prepared.cached is not None:
            await notify(progress, "done", f"Already made: {prepared.cached.output_path}", 1.0)
            return await self._with_spend(views.video_result(prepared.cached, self.jobs, started, cached=True))
        record = await self.start_paid_job(
            prepared.plan, prepared.work, progress, _remaining(wait_seconds, started), confirm
        )
        return await self._with_spend(views.video_result(record, self.jobs, started))

    async def prepare_video_job(
        self, request: VideoAudioRequest, progress: ProgressSink | None = None, *, force: bool = False
    ) -> PreparedJob:
        """Check a video request, probe the clip and plan its job (segment, upload method, cost, cache key) without
        paying anything; finds a cached result. A file that is not a usable video fails here, before any upload."""
        endpoint = MMAUDIO_VIDEO
        await notify(progress, "checking", "Checking the request")
        options = self._pipeline_options(request.options)
        settings = self.resolve_settings(request.preset, request.values, options.quality)
        source = resolve_video(request.video, self.read_policy(request.roots))
        await notify(progress, "checking", "Probing the clip")
        media = await plan_media(
            source,
            options,
            requested_duration=request.values.get("duration"),
            default_duration=settings.duration,
            wanted_suffix=Path(request.output_path).suffix if request.output_path else None,
        )
        settings = settings.model_copy(update={"duration": media.duration})
        default_name = f"{safe_stem(_source_stem(source))}-{safe_stem(request.preset or 'audio')}-seed{settings.seed}{media.output_suffix}"
        wanted = self.output_target(request.output_path, default_name)
        self.gateway()
        plan = await self.plan_job(
            "add_audio_to_video",
            endpoint,
            request,
            settings,
            wanted,
            source,
            details={"media_plan": media.model_dump(mode="json"), "pipeline_options": options.model_dump(mode="json")},
        )

        async def work(job: JobContext) -> None:
            if isinstance(source, LocalVideo):
                with workspace(self.settings) as folder:  # the cut or proxy lives only until it is uploaded
                    upload = await prepare_upload(media, folder, job.progress)
                    if (
                        media.upload_method != plan.details["media_plan"]["upload_method"]
                    ):  # a failed cut became a proxy
                        await job.add_details(media_plan=media.model_dump(mode="json"))
                    video_url = await self.upload_video(upload, job)
            else:
                video_url = source.url
            await jobflow.submit_and_finish(self, job, params.fal_payload(settings, video_url=video_url))

        return PreparedJob(plan, work, None if force else await self.jobs.cached(plan, self.output_root()))

    async def add_audio_to_videos(
        self,
        request: BatchRequest,
        progress: ProgressSink | None = None,
        *,
        wait_seconds: float | None = None,
        confirm: ConfirmSpend | None = None,
    ) -> BatchResult:
        """Many videos (paths, URLs, folders) with shared settings: one job each; see :mod:`alice_mcp.engine.batch`.
        Each job passes the spend check on its own (``confirm`` as for :meth:`add_audio_to_video`)."""
        from alice_mcp.engine.batch import run_batch

        return await run_batch(self, request, progress, wait_seconds=wait_seconds, confirm=confirm)

    async def generate_audio(
        self,
        request: AudioRequest,
        progress: ProgressSink | None = None,
        *,
        wait_seconds: float | None = None,
        force: bool = False,
        confirm: ConfirmSpend | None = None,
    ) -> AudioResult:
        """Run one paid MMAudio text-to-audio job (the FLAC lands in the output folder); waits, caching, spend checks
        and errors as :meth:`add_audio_to_video`."""
        started = time.monotonic()
        endpoint = MMAUDIO_TEXT
        await notify(progress, "checking", "Checking the request")
        settings = self.resolve_settings(request.preset, request.values, request.quality)
        default_name = (
            f"{safe_stem(request.preset or settings.prompt[:40], 'audio')}-seed{settings.seed}{endpoint.suffix}"
        )
        wanted = self.output_target(request.output_path, default_name)
        self.gateway()
        plan = await self.plan_job("generate_audio", endpoint, request, settings, wanted)
        if not force and (hit := await self.jobs.cached(plan, self.output_root())) is not None:
            await notify(progress, "done", f"Already made: {hit.output_path}", 1.0)
            return await self._with_spend(views.audio_result(hit, self.jobs, started, cached=True))

        async def work(job: JobContext) -> None:
            await jobflow.submit_and_finish(self, job, params.fal_payload(settings))

        record = await self.start_paid_job(plan, work, progress, _remaining(wait_seconds, started), confirm)
        return await self._with_spend(views.audio_result(record, self.jobs, started))

    async def generate_video(
        self,
        request: VideoRequest,
        progress: ProgressSink | None = None,
        *,
        wait_seconds: float | None = None,
        confirm: ConfirmSpend | None = None,
    ) -> VideoResult:
        """Run one paid Kling text-to-video job (the MP4, without sound, lands in the output folder); waits, spend
        checks and errors as :meth:`add_audio_to_video`. Kling takes no seed, so every call is a new variation (never
        cached)."""
        started = time.monotonic()
        endpoint = KLING_TEXT_TO_VIDEO
        await notify(progress, "checking", "Checking the request")
        settings = kling_settings_from(request.values)
        default_name = f"{safe_stem(settings.prompt[:40], 'video')}-kling-{settings.duration}s{endpoint.suffix}"
        wanted = self.output_target(request.output_path, default_name)
        self.gateway()
        payload = settings.model_dump()
        plan = JobPlan(
            "generate_video",
            endpoint,
            request.model_dump(mode="json"),
            payload,
            wanted,
            self.prices.cost(endpoint.id, settings.seconds()),
        )

        async def work(job: JobContext) -> None:
            await jobflow.submit_and_finish(self, job, payload)

        record = await self.start_paid_job(plan, work, progress, _remaining(wait_seconds, started), confirm)
        return await self._with_spend(views.kling_video_result(record, self.jobs, started))

    # --------------------------------------------------------------------------------------------------- jobs
    async def generation_status(self, job_id: str) -> GenerationStatus:
        """A job's status as the ledger (and this process) knows it, without waiting for or resuming it."""
        return views.generation_status(await self.jobs.get(job_id), self.jobs)

    async def get_generation(
        self, job_id: str, wait_seconds: float, progress: ProgressSink | None = None
    ) -> GenerationStatus:
        """Wait up to ``wait_seconds`` for a job (resuming it or retrying its download if nobody is); its status."""
        return views.generation_status(await self.jobs.wait(job_id, wait_seconds, progress), self.jobs)

    async def cancel_generation(self, job_id: str) -> GenerationStatus:
        """Cancel a job at fal and in the ledger (a job fal already finished is kept)."""
        return views.generation_status(await self.jobs.cancel(job_id), self.jobs)

    async def list_generations(self, limit: int = 20, status: str | None = None) -> GenerationList:
        """The newest jobs in the ledger, optionally only those with ``status``."""
        summaries = [views.generation_summary(r) for r in await self.jobs.recent(limit, status)]
        return GenerationList(
            jobs=summaries, count=len(summaries), total_cost_usd=round(sum(j.cost_usd for j in summaries), 6)
        )

    # ---------------------------------------------------------------------------------------- safety and spend
    async def start_paid_job(
        self,
        plan: JobPlan,
        work: Work,
        progress: ProgressSink | None,
        wait_seconds: float | None,
        confirm: ConfirmSpend | None = None,
    ) -> JobRecord:
        """Check ``plan``'s spend (operator limits, the user's approval through ``confirm``), then start it as a
        job. Every paid job starts here; its submit re-checks the limits (:func:`jobflow.submit_and_finish`)."""
        await self.spend.authorize(plan.endpoint.id, plan.cost_usd, confirm, _seconds_of(plan.settings))
        return await self.jobs.start(plan, work, progress, wait_seconds=wait_seconds)

    async def _spent_today(self) -> float:
        """Today's recorded spend (since local midnight) from the ledger."""
        return await (await self.jobs.ledger()).spend_since(start_of_today())

    async def _with_spend(self, result):  # type: ignore[no-untyped-def]
        """``result`` with today's recorded spend filled in (best effort: a ledger problem is reported elsewhere)."""
        try:
            result.spent_today_usd = await self.spend.spent_today()
        except AliceError as exc:
            log.warning("could not read today's spend: %s", exc)
        return result

    def read_policy(self, roots: list[str] | None = None) -> ReadPolicy:
        """Where this call may read local files: the operator's policy narrowed by the client's MCP ``roots``."""
        try:
            output_dir: Path | None = self.settings.resolved_output_dir()
        except AliceError:
            output_dir = None
        return ReadPolicy.from_settings(self.settings, output_dir).with_root_uris(roots)

    async def plan_job(
        self,
        kind: str,
        endpoint: Endpoint,
        request: BaseModel,
        settings: params.AudioSettings,
        wanted: Path,
        source: LocalVideo | RemoteVideo | None = None,
        details: dict | None = None,
    ) -> JobPlan:
        """The job to record: cost, input fingerprint (content digest of a local file) and, when the request has an
        explicit seed, its cache key (the whole request model, so fields added later count automatically)."""
        fingerprint: Optional[str] = None
        if isinstance(source, LocalVideo):
            fingerprint = await cache.file_digest(source.path, await self.jobs.ledger())
        elif isinstance(source, RemoteVideo):
            fingerprint = "url:" + source.url
        data = request.model_dump(mode="json")
        explicit_seed = (data.get("values") or {}).get("seed") is not None
        key = cache.cache_key(kind, endpoint.id, data, settings.model_dump(), fingerprint) if explicit_seed else None
        return JobPlan(
            kind,
            endpoint,
            data,
            settings.model_dump(),
            wanted,
            self.prices.cost(endpoint.id, settings.duration),
            fingerprint,
            key,
            details or {},
        )

    async def upload_video(self, path: Path, job: JobContext) -> str:
        """fal's URL for a local file: the earlier upload of the same content while it is valid, else a new one."""
        size = path.stat().st_size
        await notify(job.progress, "uploading", f"Uploading {path.name} ({_mb(size)})", 0.0)
        url, reused = await cache.upload_deduped(
            self.gateway(), await self.jobs.ledger(), path, self.settings.upload_ttl
        )
        await job.add_details(uploaded_url=url, upload_reused=reused, uploaded_bytes=0 if reused else size)
        done = f"Reused the earlier upload of {path.name}" if reused else f"Uploaded {_mb(size)}"
        await notify(job.progress, "uploading", done, 1.0)
        return url

    def output_root(self) -> Path:
        """The output folder, resolved (symlinks included)."""
        return Path(os.path.realpath(self.settings.resolved_output_dir()))

    def output_target(self, output_path: str | None, default_name: str) -> Path:
        """The wanted result path in a writable output folder; fails before anything is paid."""
        out_dir = ensure_output_dir(self.settings.resolved_output_dir())
        return target_path(out_dir, output_path, default_name)

    async def run_job(
        self,
        endpoint: Endpoint,
        payload: dict,
        wanted: Path,
        progress: ProgressSink | None,
        *,
        confirm: ConfirmSpend | None = None,
    ) -> FinishedJob:
        """Submit ``payload`` to ``endpoint`` once as a ledger-backed job, follow it, download its output file next
        to ``wanted``; waits for the end. (For bounded waits, plan a :class:`JobPlan` and use ``self.jobs.start``.)"""
        cost = self.prices.cost(endpoint.id, _billed_seconds(payload))  # an unknown price fails closed (ConfigError)
        plan = JobPlan("run_job", endpoint, {"payload": payload}, dict(payload), wanted, cost)

        async def work(job: JobContext) -> None:
            await jobflow.submit_and_finish(self, job, payload)

        record = await self.start_paid_job(plan, work, progress, None, confirm)
        return FinishedJob(
            request_id=record.request_id or "", file_url=record.file_url or "", path=Path(record.output_path or wanted)
        )

    async def continue_job(self, job: JobContext) -> None:
        """The work of a resumed job: carry on from what the ledger says fal has done (see :mod:`jobflow`)."""
        await jobflow.continue_job(self, job)


def _billed_seconds(payload: dict) -> float:
    """The seconds a job is priced on: its requested ``duration`` (the upper bound), else the table default."""
    value = payload.get("duration", params.AudioSettings.model_fields["duration"].default)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(f"The job's duration {value!r} is not a number of seconds.") from None


def _seconds_of(settings: dict) -> float | None:
    """A planned job's duration in seconds, when it has a numeric one (for the formula shown with its cost)."""
    try:
        return float(settings["duration"])
    except (KeyError, TypeError, ValueError):
        return None


def _remaining(wait_seconds: float | None, started: float) -> float | None:
    """What is left of a call's wait (it counts from the start of the call, planning included)."""
    return None if wait_seconds is None else max(0.0, wait_seconds - (time.monotonic() - started))


def _source_stem(source: LocalVideo | RemoteVideo) -> str:
    if isinstance(source, LocalVideo):
        return source.path.stem
    return PurePosixPath(urlsplit(source.url).path).stem or "video"


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size / 1000:.0f} kB"
