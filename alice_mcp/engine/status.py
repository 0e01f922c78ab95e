"""Ledger records → the models faces return. Pure: no I/O.

One record renders as a tool result (:func:`video_result`, :func:`audio_result`), a job status
(:func:`generation_status`) or a list line (:func:`generation_summary`), with live progress when the job runs here.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any, Optional

from alice_mcp.adapters.ledger import (
    CANCELLED,
    COMPLETED,
    COMPLETED_AT_FAL,
    FAILED,
    PENDING,
    RUNNING,
    SUBMIT_UNKNOWN,
    SUBMITTING,
    JobRecord,
)
from alice_mcp.data.money import usd
from alice_mcp.data.vocabulary import Vocabulary
from alice_mcp.engine.models import (
    AudioResult,
    GenerationStatus,
    GenerationSummary,
    MediaReport,
    SoundtrackPart,
    SoundtrackReport,
    SoundtrackSeam,
    VideoAudioResult,
    VideoResult,
)

if TYPE_CHECKING:
    from alice_mcp.jobs.manager import JobManager


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="seconds")


def _common(record: JobRecord, jobs: JobManager, started: float, cached: bool) -> dict[str, Any]:
    done = record.status == COMPLETED
    live = jobs.live_state(record.id)
    values: dict[str, Any] = {
        **record.settings,
        "job_id": record.id,
        "status": "completed" if done else "running",
        "cached": cached,
        "output_path": record.output_path if done else None,
        "request_id": record.request_id,
        "endpoint": record.endpoint,
        "preset": record.request.get("preset"),
        "cost_usd": 0.0 if cached else record.cost_usd,
        "elapsed_s": round(time.monotonic() - started, 3),
    }
    if not done:
        values["progress"] = live[0] if live else None
        values["message"] = running_message(record, live[2] if live else None, jobs.services.words)
    return values


def video_result(record: JobRecord, jobs: JobManager, started: float, *, cached: bool = False) -> VideoAudioResult:
    """An ``add_audio_to_video`` result: the saved file, or the running job (with what the media steps found)."""
    details = record.details
    notes = [
        *(details.get("notes") or (details.get("media_plan") or {}).get("notes") or []),
        *(details.get("job_notes") or []),
    ]
    return VideoAudioResult(
        **_common(record, jobs, started, cached),
        video_url=record.file_url,
        media=media_report(details),
        notes=list(notes),
        audio_path=details.get("audio_path") if record.status == COMPLETED else None,
        **((details.get("finishing") or {}) if record.status == COMPLETED else {}),
    )


def media_report(details: dict[str, Any]) -> MediaReport | None:
    """What the media steps found and did, from a job's recorded details (``None`` for jobs without a media plan)."""
    plan = details.get("media_plan")
    if not plan:
        return None
    return MediaReport(
        clip_duration=plan.get("clip_duration"),
        width=plan.get("width"),
        height=plan.get("height"),
        fps=plan.get("fps"),
        has_audio=bool(plan.get("has_audio")),
        segment_start=plan["start"],
        segment_end=plan["end"],
        upload_method=plan["upload_method"],
        uploaded_bytes=int(details.get("uploaded_bytes") or 0),
        original_audio=(details.get("pipeline_options") or {}).get("original_audio", "replace"),
    )


def audio_result(record: JobRecord, jobs: JobManager, started: float, *, cached: bool = False) -> AudioResult:
    """A ``generate_audio`` result: the saved file, or the running job."""
    return AudioResult(**_common(record, jobs, started, cached), audio_url=record.file_url)


def kling_video_result(record: JobRecord, jobs: JobManager, started: float) -> VideoResult:
    """A ``generate_video`` result: the saved video, or the running job."""
    return VideoResult(**_common(record, jobs, started, False), video_url=record.file_url)


def running_message(record: JobRecord, live_message: str | None, words: Vocabulary) -> str:
    """One sentence for the user about a job that is not finished yet, with next steps in the face's ``words``."""
    where = f" ({live_message})" if live_message else ""
    return (
        f"Still running{where}. The job continues in the background; {words.wait_for(record.id)} to wait for the "
        f"file (it is not paid again), or {words.cancel_job(record.id)} to stop it."
    )


def job_note(record: JobRecord) -> Optional[str]:
    """A fact the user must know about a job beyond its status: a cancel that came too late (the result is kept)."""
    details = record.details
    if details.get("late_cancel"):
        return str(details["late_cancel"])
    if record.active and details.get("cancel_asked_at"):
        if details.get("cancel_while_running") or record.status == COMPLETED_AT_FAL:
            return (
                "Cancel asked after fal had started the job: fal may still finish it, and then it is billed "
                f"({usd(record.cost_usd)}); if it does, the file is saved at {record.wanted_path}."
            )
        return "Cancel sent to fal while the job was queued; waiting for fal to confirm (a queued job is not billed)."
    return None


def status_message(record: JobRecord, live_message: str | None, words: Vocabulary) -> str:
    """What a job's status means and what to do next (in the face's ``words``)."""
    again = words.wait_for(record.id)
    note = job_note(record)
    if record.status == COMPLETED:
        return f"Completed: the file is at {record.output_path}." + (f" {note}" if note else "")
    if note is not None and record.active:
        return f"{note} It is followed to its end, never dropped; {again} to get the outcome (it is not paid again)."
    if record.status in (PENDING, SUBMITTING, RUNNING) and record.error and live_message is None:
        return f"Interrupted while running: {record.error} To resume it, {again}."
    if record.status in (PENDING, SUBMITTING, RUNNING):
        return running_message(record, live_message, words)
    if record.status == COMPLETED_AT_FAL:
        if record.error and live_message is None:
            return (
                f"fal finished the job, but saving the result failed: {record.error} To retry the download, "
                f"{again}; it is not generated or paid again."
            )
        if live_message is None:
            return f"fal finished the job; the file is not saved yet. To save it, {again}."
        return f"fal finished the job; saving the result ({live_message})."
    if record.status == FAILED:
        return f"Failed: {record.error}"
    if record.status == CANCELLED:
        return f"Cancelled: {record.error or 'on request'}"
    if record.status == SUBMIT_UNKNOWN:
        return f"Unknown whether fal accepted it: {record.error}"
    return record.status


def generation_status(record: JobRecord, jobs: JobManager) -> GenerationStatus:
    live = jobs.live_state(record.id)
    percent, stage, message = live if live else (None, None, None)
    if record.status == COMPLETED:
        percent = 100.0
    return GenerationStatus(
        job_id=record.id,
        status=record.status,
        message=status_message(record, message, jobs.services.words),
        tool=record.kind,  # type: ignore[arg-type]
        endpoint=record.endpoint,
        request_id=record.request_id,
        output_path=record.output_path,
        file_url=record.file_url,
        cost_usd=record.cost_usd,
        progress=percent,
        stage=stage,
        queue_position=record.queue_position if record.status == RUNNING else None,
        last_log=record.last_log,
        error=record.error,
        error_code=record.error_code,
        note=job_note(record),
        created_at=_iso(record.created_at),
        updated_at=_iso(record.updated_at),
        settings=record.settings,
        soundtrack=soundtrack_report(record),
    )


def generation_summary(record: JobRecord) -> GenerationSummary:
    prompt = record.settings.get("prompt")
    return GenerationSummary(
        job_id=record.id,
        status=record.status,
        tool=record.kind,
        created_at=_iso(record.created_at),  # type: ignore[arg-type]
        cost_usd=record.cost_usd,
        output_path=record.output_path,
        prompt=prompt[:80] if isinstance(prompt, str) else None,
        error=record.error,
        note=job_note(record),
    )


def soundtrack_report(record: JobRecord) -> Optional[SoundtrackReport]:
    """Where each window and cue of a soundtrack job sits, how its part went, and the seams (once measured)."""
    from alice_mcp.media.windows import SoundtrackPlan  # the media layer loads on first use, not at start-up

    details = record.details
    if "soundtrack" not in details:
        return None
    plan = SoundtrackPlan(**details["soundtrack"])
    entries = {p["key"]: p for p in details.get("parts", [])}
    part_jobs = details.get("part_jobs") or {}
    reused = details.get("reuse") or {}

    def entry(key: str, index: int, start: float, end: float, **extra: Any) -> SoundtrackPart:
        part = entries.get(key, {})
        ran = part_jobs.get(key) or {}
        status = ran.get("status") or ("done" if key in reused else "queued" if record.active else "failed")
        if status == "running" and not record.active:  # the soundtrack ended (or stopped) while this part ran
            status = "failed"
        return SoundtrackPart(
            index=index,
            start=start,
            end=end,
            prompt=(part.get("settings") or {}).get("prompt", ""),
            status=status,
            job_id=ran.get("job_id"),
            cost_usd=0.0 if key in reused else float(part.get("cost_usd", 0.0)),
            attempts=ran.get("attempt"),
            error=ran.get("error"),
            **extra,
        )

    measured = {s["index"]: s for s in details.get("seams", [])}
    return SoundtrackReport(
        start=plan.start,
        end=plan.end,
        windows=[entry(f"w{w.index}", w.index, w.start, w.end, segment=w.segment) for w in plan.windows],
        cues=[entry(f"c{c.index}", c.index, c.start, c.end, gain_db=c.gain_db) for c in plan.cues],
        seams=[
            SoundtrackSeam(
                index=s.index,
                at=s.at,
                kind=s.kind,
                fade_s=s.fade,
                step_db=measured.get(s.index, {}).get("step_db"),
                measure=measured.get(s.index, {}).get("measure"),
            )
            for s in plan.seams
        ],
        parts_done=int(details.get("parts_done", 0)),
        parts_total=int(details.get("parts_total", len(entries))),
        billed_seconds=plan.billed_seconds,
        overlap_seconds=plan.overlap_seconds,
        failed_spans=list(details.get("failed_spans", [])),
    )
