"""Idempotency keys in the engine: a paid call with a key runs its job once, whatever the timing.

:func:`existing_job` is asked before a keyed call plans anything: the same key with the same request finds the job
the first call made (also while that call is still running, and after a restart: keys live in the ledger), a key
used for another request is an error, and a new key is claimed for this call. A job that failed before it was
ever submitted (nothing paid, e.g. the server stopped while it was being prepared) does not hold its key: the retry
runs the request. The claimed key is bound to the job
in the same ledger step that records the job (:meth:`alice_mcp.adapters.ledger.Ledger.create_job`), before anything
is uploaded or paid; :func:`release` frees it if the call fails before it has a job.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import anyio

from alice_mcp.data.errors import InputError
from alice_mcp.data.idempotency import IdempotencyClaim

if TYPE_CHECKING:
    from alice_mcp.adapters.ledger import AsyncLedger

PENDING_POLL_S = 0.1
PENDING_WAIT_S = 30.0
"""How long a repeat call waits for the first call (still checking its request) to record its job."""


async def existing_job(ledger: AsyncLedger, claim: IdempotencyClaim) -> str | None:
    """The job id of an earlier call with this key and request, or ``None`` when this call now owns the key.

    Raises :class:`InputError` if the key was used for a different request, or if the first call has not recorded
    its job after :data:`PENDING_WAIT_S` (nothing was submitted by this call either way)."""
    deadline = time.monotonic() + PENDING_WAIT_S
    while True:
        verdict, job_id = await ledger.claim_idempotency_key(claim.key, claim.tool, claim.fingerprint)
        if verdict == "new":
            return None
        if verdict == "conflict":
            earlier = f" (job {job_id})" if job_id else ""
            raise InputError(
                f"`idempotency_key` {claim.key!r} was already used for a different request{earlier}. A key names one "
                "request: repeat that request's arguments exactly, or use a new key for a new request. Nothing was "
                "submitted.",
                code="idempotency_conflict",
            )
        if job_id is not None:
            record = await ledger.get(job_id)
            if record is not None and record.status == "failed" and record.submitted_at is None:
                # that job ended before fal ever had it (nothing was paid): the retry runs the request anew
                await ledger.forget_idempotency_job(claim.key, job_id)
                continue
            return job_id
        if time.monotonic() > deadline:
            raise InputError(
                f"The first call with `idempotency_key` {claim.key!r} is still checking its request; call again in a "
                "moment (it will return that call's job). Nothing was submitted.",
                code="idempotency_pending",
            )
        await anyio.sleep(PENDING_POLL_S)


async def release(ledger: AsyncLedger, claim: IdempotencyClaim) -> None:
    """Free a claimed key whose call failed before recording a job (a key bound to a job stays bound)."""
    await ledger.release_idempotency_key(claim.key)
