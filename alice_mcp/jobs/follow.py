"""Follow a submitted fal job to its end and fetch its output: the tail every job shares, also after a resume.

:func:`follow_job` watches fal's status stream (polling if the stream fails) until the job completes;
:func:`fetch_output_url` reads the output file's URL; :func:`download_result` downloads a file and publishes it
atomically. What a finished job's output becomes (a plain download, or audio put onto the original video) is the
job's recipe's finishing step (:attr:`JobServices.finisher`); :mod:`alice_mcp.jobs.lifecycle` records each step.
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
from alice_mcp.data.errors import FalError, FalJobFailed
from alice_mcp.data.progress import ProgressSink, megabytes, notify

if TYPE_CHECKING:
    from alice_mcp.adapters.fal import JobStatus, Submission
    from alice_mcp.jobs.services import JobServices

log = logging.getLogger(__name__)

# Polls start fast (short jobs finish without waiting a whole interval) and back off to ALICE_POLL_INTERVAL_S.
FIRST_POLL_INTERVAL_S = 0.05


async def follow_job(
    services: JobServices,
    endpoint: str,
    job: Submission,
    progress: ProgressSink | None,
    on_status: Callable[[JobStatus], Awaitable[None]] | None = None,
) -> None:
    """Follow fal's job until it completes; raise :class:`FalJobFailed` if it completed with an error.

    fal's status stream reports each change as it happens; if it cannot be opened or breaks, polling (fast at
    first, backing off to ``ALICE_POLL_INTERVAL_S``) takes over. Cancelling this call does not cancel the fal job
    (the job manager decides that).
    """
    started = time.monotonic()
    seen_logs = 0

    async def report(status: JobStatus) -> None:
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

    final = await _follow_stream(services, endpoint, job, report)
    interval = FIRST_POLL_INTERVAL_S
    while final is None:
        status = await services.gateway().status(endpoint, job)
        await report(status)
        if status.state == "completed":
            final = status
            break
        await asyncio.sleep(interval)
        interval = min(interval * 1.5, services.settings.poll_interval_s)
    if final.error:
        kind = f" ({final.error_type})" if final.error_type else ""
        raise FalJobFailed(
            f"fal finished request {job.request_id} with an error{kind}: {final.error}",
            request_id=job.request_id,
            error_type=final.error_type,
        )
    await notify(progress, "generating", "Generation finished", 1.0)


async def _follow_stream(
    services: JobServices, endpoint: str, job: Submission, report: Callable[[JobStatus], Awaitable[None]]
) -> Optional[JobStatus]:
    """The completed status from fal's status stream, or ``None`` if the stream failed before it (poll then)."""
    try:
        async for status in services.gateway().status_stream(endpoint, job):
            if status.state == "completed":
                return status
            await report(status)
    except FalError as exc:
        log.info("following request %s by polling: %s", job.request_id, exc.message)
    return None


async def fetch_output_url(services: JobServices, endpoint: str, output_key: str, job: Submission) -> str:
    """The URL of the finished job's output file."""
    output = await services.gateway().result(endpoint, job)
    file = output.get(output_key)
    if isinstance(file, list) and file:  # a multi-sample model: the first sample (its recipe finishes the others)
        file = file[0]
    if not isinstance(file, dict) or not isinstance(file.get("url"), str):
        raise FalError(
            f"fal's result for request {job.request_id} has no {output_key} URL: {str(output)[:200]}",
            request_id=job.request_id,
        )
    return file["url"]


async def download_result(
    services: JobServices, url: str, wanted: Path, request_id: str, progress: ProgressSink | None
) -> Path:
    """Download ``url`` next to ``wanted`` under a hidden temporary name, then publish it atomically."""

    async def on_bytes(done: int, total: int | None) -> None:
        fraction = done / total if total else None
        await notify(progress, "downloading", f"Downloading the result ({megabytes(done)})", fraction)

    with partial_file(wanted.parent, wanted.suffix) as temp:
        try:
            await services.gateway().download(url, temp, on_bytes)
        except FalError as exc:
            raise type(exc)(
                f"fal finished request {request_id}, but {exc.message[0].lower()}{exc.message[1:]} "
                f"The result is still at fal: {url}",
                request_id=request_id,
            ) from exc
        await notify(progress, "finishing", "Saving the file", 0.5)
        with anyio.CancelScope(shield=True):  # a published file is always recorded by the caller
            published = await anyio.to_thread.run_sync(publish, temp, wanted)
    return published
