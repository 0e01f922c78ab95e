"""An editing timeline for the finished video, written with OpenTimelineIO and its adapter plugins (never by hand).

Contract of :func:`write_timeline`: one timeline, at the clip's frame rate, holding

* a video track ``Video`` with the ORIGINAL clip, its source range starting where the result starts on the clip's
  own clock (``source_start``) and as long as the result;
* one audio track per stem (``Bed``, ``Cues``, ``Original``, ``Mix``), each a clip of the stem WAV from 0, at
  record time 0 (the stems are aligned with the result by construction);
* a marker per seam or cue given (``markers``: seconds on the result's clock, with a name), on the video clip.

Media are referenced by absolute path, or relative to the timeline's folder (``relative=True``). Formats: ``otio``
(OpenTimelineIO JSON), ``fcpxml`` (Final Cut Pro X / DaVinci Resolve, ``otio-fcpx-xml-adapter``) and ``edl``
(CMX 3600, ``otio-cmx3600-adapter``, which writes the one video track: an EDL gets the video and its markers; the
stems stay beside it). Raises :class:`MediaError` when the adapter cannot write the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from alice_mcp.media.prepare import MediaError

#: timeline option -> (OTIO adapter name, file suffix)
FORMATS: dict[str, tuple[str, str]] = {
    "otio": ("otio_json", ".otio"),
    "fcpxml": ("fcpx_xml", ".fcpxml"),
    "edl": ("cmx_3600", ".edl"),
}
_TRACK_NAMES = {"bed": "Bed", "cues": "Cues", "original": "Original", "mix": "Mix"}


def timeline_suffix(fmt: str) -> str:
    """The file suffix of a timeline format (``.otio``, ``.fcpxml``, ``.edl``)."""
    return FORMATS[fmt][1]


def write_timeline(
    dest: Path,
    fmt: str,
    *,
    name: str,
    video: Path,
    source_start: float,
    length: float,
    fps: float,
    stems: dict[str, Path],
    markers: Sequence[tuple[float, str]] = (),
    relative: bool = False,
    reference_dir: Path | None = None,
    video_duration: float | None = None,
) -> Path:
    """Write the timeline to ``dest`` in ``fmt`` (see the module's contract). ``reference_dir`` is the folder
    relative references are taken from (default: ``dest``'s; pass the published folder when ``dest`` is a
    temporary name beside it)."""
    import opentimelineio as otio

    if fmt not in FORMATS:
        raise MediaError(f"Unknown timeline format {fmt!r}: use one of {', '.join(FORMATS)}.")
    adapter, _suffix = FORMATS[fmt]
    rate = round(fps, 3) if fps and fps > 0 else 25.0
    base = reference_dir or dest.parent

    def ref(path: Path) -> str:
        if relative:
            return Path(os.path.relpath(path, base)).as_posix()
        return path.resolve().as_uri()

    def span(start_s: float, seconds: float) -> otio.opentime.TimeRange:
        # whole frames: editors (and FCPXML) count in frames
        return otio.opentime.TimeRange(
            otio.opentime.RationalTime(round(start_s * rate), rate),
            otio.opentime.RationalTime(round(seconds * rate), rate),
        )

    timeline = otio.schema.Timeline(name=name)
    timeline.global_start_time = otio.opentime.RationalTime(0, rate)
    picture = otio.schema.Track(name="Video", kind=otio.schema.TrackKind.Video)
    clip = otio.schema.Clip(
        name=video.name,
        media_reference=otio.schema.ExternalReference(
            target_url=ref(video), available_range=span(0, max(video_duration or 0.0, source_start + length))
        ),
        source_range=span(source_start, length),
    )
    for at, label in markers:
        clip.markers.append(otio.schema.Marker(name=label, marked_range=span(source_start + at, 0)))
    picture.append(clip)
    timeline.tracks.append(picture)
    for key, path in stems.items() if fmt != "edl" else ():
        track = otio.schema.Track(name=_TRACK_NAMES.get(key, key.title()), kind=otio.schema.TrackKind.Audio)
        track.append(
            otio.schema.Clip(
                name=path.name,
                media_reference=otio.schema.ExternalReference(target_url=ref(path), available_range=span(0, length)),
                source_range=span(0, length),
            )
        )
        timeline.tracks.append(track)
    try:
        otio.adapters.write_to_file(timeline, str(dest), adapter_name=adapter)
    except Exception as exc:  # an adapter raises its own kinds; the caller gets one MediaError
        raise MediaError(f"Could not write the {fmt} timeline ({type(exc).__name__}: {exc}).") from exc
    return dest
