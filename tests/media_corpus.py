"""A conformance corpus of the footage people really have, made by the tests themselves with PyAV (no blobs in git).

Every clip is tiny (≈ 3 s, 160x120-ish) and carries a **visual marker**: a white flash starting at every whole
second of the clip's own timeline (0 = its first shown frame), lasting 0.1 s. The fal twin turns each flash it sees
in the uploaded video into a click in the generated audio (:mod:`tests.fal_twin.synth`), so a test can measure sync
on the finished file: click times (audio) against flash times (video), both read from the output's own timestamps.

``CORPUS`` names each clip; :func:`build` writes one. A clip whose encoder PyAV's wheel lacks raises
:class:`MissingEncoder` (the test skips it and says why).
"""

from __future__ import annotations

import array
import math
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Optional

import av

FLASH_S = 0.1  # how long each white flash lasts
AUDIO_RATE = 48000
TONE_LEVEL = 0.08  # the clip's own sound: quiet, so a mixed result's clicks still stand out


class MissingEncoder(Exception):
    """PyAV's wheel has no encoder for this clip's codec."""


@dataclass(frozen=True)
class ClipSpec:
    """How to write one corpus clip. ``times`` (s, clip clock from 0) are the frames' presentation times."""

    name: str
    suffix: str
    vcodec: str
    times: tuple[float, ...]
    time_base: Fraction
    size: tuple[int, int] = (160, 120)
    pix_fmt: str = "yuv420p"
    options: dict = field(default_factory=dict)
    acodec: Optional[str] = "aac"
    muxer: Optional[str] = None
    mux_options: dict = field(default_factory=dict)
    gop: Optional[int] = None
    bframes: int = 0
    rotation: int = 0
    codec_tag: Optional[str] = None
    origin: float = 0.0  # presentation time of the first frame on the file's clock
    extras: bool = False  # a second audio track, subtitles, chapters and metadata
    trim_from: Optional[float] = None  # write as a lossless trim from here (edit list, first keyframe before it)
    segment_start: float = 1.3  # start_time of the segment test
    vfr: bool = False

    @property
    def seconds(self) -> float:
        return self.times[-1] + (self.times[-1] - self.times[-2])


def _cfr(seconds: float, fps: Fraction) -> tuple[tuple[float, ...], Fraction]:
    count = int(round(seconds * fps))
    return tuple(float(i / fps) for i in range(count)), 1 / fps


def _vfr(seconds: float) -> tuple[tuple[float, ...], Fraction]:
    """30 fps for the first half, then 15 fps (a phone in low light)."""
    half = int(seconds * 30 / 2)
    ticks = list(range(half)) + list(range(half, int(seconds * 30), 2))
    return tuple(t / 30 for t in ticks), Fraction(1, 30)


X264 = {"preset": "ultrafast", "crf": "35"}


def _spec(name: str, suffix: str, vcodec: str = "libx264", fps: Fraction = Fraction(24), seconds: float = 3.0, **kw):  # type: ignore[no-untyped-def]
    times, tb = _cfr(seconds, fps)
    kw.setdefault("options", dict(X264) if vcodec == "libx264" else {})
    return ClipSpec(name=name, suffix=suffix, vcodec=vcodec, times=times, time_base=tb, **kw)


_VFR_TIMES, _VFR_TB = _vfr(3.0)

CORPUS: dict[str, ClipSpec] = {
    spec.name: spec
    for spec in (
        _spec("h264_mp4", ".mp4", gop=12),
        _spec("h264_mp4_faststart", ".mp4", gop=12, mux_options={"movflags": "+faststart"}),
        _spec("h264_mov_rotated", ".mov", fps=Fraction(30), gop=15, rotation=90),
        _spec(
            "h264_mkv_bframes_long_gop",
            ".mkv",
            fps=Fraction(30),
            gop=250,
            bframes=3,
            options={"preset": "veryfast", "crf": "35"},
        ),
        _spec("h264_mp4_edit_list_mid_gop", ".mp4", seconds=4.0, gop=48, trim_from=0.9, bframes=2),
        _spec("h264_ts_offset", ".ts", gop=12, muxer="mpegts", origin=1.467),
        ClipSpec(
            name="h264_mp4_vfr",
            suffix=".mp4",
            vcodec="libx264",
            times=_VFR_TIMES,
            time_base=_VFR_TB,
            options=dict(X264),
            gop=15,
            vfr=True,
        ),
        _spec(
            "av1_mp4",
            ".mp4",
            vcodec="libsvtav1",
            options={"preset": "12"},
            gop=12,
            size=(160, 128),
        ),
        _spec(
            "hevc_hvc1_10bit_mp4",
            ".mp4",
            vcodec="libx265",
            pix_fmt="yuv420p10le",
            options={"preset": "ultrafast", "crf": "35", "x265-params": "log-level=error:keyint=12:bframes=0"},
            codec_tag="hvc1",
        ),
        _spec(
            "vp9_opus_webm",
            ".webm",
            vcodec="libvpx-vp9",
            options={"deadline": "realtime", "cpu-used": "8", "crf": "50", "b": "0"},
            acodec="libopus",
            gop=12,
        ),
        _spec("mpeg4_avi_bframes", ".avi", vcodec="mpeg4", options={"bf": "2", "qscale": "8"}, acodec="pcm_s16le"),
        _spec("h264_odd_size_mp4", ".mp4", size=(166, 94), gop=12),
        _spec("h264_23976_mp4", ".mp4", fps=Fraction(24000, 1001), gop=12),
        _spec("h264_5994_mkv", ".mkv", fps=Fraction(60000, 1001), gop=30, seconds=2.5),
        _spec("h264_mkv_extras", ".mkv", gop=12, extras=True),
    )
}


def build(name: str, folder: Path) -> Path:
    """Write corpus clip ``name`` into ``folder`` (once; later calls return the same file)."""
    spec = CORPUS[name]
    path = folder / f"{spec.name}{spec.suffix}"
    if path.exists():
        return path
    _check_encoders(spec)
    partial = folder / f".{spec.name}.part{spec.suffix}"
    if spec.trim_from is not None:
        full = folder / f".{spec.name}.full{spec.suffix}"
        _write(spec, full)
        _lossless_trim(full, partial, spec.trim_from)
        full.unlink()
    else:
        _write(spec, partial)
    partial.rename(path)
    return path


def flash_times(spec: ClipSpec) -> list[float]:
    """Clip-clock times (s, from its first shown frame) at which a flash starts, as written."""
    base = spec.trim_from or 0.0
    shown = [t - base for t in spec.times if t >= base - 1e-9]
    onsets = []
    for index, t in enumerate(shown):
        if _is_flash(t + base) and (index == 0 or not _is_flash(shown[index - 1] + base)):
            onsets.append(t)
    return onsets


def _is_flash(t: float) -> bool:
    return t - math.floor(t + 1e-9) < FLASH_S - 1e-9


def _check_encoders(spec: ClipSpec) -> None:
    for codec in (spec.vcodec, spec.acodec):
        if codec is None:
            continue
        try:
            av.codec.Codec(codec, "w")
        except Exception as exc:  # noqa: BLE001 - any failure means "not in this wheel"
            raise MissingEncoder(f"PyAV's wheel has no {codec} encoder ({exc})") from None


def _picture(width: int, height: int, index: int, flash: bool, pix_fmt: str) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    if flash:
        frame.planes[0].update(bytes([235]) * frame.planes[0].buffer_size)
    else:
        line = frame.planes[0].line_size
        row = bytes(16 + ((x + index * 3) % 64) for x in range(line))
        frame.planes[0].update(row * height)
    frame.planes[1].update(bytes([128 + (index % 40)]) * frame.planes[1].buffer_size)
    frame.planes[2].update(bytes([128]) * frame.planes[2].buffer_size)
    return frame.reformat(format=pix_fmt) if pix_fmt != "yuv420p" else frame


def _write(spec: ClipSpec, path: Path) -> None:
    width, height = spec.size
    tb = spec.time_base
    offset = int(round(spec.origin / tb))
    with av.open(str(path), "w", format=spec.muxer, options=dict(spec.mux_options)) as out:
        rate = Fraction(1, 1) / tb if not spec.vfr else Fraction(30)
        video = out.add_stream(spec.vcodec, rate=rate, options=dict(spec.options))
        video.width, video.height, video.pix_fmt = width, height, spec.pix_fmt
        video.time_base = tb
        video.codec_context.time_base = tb
        if spec.gop is not None:
            video.codec_context.gop_size = spec.gop
        if spec.bframes:
            video.codec_context.max_b_frames = spec.bframes
        if spec.codec_tag:
            video.codec_tag = spec.codec_tag
        if spec.rotation:
            video.set_display_rotation(spec.rotation)
        audio = _add_audio(out, spec.acodec) if spec.acodec else None
        second = _add_audio(out, spec.acodec) if spec.extras else None
        subtitle_source = _srt_source(path, int(spec.seconds)) if spec.extras else None
        subtitles = out.add_stream_from_template(subtitle_source.streams[0]) if subtitle_source else None
        if spec.extras:
            out.metadata["title"] = "Corpus clip with extras"
            out.metadata["creation_time"] = "2024-05-06T07:08:09.000000Z"
            assert audio is not None and second is not None and subtitles is not None
            audio.metadata["language"] = "eng"
            second.metadata["language"] = "fra"
            second.metadata["title"] = "Commentary"
            subtitles.metadata["language"] = "eng"
            out.set_chapters(
                [
                    {"id": 1, "start": 0, "end": 1500, "time_base": Fraction(1, 1000), "metadata": {"title": "One"}},
                    {"id": 2, "start": 1500, "end": 3000, "time_base": Fraction(1, 1000), "metadata": {"title": "Two"}},
                ]
            )
        for index, t in enumerate(spec.times):
            frame = _picture(width, height, index, _is_flash(t), spec.pix_fmt)
            frame.pts = int(round(t / tb)) + offset
            frame.time_base = tb
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio is not None:
            _write_tone(out, audio, spec.seconds, 330.0, spec.origin)
        if second is not None:
            _write_tone(out, second, spec.seconds, 550.0, spec.origin)
        if subtitle_source is not None:
            for packet in subtitle_source.demux(subtitle_source.streams[0]):
                if packet.size:
                    packet.stream = subtitles
                    out.mux(packet)
            subtitle_source.close()


def _srt_source(path: Path, lines: int):  # type: ignore[no-untyped-def]
    """An opened SubRip file with one line per second (its packets are copied into the clip)."""
    srt = path.with_suffix(".srt")
    srt.write_text(
        "".join(f"{k + 1}\n00:00:0{k},000 --> 00:00:0{k},800\nLine {k + 1}\n\n" for k in range(lines)),
        encoding="utf-8",
    )
    source = av.open(str(srt))
    srt.unlink()
    return source


def _add_audio(out, codec: str):  # type: ignore[no-untyped-def]
    stream = out.add_stream(codec, rate=AUDIO_RATE)
    stream.layout = "stereo"
    if codec == "pcm_s16le":
        stream.format = "s16"
    return stream


def _write_tone(out, audio, seconds: float, tone_hz: float, origin: float) -> None:  # type: ignore[no-untyped-def]
    rate = AUDIO_RATE
    size = audio.codec_context.frame_size or 1024
    fmt = audio.codec_context.format.name if audio.codec_context.format else "fltp"
    total = int(seconds * rate)
    start = int(round(origin * rate))
    pts = 0
    while pts < total:
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=size)
        values = [
            TONE_LEVEL * math.sin(2 * math.pi * tone_hz * (pts + i) / rate) if pts + i < total else 0.0
            for i in range(size)
        ]
        data = struct.pack(f"{size}f", *values)
        for plane in frame.planes:
            plane.update(data)
        frame.sample_rate = rate
        frame.pts = pts + start
        frame.time_base = Fraction(1, rate)
        frames = [frame] if fmt == "fltp" else av.AudioResampler(format=fmt, layout="stereo", rate=rate).resample(frame)
        for converted in frames:
            converted.pts, converted.time_base = pts + start, Fraction(1, rate)
            for packet in audio.encode(converted):
                out.mux(packet)
        pts += size
    for packet in audio.encode():
        out.mux(packet)


def _lossless_trim(full: Path, dest: Path, at: float) -> None:
    """What ``ffmpeg -ss AT -c copy`` does: copy from the keyframe before ``at``, timestamps shifted so ``at`` is 0
    (the keyframe gets a negative pts; MP4 hides the lead-in with an edit list)."""
    with av.open(str(full)) as source, av.open(str(dest), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in source.streams if s.type in ("video", "audio")}
        video = source.streams.video[0]
        cut = {s.index: int(round(at / s.time_base)) for s in source.streams}
        keyframe_pts = None
        for packet in source.demux(video):
            if packet.pts is None:
                continue
            if packet.is_keyframe and packet.pts <= cut[video.index]:
                keyframe_pts = packet.pts
        assert keyframe_pts is not None
        source.seek(0)
        started = False
        for packet in source.demux(*[source.streams[i] for i in streams]):
            if packet.pts is None or packet.dts is None:
                continue
            stream = source.streams[packet.stream_index]
            if stream.type == "video" and not started:
                if not (packet.is_keyframe and packet.pts == keyframe_pts):
                    continue
                started = True
            if stream.type == "audio" and float(packet.pts * stream.time_base) < at - 1e-6:
                continue
            packet.pts -= cut[stream.index]
            packet.dts -= cut[stream.index]
            packet.stream = streams[stream.index]
            out.mux(packet)


# ------------------------------------------------------------------------------------------------ measurement
CLICK_THRESHOLD = 0.6  # the twin's clicks peak at 0.9; its tone + noise stay below ~0.32, the clip's tone at 0.08


@dataclass
class Measured:
    """What a finished file holds, measured by decoding it with its own timestamps (edit lists applied)."""

    frames: list[tuple[float, bytes]]  # (shown time s, picture digest) in display order
    flashes: list[float]  # shown times where a flash starts
    clicks: list[float]  # audio times where a click starts (first audio track, first channel)
    click_level_db: Optional[float]  # RMS level (dBFS) of the clicks, first channel
    video_end: float  # last frame's time + its duration
    video_start: float
    audio_start: Optional[float]
    audio_end: Optional[float]
    streams: dict[str, int]  # stream kind -> count


def measure(path: Path) -> Measured:
    """Decode ``path`` (first video and first audio stream) and measure it."""
    import hashlib

    with av.open(str(path)) as container:
        streams: dict[str, int] = {}
        for stream in container.streams:
            streams[stream.type] = streams.get(stream.type, 0) + 1
        video = container.streams.video[0]
        frames: list[tuple[float, bytes]] = []
        flashes: list[float] = []
        lit = False
        last_duration = 0.0
        for frame in container.decode(video):
            if frame.time is None:
                continue
            digest = _picture_digest(frame, hashlib)
            frames.append((frame.time, digest))
            now = _mean_luma(frame) > 160
            if now and not lit:
                flashes.append(frame.time)
            lit = now
            last_duration = float(frame.duration * frame.time_base) if frame.duration else last_duration
    frames.sort()
    if len(frames) > 1 and not last_duration:
        last_duration = frames[-1][0] - frames[-2][0]
    clicks, level, audio_start, audio_end = _audio(path) if streams.get("audio") else ([], None, None, None)
    return Measured(
        frames=frames,
        flashes=sorted(flashes),
        clicks=clicks,
        click_level_db=level,
        video_start=frames[0][0] if frames else 0.0,
        video_end=(frames[-1][0] + last_duration) if frames else 0.0,
        audio_start=audio_start,
        audio_end=audio_end,
        streams=streams,
    )


def measure_audio(path: Path) -> Measured:
    """Measure an audio-only file (clicks, level, start and end)."""
    clicks, level, audio_start, audio_end = _audio(path)
    return Measured([], [], clicks, level, 0.0, 0.0, audio_start, audio_end, {"audio": 1})


def _picture_digest(frame, hashlib) -> bytes:  # type: ignore[no-untyped-def]
    """A digest of the visible luma (rows cut to the picture's width: decoders leave padding uninitialised)."""
    plane = frame.planes[0]
    data = bytes(plane)
    width = plane.width * (2 if "10" in frame.format.name or "16" in frame.format.name else 1)
    rows = b"".join(data[y * plane.line_size : y * plane.line_size + width] for y in range(plane.height))
    return hashlib.blake2b(rows, digest_size=12).digest()


def _mean_luma(frame) -> float:  # type: ignore[no-untyped-def]
    small = frame.reformat(width=16, height=16, format="gray")
    plane = small.planes[0]
    data = bytes(plane)
    return sum(data[y * plane.line_size + x] for y in range(16) for x in range(16)) / 256


def _audio(path: Path) -> tuple[list[float], Optional[float], Optional[float], Optional[float]]:
    """Click onsets, the clicks' RMS level (dBFS) and the audio's first/last time, on the file's own clock."""
    from tests.fal_twin.synth import CLICK_S

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        samples = array.array("f")
        first: Optional[float] = None
        planar = av.AudioResampler(format="fltp", rate=rate)  # same rate: no delay, just the sample format
        for frame in container.decode(stream):
            if first is None:
                first = frame.time if frame.time is not None else 0.0
            for converted in planar.resample(frame):  # the first channel's samples (no numpy)
                samples.frombytes(bytes(converted.planes[0])[: converted.samples * 4])
    if first is None:
        return [], None, None, None
    clicks: list[float] = []
    quiet = int(0.02 * rate)
    last = -quiet
    for index, value in enumerate(samples):
        if abs(value) > CLICK_THRESHOLD:
            if index - last >= quiet:
                clicks.append(first + index / rate)
            last = index
    span = int(CLICK_S * rate)
    energy, count = 0.0, 0
    for at in clicks:
        start = int(round((at - first) * rate))
        for value in samples[start : start + span]:
            energy += value * value
            count += 1
    level = 10 * math.log10(energy / count) if count and energy > 0 else None
    return clicks, level, first, first + len(samples) / rate
