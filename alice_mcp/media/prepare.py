"""Make the file fal will look at: a stream-copied cut of the segment, or a small proxy of it (PyAV, blocking).

Contract: both writers read the original packet by packet (memory bounded whatever the file size), write only the
video of ``[plan.start, plan.end]`` into ``dest`` (a path in a work folder, never the output folder), and stop early
when ``stop`` is set (the caller was cancelled). They raise :class:`MediaError` when the clip cannot be processed.
Times are relative to the clip's first frame (``plan.origin`` on the file's own clock).
"""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path
from typing import Optional

from alice_mcp.data.errors import AliceError
from alice_mcp.media.plan import MediaPlan

# The proxy only feeds MMAudio's 384 px / 224 px feature extractors: speed and size matter, not fidelity.
# ultrafast + a bitrate cap: ~1 Mbit/s at most (≤ ~4 MB for 30 s) whatever the source, and the least memory.
PROXY_X264 = {"preset": "ultrafast", "crf": "30", "maxrate": "1000k", "bufsize": "2000k"}
DECODE_THREADS = 2
# Above this many pixels per frame, decode with slice threads only: frame threads hold a whole picture (12 MB at
# 4K) per thread, which would break the memory bound.
FRAME_THREADS_MAX_PIXELS = 1920 * 1088
# How many packets past the segment end to look for B-frames shown before it (decode order ≠ display order).
REORDER_LOOKAHEAD = 16


class MediaError(AliceError):
    """The clip could not be cut, re-encoded or assembled."""

    code = "media"


class Cancelled(Exception):
    """The caller gave up; the partial file is the caller's to remove."""


def keyframe_at_or_before(path: Path, start: float, origin: float = 0.0) -> float:
    """The time of the last keyframe at or before ``start`` (where a stream copy must begin)."""
    import av

    if start <= 0:
        return 0.0
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        tb = video.time_base
        container.seek(int((origin + start) / tb), stream=video, backward=True, any_frame=False)
        for packet in container.demux(video):
            if packet.pts is None or not packet.size or not packet.is_keyframe:
                continue
            found = float(packet.pts * tb) - origin
            return max(0.0, min(found, start))
    return 0.0


def segment_packets(container, video, keyframe_pts: int, end_pts: int, stop: Optional[threading.Event] = None):  # type: ignore[no-untyped-def]
    """The video packets a stream copy of ``[keyframe, end)`` needs, in decode order, after the caller seeked.

    Starts at the first keyframe at or after ``keyframe_pts`` (minus 2 ms of rounding slack) and drops the leading
    frames of an open GOP (they belong before the cut). Keeps every frame shown before ``end_pts``, and a frame
    shown after it only when a frame shown before it comes later in decode order (it may be a B-frame's reference).
    Looks ``REORDER_LOOKAHEAD`` packets past the end for such late B-frames.
    """
    tb = video.time_base
    slack = int(0.002 / tb) + 1
    first: Optional[int] = None
    held: list = []  # packets shown after the end, kept until we know whether an earlier-shown frame follows
    past_end = 0
    for packet in container.demux(video):
        if stop is not None and stop.is_set():
            raise Cancelled()
        if packet.pts is None or packet.dts is None or not packet.size:
            continue
        if first is None:
            if packet.pts < keyframe_pts - slack or not packet.is_keyframe:
                continue
            first = packet.pts
        if packet.pts < first:
            continue
        if packet.pts >= end_pts:
            held.append(packet)
            past_end += 1
            if past_end > REORDER_LOOKAHEAD:
                return
            continue
        yield from held
        held.clear()
        yield packet


def write_cut(path: Path, plan: MediaPlan, dest: Path, muxer: str, stop: Optional[threading.Event] = None) -> None:
    """Stream-copy the video packets of ``[plan.keyframe, plan.end)`` into ``dest`` (timestamps from 0, no audio)."""
    import av

    try:
        with av.open(str(path)) as source, av.open(str(dest), "w", format=muxer) as out:
            video = source.streams.video[0]
            tb = video.time_base
            copy = out.add_stream_from_template(video)
            target = seek_to_keyframe(source, video, plan.origin + plan.keyframe)
            end_pts = int(round((plan.origin + plan.end) / tb))
            first: Optional[int] = None
            for packet in segment_packets(source, video, target, end_pts, stop):
                first = packet.pts if first is None else first
                packet.pts -= first
                packet.dts -= first
                packet.stream = copy
                out.mux(packet)
            if first is None:
                raise MediaError(f"{path.name} has no video between {plan.keyframe:g} s and {plan.end:g} s.")
    except av.error.FFmpegError as exc:
        raise MediaError(f"Could not cut {path.name} without re-encoding ({exc}).") from exc


def write_proxy(path: Path, plan: MediaPlan, dest: Path, stop: Optional[threading.Event] = None) -> None:
    """Re-encode ``[plan.start, plan.end)`` small: ``plan.proxy_size`` at ``plan.proxy_fps``, H.264 in MP4, no audio."""
    import av

    assert plan.proxy_size is not None and plan.proxy_fps
    width, height = plan.proxy_size
    rate = Fraction(plan.proxy_fps).limit_denominator(1001)
    try:
        with av.open(str(path)) as source, av.open(str(dest), "w", format="mp4") as out:
            video = source.streams.video[0]
            big = video.codec_context.width * video.codec_context.height > FRAME_THREADS_MAX_PIXELS
            video.thread_type = "SLICE" if big else "AUTO"
            video.codec_context.thread_count = DECODE_THREADS
            tb = video.time_base
            encoder = out.add_stream("libx264", rate=rate, options=dict(PROXY_X264))
            encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
            encoder.codec_context.thread_count = DECODE_THREADS
            seek_to_keyframe(source, video, plan.origin + plan.keyframe)
            start, end = plan.origin + plan.start, plan.origin + plan.end
            written = 0
            half = 0.5 / float(rate)
            for frame in source.decode(video):
                if stop is not None and stop.is_set():
                    raise Cancelled()
                if frame.pts is None:
                    continue
                t = float(frame.pts * tb)
                if t >= end - 1e-6:
                    break
                # keep the frame if it is the first at or after the next slot of the proxy's time grid
                if t < start + written / float(rate) - half:
                    continue
                if written == 0 and frame.rotation:
                    encoder.set_display_rotation(frame.rotation)  # a phone clip shot upright stays upright
                small = frame.reformat(width=width, height=height, format="yuv420p", interpolation="FAST_BILINEAR")
                small.pts, small.time_base = written, 1 / rate
                written += 1
                for packet in encoder.encode(small):
                    out.mux(packet)
            if written == 0:
                raise MediaError(f"{path.name} has no picture between {plan.start:g} s and {plan.end:g} s.")
            for packet in encoder.encode(None):
                out.mux(packet)
    except av.error.FFmpegError as exc:
        raise MediaError(f"Could not make a small copy of {path.name} for upload ({exc}).") from exc


def seek_to_keyframe(container, video, at_seconds: float) -> int:  # type: ignore[no-untyped-def]
    """Seek ``video`` to the keyframe at or before ``at_seconds``; returns that time in the stream's time base."""
    tb = video.time_base
    target = int(round(at_seconds / tb))
    if at_seconds > 0:
        container.seek(target, stream=video, backward=True, any_frame=False)
    return target
