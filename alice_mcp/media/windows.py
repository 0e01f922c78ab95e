"""Plan a soundtrack of any length as windows a window model can generate, and check the caller's timeline.

Pure data and arithmetic, no I/O (the scene cuts and keyframes come in as lists of times).

The rule:

* The span ``[start, end)`` is first split at the caller's segment boundaries (gaps between segments take the
  call's own description). A boundary within ``SNAP_TO_CUT_S`` of a scene cut moves onto the cut.
* Each section is split into windows whose length is close to what the model does best on
  (:class:`~alice_mcp.data.timeline.WindowLimits`: MMAudio aims at 8-15 s, ideally 10 s, never above 30 s) by a
  shortest-path search over candidate boundaries: scene cuts (preferred), keyframes (the next window's video then
  starts on a keyframe), and a regular grid (fallback). Fewer windows are preferred: every seam costs overlap.
* Adjacent windows overlap by ``overlap_s`` (1 s for MMAudio), centred on the seam, and are joined with an
  equal-power crossfade over the overlap; at a hard scene cut the overlap is only ``cut_fade_s`` (0.1 s), so
  the sound changes with the picture. A window therefore never crosses a segment boundary except inside its
  crossfade.
* Each cue is its own short window, generated from exactly the video span it sounds over.

Billing: each window and cue is one job billed for its generated length (at least the model's minimum).
"""

from __future__ import annotations

import bisect
import math
from itertools import pairwise
from typing import Literal, Optional, Sequence

from pydantic import BaseModel, Field

from alice_mcp.data.errors import InputError
from alice_mcp.data.timeline import MAX_CUES, MAX_SEGMENTS, Cue, Segment, WindowLimits

#: Times closer than this are the same instant (s).
EPS = 1e-3
#: A segment boundary this close to a scene cut moves onto the cut (s).
SNAP_TO_CUT_S = 0.5
#: Cues fade in and out over this long, so they never click (s).
CUE_FADE_S = 0.01
# Search costs (dimensionless): one per window (so fewer windows win), the squared relative distance from the
# target length, a steep penalty outside the aimed range, and a per-boundary cost by kind.
_WINDOW_COST = 1.0
_TARGET_WEIGHT = 2.0
_OUTSIDE_AIM_WEIGHT = 25.0
_BOUNDARY_COST = {"scene_cut": -0.5, "keyframe": 0.2, "grid": 0.4}

SeamKind = Literal["crossfade", "scene_cut"]


class PlannedWindow(BaseModel):
    """One window: fal generates ``[start, end)`` of the clip (seconds, clip timeline); it owns
    ``[core_start, core_end)`` and fades in/out over its overlaps with its neighbours."""

    index: int
    start: float
    end: float
    core_start: float
    core_end: float
    fade_in: float = 0.0
    fade_out: float = 0.0
    segment: Optional[int] = Field(default=None, description="The caller's segment this window belongs to, if any.")
    duration: float = Field(description="Seconds fal generates and bills for this window.")


class PlannedCue(BaseModel):
    """One cue: generated from the video ``[start, end)`` and mixed over the bed there at ``gain_db``."""

    index: int
    start: float
    end: float
    gain_db: float = 0.0
    duration: float = Field(description="Seconds fal generates and bills for this cue.")


class PlannedSeam(BaseModel):
    """Where window ``index`` meets window ``index + 1``: an equal-power crossfade of ``fade`` s centred on ``at``."""

    index: int
    at: float
    fade: float
    kind: SeamKind


class SoundtrackPlan(BaseModel):
    """The whole soundtrack: windows, seams and cues on the clip's timeline, and what it bills."""

    start: float
    end: float
    windows: list[PlannedWindow]
    seams: list[PlannedSeam]
    cues: list[PlannedCue]
    notes: list[str] = Field(default_factory=list)

    @property
    def billed_seconds(self) -> float:
        return round(sum(w.duration for w in self.windows) + sum(c.duration for c in self.cues), 3)

    @property
    def overlap_seconds(self) -> float:
        """Seconds billed twice because adjacent windows overlap (the price of seamless joins)."""
        return round(sum(w.duration for w in self.windows) - (self.end - self.start), 3)

    def window_at(self, selector: float | int | str) -> PlannedWindow:
        """The window named by an index (``3``) or a time (``"12.5s"`` or ``12.5`` when not a whole index)."""
        if isinstance(selector, str):
            text = selector.strip().lower()
            try:
                selector = float(text.removesuffix("s")) if text.endswith("s") else int(text)
            except ValueError:
                raise InputError(f"`regenerate`: {selector!r} is neither a window index nor a time like '12.5s'.")
        if isinstance(selector, int) and not isinstance(selector, bool):
            if 0 <= selector < len(self.windows):
                return self.windows[selector]
            raise InputError(f"`regenerate`: window {selector} does not exist (allowed: 0 to {len(self.windows) - 1}).")
        return self._window_at_time(float(selector))

    def _window_at_time(self, at: float) -> PlannedWindow:
        for window in self.windows:
            if window.core_start - EPS <= at < window.core_end + EPS:
                return window
        raise InputError(
            f"`regenerate`: {at:g} s is outside the soundtrack (allowed: {self.start:g} to {self.end:g} s)."
        )


# ----------------------------------------------------------------------------------------------- validation
def check_span(
    start: float, end_time: Optional[float], clip_duration: float, max_seconds: float
) -> tuple[float, float]:
    """``(start, end)`` of the soundtrack: ``end_time`` or the clip's end. Raises :class:`InputError` naming the
    field and its allowed range when the span is impossible or longer than ``max_seconds``."""
    if start >= clip_duration - EPS:
        raise InputError(
            f"`start_time` {start:g} s is at or past the end of the clip (allowed: 0 to below {clip_duration:.2f} s).",
            code="bad_segment",
        )
    end = clip_duration if end_time is None else end_time
    if end_time is not None and end_time <= start + EPS:
        raise InputError(
            f"`end_time` {end_time:g} s must be after `start_time` {start:g} s "
            f"(allowed: above {start:g} up to {clip_duration:.2f} s, the clip's end).",
            code="bad_segment",
        )
    if end_time is not None and end_time > clip_duration + 0.01:
        raise InputError(
            f"`end_time` {end_time:g} s is beyond the end of the clip "
            f"(allowed: above {start:g} up to {clip_duration:.2f} s).",
            code="bad_segment",
        )
    end = min(end, clip_duration)
    if end - start > max_seconds + EPS:
        raise InputError(
            f"The soundtrack would be {end - start:.1f} s long; this server allows at most {max_seconds:g} s "
            f"(ALICE_MAX_SOUNDTRACK_SECONDS). Pass `end_time` at most {start + max_seconds:g} s and soundtrack the "
            "rest in another call.",
            code="too_long",
        )
    return start, round(end, 3)


def check_timeline(
    start: float, end: float, segments: Sequence[Segment], cues: Sequence[Cue], limits: WindowLimits
) -> list[tuple[int, Segment]]:
    """Check segments and cues against the span ``[start, end)`` and the model's limits; return the segments with
    their original indices, in time order. Raises :class:`InputError` naming the field and the allowed range."""
    if len(segments) > MAX_SEGMENTS:
        raise InputError(f"`segments`: {len(segments)} given (allowed: at most {MAX_SEGMENTS}).")
    if len(cues) > MAX_CUES:
        raise InputError(f"`cues`: {len(cues)} given (allowed: at most {MAX_CUES}).")
    for i, seg in enumerate(segments):
        if seg.end <= seg.start + EPS:
            raise InputError(f"`segments[{i}].end` {seg.end:g} s must be after its start {seg.start:g} s.")
        if seg.start < start - EPS or seg.end > end + 0.01:
            raise InputError(
                f"`segments[{i}]` ({seg.start:g}-{seg.end:g} s) is outside the soundtrack "
                f"(allowed: {start:g} to {end:g} s)."
            )
        if seg.end - seg.start < limits.min_s - EPS:
            raise InputError(
                f"`segments[{i}]` is {seg.end - seg.start:.2f} s long (allowed: at least {limits.min_s:g} s, "
                "the model's shortest generation)."
            )
    ordered = sorted(enumerate(segments), key=lambda item: item[1].start)
    for (i, a), (j, b) in pairwise(ordered):
        if b.start < a.end - EPS:
            raise InputError(
                f"`segments[{i}]` ({a.start:g}-{a.end:g} s) and `segments[{j}]` ({b.start:g}-{b.end:g} s) overlap; "
                "segments may touch but not overlap."
            )
    for i, cue in enumerate(cues):
        if cue.at < start - EPS or cue.at >= end - EPS:
            raise InputError(
                f"`cues[{i}].at` {cue.at:g} s is outside the soundtrack (allowed: {start:g} to below {end:g} s)."
            )
        if cue.duration < limits.min_s - EPS or cue.duration > limits.max_s + EPS:
            raise InputError(
                f"`cues[{i}].duration` {cue.duration:g} s (allowed: {limits.min_s:g} to {limits.max_s:g} s, "
                "the model's generation limits)."
            )
        if cue.at + cue.duration > end + 0.01:
            raise InputError(
                f"`cues[{i}]` ({cue.at:g} s + {cue.duration:g} s) runs past the soundtrack's end "
                f"(allowed: at + duration up to {end:g} s)."
            )
    return ordered


# ----------------------------------------------------------------------------------------------- planning
def plan_windows(
    start: float,
    end: float,
    limits: WindowLimits,
    *,
    segments: Sequence[Segment] = (),
    cues: Sequence[Cue] = (),
    scene_cuts: Sequence[float] = (),
    keyframes: Sequence[float] = (),
) -> SoundtrackPlan:
    """Plan windows, seams and cues for ``[start, end)`` (see the module docstring). Checks the timeline first
    (:func:`check_timeline`). ``scene_cuts`` and ``keyframes`` are times on the clip's timeline, any order."""
    ordered = check_timeline(start, end, segments, cues, limits)
    cuts = sorted(t for t in scene_cuts if start + EPS < t < end - EPS)
    keys = sorted(t for t in keyframes if start + EPS < t < end - EPS)
    notes: list[str] = []
    sections = _sections(start, end, ordered, cuts, limits, notes)
    cores: list[tuple[float, float, Optional[int]]] = []
    for a, b, seg in sections:
        points = _split_section(a, b, limits, cuts, keys)
        cores += [(p, q, seg) for p, q in pairwise(points)]
    seams = []
    for k in range(len(cores) - 1):
        at = cores[k][1]
        is_cut = _near(cuts, at, EPS)
        fade = limits.cut_fade_s if is_cut else limits.overlap_s
        seams.append(PlannedSeam(index=k, at=round(at, 3), fade=fade, kind="scene_cut" if is_cut else "crossfade"))
    windows = []
    for k, (a, b, seg) in enumerate(cores):
        fade_in = seams[k - 1].fade if k > 0 else 0.0
        fade_out = seams[k].fade if k < len(seams) else 0.0
        w_start, w_end = round(a - fade_in / 2, 3), round(b + fade_out / 2, 3)
        windows.append(
            PlannedWindow(
                index=k,
                start=w_start,
                end=w_end,
                core_start=round(a, 3),
                core_end=round(b, 3),
                fade_in=fade_in,
                fade_out=fade_out,
                segment=seg,
                duration=_ceil_ms(max(w_end - w_start, limits.min_s)),
            )
        )
    planned_cues = [
        PlannedCue(
            index=i,
            start=round(c.at, 3),
            end=round(c.at + c.duration, 3),
            gain_db=c.gain_db,
            duration=_ceil_ms(max(c.duration, limits.min_s)),
        )
        for i, c in enumerate(cues)
    ]
    return SoundtrackPlan(start=start, end=end, windows=windows, seams=seams, cues=planned_cues, notes=notes)


def _sections(
    start: float,
    end: float,
    ordered: list[tuple[int, Segment]],
    cuts: list[float],
    limits: WindowLimits,
    notes: list[str],
) -> list[tuple[float, float, Optional[int]]]:
    """Split ``[start, end)`` at the segments' boundaries: ``(a, b, segment index or None)``. Gaps shorter than the
    model's minimum join the section before them (or after, at the start); boundaries snap to nearby cuts."""
    raw: list[tuple[float, float, Optional[int]]] = []
    cursor = start
    for index, seg in ordered:
        if seg.start > cursor + EPS:
            raw.append((cursor, seg.start, None))
        raw.append((max(seg.start, cursor), min(seg.end, end), index))
        cursor = min(seg.end, end)
    if cursor < end - EPS:
        raw.append((cursor, end, None))
    merged = list(raw)
    i = 0
    while i < len(merged):
        a, b, section = merged[i]
        if section is None and b - a < limits.min_s - EPS and len(merged) > 1:
            if i > 0:  # a short gap joins the section before it
                merged[i - 1] = (merged[i - 1][0], b, merged[i - 1][2])
            else:  # ... or, at the very start, the one after it
                merged[1] = (a, merged[1][1], merged[1][2])
            del merged[i]
            continue
        i += 1
    # snap inner boundaries onto a scene cut close by, keeping every section at least the model's minimum
    for k in range(len(merged) - 1):
        a, b, section = merged[k]
        cut = _nearest(cuts, b)
        if cut is not None and abs(cut - b) <= SNAP_TO_CUT_S and abs(cut - b) > EPS:
            nb = merged[k + 1][1]
            if cut - a >= limits.min_s and nb - cut >= limits.min_s:
                merged[k] = (a, cut, section)
                merged[k + 1] = (cut, nb, merged[k + 1][2])
                notes.append(f"The segment boundary at {b:g} s was moved to the scene cut at {cut:.2f} s.")
    return merged


def _split_section(a: float, b: float, limits: WindowLimits, cuts: list[float], keys: list[float]) -> list[float]:
    """Boundaries ``[a, ..., b]`` of the windows of one section: the cheapest path over candidate boundaries."""
    longest = limits.max_s - limits.overlap_s  # a window's core plus its two half-overlaps stays within max_s
    shortest = min(limits.min_s, b - a)
    if b - a <= limits.aim_max + EPS:
        return [a, b]
    step = min(0.5, limits.min_s / 2)
    candidates: dict[float, str] = {}
    for i in range(1, int((b - a) / step)):
        candidates[round(a + i * step, 3)] = "grid"
    for t in keys:  # the next window starts half an overlap before its boundary: put that on the keyframe
        t = round(t + limits.overlap_s / 2, 3)
        if a < t < b:
            candidates[t] = "keyframe"
    for t in cuts:
        if a < t < b:
            candidates[round(t, 3)] = "scene_cut"
    points = [a, *sorted(candidates), b]
    kinds = ["start", *(candidates[p] for p in points[1:-1]), "end"]
    best = [math.inf] * len(points)
    back = [-1] * len(points)
    best[0] = 0.0
    for j in range(1, len(points)):
        lo = bisect.bisect_left(points, points[j] - longest - EPS)
        boundary = _BOUNDARY_COST.get(kinds[j], 0.0)
        for i in range(lo, j):
            length = points[j] - points[i]
            if length < shortest - EPS or best[i] == math.inf:
                continue
            cost = best[i] + _window_cost(length, limits) + boundary
            if cost < best[j]:
                best[j], back[j] = cost, i
    if best[-1] == math.inf:  # cannot happen for a section at least min_s long; keep one window rather than fail
        return [a, b]
    path = [len(points) - 1]
    while path[-1] > 0:
        path.append(back[path[-1]])
    return [points[i] for i in reversed(path)]


def _window_cost(length: float, limits: WindowLimits) -> float:
    cost = _WINDOW_COST + _TARGET_WEIGHT * ((length - limits.target) / limits.target) ** 2
    if length < limits.aim_min:
        cost += _OUTSIDE_AIM_WEIGHT * ((limits.aim_min - length) / limits.aim_min) ** 2
    elif length > limits.aim_max:
        cost += _OUTSIDE_AIM_WEIGHT * ((length - limits.aim_max) / limits.aim_max) ** 2
    return cost


def _nearest(sorted_times: list[float], t: float) -> Optional[float]:
    if not sorted_times:
        return None
    i = bisect.bisect_left(sorted_times, t)
    near = [sorted_times[k] for k in (i - 1, i) if 0 <= k < len(sorted_times)]
    return min(near, key=lambda x: abs(x - t))


def _near(sorted_times: list[float], t: float, tolerance: float) -> bool:
    nearest = _nearest(sorted_times, t)
    return nearest is not None and abs(nearest - t) <= tolerance


def _ceil_ms(seconds: float) -> float:
    return math.ceil(round(seconds * 1000, 6)) / 1000
