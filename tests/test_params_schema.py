"""The parameter table is the single source of the published schemas: every range and default shows in tools/list."""

from __future__ import annotations

import re
from typing import Optional, get_args

from alice_mcp.data import params
from alice_mcp.data.kling_params import (
    KlingAspectRatioArg,
    KlingCfgScaleArg,
    KlingDurationArg,
    KlingNegativePromptArg,
    KlingPromptArg,
    KlingVideoSettings,
)
from alice_mcp.data.params import TABLE_FIELDS, AudioSettings, fal_payload

TABLE = {
    "duration": {"minimum": 1, "maximum": 30, "default": 8.0},
    "num_steps": {"minimum": 4, "maximum": 50, "default": 25},
    "cfg_strength": {"minimum": 0, "maximum": 20, "default": 4.5},
    "seed": {"minimum": 0, "maximum": 65535},
    "negative_prompt": {"default": ""},
    "mask_away_clip": {"default": False},
    "prompt": {"minLength": 1},
}
PIPELINE = {
    "start_time": {"minimum": 0, "default": 0.0},
    "quality": {"enum": ["draft", "balanced", "high"]},
    "audio_format": {"enum": ["none", "wav", "flac", "m4a"], "default": "none"},
    "original_audio": {"enum": ["replace", "mix", "duck"], "default": "replace"},
    "original_level": {"minimum": 0, "maximum": 2, "default": 0.5},
    "generated_level": {"minimum": 0, "maximum": 2, "default": 1.0},
    "duck_db": {"minimum": 3, "maximum": 40, "default": 12.0},
    "loudness": {"default": "none"},
    "stems": {"default": False},
    "timeline": {"enum": ["none", "otio", "fcpxml", "edl"], "default": "none"},
    "timeline_paths": {"enum": ["absolute", "relative"], "default": "absolute"},
}


def _flatten(prop: dict) -> dict:
    """Merge a property's top level with its non-null ``anyOf`` branch."""
    merged = {k: v for k, v in prop.items() if k != "anyOf"}
    for branch in prop.get("anyOf", []):
        if branch.get("type") != "null":
            merged.update(branch)
    return merged


async def test_every_range_and_default_is_published(connect) -> None:
    async with connect() as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    schema = tools["add_audio_to_video"].input_schema
    assert schema["required"] == ["video"]
    for name in TABLE_FIELDS:
        prop = _flatten(schema["properties"][name])
        for key, value in TABLE[name].items():
            if (name, key) == ("duration", "default"):
                continue  # for a video, an omitted duration means the clip's length (checked below)
            assert prop.get(key) == value, f"{name}.{key}: {prop}"
        assert prop.get("description"), name
    video_duration = _flatten(schema["properties"]["duration"])
    assert video_duration.get("default") is None and "clip's length" in video_duration["description"]
    text_duration = _flatten(tools["generate_audio"].input_schema["properties"]["duration"])
    assert text_duration["default"] == 8.0
    for name, expected in PIPELINE.items():
        prop = _flatten(schema["properties"][name])
        for key, value in expected.items():
            assert prop.get(key) == value, f"{name}.{key}: {prop}"
        assert prop.get("description"), name
    assert "10" in _flatten(schema["properties"]["quality"])["description"]  # the steps of each tier are documented
    estimate = tools["estimate_cost"].input_schema["properties"]["duration"]
    assert _flatten(estimate)["maximum"] == 30 and _flatten(estimate)["minimum"] == 1


async def test_annotations_and_output_schemas(connect) -> None:
    async with connect() as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    paid = tools["add_audio_to_video"]
    assert paid.annotations.read_only_hint is False
    assert paid.annotations.destructive_hint is False
    assert paid.annotations.idempotent_hint is False
    assert paid.annotations.open_world_hint is True
    assert "money" in paid.description.lower() or "cost" in paid.description.lower()
    for name in ("list_audio_presets", "estimate_cost"):
        assert tools[name].annotations.read_only_hint is True
        assert tools[name].annotations.open_world_hint is False
    out = paid.output_schema["properties"]
    for field in (
        "output_path",
        "video_url",
        "request_id",
        "seed",
        "duration",
        "num_steps",
        "cfg_strength",
        "prompt",
        "negative_prompt",
        "cost_usd",
        "elapsed_s",
    ):
        assert field in out, field


def test_fal_payload_is_derived_from_the_table() -> None:
    settings = AudioSettings(prompt="rain", seed=7)
    body = fal_payload(settings, video_url="https://x.test/a.mp4")
    assert body == {
        "prompt": "rain",
        "negative_prompt": "",
        "duration": 8.0,
        "num_steps": 25,
        "cfg_strength": 4.5,
        "seed": 7,
        "mask_away_clip": False,
        "video_url": "https://x.test/a.mp4",
    }
    assert "seed" not in fal_payload(AudioSettings(prompt="rain"))


# ------------------------------------------------------------------------------------------------ typed wire face
DEFAULTED = (
    "negative_prompt",
    "num_steps",
    "cfg_strength",
    "mask_away_clip",
    "start_time",
    "audio_format",
    "original_audio",
    "original_level",
    "generated_level",
)


async def test_parameters_with_a_default_are_not_nullable(connect) -> None:
    async with connect() as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    video = tools["add_audio_to_video"].input_schema["properties"]
    for name in DEFAULTED:
        assert "anyOf" not in video[name] and video[name]["default"] is not None, (name, video[name])
    for tool in tools.values():
        for name, prop in tool.input_schema.get("properties", {}).items():
            if prop.get("default") is not None:  # a real default is never paired with null
                assert {"type": "null"} not in prop.get("anyOf", []), (tool.name, name, prop)
    assert video["num_steps"]["type"] == "integer" and video["mask_away_clip"]["type"] == "boolean"
    assert tools["generate_audio"].input_schema["properties"]["duration"]["type"] == "number"


def test_face_aliases_are_typed_by_the_table() -> None:
    """Each static alias carries the table field's own type (``None`` added only where it means something)."""
    aliases = {
        "prompt": (params.PromptArg, AudioSettings),
        "negative_prompt": (params.NegativePromptArg, AudioSettings),
        "duration": (params.DurationArg, AudioSettings),
        "num_steps": (params.NumStepsArg, AudioSettings),
        "cfg_strength": (params.CfgStrengthArg, AudioSettings),
        "seed": (params.SeedArg, AudioSettings),
        "mask_away_clip": (params.MaskAwayClipArg, AudioSettings),
        "start_time": (params.StartTimeArg, params.PipelineOptions),
        "quality": (params.QualityArg, params.PipelineOptions),
        "audio_format": (params.AudioFormatArg, params.PipelineOptions),
        "original_audio": (params.OriginalAudioArg, params.PipelineOptions),
        "original_level": (params.OriginalLevelArg, params.PipelineOptions),
        "generated_level": (params.GeneratedLevelArg, params.PipelineOptions),
        "duck_db": (params.DuckDbArg, params.PipelineOptions),
        "loudness": (params.LoudnessArg, params.PipelineOptions),
        "stems": (params.StemsArg, params.PipelineOptions),
        "timeline": (params.TimelineArg, params.PipelineOptions),
        "timeline_paths": (params.TimelinePathsArg, params.PipelineOptions),
    }
    assert set(aliases) == set(TABLE_FIELDS) | set(params.PIPELINE_FIELDS)
    for name, (alias, model) in aliases.items():
        alias_type = get_args(alias)[0]
        if alias_type != model.model_fields[name].annotation:
            assert (name, alias_type) == ("prompt", Optional[str])  # None = the preset's prompt
    kling = {
        "prompt": KlingPromptArg,
        "duration": KlingDurationArg,
        "aspect_ratio": KlingAspectRatioArg,
        "negative_prompt": KlingNegativePromptArg,
        "cfg_scale": KlingCfgScaleArg,
    }
    assert set(kling) == set(KlingVideoSettings.model_fields)
    for name, alias in kling.items():
        assert get_args(alias)[0] == KlingVideoSettings.model_fields[name].annotation, name


async def test_descriptions_are_prose(connect) -> None:
    """No source indentation reaches the model: tool descriptions and every argument description are plain text."""
    async with connect() as client:
        tools = (await client.list_tools()).tools
    for tool in tools:
        texts = [tool.description or ""] + [
            prop.get("description", "") for prop in tool.input_schema.get("properties", {}).values()
        ]
        for text in texts:
            assert not re.search(r"\n\s|\s\n|  ", text), (tool.name, text)
    paid = next(t for t in tools if t.name == "add_audio_to_video")
    assert "COSTS MONEY: fal charges $0.001 per second of audio" in paid.description  # a joined line break


async def test_argument_errors_are_plain_words(connect, clip, twin) -> None:
    """Name the argument, what was given and what is allowed; never pydantic's dump; nothing uploaded or paid."""
    video = str(clip())
    async with connect() as client:
        bad = await client.call_tool(
            "add_audio_to_video",
            {"video": video, "prompt": "x" * 2500, "num_steps": 99, "quality": "ultra", "mask_away_clip": "maybe"},
        )
        missing = await client.call_tool("add_audio_to_video", {"prompt": "rain"})
        typo = await client.call_tool("add_audio_to_video", {"video": video, "prompt": "rain", "num_step": 10})
        batch = await client.call_tool("add_audio_to_videos", {"videos": [video, 7], "prompt": "rain"})
    texts = [r.content[0].text for r in (bad, missing, typo, batch)]
    assert all(r.is_error for r in (bad, missing, typo, batch)), texts
    for text in texts:
        assert "validation error" not in text and "pydantic" not in text and "type=" not in text, text
    assert texts[0] == (
        "Error executing tool add_audio_to_video: "
        "`prompt` got a text of 2500 characters; allowed: text of 1 to 2000 characters, or leave it out; "
        "`num_steps` got 99; allowed: a whole number from 4 to 50; "
        '`mask_away_clip` got "maybe"; allowed: true or false; '
        '`quality` got "ultra"; allowed: one of "draft", "balanced", "high", or leave it out.'
    )
    assert texts[1].endswith(
        "`video` is required (The clip: an absolute local path, ~/path, file:// URI, or https:// URL)."
    )
    assert "`num_step` is not an argument of add_audio_to_video; it takes: video, prompt," in texts[2]
    assert texts[3].endswith("`videos[1]` got 7; allowed: text.")
    assert twin.state.uploads == [] and twin.state.submit_count(include_rejected=True) == 0
