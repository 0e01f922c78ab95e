"""A soundtrack of any length: one job whose parts (windows and cues) are ordinary jobs of a video-to-audio model.

Planning (nothing paid): the clip is probed, the span and the timeline are checked, scene cuts and keyframes are
found, and the span is planned as windows of the model's best length plus one short part per cue
(:mod:`alice_mcp.media.windows`). The whole is quoted as the sum of its parts (the overlap overhead shown), and the
spend limits and the user's approval apply to that whole, once.

The job (kind ``soundtrack``) records the plan in the ledger. Its work starts every part as a job of its own (kind
``soundtrack_part``, ``details.parent`` = the soundtrack's id), concurrently within ``ALICE_MAX_CONCURRENT_JOBS``
(each part holds a fal slot only while at fal), waits for them, retries a failed part once, and then joins the
parts' audio onto the original video (:mod:`alice_mcp.media.soundtrack_pipeline`). A part that failed twice leaves
silence in its span and a note naming it.

Resuming (after a restart, even SIGKILL): the same work runs again from the ledger. A part fal has (running or
finished) is followed, never re-submitted; a finished part's downloaded audio is reused; a part that never reached
fal is started again (nothing was paid for it); a part whose submit may have reached fal is not re-sent.

Regenerating: :meth:`SoundtrackRecipe.regenerate` starts new jobs for the chosen windows only (paying for those
alone), then joins again and publishes a new file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import anyio
from pydantic import ValidationError

from alice_mcp.adapters.ledger import COMPLETED, FAILED, PENDING
from alice_mcp.adapters.output_policy import output_name
from alice_mcp.adapters.sources import LocalVideo, resolve_video
from alice_mcp.data import params
from alice_mcp.data.errors import InputError, OutputError
from alice_mcp.data.foley_spec import FoleyModel
from alice_mcp.data.presets import preset_values
from alice_mcp.data.progress import ProgressSink, notify
from alice_mcp.data.timeline import WindowLimits, window_limits
from alice_mcp.engine import planning
from alice_mcp.engine.models import VideoAudioRequest, VideoAudioResult
from alice_mcp.engine.planning import PreparedJob
from alice_mcp.engine.recipes.base import Recipe
from alice_mcp.engine.recipes.foley import TakeSettings, common_values, own_options
from alice_mcp.engine.status import soundtrack_report, video_result
from alice_mcp.engine.takes import whole_formula
from alice_mcp.jobs.lifecycle import submit_and_finish
from alice_mcp.jobs.state import JobContext, JobPlan

if TYPE_CHECKING:
    from alice_mcp.adapters.ledger import JobRecord
    from alice_mcp.engine.recipes.video_to_audio import VideoToAudioRecipe
    from alice_mcp.jobs.manager import JobManager
    from alice_mcp.jobs.services import JobServices
    from alice_mcp.media.part_uploads import PartSpan, PartUploads
    from alice_mcp.media.soundtrack_pipeline import SoundtrackMedia
    from alice_mcp.media.windows import SoundtrackPlan

PART_KIND = "soundtrack_part"
#: Attempts per part: a failed part is retried once.
PART_ATTEMPTS = 2


#: Decoders of the original running at once, per process: a soundtrack's one pass over its span holds one, a part
#: made alone (a cut, or an upload the pass did not make) holds one while it is made (each decoder holds a few
#: full-size frames; more than the machine's cores only adds memory).
MEDIA_SLOTS = 2
_MEDIA_LIMITERS: dict[int, anyio.CapacityLimiter] = {}


def _media_slots() -> anyio.CapacityLimiter:
    """This event loop's limiter on concurrent part uploads being made."""
    import asyncio

    loop = id(asyncio.get_running_loop())
    if loop not in _MEDIA_LIMITERS:
        _MEDIA_LIMITERS.clear()  # an earlier loop's limiter cannot be used on this one
        _MEDIA_LIMITERS[loop] = anyio.CapacityLimiter(MEDIA_SLOTS)
    return _MEDIA_LIMITERS[loop]


@dataclass(frozen=True)
class _Planned:
    """A soundtrack checked and planned: options, the call's settings, the clip, windows and cues, parts, cost."""

    options: params.PipelineOptions
    base: params.AudioSettings
    source: LocalVideo
    media: SoundtrackMedia
    parts: list[dict[str, Any]]
    cost: float


def part_outcome(record: JobRecord, path: Optional[Path]) -> dict[str, Any]:
    """How a part ended, as the soundtrack's ``part_jobs`` records it: its last job, status, attempts and error."""
    return {
        "job_id": record.id,
        "status": "done" if path else "failed",
        "attempt": int(record.details.get("attempt") or 1),
        "error": None if path else (record.error or f"the part's job is {record.status}"),
    }


class SoundtrackRecipe(Recipe):
    """Soundtracks of any length made of ``video_recipe``'s windows. ``spec`` is that model as data: its clip limits
    size the windows, and its own parameter model makes each part's payload (under the model's own field names)."""

    kind = "soundtrack"

    def __init__(self, video_recipe: VideoToAudioRecipe, spec: FoleyModel) -> None:
        super().__init__(video_recipe.endpoint)
        self.video = video_recipe
        self.spec = spec

    # ---------------------------------------------------------------------------------------------- planning
    def limits(self) -> WindowLimits:
        """The model's window limits (its per-call clip limits and the length it does best on)."""
        lim = self.spec.limits
        return window_limits(self.endpoint.id, seconds=(lim.min_seconds, lim.max_seconds))

    @property
    def own_fields(self) -> bool:
        """Whether the model's fal fields differ from MMAudio's table (its parts carry their own ``fal`` payload)."""
        return self.spec.params is not params.AudioSettings

    @staticmethod
    def timeline_of(request: VideoAudioRequest) -> params.TimelineOptions:
        """The request's timeline, validated; :class:`InputError` naming the field."""
        try:
            return params.TimelineOptions(**{k: v for k, v in request.timeline.items() if v is not None})
        except ValidationError as exc:
            raise InputError(params.describe_validation_error(exc, params.TimelineOptions)) from None

    async def wanted_for(self, services: JobServices, request: VideoAudioRequest) -> bool:
        """Whether ``request`` is a soundtrack of many windows: no ``duration``, and a timeline (``end_time``,
        ``segments``, ``cues``) or a local clip longer than one window (or than 30 s) from ``start_time``."""
        timeline = self.timeline_of(request)
        laid_out = timeline.end_time is not None or bool(timeline.segments) or bool(timeline.cues)
        if request.values.get("duration") is not None:
            if laid_out:
                raise InputError(
                    "`duration` asks for ONE window of 1-30 s; `end_time`, `segments` and `cues` lay out a soundtrack "
                    "of any length. Pass one or the other."
                )
            return False
        if laid_out:
            return True
        source = resolve_video(request.video, planning.read_policy(services.settings, request.roots))
        if not isinstance(source, LocalVideo):
            return False
        from alice_mcp.media.probe import probe_video

        info = await anyio.to_thread.run_sync(probe_video, source.path)
        start = float(request.options.get("start_time") or 0.0)
        # one call without `duration` covers at most MAX_DURATION_S (the table's range): a longer clip is a
        # soundtrack even for a model whose window is longer (it may be one window of that model)
        return info.duration - start > min(self.limits().max_s, params.MAX_DURATION_S) + 0.01

    async def _planned(
        self, services: JobServices, request: VideoAudioRequest, progress: ProgressSink | None
    ) -> _Planned:
        """Check the request, probe and scan the clip, plan windows and cues and price every part (nothing paid)."""
        from alice_mcp.media.soundtrack_pipeline import plan_soundtrack_media  # media loads on first use

        await notify(progress, "checking", "Checking the request")
        options = planning.pipeline_options(request.options, request.preset)
        timeline = self.timeline_of(request)
        segments, cues = timeline.segments or [], timeline.cues or []
        base = self._base_settings(request, options, segments, services)
        source = resolve_video(request.video, planning.read_policy(services.settings, request.roots))
        if not isinstance(source, LocalVideo):
            raise InputError(
                "A soundtrack longer than one window (or with end_time, segments or cues) needs a local file: each "
                "window is cut from the clip. Download the video and pass its path, or pass `duration` (1-30 s).",
                code="bad_segment",
            )
        sm = await plan_soundtrack_media(
            source,
            options,
            self.limits(),
            end_time=timeline.end_time,
            max_seconds=services.settings.max_soundtrack_seconds,
            segments=segments,
            cues=cues,
            wanted_suffix=Path(request.output_path).suffix if request.output_path else None,
            progress=progress,
        )
        parts = self._parts(sm.plan, base, segments, cues, request, services)
        if self.own_fields:
            parts = [self._with_model_fields(p, segments, request, options, services) for p in parts]
        return _Planned(options, base, source, sm, parts, round(sum(p["cost_usd"] for p in parts), 6))

    async def quote(self, services: JobServices, request: VideoAudioRequest) -> tuple[float, float]:
        """``(seconds billed, USD)`` of the whole soundtrack, every window and cue: exactly what its job will cost."""
        layout, cost = await self.estimate(services, request)
        return layout.billed_seconds, cost

    async def estimate(self, services: JobServices, request: VideoAudioRequest) -> tuple[SoundtrackPlan, float]:
        """The planned windows and cues of the whole soundtrack, and what it costs (nothing paid)."""
        planned = await self._planned(services, request, None)
        return planned.media.plan, planned.cost

    async def prepare(
        self,
        services: JobServices,
        jobs: JobManager,
        request: VideoAudioRequest,
        progress: ProgressSink | None = None,
        *,
        force: bool = False,
    ) -> PreparedJob:
        """Check the request, probe and scan the clip, plan windows and cues and quote the whole; nothing is paid."""
        planned = await self._planned(services, request, progress)
        options, base, source, sm, parts, cost = (
            planned.options,
            planned.base,
            planned.source,
            planned.media,
            planned.parts,
            planned.cost,
        )
        settings_env = services.settings
        settings: params.AudioSettings | TakeSettings = base.model_copy(update={"duration": sm.plan.billed_seconds})
        if self.own_fields:  # what the ledger and results show: the common view, under this model's name
            settings = TakeSettings(
                model=self.spec.alias,
                prompt=base.prompt,
                duration=sm.plan.billed_seconds,
                seed=parts[0]["settings"]["seed"],
                fal=parts[0]["fal"],
            )
        seed = settings.seed
        default_name = output_name(
            source.path.stem or "video",
            request.preset or "soundtrack",
            self.spec.alias if self.own_fields else "",
            f"seed{seed}" if seed is not None else "",
            suffix=sm.media.output_suffix,
        )
        wanted = planning.output_target(settings_env, request.output_path, default_name)
        services.gateway()  # a missing FAL_KEY fails here, before anything is uploaded
        notes = list(sm.media.notes)
        notes.append(
            f"{len(sm.plan.windows)} windows and {len(sm.plan.cues)} cues: {sm.plan.billed_seconds:g} s billed for "
            f"{sm.plan.end - sm.plan.start:g} s of video, of which {sm.plan.overlap_seconds:g} s is window overlap."
        )
        notes += self._model_notes(parts)
        formula = None  # how the whole adds up, when the model's price rule is not per second of the whole
        if self.own_fields:
            formula = whole_formula([(self.spec.alias, 1, len(sm.plan.windows), len(sm.plan.cues), cost)])
        plan = await planning.plan_job(
            jobs,
            self.kind,
            self.endpoint,
            request,
            settings,
            wanted,
            cost,
            source,
            details={
                "soundtrack": sm.plan.model_dump(mode="json"),
                "media_plan": sm.media.model_dump(mode="json"),
                "pipeline_options": options.model_dump(mode="json"),
                "parts": parts,
                "scene_cuts": sm.scene_cuts,
                "notes": notes,
                "cost_formula": formula,
            },
        )
        cached = None if force else await jobs.cached(plan, planning.output_root(settings_env))
        return PreparedJob(plan, self.run, cached)

    def _base_settings(
        self,
        request: VideoAudioRequest,
        options: params.PipelineOptions,
        segments: list[params.Segment],
        services: JobServices,
    ) -> params.AudioSettings:
        """The call's own settings (duration filled in per part); a prompt may be left out when segments say it."""
        values = {k: v for k, v in request.values.items() if k != "duration"}
        if not self.own_fields:  # MMAudio's own controls are fields of its table (its model_options checked first)
            values.update(own_options(self.spec, request) or {})
        try:
            return planning.resolve_settings(request.preset, values, options.quality, services.words)
        except InputError:
            if request.preset or values.get("prompt") or not segments:
                raise
            described = all(s.prompt or s.preset for s in segments)
            if not described:
                raise
            # every span with a description of its own: gaps (if any) fall back to the first segment's
            first = segments[0]
            fallback = {"prompt": first.prompt} if first.prompt else {}
            return planning.resolve_settings(first.preset, {**values, **fallback}, options.quality, services.words)

    def _parts(
        self,
        plan: SoundtrackPlan,
        base: params.AudioSettings,
        segments: list[params.Segment],
        cues: list[params.Cue],
        request: VideoAudioRequest,
        services: JobServices,
    ) -> list[dict[str, Any]]:
        """One entry per window and cue: its key, span, settings (prompt from its segment; the same seed for every
        window, a seed of its own per cue) and cost."""
        explicit = {k: v for k, v in request.values.items() if v is not None and k not in ("duration", "prompt")}
        if not self.own_fields:
            explicit.update(own_options(self.spec, request) or {})
        parts: list[dict[str, Any]] = []
        for window in plan.windows:
            settings = base
            if window.segment is not None:
                seg = segments[window.segment]
                merged = {**base.model_dump(), **preset_values(seg.preset), **explicit}
                if seg.prompt:
                    merged["prompt"] = seg.prompt
                if seg.negative_prompt is not None:
                    merged["negative_prompt"] = seg.negative_prompt
                settings = params.AudioSettings(**merged)
            settings = settings.model_copy(update={"duration": window.duration})
            parts.append(self._part("w", window.index, window.start, window.end, settings, services))
        for cue, placed in zip(cues, plan.cues, strict=True):
            seed = ((base.seed or 0) + 1 + placed.index) % (params.SEED_MAX + 1)
            settings = base.model_copy(
                update={"prompt": cue.prompt, "negative_prompt": "", "seed": seed, "duration": placed.duration}
            )
            parts.append(self._part("c", placed.index, placed.start, placed.end, settings, services))
        return parts

    def _part(
        self, kind: str, index: int, start: float, end: float, settings: params.AudioSettings, services: JobServices
    ) -> dict[str, Any]:
        return {
            "key": f"{kind}{index}",
            "kind": "window" if kind == "w" else "cue",
            "index": index,
            "start": start,
            "end": end,
            "settings": settings.model_dump(mode="json"),
            "cost_usd": services.prices.cost(self.endpoint.id, settings.duration),
        }

    def _with_model_fields(
        self,
        part: dict[str, Any],
        segments: list[params.Segment],
        request: VideoAudioRequest,
        options: params.PipelineOptions,
        services: JobServices,
    ) -> dict[str, Any]:
        """``part`` (planned with MMAudio's table) made a call of this model: its own fal fields (``fal``), the
        common view of them (``settings``) and its price by the model's own rule. Everything the model cannot do
        is an :class:`InputError` naming the part, raised before anything is paid."""
        spec, view = self.spec, part["settings"]
        name = f"{part['kind']} {part['index']} ({part['start']:g}-{part['end']:g} s)"
        if spec.duration_field is None:  # the model reads the whole clip it is sent: the part's span
            try:
                spec.check_clip(part["end"] - part["start"])
            except InputError as exc:
                raise InputError(f"{name}: {exc.message}") from None
        common = common_values(spec, request, options.quality)
        common.pop("duration", None)
        if "prompt" in spec.common:
            common["prompt"] = view["prompt"]
        segment = next((s for s in segments if s.start <= part["start"] + 1e-6 < s.end), None)
        if part["kind"] == "window" and segment is not None and segment.negative_prompt is not None:
            if "negative_prompt" not in spec.common:
                raise InputError(
                    f"`segments`: {spec.alias} has no `negative_prompt` control; leave it out of the segment "
                    f"({segment.start:g}-{segment.end:g} s), or pick a model that takes one (see list_models)."
                )
            common["negative_prompt"] = segment.negative_prompt
        if part["kind"] == "cue":
            common.pop("negative_prompt", None)
        if spec.seed_range is not None:
            low, high = spec.seed_range
            seed = int(view["seed"])
            explicit = request.values.get("seed") is not None and part["kind"] == "window"
            common["seed"] = seed if explicit else low + (seed - low) % (high - low + 1)  # a drawn seed, in range
        own = own_options(spec, request)
        if own and "segments" in own:
            raise InputError(
                f"model_options `segments` of {spec.alias} is relative to one call; a soundtrack lays out its spans "
                "with the soundtrack's own `segments` (start, end, prompt)."
            )
        fal = spec.settings(common, own, seconds=view["duration"])
        samples = spec.samples(fal)
        return {
            **part,
            "settings": {
                "model": spec.alias,
                "prompt": str(getattr(fal, spec.common["prompt"], "") or "") if "prompt" in spec.common else "",
                "seed": spec.seed_of(fal),
                "duration": view["duration"],
            },
            "fal": fal.model_dump(mode="json", exclude_none=True),
            "samples": samples,
            "cost_usd": services.prices.cost(
                self.endpoint.id, spec.billed_seconds(fal, view["duration"]), samples=samples
            ),
        }

    def _model_notes(self, parts: list[dict[str, Any]]) -> list[str]:
        """What a model's parts do that the user should know (the extra samples it pays for)."""
        samples = max((int(p.get("samples") or 1) for p in parts), default=1)
        if samples <= 1:
            return []
        return [
            f"{self.spec.alias} returns {samples} samples per call, each priced; the soundtrack uses the first of "
            "each part."
        ]

    def part_payload(self, part: dict[str, Any], video_url: str) -> dict[str, Any]:
        """The fal payload of one part, sent with its uploaded span at ``video_url``: the model's own fields."""
        if "fal" in part:
            return self.spec.payload(self.spec.params(**part["fal"]), video_url)
        return self.video.payload(params.AudioSettings(**part["settings"]), video_url)

    async def regenerate(
        self, services: JobServices, jobs: JobManager, job_id: str, selectors: list[int | float | str]
    ) -> PreparedJob:
        """A new soundtrack job that redoes only the chosen windows (index, or a time like ``"12.5s"``) of finished
        soundtrack ``job_id`` and keeps every other part's audio: it costs those windows alone."""
        from alice_mcp.media.windows import SoundtrackPlan

        old = await jobs.get(job_id)
        if old.kind != self.kind or "soundtrack" not in old.details:
            raise InputError(f"Job {job_id} is not a soundtrack of many windows; only those can regenerate windows.")
        if old.status != COMPLETED:
            raise InputError(
                f"Soundtrack {job_id} is {old.status}; regenerate windows once it is completed "
                f"({services.words.wait_for(job_id)})."
            )
        if not selectors:
            raise InputError("`regenerate`: name at least one window (its index, or a time like '12.5s').")
        plan = SoundtrackPlan(**old.details["soundtrack"])
        redo = sorted({plan.window_at(selector).index for selector in selectors})
        keys = {f"w{i}" for i in redo}
        files = old.details.get("part_files") or {}
        parts = old.details["parts"]
        cost = round(sum(p["cost_usd"] for p in parts if p["key"] in keys), 6)
        seconds = round(sum(p["settings"]["duration"] for p in parts if p["key"] in keys), 3)
        kept = {"soundtrack", "media_plan", "pipeline_options", "parts", "scene_cuts", "notes"}
        details = {k: v for k, v in old.details.items() if k in kept}
        details.update(
            reuse={p["key"]: files[p["key"]] for p in parts if p["key"] not in keys and p["key"] in files},
            regenerated_from=old.id,
            regenerated_windows=redo,
        )
        details["notes"] = [n for n in details.get("notes", []) if not n.startswith("Failed:")] + [
            f"Regenerated window(s) {', '.join(map(str, redo))} of soundtrack {old.id}; every other part was kept "
            "(not paid again)."
        ]
        services.gateway()  # a missing FAL_KEY fails here, before anything is paid
        plan_job = JobPlan(
            self.kind,
            self.endpoint,
            {**old.request, "regenerate": redo, "regenerated_from": old.id},
            {**old.settings, "duration": seconds},
            Path(old.wanted_path),
            cost,
            old.input_fingerprint,
            None,
            details,
        )
        return PreparedJob(plan_job, self.run, None)

    # ------------------------------------------------------------------------------------------------- running
    async def run(self, job: JobContext) -> None:
        """The soundtrack's work (first run and resume alike): every part to its end, then the join."""
        details = job.record.details
        parts = details["parts"]
        results: dict[str, Optional[Path]] = {}
        done = 0
        total = len(parts)
        await job.add_details(parts_done=0, parts_total=total)

        limiter = anyio.CapacityLimiter(job.services.settings.max_concurrent_jobs)
        part_jobs: dict[str, dict[str, Any]] = dict(details.get("part_jobs") or {})

        async def one(part: dict[str, Any], uploads: PartUploads) -> None:
            nonlocal done
            async with limiter:  # at most ALICE_MAX_CONCURRENT_JOBS parts in flight, uploads included
                await self._mark_part(job, part_jobs, part["key"], status="running")
                record, path = await self._run_part(job, part, uploads)
            uploads.discard(part["key"])
            results[part["key"]] = path
            done += 1
            if record is not None:
                part_jobs[part["key"]] = part_outcome(record, path)
            await job.add_details(parts_done=done, part_jobs=part_jobs)
            await notify(
                job.progress,
                "generating",
                f"{done} of {total} parts done ({part['key']}: {part['start']:g}-{part['end']:g} s)",
                done / total,
            )

        reuse = details.get("reuse") or {}
        todo = []
        for part in parts:
            if part["key"] in reuse:  # a regenerated soundtrack keeps the parts it does not redo
                results[part["key"]] = Path(reuse[part["key"]]) if Path(reuse[part["key"]]).is_file() else None
                done += 1
            else:
                todo.append(part)
        await notify(job.progress, "generating", f"{done} of {total} parts done", done / max(1, total))
        # the uploads of the parts still to send, made in one pass over their span while the parts run
        from alice_mcp.media.part_uploads import PartUploads
        from alice_mcp.media.pipeline import workspace
        from alice_mcp.media.plan import MediaPlan

        sending = await self._needing_upload(job, todo)
        whole = MediaPlan(**details["media_plan"])
        with workspace(job.services.settings) as folder:
            uploads = PartUploads(whole, sending, folder, _media_slots())
            async with anyio.create_task_group() as tg:
                tg.start_soon(uploads.run, job.progress)
                for part in todo:
                    tg.start_soon(one, part, uploads)
            if uploads.report is not None:
                await job.add_details(upload_pass=uploads.report.as_dict())
        await self._finish(job, results)

    @staticmethod
    async def _mark_part(job: JobContext, part_jobs: dict[str, dict[str, Any]], key: str, **state: Any) -> None:
        """Record where part ``key`` is (``get_generation`` shows it while the soundtrack runs)."""
        part_jobs[key] = {**part_jobs.get(key, {}), **state}
        await job.add_details(part_jobs=part_jobs)

    async def _needing_upload(self, job: JobContext, todo: list[dict[str, Any]]) -> list[PartSpan]:
        """The parts of ``todo`` that will be sent to fal (on a resume, not those fal has or finished, nor those
        failed twice or whose submit may have reached fal)."""
        from alice_mcp.media.part_uploads import PartSpan

        ledger = await job.ledger()
        attempts: dict[str, list[JobRecord]] = {}
        for record in await ledger.parts_of(job.id):
            attempts.setdefault(str(record.details.get("part")), []).append(record)
        return [
            PartSpan(part["key"], part["start"], part["end"])
            for part in todo
            if all(r.status in (FAILED, PENDING) for r in attempts.get(part["key"], []))
            and len(attempts.get(part["key"], [])) < PART_ATTEMPTS
        ]

    async def _run_part(
        self, job: JobContext, part: dict[str, Any], uploads: PartUploads
    ) -> tuple[Optional[JobRecord], Optional[Path]]:
        """The part's last job and its audio file once it completed (a failed part is tried once more), or ``None``
        for the file if it failed twice (or its submit may have reached fal: it is never sent again)."""
        ledger = await job.ledger()
        attempts = [r for r in await ledger.parts_of(job.id) if r.details.get("part") == part["key"]]
        record: Optional[JobRecord] = None
        for number in range(1, PART_ATTEMPTS + 1):
            if number <= len(attempts):
                record = attempts[number - 1]
                if record.active:
                    record = await job.wait_part(record.id)
            else:
                record = await job.start_part(self._part_plan(job, part, number), self._part_work(job, part, uploads))
            if record.status == COMPLETED and record.output_path and Path(record.output_path).is_file():
                return record, Path(record.output_path)
            if record.status != FAILED:  # cancelled, or its submit may have reached fal: never sent again
                return record, None
        return record, None

    @staticmethod
    def _parts_folder(job: JobContext) -> Path:
        """Where this soundtrack's parts' audio is kept (the data folder's ``soundtracks/<job id>``)."""
        return job.services.settings.resolved_data_dir() / "soundtracks" / job.id

    @staticmethod
    def _not_saved(exc: Exception, plan: SoundtrackPlan, part_files: dict[str, str]) -> OutputError:
        """The error of a soundtrack whose parts are paid for but whose joined result could not be saved: why, and
        where every paid part's audio (and the joined track, if it was made) is kept."""
        from alice_mcp.media.soundtrack_pipeline import SoundtrackNotSaved

        kept = exc.kept if isinstance(exc, SoundtrackNotSaved) else []
        reason = exc.reason if isinstance(exc, SoundtrackNotSaved) else f"{type(exc).__name__}: {exc}"
        spans = {f"w{w.index}": (w.start, w.end) for w in plan.windows} | {
            f"c{c.index}": (c.start, c.end) for c in plan.cues
        }
        listed = "; ".join(
            f"{key} ({spans[key][0]:g}-{spans[key][1]:g} s): {path}" for key, path in part_files.items() if key in spans
        )
        joined = f" The joined soundtrack (audio only) is at {' and '.join(map(str, kept))}." if kept else ""
        return OutputError(
            f"The soundtrack could not be saved ({reason}); no partial file was left in the output folder. Nothing "
            f"paid is lost: every part's audio is kept: {listed}.{joined} Fix the cause (e.g. free disk space) and "
            "use those files, or run the request again (which pays again).",
            code="soundtrack_not_saved",
        )

    def _part_plan(self, job: JobContext, part: dict[str, Any], attempt: int) -> JobPlan:
        folder = self._parts_folder(job)
        folder.mkdir(parents=True, exist_ok=True)
        return JobPlan(
            PART_KIND,
            self.endpoint,
            {"parent": job.id, "part": part["key"], "attempt": attempt},
            part["settings"],
            folder / f"{part['key']}-{attempt}{self.endpoint.suffix}",
            part["cost_usd"],
            job.record.input_fingerprint,
            None,
            {"parent": job.id, "part": part["key"], "attempt": attempt, "span": [part["start"], part["end"]]},
        )

    def _part_work(self, parent: JobContext, part: dict[str, Any], uploads: PartUploads):  # type: ignore[no-untyped-def]
        async def work(job: JobContext) -> None:
            async def send_clip() -> dict:
                # the part's file from the soundtrack's one pass (submitted as soon as it is closed), or made alone
                upload, part_media = await uploads.file_for(part["key"], part["start"], part["end"], job.progress)
                await job.add_details(upload_method=part_media.upload_method)
                return self.part_payload(part, await planning.upload_file(upload, job))

            await submit_and_finish(job.services, job, await send_clip(), reupload=send_clip)

        return work

    async def _finish(self, job: JobContext, results: dict[str, Optional[Path]]) -> None:
        from alice_mcp.media.pipeline import workspace
        from alice_mcp.media.plan import MediaPlan
        from alice_mcp.media.soundtrack_pipeline import finish_soundtrack
        from alice_mcp.media.windows import SoundtrackPlan

        details = job.record.details
        plan = SoundtrackPlan(**details["soundtrack"])
        whole = MediaPlan(**details["media_plan"])
        options = params.PipelineOptions(**details.get("pipeline_options", {}))
        windows = [results.get(f"w{w.index}") for w in plan.windows]
        cues = [results.get(f"c{c.index}") for c in plan.cues]
        sections: list[tuple[str, list[Any], list[Any]]] = [("window", plan.windows, windows), ("cue", plan.cues, cues)]
        failed = [
            f"{kind} {i} ({start:g}-{end:g} s)"
            for kind, items, files in sections
            for i, (start, end), path in ((x.index, (x.start, x.end), f) for x, f in zip(items, files, strict=True))
            if path is None
        ]
        notes = [n for n in details.get("notes", []) if not n.startswith("Failed:")]
        if failed:
            notes.append("Failed: " + ", ".join(failed) + " failed twice; silence is there (nothing else was lost).")
            lost = [w.index for w, path in zip(plan.windows, windows, strict=True) if path is None]
            if lost:
                notes[-1] += f" To fill them, {job.services.words.regenerate_windows(job.id, lost)}."
        wanted = Path(job.record.wanted_path)  # taken by an earlier version: published as stem-2, stem-3, ...
        part_files = {k: str(v) for k, v in results.items() if v is not None}
        try:
            with workspace(job.services.settings) as folder:
                finished = await finish_soundtrack(
                    whole, options, plan, windows, cues, folder, wanted, job.progress, keep=self._parts_folder(job)
                )
        except Exception as exc:
            if isinstance(exc, (anyio.get_cancelled_exc_class(), KeyboardInterrupt)):
                raise
            await job.add_details(failed_spans=failed, part_files=part_files, notes=notes)
            raise self._not_saved(exc, plan, part_files) from exc
        seams = [
            {
                "index": seam.index,
                "at": seam.at,
                "kind": seam.kind,
                "fade_s": seam.fade,
                "step_db": measured.step_db,
                "measure": measured.measure,
            }
            for seam, measured in zip(plan.seams, finished.assembly.seams, strict=True)
        ]
        await job.add_details(
            seams=seams,
            failed_spans=failed,
            part_files={k: str(v) for k, v in results.items() if v is not None},
            notes=notes + finished.notes,
            audio_path=str(finished.audio_path) if finished.audio_path else None,
            finishing=finished.finishing,
        )
        await job.update(status=COMPLETED, message=f"Saved {finished.path}", output_path=str(finished.path))
        await notify(job.progress, "done", f"Saved {finished.path}", 1.0)

    # ---------------------------------------------------------------------------------------------- the view
    def result(self, record: JobRecord, jobs: JobManager, started: float, *, cached: bool = False) -> VideoAudioResult:
        view = video_result(record, jobs, started, cached=cached)
        view.soundtrack = soundtrack_report(record)
        return view
