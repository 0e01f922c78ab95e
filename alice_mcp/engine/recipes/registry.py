"""The registry: every fal endpoint alice-mcp runs, each with its recipe. One entry per model.

To add a model: write its parameter model (``alice_mcp/data/``), add its :class:`Endpoint` and recipe here, add its
endpoint to the fal twin (``tests/fal_twin/``) and its tests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alice_mcp.data import params
from alice_mcp.data.endpoints import Endpoint
from alice_mcp.data.errors import InputError
from alice_mcp.data.foley_models import HUNYUAN, KLING_V2A, MIRELO_V15, MIRELO_V16, PIXVERSE, SONILO_SFX, THINKSOUND
from alice_mcp.data.foley_spec import ClipLimits, FoleyModel
from alice_mcp.data.kling_params import KlingVideoSettings
from alice_mcp.data.params import AudioSettings
from alice_mcp.data.prices import PriceRule
from alice_mcp.engine.recipes.base import Recipe
from alice_mcp.engine.recipes.foley import FoleyRecipe
from alice_mcp.engine.recipes.soundtrack import SoundtrackRecipe
from alice_mcp.engine.recipes.text_to_audio import TextToAudioRecipe
from alice_mcp.engine.recipes.text_to_video import TextToVideoRecipe
from alice_mcp.engine.recipes.video_to_audio import VideoToAudioRecipe

if TYPE_CHECKING:
    from alice_mcp.adapters.ledger import JobRecord
    from alice_mcp.jobs.services import Finish
    from alice_mcp.jobs.state import Work

MMAUDIO_VIDEO = Endpoint(
    id="fal-ai/mmaudio-v2",
    title="MMAudio V2 (video to video with audio)",
    output_key="video",
    suffix=".mp4",
    price=PriceRule(
        usd_per_extra_second=0.001,
        source="fal.ai published price: $0.001 per second of generated audio (https://fal.ai/models/fal-ai/mmaudio-v2)",
    ),
    input_model=AudioSettings,
    aliases=("mmaudio-v2", "mmaudio"),
)

MMAUDIO_TEXT = Endpoint(
    id="fal-ai/mmaudio-v2/text-to-audio",
    title="MMAudio V2 (text to audio)",
    output_key="audio",
    suffix=".flac",
    price=PriceRule(
        usd_per_extra_second=0.001,
        source="$0.001 per second of audio, as for fal-ai/mmaudio-v2 (third-party listings; not on fal's own page)",
    ),
    input_model=AudioSettings,
    aliases=("mmaudio-v2/text-to-audio", "mmaudio-v2-text-to-audio", "text-to-audio"),
)

# The seed guide's "kling-v2.1-pro-text" does not exist on fal (a submit gets 404): Kling v2.1 text-to-video is only
# published as "master" (fal-platform reference §1.3). The seed's name is kept as an alias of the real endpoint.
KLING_TEXT_TO_VIDEO = Endpoint(
    id="fal-ai/kling-video/v2.1/master/text-to-video",
    title="Kling v2.1 master (text to video)",
    output_key="video",
    suffix=".mp4",
    price=PriceRule(
        base_usd=1.40,
        base_seconds=5,
        usd_per_extra_second=0.28,
        source="fal.ai published price: $1.40 for 5 s + $0.28 per extra second "
        "(https://fal.ai/models/fal-ai/kling-video/v2.1/master/text-to-video)",
    ),
    input_model=KlingVideoSettings,
    aliases=(
        "kling-v2.1-pro-text",
        "fal-ai/kling-video/v2.1/pro/text-to-video",
        "kling-v2.1-master-text",
        "kling-v2.1",
        "kling",
    ),
)


MMAUDIO_V2 = VideoToAudioRecipe(
    MMAUDIO_VIDEO, lambda settings, video_url: params.fal_payload(settings, video_url=video_url)
)
MMAUDIO_V2_TEXT_TO_AUDIO = TextToAudioRecipe(MMAUDIO_TEXT)
KLING_V21_TEXT_TO_VIDEO = TextToVideoRecipe(KLING_TEXT_TO_VIDEO)

# ------------------------------------------------------------------------------ video-to-audio models (foley)
MMAUDIO_MODEL = FoleyModel(
    endpoint=MMAUDIO_VIDEO,
    params=AudioSettings,
    best_at="Cheapest and fastest ($0.001/s); good all-round foley up to 30 s per call.",
    common={k: k for k in ("prompt", "negative_prompt", "seed", "num_steps", "cfg_strength")},
    limits=ClipLimits(1, 30),
    output_kind="video",
    seed_range=(0, params.SEED_MAX),
    duration_field="duration",
)
#: every video-to-audio model as a recipe, the default first (one line per model)
FOLEY_RECIPES: tuple[FoleyRecipe, ...] = (
    FoleyRecipe(MMAUDIO_MODEL),
    FoleyRecipe(HUNYUAN),
    FoleyRecipe(THINKSOUND),
    FoleyRecipe(MIRELO_V15),
    FoleyRecipe(MIRELO_V16),
    FoleyRecipe(KLING_V2A),
    FoleyRecipe(PIXVERSE),
    FoleyRecipe(SONILO_SFX),
)

# MMAudio V2's single-take jobs keep their own recipe (MMAUDIO_V2); the other models are registered by their own.
RECIPES: tuple[Recipe, ...] = (MMAUDIO_V2, MMAUDIO_V2_TEXT_TO_AUDIO, KLING_V21_TEXT_TO_VIDEO, *FOLEY_RECIPES[1:])
DEFAULT_VIDEO_TO_AUDIO = MMAUDIO_V2

ENDPOINTS: dict[str, Endpoint] = {r.endpoint.id: r.endpoint for r in RECIPES}
_RECIPE_BY_ENDPOINT: dict[str, Recipe] = {r.endpoint.id: r for r in RECIPES}
_BY_NAME: dict[str, Recipe] = {
    name.lower(): r
    for r in RECIPES
    for name in (r.endpoint.id, r.endpoint.id.removeprefix("fal-ai/"), *r.endpoint.aliases)
}


def published_prices() -> dict[str, PriceRule]:
    """Each endpoint's published price rule, by fal endpoint id."""
    return {e.id: e.price for e in ENDPOINTS.values()}


def resolve_recipe(name: str) -> Recipe:
    """The recipe of the endpoint called ``name`` (its fal id, the id without ``fal-ai/``, or an alias;
    case-insensitive). Raises :class:`InputError` listing the names alice-mcp knows."""
    recipe = _BY_NAME.get(name.strip().lower())
    if recipe is None:
        known = ", ".join(sorted({r.endpoint.aliases[0] if r.endpoint.aliases else r.endpoint.id for r in RECIPES}))
        raise InputError(
            f"Unknown model {name!r}. Use one of: {known} (or a full fal endpoint id listed in the README)."
        )
    return recipe


def resolve_endpoint(name: str) -> Endpoint:
    """The endpoint called ``name``; see :func:`resolve_recipe`."""
    return resolve_recipe(name).endpoint


def video_to_audio_recipe(model: str | None) -> VideoToAudioRecipe:
    """The video-to-audio recipe called ``model`` (default: MMAudio V2); :class:`InputError` for any other."""
    if model is None:
        return DEFAULT_VIDEO_TO_AUDIO
    recipe = resolve_recipe(model)
    if not isinstance(recipe, VideoToAudioRecipe):
        known = ", ".join(r.endpoint.aliases[0] for r in RECIPES if isinstance(r, VideoToAudioRecipe))
        raise InputError(f"{recipe.endpoint.id} does not put audio on a video. Video-to-audio models: {known}.")
    return recipe


_FOLEY_BY_NAME: dict[str, FoleyRecipe] = {
    name.lower(): r
    for r in FOLEY_RECIPES
    for name in (r.endpoint.id, r.endpoint.id.removeprefix("fal-ai/"), *r.endpoint.aliases)
}


def foley_models() -> list[FoleyModel]:
    """Every video-to-audio model, the default first (what list_models shows)."""
    return [r.spec for r in FOLEY_RECIPES]


def foley_recipes(model: str | list[str] | None) -> list[FoleyRecipe]:
    """The recipes of ``model`` (a fal endpoint id or alias, or a list of them; ``None`` = MMAudio V2).

    Raises :class:`InputError` listing the known models for an unknown name, or for the same model twice."""
    names = model if isinstance(model, list) else [model]
    if not names:
        raise InputError("`model` is an empty list: name at least one model (see list_models).")
    found = []
    for name in names:
        recipe = FOLEY_RECIPES[0] if name is None else _FOLEY_BY_NAME.get(str(name).strip().lower())
        if recipe is None:
            known = ", ".join(f"{r.spec.alias} ({r.endpoint.id})" for r in FOLEY_RECIPES)
            raise InputError(f"Unknown model {name!r}. Known video-to-audio models: {known}. See list_models.")
        found.append(recipe)
    if len({r.endpoint.id for r in found}) != len(found):
        raise InputError("`model` lists the same model twice; use `takes` for several variants of one model.")
    return found


def finisher_for(record: JobRecord) -> Finish | None:
    """How a finished job is delivered, from its recipe (found by the job's endpoint)."""
    recipe = _RECIPE_BY_ENDPOINT.get(record.endpoint)
    return recipe.finisher(record) if recipe is not None else None


_SOUNDTRACKS: dict[str, SoundtrackRecipe] = {}


def soundtrack_recipe(model: str | None) -> SoundtrackRecipe:
    """Soundtracks of any length made of the windows of the video-to-audio model called ``model`` (default MMAudio):
    its windows follow that model's own clip limits and its parts are paid calls of that model."""
    video = video_to_audio_recipe(model)
    if video.endpoint.id not in _SOUNDTRACKS:
        spec = _FOLEY_BY_NAME[video.endpoint.id.lower()].spec
        _SOUNDTRACKS[video.endpoint.id] = SoundtrackRecipe(video, spec)
    return _SOUNDTRACKS[video.endpoint.id]


def resumer_for(record: JobRecord) -> Work | None:
    """The work that carries on a job of many parts after a restart (a soundtrack's), else ``None``."""
    if record.kind != SoundtrackRecipe.kind:
        return None
    return soundtrack_recipe(record.endpoint).run
