"""Spend only what the operator allows: the check every paid job passes right before it is submitted.

:meth:`SpendGuard.authorize` estimates the job, then fails closed when it would break an operator limit
(``ALICE_MAX_COST_PER_CALL_USD``, ``ALICE_DAILY_BUDGET_USD`` against today's recorded spend), and asks the face's
``confirm`` callback when it costs more than ``ALICE_CONFIRM_SPEND_ABOVE_USD``. With no callback above that threshold
it fails closed too. Limits come from the environment only; nothing a tool caller passes can raise them, and only
the face's callback (the user, through MCP elicitation) can stand in for the user's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import math
from dataclasses import dataclass
from typing import AsyncIterator, Awaitable, Callable, Optional

from alice_mcp.data.errors import SpendLimitError, SpendNotApproved
from alice_mcp.data.money import usd as money
from alice_mcp.data.prices import PriceTable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpendQuote:
    """What one job will cost: ``usd`` for ``seconds`` on ``endpoint``, how it was computed, and what was already
    spent today (before this job)."""

    endpoint: str
    seconds: float
    usd: float
    formula: str
    spent_today_usd: float


ConfirmSpend = Callable[[SpendQuote], Awaitable[bool]]
"""A face's way to ask the user: ``True`` = approved. It may raise an :class:`AliceError` with a better message."""

SpentToday = Callable[[], Awaitable[float]]
"""Today's recorded spend in USD (from the ledger)."""


async def approved_by_caller(quote: SpendQuote) -> bool:
    """The ``confirm`` of a face whose caller is the person paying (the Python API; the command line with
    ``--yes``): making the call is the approval. The operator's caps still apply."""
    log.info("spend of %s on %s approved by the caller", money(quote.usd), quote.endpoint)
    return True


def approve_up_to(usd: float, ask: Optional[ConfirmSpend] = None) -> ConfirmSpend:
    """A callback that approves any quote up to ``usd`` (already approved once) and asks ``ask`` beyond it."""

    async def confirm(quote: SpendQuote) -> bool:
        if quote.usd <= usd + 1e-9:
            return True
        if ask is None:
            raise SpendNotApproved(
                f"Not submitted: this job now costs {money(quote.usd)}, more than the {money(usd)} that was approved. "
                "Nothing was charged; call again to approve the new amount."
            )
        return await ask(quote)

    return confirm


def start_of_today() -> float:
    """Epoch seconds of this machine's last local midnight: where "today" begins for the daily budget."""
    now = dt.datetime.now().astimezone()
    return now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


class SpendGuard:
    """Checks a job against the operator's limits and the user's approval. One per core (settings are fixed).

    ``spent_today`` reads today's recorded spend (the ledger); without it the daily budget cannot be checked.
    """

    def __init__(self, settings, prices: PriceTable, spent_today: Optional[SpentToday] = None) -> None:  # type: ignore[no-untyped-def]
        self.max_per_call = settings.max_cost_per_call_usd
        self.daily_budget = settings.daily_budget_usd
        self.confirm_above = settings.confirm_spend_above_usd
        self.prices = prices
        self._spent_today = spent_today
        self._submits = asyncio.Lock()

    async def spent_today(self) -> Optional[float]:
        """Today's recorded spend, or ``None`` when no ledger is wired."""
        if self._spent_today is None:
            return None
        return round(float(await self._spent_today()), 6)

    async def quote(
        self, endpoint: str, usd: float, seconds: Optional[float] = None, formula: Optional[str] = None
    ) -> SpendQuote:
        """The quote of one job of ``usd`` (``seconds`` long, when known) with today's spend so far (no checks);
        ``formula`` says how a whole of many calls adds up (default: the price rule for ``seconds``)."""
        if formula is None:
            formula = (
                f"{self.prices.rule(endpoint).formula(seconds)} = {money(usd)}" if seconds is not None else money(usd)
            )
        today = await self.spent_today()
        return SpendQuote(endpoint, seconds if seconds is not None else 0.0, usd, formula, today or 0.0)

    def needs_approval(self, quote: SpendQuote) -> bool:
        """True when the job costs more than ``ALICE_CONFIRM_SPEND_ABOVE_USD``."""
        return self.confirm_above is not None and quote.usd > self.confirm_above + 1e-12

    def check_limits(self, quote: SpendQuote) -> None:
        """Raise :class:`SpendLimitError` when ``quote`` breaks the per-call cap or today's budget."""
        if not math.isfinite(quote.usd) or quote.usd < 0:
            raise SpendLimitError(
                f"The estimate for this job is not a valid amount ({quote.usd}); nothing was submitted."
            )
        if self.max_per_call is not None and quote.usd > self.max_per_call + 1e-12:
            raise SpendLimitError(
                f"Not submitted: this job would cost {money(quote.usd)} ({quote.formula}), over this server's per-call "
                f"limit of {money(self.max_per_call)} (ALICE_MAX_COST_PER_CALL_USD, set by the operator). Ask for less "
                "(a shorter duration), or the operator can raise ALICE_MAX_COST_PER_CALL_USD in the server's env block.",
            )
        if self.daily_budget is not None and self._spent_today is not None:
            if quote.spent_today_usd + quote.usd > self.daily_budget + 1e-12:
                left = max(0.0, self.daily_budget - quote.spent_today_usd)
                raise SpendLimitError(
                    f"Not submitted: today's spend is {money(quote.spent_today_usd)} of this server's daily budget of "
                    f"{money(self.daily_budget)} (ALICE_DAILY_BUDGET_USD), and this job would cost {money(quote.usd)} "
                    f"({money(left)} left). The budget starts again at local midnight; the operator can raise "
                    "ALICE_DAILY_BUDGET_USD in the server's env block.",
                )

    async def limit_notes(self, endpoint: str, seconds: float, count: int = 1) -> list[str]:
        """What the operator's limits mean for ``count`` jobs of ``seconds`` each, in sentences (for estimates)."""
        quote = await self.quote(endpoint, self.prices.cost(endpoint, seconds), seconds)
        notes: list[str] = []
        if self.max_per_call is not None and quote.usd > self.max_per_call + 1e-12:
            notes.append(
                f"Each generation ({money(quote.usd)}) is over this server's per-call limit of "
                f"{money(self.max_per_call)} (ALICE_MAX_COST_PER_CALL_USD) and would be refused."
            )
        elif self.needs_approval(quote):
            notes.append(
                f"Each generation ({money(quote.usd)}) costs more than {money(self.confirm_above)}, so the user will "
                "be asked to approve it (ALICE_CONFIRM_SPEND_ABOVE_USD)."
            )
        if self.daily_budget is not None and self._spent_today is not None:
            left = max(0.0, self.daily_budget - quote.spent_today_usd)
            notes.append(
                f"Spent today: {money(quote.spent_today_usd)} of the {money(self.daily_budget)} daily budget "
                f"(ALICE_DAILY_BUDGET_USD); {money(left)} left."
            )
            if quote.usd * count > left + 1e-12:
                notes.append(
                    "The total is more than what is left of today's budget: some generations would be refused."
                )
        return notes

    async def authorize(
        self,
        endpoint: str,
        usd: float,
        confirm: Optional[ConfirmSpend],
        seconds: Optional[float] = None,
        formula: Optional[str] = None,
    ) -> SpendQuote:
        """Check a job of ``usd`` against the limits and get the user's approval when it costs more than the
        threshold (``formula``: see :meth:`quote`). Returns the quote; raises :class:`SpendLimitError` or
        :class:`SpendNotApproved` (nothing done)."""
        quote = await self.quote(endpoint, usd, seconds, formula)
        self.check_limits(quote)
        if self.needs_approval(quote):
            if confirm is None:
                raise SpendNotApproved(
                    f"Not submitted: this job costs {money(quote.usd)} ({quote.formula}), above "
                    f"{money(self.confirm_above)} (ALICE_CONFIRM_SPEND_ABOVE_USD), so it needs the user's approval, and "
                    "there is no way to ask for it here (this MCP client does not support elicitation). Nothing was "
                    "charged. "
                    "The operator can raise ALICE_CONFIRM_SPEND_ABOVE_USD (or set it to off) in the server's env "
                    "block to allow such jobs without asking.",
                    code="approval_unavailable",
                )
            if not await confirm(quote):
                raise SpendNotApproved(
                    f"Not submitted: the spend of {money(quote.usd)} ({quote.formula}) was not approved. "
                    "Nothing was charged."
                )
            log.info("spend of %s on %s approved by the user", money(quote.usd), endpoint)
        return quote

    async def authorize_call(
        self, endpoint: str, total_usd: float, jobs: int, confirm: Optional[ConfirmSpend]
    ) -> Optional[ConfirmSpend]:
        """Check a whole call of ``jobs`` jobs costing ``total_usd`` together (a batch) against the per-call cap
        (ALICE_MAX_COST_PER_CALL_USD is per tool call, a batch included) and the approval threshold (asked once, for
        the total). Returns the ``confirm`` its jobs then use (approving each, when the total was approved); raises
        :class:`SpendLimitError` or :class:`SpendNotApproved` (nothing uploaded or submitted)."""
        if self.max_per_call is not None and total_usd > self.max_per_call + 1e-12:
            raise SpendLimitError(
                f"Not submitted: these {jobs} jobs would cost ${total_usd:.4f} together, over this server's limit of "
                f"${self.max_per_call:g} per call (ALICE_MAX_COST_PER_CALL_USD applies to a whole call, a batch "
                "included). Nothing was uploaded or charged. Send fewer videos per call, or the operator can raise "
                "ALICE_MAX_COST_PER_CALL_USD in the server's env block.",
                code="over_call_cap",
            )
        quote = await self.quote(endpoint, total_usd)
        quote = dataclasses.replace(quote, formula=f"{jobs} jobs, ${total_usd:g} in total")
        if not self.needs_approval(quote):
            return confirm
        if confirm is None:
            raise SpendNotApproved(
                f"Not submitted: these {jobs} jobs cost ${total_usd:.4f} together, above ${self.confirm_above:g} "
                "(ALICE_CONFIRM_SPEND_ABOVE_USD, which applies to a whole call), so they need the user's approval, "
                "and a batch call cannot ask for it. Nothing was uploaded or charged. Send fewer videos per call, or "
                "the operator can raise ALICE_CONFIRM_SPEND_ABOVE_USD in the server's env block.",
                code="approval_unavailable",
            )
        if not await confirm(quote):
            raise SpendNotApproved(
                f"Not submitted: the batch's ${total_usd:.4f} was not approved. Nothing was charged."
            )
        return approve_up_to(total_usd)

    @contextlib.asynccontextmanager
    async def admit(self, endpoint: str, usd: float) -> AsyncIterator[SpendQuote]:
        """The moment of a submit: re-check the limits against the spend recorded right now and hold the check until
        the caller has recorded this job as submitted (in the ``async with`` body), so concurrent submits in this
        process cannot together overrun the daily budget. Raises :class:`SpendLimitError` (nothing submitted)."""
        from alice_mcp.adapters.ledger import BudgetExceeded

        async with self._submits:
            quote = await self.quote(endpoint, usd)
            self.check_limits(quote)
            try:
                yield quote
            except BudgetExceeded as exc:  # another process submitted meanwhile: the ledger's transaction said no
                self.check_limits(dataclasses.replace(quote, spent_today_usd=exc.spent))
                raise SpendLimitError(f"Not submitted: today's budget is used up (${exc.spent:.4f} spent).") from None

    def budget_window(self) -> Optional[tuple[float, float]]:
        """``(start of today, ALICE_DAILY_BUDGET_USD)`` for the ledger's guarded submit record
        (:meth:`~alice_mcp.adapters.ledger.Ledger.update` ``within_budget``), or ``None`` without a budget."""
        if self.daily_budget is None or self._spent_today is None:
            return None
        return (start_of_today(), float(self.daily_budget))
