"""The generation core: one flow shared by every face (MCP tools, CLI, Python API).

``add_audio_to_video``: check the request → resolve the input → upload a local file → submit to fal's queue →
follow the job → fetch the result → download it atomically into the output folder. The core knows nothing of MCP,
argparse or terminals; it reports through a :data:`~alice_mcp.progress.ProgressSink` and raises
:class:`~alice_mcp.errors.AliceError` for anything the user can act on.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import anyio
from pydantic import ValidationError

from . import params
from .config import Settings
from .endpoints import MMAUDIO_TEXT, MMAUDIO_VIDEO, Endpoint
from .errors import ConfigError, FalError, FalJobFailed, InputError
from .media_plan import MediaPlan
from .models import AudioRequest, AudioResult, CostEstimate, MediaReport, VideoAudioRequest, VideoAudioResult
from .outputs import ensure_output_dir, partial_file, publish, safe_stem, target_path
from .pipeline import FinishedMedia, export_track, finish_media, plan_media, prepare_upload, workspace
from .presets import preset_values
from .pricing import PriceTable, parse_overrides
from .progress import Progress, ProgressSink, notify
from .sources import LocalVideo, RemoteVideo, resolve_video

if TYPE_CHECKING:  # fal_client loads on the first paid call, not at start-up
    from .fal import FalGateway

log = logging.getLogger(__name__)

# Polls start fast (short jobs finish without waiting a whole interval) and back off to ALICE_POLL_INTERVAL_S.
FIRST_POLL_INTERVAL_S = 0.05


@dataclass(frozen=True)
class FinishedJob:
    """A fal job whose output file was saved: fal's request id, fal's URL of the file, our local path."""

    request_id: str
    file_url: str
    path: Path


class AliceCore:
    """Runs generations for one operator configuration. Cheap to create: no network until a job runs."""

    def __init__(self, settings: Settings, *, gateway: FalGateway | None = None) -> None:
        self.settings = settings
        self.prices = PriceTable(parse_overrides(settings.price_overrides))
        self._gateway = gateway

    def gateway(self) -> FalGateway:
        """The fal gateway, created on first use; :class:`ConfigError` when ``FAL_KEY`` is missing."""
        if self._gateway is None:
            from .fal import FalGateway

            self._gateway = FalGateway(
                self.settings.require_fal_key(),
                http_timeout_s=self.settings.http_timeout_s,
                upload_ttl=self.settings.upload_ttl,
            )
        return self._gateway

    async def aclose(self) -> None:
        if self._gateway is not None:
            await self._gateway.aclose()
            self._gateway = None

    # ----------------------------------------------------------------------------------------------- settings
    def resolve_settings(self, preset: str | None, values: dict, quality: str | None = None) -> params.AudioSettings:
        """Table defaults ← preset ← quality tier ← explicit values, validated; a seed is drawn when none is given."""
        try:
            settings = params.settings_from(values, {**preset_values(preset), **params.quality_values(quality)})
        except ValidationError as exc:
            if any(err.get("loc") == ("prompt",) and err.get("type") == "missing" for err in exc.errors()):
                raise InputError("Give a `prompt` describing the sound, or a `preset` (see list_audio_presets).") from None
            raise InputError(params.describe_validation_error(exc)) from None
        if settings.seed is None:
            settings = settings.model_copy(update={"seed": params.draw_seed()})
        return settings

    # ------------------------------------------------------------------------------------------------ estimate
    async def estimate_cost(
        self, *, duration: float | None, video: str | None, count: int, start_time: float = 0.0
    ) -> CostEstimate:
        """What ``count`` generations will cost, from ``duration`` or the length of ``video`` from ``start_time``."""
        endpoint = MMAUDIO_VIDEO
        notes: list[str] = []
        if duration is None and video:
            duration, more = await self._duration_of(video, start_time)
            notes += more
        if duration is None:
            duration = params.AudioSettings.model_fields["duration"].default
            notes.append(f"No duration or video given: assumed the default {duration:g} s.")
        rule = self.prices.rule(endpoint.id)
        total = self.prices.cost(endpoint.id, duration, count)
        formula = rule.formula(duration) + (f" x {count} generations" if count != 1 else "") + f" = ${total:g}"
        return CostEstimate(
            usd=total, endpoint=endpoint.id, duration=duration, count=count, formula=formula,
            price_source=rule.source, notes=notes,
        )

    async def _duration_of(self, video: str, start_time: float = 0.0) -> tuple[float | None, list[str]]:
        """Seconds of audio a generation for a local ``video`` would bill: the same rule add_audio_to_video uses.
        A URL is not fetched here (estimates stay offline)."""
        source = resolve_video(video)
        if isinstance(source, RemoteVideo):
            return None, ["The length of a URL video is not probed for estimates; pass `duration` for an exact figure."]
        options = self._pipeline_options({"start_time": start_time})
        default = params.AudioSettings.model_fields["duration"].default
        plan = await plan_media(source, options, requested_duration=None, default_duration=default)
        clip = f"The clip is {plan.clip_duration:.2f} s long. " if plan.clip_duration is not None else ""
        return plan.duration, [clip.strip()] + plan.notes if clip else plan.notes

    # ---------------------------------------------------------------------------------------------- generation
    async def add_audio_to_video(self, request: VideoAudioRequest, progress: ProgressSink | None = None) -> VideoAudioResult:
        """Run one paid MMAudio video-to-video job end to end. Raises :class:`AliceError`.

        Before upload: probe the clip and plan the segment (:func:`~alice_mcp.pipeline.plan_media`), make the upload
        file (:func:`~alice_mcp.pipeline.prepare_upload`). After download: put fal's audio onto the original video
        (:func:`~alice_mcp.pipeline.finish_media`).
        """
        started = time.monotonic()
        endpoint = MMAUDIO_VIDEO
        await notify(progress, "checking", "Checking the request")
        options = self._pipeline_options(request.options)
        settings = self.resolve_settings(request.preset, request.values, options.quality)
        source = resolve_video(request.video)
        await notify(progress, "checking", "Probing the clip")
        plan = await plan_media(
            source, options, requested_duration=request.values.get("duration"),
            default_duration=settings.duration, wanted_suffix=Path(request.output_path).suffix if request.output_path else None,
        )
        settings = settings.model_copy(update={"duration": plan.duration})
        default_name = f"{safe_stem(_source_stem(source))}-{safe_stem(request.preset or 'audio')}-seed{settings.seed}{plan.output_suffix}"
        wanted = self.output_target(request.output_path, default_name)
        gateway = self.gateway()

        with workspace(self.settings) as work:
            uploaded = 0
            if isinstance(source, LocalVideo):
                upload = await prepare_upload(plan, work, progress)
                uploaded = upload.stat().st_size
                await notify(progress, "uploading", f"Uploading {upload.name} ({_mb(uploaded)})", 0.5)
                video_url = await gateway.upload_file(upload)
                await notify(progress, "uploading", f"Uploaded {_mb(uploaded)}", 1.0)
            else:
                video_url = source.url
            payload = params.fal_payload(settings, video_url=video_url)
            if isinstance(source, LocalVideo):
                done = await self.run_job(endpoint, payload, work / f"fal-result{endpoint.suffix}", _until_done(progress))
                finished = await finish_media(plan, options, done.path, wanted, progress)
            else:
                done = await self.run_job(endpoint, payload, wanted, _until_done(progress))
                finished = FinishedMedia(done.path)
                finished.audio_path = await export_track(done.path, done.path, options, None, finished.notes)
        await notify(progress, "done", f"Saved {finished.path}", 1.0)
        return VideoAudioResult(
            output_path=str(finished.path), video_url=done.file_url, request_id=done.request_id, endpoint=endpoint.id,
            preset=request.preset, cost_usd=self.prices.cost(endpoint.id, settings.duration),
            elapsed_s=round(time.monotonic() - started, 3), **settings.model_dump(),
            media=media_report(plan, options, uploaded), notes=plan.notes + finished.notes,
            audio_path=str(finished.audio_path) if finished.audio_path else None,
        )

    def _pipeline_options(self, values: dict) -> params.PipelineOptions:
        try:
            return params.pipeline_options_from(values)
        except ValidationError as exc:
            raise InputError(params.describe_validation_error(exc)) from None

    async def generate_audio(self, request: AudioRequest, progress: ProgressSink | None = None) -> AudioResult:
        """Run one paid MMAudio text-to-audio job; the FLAC lands in the output folder. Raises :class:`AliceError`."""
        started = time.monotonic()
        endpoint = MMAUDIO_TEXT
        await notify(progress, "checking", "Checking the request")
        settings = self.resolve_settings(request.preset, request.values, request.quality)
        default_name = f"{safe_stem(request.preset or settings.prompt[:40], 'audio')}-seed{settings.seed}{endpoint.suffix}"
        wanted = self.output_target(request.output_path, default_name)
        self.gateway()
        done = await self.run_job(endpoint, params.fal_payload(settings), wanted, progress)
        return AudioResult(
            output_path=str(done.path), audio_url=done.file_url, request_id=done.request_id, endpoint=endpoint.id,
            preset=request.preset, cost_usd=self.prices.cost(endpoint.id, settings.duration),
            elapsed_s=round(time.monotonic() - started, 3), **settings.model_dump(),
        )

    def output_target(self, output_path: str | None, default_name: str) -> Path:
        """The wanted result path in a writable output folder; fails before anything is paid."""
        out_dir = ensure_output_dir(self.settings.resolved_output_dir())
        return target_path(out_dir, output_path, default_name)

    async def run_job(self, endpoint: Endpoint, payload: dict, wanted: Path, progress: ProgressSink | None) -> FinishedJob:
        """Submit ``payload`` to ``endpoint`` once, follow the job, download its output file next to ``wanted``."""
        request_id = await self.gateway().submit(endpoint.id, payload)
        log.info("submitted %s request %s (%s s)", endpoint.id, request_id, payload.get("duration"))
        await self.follow_job(endpoint, request_id, progress)
        file_url = await self.fetch_output_url(endpoint, request_id)
        final = await self.download_result(file_url, wanted, request_id, progress)
        await notify(progress, "done", f"Saved {final}", 1.0)
        return FinishedJob(request_id=request_id, file_url=file_url, path=final)

    async def follow_job(self, endpoint: Endpoint, request_id: str, progress: ProgressSink | None) -> None:
        """Poll fal until the job completes; raise :class:`FalJobFailed` if it completed with an error.

        If the caller is cancelled meanwhile, the fal job is cancelled too (shielded) before re-raising.
        """
        started = time.monotonic()
        seen_logs = 0
        interval = FIRST_POLL_INTERVAL_S
        try:
            while True:
                status = await self.gateway().status(endpoint.id, request_id)
                if status.state == "queued":
                    await notify(progress, "queued", f"Queued at fal (position {status.position})", 0.0)
                elif status.state == "running":
                    message = status.logs[-1] if len(status.logs) > seen_logs and status.logs[-1] else "Generating audio"
                    seen_logs = len(status.logs)
                    fraction = 1.0 - math.exp(-(time.monotonic() - started) / 20.0)
                    await notify(progress, "generating", message, fraction)
                else:
                    if status.error:
                        kind = f" ({status.error_type})" if status.error_type else ""
                        raise FalJobFailed(
                            f"fal finished request {request_id} with an error{kind}: {status.error}", request_id=request_id
                        )
                    await notify(progress, "generating", "Generation finished", 1.0)
                    return
                await asyncio.sleep(interval)
                interval = min(interval * 1.5, self.settings.poll_interval_s)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self.cancel_quietly(endpoint, request_id)
            raise

    async def cancel_quietly(self, endpoint: Endpoint, request_id: str) -> None:
        """Cancel a fal job, logging (not raising) a failure: used on the way out of a cancelled call."""
        try:
            with anyio.fail_after(10):
                await self.gateway().cancel(endpoint.id, request_id)
            log.info("cancelled fal request %s", request_id)
        except (FalError, TimeoutError, ConfigError) as exc:
            log.warning("could not cancel fal request %s: %s", request_id, exc)

    async def fetch_output_url(self, endpoint: Endpoint, request_id: str) -> str:
        """The URL of the finished job's output file."""
        output = await self.gateway().result(endpoint.id, request_id)
        file = output.get(endpoint.output_key)
        if not isinstance(file, dict) or not isinstance(file.get("url"), str):
            raise FalError(
                f"fal's result for request {request_id} has no {endpoint.output_key} URL: {str(output)[:200]}",
                request_id=request_id,
            )
        return file["url"]

    async def download_result(self, url: str, wanted: Path, request_id: str, progress: ProgressSink | None) -> Path:
        """Download ``url`` next to ``wanted`` under a hidden temporary name, then publish it atomically."""

        async def on_bytes(done: int, total: int | None) -> None:
            fraction = done / total if total else None
            await notify(progress, "downloading", f"Downloading the result ({_mb(done)})", fraction)

        with partial_file(wanted.parent, wanted.suffix) as temp:
            try:
                await self.gateway().download(url, temp, on_bytes)
            except FalError as exc:
                exc.request_id = request_id
                raise type(exc)(
                    f"fal finished request {request_id}, but {exc.message[0].lower()}{exc.message[1:]} "
                    f"The result is still at fal: {url}",
                    request_id=request_id,
                ) from exc
            await notify(progress, "finishing", "Saving the file", 0.5)
            return publish(temp, wanted)


def _until_done(progress: ProgressSink | None) -> ProgressSink | None:
    """``progress`` without the "done" event: the media pipeline still has work after the download."""
    if progress is None:
        return None

    async def sink(event: Progress) -> None:
        if event.stage != "done":
            await progress(event)

    return sink


def media_report(plan: MediaPlan, options: params.PipelineOptions, uploaded: int) -> MediaReport:
    return MediaReport(
        clip_duration=plan.clip_duration, width=plan.width, height=plan.height, fps=plan.fps, has_audio=plan.has_audio,
        segment_start=plan.start, segment_end=plan.end, upload_method=plan.upload_method, uploaded_bytes=uploaded,
        original_audio=options.original_audio,
    )


def _source_stem(source: LocalVideo | RemoteVideo) -> str:
    if isinstance(source, LocalVideo):
        return source.path.stem
    return PurePosixPath(urlsplit(source.url).path).stem or "video"


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
