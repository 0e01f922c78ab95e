"""Text-to-video recipes: a prompt goes in, a silent MP4 lands in the output folder (Kling on fal).

Kling takes no seed, so every call is a new variation: its jobs are never served from the cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alice_mcp.adapters.output_policy import output_name
from alice_mcp.data.kling_params import kling_settings_from
from alice_mcp.data.progress import ProgressSink, notify
from alice_mcp.engine import planning
from alice_mcp.engine.models import VideoRequest, VideoResult
from alice_mcp.engine.planning import PreparedJob
from alice_mcp.engine.recipes.base import Recipe
from alice_mcp.engine.status import kling_video_result
from alice_mcp.jobs.lifecycle import submit_and_finish
from alice_mcp.jobs.state import JobContext

if TYPE_CHECKING:
    from alice_mcp.adapters.ledger import JobRecord
    from alice_mcp.jobs.manager import JobManager
    from alice_mcp.jobs.services import JobServices


class TextToVideoRecipe(Recipe):
    """A text-to-video model on fal whose settings are the Kling table (:mod:`alice_mcp.data.kling_params`)."""

    kind = "generate_video"

    async def prepare(
        self,
        services: JobServices,
        jobs: JobManager,
        request: VideoRequest,
        progress: ProgressSink | None = None,
        *,
        force: bool = False,
    ) -> PreparedJob:
        """Check the request and plan its job (cost from the clip's seconds). Nothing is paid here."""
        await notify(progress, "checking", "Checking the request")
        settings = kling_settings_from(request.values)
        default_name = output_name(
            settings.prompt[:40], "kling", f"{settings.duration}s", suffix=self.endpoint.suffix, fallback="video"
        )
        wanted = planning.output_target(services.settings, request.output_path, default_name)
        services.gateway()
        cost = services.prices.cost(self.endpoint.id, settings.seconds())
        plan = await planning.plan_job(jobs, self.kind, self.endpoint, request, settings, wanted, cost, cacheable=False)
        payload = settings.model_dump()

        async def work(job: JobContext) -> None:
            await submit_and_finish(job.services, job, payload)

        return PreparedJob(plan, work, None)

    def result(self, record: JobRecord, jobs: JobManager, started: float, *, cached: bool = False) -> VideoResult:
        return kling_video_result(record, jobs, started)
