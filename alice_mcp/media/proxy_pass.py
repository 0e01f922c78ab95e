"""Many proxies of one clip in ONE decoding pass (PyAV, blocking): the uploads of a soundtrack's parts.

A soundtrack's windows overlap and its cues lie inside them, and each part needs its own file that starts at its
own first frame (MMAudio reads a video from its first frame and takes no offset). Decoding the original once per
part decodes every overlap twice and, for a big original, keeps the cores decoding while the parts wait. Here the
original is decoded ONCE over the union of the spans, in time order: each decoded frame is scaled once per proxy
size and given to the encoder of every part whose span it falls in (:class:`~alice_mcp.media.prepare.ProxyEncoder`,
the same encoder and frame grid as a single generation's proxy), so each part's proxy is exactly what
:func:`~alice_mcp.media.prepare.write_proxy` would make of its span.

Streaming: a part's encoder is opened when the pass reaches its start and closed as soon as its last slot is
written; ``on_written(key, path)`` is then called at once (from this thread), so that part can be uploaded and
submitted while the pass goes on. Memory is bounded whatever the length: one decoder, the frames on screen for the
open encoders, and only as many encoders as there are parts overlapping at that moment (two windows at a seam, plus
the cues there).
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from alice_mcp.media.open_input import open_media
from alice_mcp.media.prepare import (
    KEYFRAME_SLACK_S,
    PROXY_MAXRATE_KBPS,
    Cancelled,
    FrameScaler,
    MediaError,
    ProxyEncoder,
    open_for_proxy,
    seek_to_keyframe,
)

#: Frames decoded ahead of the encoders (each a full-size picture: ~3 MB at 1080p, ~12 MB at 4K).
AHEAD_FRAMES = 4
#: Spans further apart than this (s) are passed over separately: seeking costs less than decoding the gap.
MAX_GAP_S = 4.0


@dataclass(frozen=True)
class ProxyJob:
    """One proxy to write: ``[start, end)`` on the clip's clock (0 = its first frame) at ``size`` and ``fps``."""

    key: str
    start: float
    end: float
    dest: Path
    size: tuple[int, int]
    fps: float
    maxrate_kbps: int = PROXY_MAXRATE_KBPS


@dataclass
class PassReport:
    """What one pass did: the span it decoded (clip clock), how many frames it decoded, the proxies it wrote
    (key -> frames written), in the order they were finished."""

    start: float
    end: float
    frames_decoded: int = 0
    written: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for a job's record."""
        return {
            "span": [round(self.start, 3), round(self.end, 3)],
            "frames_decoded": self.frames_decoded,
            "frames_written": dict(self.written),
        }


def write_proxies(
    path: Path,
    jobs: Sequence[ProxyJob],
    on_written: Callable[[str, Path], None],
    *,
    origin: float = 0.0,
    stop: Optional[threading.Event] = None,
    max_gap_s: float = MAX_GAP_S,
) -> PassReport:
    """Write every job's proxy in one decoding pass over ``path`` (see the module docstring); ``on_written`` is
    called for each as soon as its file is complete and closed. Spans more than ``max_gap_s`` apart (regenerating
    a few windows, resuming) get a pass each, in time order: the gaps between them are not decoded. Raises
    :class:`MediaError` when the clip cannot be decoded or a span has no picture, and :class:`Cancelled` when
    ``stop`` is set (files not reported are incomplete: the caller removes them)."""
    if not jobs:
        return PassReport(0.0, 0.0)
    ordered = sorted(jobs, key=lambda j: (j.start, j.end))
    report = PassReport(ordered[0].start, max(j.end for j in ordered))
    stretch: list[ProxyJob] = []
    for job in ordered:
        if stretch and job.start > max(j.end for j in stretch) + max_gap_s:
            _pass_over(path, stretch, on_written, origin, stop, report)
            stretch = []
        stretch.append(job)
    _pass_over(path, stretch, on_written, origin, stop, report)
    return report


def _pass_over(
    path: Path,
    pending: list[ProxyJob],
    on_written: Callable[[str, Path], None],
    origin: float,
    stop: Optional[threading.Event],
    report: PassReport,
) -> None:
    """One decoding pass from the keyframe before the first of ``pending`` (sorted by start) to the end of the
    last, writing each one's proxy (see :func:`write_proxies`); adds to ``report``."""
    import av

    scaler = FrameScaler()
    active: list[tuple[ProxyJob, ProxyEncoder]] = []

    def encoder(job: ProxyJob) -> ProxyEncoder:
        rate = Fraction(job.fps).limit_denominator(1001)
        start, end = origin + job.start, origin + job.end
        return ProxyEncoder(job.dest, job.size, rate, start, end, maxrate_kbps=job.maxrate_kbps, scaled=scaler)

    def done(job: ProxyJob, proxy: ProxyEncoder) -> None:
        try:
            report.written[job.key] = proxy.finish()
        except MediaError:
            raise MediaError(f"{path.name} has no picture between {job.start:g} s and {job.end:g} s.") from None
        finally:
            proxy.close()
        on_written(job.key, job.dest)

    try:
        with open_media(path) as source:
            video = open_for_proxy(source)
            seek_to_keyframe(source, video, origin + pending[0].start)
            frames = DecodedAhead(source, video, stop)
            try:
                _feed(frames, video.time_base, origin, pending, active, encoder, done, report)
            finally:
                frames.close()  # before the container closes: its thread reads from it
    except av.error.FFmpegError as exc:
        raise MediaError(f"Could not make the small copies of {path.name} for upload ({exc}).") from exc
    finally:
        for _, proxy in active:
            proxy.close()


def _feed(  # type: ignore[no-untyped-def]
    frames: DecodedAhead, tb, origin: float, pending: list[ProxyJob], active: list, encoder, done, report: PassReport
) -> None:
    """Give each decoded frame to the encoders of the spans it is in, opening each at its start and finishing it
    at its end (``done``); at the end of the clip, finish every span still open with what is on screen."""
    eps = KEYFRAME_SLACK_S
    previous: Any = None  # the last frame decoded: the one on screen at a span starting before the next
    previous_t = 0.0  # its time (its pts may be rewritten once an encoder took it as it is)
    for frame in frames:
        if frame.pts is None:
            continue
        report.frames_decoded += 1
        t = float(frame.pts * tb)
        # a part starts once a frame is shown after its start: the frame before is on screen at its start
        while pending and origin + pending[0].start < t - eps:
            job = pending.pop(0)
            proxy = encoder(job)
            if previous is not None:
                proxy.offer(previous, previous_t)
            active.append((job, proxy))
        for job, proxy in list(active):
            if proxy.offer(frame, t):
                active.remove((job, proxy))
                done(job, proxy)
        previous, previous_t = frame, t
        if not pending and not active:
            return
    # the clip ended: what is on screen stays there to the end of each span still open
    for job in pending:
        proxy = encoder(job)
        if previous is not None:
            proxy.offer(previous, previous_t)
        active.append((job, proxy))
    pending.clear()
    while active:
        job, proxy = active.pop(0)
        done(job, proxy)


_END = object()


class DecodedAhead:
    """The decoded frames of ``video`` (an opened, seeked input), decoded in a thread of their own up to
    ``AHEAD_FRAMES`` ahead of the consumer, so decoding runs while the consumer scales and encodes (PyAV lets go of
    the GIL in FFmpeg). Iterate it once; :meth:`close` stops the thread (call it before closing the container).
    Raises what decoding raised, and :class:`Cancelled` once ``stop`` is set."""

    def __init__(self, container: Any, video: Any, stop: Optional[threading.Event]) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=AHEAD_FRAMES)
        self._quit = threading.Event()
        self._stop = stop
        self._thread = threading.Thread(
            target=self._decode, args=(container, video), name="proxy-pass-decode", daemon=True
        )
        self._thread.start()

    def __iter__(self) -> Iterator[Any]:
        while True:
            if self._stop is not None and self._stop.is_set():
                raise Cancelled()
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        self._quit.set()
        while self._thread.is_alive():
            try:  # make room so a blocked put sees the quit flag
                self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(0.05)

    def _decode(self, container: Any, video: Any) -> None:
        try:
            for frame in container.decode(video):
                if not self._put(frame):
                    return
            self._put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(exc)

    def _put(self, item: Any) -> bool:
        while not self._quit.is_set():
            if self._stop is not None and self._stop.is_set():
                self._quit.set()
                break
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False
