"""The parameter table: the single source of every generation parameter's type, default, range and description.

:class:`AudioSettings` is the table. Everything else is derived from it:

* The face aliases (:data:`NumStepsArg`, :data:`CfgStrengthArg`, …) — one static ``Annotated`` type per parameter,
  that type checkers read. A parameter with a real default is typed by it (``int``, not ``int | None``); the face
  publishes :func:`table_default` as the argument's default and passes on only what the caller gave, so a preset can
  still fill in the rest. Nullable stays nullable only where ``None`` means something (``seed``: a new variation).
* :func:`fal_payload` — the JSON body fal's MMAudio endpoints take.
* :func:`settings_from` — table defaults ← preset values ← explicit values, validated into :class:`AudioSettings`.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.fields import FieldInfo

from alice_mcp.data.errors import InputError

SEED_MAX = 65535
PROMPT_MAX_CHARS = 2000

QualityTier = Literal["draft", "balanced", "high"]
AudioFormat = Literal["none", "wav", "flac", "m4a"]
OriginalAudioMode = Literal["replace", "mix", "duck"]


class AudioSettings(BaseModel):
    """One MMAudio V2 generation's settings, as fal's schema defines them (fal-platform reference §1.1)."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(
        min_length=1,
        max_length=PROMPT_MAX_CHARS,
        description="What the audio should sound like, e.g. 'tavern ambience, murmuring crowd, clinking mugs'.",
    )
    negative_prompt: str = Field(
        default="",
        max_length=PROMPT_MAX_CHARS,
        description="Sounds to steer away from, e.g. 'music, speech'.",
    )
    duration: float = Field(
        default=8.0,
        ge=1,
        le=30,
        description="Seconds of audio to generate (1-30). The result is never longer than the clip.",
    )
    num_steps: int = Field(
        default=25,
        ge=4,
        le=50,
        description="Sampling steps (4-50): fewer is faster, more is cleaner.",
    )
    cfg_strength: float = Field(
        default=4.5,
        ge=0,
        le=20,
        description="How strictly the audio follows the prompt (0-20).",
    )
    seed: Optional[int] = Field(
        default=None,
        ge=0,
        le=SEED_MAX,
        description="Random seed (0-65535). Omit it for a new variation; the seed used is always reported.",
    )
    mask_away_clip: bool = Field(
        default=False,
        description=(
            "Drop the CLIP visual features so the audio follows the text prompt and the motion-sync features more "
            "than what the picture shows. It does NOT keep the clip's original audio."
        ),
    )


TABLE_FIELDS: tuple[str, ...] = tuple(AudioSettings.model_fields)

#: Sampling steps of each ``quality`` tier; an explicit ``num_steps`` wins over the tier.
QUALITY_STEPS: dict[str, int] = {"draft": 10, "balanced": 25, "high": 50}
#: When no ``duration`` is given for a video: its remaining length from ``start_time``, at most this long.
MAX_DURATION_S = 30.0
MIN_DURATION_S = 1.0
#: The range a numeric ``loudness`` target may take (LUFS).
LOUDNESS_MIN_LUFS = -40.0
LOUDNESS_MAX_LUFS = -5.0


class PipelineOptions(BaseModel):
    """How alice-mcp handles the clip around the generation: which part, how hard, what to give back.

    These never reach fal as such: they decide the segment, the steps, and how the result is assembled locally.
    """

    model_config = ConfigDict(extra="forbid")

    start_time: float = Field(
        default=0.0,
        ge=0,
        le=86_400,
        description="Where the soundtrack starts in the clip, in seconds (soundtrack a segment of a longer clip).",
    )
    quality: Optional[QualityTier] = Field(
        default=None,
        description="draft = 10 sampling steps (quick preview), balanced = 25, high = 50. An explicit num_steps wins.",
    )
    audio_format: AudioFormat = Field(
        default="none",
        description="Also save the generated track alone next to the video, as wav, flac or m4a (none = don't).",
    )
    original_audio: OriginalAudioMode = Field(
        default="replace",
        description=(
            "replace = only the generated audio; mix = keep the clip's own sound under it; duck = keep the clip's "
            "own sound and dip the generated bed under it while it is loud (speech, a voice-over). Local files."
        ),
    )
    original_level: float = Field(
        default=0.5,
        ge=0,
        le=2,
        description="Gain of the clip's own sound when original_audio is mix or duck (0 = silent, 1 = unchanged).",
    )
    duck_db: float = Field(
        default=12.0,
        ge=3,
        le=40,
        description="With original_audio=duck: how many dB the generated bed dips while the clip's own sound is loud.",
    )
    generated_level: float = Field(
        default=1.0,
        ge=0,
        le=2,
        description="Gain of the generated audio in the result (0 = silent, 1 = unchanged).",
    )
    # str | float, not a Literal: a name or a number, both checked by one validator with one clear message
    loudness: Union[float, str] = Field(
        default="none",
        description=(
            "Normalise the result's loudness (two passes, measured on the written file): none, youtube "
            "(-14 LUFS, -1 dBTP), social (-16 LUFS, -1 dBTP), broadcast (-23 LUFS, -1 dBTP, EBU R128), or a "
            f"number of LUFS from {LOUDNESS_MIN_LUFS:g} to {LOUDNESS_MAX_LUFS:g} (true peak -1 dBTP)."
        ),
        examples=["youtube", "broadcast", -16],
    )
    stems: bool = Field(
        default=False,
        description=(
            "Also save the stems next to the video as WAV (float, the result's sample rate, aligned with the "
            "video): the generated bed, the clip's own sound (when kept) and the mix before loudness normalisation."
        ),
    )
    timeline: Literal["none", "otio", "fcpxml", "edl"] = Field(
        default="none",
        description=(
            "Also save an editing timeline next to the video: otio (OpenTimelineIO), fcpxml (Final Cut Pro, "
            "DaVinci Resolve) or edl (CMX 3600), with the video and the stems on their own tracks."
        ),
    )
    timeline_paths: Literal["absolute", "relative"] = Field(
        default="absolute",
        description="How the timeline refers to its media: absolute paths, or relative to the timeline's folder.",
    )

    @field_validator("loudness", mode="before")
    @classmethod
    def _loudness_target(cls, value: Any) -> Any:
        """A target name (any case) or a number of LUFS (a numeric string too, as the CLI gives it) in range."""
        if isinstance(value, str):
            name = value.strip().lower()
            if name in ("none", *LOUDNESS_TARGETS):
                return name
            try:
                value = float(name.removesuffix("lufs").strip())
            except ValueError:
                raise ValueError(
                    f"unknown loudness target {value!r}: use none, {', '.join(LOUDNESS_TARGETS)} or a number of LUFS"
                ) from None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not LOUDNESS_MIN_LUFS <= value <= LOUDNESS_MAX_LUFS:
                raise ValueError(
                    f"a loudness target of {value:g} LUFS is outside {LOUDNESS_MIN_LUFS:g} to {LOUDNESS_MAX_LUFS:g} "
                    "LUFS (streaming uses about -14, broadcast -23)"
                )
            return float(value)
        return value


#: Named loudness targets: (integrated LUFS, true-peak ceiling dBTP).
LOUDNESS_TARGETS: dict[str, tuple[float, float]] = {
    "youtube": (-14.0, -1.0),
    "social": (-16.0, -1.0),
    "broadcast": (-23.0, -1.0),
}
#: True-peak ceiling for a target given as a number.
DEFAULT_TRUE_PEAK_DBTP = -1.0


def loudness_target(value: str | float) -> Optional[tuple[str, float, float]]:
    """``(name, integrated LUFS, true-peak dBTP)`` of a validated ``loudness`` option; ``None`` for ``none``."""
    if value == "none":
        return None
    if isinstance(value, str):
        lufs, peak = LOUDNESS_TARGETS[value]
        return value, lufs, peak
    return f"{value:g} LUFS", float(value), DEFAULT_TRUE_PEAK_DBTP


PIPELINE_FIELDS: tuple[str, ...] = tuple(PipelineOptions.model_fields)

#: How many segments / cues one soundtrack may carry (sane counts; each cue is a paid job of its own).
MAX_SEGMENTS = 50
MAX_CUES = 50
#: The loudest a cue may be laid over the bed, and the quietest (dB).
CUE_GAIN_DB_RANGE = (-40.0, 12.0)


class Segment(BaseModel):
    """A span of the clip with its own description; omitted fields fall back to the call's own."""

    model_config = ConfigDict(extra="forbid")

    start: float = Field(ge=0, le=86_400, description="Where the segment starts, in seconds on the clip's timeline.")
    end: float = Field(gt=0, le=86_400, description="Where it ends (s); segments may not overlap.")
    prompt: Optional[str] = Field(
        default=None, min_length=1, max_length=PROMPT_MAX_CHARS, description="What this span should sound like."
    )
    preset: Optional[str] = Field(default=None, description="A style preset for this span (see list_presets).")
    negative_prompt: Optional[str] = Field(
        default=None, max_length=PROMPT_MAX_CHARS, description="Sounds to steer away from in this span."
    )


class Cue(BaseModel):
    """A short sound event laid over the bed at the moment it happens on screen ("door slam at 7.2 s")."""

    model_config = ConfigDict(extra="forbid")

    at: float = Field(ge=0, le=86_400, description="When the event happens, in seconds on the clip's timeline.")
    duration: float = Field(gt=0, le=30, description="How long the event sounds (s), at least the model's minimum.")
    prompt: str = Field(min_length=1, max_length=PROMPT_MAX_CHARS, description="What the event sounds like.")
    gain_db: float = Field(
        default=0.0,
        ge=CUE_GAIN_DB_RANGE[0],
        le=CUE_GAIN_DB_RANGE[1],
        description="Level of the event over the bed, in dB (0 = as generated).",
    )


class TimelineOptions(BaseModel):
    """A soundtrack of any length, laid out on the clip's timeline (used when ``duration`` is not given).

    The span ``[start_time, end_time)`` is generated as overlapping windows of the model's best length, joined with
    equal-power crossfades; ``segments`` give spans their own description and ``cues`` lay short events on top.
    """

    model_config = ConfigDict(extra="forbid")

    end_time: Optional[float] = Field(
        default=None,
        gt=0,
        le=86_400,
        description=(
            "Where the soundtrack ends in the clip, in seconds (default: the clip's end). Without `duration`, "
            "any length up to the server's cap (ALICE_MAX_SOUNDTRACK_SECONDS, default 600 s)."
        ),
    )
    segments: Optional[list[Segment]] = Field(
        default=None,
        max_length=MAX_SEGMENTS,
        description=(
            "Spans with their own description, e.g. [{start: 0, end: 12, prompt: 'tavern ambience'}, "
            "{start: 12, end: 40, preset: 'rain-metal-roof'}]; the rest uses the call's prompt/preset."
        ),
    )
    cues: Optional[list[Cue]] = Field(
        default=None,
        max_length=MAX_CUES,
        description=(
            "Short sound events laid over the soundtrack where they happen, e.g. "
            "[{at: 7.2, duration: 1.5, prompt: 'door slam', gain_db: -3}]; each is generated from its own span."
        ),
    )


TIMELINE_FIELDS: tuple[str, ...] = tuple(TimelineOptions.model_fields)


#: The pydantic constraint attributes a table field's metadata may carry, as ``Field`` keywords.
_CONSTRAINTS = ("ge", "gt", "le", "lt", "min_length", "max_length", "multiple_of", "pattern")


def table_field(name: str, model: type[BaseModel] = AudioSettings, *, description: str | None = None) -> FieldInfo:
    """``Field`` metadata for a face's alias of parameter ``name`` of ``model``: its constraints and description.

    It carries no default: the face's signature does (:func:`table_default`), so the published JSON schema shows it.
    ``description`` rewords the table's description where a face means something else by an omitted value.
    """
    field = model.model_fields[name]
    constraints = {
        key: getattr(item, key)
        for item in field.metadata
        for key in _CONSTRAINTS
        if getattr(item, key, None) is not None
    }
    return Field(description=description or field.description, **constraints)


def table_default(name: str, model: type[BaseModel] = AudioSettings) -> Any:
    """The table's default of parameter ``name`` of ``model`` (what an omitted argument means)."""
    return model.model_fields[name].default


# The face aliases: static types for the tools' parameters, typed by the table (mypy and pyright read these).
#: ``None``: take the preset's prompt (a prompt or a preset is required).
PromptArg = Annotated[Optional[str], table_field("prompt")]
NegativePromptArg = Annotated[str, table_field("negative_prompt")]
DurationArg = Annotated[float, table_field("duration")]
#: ``duration`` for a video tool: ``None`` (no schema default) means "the clip's length".
VideoDurationArg = Annotated[
    Optional[float],
    table_field(
        "duration",
        description=(
            "Seconds of audio to generate as ONE window (1-30); a longer value is shortened to what the clip has. "
            "Default: the clip's length from start_time (or up to end_time), whatever it is (up to the server's "
            "cap): a clip longer than 30 s gets overlapping windows joined with crossfades, each billed."
        ),
    ),
]
NumStepsArg = Annotated[int, table_field("num_steps")]
CfgStrengthArg = Annotated[float, table_field("cfg_strength")]
#: ``None``: a new random seed (the seed used is always reported).
SeedArg = Annotated[Optional[int], table_field("seed")]
MaskAwayClipArg = Annotated[bool, table_field("mask_away_clip")]
StartTimeArg = Annotated[float, table_field("start_time", PipelineOptions)]
#: ``None``: no tier (``num_steps`` or the table decides).
QualityArg = Annotated[Optional[QualityTier], table_field("quality", PipelineOptions)]
AudioFormatArg = Annotated[AudioFormat, table_field("audio_format", PipelineOptions)]
OriginalAudioArg = Annotated[OriginalAudioMode, table_field("original_audio", PipelineOptions)]
OriginalLevelArg = Annotated[float, table_field("original_level", PipelineOptions)]
GeneratedLevelArg = Annotated[float, table_field("generated_level", PipelineOptions)]
DuckDbArg = Annotated[float, table_field("duck_db", PipelineOptions)]
#: A target name or a number of LUFS (checked by PipelineOptions' validator, with its own clear message).
LoudnessArg = Annotated[Union[float, str], table_field("loudness", PipelineOptions)]
StemsArg = Annotated[bool, table_field("stems", PipelineOptions)]
TimelineArg = Annotated[Literal["none", "otio", "fcpxml", "edl"], table_field("timeline", PipelineOptions)]
TimelinePathsArg = Annotated[Literal["absolute", "relative"], table_field("timeline_paths", PipelineOptions)]


def pipeline_options_from(explicit: dict[str, Any], preset_values: dict[str, Any] | None = None) -> PipelineOptions:
    """Validate the given (non-``None``) pipeline options over a preset's and their defaults; raises pydantic's
    ``ValidationError``."""
    merged: dict[str, Any] = dict(preset_values or {})
    merged.update({k: v for k, v in explicit.items() if v is not None})
    return PipelineOptions(**merged)


def refuse_stems_without_a_mix(stems: bool | None) -> None:
    """Text-to-audio mixes nothing, so ``stems`` cannot apply: raise :class:`InputError` explaining it (before
    anything is paid)."""
    if stems:
        raise InputError(
            "Text-to-audio makes one track and mixes nothing, so there are no stems: the saved FLAC is the only "
            "layer. For the generated bed, the clip's own sound and their mix as separate WAV files, add audio to "
            "a video with stems (add_audio_to_video stems=true; CLI: add-audio --stems)."
        )


def quality_values(quality: str | None) -> dict[str, Any]:
    """The table values a ``quality`` tier sets (``{}`` for none)."""
    return {"num_steps": QUALITY_STEPS[quality]} if quality else {}


def draw_seed() -> int:
    """A fresh random seed in the table's range."""
    return secrets.randbelow(SEED_MAX + 1)


def settings_from(explicit: dict[str, Any], preset_values: dict[str, Any] | None = None) -> AudioSettings:
    """Merge table defaults, then ``preset_values``, then the explicit (non-``None``) values; validate.

    Raises pydantic's ``ValidationError`` for out-of-range or missing values (the caller turns it into an
    :class:`~alice_mcp.data.errors.InputError`).
    """
    merged: dict[str, Any] = dict(preset_values or {})
    merged.update({k: v for k, v in explicit.items() if v is not None})
    return AudioSettings(**merged)


def fal_payload(settings: AudioSettings, *, video_url: str | None = None) -> dict[str, Any]:
    """The JSON body for ``fal-ai/mmaudio-v2`` (with ``video_url``) or its ``text-to-audio`` variant (without)."""
    body: dict[str, Any] = settings.model_dump()
    if body["seed"] is None:
        del body["seed"]
    if video_url is not None:
        body["video_url"] = video_url
    return body


def allowed_range(name: str, model: type[BaseModel] = AudioSettings) -> str:
    """The table's allowed values for ``name`` in words, e.g. ``"from 1 to 30"``; ``""`` if unconstrained."""
    field = model.model_fields.get(name)
    if field is None and model is AudioSettings:
        field = PipelineOptions.model_fields.get(name)
    if field is None:
        return ""
    low = high = None
    for item in field.metadata:
        low = getattr(item, "ge", low)
        high = getattr(item, "le", high)
    if low is not None and high is not None:
        return f"from {low:g} to {high:g}"
    return ""


def _sentence(
    field: str, message: str, given: Any = None, has_input: bool = False, model: type[BaseModel] = AudioSettings
) -> str:
    rng = allowed_range(field, model)
    allowed = f" (allowed: {rng})" if rng else ""
    got = f"; got {given!r}" if has_input else ""
    return f"`{field}`: {message}{allowed}{got}"


def describe_validation_error(exc: Any, model: type[BaseModel] = AudioSettings) -> str:
    """One sentence naming each invalid field of ``model``, what is wrong, and the allowed range (pydantic errors)."""
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ())) or "input"
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")  # a validator's own sentence
        parts.append(_sentence(field, message, err.get("input"), "input" in err, model))
    return "Invalid parameters: " + "; ".join(parts) + "."


def describe_fal_validation(detail: Any) -> str:
    """One sentence from fal's 422 ``detail`` (a list of ``{loc, msg, type, ctx?, input?}``) or a plain string."""
    if isinstance(detail, list) and detail:
        parts = []
        for item in detail:
            if not isinstance(item, dict):
                parts.append(str(item)[:200])
                continue
            loc = [str(p) for p in item.get("loc", []) if p != "body"]
            field = ".".join(loc) or "input"
            parts.append(_sentence(field, str(item.get("msg", "invalid")), item.get("input"), "input" in item))
        return "fal rejected the request (422): " + "; ".join(parts) + "."
    return f"fal rejected the request (422): {str(detail)[:300]}"


# The soundtrack's timeline (``None``: not given; see :class:`TimelineOptions`).
EndTimeArg = Annotated[Optional[float], table_field("end_time", TimelineOptions)]
SegmentsArg = Annotated[Optional[list[Segment]], table_field("segments", TimelineOptions)]
CuesArg = Annotated[Optional[list[Cue]], table_field("cues", TimelineOptions)]
