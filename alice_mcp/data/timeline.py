"""Each model's window limits for a soundtrack of any length (the caller's segments and cues live in the parameter
table, :mod:`alice_mcp.data.params`; :mod:`alice_mcp.media.windows` checks them against the clip and plans).

No I/O.

Window limits come from the model's own parameter table: the ``duration`` field's range (``ge``/``le``) is the
shortest and longest window the model accepts, so another model plugs in by its table alone. What a model does
*best* on (MMAudio was trained on 8 s clips) is a hint in :data:`WINDOW_HINTS`; without one the planner aims at
the model's whole range.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from alice_mcp.data.params import MAX_CUES, MAX_SEGMENTS, AudioSettings, Cue, Segment

__all__ = [
    "MAX_CUES",
    "MAX_SEGMENTS",
    "Cue",
    "Segment",
    "WindowHint",
    "WindowLimits",
    "duration_range",
    "window_limits",
]


@dataclass(frozen=True)
class WindowHint:
    """What length a model does best on: aim between ``aim_min`` and ``aim_max`` seconds, ideally ``target``."""

    aim_min: float
    aim_max: float
    target: float


@dataclass(frozen=True)
class WindowLimits:
    """The windows a model can generate (``min_s``-``max_s`` s) and the length it does best on.

    ``overlap_s`` is how much adjacent windows share (joined by an equal-power crossfade); ``cut_fade_s`` is the
    short crossfade used instead at a hard scene cut.
    """

    min_s: float
    max_s: float
    aim_min: float
    aim_max: float
    target: float
    overlap_s: float = 1.0
    cut_fade_s: float = 0.1

    def __post_init__(self) -> None:
        if not (0 < self.min_s <= self.aim_min <= self.target <= self.aim_max <= self.max_s):
            raise ValueError(f"inconsistent window limits: {self}")
        if self.overlap_s >= self.min_s + self.aim_min or self.cut_fade_s > self.overlap_s:
            raise ValueError(f"overlap too long for the windows: {self}")


#: MMAudio was trained on 8 s clips; its authors warn that a large deviation lowers quality.
MMAUDIO_HINT = WindowHint(aim_min=8.0, aim_max=15.0, target=10.0)
WINDOW_HINTS: dict[str, WindowHint] = {
    "fal-ai/mmaudio-v2": MMAUDIO_HINT,
    "fal-ai/mmaudio-v2/text-to-audio": MMAUDIO_HINT,
    # billed per started 10 s (unverified snapshot of fal's pricing): windows up to 10 s cost one block each, where
    # 12-15 s windows would cost two
    "fal-ai/hunyuan-video-foley": WindowHint(aim_min=7.0, aim_max=10.0, target=10.0),
}


def duration_range(model: type[BaseModel]) -> tuple[float, float]:
    """``(min, max)`` seconds of the ``duration`` field in a model's parameter table."""
    field = model.model_fields.get("duration")
    if field is None:
        raise ValueError(f"{model.__name__} has no duration field: it cannot generate windows")
    low = high = None
    for item in field.metadata:
        low = getattr(item, "ge", None) if getattr(item, "ge", None) is not None else low
        high = getattr(item, "le", None) if getattr(item, "le", None) is not None else high
    if low is None or high is None:
        raise ValueError(f"{model.__name__}.duration has no range")
    return float(low), float(high)


def window_limits(
    endpoint_id: str,
    model: type[BaseModel] = AudioSettings,
    overlap_s: float = 1.0,
    *,
    seconds: tuple[float, float] | None = None,
) -> WindowLimits:
    """The window limits of ``endpoint_id``: the shortest and longest clip it takes per call are ``seconds`` when
    given (a model's own clip limits, for models that read the whole clip sent and have no ``duration`` field), else
    the ``duration`` range of its parameter table ``model``."""
    low, high = seconds if seconds is not None else duration_range(model)
    hint = WINDOW_HINTS.get(endpoint_id)
    if hint is None:  # no known sweet spot: aim at the middle of the upper half of its range
        aim_max = high
        aim_min = max(low, high / 2)
        hint = WindowHint(aim_min=aim_min, aim_max=aim_max, target=(aim_min + aim_max) / 2)
    aim_max = min(hint.aim_max, high - overlap_s)
    aim_min = min(max(hint.aim_min, low), aim_max)
    target = min(max(hint.target, aim_min), aim_max)
    overlap = min(overlap_s, low + aim_min - 0.01, aim_min / 2)
    return WindowLimits(
        min_s=low,
        max_s=high,
        aim_min=aim_min,
        aim_max=aim_max,
        target=target,
        overlap_s=overlap,
        cut_fade_s=min(0.1, overlap),
    )
