"""Real media for tests, made with PyAV (no binaries committed, no numpy needed).

``make_clip`` writes a short video with a moving picture and, optionally, a tone; ``describe`` reads back what a
file holds, and ``audio_rms`` measures how loud its audio is.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Optional

import av

_CODECS = {
    "mp4": ("libx264", "aac"),
    "mov": ("libx264", "aac"),
    "mkv": ("libx264", "aac"),
    "webm": ("libvpx-vp9", "libopus"),
}


def make_clip(
    path: Path,
    seconds: float = 2.0,
    *,
    size: tuple[int, int] = (160, 120),
    fps: int = 24,
    with_audio: bool = False,
    tone_hz: float = 440.0,
    gop: Optional[int] = None,
    rotation: int = 0,
    bframes: int = 0,
) -> Path:
    """Write a clip of ``seconds`` at ``size`` and ``fps`` in the container given by ``path``'s suffix.

    ``gop`` sets the keyframe interval in frames (default: the encoder's).
    """
    container_kind = path.suffix.lstrip(".").lower()
    vcodec, acodec = _CODECS[container_kind]
    width, height = size
    with av.open(str(path), "w") as out:
        video = out.add_stream(vcodec, rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if gop is not None:
            video.codec_context.gop_size = gop
        if rotation:
            video.set_display_rotation(rotation)  # display matrix, as phones write it
        if vcodec == "libx264":
            video.options = {"preset": "ultrafast", "crf": "35", **({"bf": str(bframes)} if bframes else {})}
        else:
            video.options = {"deadline": "realtime", "cpu-used": "8", "crf": "50", "b": "0"}
        audio = out.add_stream(acodec, rate=48000) if with_audio else None
        if audio is not None:
            audio.layout = "stereo"
        frames = max(1, round(seconds * fps))
        for index in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            luma = bytes(((x + index * 4) % 200) + 16 for x in range(width))
            frame.planes[0].update(luma * height)
            frame.planes[1].update(bytes([128 + (index % 60)]) * (frame.planes[1].buffer_size))
            frame.planes[2].update(bytes([128]) * (frame.planes[2].buffer_size))
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio is not None:
            _write_tone(out, audio, seconds, tone_hz)
    return path


def _write_tone(out, audio, seconds: float, tone_hz: float) -> None:  # type: ignore[no-untyped-def]
    rate = 48000
    samples_per_frame = audio.codec_context.frame_size or 960
    total = int(seconds * rate)
    pts = 0
    while pts < total:
        count = min(samples_per_frame, total - pts)
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=samples_per_frame)
        values = [
            0.3 * math.sin(2 * math.pi * tone_hz * (pts + i) / rate) if i < count else 0.0
            for i in range(samples_per_frame)
        ]
        data = struct.pack(f"{samples_per_frame}f", *values)
        for plane in frame.planes:
            plane.update(data)
        frame.sample_rate = rate
        frame.pts = pts
        frame.time_base = Fraction(1, rate)
        for packet in audio.encode(frame):
            out.mux(packet)
        pts += count
    for packet in audio.encode():
        out.mux(packet)


@dataclass(frozen=True)
class MediaInfo:
    container: str
    duration: float
    video: Optional[tuple[int, int, float]]  # width, height, fps
    audio_duration: Optional[float]
    video_codec: Optional[str]
    audio_codec: Optional[str]


def describe(path: Path) -> MediaInfo:
    """What ``path`` holds: container, duration, video size/fps, audio length and codecs."""
    with av.open(str(path)) as container:
        v = next((s for s in container.streams if s.type == "video"), None)
        a = next((s for s in container.streams if s.type == "audio"), None)
        duration = container.duration / 1_000_000 if container.duration else 0.0
        video = None
        if v is not None:
            rate = v.average_rate or v.base_rate
            video = (v.codec_context.width, v.codec_context.height, float(rate) if rate else 0.0)
        audio_duration = None
        if a is not None:
            audio_duration = float(a.duration * a.time_base) if a.duration else _decoded_audio_seconds(path)
        return MediaInfo(
            container=container.format.name,
            duration=duration,
            video=video,
            audio_duration=audio_duration,
            video_codec=v.codec_context.name if v is not None else None,
            audio_codec=a.codec_context.name if a is not None else None,
        )


def _decoded_audio_seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.codec_context.sample_rate


def audio_rms(path: Path) -> float:
    """Root-mean-square level of the first audio stream (0 = silence, 1 = full scale)."""
    total = 0.0
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        for frame in container.decode(stream):
            for mono in resampler.resample(frame):
                data = bytes(mono.planes[0])[: mono.samples * 4]
                values = struct.unpack(f"{mono.samples}f", data)
                total += sum(v * v for v in values)
                count += len(values)
    return math.sqrt(total / count) if count else 0.0


def make_still_image(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    """A PNG picture (whatever ``path``'s suffix says)."""
    with av.open(str(path), "w", format="image2", options={"update": "1"}) as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "rgb24"
        frame = av.VideoFrame(size[0], size[1], "rgb24")
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def make_audio_only(path: Path, seconds: float = 1.0) -> Path:
    """An audio-only M4A (AAC tone), whatever ``path``'s suffix says."""
    with av.open(str(path), "w", format="ipod") as out:
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        _write_tone(out, audio, seconds, 330.0)
    return path


def measured_seconds(path: Path) -> tuple[float, Optional[float]]:
    """``(video, audio)`` lengths as a player sees them: presented video frames x frame time, decoded audio samples."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [frame.time for frame in container.decode(stream) if frame.time is not None]
        rate = float(stream.average_rate or stream.base_rate or 25)
        video = (max(times) - min(times) + 1 / rate) if times else 0.0
    audio = _decoded_audio_seconds(path) if has_audio_stream(path) else None
    return video, audio


def has_audio_stream(path: Path) -> bool:
    with av.open(str(path)) as container:
        return bool(container.streams.audio)


def display_rotation(path: Path) -> int:
    """The display rotation (degrees) players apply to the first video frame."""
    with av.open(str(path)) as container:
        return int(next(container.decode(container.streams.video[0])).rotation)
