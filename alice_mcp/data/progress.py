"""Progress events owned by the core; each face renders them (MCP notifications, a progress bar, a callback).

A job moves through fixed stages in order. :func:`overall_percent` maps (stage, fraction within the stage) onto one
0-100 scale, so a face can show monotonic progress without knowing the stages.

One scale on every run: while fal generates, the model's sampling steps (a log line such as ``step 12/25``) place the
job in the ``generating`` band (40-85 %), so step 12 of 25 is the same percentage for a 3 s job and a 70 s one. An
update without a step (the time-based hint of the follower) moves at most halfway through the band, so it never
runs ahead of the steps to come; faces keep the highest value seen, so the bar never goes back.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Awaitable, Callable, Literal, Optional

from alice_mcp.data.redact import scrub

log = logging.getLogger(__name__)

Stage = Literal["checking", "uploading", "queued", "generating", "downloading", "finishing", "done"]

# Share of the 0-100 scale each stage starts at; a stage ends where the next begins.
_STAGE_START: dict[str, float] = {
    "checking": 0.0,
    "uploading": 5.0,
    "queued": 30.0,
    "generating": 40.0,
    "downloading": 85.0,
    "finishing": 95.0,
    "done": 100.0,
}
_ORDER = list(_STAGE_START)


@dataclass(frozen=True)
class Progress:
    """One progress event: the stage, a human message, and how far the stage is (0..1) when known. ``job_id`` is
    set on the event that announces the job's id (once it is in the ledger, before anything is paid)."""

    stage: Stage
    message: str
    fraction: Optional[float] = None
    job_id: Optional[str] = None


ProgressSink = Callable[[Progress], Awaitable[None]]


_STEP = re.compile(r"\bstep\s+(\d+)\s*/\s*(\d+)", re.IGNORECASE)
UNSTEPPED_GENERATING_CAP = 0.5
"""How far through the generating band an update without a sampling step may go (a time-based guess)."""


def overall_percent(event: Progress) -> float:
    """The event's position on a 0-100 scale."""
    start = _STAGE_START[event.stage]
    index = _ORDER.index(event.stage)
    end = _STAGE_START[_ORDER[index + 1]] if index + 1 < len(_ORDER) else 100.0
    return round(start + (end - start) * stage_fraction(event), 2)


def stage_fraction(event: Progress) -> float:
    """How far through its stage ``event`` is (0..1): a sampling step ``k/N`` while generating is ``k/N``; any other
    generating update is its hint capped at :data:`UNSTEPPED_GENERATING_CAP` (1.0, "finished", stays 1.0)."""
    fraction = min(max(event.fraction or 0.0, 0.0), 1.0)
    if event.stage != "generating" or fraction >= 1.0:
        return fraction
    step = _STEP.search(event.message)
    if step is not None and int(step.group(2)) > 0:
        return min(int(step.group(1)) / int(step.group(2)), 1.0)
    return min(fraction, UNSTEPPED_GENERATING_CAP)


async def notify(
    sink: ProgressSink | None, stage: Stage, message: str, fraction: float | None = None, *, job_id: str | None = None
) -> None:
    """Send one event to ``sink``; a failing sink never breaks the job (progress is best effort)."""
    if sink is None:
        return
    try:
        await sink(Progress(stage, scrub(message), fraction, job_id))
    except Exception:  # noqa: BLE001 - a broken progress channel must not fail a paid job
        log.debug("progress sink failed", exc_info=True)


def megabytes(size: int) -> str:
    """A byte count for progress messages: ``1.5 MB`` or ``300 kB``."""
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{size / 1000:.0f} kB"
