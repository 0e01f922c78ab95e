"""The job manager: every paid generation runs as a background task recorded in the ledger.

A face's call plans a job, :meth:`JobManager.start` writes it to the ledger and runs its work as a task in the
manager's task group, and the call waits for it at most ``wait_seconds``; the job keeps running after the call
returns. Later calls attach to it (:meth:`JobManager.wait`), cancel it (:meth:`JobManager.cancel`) or list it.

Contract:

* Open the manager with ``async with manager.running():`` (the MCP server's lifespan does). Start-up resumes jobs a
  previous process left in flight, in the background: ``initialize`` is never delayed. Without ``running()`` a job
  runs inline and :meth:`start` waits for its end.
* A job is cancelled at fal only when asked: :meth:`cancel`, or the call that started it being cancelled while it
  waits. A cancel never drops a job fal has: it is followed to fal's answer and a delivered result is saved. When the manager shuts down, its tasks stop and the jobs stay in the ledger for the next start.
* At most ``ALICE_MAX_CONCURRENT_JOBS`` jobs are at fal at once (submit → completion) per process.
* Several processes may share a ledger: a job is followed by the process that owns it; a process takes a job over
  only when its owner is gone (dead pid on this host, or no heartbeat for :data:`STALE_AFTER_S`).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, AsyncIterator, Optional

import anyio

from alice_mcp.adapters.ledger import (
    CANCELLED,
    COMPLETED_AT_FAL,
    PENDING,
    RUNNING,
    SUBMIT_UNKNOWN,
    SUBMITTING,
    TERMINAL,
    AsyncLedger,
    JobRecord,
    Ledger,
)
from alice_mcp.data.errors import AliceError, JobCancelled, JobNotFound
from alice_mcp.data.money import usd
from alice_mcp.data.progress import ProgressSink, Stage, notify
from alice_mcp.jobs.lifecycle import continue_job
from alice_mcp.jobs.state import JobContext, JobPlan, LiveJob, Work, job_error, submission_of

if TYPE_CHECKING:
    from alice_mcp.jobs.services import JobServices

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
STALE_AFTER_S = 45.0
MAX_AUTO_TAIL_ATTEMPTS = (
    5  # start-up retries of a job whose result/download kept failing; get_generation always retries
)
CANCEL_TIMEOUT_S = 15.0
CANCEL_SETTLE_S = 3.0  # how long a cancel waits for fal's answer before it reports the job as it is
PART_WAIT_S = 3600.0  # a part is followed in waits this long, until it ends
OTHER_OWNER_POLL_S = 0.5
_HOST = socket.gethostname()
_LIVE_OWNERS: set[str] = set()  # owner tokens of the managers open in this process


def owner_is_alive(owner: str, heartbeat_at: Optional[float]) -> bool:
    """Whether the process that owns a job is still following it."""
    try:
        host, pid_text, _ = owner.split("|")
        pid = int(pid_text)
    except ValueError:
        return False
    fresh = heartbeat_at is not None and heartbeat_at > time.time() - STALE_AFTER_S
    if host != _HOST:
        return fresh
    if pid == os.getpid():
        return owner in _LIVE_OWNERS
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return fresh


class JobManager:
    """Runs and tracks jobs with the given :class:`JobServices`, the same way for every recipe. Cheap to create; no I/O
    until used."""

    def __init__(self, services: JobServices) -> None:
        self.services = services
        self.owner = f"{_HOST}|{os.getpid()}|{secrets.token_hex(4)}"
        self.slots = anyio.CapacityLimiter(services.settings.max_concurrent_jobs)
        self._ledger: AsyncLedger | None = None
        self._ledger_lock = anyio.Lock()
        self._tg: anyio.abc.TaskGroup | None = None
        self._live: dict[str, LiveJob] = {}
        self._adopting = anyio.Lock()  # start-up resume and get_generation must not both take a job over
        _LIVE_OWNERS.add(self.owner)

    # ---------------------------------------------------------------------------------------------- lifecycle
    async def ledger(self) -> AsyncLedger:
        """The ledger, opened (in a worker thread) on first use. Raises :class:`ConfigError` if unusable."""
        async with self._ledger_lock:
            if self._ledger is None:
                path = self.services.settings.ledger_path()
                self._ledger = AsyncLedger(await anyio.to_thread.run_sync(Ledger, path))
            return self._ledger

    @asynccontextmanager
    async def running(self) -> AsyncIterator[JobManager]:
        """Own a task group for background jobs; resume jobs left in flight (in the background)."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self._resume_left_in_flight)
            tg.start_soon(self._send_heartbeats)
            try:
                yield self
            finally:
                self._tg = None
                tg.cancel_scope.cancel()

    async def aclose(self) -> None:
        _LIVE_OWNERS.discard(self.owner)
        if self._ledger is not None:
            await anyio.to_thread.run_sync(self._ledger.sync.close)
            self._ledger = None

    # ------------------------------------------------------------------------------------------------- starting
    async def cached(self, plan: JobPlan, output_root: Path) -> JobRecord | None:
        """A completed job made from the same deterministic request whose output file still exists in the output
        folder ``output_root`` (a file left in a former output folder is not served)."""
        if plan.cache_key is None:
            return None
        record = await (await self.ledger()).find_cached(plan.cache_key)
        if record is None or not record.output_path:
            return None
        path = Path(record.output_path)
        if not (path.is_relative_to(output_root) and await anyio.Path(path).is_file()):
            return None
        return record

    async def start(
        self,
        plan: JobPlan,
        work: Work,
        progress: ProgressSink | None,
        *,
        wait_seconds: float | None,
        idempotency_key: str | None = None,
    ) -> JobRecord:
        """Record ``plan`` as a job, run ``work`` for it in the background and wait up to ``wait_seconds``
        (``None``: until it ends). Returns the job's record; raises its error (naming the job) if it failed.

        If the waiting call is cancelled, the job is cancelled too (at fal as well, shielded).
        """
        live, record = await self._record(plan, idempotency_key)
        await notify(progress, "checking", f"Job {record.id} recorded", job_id=record.id)
        if live is None:  # the same deterministic request is in flight (here or in another process): wait for it
            return await self.wait(record.id, wait_seconds if wait_seconds is not None else 86400.0, progress)
        return await self._launch_and_wait(live, record, work, progress, wait_seconds, cancel_on_abort=True)

    async def _record(self, plan: JobPlan, idempotency_key: str | None = None) -> tuple[LiveJob | None, JobRecord]:
        """Record ``plan`` as a new job and follow it here (its :class:`LiveJob`), or return the job already in flight
        for the same deterministic request (no :class:`LiveJob`: nothing new is paid)."""
        ledger = await self.ledger()
        if plan.cache_key is not None and plan.attach_in_flight:
            running = await ledger.find_in_flight(plan.cache_key)
            if running is not None:  # the same deterministic request is being made (here or in another process)
                log.info(
                    "job %s: the same request is already in flight; waiting for it instead of paying again", running.id
                )
                return None, running
        new_id = "job_" + secrets.token_hex(6)
        record = await ledger.create_job(
            job_id=new_id,
            kind=plan.kind,
            endpoint=plan.endpoint.id,
            request=plan.request,
            settings=plan.settings,
            wanted_path=str(plan.wanted),
            cost_usd=plan.cost_usd,
            input_fingerprint=plan.input_fingerprint,
            cache_key=plan.cache_key,
            owner=self.owner,
            details={**plan.details, "output_key": plan.endpoint.output_key},
            idempotency_key=idempotency_key,
            attach_in_flight=plan.cache_key is not None and plan.attach_in_flight,
        )
        if record.id != new_id:  # the same job was created a moment ago (here or in another process)
            return None, record
        live = LiveJob(record.id)
        self._live[record.id] = live  # before any other await: the job is followed from its first moment
        log.info("job %s: %s on %s", record.id, plan.kind, plan.endpoint.id)
        return live, record

    async def run_part(self, plan: JobPlan, work: Work) -> JobRecord:
        """Start a part of a job of many parts and wait for its end; its record (failed parts are not raised)."""
        live, record = await self._record(plan)
        if live is None:
            return await self.follow_part(record.id)
        try:
            return await self._launch_and_wait(live, record, work, None, None, cancel_on_abort=True)
        except AliceError as exc:
            log.info("part %s of job %s ended: %s", plan.details.get("part"), plan.details.get("parent"), exc.message)
            return await self.get(record.id)

    async def follow_part(self, job_id: str) -> JobRecord:
        """Follow a part recorded earlier to its end (resuming it here if nobody follows it); its record."""
        while True:
            record = await self.wait(job_id, PART_WAIT_S, None)
            if not record.active:
                return record

    async def _launch_and_wait(
        self,
        live: LiveJob,
        record: JobRecord,
        work: Work,
        progress: ProgressSink | None,
        wait_seconds: float | None,
        *,
        cancel_on_abort: bool,
    ) -> JobRecord:
        if self._tg is not None:
            self._tg.start_soon(self._drive, live, record, work)
            return await self._await_live(
                live, progress, wait_seconds, cancel_on_abort=cancel_on_abort, raise_errors=True
            )
        async with anyio.create_task_group() as tg:  # no manager running: the job runs inline, to its end
            tg.start_soon(self._drive, live, record, work)
            ended = await self._await_live(live, progress, None, cancel_on_abort=True, raise_errors=False)
        if live.error is not None:  # raised outside the task group, so callers get the AliceError, not a group
            raise job_error(ended, live.error, self.services.words)
        return ended

    async def _drive(self, live: LiveJob, record: JobRecord, work: Work) -> None:
        """Run one job's work in its own cancel scope; record how it ended. A job cancelled on request after fal got
        it is followed on to fal's answer (a running job may still finish, be billed and must be saved)."""
        context = JobContext(self.services, self.ledger, self.slots, live, record, parts=self)
        try:
            if await self._run_work(live, context, work, first=True):
                live.error = None
                context.record = (await (await self.ledger()).get(live.id)) or context.record
                live.settled.set()
                await self._run_work(live, context, self._continue, first=False)
        finally:
            live.settled.set()
            if self._live.get(live.id) is live:
                del self._live[live.id]
            with anyio.CancelScope(shield=True):
                try:  # not finished (shut down, or fal unreachable): let any process take it over at once
                    await (await self.ledger()).release(live.id, self.owner)
                except Exception:  # noqa: BLE001 - ownership also expires by itself
                    log.debug("could not release job %s", live.id, exc_info=True)
            live.done.set()

    async def _run_work(self, live: LiveJob, context: JobContext, work: Work, *, first: bool) -> bool:
        """Run ``work`` in the job's cancel scope; whether the job must be followed on (cancelled on request after
        fal got it)."""
        follow_on = False
        with anyio.CancelScope() as scope:
            live.scope = scope
            try:
                if first and live.cancel_requested:  # cancelled before its task even started
                    raise JobCancelled(f"Job {live.id} was cancelled before it started; nothing was billed.")
                await work(context)
            except anyio.get_cancelled_exc_class():
                if live.cancel_requested:
                    with anyio.CancelScope(shield=True):
                        follow_on = await self._settle_cancel(live)
                raise
            except AliceError as exc:
                live.error = exc
                with anyio.CancelScope(shield=True):
                    await self._record_failure(context, exc)
            except Exception as exc:  # noqa: BLE001 - a bug must not lose the job's record
                log.exception("bug while running job %s", live.id)
                live.error = AliceError(
                    f"Internal error in alice-mcp ({type(exc).__name__}) while running job {live.id}; this is a bug. "
                    "The traceback is in the server's stderr log.",
                    code="bug",
                )
                with anyio.CancelScope(shield=True):
                    await self._record_failure(context, live.error)  # type: ignore[arg-type]
        return follow_on

    async def _record_failure(self, job: JobContext, exc: AliceError) -> None:
        """A job that failed before fal had it is over (nothing was billed); later stages record their own outcome."""
        fresh = await (await self.ledger()).get(job.id)
        if fresh is not None and fresh.status == PENDING:
            await job.update(status="failed", message=exc.message, error=exc.message, error_code=exc.code)
        elif fresh is not None and fresh.active and fresh.error != exc.message:
            await job.update(error=exc.message, error_code=exc.code)

    # -------------------------------------------------------------------------------------------------- waiting
    async def wait(self, job_id: str, wait_seconds: float, progress: ProgressSink | None) -> JobRecord:
        """Wait up to ``wait_seconds`` for a job (resuming it here if nobody follows it); returns its record, whose
        ``status``/``error`` tell how it ended. Cancelling this wait does not cancel the job."""
        ledger = await self.ledger()
        live = self._live.get(job_id)
        if live is None:
            record = await ledger.get(job_id)
            if record is None:
                raise JobNotFound(f"No job {job_id!r} in the ledger; {self.services.words.list_jobs}.")
            if not record.active:
                return record
            live = await self._adopt(record)
            if live is None:
                return await self._poll_other_owner(job_id, wait_seconds)
        return await self._await_live(live, progress, wait_seconds, cancel_on_abort=False, raise_errors=False)

    async def _await_live(
        self,
        live: LiveJob,
        progress: ProgressSink | None,
        wait_seconds: float | None,
        *,
        cancel_on_abort: bool,
        raise_errors: bool,
    ) -> JobRecord:
        if progress is not None:
            live.sinks.append(progress)
            if live.last is not None:
                try:
                    await progress(live.last)
                except Exception:  # noqa: BLE001
                    log.debug("progress sink failed", exc_info=True)
        try:
            with anyio.move_on_after(wait_seconds):
                await live.done.wait()
        except anyio.get_cancelled_exc_class():
            if cancel_on_abort and not live.done.is_set():
                with anyio.CancelScope(shield=True):
                    await self.cancel(live.id, "The call that started it was cancelled.")
            raise
        finally:
            if progress in live.sinks:
                live.sinks.remove(progress)
        record = await (await self.ledger()).get(live.id)
        assert record is not None
        if raise_errors and live.done.is_set() and live.error is not None:
            raise job_error(record, live.error, self.services.words)
        return record

    async def _poll_other_owner(self, job_id: str, wait_seconds: float) -> JobRecord:
        """Another live process follows this job: watch its ledger row until it ends or the wait is over."""
        ledger = await self.ledger()
        deadline = time.monotonic() + wait_seconds
        while True:
            record = await ledger.get(job_id)
            assert record is not None
            if not record.active or time.monotonic() >= deadline:
                return record
            await anyio.sleep(min(OTHER_OWNER_POLL_S, max(0.0, deadline - time.monotonic())))

    def live_state(self, job_id: str) -> tuple[float, Optional[Stage], Optional[str]] | None:
        """(percent, stage, message) of a job running in this process, else ``None``."""
        live = self._live.get(job_id)
        if live is None:
            return None
        return live.percent, (live.last.stage if live.last else None), (live.last.message if live.last else None)

    # ------------------------------------------------------------------------------------------------- resuming
    async def _continue(self, job: JobContext) -> None:
        """The work of a resumed job: carry on from what the ledger says fal has done."""
        await continue_job(self.services, job)

    async def _adopt(self, record: JobRecord, *, at_startup: bool = False) -> LiveJob | None:
        """Take over an active job nobody follows: settle it if it never reached fal, else resume it here."""
        async with self._adopting:
            adopted = await self._adopt_unlocked(record, at_startup=at_startup)
        if adopted is None:
            return None
        live, inline = adopted
        if inline is not None:  # no task group: drive it here, outside the lock (its parts may need adopting too)
            await self._drive(live, *inline)
        return live

    async def _adopt_unlocked(
        self, record: JobRecord, *, at_startup: bool
    ) -> tuple[LiveJob, tuple[JobRecord, Work] | None] | None:
        """Claim an active job: ``(live job, None)`` when it now runs in the task group (or already ran here),
        ``(live job, (record, work))`` when the caller must drive it inline, ``None`` when it was settled."""
        if record.id in self._live:
            return self._live[record.id], None
        ledger = await self.ledger()
        if not await ledger.claim(record.id, self.owner, owner_is_alive):
            return None
        fresh = await ledger.get(record.id)
        if fresh is None or not fresh.active:
            return None
        resume = self.services.resumer(fresh)  # a job of many parts carries on with its own work
        if resume is not None:
            return self._launch_adopted(fresh, resume)
        if fresh.status == PENDING:
            await ledger.update(
                fresh.id,
                status="failed",
                message="interrupted",
                error=(
                    f"Job {fresh.id} was interrupted before it was submitted to fal (the server stopped); nothing was billed. "
                    "Run the request again."
                ),
                error_code="interrupted",
            )
            return None
        if fresh.status == SUBMITTING:
            await ledger.update(
                fresh.id,
                status=SUBMIT_UNKNOWN,
                message="interrupted while submitting",
                error=(
                    f"The server stopped while submitting job {fresh.id}, so fal may have accepted (and billed) it. It was "
                    "not re-sent, to avoid paying twice. Check https://fal.ai/dashboard/requests."
                ),
                error_code="submit_unknown",
            )
            return None
        if at_startup and fresh.status == COMPLETED_AT_FAL and fresh.tail_attempts >= MAX_AUTO_TAIL_ATTEMPTS:
            return None
        return self._launch_adopted(fresh, self._continue)

    def _launch_adopted(self, fresh: JobRecord, work: Work) -> tuple[LiveJob, tuple[JobRecord, Work] | None]:
        live = LiveJob(fresh.id)
        self._live[fresh.id] = live
        log.info("resuming job %s (%s, fal request %s)", fresh.id, fresh.status, fresh.request_id)
        if self._tg is not None:
            self._tg.start_soon(self._drive, live, fresh, work)
            return live, None
        return live, (fresh, work)

    async def _resume_left_in_flight(self) -> None:
        try:
            ledger = await self.ledger()
            records = await ledger.active_jobs()
        except AliceError as exc:
            log.warning("could not read the job ledger to resume jobs: %s", exc.message)
            return
        if records and self.services.settings.fal_key is None:
            log.warning("%d job(s) are in flight but FAL_KEY is not set; they are resumed once it is", len(records))
            return
        for record in records:
            if record.owner == self.owner:  # started by this manager since it opened: already followed
                continue
            try:
                await self._adopt(record, at_startup=True)
            except AliceError as exc:
                log.warning("could not resume job %s: %s", record.id, exc.message)

    async def _send_heartbeats(self) -> None:
        while True:
            await anyio.sleep(HEARTBEAT_S)
            if self._live and self._ledger is not None:
                try:
                    await self._ledger.heartbeat(self.owner, list(self._live))
                except Exception:  # noqa: BLE001 - a missed heartbeat is harmless
                    log.debug("heartbeat failed", exc_info=True)

    # ----------------------------------------------------------------------------------------------- cancelling
    async def cancel(self, job_id: str, reason: str = "Cancelled on request.") -> JobRecord:
        """Cancel a job; returns its record after at most :data:`CANCEL_SETTLE_S` of waiting for fal's answer.

        A job fal does not have yet is stopped (nothing is billed). A job fal has is asked to stop at fal and is
        never dropped: fal removes a queued job (→ ``cancelled``), but only signals a running one, which may ignore
        it, finish and bill; the job is followed to fal's answer and a delivered result is saved with
        :data:`LATE_CANCEL_NOTE`. A job fal already finished is kept (and saved).
        """
        ledger = await self.ledger()
        record = await ledger.get(job_id)
        if record is None:
            raise JobNotFound(f"No job {job_id!r} in the ledger; {self.services.words.list_jobs}.")
        if record.status in TERMINAL:
            return record
        live = self._live.get(job_id)
        if record.status == COMPLETED_AT_FAL:  # paid and done at fal: the result is kept (and saved if it is live)
            await ledger.add_details(job_id, {"cancel_asked_at": time.time()})
            await ledger.note(job_id, "Cancel asked after fal finished the job; its result is kept.")
            return record
        if live is not None:
            live.cancel_requested = True  # before asking fal: the job's own loop must read fal's answer as a cancel
        if record.status == RUNNING and record.request_id:  # fal has it: ask fal to stop it, and keep following it
            await self._ask_fal_to_cancel(record, live)
            await self._await_outcome(job_id, live)
            return await ledger.get(job_id)  # type: ignore[return-value]
        if live is not None and not live.done.is_set():
            live.error = JobCancelled(f"Job {job_id} was cancelled. {reason}")
            if live.scope is not None:
                live.scope.cancel()
            else:  # its task has not started yet; it will see the request and stop
                await ledger.update(job_id, status=CANCELLED, message=reason, error=reason, error_code="cancelled")
            with anyio.move_on_after(CANCEL_TIMEOUT_S):
                await live.settled.wait()  # stopped, or (submitted meanwhile) cancel asked at fal and followed on
            with anyio.move_on_after(CANCEL_SETTLE_S):
                await live.done.wait()
        else:
            await ledger.update(job_id, status=CANCELLED, message=reason, error=reason, error_code="cancelled")
        return await ledger.get(job_id)  # type: ignore[return-value]

    async def _ask_fal_to_cancel(self, record: JobRecord, live: LiveJob | None) -> None:
        """Send fal the cancel of a job it has (once) and record it; the job stays followed."""
        ledger = await self.ledger()
        if (live is not None and live.cancelled_at_fal) or (live is None and record.details.get("cancel_asked_at")):
            return
        if live is not None:
            live.cancelled_at_fal = True
        started = bool(record.details.get("fal_started_at"))
        await ledger.add_details(record.id, {"cancel_asked_at": time.time(), "cancel_while_running": started})
        outcome = await self._cancel_at_fal(record)
        await ledger.add_details(record.id, {"cancel_answer": outcome})
        if outcome == "already_completed":
            await ledger.note(record.id, "Cancel asked, but fal had already finished the job; its result is kept.")
        elif started:
            where = record.wanted_path
            await ledger.note(
                record.id,
                "Cancel sent while fal was running the job. fal only signals a running job, so it may still finish "
                f"and be billed; it is followed to its end and its file saved at {where}.",
            )
            log.warning(
                "job %s: fal had already started it, so it may still finish and be billed (%s); it is not dropped: "
                "if fal finishes it, its file is saved at %s (%s).",
                record.id,
                usd(record.cost_usd),
                where,
                self.services.words.wait_for(record.id),
            )
        else:
            await ledger.note(record.id, "Cancel sent while the job was queued at fal; fal removes a queued job.")

    async def _await_outcome(self, job_id: str, live: LiveJob | None) -> None:
        """Wait a moment for fal's answer to a cancel (a queued job ends at once); a job nobody follows is followed
        here (in the background when the manager runs; else it stays in the ledger for the next follower)."""
        if live is not None:
            with anyio.move_on_after(CANCEL_SETTLE_S):
                await live.done.wait()
            return
        with anyio.move_on_after(CANCEL_SETTLE_S):
            try:
                await self.wait(job_id, CANCEL_SETTLE_S, None)
            except AliceError as exc:
                log.info("job %s after its cancel: %s", job_id, exc.message)

    async def _settle_cancel(self, live: LiveJob) -> bool:
        """After a live job's task was cancelled on request: if fal got it meanwhile, ask fal to cancel it and return
        ``True`` (the job is followed on to fal's answer); else record it cancelled."""
        ledger = await self.ledger()
        record = await ledger.get(live.id)
        if record is None or not record.active:
            return False
        if record.status == RUNNING and record.request_id:
            await self._ask_fal_to_cancel(record, live)
            return True
        if record.status == COMPLETED_AT_FAL:
            await ledger.add_details(live.id, {"cancel_asked_at": time.time()})
            await ledger.note(live.id, "Cancel asked after fal finished the job; its result is kept.")
            return True
        await ledger.update(
            live.id,
            status=CANCELLED,
            message="cancelled",
            error=str(live.error or "Cancelled."),
            error_code="cancelled",
        )
        return False

    async def _cancel_at_fal(self, record: JobRecord) -> str:
        try:
            with anyio.fail_after(CANCEL_TIMEOUT_S):
                outcome = await self.services.gateway().cancel(record.endpoint, submission_of(record))
        except (AliceError, TimeoutError) as exc:
            message = exc.message if isinstance(exc, AliceError) else "no answer"
            log.warning("could not cancel fal request %s: %s", record.request_id, message)
            await (await self.ledger()).note(
                record.id, f"Could not reach fal to cancel ({message}); it may still run and be billed."
            )
            return "unreachable"
        log.info("cancel of fal request %s: %s", record.request_id, outcome)
        return outcome

    # ---------------------------------------------------------------------------------------------------- reading
    async def get(self, job_id: str) -> JobRecord:
        record = await (await self.ledger()).get(job_id)
        if record is None:
            raise JobNotFound(f"No job {job_id!r} in the ledger; {self.services.words.list_jobs}.")
        return record

    async def recent(self, limit: int, status: str | None) -> list[JobRecord]:
        return await (await self.ledger()).recent(limit, status)
