"""Carry a source's streams and labels over to a result without re-encoding: the video (whatever decoder name
FFmpeg reports), extra audio tracks, subtitles, chapters and metadata - or say what the result's container cannot
hold.

Blocking (PyAV). Used by :mod:`alice_mcp.media.finish` and :mod:`alice_mcp.media.prepare`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from alice_mcp.media.probe import codec_id_name

# Container-level tags the muxer writes itself (copying them would be wrong or duplicate them).
_MUXER_TAGS = {"encoder", "major_brand", "minor_version", "compatible_brands", "duration"}
# Subtitle codecs each result container takes as they are (anything else would need converting: dropped, noted).
_SUBTITLES = {
    "mp4": ("mov_text",),
    "mov": ("mov_text",),
    "matroska": ("subrip", "srt", "ass", "ssa", "webvtt", "hdmv_pgs_subtitle", "dvd_subtitle", "mov_text"),
    "webm": ("webvtt",),
    "mpegts": ("dvb_subtitle", "dvb_teletext"),
}
_EXTRA_AUDIO = {
    "mp4": ("aac", "mp3", "ac3", "eac3", "opus", "flac", "alac"),
    "mov": ("aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le"),
    "webm": ("opus", "vorbis"),
    "mpegts": ("aac", "mp3", "ac3", "eac3", "mp2"),
}
_CHAPTERS = ("mp4", "mov", "matroska", "webm")


def copy_stream(out, template):  # type: ignore[no-untyped-def]
    """A stream of ``out`` copying ``template``'s codec parameters (no encoder is opened).

    PyAV looks the codec up by the name its decoder reports; when that name is not an encoder of this build
    (AV1 read by ``libdav1d``), the parameters are copied opaquely, by codec id. An HEVC track tagged ``hvc1``
    (what Apple players want) keeps that tag in MP4/MOV.
    """
    from av.codec.codec import UnknownCodecError

    try:
        stream = out.add_stream_from_template(template)
    except UnknownCodecError:
        stream = out.add_stream_from_template(template, opaque=True)
    if template.type == "video" and template.codec_tag == "hvc1" and out.format.name in ("mp4", "mov"):
        stream.codec_tag = "hvc1"
    for key, value in template.metadata.items():
        if key.lower() not in _MUXER_TAGS and not key.upper().startswith("DURATION"):
            stream.metadata[key] = value
    return stream


def copy_labels(source, out, *, start: float, length: float) -> None:  # type: ignore[no-untyped-def]
    """Container metadata (title, creation time, ...) and the chapters overlapping ``[start, start + length]``
    (s, source clock; shifted so ``start`` is 0) from ``source`` to ``out``."""
    from fractions import Fraction

    for key, value in source.metadata.items():
        if key.lower() not in _MUXER_TAGS:
            out.metadata[key] = value
    if out.format.name not in _CHAPTERS:
        return
    chapters: list[dict[str, Any]] = []
    for chapter in source.chapters():
        tb = chapter["time_base"]
        begin = float(chapter["start"] * tb) - start
        end = float(chapter["end"] * tb) - start
        if end <= 0 or begin >= length:
            continue
        ms = Fraction(1, 1000)
        chapters.append(
            {
                "id": len(chapters) + 1,
                "start": int(round(max(0.0, begin) * 1000)),
                "end": int(round(min(length, end) * 1000)),
                "time_base": ms,
                "metadata": dict(chapter.get("metadata") or {}),
            }
        )
    if chapters:
        out.set_chapters(chapters)


def extra_streams(source, muxer: str) -> tuple[list, list[str]]:  # type: ignore[no-untyped-def, type-arg]
    """``(streams to carry, notes)``: every audio track after the first and every subtitle track of ``source``
    that a ``muxer`` file can hold as it is; a note names each one it cannot."""
    keep, dropped = [], []
    audio = list(source.streams.audio)
    for stream in audio[1:] + list(source.streams.subtitles):
        codec = codec_id_name(stream) if stream.codec_context is not None else "unknown"
        allowed = (_SUBTITLES if stream.type == "subtitle" else _EXTRA_AUDIO).get(muxer)
        if allowed is None or codec in allowed:
            keep.append(stream)
        else:
            label = stream.metadata.get("language") or stream.metadata.get("title") or f"#{stream.index}"
            dropped.append(f"{stream.type} track {label} ({codec})")
    notes = []
    if dropped:
        notes.append(
            f"A {muxer} file cannot hold {', '.join(dropped)} without converting it; dropped from the result. "
            "Ask for a .mkv output to keep every track."
        )
    return keep, notes


def has_faststart(path: Path) -> bool:
    """Whether an MP4/MOV file has its index (``moov``) before its media data (``mdat``): progressive playback."""
    try:
        with open(path, "rb") as handle:
            offset = 0
            for _ in range(64):
                handle.seek(offset)
                header = handle.read(16)
                if len(header) < 8:
                    return False
                size = int.from_bytes(header[:4], "big")
                kind = header[4:8]
                if kind == b"moov":
                    return True
                if kind == b"mdat":
                    return False
                if size == 1 and len(header) == 16:
                    size = int.from_bytes(header[8:16], "big")
                if size < 8:
                    return False
                offset += size
    except OSError:
        return False
    return False


def first_shown_time(container, video) -> Optional[float]:  # type: ignore[no-untyped-def]
    """The presentation time (s, file clock) of ``video``'s first decoded frame, or ``None``."""
    for frame in container.decode(video):
        if frame.time is not None:
            return float(frame.time)
    return None
