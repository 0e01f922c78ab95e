"""What the job machinery needs from the rest of the product, as one small explicit object.

The job machinery (:mod:`alice_mcp.jobs.manager`, :mod:`alice_mcp.jobs.lifecycle`) runs every recipe's jobs the
same way. It never calls back into the engine: it gets a :class:`JobServices` with the operator's settings, the fal
gateway, the spend gate that re-checks limits at submit time, the price table, the face's vocabulary for hints,
and :attr:`JobServices.finisher`, which says how a finished job's output becomes the user's file (a recipe's own
finishing, found by the job's record, so a job resumed after a restart finishes the same way), and
:attr:`JobServices.resumer`, the work that carries on a job of many parts after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncContextManager, Awaitable, Callable, Protocol

from alice_mcp.adapters.settings import Settings
from alice_mcp.data.prices import PriceTable
from alice_mcp.data.vocabulary import MCP_WORDS, Vocabulary

if TYPE_CHECKING:
    from alice_mcp.adapters.fal import FalGateway
    from alice_mcp.adapters.ledger import JobRecord


class SpendGate(Protocol):
    """Admits a submit while the operator's spend limits still allow it (re-checked under a lock)."""

    def admit(self, endpoint: str, cost_usd: float, /) -> AsyncContextManager[object]: ...

    def budget_window(self) -> tuple[float, float] | None:
        """``(start of today, daily budget)`` for the ledger's guarded submit record (one transaction with the
        budget check, across processes), or ``None`` without a budget."""
        ...


#: Turns a finished job's output URL into the user's file: called with the job's
#: :class:`~alice_mcp.jobs.state.JobContext` and the URL; returns the published path.
Finish = Callable[[Any, str], Awaitable[Path]]


class ResumerLookup(Protocol):
    """The work that carries on a job of many parts after a restart (found from its record), or ``None``: the job
    is resumed from what fal has of it, like any single job."""

    def __call__(self, record: JobRecord) -> Callable[[Any], Awaitable[None]] | None: ...


class FinisherLookup(Protocol):
    """The finishing step for a job, found from its ledger record (its kind and endpoint)."""

    def __call__(self, record: JobRecord) -> Finish | None: ...


@dataclass
class JobServices:
    """The settings, gateway, spend gate, prices, vocabulary and finishing the job machinery uses."""

    settings: Settings
    gateway: Callable[[], FalGateway]
    spend: SpendGate
    prices: PriceTable
    finisher: FinisherLookup
    words: Vocabulary = MCP_WORDS
    resumer: ResumerLookup = lambda record: None  # noqa: E731 - no job of many parts unless the engine says so
