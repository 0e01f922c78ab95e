"""Where the picture cuts, and where the keyframes are: the places a soundtrack's windows may meet (PyAV, blocking).

A small detector in the spirit of PySceneDetect's adaptive detector, without its OpenCV dependency: every decoded
frame is shrunk to a ``THUMB_WIDTH``-pixel-wide RGB thumbnail (sampled sparsely at 4x, then block-averaged: the
comparison costs little next to decoding),
the score of a frame is the mean absolute difference from the previous thumbnail (0-255), and a frame starts a new
scene when its score is at least ``MIN_SCORE`` and at least ``RATIO`` times the average score of the frames around
it (a fast pan raises its neighbours' scores too; a cut does not). Scenes shorter than ``MIN_SCENE_S`` are merged.

Decoding is the cost, so it is done in two passes (:func:`scan_scene_cuts`): keyframes only, then every frame only
where two neighbouring keyframes differ like two shots. The decoder skips its loop filter (the thumbnails do not
need it) and uses slice threads for big frames so memory stays bounded.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional

from alice_mcp.media.prepare import Cancelled, MediaError, seek_to_keyframe

THUMB_WIDTH = 48
MIN_SCORE = 20.0
RATIO = 3.0
NEIGHBOURHOOD_S = 0.5
MIN_SCENE_S = 0.5
#: Above this many pixels per frame, decode with slice threads only: frame threads hold a whole picture per thread.
FRAME_THREADS_MAX_PIXELS = 1920 * 1088
#: Above this mean keyframe interval (s), the keyframe pass saves too little: every frame is scanned.
MAX_GOP_FOR_TWO_PASSES_S = 5.0


@dataclass(frozen=True)
class SceneScan:
    """The cuts found in a span, and how many frames were decoded to find them (the scan's cost)."""

    cuts: list[float]
    frames_decoded: int


def detect_scene_cuts(
    path: str, start: float, end: float, origin: float = 0.0, stop: Optional[threading.Event] = None
) -> list[float]:
    """Times (s, clip timeline) in ``(start, end)`` where a new shot begins: the first frame of each new scene."""
    return scan_scene_cuts(path, start, end, origin, stop).cuts


def scan_scene_cuts(
    path: str, start: float, end: float, origin: float = 0.0, stop: Optional[threading.Event] = None
) -> SceneScan:
    """Find the cuts in two passes: keyframes only first (a fraction of the decoding), then every frame only between
    two keyframes that differ like two shots (``MIN_SCORE``) - a cut always lies between such keyframes. Clips with
    too few keyframes (long GOPs) are scanned frame by frame."""
    keys = keyframe_thumbnails(path, start, end, origin, stop)
    if len(keys) < 3 or (end - start) / len(keys) > MAX_GOP_FOR_TWO_PASSES_S:
        scores = frame_scores(path, start, end, origin, stop)
        return SceneScan(pick_cuts(scores), len(scores) + 1 + len(keys))
    bounds = [t for t, _ in keys] + [end]
    spans: list[list[float]] = []
    for k in range(len(keys)):
        changed = k + 1 < len(keys) and _difference(keys[k][1], keys[k + 1][1]) >= MIN_SCORE
        if changed or k + 1 == len(keys):  # the last GOP has no keyframe after it to compare with: scan it
            a, b = bounds[k], bounds[k + 1]
            if spans and spans[-1][1] >= a - 1e-6:
                spans[-1][1] = b
            else:
                spans.append([a, b])
    cuts: list[float] = []
    decoded = len(keys)
    for a, b in spans:
        lo, hi = max(start, a - NEIGHBOURHOOD_S), min(end, b + NEIGHBOURHOOD_S)
        scores = frame_scores(path, lo, hi, origin, stop)
        decoded += len(scores) + 1
        cuts += [t for t in pick_cuts(scores) if a < t <= b + 1e-6]
    return SceneScan(sorted(set(cuts)), decoded)


def keyframe_thumbnails(
    path: str, start: float, end: float, origin: float = 0.0, stop: Optional[threading.Event] = None
) -> list[tuple[float, object]]:
    """``(time, thumbnail)`` of every keyframe in ``[start, end)``; only keyframes are decoded."""
    import av
    from av.video.reformatter import VideoReformatter

    scaler = VideoReformatter()
    thumbs: list[tuple[float, object]] = []
    try:
        with av.open(path) as container:
            video = container.streams.video[0]
            video.codec_context.skip_frame = "NONKEY"
            video.thread_type = "SLICE"
            video.codec_context.thread_count = 2
            seek_to_keyframe(container, video, origin + start)
            for frame in container.decode(video):
                if stop is not None and stop.is_set():
                    raise Cancelled()
                if frame.pts is None:
                    continue
                t = float(frame.pts * video.time_base) - origin
                if t >= end:
                    break
                if t >= start - 1e-6:
                    thumbs.append((round(t, 4), _thumbnail(frame, scaler)))
    except av.error.FFmpegError as exc:
        raise MediaError(f"Could not look for scene changes in the clip ({exc}).") from exc
    return thumbs


def frame_scores(
    path: str, start: float, end: float, origin: float = 0.0, stop: Optional[threading.Event] = None
) -> list[tuple[float, float]]:
    """``(time, score)`` for every frame shown in ``[start, end)`` after the first: how much it differs from the
    frame before it (mean absolute RGB difference of small thumbnails, 0-255)."""
    import av
    from av.video.reformatter import VideoReformatter

    scaler = VideoReformatter()
    scores: list[tuple[float, float]] = []
    try:
        with av.open(path) as container:
            video = container.streams.video[0]
            ctx = video.codec_context
            big = ctx.width * ctx.height > FRAME_THREADS_MAX_PIXELS
            video.thread_type = "SLICE" if big else "AUTO"
            ctx.thread_count = 2
            ctx.options = {**ctx.options, "skip_loop_filter": "all"}
            seek_to_keyframe(container, video, origin + start)
            previous = None
            for frame in container.decode(video):
                if stop is not None and stop.is_set():
                    raise Cancelled()
                if frame.pts is None:
                    continue
                t = float(frame.pts * video.time_base) - origin
                if t < start - 1e-6:
                    continue
                if t >= end:
                    break
                pixels = _thumbnail(frame, scaler)
                if previous is not None:
                    scores.append((round(t, 4), _difference(previous, pixels)))
                previous = pixels
    except av.error.FFmpegError as exc:
        raise MediaError(f"Could not look for scene changes in the clip ({exc}).") from exc
    return scores


def _thumbnail(frame, scaler):  # type: ignore[no-untyped-def]
    """A ``THUMB_WIDTH``-wide RGB thumbnail (int16): sparse bilinear sampling to 4x its size, then 4x4 block means -
    anti-aliased at a fraction of the cost of an area filter over every source pixel. ``scaler``: a PyAV
    ``VideoReformatter`` kept for the whole scan (setting one up per frame cost more than the scaling)."""
    import numpy as np

    height = max(2, round(THUMB_WIDTH * frame.height / max(1, frame.width)))
    big = scaler.reformat(
        frame, width=THUMB_WIDTH * 4, height=height * 4, format="rgb24", interpolation="FAST_BILINEAR", threads=1
    ).to_ndarray()
    return big.reshape(height, 4, THUMB_WIDTH, 4, 3).mean(axis=(1, 3)).astype(np.int16)


def _difference(a, b) -> float:  # type: ignore[no-untyped-def]
    """Mean absolute difference of two thumbnails (0-255)."""
    import numpy as np

    return float(np.abs(a - b).mean())


def pick_cuts(scores: list[tuple[float, float]]) -> list[float]:
    """The cut times among ``(time, score)`` pairs (see the module docstring for the rule)."""
    cuts: list[tuple[float, float]] = []
    for i, (t, score) in enumerate(scores):
        if score < MIN_SCORE:
            continue
        around = [s for (u, s) in scores[max(0, i - 60) : i + 61] if u != t and abs(u - t) <= NEIGHBOURHOOD_S]
        if around and score < RATIO * (sum(around) / len(around)):
            continue
        if cuts and t - cuts[-1][0] < MIN_SCENE_S:
            if score > cuts[-1][1]:
                cuts[-1] = (t, score)
            continue
        cuts.append((t, score))
    return [t for t, _ in cuts]


def keyframe_times(path: str, start: float, end: float, origin: float = 0.0) -> list[float]:
    """Times (s, clip timeline) of the keyframes in ``[start, end)``, from the packets alone (nothing decoded)."""
    import av

    times: list[float] = []
    try:
        with av.open(path) as container:
            video = container.streams.video[0]
            seek_to_keyframe(container, video, origin + start)
            for packet in container.demux(video):
                if packet.pts is None or not packet.size:
                    continue
                t = float(packet.pts * video.time_base) - origin
                if packet.is_keyframe and t >= end:
                    break
                if packet.is_keyframe and t >= start - 1e-6:
                    times.append(round(t, 4))
    except av.error.FFmpegError as exc:
        raise MediaError(f"Could not read the clip's keyframes ({exc}).") from exc
    return times
