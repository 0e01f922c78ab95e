"""Follow a submitted fal job to its end and deliver its output: the tail every job shares, also after a resume.

:func:`follow_job` watches fal's status stream (polling if the stream fails) until the job completes;
:func:`fetch_output_url` reads the output file's URL; :func:`deliver_result` downloads it and publishes the result —
for a video job with a media plan, the audio put onto the original video (plan and options come from the ledger,
so a resumed job finishes the same way). :mod:`alice_mcp.jobs.lifecycle` calls these and records each step.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable, Optional

import anyio

from alice_mcp.adapters.output_policy import partial_file, publish
from alice_mcp.data import params
from alice_mcp.data.endpoints import MMAUDIO_VIDEO
from alice_mcp.data.errors import FalError, FalJobFailed
from alice_mcp.data.progress import ProgressSink, notify
from alice_mcp.jobs.state import JobContext
from alice_mcp.media.pipeline import FinishedMedia, export_track, finish_media, workspace
from alice_mcp.media.plan import MediaPlan

if TYPE_CHECKING:
    from alice_mcp.adapters.fal import JobStatus, Submission
    from alice_mcp.engine.core import AliceCore

log = logging.getLogger(__name__)

# Polls start fast (short jobs finish without waiting a whole interval) and back off to ALICE_POLL_INTERVAL_S.
FIRST_POLL_INTERVAL_S = 0.05


async def follow_job(
    core: "AliceCore",
    endpoint: str,
    job: "Submission",
    progress: ProgressSink | None,
    on_status: Callable[["JobStatus"], Awaitable[None]] | None = None,
) -> None:
    """Follow fal's job until it completes; raise :class:`FalJobFailed` if it completed with an error.

    fal's status stream reports each change as it happens; if it cannot be opened or breaks, polling (fast at
    first, backing off to ``ALICE_POLL_INTERVAL_S``) takes over. Cancelling this call does not cancel the fal job
    (the job manager decides that).
    """
    started = time.monotonic()
    seen_logs = 0

    async def report(status: "JobStatus") -> None:
        nonlocal seen_logs
        if on_status is not None:
            await on_status(status)
        if status.state == "queued":
            where = f"position {status.position}" if status.position is not None else "waiting"
            await notify(progress, "queued", f"Queued at fal ({where})", 0.0)
        elif status.state == "running":
            message = status.logs[-1] if len(status.logs) > seen_logs and status.logs[-1] else "Generating audio"
            seen_logs = len(status.logs)
            fraction = 1.0 - math.exp(-(time.monotonic() - started) / 20.0)
            await notify(progress, "generating", message, fraction)

    final = await _follow_stream(core, endpoint, job, report)
    interval = FIRST_POLL_INTERVAL_S
    while final is None:
        status = await core.gateway().status(endpoint, job)
        await report(status)
        if status.state == "completed":
            final = status
            break
        await asyncio.sleep(interval)
        interval = min(interval * 1.5, core.settings.poll_interval_s)
    if final.error:
        kind = f" ({final.error_type})" if final.error_type else ""
        failure = FalJobFailed(
            f"fal finished request {job.request_id} with an error{kind}: {final.error}", request_id=job.request_id
        )
        failure.error_type = final.error_type  # type: ignore[attr-defined]
        raise failure
    await notify(progress, "generating", "Generation finished", 1.0)


async def _follow_stream(
    core: "AliceCore", endpoint: str, job: "Submission", report: Callable[["JobStatus"], Awaitable[None]]
) -> Optional["JobStatus"]:
    """The completed status from fal's status stream, or ``None`` if the stream failed before it (poll then)."""
    try:
        async for status in core.gateway().status_stream(endpoint, job):
            if status.state == "completed":
                return status
            await report(status)
    except FalError as exc:
        log.info("following request %s by polling: %s", job.request_id, exc.message)
    return None


async def fetch_output_url(core: "AliceCore", endpoint: str, output_key: str, job: "Submission") -> str:
    """The URL of the finished job's output file."""
    output = await core.gateway().result(endpoint, job)
    file = output.get(output_key)
    if not isinstance(file, dict) or not isinstance(file.get("url"), str):
        raise FalError(
            f"fal's result for request {job.request_id} has no {output_key} URL: {str(output)[:200]}",
            request_id=job.request_id,
        )
    return file["url"]


async def deliver_result(core: "AliceCore", job: JobContext, url: str) -> Path:
    """The last step of every job (also after a resume): fetch fal's output file and publish the result.

    A video job with a media plan gets its audio put onto the original video (:func:`finish_media`) and the
    track exported if asked; the plan and options come from the ledger, so a resumed job finishes the same way.
    """
    record = job.record
    wanted = Path(record.wanted_path)
    request_id = record.request_id or ""
    stored_plan = record.details.get("media_plan")
    if stored_plan is None:
        return await download_result(core, url, wanted, request_id, job.progress)
    media = MediaPlan(**stored_plan)
    options = params.PipelineOptions(**record.details.get("pipeline_options", {}))
    if media.upload_method == "url" or not Path(media.source).is_file():
        finished = FinishedMedia(await download_result(core, url, wanted.with_suffix(".mp4"), request_id, job.progress))
        if media.upload_method != "url":
            finished.notes.append(f"The original {media.source} is gone, so fal's version of the video was saved.")
        finished.audio_path = await export_track(finished.path, finished.path, options, None, finished.notes)
    else:
        with workspace(core.settings) as folder:
            generated = await download_result(
                core, url, folder / f"fal-result{MMAUDIO_VIDEO.suffix}", request_id, job.progress
            )
            finished = await finish_media(media, options, generated, wanted, job.progress)
    await job.add_details(
        notes=media.notes + finished.notes,
        audio_path=str(finished.audio_path) if finished.audio_path else None,
    )
    return finished.path


async def download_result(
    core: "AliceCore", url: str, wanted: Path, request_id: str, progress: ProgressSink | None
) -> Path:
    """Download ``url`` next to ``wanted`` under a hidden temporary name, then publish it atomically."""

    async def on_bytes(done: int, total: int | None) -> None:
        fraction = done / total if total else None
        await notify(progress, "downloading", f"Downloading the result ({_mb(done)})", fraction)

    with partial_file(wanted.parent, wanted.suffix) as temp:
        try:
            await core.gateway().download(url, temp, on_bytes)
        except FalError as exc:
            raise type(exc)(
                f"fal finished request {request_id}, but {exc.message[0].lower()}{exc.message[1:]} "
                f"The result is still at fal: {url}",
                request_id=request_id,
            ) from exc
        await notify(progress, "finishing", "Saving the file", 0.5)
        with anyio.CancelScope(shield=True):  # a published file is always recorded by the caller
            return await anyio.to_thread.run_sync(publish, temp, wanted)


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size / 1000:.0f} kB"
