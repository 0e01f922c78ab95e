"""The media steps around a soundtrack of any length: plan it (before anything is paid), make each part's upload,
and assemble the result from the parts' audio (after they are done).

* :func:`plan_soundtrack_media` probes the local clip, checks the span and the timeline (cheap checks first: bad
  input fails before the clip is scanned), finds scene cuts and keyframes, and plans windows and cues
  (:mod:`alice_mcp.media.windows`). Nothing is uploaded or paid.
* :func:`part_upload_plan` says how the file fal looks at for one part is made: the part's own span of the clip,
  cut or proxied by the same rule as a single generation (:func:`alice_mcp.media.plan.choose_upload`). MMAudio
  reads a video from its first frame and takes no start offset, so each part needs its own file; each is at most
  the part's span, small. The files themselves come from one pass over the span (:mod:`alice_mcp.media.part_uploads`).
* :func:`finish_soundtrack` joins the parts' audio with equal-power crossfades, lays the cues over it, measures
  every seam, and puts the track onto the ORIGINAL video over the span (stream-copied video, as for one
  generation), published atomically.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import anyio

from alice_mcp.adapters.output_policy import partial_file, publish
from alice_mcp.adapters.sources import LocalVideo
from alice_mcp.data.params import PipelineOptions
from alice_mcp.data.progress import ProgressSink, notify
from alice_mcp.data.timeline import Cue, Segment, WindowLimits
from alice_mcp.media.pipeline import FinishedMedia, export_track, finish_mixdown, in_thread
from alice_mcp.media.plan import MediaPlan, choose_output, choose_upload, proxy_geometry
from alice_mcp.media.soundtrack import Assembly, CueAudio, WindowAudio
from alice_mcp.media.windows import SoundtrackPlan, check_span, check_timeline, plan_windows

log = logging.getLogger(__name__)
#: A part's proxy: short side ≤ 384 px, capped at 700 kbit/s. MMAudio looks at a video through 384 x 384 frames
#: (CLIP, 8 fps) and 224 x 224 frames (Synchformer, 25 fps): a 384-px short side keeps every row it samples (and
#: more columns than it keeps), and 700 kbit/s over 384p is as many bits per pixel as the single-generation
#: proxy's 1 Mbit/s over 480p (~0.11 bit per pixel at 24 fps). Smaller than a single generation's 480p proxy
#: because a soundtrack uploads its whole span plus the overlaps, and encoding 384p costs half as much.
PART_PROXY_SHORT_SIDE = 384
PART_PROXY_KBPS = 700
#: Scene cuts and keyframes of recently planned spans, by (path, size, mtime, start, end).
_SCANS: dict[tuple, tuple[list[float], list[float]]] = {}
_SCAN_MEMO_SIZE = 16


@dataclass
class SoundtrackMedia:
    """A planned soundtrack: the windows and cues, and the media plan of the whole span (the original's facts)."""

    plan: SoundtrackPlan
    media: MediaPlan
    scene_cuts: list[float] = field(default_factory=list)


async def plan_soundtrack_media(
    source: LocalVideo,
    options: PipelineOptions,
    limits: WindowLimits,
    *,
    end_time: Optional[float],
    max_seconds: float,
    segments: Sequence[Segment] = (),
    cues: Sequence[Cue] = (),
    wanted_suffix: Optional[str] = None,
    progress: ProgressSink | None = None,
) -> SoundtrackMedia:
    """Probe, check and plan a soundtrack of ``[options.start_time, end_time or the clip's end)``.

    Raises :class:`~alice_mcp.data.errors.InputError` (naming the field and its allowed range) before anything is
    uploaded or paid."""
    from alice_mcp.media.probe import probe_video
    from alice_mcp.media.scenes import detect_scene_cuts, keyframe_times

    path = source.path
    info = await anyio.to_thread.run_sync(probe_video, path)
    start, end = check_span(options.start_time, end_time, info.duration, max_seconds)
    check_timeline(start, end, segments, cues, limits)
    stat = path.stat()
    memo = (str(path), stat.st_size, stat.st_mtime_ns, start, end)
    if memo not in _SCANS:  # a quote and the call after it plan the same clip: scan it once
        await notify(progress, "checking", f"Looking for scene changes in {end - start:.0f} s of video")
        cuts = await in_thread(detect_scene_cuts, str(path), start, end, info.origin)
        keys = await anyio.to_thread.run_sync(keyframe_times, str(path), start, end, info.origin)
        while len(_SCANS) >= _SCAN_MEMO_SIZE:
            _SCANS.pop(next(iter(_SCANS)))
        _SCANS[memo] = (cuts, keys)
    cuts, keys = _SCANS[memo]
    plan = plan_windows(start, end, limits, segments=segments, cues=cues, scene_cuts=cuts, keyframes=keys)
    muxer, suffix, output_notes = choose_output(path, info.video_codec, wanted_suffix)
    keyframe = keys[0] if keys and keys[0] <= start + 1e-3 else await _keyframe(path, start, info.origin)
    media = MediaPlan(
        source=str(path),
        upload_method="proxy",
        start=start,
        end=end,
        keyframe=keyframe,
        duration=plan.billed_seconds,
        clip_duration=info.duration,
        width=info.width,
        height=info.height,
        fps=info.fps,
        has_audio=info.has_audio,
        origin=info.origin,
        output_format=muxer,
        output_suffix=suffix,
        notes=plan.notes + output_notes,
    )
    return SoundtrackMedia(plan, media, cuts)


async def _keyframe(path: Path, start: float, origin: float) -> float:
    from alice_mcp.media.prepare import keyframe_at_or_before

    return await anyio.to_thread.run_sync(keyframe_at_or_before, path, start, origin) if start > 0 else 0.0


def part_media_plan(whole: MediaPlan, start: float, end: float, keyframe: float, size_bytes: int) -> MediaPlan:
    """The media plan of one part (``[start, end)`` of the clip): the whole's facts, its own span and upload."""
    from alice_mcp.media.probe import VideoInfo

    info = VideoInfo(
        container="",
        duration=whole.clip_duration or end,
        width=whole.width or 2,
        height=whole.height or 2,
        fps=whole.fps,
        video_codec="",
        has_audio=whole.has_audio,
        size_bytes=size_bytes,
        origin=whole.origin,
    )
    method = choose_upload(info, start, end, keyframe, Path(whole.source).suffix)
    plan = whole.model_copy(
        update={
            "upload_method": method,
            "start": start,
            "end": end,
            "keyframe": keyframe,
            "duration": round(end - start, 3),
            "proxy_size": None,
            "proxy_fps": None,
            "proxy_kbps": None,
            "notes": [],
        }
    )
    return _part_proxy(plan) if method == "proxy" else plan


def _part_proxy(plan: MediaPlan) -> MediaPlan:
    """``plan`` made a proxy of the part's own span at the parts' proxy size and bitrate."""
    size, fps = proxy_geometry(plan.width or 2, plan.height or 2, plan.fps, PART_PROXY_SHORT_SIDE)
    return plan.model_copy(
        update={"upload_method": "proxy", "proxy_size": size, "proxy_fps": fps, "proxy_kbps": PART_PROXY_KBPS}
    )


def part_upload_plan(whole: MediaPlan, start: float, end: float) -> MediaPlan:
    """The media plan of the part ``[start, end)``: how its upload is made (a stream-copied cut when it starts on a
    keyframe and is small, else a proxy; never the whole original). Blocking (finds the keyframe before ``start``)."""
    from alice_mcp.media.prepare import keyframe_at_or_before

    original = Path(whole.source)
    keyframe = keyframe_at_or_before(original, start, whole.origin) if start else 0.0
    plan = part_media_plan(whole, start, end, keyframe, original.stat().st_size)
    if plan.upload_method == "as_is" and (start > 1e-3 or (whole.clip_duration or end) > end + 0.05):
        plan = _part_proxy(plan)  # fal must see only the part's span
    return plan


@dataclass
class FinishedSoundtrack:
    """The published video (and exported track), the seam report, and notes for the user."""

    path: Path
    assembly: Assembly
    audio_path: Optional[Path] = None
    notes: list[str] = field(default_factory=list)
    finishing: dict = field(default_factory=dict)  # the finished mix's facts (loudness, stems, timeline), if asked


async def finish_soundtrack(
    whole: MediaPlan,
    options: PipelineOptions,
    plan: SoundtrackPlan,
    window_files: Sequence[Optional[Path]],
    cue_files: Sequence[Optional[Path]],
    work: Path,
    wanted: Path,
    progress: ProgressSink | None,
    keep: Optional[Path] = None,
) -> FinishedSoundtrack:
    """Join the parts' audio (``None``: a part that failed; silence there) over the span, lay the cues, measure the
    seams, and publish the original video with that track at ``wanted`` (suffix from the media plan).

    The finished mix applies to the joined track as to one generation's (:func:`alice_mcp.media.pipeline.finish_media`):
    ``original_audio=duck``, a ``loudness`` target (two passes, measured again on the saved file), ``stems`` and a
    ``timeline`` (with a marker at every seam and cue).

    If the joined track cannot be put onto the video and saved (a full disk, an unreadable original), no partial
    file is left in the output folder, the joined track is copied into ``keep`` (when given) and
    :class:`SoundtrackNotSaved` is raised naming it."""
    from alice_mcp.media.finish import mux_generated_audio
    from alice_mcp.media.mixdown import Mixdown
    from alice_mcp.media.soundtrack import assemble_soundtrack

    await notify(progress, "finishing", f"Joining {len(plan.windows)} windows and {len(plan.cues)} cues", 0.1)
    windows = [
        WindowAudio(path, w.start, w.end, w.fade_in, w.fade_out)
        for w, path in zip(plan.windows, window_files, strict=True)
    ]
    cues = [CueAudio(path, c.start, c.end, c.gain_db) for c, path in zip(plan.cues, cue_files, strict=True)]
    track = work / "soundtrack.m4a"  # AAC: copied onto the video as it is, in sync
    mixdown = Mixdown(options, work / "mixdown") if Mixdown.wanted(options) else None
    if mixdown is not None and cues:  # a finished mix keeps the cues as a stem of their own
        mixdown.cues = work / "cues-layer.wav"
    assembly = await in_thread(
        assemble_soundtrack,
        windows,
        cues,
        plan.start,
        plan.end,
        track,
        [s.at for s in plan.seams],
        cues_dest=mixdown.cues if mixdown is not None else None,
    )
    await notify(progress, "finishing", "Putting the soundtrack onto the original video", 0.6)
    target = wanted.with_suffix(whole.output_suffix)
    notes = list(assembly.notes)
    try:
        with partial_file(target.parent, whole.output_suffix) as temp:
            notes += await in_thread(
                mux_generated_audio, Path(whole.source), whole, track, temp, options, mixdown=mixdown
            )
            final = publish(temp, target)
    except Exception as exc:
        if isinstance(exc, (anyio.get_cancelled_exc_class(), KeyboardInterrupt)):
            raise
        layers = [track] + ([mixdown.cues] if mixdown is not None and mixdown.cues is not None else [])
        raise SoundtrackNotSaved(exc, _kept_copies(layers, keep)) from exc
    generated = track
    if mixdown is not None and mixdown.cues is not None and options.audio_format != "none":
        from alice_mcp.media.mixdown import sum_to_wav  # the exported track is the bed with its cues

        generated = await anyio.to_thread.run_sync(
            sum_to_wav, [track, mixdown.cues], work / "generated.wav", plan.end - plan.start
        )
    audio_path = await export_track(generated, final, options, plan.end - plan.start, notes)
    finished = FinishedMedia(final, audio_path, notes)
    if mixdown is not None:
        try:
            await finish_mixdown(mixdown, whole, options, finished, progress, soundtrack_markers(whole, plan))
        except Exception as exc:  # noqa: BLE001 - the video is saved and paid for: an extra that fails is a note
            if isinstance(exc, (anyio.get_cancelled_exc_class(), KeyboardInterrupt)):
                raise
            log.exception("finishing extras failed after the soundtrack was saved")
            notes.append(f"The video is saved, but its loudness report, stems or timeline failed ({exc}).")
    return FinishedSoundtrack(final, assembly, audio_path, notes, finished.finishing())


class SoundtrackNotSaved(Exception):
    """The joined soundtrack could not be put onto the video and saved: ``cause``, and where the joined track (and
    its cues layer, when the cues were kept apart for a finished mix) were kept (empty if they could not be)."""

    def __init__(self, cause: BaseException, kept: list[Path]) -> None:
        super().__init__(str(cause))
        self.cause, self.kept = cause, kept

    @property
    def reason(self) -> str:
        cause = self.cause
        message = getattr(cause, "message", None)
        if isinstance(message, str):
            return message
        if isinstance(cause, OSError):
            return cause.strerror or str(cause)
        return f"{type(cause).__name__}: {cause}"


def _kept_copies(layers: list[Path], keep: Optional[Path]) -> list[Path]:
    """``layers`` (the joined track, maybe its cues layer) copied into the folder ``keep`` as
    ``joined-soundtrack.m4a``, ``joined-cues.wav`` (none when not asked, or when that fails too)."""
    import shutil

    kept: list[Path] = []
    if keep is None:
        return kept
    for layer, name in zip(layers, ("joined-soundtrack", "joined-cues"), strict=False):
        try:
            keep.mkdir(parents=True, exist_ok=True)
            kept.append(Path(shutil.copyfile(layer, keep / f"{name}{layer.suffix}")))
        except OSError:
            log.warning("could not keep %s in %s", layer.name, keep)
    return kept


def soundtrack_markers(whole: MediaPlan, plan: SoundtrackPlan) -> list[tuple[float, str]]:
    """A timeline marker at every seam and cue, in seconds on the result (whose time 0 is the span's start, or
    the keyframe before it for containers without an edit list)."""
    t0 = whole.start if whole.output_format in ("mp4", "mov") else whole.keyframe
    marks = [(round(s.at - t0, 3), f"seam {s.index} ({s.kind})") for s in plan.seams]
    marks += [(round(c.start - t0, 3), f"cue {c.index}") for c in plan.cues]
    return sorted(marks)
