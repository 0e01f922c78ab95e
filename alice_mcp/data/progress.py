"""Progress events owned by the core; each face renders them (MCP notifications, a progress bar, a callback).

A job moves through fixed stages in order. :func:`overall_percent` maps (stage, fraction within the stage) onto one
0-100 scale, so a face can show monotonic progress without knowing the stages.
"""

from __future__ import annotations

import logging
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
    """One progress event: the stage, a human message, and how far the stage is (0..1) when known."""

    stage: Stage
    message: str
    fraction: Optional[float] = None


ProgressSink = Callable[[Progress], Awaitable[None]]


def overall_percent(event: Progress) -> float:
    """The event's position on a 0-100 scale."""
    start = _STAGE_START[event.stage]
    index = _ORDER.index(event.stage)
    end = _STAGE_START[_ORDER[index + 1]] if index + 1 < len(_ORDER) else 100.0
    fraction = min(max(event.fraction or 0.0, 0.0), 1.0)
    return round(start + (end - start) * fraction, 2)


async def notify(sink: ProgressSink | None, stage: Stage, message: str, fraction: float | None = None) -> None:
    """Send one event to ``sink``; a failing sink never breaks the job (progress is best effort)."""
    if sink is None:
        return
    try:
        await sink(Progress(stage, scrub(message), fraction))
    except Exception:  # noqa: BLE001 - a broken progress channel must not fail a paid job
        log.debug("progress sink failed", exc_info=True)
