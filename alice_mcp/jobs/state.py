"""What one job carries while it runs: its plan, its live state in this process, and the context its work gets.

* :class:`JobPlan` — everything known before anything is uploaded or paid.
* :class:`LiveJob` — a job with a task in this process: cancel scope, progress so far, waiting callers.
* :class:`JobContext` — handed to a job's work: its ledger record, a progress sink that relays to every waiting
  caller, ledger updates, and one of the ``ALICE_MAX_CONCURRENT_JOBS`` slots at fal.
* :func:`submission_of`, :func:`job_error` — a record's fal queue handle; a job's error as the user sees it.
"""

from __future__ import annotations

import copy
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable, Optional, Protocol

import anyio

from alice_mcp.adapters.ledger import COMPLETED_AT_FAL, RUNNING, AsyncLedger, JobRecord
from alice_mcp.data.endpoints import Endpoint
from alice_mcp.data.errors import AliceError
from alice_mcp.data.progress import Progress, ProgressSink, overall_percent
from alice_mcp.data.vocabulary import Vocabulary
from alice_mcp.jobs.services import JobServices

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobPlan:
    """Everything known about a generation before anything is uploaded or paid."""

    kind: str
    endpoint: Endpoint
    request: dict
    settings: dict
    wanted: Path
    cost_usd: float
    input_fingerprint: Optional[str] = None
    cache_key: Optional[str] = None
    details: dict = field(default_factory=dict)  # facts the job's later steps need (e.g. the media plan)
    attach_in_flight: bool = True  # an identical deterministic job already running is joined, not paid again


@dataclass
class LiveJob:
    """A job with a task in this process: its cancel scope, progress so far and waiting callers."""

    id: str
    done: anyio.Event = field(default_factory=anyio.Event)
    scope: Optional[anyio.CancelScope] = None
    error: Optional[BaseException] = None
    last: Optional[Progress] = None
    percent: float = 0.0
    sinks: list[ProgressSink] = field(default_factory=list)
    cancel_requested: bool = False
    cancelled_at_fal: bool = False
    settled: anyio.Event = field(default_factory=anyio.Event)  # its work ended, or it is followed on after a cancel


#: The note a job gets when a cancel came after fal had started it and fal still delivered (and billed) the result.
LATE_CANCEL_NOTE = "Cancel came too late; the result is kept (fal had already started the job, and billed it)."


class PartRunner(Protocol):
    """Runs a job's parts as jobs of their own (the job manager): started, or followed, each to its end."""

    async def run_part(self, plan: JobPlan, work: Work) -> JobRecord: ...

    async def follow_part(self, job_id: str) -> JobRecord: ...


class JobContext:
    """What a job's work function gets: its ledger record, a progress sink, ledger updates, the fal slot, and (for
    a job of many parts) its parts as jobs of their own."""

    def __init__(
        self,
        services: JobServices,
        ledger: Callable[[], Awaitable[AsyncLedger]],
        slots: anyio.CapacityLimiter,
        live: LiveJob,
        record: JobRecord,
        parts: Optional[PartRunner] = None,
    ) -> None:
        self.services = services
        self._ledger = ledger
        self._slots = slots
        self._live = live
        self._parts = parts
        self.record = record

    @property
    def id(self) -> str:
        return self.record.id

    async def progress(self, event: Progress) -> None:
        """A :data:`~alice_mcp.data.progress.ProgressSink`: remember the event and pass it to every waiting caller."""
        live = self._live
        live.last = event
        live.percent = max(live.percent, overall_percent(event))
        for sink in list(live.sinks):
            try:
                await sink(event)
            except Exception:  # noqa: BLE001 - a broken progress channel must not fail a paid job
                log.debug("progress sink failed", exc_info=True)

    async def update(self, status: str | None = None, message: str | None = None, **values: object) -> JobRecord:
        """Record a transition; returns the fresh record (unchanged if the job had already ended)."""
        ledger = await self._ledger()
        record = await ledger.update(self.id, status=status, message=message, **values)
        self.record = record if record is not None else (await ledger.get(self.id)) or self.record
        return self.record

    async def add_details(self, **details: object) -> None:
        """Merge free-form facts (notes, upload details) into the job's record."""
        await (await self._ledger()).add_details(self.id, details)
        self.record = (await (await self._ledger()).get(self.id)) or self.record

    async def ledger(self) -> AsyncLedger:
        return await self._ledger()

    async def start_part(self, plan: JobPlan, work: Work) -> JobRecord:
        """Record ``plan`` as a part of this job (its ``details.parent`` names this job), run it to its end and return
        its record (a part that failed is returned, not raised: its ``status`` and ``error`` say why)."""
        assert self._parts is not None, "this job's context cannot run parts"
        return await self._parts.run_part(plan, work)

    async def wait_part(self, job_id: str) -> JobRecord:
        """Follow a part recorded earlier (resuming it here if nobody does) to its end; its record."""
        assert self._parts is not None, "this job's context cannot run parts"
        return await self._parts.follow_part(job_id)

    @asynccontextmanager
    async def fal_slot(self) -> AsyncIterator[None]:
        """Hold one of the ``ALICE_MAX_CONCURRENT_JOBS`` slots while the job is at fal."""
        slots = self._slots
        if slots.available_tokens < 1:
            await self.progress(
                Progress("queued", f"Waiting for a free slot ({int(slots.total_tokens)} jobs already at fal)", 0.0)
            )
        async with slots:
            yield


Work = Callable[[JobContext], Awaitable[None]]


def submission_of(record: JobRecord):  # type: ignore[no-untyped-def]
    """The fal queue handle of a job that was submitted (URLs fal returned, or built from the endpoint)."""
    from alice_mcp.adapters.fal import Submission, queue_urls

    assert record.request_id is not None
    built = queue_urls(record.endpoint, record.request_id)
    return Submission(
        record.request_id,
        record.status_url or built.status_url,
        record.response_url or built.response_url,
        record.cancel_url or built.cancel_url,
    )


def job_error(record: JobRecord, exc: BaseException, words: Vocabulary) -> AliceError:
    """The job's error for the user: its own message, naming the job and (in the face's ``words``) what to do next."""
    if isinstance(exc, AliceError):
        message, code = exc.message, exc.code
    else:
        message, code = str(exc), "error"
    if record.id not in message:
        message = f"{message} (job {record.id})"
    if record.status in (RUNNING, COMPLETED_AT_FAL):
        message += f" The job is kept: {words.wait_for(record.id)} to retry; it is not paid again."
    error = copy.copy(exc) if isinstance(exc, AliceError) else AliceError(message, code=code)
    error.args = (message,)
    return error
