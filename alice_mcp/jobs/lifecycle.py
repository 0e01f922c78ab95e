"""One paid fal job through the ledger: submit once → follow → fetch the result → download, each step recorded.

The status a step leaves in the ledger says what a later call (or the next start-up) may still do:

* ``submitting`` is written before the POST, which runs shielded from cancellation: its outcome is always recorded.
  A submit that may have landed → ``submit_unknown`` (never re-sent); one that provably did not → ``failed``.
* ``running`` (fal has it): lost contact with fal keeps it ``running`` — following resumes by request id.
* ``completed_at_fal``: fal finished; fetching the result or downloading it failed transiently, so a later
  ``get_generation`` (or start-up) retries — never re-submits. A final answer from fal's result endpoint (its 422 for
  input the runner refused, any other non-transient 4xx) makes the job ``failed``: it is not retried.
* ``completed``: the file is in the output folder.

A cancel never drops a job fal has (:meth:`JobManager.cancel`): fal removes a queued job, but only signals a running
one, which may finish and bill. So the job is followed to fal's answer: ``client_cancelled`` → ``cancelled``; an
output → saved as usual, with :data:`LATE_CANCEL_NOTE` (``details.late_cancel``). ``details.fal_started_at`` records
when fal was first seen running it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Awaitable, Callable, Optional

import anyio

from alice_mcp.adapters.ledger import (
    CANCELLED,
    COMPLETED,
    COMPLETED_AT_FAL,
    FAILED,
    RUNNING,
    SUBMIT_UNKNOWN,
    SUBMITTING,
)
from alice_mcp.adapters.output_policy import PublishJournal, publishing_for
from alice_mcp.data.errors import (
    AliceError,
    FalAuthError,
    FalError,
    FalJobFailed,
    FalValidationError,
    JobCancelled,
    SubmitOutcomeUnknown,
)
from alice_mcp.data.progress import notify
from alice_mcp.jobs.follow import download_result, fetch_output_url, follow_job
from alice_mcp.jobs.state import LATE_CANCEL_NOTE, JobContext, submission_of

if TYPE_CHECKING:
    from alice_mcp.adapters.fal import JobStatus
    from alice_mcp.adapters.ledger import JobRecord
    from alice_mcp.jobs.services import JobServices

log = logging.getLogger(__name__)


#: Uploads the job's clip anew and returns the payload that uses it (for a reused upload fal could not fetch).
Reupload = Callable[[], Awaitable[dict]]


class _StaleUpload(Exception):
    """fal could not fetch a reused (deduplicated) upload; the upload is forgotten and the job may be resubmitted."""

    def __init__(self, error: AliceError) -> None:
        super().__init__(error.message)
        self.error = error


async def submit_and_finish(
    services: JobServices, job: JobContext, payload: dict, reupload: Optional[Reupload] = None
) -> None:
    """Submit ``payload`` to the job's endpoint exactly once (holding a fal slot until fal is done), then fetch and
    download its output. Raises :class:`AliceError`; the ledger says what is left to do.

    ``reupload``: if fal answers ``file_download_error`` for a clip whose upload was REUSED (fal's storage copy
    vanished after the check), that upload is forgotten, ``reupload()`` sends the clip again and the job is
    resubmitted ONCE with its payload. fal does not bill a failed input fetch, so the job's cost counts once."""
    try:
        await _submit_and_finish(services, job, payload, retry_stale_upload=reupload is not None)
    except _StaleUpload as stale:
        assert reupload is not None
        note = (
            f"fal could not fetch the earlier upload of this clip that was reused (request {job.record.request_id}: "
            "file_download_error; fal's storage copy had expired). The clip was uploaded again and the job "
            "resubmitted once; fal does not bill a failed input fetch."
        )
        log.info("job %s: %s (%s)", job.id, note, stale.error.message)
        await (await job.ledger()).note(job.id, note)
        await job.add_details(job_notes=[*job.record.details.get("job_notes", []), note])
        await _submit_and_finish(services, job, await reupload(), retry_stale_upload=False)


async def _submit_and_finish(
    services: JobServices, job: JobContext, payload: dict, *, retry_stale_upload: bool
) -> None:
    endpoint = job.record.endpoint
    async with job.fal_slot():
        async with services.spend.admit(
            endpoint, job.record.cost_usd
        ):  # limits re-checked until the submit is recorded
            record = await job.update(
                status=SUBMITTING,
                message="Submitting to fal",
                payload=payload,
                submitted_at=time.time(),
                within_budget=services.spend.budget_window(),  # check + record: one transaction across processes
            )
        if record.status != SUBMITTING:  # cancelled meanwhile (maybe by another process): never submit it
            raise JobCancelled(f"Job {job.id} was {record.status} before it was submitted; nothing was billed.")
        await notify(job.progress, "queued", "Submitting the job to fal", 0.0)
        with anyio.CancelScope(shield=True):  # whatever happens, the submit's outcome is recorded
            try:
                submission = await services.gateway().submit(endpoint, payload)
            except SubmitOutcomeUnknown as exc:
                await job.update(status=SUBMIT_UNKNOWN, message=exc.message, error=exc.message, error_code=exc.code)
                raise
            except AliceError as exc:
                await job.update(
                    status=FAILED, message=exc.message, error=exc.message, error_code=exc.code, submitted_at=None
                )
                raise
            await job.update(
                status=RUNNING,
                message=f"fal accepted it as request {submission.request_id}",
                request_id=submission.request_id,
                status_url=submission.status_url,
                response_url=submission.response_url,
                cancel_url=submission.cancel_url,
            )
        log.info("job %s: submitted %s as fal request %s", job.id, endpoint, submission.request_id)
        await _follow(services, job)
    await _collect(services, job, retry_stale_upload=retry_stale_upload)


async def continue_job(services: JobServices, job: JobContext) -> None:
    """Carry on a job fal already has (resumed after a restart, or retried after a failed download)."""
    if job.record.status == RUNNING:
        await _follow(services, job)
    await _collect(services, job)


async def _follow(services: JobServices, job: JobContext) -> None:
    record = job.record
    seen = (record.queue_position, record.last_log)

    async def on_status(status: JobStatus) -> None:
        nonlocal seen
        if status.state == "running" and not job.record.details.get("fal_started_at"):
            await job.add_details(fal_started_at=time.time())  # a cancel from now on may come too late
        now = (status.position, status.logs[-1] if status.logs else seen[1])
        if now != seen:
            seen = now
            await job.update(queue_position=now[0], last_log=now[1])

    try:
        await follow_job(services, record.endpoint, submission_of(record), job.progress, on_status)
    except FalJobFailed as exc:
        cancelled = exc.error_type == "client_cancelled"
        await job.update(
            status=CANCELLED if cancelled else FAILED,
            message=exc.message,
            error=exc.message,
            error_code="cancelled" if cancelled else exc.code,
        )
        raise
    except FalError as exc:
        if exc.http_status == 404:
            await job.update(status=FAILED, message=exc.message, error=exc.message, error_code=exc.code)
        else:  # lost contact (or the key changed): the job may still be fine at fal, so it stays "running"
            await job.update(error=exc.message, error_code=exc.code)
        raise
    await job.update(status=COMPLETED_AT_FAL, message="fal finished the job", error=None, error_code=None)


async def _collect(services: JobServices, job: JobContext, *, retry_stale_upload: bool = False) -> None:
    record = job.record
    output_key = record.details.get("output_key") or "video"  # recorded with every job since the first release
    try:
        url = record.file_url
        if url is None:
            url = await fetch_output_url(services, record.endpoint, output_key, submission_of(record))
            record = await job.update(file_url=url)
        finish = services.finisher(record) or download_to_wanted
        with publishing_for(await _publish_journal(job)):  # a file published before a kill is adopted, not copied
            path = await finish(job, url)
    except AliceError as exc:
        if _stale_reused_upload(exc, record):
            await (await job.ledger()).forget_upload(record.details.get("uploaded_url"))  # fal could not use it
            if retry_stale_upload:
                raise _StaleUpload(exc) from exc  # still active: the caller uploads again and resubmits once
            exc = FalValidationError(
                f"{exc.message} The clip's earlier upload was reused, but fal's storage copy of it had expired; "
                "it is forgotten now, so calling again uploads the clip anew. fal does not bill a failed input "
                "fetch.",
                code=exc.code,
                request_id=getattr(exc, "request_id", None),
            )
        final = _is_final(exc)
        status = (CANCELLED if isinstance(exc, FalError) and exc.http_status == 499 else FAILED) if final else None
        await job.update(
            status=status,
            message=exc.message if status else None,
            error=exc.message,
            error_code=exc.code,
            tail_attempts=record.tail_attempts + 1,
        )
        if isinstance(exc, FalValidationError) and record.details.get("upload_reused"):
            await (await job.ledger()).forget_upload(record.details.get("uploaded_url"))  # fal could not use it
        raise exc
    with anyio.CancelScope(shield=True):
        late = bool(job.record.details.get("cancel_asked_at"))
        if late:  # asked to cancel, but fal delivered the result (and billed it): it is kept
            await job.add_details(late_cancel=LATE_CANCEL_NOTE)
        saved = f"{LATE_CANCEL_NOTE} Saved {path}" if late else f"Saved {path}"
        await job.update(status=COMPLETED, message=saved, output_path=str(path), error=None, error_code=None)
    await notify(job.progress, "done", f"Saved {path}", 1.0)


async def _publish_journal(job: JobContext) -> PublishJournal:
    """The job's published files, in its ledger details (``published``: wanted path → claim), read fresh each time:
    another process may have published for this job before it took it over."""
    ledger = (await job.ledger()).sync

    def published() -> dict:
        record = ledger.get(job.id)
        found = record.details.get("published") if record is not None else None
        return found if isinstance(found, dict) else {}

    def record(wanted: str, claim: dict) -> None:
        ledger.add_details(job.id, {"published": {**published(), wanted: claim}})

    return PublishJournal(recorded=lambda wanted: published().get(wanted), record=record)


async def download_to_wanted(job: JobContext, url: str) -> Path:
    """The finishing step of a job whose output file is the result: download it to the job's wanted path."""
    record = job.record
    return await download_result(job.services, url, Path(record.wanted_path), record.request_id or "", job.progress)


def _stale_reused_upload(exc: AliceError, record: JobRecord) -> bool:
    """fal could not fetch the job's input, and that input was an earlier upload the job reused."""
    return (
        isinstance(exc, FalValidationError)
        and exc.code == "fal_input_unreachable"
        and bool(record.details.get("upload_reused"))
        and bool(record.details.get("uploaded_url"))
    )


def _is_final(exc: AliceError) -> bool:
    """Whether fal's answer about a finished job will not change if asked again."""
    if isinstance(exc, FalValidationError):
        return True
    if isinstance(exc, FalAuthError) or not isinstance(exc, FalError):
        return False
    status = exc.http_status
    if status is None:
        return exc.code == "fal"  # a malformed result (no output file) stays malformed
    return 400 <= status < 500 and status not in (401, 403, 408, 429)
