"""What the MCP face asks the client before a tool body runs: its roots, and the user's approval of a spend.

Both are SDK resolvers (``Annotated[T, Resolve(fn)]``), the one form that works in both protocol eras: a handshake-era
session gets live ``roots/list`` and ``elicitation/create`` requests; a 2026-07-28 session gets an
``InputRequiredResult`` and retries with the answers. A paid tool takes one hidden parameter, a :class:`CallGuard`,
and hands its ``roots`` and ``confirm`` to the core, which does the checking (see :mod:`alice_mcp.engine.spend`).

No tool argument can stand in for these answers: resolved parameters are not in the input schema, and an argument
with the same name is ignored.

(No ``from __future__ import annotations`` here: the SDK reads these resolvers' annotations at run time, and the
closures' local types must stay real objects.)
"""

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Optional

from mcp.server.elicitation import AcceptedElicitation, CancelledElicitation, ElicitationResult
from mcp.server.mcpserver import Context, Elicit, ListRoots, Resolve
from mcp.types import ListRootsResult
from pydantic import BaseModel, Field

from alice_mcp.data.endpoints import Endpoint
from alice_mcp.data.errors import AliceError, SpendNotApproved
from alice_mcp.data.money import usd
from alice_mcp.engine.models import ApprovalRequest
from alice_mcp.engine.quotes import longest_generation, quote_request, quote_video_generation, soundtrack_longest
from alice_mcp.engine.recipes.registry import MMAUDIO_TEXT, MMAUDIO_VIDEO
from alice_mcp.engine.spend import ConfirmSpend, SpendQuote, approve_up_to

log = logging.getLogger(__name__)


class SpendApproval(BaseModel):
    """The form the user fills in to approve a paid job."""

    approve: bool = Field(description="Run this paid job at fal.ai?")


@dataclass(frozen=True)
class NotAsked:
    """A spend question that was not put to the user: ``below_threshold``, ``no_elicitation`` (the client cannot
    ask), or ``request_invalid`` (the tool body will report what is wrong)."""

    reason: str


@dataclass(frozen=True)
class CallGuard:
    """What a paid tool hands the core: the client's roots (``None`` = none offered) and how to confirm a spend;
    ``quote`` is the request's quote when it was computed (a job that may need approval)."""

    roots: Optional[list[str]]
    confirm: Optional[ConfirmSpend]
    quote: Optional[SpendQuote] = None


def client_roots(ctx: Context) -> Optional[ListRoots]:
    """Ask for the client's roots when it declared the capability; otherwise there are none."""
    capabilities = ctx.client_capabilities
    return ListRoots() if capabilities is not None and capabilities.roots is not None else None


RootsArg = Annotated[Optional[ListRootsResult], Resolve(client_roots)]


def root_uris(result: Optional[ListRootsResult]) -> Optional[list[str]]:
    """The roots' URIs as strings, or ``None`` when the client offered no roots."""
    return None if result is None else [str(root.uri) for root in result.roots]


def _core(ctx: Context) -> Any:
    return ctx.request_context.lifespan_context


Quote = SpendQuote | NotAsked


async def _quote(
    ctx: Context, endpoint: Endpoint, preset: Any, values: dict, longest: Optional[float] = None, **where: Any
) -> Quote:
    core = _core(ctx)
    threshold = core.spend.confirm_above
    longest = longest_generation() if longest is None else longest
    if threshold is None or core.prices.cost(endpoint.id, longest) <= threshold:
        return NotAsked("below_threshold")  # no job of this tool can need approval: skip the probe
    try:
        return await quote_request(core.services, core.spend, endpoint, preset, values, **where)
    except AliceError:
        return NotAsked("request_invalid")


async def video_quote(
    ctx: Context,
    video: str,
    prompt: Optional[str],
    preset: Optional[str],
    duration: Optional[float],
    start_time: Optional[float],
    roots: RootsArg,
    end_time: Optional[float] = None,
    segments: Optional[list[Any]] = None,
    cues: Optional[list[Any]] = None,
    model: Optional[Any] = None,
    takes: Optional[int] = 1,
    model_options: Optional[dict[str, Any]] = None,
) -> Quote:
    """The spend ``add_audio_to_video`` will ask for (or why nobody will be asked). Without ``duration`` the call
    may be a soundtrack of many windows: up to ALICE_MAX_SOUNDTRACK_SECONDS plus overlaps and cues; with another
    ``model`` or ``takes``, whole soundtracks of each model are quoted."""
    longest = None
    if duration is None:
        settings = _core(ctx).settings
        longest = soundtrack_longest(settings.max_soundtrack_seconds, len(cues or ()))
        if model is not None or (takes or 1) != 1:
            longest = 1e6  # another model's price rule or several takes: always quote the request itself
    return await _quote(
        ctx,
        MMAUDIO_VIDEO,
        preset,
        {"prompt": prompt, "duration": duration},
        longest,
        video=video,
        roots=root_uris(roots),
        start_time=start_time,
        timeline={"end_time": end_time, "segments": _plain(segments), "cues": _plain(cues)},
        model=model,
        takes=takes or 1,
        model_options=model_options,
    )


def _plain(items: Optional[list[Any]]) -> Optional[list[Any]]:
    return None if items is None else [i.model_dump() if hasattr(i, "model_dump") else i for i in items]


async def audio_quote(ctx: Context, prompt: Optional[str], preset: Optional[str], duration: Optional[float]) -> Quote:
    """The spend ``generate_audio`` will ask for (or why nobody will be asked)."""
    return await _quote(ctx, MMAUDIO_TEXT, preset, {"prompt": prompt, "duration": duration})


async def kling_quote(ctx: Context, prompt: Optional[str], duration: Any) -> Quote:
    """The spend ``generate_video`` will ask for (or why nobody will be asked)."""
    core = _core(ctx)
    if core.spend.confirm_above is None:
        return NotAsked("below_threshold")
    try:
        return await quote_video_generation(core.services, core.spend, {"prompt": prompt, "duration": duration})
    except AliceError:
        return NotAsked("request_invalid")


async def regenerate_quote(ctx: Context, job_id: str, regenerate: Optional[list[Any]] = None) -> Quote:
    """The spend ``regenerate_soundtrack_windows`` will ask for: the chosen windows alone (or why nobody is asked)."""
    core = _core(ctx)
    if core.spend.confirm_above is None:
        return NotAsked("below_threshold")
    try:
        from alice_mcp.engine.recipes.registry import soundtrack_recipe

        record = await core.jobs.get(job_id)
        prepared = await soundtrack_recipe(record.endpoint).regenerate(
            core.services, core.jobs, job_id, list(regenerate or [])
        )
        plan = prepared.plan
        quote = await core.spend.quote(plan.endpoint.id, plan.cost_usd, plan.settings.get("duration"))
        core.spend.check_limits(quote)
        return quote
    except AliceError:
        return NotAsked("request_invalid")


def approval_question(quote: SpendQuote, threshold: float) -> str:
    """The question the user sees. Deterministic (resolvers re-run on every round): no clock, no running totals."""
    return (
        f"Approve a paid fal.ai job of about {usd(quote.usd)}? ({quote.endpoint}: {quote.formula}.) This server asks "
        f"before any job over {usd(threshold)}. Nothing is submitted or charged if you decline."
    )


def call_guard(quote_resolver: Callable[..., Any]) -> Callable[..., Any]:
    """A resolver producing the :class:`CallGuard` of one paid tool, given the resolver that quotes its request."""
    QuoteArg = Annotated[Quote, Resolve(quote_resolver)]

    async def ask_approval(ctx: Context, quote: QuoteArg) -> Elicit[SpendApproval] | NotAsked:
        if isinstance(quote, NotAsked):
            return quote
        threshold = _core(ctx).spend.confirm_above
        if threshold is None or quote.usd <= threshold:
            return NotAsked("below_threshold")
        capabilities = ctx.client_capabilities
        if capabilities is None or capabilities.elicitation is None:
            return NotAsked("no_elicitation")
        return Elicit(approval_question(quote, threshold), SpendApproval)

    async def guard(
        roots: RootsArg, quote: QuoteArg, answer: Annotated[ElicitationResult[SpendApproval], Resolve(ask_approval)]
    ) -> CallGuard:
        return CallGuard(
            root_uris(roots), confirm_from(answer, quote), quote if isinstance(quote, SpendQuote) else None
        )

    return guard


def confirm_from(answer: Any, quote: Quote) -> Optional[ConfirmSpend]:
    """The core's ``confirm`` callback from the user's answer (``None`` = this client cannot ask: fail closed).

    The core calls it only for a job above the threshold; a job that was not put to the user then fails closed."""
    if isinstance(answer, AcceptedElicitation):
        data = answer.data
        if isinstance(data, NotAsked):
            if data.reason == "no_elicitation":
                return None
            return (
                approve_up_to(quote.usd)
                if isinstance(quote, SpendQuote)
                else _refuse("The spend could not be put to you before the call")
            )
        if isinstance(data, SpendApproval) and data.approve and isinstance(quote, SpendQuote):
            return approve_up_to(quote.usd)
        return _refuse("You chose not to approve the spend")
    if isinstance(answer, CancelledElicitation):
        return _refuse("The approval request was cancelled")
    return _refuse("You declined the spend")


def _refuse(what: str) -> ConfirmSpend:
    async def confirm(quote: SpendQuote) -> bool:
        raise SpendNotApproved(
            f"Not submitted: {what} ({usd(quote.usd)}, {quote.formula}). Nothing was uploaded, submitted or charged."
        )

    return confirm


VideoGuard = Annotated[CallGuard, Resolve(call_guard(video_quote))]
AudioGuard = Annotated[CallGuard, Resolve(call_guard(audio_quote))]
KlingGuard = Annotated[CallGuard, Resolve(call_guard(kling_quote))]
RegenerateGuard = Annotated[CallGuard, Resolve(call_guard(regenerate_quote))]


# ------------------------------------------------------------------------------------------ two-step approval
APPROVAL_TTL_S = 15 * 60
"""How long a quoted job may wait for the user's yes."""


@dataclass(frozen=True)
class TwoStep:
    """What a paid tool does about the spend: run with ``confirm``, or (``offer`` set) return the quote for the
    user to approve, running nothing."""

    confirm: Optional[ConfirmSpend]
    offer: Optional[ApprovalRequest] = None
    pinned: Optional[dict] = None


async def two_step(
    ctx: Context,
    tool: str,
    arguments: dict[str, Any],
    guard: CallGuard,
    approval_id: Optional[str],
    pin: Optional[dict] = None,
) -> TwoStep:
    """Approval on every host. A job above ``ALICE_CONFIRM_SPEND_ABOVE_USD`` on a host that cannot ask (no
    elicitation) is not run: it gets an :class:`ApprovalRequest` (one use, expiring, bound to ``tool``, these
    ``arguments`` and the price) to show the user. The repeat call with its ``approval_id`` runs that job: the core
    spends the approval right before anything is uploaded or submitted, and refuses (nothing paid) if the
    arguments, the price or the time no longer match, or the approval was used. Hosts with elicitation keep the
    in-protocol question; an ``approval_id`` works there too. ``pin`` is what the quote decided that the approved
    run must reuse (the seed it drew); the approved call gets it back as ``pinned``."""
    from alice_mcp.data.idempotency import fingerprint

    core = _core(ctx)
    ledger = await core.jobs.ledger()
    request = fingerprint(tool, arguments)
    if approval_id is not None:
        return TwoStep(
            _spend_approval(ledger, approval_id, tool, request), pinned=await ledger.approval_pins(approval_id)
        )
    quote, threshold = guard.quote, core.spend.confirm_above
    if guard.confirm is not None or quote is None or threshold is None or quote.usd <= threshold:
        return TwoStep(guard.confirm)
    approval, expires = await ledger.offer_approval(
        tool=tool,
        fingerprint=request,
        endpoint=quote.endpoint,
        cost_usd=quote.usd,
        formula=quote.formula,
        ttl_s=APPROVAL_TTL_S,
        pinned=pin,
    )
    when = dt.datetime.fromtimestamp(expires, tz=dt.timezone.utc).isoformat(timespec="seconds")
    return TwoStep(
        None,
        ApprovalRequest(
            approval_id=approval,
            cost_usd=quote.usd,
            formula=quote.formula,
            seconds=quote.seconds,
            endpoint=quote.endpoint,
            expires_at=when,
        ),
    )


def approval_message(offer: ApprovalRequest) -> str:
    """What the assistant should tell the user and do next."""
    return (
        f"Not run yet: this job costs {usd(offer.cost_usd)} ({offer.endpoint}: {offer.formula}), above this server's "
        "approval threshold (ALICE_CONFIRM_SPEND_ABOVE_USD), and this app cannot ask you itself. Ask the user whether "
        f"to spend {usd(offer.cost_usd)}; if they say yes, call the tool again with exactly the same arguments plus "
        f'approval_id="{offer.approval_id}" (valid until {offer.expires_at}, once). Nothing was uploaded, submitted '
        "or charged."
    )


_REFUSED = {
    "unknown": "is not an approval this server gave",
    "other_request": "was given for a different request (other arguments); ask again without approval_id",
    "price_changed": "was given for a different price; ask again without approval_id for a new quote",
    "expired": "has expired; ask again without approval_id for a new quote",
    "used": "was already used (an approval runs one job); ask again without approval_id",
}


def _spend_approval(ledger: Any, approval_id: str, tool: str, request: str) -> ConfirmSpend:
    async def confirm(quote: SpendQuote) -> bool:
        verdict = await ledger.use_approval(approval_id, tool, request, quote.usd)
        if verdict != "ok":
            raise SpendNotApproved(
                f"Not submitted: approval_id {approval_id!r} {_REFUSED[verdict]}. Nothing was uploaded, submitted "
                "or charged.",
                code=f"approval_{verdict}",
            )
        log.info("spend of %s on %s approved by the user (approval %s)", usd(quote.usd), quote.endpoint, approval_id)
        return True

    return confirm
