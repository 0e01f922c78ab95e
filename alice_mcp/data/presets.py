"""Audio style presets: a tested prompt, negative prompt and settings for common soundtrack jobs.

A preset fills in whatever the caller leaves out; an explicit value always wins (see :func:`params.settings_from`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from alice_mcp.data.errors import InputError


class Preset(BaseModel):
    """One named style. ``settings`` holds table parameters only (validated against the table when used);
    ``finishing`` holds media options of :class:`~alice_mcp.data.params.PipelineOptions` (ducking, loudness)."""

    id: str = Field(description="Identifier to pass as `preset`.")
    title: str
    use_for: str = Field(description="What the preset is for.")
    prompt: str
    negative_prompt: str
    settings: dict[str, Any] = Field(default_factory=dict, description="Recommended table settings.")
    finishing: dict[str, Any] = Field(
        default_factory=dict, description="How the result is finished (e.g. original_audio, loudness), if it says."
    )
    model: str | None = Field(
        default=None, description="A video-to-audio model recommended for this preset (see list_models); a hint only."
    )

    def values(self) -> dict[str, Any]:
        """The table values this preset contributes."""
        return {"prompt": self.prompt, "negative_prompt": self.negative_prompt, **self.settings}


_NO_VOICES = "speech, talking, singing, vocals"
_NO_MUSIC = "music, melody, instruments"

PRESETS: tuple[Preset, ...] = (
    Preset(
        id="tavern",
        title="Tavern ambience",
        use_for="Inns, pubs, feasts: crowd murmur, mugs, a crackling hearth.",
        prompt="busy medieval tavern ambience, murmuring crowd, clinking mugs, crackling fireplace, wooden chairs",
        negative_prompt=f"{_NO_MUSIC}, clear speech, silence",
        settings={"cfg_strength": 4.5},
    ),
    Preset(
        id="nature-birds",
        title="Nature with birds",
        use_for="Forests, parks, gardens, morning scenes.",
        prompt="peaceful forest ambience, birds chirping, gentle wind through leaves, distant stream",
        negative_prompt=f"{_NO_MUSIC}, traffic, {_NO_VOICES}",
    ),
    Preset(
        id="rain-metal-roof",
        title="Rain on a metal roof, distant thunder",
        use_for="Storms, shelters, cozy interiors during rain.",
        prompt="heavy rain drumming on a metal roof, water dripping, distant rolling thunder",
        negative_prompt=f"{_NO_MUSIC}, {_NO_VOICES}",
    ),
    Preset(
        id="city-street",
        title="Busy city street",
        use_for="Downtown shots, crossings, traffic, crowds outdoors.",
        prompt="busy city street, passing cars, distant horns, footsteps on pavement, crowd chatter",
        negative_prompt=f"{_NO_MUSIC}, birdsong",
    ),
    Preset(
        id="horror",
        title="Eerie horror ambience",
        use_for="Dark corridors, abandoned places, suspense.",
        prompt="eerie horror ambience, low ominous drone, creaking wood, distant whispers of wind, unsettling silence",
        negative_prompt="upbeat music, laughter, bright tones",
        settings={"cfg_strength": 5.5},
    ),
    Preset(
        id="footsteps-door",
        title="Footsteps and creaking door (foley)",
        use_for="Someone walking in and opening a door; hallway foley.",
        prompt="footsteps on a wooden floor, a creaking door opening slowly, door handle click",
        negative_prompt=f"{_NO_MUSIC}, {_NO_VOICES}, ambience noise",
        settings={"cfg_strength": 6.0, "num_steps": 30},
        model="hunyuan-video-foley",  # best sync and quality in its authors' tables (foley reference)
    ),
    Preset(
        id="fight-foley",
        title="Fight foley",
        use_for="Punches, scuffles, action beats synced to movement.",
        prompt="fight scene foley, punches and impacts, cloth rustling, grunts of effort, body falls",
        negative_prompt=f"{_NO_MUSIC}, clear speech",
        settings={"cfg_strength": 6.0, "num_steps": 30},
        model="hunyuan-video-foley",  # best sync and quality in its authors' tables (foley reference)
    ),
    Preset(
        id="orchestral-tension",
        title="Dramatic orchestral tension",
        use_for="Trailers, reveals, build-ups.",
        prompt="dramatic orchestral tension, low strings, rising brass, timpani rolls, cinematic build-up",
        negative_prompt=f"{_NO_VOICES}, electronic beats",
    ),
    Preset(
        id="upbeat-electronic",
        title="Upbeat electronic",
        use_for="Product shots, sports, fast edits.",
        prompt="upbeat electronic music, punchy drums, bright synth chords, energetic groove",
        negative_prompt=f"{_NO_VOICES}, ambience noise",
    ),
    Preset(
        id="lofi",
        title="Chill lo-fi",
        use_for="Study scenes, vlogs, calm b-roll.",
        prompt="chill lo-fi hip hop beat, mellow piano chords, soft vinyl crackle, relaxed tempo",
        negative_prompt=f"{_NO_VOICES}, harsh noise",
    ),
    Preset(
        id="narration-bed",
        title="Subtle narration bed",
        use_for=(
            "A quiet background under a voice-over: ducked under the clip's own voice when it has one, "
            "at YouTube loudness (-14 LUFS)."
        ),
        prompt="subtle soft ambient pad, warm and quiet background texture, slow and unobtrusive",
        negative_prompt=f"{_NO_VOICES}, drums, loud sounds, sudden changes",
        settings={"cfg_strength": 3.5},
        finishing={"original_audio": "duck", "original_level": 1.0, "loudness": "youtube"},
    ),
    Preset(
        id="sfx-only",
        title="Sound effects only",
        use_for="Just the on-screen sounds, synced to motion: no music, no speech.",
        prompt="realistic synchronized sound effects of the on-screen action",
        negative_prompt=f"{_NO_MUSIC}, {_NO_VOICES}, narration, soundtrack",
        settings={"cfg_strength": 5.0},
        model="hunyuan-video-foley",  # best sync and quality in its authors' tables (foley reference)
    ),
    Preset(
        id="ocean-waves",
        title="Ocean waves",
        use_for="Beaches, coasts, boats.",
        prompt="ocean waves crashing on the shore, seagulls in the distance, gentle sea breeze",
        negative_prompt=f"{_NO_MUSIC}, {_NO_VOICES}, traffic",
    ),
    Preset(
        id="campfire",
        title="Campfire night",
        use_for="Camping, night outdoors, fireside scenes.",
        prompt="crackling campfire, popping embers, crickets at night, soft wind",
        negative_prompt=f"{_NO_MUSIC}, {_NO_VOICES}",
    ),
)

_BY_ID: dict[str, Preset] = {p.id: p for p in PRESETS}


def get_preset(preset_id: str) -> Preset:
    """The preset called ``preset_id``; raises :class:`InputError` naming the valid ids."""
    preset = _BY_ID.get(preset_id.strip().lower())
    if preset is None:
        raise InputError(
            f"Unknown preset {preset_id!r}. Use one of: {', '.join(_BY_ID)} (the presets list describes them)."
        )
    return preset


def preset_values(preset_id: str | None) -> dict[str, Any]:
    """The table values of ``preset_id``, or nothing when no preset was asked for."""
    return get_preset(preset_id).values() if preset_id else {}


def preset_finishing(preset_id: str | None) -> dict[str, Any]:
    """The media options ``preset_id`` sets (explicit options win over them), or nothing."""
    return dict(get_preset(preset_id).finishing) if preset_id else {}
