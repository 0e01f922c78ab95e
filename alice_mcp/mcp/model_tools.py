"""The ``list_models`` tool and the ``alice://models`` resource: the video-to-audio models alice-mcp can run.

Registered by ``build_server``. Read-only data (the recipe registry's models): no network, no cost.
"""

from __future__ import annotations

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

from alice_mcp.engine.models import ModelInfo, ModelList
from alice_mcp.engine.recipes.registry import foley_models

MODELS_URI = "alice://models"

HOW_TO_CHOOSE = (
    "Default mmaudio-v2: cheapest and fastest, fine for most clips up to 30 s. "
    "hunyuan-video-foley when quality and sync matter most (best MOS and DeSync in its authors' tables; clips "
    "up to 15 s, unverified price $0.10 per 10 s). thinksound when the user has no words for the sound (it writes "
    "its own prompt). mirelo-sfx-1.6 (1-60 s) or mirelo-sfx-v1.5 (up to 10 s) for several takes from one call. "
    "kling-video-to-audio for separate sound-effect and music prompts on 3-20 s clips (flat $0.035). "
    "pixverse-sound-effects to keep the clip's own sound under new effects. sonilo-sfx for different sounds per "
    "time range (segments). Use `takes` (1-4) to audition variants; use `model` as a list to compare models."
)


def model_list() -> ModelList:
    """Every model, the default first."""
    return ModelList(
        models=[ModelInfo(**m.describe(), default=i == 0) for i, m in enumerate(foley_models())],
        how_to_choose=HOW_TO_CHOOSE,
    )


def register_model_tools(mcp: MCPServer) -> None:
    """Add ``list_models`` and ``alice://models`` to ``mcp``."""

    @mcp.tool(
        title="List the video-to-audio models",
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
    )
    async def list_models() -> ModelList:
        """The video-to-audio models add_audio_to_video can run (`model`): what each is best at, its clip limits, its
        price rule, its controls (common arguments under its own field names, and its `model_options` keys), and
        what fal does not confirm. Free."""
        return model_list()

    @mcp.resource(MODELS_URI, name="models", title="Video-to-audio models", mime_type="application/json")
    def models() -> str:
        """Every video-to-audio model (as list_models returns it), as JSON."""
        return model_list().model_dump_json(indent=2)
