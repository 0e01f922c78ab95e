"""The generation core: one flow shared by every face (MCP tools, CLI, Python API).

A call picks the recipe of its endpoint (:mod:`alice_mcp.engine.recipes`), which checks the request and plans the
job without paying anything (for a video: resolve and probe the clip, plan the segment and the upload); a cached
result of the same deterministic request is returned as it is. Otherwise the spend is authorized and the job
starts in the job machinery (:mod:`alice_mcp.jobs`): record in the ledger, upload, submit once, follow, fetch,
finish (for a video: the generated audio put onto the original video) and publish atomically into the output
folder. A call waits for it at most ``wait_seconds``.

The core knows nothing of MCP, argparse or terminals: it reports through a
:data:`~alice_mcp.data.progress.ProgressSink`, raises :class:`~alice_mcp.data.errors.AliceError` for anything the
user can act on, and words its hints in the :class:`~alice_mcp.data.vocabulary.Vocabulary` of the face that made it.
"""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, AsyncIterator, TypeVar

from alice_mcp.adapters.read_policy import ReadPolicy
from alice_mcp.adapters.settings import Settings
from alice_mcp.data.errors import AliceError, FalError, InputError, JobCancelled
from alice_mcp.data.idempotency import IdempotencyClaim
from alice_mcp.data.prices import PriceTable, parse_overrides
from alice_mcp.data.progress import ProgressSink, notify
from alice_mcp.data.vocabulary import MCP_WORDS, Vocabulary
from alice_mcp.engine import estimates, idempotency, planning
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
from alice_mcp.engine.planning import PreparedJob
from alice_mcp.engine.recipes.base import Recipe
from alice_mcp.engine.recipes.registry import (
    FOLEY_RECIPES,
    KLING_V21_TEXT_TO_VIDEO,
    MMAUDIO_V2_TEXT_TO_AUDIO,
    finisher_for,
    foley_models,
    foley_recipes,
    published_prices,
    resumer_for,
    soundtrack_recipe,
    video_to_audio_recipe,
)
from alice_mcp.engine.spend import ConfirmSpend, SpendGuard, start_of_today
from alice_mcp.engine.status import generation_status, generation_summary
from alice_mcp.jobs.manager import JobManager
from alice_mcp.jobs.services import JobServices

if TYPE_CHECKING:  # fal_client loads on the first paid call, not at start-up
    from alice_mcp.adapters.fal import FalGateway
    from alice_mcp.adapters.ledger import JobRecord
    from alice_mcp.engine.recipes.soundtrack import SoundtrackRecipe

log = logging.getLogger(__name__)

ResultT = TypeVar("ResultT")


def _refuse_key_for_takes(idempotency: IdempotencyClaim | None, request: VideoAudioRequest, recipes: list) -> None:
    """The takes paths (several takes or models, another model on a short clip, ``model_options``) do not keep an
    idempotency key: a key there is refused by name before anything is paid, rather than a retry paying again."""
    if idempotency is None:
        return
    if request.takes != 1 or len(recipes) > 1:
        what = f"{request.takes} take(s) of {len(recipes)} model(s)"
    else:
        what = f"one clip of at most one window with {recipes[0].spec.alias}" + (
            " and `model_options`" if request.model_options else ""
        )
    raise InputError(
        f"`idempotency_key` is not kept for {what}: a retry could pay again. Drop `idempotency_key` (it is kept for "
        "MMAudio V2 without `model_options`, and for a long clip's soundtrack of one take of one model)."
    )


class AliceCore:
    """Runs generations for one operator configuration, wording hints in ``words`` (the face's vocabulary).
    Cheap to create: no network until a job runs."""

    def __init__(self, settings: Settings, *, gateway: FalGateway | None = None, words: Vocabulary = MCP_WORDS) -> None:
        self.settings = settings
        self.words = words
        self.prices = PriceTable(published_prices(), parse_overrides(settings.price_overrides))
        self._gateway = gateway
        self.spend = SpendGuard(settings, self.prices, self._spent_today)
        self.services = JobServices(
            settings, self.gateway, self.spend, self.prices, finisher_for, words, resumer=resumer_for
        )
        self.jobs = JobManager(self.services)

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[AliceCore]:
        """Run background jobs (and resume those left in flight) while the face serves; see :mod:`alice_mcp.jobs`."""
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
            self.services,
            self.spend,
            duration=duration,
            video=video,
            count=count,
            start_time=start_time,
            model=model,
            roots=roots,
        )

    # ---------------------------------------------------------------------------------------------- generation
    async def add_audio_to_video(
        self,
        request: VideoAudioRequest,
        progress: ProgressSink | None = None,
        *,
        wait_seconds: float | None = None,
        force: bool = False,
        confirm: ConfirmSpend | None = None,
        model: str | list[str] | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> VideoAudioResult:
        """Run one paid video-to-audio job (``model``: default MMAudio V2), or return the saved result of the same
        deterministic request (``cached``; ``force`` skips that). Waits up to ``wait_seconds`` (``None``: to the
        end); a job still running comes back with ``status="running"`` and its ``job_id``, and keeps going.
        Raises :class:`AliceError`.

        ``confirm`` is the face's way to ask the user when the job costs more than ``ALICE_CONFIRM_SPEND_ABOVE_USD``
        (none: such jobs fail closed); the spend is checked before anything is uploaded. With ``idempotency`` (a key
        and what the request is), a repeat of the same request returns the same job and pays nothing
        (:mod:`alice_mcp.engine.idempotency`)."""
        started = time.monotonic()
        recipes = foley_recipes(model)
        soundtracks = [soundtrack_recipe(r.endpoint.id) for r in recipes]
        if (request.takes != 1 or len(soundtracks) > 1) and await self._wants_soundtrack(soundtracks, request):
            from alice_mcp.engine.recipes.soundtrack_takes import run_soundtrack_takes

            _refuse_key_for_takes(idempotency, request, recipes)

            result = await run_soundtrack_takes(
                self,
                soundtracks,
                request,
                progress,
                started=started,
                wait_seconds=wait_seconds,
                force=force,
                confirm=confirm,
            )
            return await self._with_spend(result)
        soundtrack = soundtracks[0]
        if len(soundtracks) == 1 and request.takes == 1 and await soundtrack.wanted_for(self.services, request):
            # no duration, and longer than one window of this model (or a timeline): one job of many parts

            async def run_soundtrack(key: str | None):  # type: ignore[no-untyped-def]
                prepared = await soundtrack.prepare(self.services, self.jobs, request, progress, force=force)
                return await self._run(soundtrack, prepared, progress, started, wait_seconds, confirm, key)

            return await self._once(idempotency, soundtrack, progress, started, wait_seconds, run_soundtrack)
        if request.takes != 1 or request.model_options or recipes != [FOLEY_RECIPES[0]]:
            from alice_mcp.engine.recipes.foley import run_takes

            _refuse_key_for_takes(idempotency, request, recipes)

            result = await run_takes(
                self,
                recipes,
                request,
                progress,
                started=started,
                wait_seconds=wait_seconds,
                force=force,
                confirm=confirm,
                others=foley_models(),
            )
            return await self._with_spend(result)
        recipe = video_to_audio_recipe(None)

        async def run(key: str | None):  # type: ignore[no-untyped-def]
            prepared = await self.prepare_video_job(request, progress, force=force)
            return await self._run(recipe, prepared, progress, started, wait_seconds, confirm, key)

        return await self._once(idempotency, recipe, progress, started, wait_seconds, run)

    async def _wants_soundtrack(self, soundtracks: list[SoundtrackRecipe], request: VideoAudioRequest) -> bool:
        """Whether ``request`` is a soundtrack of many windows for any of the models (each by its own limits)."""
        for soundtrack in soundtracks:
            if await soundtrack.wanted_for(self.services, request):
                return True
        return False

    async def regenerate_soundtrack_windows(
        self,
        job_id: str,
        regenerate: list[int | float | str],
        progress: ProgressSink | None = None,
        *,
        wait_seconds: float | None = None,
        confirm: ConfirmSpend | None = None,
    ) -> VideoAudioResult:
        """Redo only the chosen windows (index, or time like ``"12.5s"``) of a finished soundtrack: a new job that pays
        for those windows alone, keeps every other part, joins again and saves a new file. Raises :class:`AliceError`."""
        started = time.monotonic()
        record = await self.jobs.get(job_id)
        recipe = soundtrack_recipe(record.endpoint)
        prepared = await recipe.regenerate(self.services, self.jobs, job_id, regenerate)
        return await self._run(recipe, prepared, progress, started, wait_seconds, confirm)

    async def prepare_video_job(
        self,
        request: VideoAudioRequest,
        progress: ProgressSink | None = None,
        *,
        force: bool = False,
        model: str | None = None,
    ) -> PreparedJob:
        """Check a video request, probe the clip and plan its job without paying anything; finds a cached result."""
        return await video_to_audio_recipe(model).prepare(self.services, self.jobs, request, progress, force=force)

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

        return await run_batch(
            request,
            progress,
            policy=planning.read_policy(self.settings, request.roots),
            prepare=self.prepare_video_job,
            start=self.start_paid_job,
            jobs=self.jobs,
            words=self.words,
            wait_seconds=wait_seconds,
            confirm=confirm,
            authorize_call=self.spend.authorize_call,
        )

    async def generate_audio(
        self,
        request: AudioRequest,
        progress: ProgressSink | None = None,
        *,
        wait_seconds: float | None = None,
        force: bool = False,
        confirm: ConfirmSpend | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> AudioResult:
        """Run one paid MMAudio text-to-audio job (the FLAC lands in the output folder); waits, caching, spend checks
        and errors as :meth:`add_audio_to_video`."""
        started = time.monotonic()
        recipe = MMAUDIO_V2_TEXT_TO_AUDIO

        async def run(key: str | None):  # type: ignore[no-untyped-def]
            prepared = await recipe.prepare(self.services, self.jobs, request, progress, force=force)
            return await self._run(recipe, prepared, progress, started, wait_seconds, confirm, key)

        return await self._once(idempotency, recipe, progress, started, wait_seconds, run)

    async def generate_video(
        self,
        request: VideoRequest,
        progress: ProgressSink | None = None,
        *,
        wait_seconds: float | None = None,
        confirm: ConfirmSpend | None = None,
        idempotency: IdempotencyClaim | None = None,
    ) -> VideoResult:
        """Run one paid Kling text-to-video job (the MP4, without sound, lands in the output folder); waits, spend
        checks and errors as :meth:`add_audio_to_video`. Kling takes no seed, so every call is a new variation
        (never cached)."""
        started = time.monotonic()
        recipe = KLING_V21_TEXT_TO_VIDEO

        async def run(key: str | None):  # type: ignore[no-untyped-def]
            prepared = await recipe.prepare(self.services, self.jobs, request, progress)
            return await self._run(recipe, prepared, progress, started, wait_seconds, confirm, key)

        return await self._once(idempotency, recipe, progress, started, wait_seconds, run)

    async def _run(
        self,
        recipe: Recipe,
        prepared: PreparedJob,
        progress: ProgressSink | None,
        started: float,
        wait_seconds: float | None,
        confirm: ConfirmSpend | None,
        idempotency_key: str | None = None,
    ):  # type: ignore[no-untyped-def]
        """A prepared job's result: its cached result, or the job started (spend authorized) and waited for.
        A claimed ``idempotency_key`` is bound to the job (or to the cached one)."""
        if prepared.cached is not None:
            if idempotency_key is not None:
                await (await self.jobs.ledger()).bind_idempotency_key(idempotency_key, prepared.cached.id)
            await notify(progress, "done", f"Already made: {prepared.cached.output_path}", 1.0)
            return await self._with_spend(recipe.result(prepared.cached, self.jobs, started, cached=True))
        remaining = _remaining(wait_seconds, started)
        record = await self.start_paid_job(prepared, progress, remaining, confirm, idempotency_key=idempotency_key)
        return await self._with_spend(recipe.result(record, self.jobs, started))

    async def _once(self, claim, recipe, progress, started, wait_seconds, run):  # type: ignore[no-untyped-def]
        """``run(key)`` (plan and start the job) once per idempotency ``claim``; a repeat gets the first job."""
        if claim is None:
            return await run(None)
        ledger = await self.jobs.ledger()
        for _ in range(3):  # a job that never reached fal frees its key: then this call runs the request
            job_id = await idempotency.existing_job(ledger, claim)
            if job_id is None:
                try:
                    return await run(claim.key)
                except BaseException:
                    await idempotency.release(ledger, claim)  # only frees a key that never got a job
                    raise
            await notify(progress, "checking", f"Same request and idempotency_key as job {job_id}: following it")
            record = await self.jobs.wait(job_id, _remaining(wait_seconds, started), progress)  # type: ignore[arg-type]
            if record.status == "failed" and record.submitted_at is None:
                await ledger.forget_idempotency_job(claim.key, job_id)
                continue
            break
        if record.status in ("failed", "submit_unknown"):
            raise FalError(f"The request with this idempotency_key is job {job_id}, which failed: {record.error}")
        if record.status == "cancelled":
            raise JobCancelled(f"The request with this idempotency_key is job {job_id}, which was cancelled.")
        return await self._with_spend(recipe.result(record, self.jobs, started))

    # --------------------------------------------------------------------------------------------------- jobs
    async def generation_status(self, job_id: str) -> GenerationStatus:
        """A job's status as the ledger (and this process) knows it, without waiting for or resuming it."""
        return generation_status(await self.jobs.get(job_id), self.jobs)

    async def get_generation(
        self, job_id: str, wait_seconds: float, progress: ProgressSink | None = None
    ) -> GenerationStatus:
        """Wait up to ``wait_seconds`` for a job (resuming it or retrying its download if nobody is); its status."""
        return generation_status(await self.jobs.wait(job_id, wait_seconds, progress), self.jobs)

    async def cancel_generation(self, job_id: str) -> GenerationStatus:
        """Cancel a job at fal and in the ledger (a job fal already finished is kept)."""
        return generation_status(await self.jobs.cancel(job_id), self.jobs)

    async def list_generations(self, limit: int = 20, status: str | None = None) -> GenerationList:
        """The newest jobs in the ledger, optionally only those with ``status``."""
        summaries = [generation_summary(r) for r in await self.jobs.recent(limit, status)]
        return GenerationList(
            jobs=summaries, count=len(summaries), total_cost_usd=round(sum(j.cost_usd for j in summaries), 6)
        )

    # ---------------------------------------------------------------------------------------- safety and spend
    async def start_paid_job(
        self,
        prepared: PreparedJob,
        progress: ProgressSink | None,
        wait_seconds: float | None,
        confirm: ConfirmSpend | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> JobRecord:
        """Check a prepared job's spend (operator limits, the user's approval through ``confirm``), then start it.
        Every paid job starts here; its submit re-checks the limits (:func:`alice_mcp.jobs.lifecycle`)."""
        plan = prepared.plan
        formula = plan.details.get("cost_formula")  # a whole of many calls says how it adds up
        await self.spend.authorize(plan.endpoint.id, plan.cost_usd, confirm, _seconds_of(plan.settings), formula)
        return await self.jobs.start(
            plan, prepared.work, progress, wait_seconds=wait_seconds, idempotency_key=idempotency_key
        )

    async def _spent_today(self) -> float:
        """Today's recorded spend (since local midnight) from the ledger."""
        return await (await self.jobs.ledger()).spend_since(start_of_today())

    async def _with_spend(self, result: ResultT) -> ResultT:
        """``result`` with today's recorded spend filled in (best effort: a ledger problem is reported elsewhere)."""
        try:
            result.spent_today_usd = await self.spend.spent_today()  # type: ignore[attr-defined]
        except AliceError as exc:
            log.warning("could not read today's spend: %s", exc)
        return result

    def read_policy(self, roots: list[str] | None = None) -> ReadPolicy:
        """Where this call may read local files: the operator's policy narrowed by the client's MCP ``roots``."""
        return planning.read_policy(self.settings, roots)


def _seconds_of(settings: dict) -> float | None:
    """A planned job's duration in seconds, when it has a numeric one (for the formula shown with its cost)."""
    try:
        return float(settings["duration"])
    except (KeyError, TypeError, ValueError):
        return None


def _remaining(wait_seconds: float | None, started: float) -> float | None:
    """What is left of a call's wait (it counts from the start of the call, planning included)."""
    return None if wait_seconds is None else max(0.0, wait_seconds - (time.monotonic() - started))
