"""Video-to-audio recipes: a clip goes in, a soundtrack comes out and is put back onto the ORIGINAL video.

Planning checks the request, probes the clip and plans the segment and what is uploaded (original, stream-copied
cut or proxy) without paying anything. The work uploads that file (deduplicated), submits the model's payload once
and follows the job; finishing puts fal's audio onto the original video with the media plan recorded in the
ledger, so a job resumed after a restart finishes the same way.

The media layer is imported where it is used, so that starting a server (which only lists the recipes) does not
load it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Callable
from urllib.parse import urlsplit

from alice_mcp.adapters.output_policy import output_name
from alice_mcp.adapters.sources import LocalVideo, RemoteVideo, resolve_video
from alice_mcp.data import params
from alice_mcp.data.endpoints import Endpoint
from alice_mcp.data.progress import ProgressSink, notify
from alice_mcp.engine import planning
from alice_mcp.engine.models import VideoAudioRequest, VideoAudioResult
from alice_mcp.engine.planning import PreparedJob
from alice_mcp.engine.recipes.base import Recipe
from alice_mcp.engine.status import video_result
from alice_mcp.jobs.follow import download_result
from alice_mcp.jobs.lifecycle import submit_and_finish
from alice_mcp.jobs.state import JobContext

if TYPE_CHECKING:
    from alice_mcp.adapters.ledger import JobRecord
    from alice_mcp.jobs.manager import JobManager
    from alice_mcp.jobs.services import Finish, JobServices

#: The model's fal payload from the resolved settings and the uploaded clip's URL (its own field names).
PayloadBuilder = Callable[[params.AudioSettings, str], dict]


class VideoToAudioRecipe(Recipe):
    """A video-to-audio model on fal: ``payload`` maps the common settings onto the model's own fields."""

    kind = "add_audio_to_video"

    def __init__(self, endpoint: Endpoint, payload: PayloadBuilder) -> None:
        super().__init__(endpoint)
        self.payload = payload

    async def prepare(
        self,
        services: JobServices,
        jobs: JobManager,
        request: VideoAudioRequest,
        progress: ProgressSink | None = None,
        *,
        force: bool = False,
    ) -> PreparedJob:
        """Check a video request, probe the clip and plan its job (segment, upload method, cost, cache key) without
        paying anything; finds a cached result. A file that is not a usable video fails here, before any upload."""
        from alice_mcp.media.pipeline import plan_media, prepare_upload, workspace

        settings_env = services.settings
        await notify(progress, "checking", "Checking the request")
        options = planning.pipeline_options(request.options, request.preset)
        settings = planning.resolve_settings(request.preset, request.values, options.quality, services.words)
        source = resolve_video(request.video, planning.read_policy(settings_env, request.roots))
        await notify(progress, "checking", "Probing the clip")
        media = await plan_media(
            source,
            options,
            requested_duration=request.values.get("duration"),
            default_duration=settings.duration,
            wanted_suffix=Path(request.output_path).suffix if request.output_path else None,
        )
        settings = settings.model_copy(update={"duration": media.duration})
        default_name = output_name(
            _source_stem(source), request.preset or "audio", f"seed{settings.seed}", suffix=media.output_suffix
        )
        wanted = planning.output_target(settings_env, request.output_path, default_name)
        services.gateway()  # a missing FAL_KEY fails here, before anything is uploaded
        plan = await planning.plan_job(
            jobs,
            self.kind,
            self.endpoint,
            request,
            settings,
            wanted,
            services.prices.cost(self.endpoint.id, settings.duration),
            source,
            details={
                "media_plan": media.model_dump(mode="json"),
                "pipeline_options": options.model_dump(mode="json"),
            },
        )

        async def work(job: JobContext) -> None:
            if not isinstance(source, LocalVideo):
                await submit_and_finish(job.services, job, self.payload(settings, source.url))
                return

            async def send_clip() -> dict:
                with workspace(settings_env) as folder:  # the cut or proxy lives only until it is uploaded
                    upload = await prepare_upload(media, folder, job.progress)
                    if media.upload_method != plan.details["media_plan"]["upload_method"]:  # a failed cut: proxy
                        await job.add_details(media_plan=media.model_dump(mode="json"))
                    return self.payload(settings, await planning.upload_file(upload, job))

            await submit_and_finish(job.services, job, await send_clip(), reupload=send_clip)

        if force:  # force pays again: it never joins a job in flight
            plan = dataclasses.replace(plan, attach_in_flight=False)
        cached = None if force else await jobs.cached(plan, planning.output_root(settings_env))
        return PreparedJob(plan, work, cached)

    def finisher(self, record: JobRecord) -> Finish | None:
        return self.finish

    async def finish(self, job: JobContext, url: str) -> Path:
        """Fetch fal's output and publish the result: for a job with a media plan, the generated audio put onto the
        original video (and the track exported if asked); plan and options come from the ledger."""
        from alice_mcp.media.pipeline import FinishedMedia, export_track, finish_media, workspace
        from alice_mcp.media.plan import MediaPlan

        record = job.record
        wanted = Path(record.wanted_path)
        request_id = record.request_id or ""
        services = job.services
        stored_plan = record.details.get("media_plan")
        if stored_plan is None:
            return await download_result(services, url, wanted, request_id, job.progress)
        media = MediaPlan(**stored_plan)
        options = params.PipelineOptions(**record.details.get("pipeline_options", {}))
        if media.upload_method == "url" or not Path(media.source).is_file():
            fal_copy = await download_result(services, url, wanted.with_suffix(".mp4"), request_id, job.progress)
            finished = FinishedMedia(fal_copy)
            if media.upload_method != "url":
                finished.notes.append(f"The original {media.source} is gone, so fal's version of the video was saved.")
            finished.audio_path = await export_track(finished.path, finished.path, options, None, finished.notes)
        else:
            with workspace(services.settings) as folder:
                generated = await download_result(
                    services, url, folder / f"fal-result{self.endpoint.suffix}", request_id, job.progress
                )
                finished = await finish_media(media, options, generated, wanted, job.progress)
        await job.add_details(
            notes=media.notes + finished.notes,
            audio_path=str(finished.audio_path) if finished.audio_path else None,
            finishing=finished.finishing(),
        )
        return finished.path

    def result(self, record: JobRecord, jobs: JobManager, started: float, *, cached: bool = False) -> VideoAudioResult:
        return video_result(record, jobs, started, cached=cached)


def _source_stem(source: LocalVideo | RemoteVideo) -> str:
    if isinstance(source, LocalVideo):
        return source.path.stem or "video"
    return PurePosixPath(urlsplit(source.url).path).stem or "video"
