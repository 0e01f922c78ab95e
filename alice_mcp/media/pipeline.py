"""The media steps around a paid job: know the clip and plan (before upload), make the upload file, assemble the
result (after download). The core calls :func:`plan_media`, :func:`prepare_upload` and :func:`finish_media` at
one place each; everything blocking runs in worker threads and stops when the caller is cancelled.

Temporary files live in a per-job work folder under the data dir (or the system temp dir), never in the output
folder, and are always removed. Results reach the output folder only through :mod:`alice_mcp.adapters.output_policy` (hidden
temporary file, atomic publish, never overwriting).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence, TypeVar

import anyio

from alice_mcp.adapters import scratch
from alice_mcp.adapters.output_policy import partial_file, publish
from alice_mcp.adapters.settings import Settings
from alice_mcp.adapters.sources import LocalVideo, RemoteVideo
from alice_mcp.data.errors import AliceError, InputError
from alice_mcp.data.params import PipelineOptions
from alice_mcp.data.progress import ProgressSink, notify
from alice_mcp.media.plan import MediaPlan, choose_duration, choose_output, choose_upload, proxy_geometry
from alice_mcp.media.probe import VideoInfo

if TYPE_CHECKING:
    from alice_mcp.media.mixdown import Mixdown

log = logging.getLogger(__name__)
T = TypeVar("T")
_UPLOAD_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}


@dataclass
class FinishedMedia:
    """What the finish step produced: the result video, the exported track (if asked), notes for the user, and what
    a mixdown added (:func:`finish_mixdown`): the loudness measured on the saved file, the stems, the timeline."""

    path: Path
    audio_path: Optional[Path] = None
    notes: list[str] = field(default_factory=list)
    loudness: Optional[dict[str, Any]] = None
    stems: dict[str, str] = field(default_factory=dict)
    timeline_path: Optional[Path] = None

    def finishing(self) -> dict[str, Any]:
        """The mixdown's facts as plain data for the job's record (empty when there was no mixdown)."""
        facts: dict[str, Any] = {}
        if self.loudness is not None:
            facts["loudness"] = self.loudness
        if self.stems:
            facts["stems"] = dict(self.stems)
        if self.timeline_path is not None:
            facts["timeline_path"] = str(self.timeline_path)
        return facts


async def in_thread(fn: Callable[..., T], *args, **kwargs) -> T:  # type: ignore[no-untyped-def]
    """Run blocking media work in a worker thread; if the caller is cancelled, tell it to stop (``stop=`` event)."""
    stop = threading.Event()
    try:
        return await anyio.to_thread.run_sync(partial(fn, *args, stop=stop, **kwargs), abandon_on_cancel=True)
    finally:
        stop.set()


_CLEANED: set[str] = set()


def clean_stale_workspaces(base: Path) -> list[Path]:
    """Remove work folders a crashed process left in ``base``: ``job-<pid>-…`` folders whose process is gone on
    this machine, and older unnamed ``job-…`` folders not touched for a day. Returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith("job-") or not entry.is_dir() or entry.is_symlink():
            continue
        owner = entry.name.split("-")[1] if entry.name.count("-") >= 2 else ""
        try:
            if owner.isdigit():
                if _process_alive(int(owner)):
                    continue
            elif time.time() - entry.stat().st_mtime < 86400:
                continue
        except OSError:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    if removed:
        log.info("removed %d work folder(s) left by an earlier run", len(removed))
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def work_base(settings: Settings) -> Path:
    """The folder work folders live in; crash leftovers are cleaned there once per process."""
    base = settings.resolved_data_dir() / "work"
    base.mkdir(parents=True, exist_ok=True)
    if str(base) not in _CLEANED:
        _CLEANED.add(str(base))
        clean_stale_workspaces(base)
    return base


@contextlib.contextmanager
def workspace(settings: Settings) -> Iterator[Path]:
    """A private work folder for one job (under ``ALICE_DATA_DIR``/work, else the system temp dir); removed on exit.
    Its name carries this process's id so a later start-up can tell a crash's leftovers from a live job's."""
    try:
        base = work_base(settings)
        folder = Path(tempfile.mkdtemp(prefix=f"job-{os.getpid()}-", dir=base))
    except OSError:
        folder = Path(tempfile.mkdtemp(prefix="alice-mcp-job-"))
    with scratch.writing():
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)


async def plan_media(
    source: LocalVideo | RemoteVideo,
    options: PipelineOptions,
    *,
    requested_duration: Optional[float],
    default_duration: float,
    wanted_suffix: Optional[str] = None,
) -> MediaPlan:
    """Probe the clip (local: fully; URL: its header, bounded) and decide segment, duration and upload method.

    Raises :class:`InputError` before anything is uploaded or paid when the clip is not a usable video or the
    segment is impossible.
    """
    if isinstance(source, RemoteVideo):
        return await _plan_remote(source, options, requested_duration, default_duration)
    from alice_mcp.media.prepare import segment_anchor
    from alice_mcp.media.probe import probe_video

    path = source.path
    info = await anyio.to_thread.run_sync(probe_video, path)
    if options.start_time >= info.duration - 0.01:
        choose_duration(info.duration, options.start_time, requested_duration, default_duration)  # raises
    # the segment starts on the first frame shown at or after start_time: the result and the model then begin
    # with the same picture (a start between two frames would put the audio up to a frame off)
    keyframe, start = await anyio.to_thread.run_sync(segment_anchor, path, options.start_time, info.origin)
    if options.start_time <= 0:
        start = 0.0
    end, billed, notes = choose_duration(info.duration, start, requested_duration, default_duration)
    method = choose_upload(info, start, end, keyframe, path.suffix)
    muxer, suffix, output_notes = choose_output(path, info.video_codec, wanted_suffix)
    size, fps = proxy_geometry(info.width, info.height, info.fps)
    return MediaPlan(
        source=str(path),
        upload_method=method,
        start=start,
        end=end,
        keyframe=keyframe,
        duration=billed,
        clip_duration=info.duration,
        width=info.width,
        height=info.height,
        fps=info.fps,
        has_audio=info.has_audio,
        origin=info.origin,
        proxy_size=size if method == "proxy" else None,
        proxy_fps=fps if method == "proxy" else None,
        output_format=muxer,
        output_suffix=suffix,
        notes=notes + output_notes,
    )


async def _plan_remote(
    source: RemoteVideo, options: PipelineOptions, requested: Optional[float], default: float
) -> MediaPlan:
    from alice_mcp.media.remote_probe import probe_url

    if options.start_time > 0:
        raise InputError(
            "start_time needs a local file: fal reads a URL from its beginning and alice-mcp does not download whole "
            "videos. Download the clip and pass its local path, or leave start_time at 0.",
            code="bad_segment",
        )
    finishing = [
        f"`{name}`" for name in ("loudness", "stems", "timeline") if getattr(options, name) not in ("none", False)
    ]
    if finishing:
        raise InputError(
            f"{', '.join(finishing)} need a local file: for a URL fal's video is saved as it is, and alice-mcp does "
            "not download whole videos. Download the clip and pass its local path, or leave these out."
        )
    info: Optional[VideoInfo]
    info, reason = await anyio.to_thread.run_sync(probe_url, source.url)
    end, billed, notes = choose_duration(info.duration if info else None, 0.0, requested, default)
    if info is None:
        notes.insert(
            0, f"The URL's video could not be probed ({reason}); used duration {billed:g} s. Pass `duration` to set it."
        )
    if options.original_audio in ("mix", "duck"):
        notes.append(
            f"original_audio={options.original_audio} needs a local file (the clip's own sound is not downloaded); the result has "
            "only the generated audio."
        )
    return MediaPlan(
        source=source.url,
        upload_method="url",
        start=0.0,
        end=end,
        keyframe=0.0,
        duration=billed,
        clip_duration=info.duration if info else None,
        width=info.width if info else None,
        height=info.height if info else None,
        fps=info.fps if info else None,
        has_audio=bool(info and info.has_audio),
        output_format="mp4",
        output_suffix=".mp4",
        notes=notes,
    )


async def prepare_upload(plan: MediaPlan, work: Path, progress: ProgressSink | None) -> Path:
    """The file to upload for ``plan``: the original (``as_is``), a stream-copied cut, or a proxy, made in ``work``.

    A cut that FFmpeg cannot write falls back to a proxy (and ``plan.upload_method`` says so).
    """
    from alice_mcp.media.prepare import MediaError, write_cut, write_proxy

    original = Path(plan.source)
    if plan.upload_method == "as_is":  # a private copy of the checked file: what is uploaded is what was checked
        from alice_mcp.adapters.input_files import private_copy

        return await in_thread(_copy_for_upload, private_copy, original, work / original.name)
    segment = f"{plan.start:.2f}-{plan.end:.2f} s"
    if plan.upload_method == "cut":
        dest = work / f"{original.stem[:40]}-segment{original.suffix.lower()}"
        await notify(progress, "uploading", f"Cutting {segment} (stream copy, no re-encoding)", 0.0)
        try:
            await in_thread(write_cut, original, plan, dest, _UPLOAD_MUXERS[original.suffix.lower()])
            return dest
        except MediaError as exc:
            log.info("stream-copy cut failed, making a proxy instead: %s", exc)
            dest.unlink(missing_ok=True)
            plan.upload_method = "proxy"
            size, fps = proxy_geometry(plan.width or 2, plan.height or 2, plan.fps)
            plan.proxy_size, plan.proxy_fps = size, fps
    dest = work / f"{original.stem[:40]}-proxy.mp4"
    width, height = plan.proxy_size or (0, 0)
    await notify(progress, "uploading", f"Making a {min(width, height)}p copy of {segment} for the model", 0.0)
    await in_thread(write_proxy, original, plan, dest)
    return dest


def _copy_for_upload(copy, original: Path, dest: Path, *, stop: threading.Event) -> Path:  # type: ignore[no-untyped-def]
    return copy(original, dest)


async def finish_media(
    plan: MediaPlan,
    options: PipelineOptions,
    generated: Path,
    wanted: Path,
    progress: ProgressSink | None,
) -> FinishedMedia:
    """Assemble the result in the output folder from the original video and fal's audio; export the track alone if
    asked. If assembling fails, fal's own file is saved instead (a paid result is never lost) and a note says so.
    """
    from alice_mcp.media.finish import mux_generated_audio
    from alice_mcp.media.mixdown import Mixdown

    notes: list[str] = []
    target = wanted.with_suffix(plan.output_suffix)
    mixdown = Mixdown(options, generated.parent / "mixdown") if Mixdown.wanted(options) else None
    await notify(progress, "finishing", "Putting the generated audio onto the original video", 0.2)
    try:
        with partial_file(target.parent, plan.output_suffix) as temp:
            notes += await in_thread(
                mux_generated_audio, Path(plan.source), plan, generated, temp, options, mixdown=mixdown
            )
            final = publish(temp, target)
    except Exception as exc:  # noqa: BLE001 - fal has billed: whatever went wrong, its file is still delivered
        if isinstance(exc, (anyio.get_cancelled_exc_class(), KeyboardInterrupt)):
            raise
        final = await anyio.to_thread.run_sync(copy_into_output, generated, wanted.with_suffix(generated.suffix))
        notes.append(fallback_note(exc, Path(plan.source)))
        if mixdown is not None:
            notes.append("So there is no ducking, loudness normalisation, stems or timeline either.")
            mixdown = None
    audio_path = await export_track(generated, final, options, plan.end - plan.start, notes)
    finished = FinishedMedia(final, audio_path, notes)
    if mixdown is not None:
        try:
            await finish_mixdown(mixdown, plan, options, finished, progress)
        except Exception as exc:  # noqa: BLE001 - the video is saved and paid for: an extra that fails is a note
            if isinstance(exc, (anyio.get_cancelled_exc_class(), KeyboardInterrupt)):
                raise
            log.exception("finishing extras failed after the video was saved")
            notes.append(f"The video is saved, but its loudness report, stems or timeline failed ({exc}).")
    return finished


async def finish_mixdown(
    mixdown: Mixdown,
    plan: MediaPlan,
    options: PipelineOptions,
    finished: FinishedMedia,
    progress: ProgressSink | None,
    markers: Sequence[tuple[float, str]] = (),
) -> None:
    """After the result is saved: measure its loudness (on the saved file), publish the stems and the timeline next
    to it (with ``markers``: ``(seconds on the result, name)``, e.g. a soundtrack's seams and cues), and put what was
    done into ``finished`` (its notes say it in words). Nothing here can lose the video: a stem or timeline that
    cannot be written becomes a note."""
    from alice_mcp.data.params import loudness_target
    from alice_mcp.media.mixdown import STEM_ORDER, measure_loudness
    from alice_mcp.media.prepare import MediaError

    final, notes = finished.path, finished.notes
    notes += mixdown.notes
    await notify(progress, "finishing", "Measuring the loudness of the saved file", 0.7)
    try:
        measured = await anyio.to_thread.run_sync(measure_loudness, final)
    except MediaError as exc:
        notes.append(f"The loudness of the saved file could not be measured ({exc.message}).")
    else:
        target = loudness_target(options.loudness)
        finished.loudness = {**measured.as_dict(), "measured_on": str(final)}
        sentence = f"Loudness of the saved file (measured, EBU R128): {measured.sentence()}"
        if target is not None:
            name, lufs, peak = target
            finished.loudness.update(target=name, target_lufs=lufs, target_true_peak_dbtp=peak)
            if mixdown.premaster is not None:
                finished.loudness["premaster_lufs"] = round(mixdown.premaster.integrated_lufs, 2)
            sentence += f"; target {name}: {lufs:g} LUFS, {peak:g} dBTP"
            if abs(measured.integrated_lufs - lufs) > 1.0 or measured.true_peak_dbtp > peak + 0.05:
                sentence += " - NOT met (too short or too dynamic a mix for one gain; see the measured figures)"
        notes.append(sentence + ".")
    published: dict[str, Path] = {}
    if options.stems or options.timeline != "none":
        for name in STEM_ORDER:
            source = mixdown.stems.get(name)
            if source is None:
                continue
            try:
                published[name] = await anyio.to_thread.run_sync(
                    copy_into_output, source, final.with_name(f"{final.stem}.{name}.wav")
                )
            except (OSError, AliceError) as exc:  # the video is saved: a stem that cannot be is a note
                notes.append(f"The {name} stem could not be saved ({exc}).")
        finished.stems = {name: str(path) for name, path in published.items()}
        if not options.stems:
            notes.append("The timeline refers to the stems, so they were saved too.")
        if "original" not in published and options.original_audio == "replace":
            notes.append("original_audio=replace: the clip's own sound is not in the mix, so it has no stem.")
    if options.timeline != "none":
        finished.timeline_path = await _write_timeline(final, plan, options, published, notes, markers)


async def _write_timeline(
    final: Path,
    plan: MediaPlan,
    options: PipelineOptions,
    stems: dict[str, Path],
    notes: list[str],
    markers: Sequence[tuple[float, str]] = (),
) -> Optional[Path]:
    """Publish the editing timeline next to ``final``; a failure is a note (the video and stems are kept)."""
    from alice_mcp.media.prepare import MediaError
    from alice_mcp.media.timeline import timeline_suffix, write_timeline

    suffix = timeline_suffix(options.timeline)
    # the result's time 0 on the clip's clock: the segment start (MP4/MOV edit list) or the keyframe before it
    source_start = plan.start if plan.output_format in ("mp4", "mov") else plan.keyframe
    try:
        with partial_file(final.parent, suffix) as temp:
            await anyio.to_thread.run_sync(
                partial(
                    write_timeline,
                    temp,
                    options.timeline,
                    name=final.stem,
                    video=Path(plan.source),
                    source_start=source_start,
                    length=plan.end - source_start,
                    fps=plan.fps or 25.0,
                    stems=stems,
                    markers=markers,
                    relative=options.timeline_paths == "relative",
                    reference_dir=final.parent,
                    video_duration=plan.clip_duration,
                )
            )
            if options.timeline == "edl":
                notes.append("An EDL (CMX 3600) holds the video track only; the stems are beside it as WAV files.")
            return publish(temp, final.with_suffix(suffix))
    except MediaError as exc:
        notes.append(f"The {options.timeline} timeline could not be written ({exc.message}); the video is fine.")
        return None


def fallback_note(exc: BaseException, original: Path) -> str:
    """Why the result is fal's own file (its video re-encoded by fal) and what the user can do; logs the cause
    (an unexpected exception as a bug, with its traceback)."""
    from alice_mcp.data.errors import AliceError

    if isinstance(exc, OSError) and not isinstance(exc, AliceError):
        log.warning("assembling the result failed (%s); saving fal's file instead", exc)
        reason = f"the disk or the original file failed ({exc.strerror or exc})"
        advice = "Free some disk space or check that the original is readable, then run the job again"
    elif isinstance(exc, AliceError):
        log.warning("assembling the result failed; saving fal's file instead: %s", exc.message)
        reason = exc.message
        advice = f"To keep {original.name}'s own video quality, convert it to H.264 MP4 and run the job again"
    else:
        log.error("bug while assembling the result; saving fal's file instead", exc_info=exc)
        reason = f"an internal error ({type(exc).__name__}: {exc}); this is a bug in alice-mcp, logged to stderr"
        advice = "Please report it; converting the original to H.264 MP4 usually avoids it"
    return (
        f"Could not put the audio onto the original video ({reason}); saved fal's version instead (its picture "
        f"re-encoded by fal; nothing is lost and nothing was paid twice). {advice}."
    )


async def export_track(
    generated: Path, final: Path, options: PipelineOptions, length: Optional[float], notes: list[str]
) -> Optional[Path]:
    """Write the generated track alone next to ``final`` when ``options.audio_format`` asks for it."""
    from alice_mcp.media.finish import export_audio
    from alice_mcp.media.prepare import MediaError

    if options.audio_format == "none":
        return None
    suffix = "." + options.audio_format
    try:
        with partial_file(final.parent, suffix) as temp:
            await in_thread(export_audio, generated, temp, options.audio_format, length)
            return publish(temp, final.with_suffix(suffix))
    except Exception as exc:  # noqa: BLE001 - the video is delivered whatever happens to the extra export
        if isinstance(exc, (anyio.get_cancelled_exc_class(), KeyboardInterrupt)):
            raise
        if not isinstance(exc, (MediaError, OSError)):
            log.error("bug while exporting the generated track", exc_info=exc)
        reason = exc.message if isinstance(exc, MediaError) else f"{type(exc).__name__}: {exc}"
        notes.append(f"The {options.audio_format} export failed ({reason}); the video itself is fine.")
        return None


def copy_into_output(source: Path, wanted: Path) -> Path:
    """Copy a file from the work folder into the output folder (hidden temp + atomic publish)."""
    with partial_file(wanted.parent, wanted.suffix) as temp:
        shutil.copyfile(source, temp)
        return publish(temp, wanted)
