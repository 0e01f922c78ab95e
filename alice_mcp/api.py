"""The Python API, shaped like the seed guide's: ``AliceOrchestrator().generate_creative_asset(GenerationRequest(...))``.

It is a face like the MCP tools and the CLI: it turns a :class:`GenerationRequest` into the core's request models and
runs them through the same :class:`~alice_mcp.engine.core.AliceCore` (same parameter table, prices, uploads, output folder).

Routing:

* ``GenerationType.AUDIO`` with a video (``parameters["video_url"]``: https URL, local path or ``file://`` URI, or
  one local file in ``reference_assets``) → MMAudio video-to-video; the local file is uploaded.
* ``GenerationType.AUDIO`` without a video → MMAudio text-to-audio (FLAC).
* ``GenerationType.VIDEO`` → Kling v2.1 text-to-video (``model`` may be the seed's ``"kling-v2.1-pro-text"``).

Invalid input raises :class:`~alice_mcp.data.errors.InputError` (an :class:`~alice_mcp.data.errors.AliceError`) whose message
names the field, what is wrong and what is allowed; a constructor argument of the wrong type raises pydantic's
``ValidationError``. Nothing is uploaded or paid before the request is known to be valid.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alice_mcp.adapters.read_policy import file_uri_to_path
from alice_mcp.adapters.settings import Settings
from alice_mcp.data.errors import ConfigError, InputError
from alice_mcp.data.params import PIPELINE_FIELDS, TIMELINE_FIELDS, pipeline_options_from
from alice_mcp.data.progress import Progress
from alice_mcp.data.vocabulary import API_WORDS
from alice_mcp.engine.core import AliceCore
from alice_mcp.engine.models import (
    AudioRequest,
    AudioResult,
    CostEstimate,
    GenerationList,
    GenerationStatus,
    VideoAudioRequest,
    VideoAudioResult,
    VideoRequest,
    VideoResult,
)
from alice_mcp.engine.recipes.base import Recipe
from alice_mcp.engine.recipes.registry import (
    DEFAULT_VIDEO_TO_AUDIO,
    KLING_V21_TEXT_TO_VIDEO,
    MMAUDIO_V2_TEXT_TO_AUDIO,
    resolve_recipe,
)
from alice_mcp.engine.recipes.text_to_audio import TextToAudioRecipe
from alice_mcp.engine.recipes.text_to_video import TextToVideoRecipe
from alice_mcp.engine.recipes.video_to_audio import VideoToAudioRecipe
from alice_mcp.engine.spend import ConfirmSpend, approved_by_caller

ProgressCallback = Callable[[Progress], Any]
"""Called with each :class:`~alice_mcp.data.progress.Progress` event; may be a plain function or a coroutine function."""


class GenerationType(str, Enum):
    """What to generate: ``AUDIO`` (for a video, or from text alone) or ``VIDEO`` (from text)."""

    AUDIO = "audio"
    VIDEO = "video"


class GenerationRequest(BaseModel):
    """One generation, as the seed guide writes it.

    ``parameters`` takes every field of the chosen model's parameter table (for MMAudio: ``duration``,
    ``num_steps``, ``cfg_strength``, ``negative_prompt``, ``seed``, ``mask_away_clip``; for Kling: ``duration``,
    ``aspect_ratio``, ``negative_prompt``, ``cfg_scale``), the media options of
    :class:`~alice_mcp.data.params.PipelineOptions` (``start_time``, ``quality``, ``audio_format``, ``original_audio``,
    ``original_level``, ``generated_level``), a soundtrack's timeline (:class:`~alice_mcp.data.params.TimelineOptions`:
    ``end_time``, ``segments``, ``cues``; without ``duration``, any length), plus ``video_url``, ``preset`` and
    ``output_path``. With a video, ``model`` may be any video-to-audio model (see
    ``list_models``), ``parameters["takes"]`` (1-4) makes variants and ``parameters["model_options"]`` holds the
    model's own controls.
    """

    model_config = ConfigDict(extra="forbid")

    prompt: Optional[str] = Field(default=None, description="What to generate; optional when a preset gives one.")
    generation_type: GenerationType = GenerationType.AUDIO
    model: Optional[str] = Field(default=None, description='"mmaudio-v2" (audio) or "kling-v2.1-pro-text" (video).')
    parameters: dict[str, Any] = Field(default_factory=dict)
    reference_assets: list[Union[str, Path]] = Field(
        default_factory=list, description="A local video (path, ~/path or file:// URI) to add audio to."
    )


class AssetResult(BaseModel):
    """A finished generation: where the file is, what was asked of fal, what it cost."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    file_path: Path = Field(description="Absolute path of the saved file.")
    url: Optional[str] = Field(description="fal's URL of its copy of the result (expires on fal's schedule).")
    cost_usd: float = Field(description="Estimated cost of this call in USD (0 when cached).")
    cached: bool = Field(
        default=False,
        description="True: the same request with the same explicit seed was made "
        "before; its file is returned and nothing was paid.",
    )
    job_id: str = Field(description="The job in the ledger (`alice-mcp job ID` shows it).")
    parameters: dict[str, Any] = Field(description="The parameters used, the seed included.")
    generation_type: GenerationType
    model: str = Field(description="The fal endpoint that ran the job.")
    request_id: str
    elapsed_s: float
    details: Union[VideoAudioResult, AudioResult, VideoResult] = Field(description="The core's full result.")


class AliceOrchestrator:
    """Runs generations from Python. Settings come from the environment (``FAL_KEY``, ``ALICE_*``); keyword
    ``overrides`` (e.g. ``output_dir=...``) win over it. Use ``async with`` or :meth:`aclose` to release
    connections; an orchestrator may be used from several ``asyncio.run`` calls in turn."""

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        if settings is None:
            try:
                settings = Settings(**overrides)
            except ValidationError as exc:
                raise ConfigError(
                    f"Invalid setting for AliceOrchestrator: {exc.errors()[0]['msg']} "
                    f"({'.'.join(map(str, exc.errors()[0]['loc']))})."
                ) from None
        elif overrides:
            settings = settings.model_copy(update=overrides)
        self.settings = settings
        self._core: AliceCore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __aenter__(self) -> AliceOrchestrator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections to fal (a later call opens new ones)."""
        core, self._core = self._core, None
        if core is not None and self._loop is asyncio.get_running_loop():
            await core.aclose()

    async def generate_creative_asset(
        self,
        request: GenerationRequest,
        progress: ProgressCallback | None = None,
        *,
        force: bool = False,
        confirm_spend: ConfirmSpend = approved_by_caller,
    ) -> AssetResult:
        """Run ``request`` (paid) to its end and return the saved file and what it cost. A request with an explicit
        ``seed`` made before returns the saved file for free (``cached``) unless ``force``. Raises
        :class:`~alice_mcp.data.errors.AliceError`.

        ``confirm_spend(quote) -> bool`` approves a cost above ``ALICE_CONFIRM_SPEND_ABOVE_USD``; by default calling
        this method is the approval (the operator's per-call and daily limits still apply)."""
        plan = _plan(request)
        core = self._core_for_this_loop()
        sink = _sink(progress)
        if isinstance(plan.recipe, TextToVideoRecipe):
            video = await core.generate_video(
                VideoRequest(values=plan.values, output_path=plan.output_path), sink, confirm=confirm_spend
            )
            result: VideoAudioResult | AudioResult | VideoResult = video
            url = video.video_url
        elif plan.video is not None:
            result = await core.add_audio_to_video(
                VideoAudioRequest(
                    video=plan.video,
                    preset=plan.preset,
                    values=plan.values,
                    output_path=plan.output_path,
                    options=plan.options,
                    timeline=plan.timeline,
                    model_options=plan.model_options,
                    takes=plan.takes,
                ),
                sink,
                force=force,
                confirm=confirm_spend,
                model=plan.recipe.endpoint.id,
            )
            url = result.video_url
        else:
            result = await core.generate_audio(
                AudioRequest(
                    preset=plan.preset,
                    values=plan.values,
                    output_path=plan.output_path,
                    quality=plan.options.get("quality"),
                ),
                sink,
                force=force,
                confirm=confirm_spend,
            )
            url = result.audio_url
        return AssetResult(
            file_path=Path(result.output_path or ""),
            url=url,
            cost_usd=result.cost_usd,
            cached=getattr(result, "cached", False),
            job_id=result.job_id,
            parameters=_parameters_used(plan, result),
            generation_type=request.generation_type,
            model=result.endpoint,
            request_id=result.request_id or "",  # a soundtrack of many parts has one per part
            elapsed_s=result.elapsed_s,
            details=result,
        )

    async def regenerate_soundtrack_windows(
        self,
        job_id: str,
        windows: list[Union[int, float, str]],
        progress: ProgressCallback | None = None,
        *,
        confirm_spend: ConfirmSpend = approved_by_caller,
    ) -> AssetResult:
        """Redo only ``windows`` (each an index, as in ``details.soundtrack.windows``, or a time inside it such as
        ``"12.5s"``) of the finished soundtrack ``job_id``: a new job that pays for those windows alone, keeps every
        other window and cue, joins them again and saves a new file. Raises :class:`~alice_mcp.data.errors.AliceError`
        (e.g. :class:`InputError` for a window that does not exist, before anything is paid).

        ``confirm_spend`` approves a cost above ``ALICE_CONFIRM_SPEND_ABOVE_USD``, as for
        :meth:`generate_creative_asset`."""
        result = await self._core_for_this_loop().regenerate_soundtrack_windows(
            job_id, list(windows), _sink(progress), confirm=confirm_spend
        )
        return AssetResult(
            file_path=Path(result.output_path or ""),
            url=result.video_url,
            cost_usd=result.cost_usd,
            job_id=result.job_id,
            parameters={"regenerate": list(windows), "regenerated_from": job_id},
            generation_type=GenerationType.AUDIO,
            model=result.endpoint,
            request_id=result.request_id or "",
            elapsed_s=result.elapsed_s,
            details=result,
        )

    async def estimate_cost(self, request: GenerationRequest, count: int = 1) -> CostEstimate:
        """What ``request`` would cost (``count`` times), without uploading or submitting anything."""
        plan = _plan(request)
        duration = plan.values.get("duration")
        return await self._core_for_this_loop().estimate_cost(
            duration=float(duration) if duration is not None else None,
            video=plan.video,
            count=count,
            start_time=float(plan.options.get("start_time") or 0.0),
            model=plan.recipe.endpoint.id,
        )

    async def get_generation(self, job_id: str, wait_seconds: float = float("inf")) -> GenerationStatus:
        """Wait up to ``wait_seconds`` (default: to its end) for job ``job_id`` (resuming it if nobody follows it,
        retrying its download without paying again); its status."""
        return await self._core_for_this_loop().get_generation(job_id, wait_seconds)

    async def cancel_generation(self, job_id: str) -> GenerationStatus:
        """Cancel job ``job_id`` at fal and in the ledger (a job fal already finished is kept)."""
        return await self._core_for_this_loop().cancel_generation(job_id)

    async def list_generations(self, limit: int = 20, status: str | None = None) -> GenerationList:
        """The newest jobs in the ledger, optionally only those with ``status``."""
        return await self._core_for_this_loop().list_generations(limit, status)

    def list_presets(self) -> list[str]:
        """The ids of the audio presets (``GenerationRequest.parameters['preset']``)."""
        from alice_mcp.data.presets import PRESETS

        return [preset.id for preset in PRESETS]

    def _core_for_this_loop(self) -> AliceCore:
        """The core, re-created when called from a new event loop (its HTTP clients belong to the old one)."""
        loop = asyncio.get_running_loop()
        if self._core is None or self._loop is not loop:
            self._core, self._loop = AliceCore(self.settings, words=API_WORDS), loop
        return self._core


@dataclass(frozen=True)
class _Plan:
    """How a request will run: the recipe, the input video (if any), the preset, the table values and the media
    options (:class:`~alice_mcp.data.params.PipelineOptions` fields)."""

    recipe: Recipe
    video: Optional[str]
    preset: Optional[str]
    output_path: Optional[str]
    values: dict[str, Any]
    options: dict[str, Any]
    timeline: dict[str, Any]
    model_options: Optional[dict[str, Any]] = None
    takes: int = 1


def _plan(request: GenerationRequest) -> _Plan:
    """Which endpoint runs ``request``, with which video and table values; :class:`InputError` if it cannot."""
    params = dict(request.parameters)
    video = _video_of(params.pop("video_url", None), request.reference_assets)
    preset, output_path = params.pop("preset", None), params.pop("output_path", None)
    model_options, takes = params.pop("model_options", None), params.pop("takes", 1)
    if "prompt" in params and request.prompt is not None and params["prompt"] != request.prompt:
        raise InputError(
            "`prompt` is given twice (in the request and in `parameters`) with different text; give it once."
        )
    recipe = _recipe_for(request, has_video=video is not None)
    makes_video = isinstance(recipe, TextToVideoRecipe)
    options = {name: params.pop(name) for name in PIPELINE_FIELDS if name in params and not makes_video}
    timeline = {name: params.pop(name) for name in TIMELINE_FIELDS if name in params and not makes_video}
    values = {"prompt": request.prompt, **params} if request.prompt is not None else params
    if makes_video and (video is not None or preset is not None):
        raise InputError(
            "Text-to-video takes no `video_url`, `reference_assets` or `preset`; generate the video "
            "first, then a GenerationType.AUDIO request with video_url=result.file_path.as_uri()."
        )
    if video is None and (set(options) - {"quality"} or timeline):
        given = ", ".join(f"`{name}`" for name in sorted((set(options) - {"quality"}) | set(timeline)))
        raise InputError(f"{given} only apply when adding audio to a video (give `video_url` or `reference_assets`).")
    if (model_options or takes != 1) and video is None:
        raise InputError("`takes` and `model_options` apply when adding audio to a video (give `video_url`).")
    return _Plan(
        recipe=recipe,
        video=video,
        preset=preset,
        output_path=output_path,
        values=values,
        options=options,
        timeline=timeline,
        model_options=model_options,
        takes=takes,
    )


def _recipe_for(request: GenerationRequest, *, has_video: bool) -> Recipe:
    kind = request.generation_type
    if request.model is None:
        recipe: Recipe = KLING_V21_TEXT_TO_VIDEO if kind is GenerationType.VIDEO else DEFAULT_VIDEO_TO_AUDIO
    else:
        recipe = resolve_recipe(request.model)
    if kind is GenerationType.VIDEO:
        if not isinstance(recipe, TextToVideoRecipe):
            raise InputError(
                f"`model` {request.model!r} makes audio, but generation_type is VIDEO; use "
                '"kling-v2.1-pro-text" (Kling v2.1 text-to-video) or GenerationType.AUDIO.'
            )
        return recipe
    if isinstance(recipe, TextToVideoRecipe):
        raise InputError(f'`model` {request.model!r} makes video, but generation_type is AUDIO; use "mmaudio-v2".')
    if isinstance(recipe, TextToAudioRecipe) and has_video:
        raise InputError('`model` "mmaudio-v2/text-to-audio" takes no video; use "mmaudio-v2" to add audio to one.')
    if isinstance(recipe, VideoToAudioRecipe) and not has_video:
        return MMAUDIO_V2_TEXT_TO_AUDIO
    return recipe


def _video_of(video_url: Any, assets: list[Union[str, Path]]) -> Optional[str]:
    """The one input video: ``video_url`` or the single reference asset, as a URL or an absolute local path."""
    if video_url is not None and assets:
        raise InputError("Give the video once: either `parameters['video_url']` or `reference_assets`, not both.")
    if len(assets) > 1:
        raise InputError(f"`reference_assets` holds {len(assets)} files; one generation takes one video.")
    given = video_url if video_url is not None else (assets[0] if assets else None)
    if given is None:
        return None
    if not isinstance(given, (str, Path)):
        raise InputError(f"`video_url` must be a URL or a path string; got {type(given).__name__}.")
    text = str(given).strip()
    if text.lower().startswith("file:"):
        path = file_uri_to_path(text)
    elif "://" in text:
        return text  # a URL is checked by the core, with the operator's URL policy (ALICE_ALLOW_HTTP included)
    else:
        path = Path(text).expanduser()
    return str(path if path.is_absolute() else Path.cwd() / path)  # a script's relative path means its cwd


def _parameters_used(plan: _Plan, result: VideoAudioResult | AudioResult | VideoResult) -> dict[str, Any]:
    data = result.model_dump()
    fields = (plan.recipe.endpoint.input_model or VideoResult).model_fields
    used = {name: data[name] for name in fields if name in data}
    if plan.preset is not None:
        used["preset"] = plan.preset
    if plan.video is not None:
        used["video_url"] = plan.video
        try:
            used.update(pipeline_options_from(plan.options).model_dump())
        except ValidationError:  # pragma: no cover - the core validated them already
            used.update(plan.options)
    elif plan.options.get("quality") is not None:
        used["quality"] = plan.options["quality"]
    return used


def _sink(callback: ProgressCallback | None):  # type: ignore[no-untyped-def]
    """The core's async progress sink around a user callback (sync or async)."""
    if callback is None:
        return None

    async def sink(event: Progress) -> None:
        outcome = callback(event)
        if inspect.isawaitable(outcome):
            await outcome

    return sink
