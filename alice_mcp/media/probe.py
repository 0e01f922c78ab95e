"""Probe a video with PyAV (FFmpeg inside its wheels): is it really a video, and how long, big and fast is it.

This is the gate every local file passes before anything is uploaded or paid: a file that does not decode as video
(a text file named ``.mp4``, an image, an audio-only file, an empty or truncated file) raises :class:`InputError`.

Blocking: call it from a worker thread. PyAV is imported on first use so start-up stays fast.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, TYPE_CHECKING, Optional, Union

from alice_mcp.data.errors import InputError

if TYPE_CHECKING:
    from av.stream import Stream

# Demuxers that hold still images, not video (FFmpeg names).
_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "tiff_pipe", "gif_pipe", "svg_pipe")
_ATTACHED_PIC = 1024  # AV_DISPOSITION_ATTACHED_PIC: cover art in an audio file, not a video
# How far the playable video may end before the length the file declares before we call it truncated.
TRUNCATION_TOLERANCE_S = 1.0
#: Probes of recent files, by (path, size, modification time): an unchanged file is opened and decoded once per
#: request (deciding whether it is a soundtrack and planning its job both need it). Failures are not kept.
_PROBED: dict[tuple[str, int, int], VideoInfo] = {}
_PROBED_SIZE = 32
_PROBED_LOCK = threading.Lock()


@dataclass(frozen=True)
class VideoInfo:
    """What we know about a clip before uploading it.

    ``duration`` is the playable video length in seconds (measured at the file's end when the header's figure is
    missing or wrong). ``origin`` is the presentation time (s) of the video's first frame: segment times are
    relative to it. ``bit_rate`` is the video stream's (or, failing that, the whole file's) bits per second, 0 if
    unknown. ``size_bytes`` is the file size (0 for a URL whose size is unknown).
    """

    container: str
    duration: float
    width: int
    height: int
    fps: Optional[float]
    video_codec: str
    has_audio: bool
    size_bytes: int = 0
    bit_rate: int = 0
    origin: float = 0.0
    audio_codec: Optional[str] = None

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)


def probe_video(path: Path) -> VideoInfo:
    """Open ``path``, decode its first video frame and check its end. Raises :class:`InputError` if it is not a
    decodable, complete video. An unchanged file probed lately is not read again (``_PROBED``)."""
    if not isinstance(path, Path):
        return describe_video(str(path), label=str(path), size_bytes=0, check_frames=True)
    stat = path.stat()
    if stat.st_size == 0:
        raise InputError(f"{path} is empty (0 bytes). Pass a video file.", code="not_video")
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _PROBED_LOCK:
        known = _PROBED.get(key)
    if known is not None:
        return known
    info = describe_video(str(path), label=str(path), size_bytes=stat.st_size, check_frames=True)
    with _PROBED_LOCK:
        while len(_PROBED) >= _PROBED_SIZE:
            _PROBED.pop(next(iter(_PROBED)))
        _PROBED[key] = info
    return info


def describe_video(
    source: Union[str, IO[bytes]], *, label: str, size_bytes: int = 0, check_frames: bool = True
) -> VideoInfo:
    """Describe the first real video stream of ``source`` (a path or a seekable binary file object).

    ``check_frames`` also decodes the first frame and reads the last second (local files); a remote header probe
    skips it to keep the bytes read small. Raises :class:`InputError` (code ``not_video``).
    """
    import av

    from alice_mcp.media.open_input import CONTAINER_OPTIONS, open_media

    try:
        opened = (
            open_media(source, metadata_errors="ignore")
            if isinstance(source, str)
            else av.open(source, metadata_errors="ignore", container_options=dict(CONTAINER_OPTIONS))
        )
        with opened as container:
            fmt = container.format.name
            video = next((s for s in container.streams.video if not (int(s.disposition) & _ATTACHED_PIC)), None)
            if fmt in _IMAGE_FORMATS or fmt.endswith("_pipe"):
                raise InputError(f"{label} is a still image ({fmt}), not a video. Pass a video file.", code="not_video")
            if video is None:
                kind = "an audio file" if container.streams.audio else "not a video"
                raise InputError(f"{label} has no video stream (it is {kind}). Pass a video file.", code="not_video")
            duration = _declared_duration(container, video)
            if duration is None or duration <= 0:
                raise InputError(
                    f"{label} does not contain any playable video (no duration). Is it truncated?", code="not_video"
                )
            rate = video.average_rate or video.base_rate
            fps = float(rate) if rate else None
            origin = float(video.start_time * time_base(video)) if video.start_time is not None else 0.0
            if check_frames:
                shown = _decode_first_frame(container, video, label)
                if shown is not None:
                    # the first frame a player shows (AVI with B-frames: one frame after the stream's start)
                    origin = shown
                duration = _check_end(container, video, duration, origin, fps, label)
            audio = container.streams.audio[0] if container.streams.audio else None
            return VideoInfo(
                container=fmt,
                duration=round(duration, 3),
                width=video.codec_context.width,
                height=video.codec_context.height,
                fps=fps,
                video_codec=codec_id_name(video),
                has_audio=audio is not None,
                size_bytes=size_bytes,
                bit_rate=int(video.bit_rate or container.bit_rate or 0),
                origin=origin,
                audio_codec=codec_id_name(audio) if audio is not None else None,
            )
    except InputError:
        raise
    except av.error.ArgumentError as exc:
        raise InputError(
            f"{label} is not a single video file FFmpeg may read ({exc}): playlists (m3u8), concat lists and image "
            "sequences name other files and are not accepted. Pass an mp4, mov, mkv or webm file.",
            code="not_video",
        ) from None
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{label} is not a video FFmpeg can read ({type(exc).__name__}: {exc}). Pass an mp4, mov, mkv or webm file.",
            code="not_video",
        ) from None


def codec_id_name(stream) -> str:  # type: ignore[no-untyped-def]
    """The codec's own name (``av1``, ``hevc``), not the decoder's (``libdav1d``): what containers are chosen by."""
    codec = stream.codec_context.codec
    return str(getattr(codec, "canonical_name", None) or codec.name)


def _declared_duration(container, video) -> Optional[float]:  # type: ignore[no-untyped-def]
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def _decode_first_frame(container, video, label: str) -> Optional[float]:  # type: ignore[no-untyped-def]
    import av

    video.thread_type = "SLICE"  # one picture is enough: no frame threads (each would hold a full frame)
    video.codec_context.thread_count = 1
    try:
        for frame in container.decode(video):
            return float(frame.time) if frame.time is not None else None
    except av.error.FFmpegError as exc:
        raise InputError(
            f"{label}: its video does not decode ({exc}). Is the file damaged?", code="not_video"
        ) from None
    raise InputError(f"{label} has a video stream but no picture in it. Is it truncated?", code="not_video")


def _check_end(container, video, declared: float, origin: float, fps: Optional[float], label: str) -> float:  # type: ignore[no-untyped-def]
    """The playable video length, measured from the packets of the last second; raises when the file stops well
    before the length it declares (a truncated copy or download)."""
    import av

    tb = video.time_base
    frame_s = 1.0 / fps if fps else 0.04
    target = max(0.0, declared - 1.0)
    end: Optional[float] = None
    try:
        container.seek(int((origin + target) / tb), stream=video, backward=True, any_frame=False)
        for packet in container.demux(video):
            if packet.size and packet.pts is not None:
                length = float(packet.duration * tb) if packet.duration else frame_s
                stop = float(packet.pts * tb) - origin + length
                end = stop if end is None else max(end, stop)
    except av.error.FFmpegError:
        pass
    tolerance = max(TRUNCATION_TOLERANCE_S, 3 * frame_s)
    if end is None or end < declared - tolerance:
        where = f"its video stops at {end:.2f} s" if end is not None else "its last part cannot be read"
        raise InputError(
            f"{label} looks truncated: it declares {declared:.2f} s but {where}. Copy or export the file again.",
            code="not_video",
        )
    return min(declared, end) if end > 0 else declared


def time_base(stream: Stream) -> Fraction:
    """``stream``'s time base. PyAV types it optional; every demuxed stream and every stream made from one has it."""
    if stream.time_base is None:
        raise InputError(f"The {stream.type} stream has no time base; the file is damaged.", code="not_video")
    return stream.time_base
