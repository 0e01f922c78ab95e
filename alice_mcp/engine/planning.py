"""The steps every recipe plans a job with, before anything is uploaded or paid.

Settings are resolved (table defaults <- preset <- quality tier <- explicit values), the read policy is narrowed by
the client's roots, the result's path is chosen inside a writable output folder, and the job's plan is made: its
cost from the price table, the input's fingerprint, and its cache key when the request is deterministic.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ValidationError

from alice_mcp.adapters.ledger import JobRecord
from alice_mcp.adapters.output_policy import ensure_output_dir, target_path
from alice_mcp.adapters.read_policy import ReadPolicy
from alice_mcp.adapters.settings import Settings
from alice_mcp.adapters.sources import LocalVideo, RemoteVideo
from alice_mcp.data import params
from alice_mcp.data.endpoints import Endpoint
from alice_mcp.data.errors import AliceError, InputError
from alice_mcp.data.presets import preset_finishing, preset_values
from alice_mcp.data.progress import megabytes, notify
from alice_mcp.data.vocabulary import Vocabulary
from alice_mcp.engine import reuse
from alice_mcp.jobs.manager import JobManager
from alice_mcp.jobs.state import JobContext, JobPlan, Work


@dataclass(frozen=True)
class PreparedJob:
    """A checked, planned job that nothing was paid for yet: the plan, its work, and a cached result if one exists."""

    plan: JobPlan
    work: Work
    cached: Optional[JobRecord]


def resolve_settings(preset: str | None, values: dict, quality: str | None, words: Vocabulary) -> params.AudioSettings:
    """Table defaults <- preset <- quality tier <- explicit values, validated; a seed is drawn when none is given.
    Raises :class:`InputError` in plain words."""
    try:
        settings = params.settings_from(values, {**preset_values(preset), **params.quality_values(quality)})
    except ValidationError as exc:
        if any(err.get("loc") == ("prompt",) and err.get("type") == "missing" for err in exc.errors()):
            raise InputError(f"Give a `prompt` describing the sound, or a `preset` ({words.list_presets}).") from None
        raise InputError(params.describe_validation_error(exc)) from None
    if settings.seed is None:
        settings = settings.model_copy(update={"seed": params.draw_seed()})
    return settings


def pipeline_options(values: dict, preset: str | None = None) -> params.PipelineOptions:
    """The media options of a video request over its preset's (e.g. ``narration-bed`` ducks), validated; raises
    :class:`InputError` in plain words."""
    try:
        return params.pipeline_options_from(values, preset_finishing(preset))
    except ValidationError as exc:
        raise InputError(params.describe_validation_error(exc)) from None


def read_policy(settings: Settings, roots: list[str] | None = None) -> ReadPolicy:
    """Where this call may read local files: the operator's policy narrowed by the client's MCP ``roots``."""
    try:
        output_dir: Path | None = settings.resolved_output_dir()
    except AliceError:
        output_dir = None
    return ReadPolicy.from_settings(settings, output_dir).with_root_uris(roots)


def output_root(settings: Settings) -> Path:
    """The output folder, resolved (symlinks included)."""
    return Path(os.path.realpath(settings.resolved_output_dir()))


def output_target(settings: Settings, output_path: str | None, default_name: str) -> Path:
    """The wanted result path in a writable output folder; fails before anything is paid."""
    out_dir = ensure_output_dir(settings.resolved_output_dir())
    return target_path(out_dir, output_path, default_name)


async def plan_job(
    jobs: JobManager,
    kind: str,
    endpoint: Endpoint,
    request: BaseModel,
    settings: BaseModel,
    wanted: Path,
    cost_usd: float,
    source: LocalVideo | RemoteVideo | None = None,
    details: dict | None = None,
    *,
    cacheable: bool = True,
) -> JobPlan:
    """The job to record: cost, input fingerprint (content digest of a local file) and, when the request has an
    explicit seed and ``cacheable``, its cache key (the whole request model, so fields added later count)."""
    fingerprint: Optional[str] = None
    if isinstance(source, LocalVideo):
        fingerprint = await reuse.file_digest(source.path, await jobs.ledger())
    elif isinstance(source, RemoteVideo):
        fingerprint = "url:" + source.url
    data = request.model_dump(mode="json")
    explicit_seed = (data.get("values") or {}).get("seed") is not None
    key = None
    if cacheable and explicit_seed:
        key = reuse.cache_key(kind, endpoint.id, data, settings.model_dump(), fingerprint)
    return JobPlan(kind, endpoint, data, settings.model_dump(), wanted, cost_usd, fingerprint, key, details or {})


async def upload_file(path: Path, job: JobContext) -> str:
    """fal's URL for a local file: the earlier upload of the same content while it is valid, else a new one."""
    size = path.stat().st_size
    services = job.services

    async def announce() -> None:  # only when bytes really go up: a reused upload is not "Uploading ..."
        await notify(job.progress, "uploading", f"Uploading {path.name} ({megabytes(size)})", 0.0)

    url, reused = await reuse.upload_deduped(
        services.gateway(), await job.ledger(), path, services.settings.upload_ttl, announce
    )
    await job.add_details(uploaded_url=url, upload_reused=reused, uploaded_bytes=0 if reused else size)
    done = (
        f"Reused the earlier upload of {path.name} ({megabytes(size)} not sent again)"
        if reused
        else f"Uploaded {megabytes(size)}"
    )
    await notify(job.progress, "uploading", done, 1.0)
    return url
