"""Probe a local video with PyAV (FFmpeg inside its wheels): is it a video, and how long, big and fast is it.

Blocking: call it from a worker thread. PyAV is imported on first use so start-up stays fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .errors import InputError


@dataclass(frozen=True)
class VideoInfo:
    """What we know about a clip before uploading it."""

    container: str
    duration: float
    width: int
    height: int
    fps: Optional[float]
    video_codec: str
    has_audio: bool


def probe_video(path: Path) -> VideoInfo:
    """Open ``path`` and describe its first video stream. Raises :class:`InputError` if it is not a decodable video."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            video = next((s for s in container.streams if s.type == "video"), None)
            if video is None:
                raise InputError(f"{path} has no video stream (is it an audio file or an image?). Pass a video file.", code="not_video")
            duration = _duration(container, video)
            if duration is None or duration <= 0:
                raise InputError(f"{path} does not contain any playable video (no duration). Is it truncated?", code="not_video")
            rate = video.average_rate or video.base_rate
            return VideoInfo(
                container=container.format.name,
                duration=duration,
                width=video.codec_context.width,
                height=video.codec_context.height,
                fps=float(rate) if rate else None,
                video_codec=video.codec_context.name,
                has_audio=any(s.type == "audio" for s in container.streams),
            )
    except InputError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise InputError(f"{path} is not a video FFmpeg can read ({type(exc).__name__}: {exc}). Pass an mp4, mov, mkv or webm file.", code="not_video") from None


def _duration(container, video) -> Optional[float]:  # type: ignore[no-untyped-def]
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None
