"""Many videos in one call: expand folders, plan every item (the estimate comes before anything is paid), start one
job per item, wait for all of them at most ``wait_seconds``, report each item on its own.

A video that cannot be used (missing, not a video, ...) is a failed item; the others still run. Cancelling the call
cancels the jobs it started.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable

import anyio

from alice_mcp.adapters.ledger import COMPLETED
from alice_mcp.adapters.sources import VIDEO_SUFFIXES, RemoteVideo, parse_video_argument
from alice_mcp.data.errors import AliceError, InputError
from alice_mcp.data.money import usd
from alice_mcp.data.progress import ProgressSink, notify
from alice_mcp.data.vocabulary import Vocabulary
from alice_mcp.engine.models import BatchItem, BatchRequest, BatchResult, VideoAudioRequest

if TYPE_CHECKING:
    from alice_mcp.adapters.ledger import JobRecord
    from alice_mcp.adapters.read_policy import ReadPolicy
    from alice_mcp.engine.planning import PreparedJob
    from alice_mcp.jobs.manager import JobManager

    #: Plans one video's job without paying (``AliceCore.prepare_video_job``).
    Prepare = Callable[..., Awaitable[PreparedJob]]
    #: Authorizes a prepared job's spend and starts it (``AliceCore.start_paid_job``).
    Start = Callable[..., Awaitable[JobRecord]]
    #: Checks a whole call's total against the per-call cap and approval threshold (``SpendGuard.authorize_call``).
    AuthorizeCall = Callable[..., Awaitable["ConfirmSpend | None"]]
    from alice_mcp.engine.spend import ConfirmSpend

MAX_BATCH = 100


def expand_videos(videos: list[str], policy: ReadPolicy | None = None) -> list[tuple[str, str | None]]:
    """(video, error) per item: folders become their video files (sorted, not recursive); duplicates are dropped.
    A folder is listed only if the read ``policy`` allows it. Blocking (lists folders): run it in a worker thread."""
    items: list[tuple[str, str | None]] = []
    for video in videos:
        try:
            parsed = parse_video_argument(video, allow_http=policy.allow_http if policy is not None else False)
        except InputError as exc:
            items.append((video, exc.message))
            continue
        if isinstance(parsed, RemoteVideo):
            items.append((video, None))
            continue
        folder = Path(os.path.realpath(parsed.expanduser())) if parsed.expanduser().is_absolute() else None
        if folder is not None and policy is not None:
            try:
                policy.check_path(folder, video)  # never list a folder that may not be read
            except InputError as exc:
                items.append((video, exc.message))
                continue
        if folder is not None and folder.is_dir():
            found = sorted(
                p
                for p in folder.iterdir()
                if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith(".")
            )
            if not found:
                items.append((video, f"The folder {folder} holds no video files ({', '.join(VIDEO_SUFFIXES)})."))
            items.extend((str(p), None) for p in found)
        else:
            items.append((video, None))
    seen: set[str] = set()
    unique = [(v, e) for v, e in items if not (v in seen or seen.add(v))]  # type: ignore[func-returns-value]
    if len(unique) > MAX_BATCH:
        raise InputError(
            f"{len(unique)} videos in one call; the limit is {MAX_BATCH}. Split the list into smaller batches."
        )
    return unique


async def run_batch(
    request: BatchRequest,
    progress: ProgressSink | None,
    *,
    policy: ReadPolicy,
    prepare: Prepare,
    start: Start,
    jobs: JobManager,
    words: Vocabulary,
    wait_seconds: float | None,
    confirm: ConfirmSpend | None = None,
    authorize_call: AuthorizeCall | None = None,
) -> BatchResult:
    """Plan, estimate, start and wait for one job per video (see the module docstring)."""
    if not request.videos:
        raise InputError("`videos` is empty: give video paths, https URLs or a folder.")
    items = await anyio.to_thread.run_sync(expand_videos, request.videos, policy)
    await notify(progress, "checking", f"Checking {len(items)} videos")
    results: dict[int, BatchItem] = {}
    prepared: dict[int, PreparedJob] = {}
    for index, (video, error) in enumerate(items):
        if error is not None:
            results[index] = BatchItem(video=video, status="failed", error=error)
            continue
        try:
            one = VideoAudioRequest(
                video=video, preset=request.preset, values=request.values, options=request.options, roots=request.roots
            )
            prepared[index] = await prepare(one, None, force=request.force)
        except AliceError as exc:
            results[index] = BatchItem(video=video, status="failed", error=exc.message)
    estimate = round(sum(p.plan.cost_usd for p in prepared.values() if p.cached is None), 6)
    to_run = sum(1 for p in prepared.values() if p.cached is None)
    await notify(progress, "checking", f"{to_run} new jobs, estimated {usd(estimate)} in total")
    if authorize_call is not None and to_run:  # the per-call cap and the approval threshold see the whole batch
        endpoint = next(p.plan.endpoint.id for p in prepared.values() if p.cached is None)
        try:
            confirm = await authorize_call(endpoint, estimate, to_run, confirm)
        except AliceError as exc:
            for index, job in list(prepared.items()):
                if job.cached is None:
                    results[index] = BatchItem(video=items[index][0], status="failed", error=exc.message)
                    del prepared[index]

    job_ids: dict[int, str] = {}
    try:
        for index, job in prepared.items():
            if job.cached is not None:
                results[index] = BatchItem(
                    video=items[index][0],
                    job_id=job.cached.id,
                    status="completed",
                    cached=True,
                    output_path=job.cached.output_path,
                )
                continue
            try:
                record = await start(job, None, 0, confirm)
                job_ids[index] = record.id
            except AliceError as exc:
                results[index] = BatchItem(video=items[index][0], status="failed", error=exc.message)
        await _wait_all(jobs, job_ids, progress, wait_seconds)
    except anyio.get_cancelled_exc_class():
        with anyio.CancelScope(shield=True):
            for job_id in job_ids.values():
                await jobs.cancel(job_id, "The batch call was cancelled.")
        raise

    for index, job_id in job_ids.items():
        record = await jobs.get(job_id)
        video = items[index][0]
        if record.status == COMPLETED:
            results[index] = BatchItem(
                video=video, job_id=job_id, status="completed", output_path=record.output_path, cost_usd=record.cost_usd
            )
        elif record.active and not (record.error and jobs.live_state(job_id) is None):
            results[index] = BatchItem(video=video, job_id=job_id, status="running", cost_usd=record.cost_usd)
        else:
            results[index] = BatchItem(
                video=video, job_id=job_id, status="failed", cost_usd=record.cost_usd, error=record.error
            )
    ordered = [results[i] for i in range(len(items))]
    counts = {s: sum(1 for item in ordered if item.status == s) for s in ("completed", "running", "failed")}
    message = f"{counts['completed']} completed, {counts['running']} running, {counts['failed']} failed."
    if counts["running"]:
        message += f" Running jobs continue in the background: {words.wait_for('<job_id>')} for each to get its file."
    return BatchResult(estimate_usd=estimate, count=len(ordered), items=ordered, message=message, **counts)


async def _wait_all(
    jobs: JobManager, job_ids: dict[int, str], progress: ProgressSink | None, wait_seconds: float | None
) -> None:
    total = len(job_ids)
    finished = 0
    with anyio.move_on_after(wait_seconds):
        for job_id in job_ids.values():
            await jobs.wait(job_id, float("inf"), None)
            finished += 1
            await notify(progress, "generating", f"{finished} of {total} jobs finished", finished / max(total, 1))
