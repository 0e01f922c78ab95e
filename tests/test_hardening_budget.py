"""Issue 12, finding 3: the daily budget holds across processes sharing one ledger.

Eight processes (Claude Desktop plus Claude Code plus ... on one machine) each make two submits of $0.004 against
ALICE_DAILY_BUDGET_USD=0.01 at the same moment, through the product's own submit step (the spend guard's admit and
the ledger's guarded submit record, as the job lifecycle calls them). Twenty rounds on fresh ledgers; never more
than two submits may be recorded in a round.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from pathlib import Path

PROCESSES, CALLS, ROUNDS = 8, 2, 20
COST, BUDGET = 0.004, 0.01
ENDPOINT = "fal-ai/mmaudio-v2"
_barrier = None


def _init(barrier) -> None:  # type: ignore[no-untyped-def]
    global _barrier
    _barrier = barrier


async def _two_submits(path: str) -> int:
    from alice_mcp.adapters.ledger import SUBMITTING, AsyncLedger, Ledger
    from alice_mcp.adapters.settings import Settings
    from alice_mcp.data.prices import PriceTable
    from alice_mcp.engine.recipes.registry import published_prices
    from alice_mcp.engine.spend import SpendGuard, SpendLimitError, start_of_today

    ledger = AsyncLedger(Ledger(Path(path)))

    async def spent_today() -> float:
        return await ledger.spend_since(start_of_today())

    guard = SpendGuard(Settings(daily_budget_usd=BUDGET), PriceTable(published_prices()), spent_today)
    jobs = [
        await ledger.create_job(
            kind="video",
            endpoint=ENDPOINT,
            request={},
            settings={},
            wanted_path="/x.mp4",
            cost_usd=COST,
            input_fingerprint=None,
            cache_key=None,
            owner="test",
        )
        for _ in range(CALLS)
    ]
    assert _barrier is not None
    _barrier.wait()  # everyone reads "spent $0" at once: the race the per-process lock never covered
    admitted = 0
    for job in jobs:
        try:
            async with guard.admit(ENDPOINT, COST):
                await ledger.update(
                    job.id, status=SUBMITTING, submitted_at=time.time(), within_budget=guard.budget_window()
                )
            admitted += 1
        except SpendLimitError:
            pass
    ledger.sync.close()
    return admitted


def _worker(path: str) -> int:
    return asyncio.run(_two_submits(path))


def test_eight_processes_never_overrun_the_daily_budget(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("ALICE_DAILY_BUDGET_USD", raising=False)
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(PROCESSES)
    overruns, totals = 0, []
    with context.Pool(PROCESSES, initializer=_init, initargs=(barrier,)) as pool:
        for index in range(ROUNDS):
            ledger = tmp_path / f"round-{index}" / "ledger.sqlite3"
            from alice_mcp.adapters.ledger import Ledger

            Ledger(ledger).close()  # the schema exists before the race
            admitted = sum(pool.map(_worker, [str(ledger)] * PROCESSES, chunksize=1))
            from alice_mcp.adapters.ledger import Ledger as Check

            recorded = Check(ledger).spend_since(0)
            totals.append((admitted, recorded))
            overruns += recorded > BUDGET + 1e-9
    assert overruns == 0, totals
    assert all(admitted == 2 for admitted, _ in totals), totals  # the budget is used, not refused wholesale
