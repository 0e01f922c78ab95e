"""Decide, before anything is uploaded or paid, which part of the clip gets a soundtrack and what is sent to fal.

Pure data and arithmetic, no I/O: every rule here is unit-testable and documented in README ("Media pipeline").

The upload rule. MMAudio looks at the clip through ~384 px / 8 fps (CLIP) and 224 px / 25 fps (sync) frames, for
at most 30 s, and reads it from its first frame. So what fal needs is the segment ``[start, start + duration]``,
small. Three ways to send it:

* ``proxy`` - the segment re-encoded small: short side ≤ 480 px, ≤ 30 fps, H.264 at ≤ ~1 Mbit/s, no audio. Chosen
  when the segment is big (> ``MAX_COPY_BYTES``: 1080p/4K, long or high-bitrate clips; this also bounds memory, as
  fal_client holds an upload in memory), when re-encoding pays off (the upload time it saves at an assumed 20 Mbit/s
  uplink exceeds the time decoding and encoding take, estimated from pixels per second), or when nothing else can
  give fal exactly the segment (a start between keyframes, a container other than mp4/mov/mkv/webm).
* ``as_is`` - the original file, untouched: the segment starts at 0 and the file is small (≤ ``AS_IS_MAX_BYTES``)
  or is nearly all segment.
* ``cut`` - the segment's video packets, stream-copied (no re-encoding, no audio): the segment starts on a keyframe.
* ``url`` - an ``https://`` video is passed to fal as is (nothing uploaded).

The result is assembled from the ORIGINAL video (stream-copied, full quality) and fal's audio; the proxy only ever
feeds the model.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, Field

from alice_mcp.data.errors import InputError
from alice_mcp.data.params import MAX_DURATION_S, MIN_DURATION_S
from alice_mcp.media.probe import VideoInfo

UploadMethod = Literal["as_is", "cut", "proxy", "url"]

MAX_COPY_BYTES = 16_000_000
AS_IS_MAX_BYTES = 2_000_000
ASSUMED_UPLINK_BYTES_PER_S = 2_500_000  # 20 Mbit/s, a common home/office uplink
DECODE_PIXELS_PER_S = 200e6  # conservative H.264 software decoding speed on one core
ENCODE_S_PER_FRAME = 0.003  # libx264 ultrafast at ≤ 480p
PROXY_BYTES_PER_S = 125_000  # the proxy's ~1 Mbit/s cap
PROXY_SHORT_SIDE = 480
PROXY_MAX_FPS = 30.0
KEYFRAME_TOLERANCE_S = 0.002

# Output container per source suffix: (FFmpeg muxer, file suffix). Anything else becomes Matroska, which holds any
# codec.
_CONTAINERS = {
    ".mp4": ("mp4", ".mp4"),
    ".m4v": ("mp4", ".mp4"),
    ".mov": ("mov", ".mov"),
    ".mkv": ("matroska", ".mkv"),
    ".webm": ("webm", ".webm"),
}
# Containers a result may keep although the upload rule sends them as a proxy (their packets go back unchanged).
_OUTPUT_ONLY = {".ts": ("mpegts", ".ts"), ".m2ts": ("mpegts", ".ts"), ".mts": ("mpegts", ".ts")}
_TS_VIDEO = ("h264", "hevc", "mpeg2video")
_WEBM_VIDEO = ("vp8", "vp9", "av1")
_MP4_VIDEO = ("h264", "hevc", "mpeg4", "av1", "vp9", "mjpeg", "prores")


class MediaPlan(BaseModel):
    """Everything the prepare and finish steps need, as plain data (storable in a job ledger).

    Times are seconds on the clip's own timeline (0 = its first frame). ``keyframe`` is the last keyframe at or
    before ``start`` (where a stream copy of the original begins); ``duration`` is what fal generates and bills.
    """

    source: str = Field(description="The local file or URL the clip came from.")
    upload_method: UploadMethod
    start: float
    end: float
    keyframe: float
    duration: float
    clip_duration: Optional[float] = None
    width: Optional[int] = None
    height: Optional[int] = None
    fps: Optional[float] = None
    has_audio: bool = False
    origin: float = 0.0
    proxy_size: Optional[tuple[int, int]] = None
    proxy_fps: Optional[float] = None
    proxy_kbps: Optional[int] = Field(
        default=None, description="The proxy's bitrate cap (kbit/s); None: the single-generation proxy's."
    )
    output_format: str = "mp4"
    output_suffix: str = ".mp4"
    notes: list[str] = Field(default_factory=list)

    @property
    def lead(self) -> float:
        """Seconds between the keyframe a stream copy starts on and the segment start."""
        return max(0.0, self.start - self.keyframe)


def choose_duration(
    clip_duration: Optional[float], start: float, requested: Optional[float], default: float
) -> tuple[float, float, list[str]]:
    """``(end, billed_duration, notes)`` for a segment starting at ``start``.

    No ``requested`` duration: the clip's remaining length, capped at 30 s. A requested duration longer than what
    the clip has is shortened. fal generates at least 1 s: a shorter remainder is billed as 1 s. Unknown clip length
    (an unprobed URL): ``requested`` or ``default``.
    """
    notes: list[str] = []
    if clip_duration is None:
        seconds = requested if requested is not None else default
        return start + seconds, seconds, notes
    remaining = clip_duration - start
    if remaining <= 0.01:
        raise InputError(
            f"start_time {start:g} s is at or past the end of the clip ({clip_duration:.2f} s long). "
            f"Pass a start_time below {clip_duration:.2f}.",
            code="bad_segment",
        )
    if requested is None:
        seconds = min(remaining, MAX_DURATION_S)
        if remaining > MAX_DURATION_S:
            notes.append(
                f"The clip has {remaining:.2f} s from start_time; generated the first {MAX_DURATION_S:g} s "
                "(MMAudio's maximum). Call again with a later start_time for the rest."
            )
    elif requested > remaining + 0.01:
        seconds = remaining
        notes.append(f"duration {requested:g} s is longer than the clip has from start_time; used {remaining:.2f} s.")
    else:
        seconds = requested
    end = start + seconds
    billed = _ceil_ms(max(seconds, MIN_DURATION_S))
    if seconds < MIN_DURATION_S:
        notes.append(
            f"The segment is only {seconds:.2f} s long; fal generates at least {MIN_DURATION_S:g} s, so 1 s is billed."
        )
    return round(end, 3), billed, notes


def choose_upload(info: VideoInfo, start: float, end: float, keyframe: float, suffix: str) -> UploadMethod:
    """The fastest upload that gives fal exactly the segment (see the module docstring for the rule)."""
    segment_bytes = estimate_bytes(info, end - keyframe)
    if segment_bytes > MAX_COPY_BYTES or proxy_pays_off(info, start, end, keyframe, segment_bytes):
        return "proxy"
    if suffix.lower() not in _CONTAINERS:
        return "proxy"  # MPEG-TS, AVI and the like: fal gets a clean MP4 it reads from its first frame
    if (
        start <= KEYFRAME_TOLERANCE_S
        and info.size_bytes
        and (info.size_bytes <= AS_IS_MAX_BYTES or segment_bytes >= 0.9 * info.size_bytes)
    ):
        return "as_is"
    if start - keyframe <= KEYFRAME_TOLERANCE_S and suffix.lower() in _CONTAINERS:
        return "cut"
    return "proxy"


def proxy_pays_off(info: VideoInfo, start: float, end: float, keyframe: float, segment_bytes: int) -> bool:
    """Whether re-encoding saves more upload time (at the assumed uplink) than it costs in decoding and encoding."""
    fps = info.fps or 25.0
    _, proxy_fps = proxy_geometry(info.width, info.height, fps)
    saved_s = (segment_bytes - PROXY_BYTES_PER_S * (end - start)) / ASSUMED_UPLINK_BYTES_PER_S
    work_s = (end - keyframe) * fps * info.width * info.height / DECODE_PIXELS_PER_S
    work_s += (end - start) * proxy_fps * ENCODE_S_PER_FRAME
    return saved_s > work_s


def estimate_bytes(info: VideoInfo, seconds: float) -> int:
    """Bytes of ``seconds`` of the clip's video: its bitrate when known, else its share of the file size."""
    if info.bit_rate:
        return int(info.bit_rate / 8 * seconds)
    if info.size_bytes and info.duration:
        return int(info.size_bytes * min(1.0, seconds / info.duration))
    return MAX_COPY_BYTES + 1  # unknown: assume large, so a proxy bounds it


def proxy_geometry(
    width: int, height: int, fps: Optional[float], short_side: int = PROXY_SHORT_SIDE
) -> tuple[tuple[int, int], float]:
    """``((w, h), fps)`` of the proxy: short side ≤ ``short_side`` px (480; even sizes, aspect kept), ≤ 30 fps by
    whole-number decimation (60 → 30, 50 → 25, 24 stays 24)."""
    short = min(width, height)
    scale = min(1.0, short_side / short) if short else 1.0
    w = max(2, int(round(width * scale / 2)) * 2)
    h = max(2, int(round(height * scale / 2)) * 2)
    rate = fps or 25.0
    step = max(1, math.ceil(rate / PROXY_MAX_FPS - 1e-6))
    return (w, h), rate / step


def choose_output(source: Path | str, video_codec: str, wanted_suffix: str | None) -> tuple[str, str, list[str]]:
    """``(muxer, suffix, notes)`` for the finished video: the caller's suffix if it can hold the video codec, else the
    original's container (mp4, mov, mkv, webm), else Matroska."""
    notes: list[str] = []
    for suffix in (wanted_suffix, Path(str(source)).suffix):
        if not suffix:
            continue
        entry = _CONTAINERS.get(suffix.lower()) or _OUTPUT_ONLY.get(suffix.lower())
        if entry and _fits(entry[0], video_codec):
            return entry[0], entry[1], notes
        if suffix == wanted_suffix and suffix.lower() != Path(str(source)).suffix.lower():
            notes.append(
                f"A {suffix} file cannot hold this clip's {video_codec} video without re-encoding; kept the original's container."
            )
    muxer, suffix = "matroska", ".mkv"
    notes.append(f"The result is Matroska ({suffix}): it keeps the original {video_codec} video without re-encoding.")
    return muxer, suffix, notes


def _fits(muxer: str, video_codec: str) -> bool:
    if muxer == "webm":
        return video_codec in _WEBM_VIDEO
    if muxer == "mpegts":
        return video_codec in _TS_VIDEO
    if muxer in ("mp4", "mov"):
        return video_codec in _MP4_VIDEO
    return True


def _ceil_ms(seconds: float) -> float:
    return math.ceil(round(seconds * 1000, 6)) / 1000
