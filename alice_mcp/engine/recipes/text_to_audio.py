"""Text-to-audio recipes: a prompt goes in, an audio file (FLAC) lands in the output folder."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from alice_mcp.adapters.output_policy import output_name
from alice_mcp.data import params
from alice_mcp.data.progress import ProgressSink, notify
from alice_mcp.engine import planning
from alice_mcp.engine.models import AudioRequest, AudioResult
from alice_mcp.engine.planning import PreparedJob
from alice_mcp.engine.recipes.base import Recipe
from alice_mcp.engine.status import audio_result
from alice_mcp.jobs.lifecycle import submit_and_finish
from alice_mcp.jobs.state import JobContext

if TYPE_CHECKING:
    from alice_mcp.adapters.ledger import JobRecord
    from alice_mcp.jobs.manager import JobManager
    from alice_mcp.jobs.services import JobServices


class TextToAudioRecipe(Recipe):
    """A text-to-audio model on fal that takes the parameter table's fields as they are (MMAudio's)."""

    kind = "generate_audio"

    async def prepare(
        self,
        services: JobServices,
        jobs: JobManager,
        request: AudioRequest,
        progress: ProgressSink | None = None,
        *,
        force: bool = False,
    ) -> PreparedJob:
        """Check the request and plan its job (cost, cache key); finds a cached result. Nothing is paid here."""
        await notify(progress, "checking", "Checking the request")
        settings = planning.resolve_settings(request.preset, request.values, request.quality, services.words)
        default_name = output_name(
            request.preset or settings.prompt[:40], f"seed{settings.seed}", suffix=self.endpoint.suffix
        )
        wanted = planning.output_target(services.settings, request.output_path, default_name)
        services.gateway()  # a missing FAL_KEY fails here, before anything is paid
        cost = services.prices.cost(self.endpoint.id, settings.duration)
        plan = await planning.plan_job(jobs, self.kind, self.endpoint, request, settings, wanted, cost)

        async def work(job: JobContext) -> None:
            await submit_and_finish(job.services, job, params.fal_payload(settings))

        if force:  # force pays again: it never joins a job in flight
            plan = dataclasses.replace(plan, attach_in_flight=False)
        cached = None if force else await jobs.cached(plan, planning.output_root(services.settings))
        return PreparedJob(plan, work, cached)

    def result(self, record: JobRecord, jobs: JobManager, started: float, *, cached: bool = False) -> AudioResult:
        return audio_result(record, jobs, started, cached=cached)
