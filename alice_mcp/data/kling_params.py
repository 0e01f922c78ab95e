"""Kling text-to-video parameters: the table for ``fal-ai/kling-video/v2.1/master/text-to-video``.

:class:`KlingVideoSettings` mirrors fal's schema (fal-platform reference §1.3). Its ``duration`` is a STRING on the
wire (``"5"`` or ``"10"``); the model also accepts the numbers 5 and 10 (the seed guide passes ``"duration": 5``)
and turns them into the string fal wants. The ``Kling…Arg`` aliases are the face argument types derived from it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from alice_mcp.data.params import table_field

KLING_PROMPT_MAX_CHARS = 2500


def _duration_text(value: Any) -> Any:
    """5, 5.0 and "5" all mean fal's ``"5"``; anything else is left for the Literal check to refuse."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value.strip()
    return value


KlingDuration = Annotated[Literal["5", "10"], BeforeValidator(_duration_text)]
AspectRatio = Literal["16:9", "9:16", "1:1"]


class KlingVideoSettings(BaseModel):
    """One Kling v2.1 text-to-video generation's settings."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(
        min_length=1,
        max_length=KLING_PROMPT_MAX_CHARS,
        description="What the video shows, e.g. 'a red fox trotting through a snowy forest at dawn, cinematic'.",
    )
    duration: KlingDuration = Field(
        default="5",
        description='Length of the video: "5" or "10" seconds ($1.40 for 5 s, +$0.28 per extra second).',
    )
    aspect_ratio: AspectRatio = Field(default="16:9", description="Frame shape of the video.")
    negative_prompt: str = Field(
        default="blur, distort, and low quality",
        max_length=KLING_PROMPT_MAX_CHARS,
        description="What the video should avoid.",
    )
    cfg_scale: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="How closely the video follows the prompt (0-1).",
    )

    def seconds(self) -> float:
        """The video's length in seconds (what the price rule charges for)."""
        return float(self.duration)


# The face aliases (static types for generate_video's parameters); defaults come from the table's.
KlingPromptArg = Annotated[str, table_field("prompt", KlingVideoSettings)]
KlingDurationArg = Annotated[KlingDuration, table_field("duration", KlingVideoSettings)]
KlingAspectRatioArg = Annotated[AspectRatio, table_field("aspect_ratio", KlingVideoSettings)]
KlingNegativePromptArg = Annotated[str, table_field("negative_prompt", KlingVideoSettings)]
KlingCfgScaleArg = Annotated[float, table_field("cfg_scale", KlingVideoSettings)]


def kling_settings_from(values: dict[str, Any]) -> KlingVideoSettings:
    """Table defaults ← the explicit (non-``None``) ``values``, validated.

    Raises :class:`~alice_mcp.data.errors.InputError` naming each invalid field and what it allows.
    """
    from pydantic import ValidationError

    from alice_mcp.data.errors import InputError
    from alice_mcp.data.params import describe_validation_error

    given = {k: v for k, v in values.items() if v is not None}
    try:
        return KlingVideoSettings(**given)
    except ValidationError as exc:
        if any(err.get("loc") == ("prompt",) and err.get("type") == "missing" for err in exc.errors()):
            raise InputError("Give a `prompt` describing the video to generate.") from None
        raise InputError(describe_validation_error(exc, KlingVideoSettings)) from None
