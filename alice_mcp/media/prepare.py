"""Make the file fal will look at: a stream-copied cut of the segment, or a small proxy of it (PyAV, blocking).

Contract: both writers read the original packet by packet (memory bounded whatever the file size), write only the
video of ``[plan.start, plan.end]`` into ``dest`` (a path in a work folder, never the output folder), and stop early
when ``stop`` is set (the caller was cancelled). They raise :class:`MediaError` when the clip cannot be processed.
Times are relative to the clip's first frame (``plan.origin`` on the file's own clock).
"""

from __future__ import annotations

import math
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Optional

from alice_mcp.data.errors import AliceError
from alice_mcp.media.open_input import open_media
from alice_mcp.media.plan import MediaPlan
from alice_mcp.media.streams import copy_stream

# The proxy only feeds MMAudio's 384 px / 224 px feature extractors: speed and size matter, not fidelity.
# ultrafast + a bitrate cap: ~1 Mbit/s at most (≤ ~4 MB for 30 s) whatever the source, and the least memory.
PROXY_MAXRATE_KBPS = 1000
PROXY_X264 = {
    "preset": "ultrafast",
    "crf": "30",
    "maxrate": f"{PROXY_MAXRATE_KBPS}k",
    "bufsize": f"{2 * PROXY_MAXRATE_KBPS}k",
}
DECODE_THREADS = 2
# Decoding uses frame threads (and slice threads where the codec has them) at every size: at 4K each frame thread
# holds a ~12 MB picture, ~40 MB in all with 2 threads, inside the 200 MB memory bound; slice threads alone left
# the proxy ~1.5x slower than ffmpeg's (BENCHMARKS.md, media throughput).
# How many packets past the segment end to look for B-frames shown before it (decode order ≠ display order).
REORDER_LOOKAHEAD = 16
KEYFRAME_SLACK_S = 0.002  # timestamp rounding between containers
# How far back a seek may have to go before it lands at or before its target (MPEG-TS and other formats without an
# index seek by byte position and can overshoot).
SEEK_RETRIES_S = (1.0, 4.0, 16.0)


class MediaError(AliceError):
    """The clip could not be cut, re-encoded or assembled."""

    code = "media"


class Cancelled(Exception):
    """The caller gave up; the partial file is the caller's to remove."""


def segment_anchor(path: Path, start: float, origin: float = 0.0) -> tuple[float, float]:
    """``(keyframe, first_frame)`` for a segment asked to start at ``start`` (s, clip clock: 0 = the first shown
    frame): the last keyframe at or before it (where a stream copy must begin; negative when the file's first
    keyframe is hidden by an MP4 edit list) and the first frame shown at or after it (where the segment really
    starts, so the result's first frame and the model's first frame are the same picture).

    Works whatever the container's timestamps: Matroska packets without a dts, keyframes with a negative pts under
    an edit list, MPEG-TS streams whose clock starts late (``origin``).
    """

    with open_media(path) as container:
        video = container.streams.video[0]
        tb = video.time_base
        seek_to_keyframe(container, video, origin + start)
        keyframe: Optional[float] = None
        first: Optional[float] = None
        after = 0
        for packet in container.demux(video):
            if packet.pts is None or not packet.size:
                continue
            t = float(packet.pts * tb) - origin
            if packet.is_keyframe and t <= start + KEYFRAME_SLACK_S:
                keyframe = t
            if t >= start - KEYFRAME_SLACK_S:
                first = t if first is None else min(first, t)
                after += 1
                if after > REORDER_LOOKAHEAD and keyframe is not None:
                    break
    if keyframe is None:
        keyframe = 0.0 if start <= 0 else min(start, first if first is not None else start)
    if first is None or start <= 0:
        first = max(0.0, start)
    return keyframe, max(first, 0.0)


def keyframe_at_or_before(path: Path, start: float, origin: float = 0.0) -> float:
    """The time of the last keyframe at or before ``start`` (where a stream copy must begin)."""
    return segment_anchor(path, start, origin)[0]


def segment_packets(container, video, keyframe_pts: int, end_pts: int, stop: Optional[threading.Event] = None):  # type: ignore[no-untyped-def]
    """The video packets a stream copy of ``[keyframe, end)`` needs, in decode order, after the caller seeked.

    Starts at the first keyframe at or after ``keyframe_pts`` (minus 2 ms of rounding slack) and drops the leading
    frames of an open GOP (they belong before the cut). Keeps every frame shown before ``end_pts``, and a frame
    shown after it only when a frame shown before it comes later in decode order (it may be a B-frame's reference).
    Looks ``REORDER_LOOKAHEAD`` packets past the end for such late B-frames.

    Packets without a dts (Matroska gives none to the first packets after opening or seeking) are kept, their dts
    filled in from the next known one (one frame step each, never above their pts) so any muxer takes them.
    """
    tb = video.time_base
    slack = int(KEYFRAME_SLACK_S / tb) + 1
    first: Optional[int] = None
    held: list = []  # packets shown after the end, kept until we know whether an earlier-shown frame follows
    undated: list = []  # packets waiting for a dts
    past_end = 0
    step = _frame_step(video)
    for packet in container.demux(video):
        if stop is not None and stop.is_set():
            raise Cancelled()
        if packet.pts is None or not packet.size:
            continue
        if first is None:
            if packet.pts < keyframe_pts - slack or not packet.is_keyframe:
                continue
            first = packet.pts
        if packet.pts < first:
            continue
        if packet.dts is None:
            undated.append(packet)
            continue
        if undated:
            for index, waiting in enumerate(undated):
                waiting.dts = min(waiting.pts, packet.dts - (len(undated) - index) * step)
            ready, undated = undated, []
            for waiting in ready:
                yield from _sorted_out(waiting, end_pts, held)
        if packet.pts >= end_pts:
            held.append(packet)
            past_end += 1
            if past_end > REORDER_LOOKAHEAD:
                return
            continue
        yield from held
        held.clear()
        yield packet
    for waiting in undated:  # the file ended before any dts: pts order is decode order
        waiting.dts = waiting.pts
        if waiting.pts < end_pts:
            yield waiting


def _sorted_out(packet, end_pts: int, held: list):  # type: ignore[no-untyped-def, type-arg]
    if packet.pts >= end_pts:
        held.append(packet)
        return
    yield from held
    held.clear()
    yield packet


def _frame_step(video) -> int:  # type: ignore[no-untyped-def]
    rate = video.guessed_rate or video.average_rate or video.base_rate or 25
    return max(1, int(1 / (float(rate) * float(video.time_base))))


def write_cut(path: Path, plan: MediaPlan, dest: Path, muxer: str, stop: Optional[threading.Event] = None) -> None:
    """Stream-copy the video packets of ``[plan.keyframe, plan.end)`` into ``dest`` (timestamps from 0, no audio)."""
    import av

    try:
        with open_media(path) as source, av.open(str(dest), "w", format=muxer) as out:
            video = source.streams.video[0]
            tb = video.time_base
            copy = copy_stream(out, video)
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


def proxy_options(maxrate_kbps: int = PROXY_MAXRATE_KBPS) -> dict[str, str]:
    """libx264 options of a proxy: :data:`PROXY_X264` with its bitrate cap at ``maxrate_kbps`` (buffer: 2 s of it)."""
    return {**PROXY_X264, "maxrate": f"{maxrate_kbps}k", "bufsize": f"{2 * maxrate_kbps}k"}


class ProxyEncoder:
    """One proxy being written: ``[start, end)`` of a source (seconds on the source file's clock) re-encoded as H.264
    in MP4 at ``size`` and ``rate``, no audio, at ``dest``.

    Feed it the source's decoded frames in display order (:meth:`offer`) from at least the last frame shown at or
    before ``start``; :meth:`finish` fills the rest of the span and closes the file. The proxy is a constant grid of
    ``rate`` slots from ``start``; each slot shows the source frame on screen at that moment (the latest one at or
    before it), so frames are repeated or dropped but never moved: an event at source time t reaches the model at
    t - start (at most one slot later), whatever the source's own frame rate does (VFR phone clips). Its first frame
    is the picture on screen at ``start``. The output file is opened on the first frame written (few encoders open).

    ``scaled`` shrinks a source frame to ``size`` (a :class:`FrameScaler` shared by encoders fed the same frames, so
    each frame is scaled once); by default each encoder has its own."""

    def __init__(
        self,
        dest: Path,
        size: tuple[int, int],
        rate: Fraction,
        start: float,
        end: float,
        *,
        maxrate_kbps: int = PROXY_MAXRATE_KBPS,
        scaled: Optional[Callable[[Any, int, int], Any]] = None,
    ) -> None:
        self.dest = dest
        self.width, self.height = size
        self.rate = rate
        self.start, self.end = start, end
        self.slots = max(1, math.ceil((end - start) * rate - 1e-6))
        self.written = 0
        self._options = proxy_options(maxrate_kbps)
        self._scaled = scaled or FrameScaler()
        self._shown: Any = None  # the source frame on screen at the next slot's time
        self._out: Any = None
        self._encoder: Any = None

    @property
    def full(self) -> bool:
        """Whether every slot is written (no more frames are needed)."""
        return self.written >= self.slots

    def offer(self, frame: Any, t: float) -> bool:
        """Take the next source frame (shown at ``t``, source clock); True when no later frame is needed (the span
        is over): call :meth:`finish` then."""
        eps = KEYFRAME_SLACK_S  # a frame within rounding of a slot is on it (millisecond time bases)
        while self._shown is not None and self.written < self.slots and self._slot_time(self.written) < t - eps:
            self._emit(self._shown)
        if self.written >= self.slots or t >= self.end - eps:
            return True
        self._shown = frame
        return False

    def finish(self) -> int:
        """Fill the remaining slots with the last frame shown, flush and close the file; the frames written. Raises
        :class:`MediaError` when no frame was ever given (nothing on screen in the span)."""
        while self._shown is not None and self.written < self.slots:
            self._emit(self._shown)
        self._shown = None
        if self.written == 0:
            self.close()
            raise MediaError(f"no picture between {self.start:g} s and {self.end:g} s")
        for packet in self._encoder.encode(None):
            self._out.mux(packet)
        self.close()
        return self.written

    def close(self) -> None:
        """Close the output file (idempotent; a file not finished is incomplete: the caller removes it)."""
        self._shown = None
        if self._out is not None:
            out, self._out = self._out, None
            out.close()

    def _slot_time(self, index: int) -> float:
        return self.start + index / float(self.rate)

    def _emit(self, frame: Any) -> None:
        if self._out is None:
            self._open(frame)
        small = self._scaled(frame, self.width, self.height)
        small.pts, small.time_base = self.written, 1 / self.rate
        self.written += 1
        for packet in self._encoder.encode(small):
            self._out.mux(packet)

    def _open(self, first: Any) -> None:
        import av

        self._out = av.open(str(self.dest), "w", format="mp4")
        encoder = self._out.add_stream("libx264", rate=self.rate, options=dict(self._options))
        encoder.width, encoder.height, encoder.pix_fmt = self.width, self.height, "yuv420p"
        encoder.codec_context.thread_count = DECODE_THREADS
        if first.rotation:
            encoder.set_display_rotation(first.rotation)  # a phone clip shot upright stays upright
        self._encoder = encoder


class FrameScaler:
    """Shrinks source frames for proxies: one FFmpeg scaler kept for every frame (setting one up per frame cost as
    much as the scaling itself), and each source frame scaled once per size however many proxies take it (a frame
    repeated over several slots, or shown in two overlapping windows)."""

    def __init__(self) -> None:
        self._reformatter: Any = None
        self._recent: list[tuple[Any, tuple[int, int], Any]] = []

    def __call__(self, frame: Any, width: int, height: int) -> Any:
        for source, size, small in self._recent:
            if source is frame and size == (width, height):
                return small
        if self._reformatter is None:
            from av.video.reformatter import VideoReformatter

            self._reformatter = VideoReformatter()
        small = self._reformatter.reformat(
            frame, width=width, height=height, format="yuv420p", interpolation="FAST_BILINEAR", threads=1
        )
        self._recent = [*self._recent[-2:], (frame, (width, height), small)]
        return small


def open_for_proxy(source: Any) -> Any:
    """The first video stream of an opened source, set up for decoding a proxy (frame and slice threads)."""
    video = source.streams.video[0]
    video.thread_type = "AUTO"
    video.codec_context.thread_count = DECODE_THREADS
    return video


def write_proxy(path: Path, plan: MediaPlan, dest: Path, stop: Optional[threading.Event] = None) -> None:
    """Re-encode ``[plan.start, plan.end)`` small: ``plan.proxy_size`` at ``plan.proxy_fps`` (capped at
    ``plan.proxy_kbps``), H.264 in MP4, no audio (a :class:`ProxyEncoder` fed from the keyframe before the start)."""
    import av

    assert plan.proxy_size is not None and plan.proxy_fps
    rate = Fraction(plan.proxy_fps).limit_denominator(1001)
    start, end = plan.origin + plan.start, plan.origin + plan.end
    proxy = ProxyEncoder(dest, plan.proxy_size, rate, start, end, maxrate_kbps=plan.proxy_kbps or PROXY_MAXRATE_KBPS)
    try:
        with open_media(path) as source:
            video = open_for_proxy(source)
            tb = video.time_base
            seek_to_keyframe(source, video, plan.origin + plan.keyframe)
            for frame in source.decode(video):
                if stop is not None and stop.is_set():
                    raise Cancelled()
                if frame.pts is not None and proxy.offer(frame, float(frame.pts * tb)):
                    break
            try:
                proxy.finish()
            except MediaError:
                raise MediaError(f"{path.name} has no picture between {plan.start:g} s and {plan.end:g} s.") from None
    except av.error.FFmpegError as exc:
        raise MediaError(f"Could not make a small copy of {path.name} for upload ({exc}).") from exc
    finally:
        proxy.close()


def seek_to_keyframe(container, video, at_seconds: float) -> int:  # type: ignore[no-untyped-def]
    """Seek ``video`` of a freshly opened ``container`` to a keyframe at or before ``at_seconds`` (file clock);
    returns that time in the stream's time base. A target at or before the stream's start needs no seek (the file
    is read from its first packet, hidden edit-list frames included). A seek that lands after the target
    (byte-position seeking in MPEG-TS and the like) is retried from further back, and from the file's start as a
    last resort."""
    import av

    tb = video.time_base
    target = int(round(at_seconds / tb))
    start = video.start_time or 0
    if target <= start:
        return target
    for back in (0.0, *SEEK_RETRIES_S):
        point = target - int(back / tb)
        if point <= start:
            break
        try:
            container.seek(point, stream=video, backward=True, any_frame=False)
            landed = next((p for p in container.demux(video) if p.pts is not None and p.size), None)
        except av.error.FFmpegError:
            continue
        if landed is not None and landed.pts <= target and landed.is_keyframe:
            container.seek(point, stream=video, backward=True, any_frame=False)
            return target
    try:
        container.seek(start, stream=video, backward=True, any_frame=False)
    except av.error.FFmpegError:
        container.seek(0)
    return target
